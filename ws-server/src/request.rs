//! What the upgrade hook sees and what it answers.

use std::sync::Arc;

use ws_proto::handshake::{Rejection, Request};

use crate::PeerAddr;

/// An opening-handshake request, as the upgrade hook and the connection handle see it: path,
/// query, headers, cookies and the peer's address. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    request: Request,
    peer: PeerAddr,
}

impl UpgradeRequest {
    pub(crate) fn new(request: Request, peer: PeerAddr) -> Self {
        UpgradeRequest { inner: Arc::new(Inner { request, peer }) }
    }

    /// The method: always `GET` (the only one a WebSocket handshake may use).
    pub fn method(&self) -> &str {
        "GET"
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.inner.request.path()
    }

    /// The query (after `?`), if any, undecoded.
    pub fn query(&self) -> Option<&str> {
        self.inner.request.query()
    }

    /// The value of the first query parameter `name` (`a=1&b=2`), undecoded.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// The first value of header `name` (case-insensitive), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.request.headers().get(name)
    }

    /// Every header, in order, as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.inner.request.headers().iter()
    }

    /// The value of cookie `name` from the `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.inner
            .request
            .headers()
            .get_all("cookie")
            .filter_map(|v| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k.trim() == name).then(|| v.trim().trim_matches('"'))
            })
    }

    /// The `Host` header.
    pub fn host(&self) -> &str {
        self.inner.request.host()
    }

    /// The `Origin` header, if any.
    pub fn origin(&self) -> Option<&str> {
        self.inner.request.origin()
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        self.inner.request.protocols()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> &PeerAddr {
        &self.inner.peer
    }

    /// The request as the protocol core parsed it.
    pub fn raw(&self) -> &Request {
        &self.inner.request
    }
}

/// The upgrade hook's yes: the per-connection data, and optionally the subprotocol and extra
/// response headers.
#[derive(Debug)]
pub struct Upgrade<D> {
    pub(crate) data: D,
    pub(crate) protocol: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
}

impl<D> Upgrade<D> {
    /// Accept, with `data` for the connection (available as [`Conn::data`](crate::Conn::data)).
    pub fn with_data(data: D) -> Self {
        Upgrade { data, protocol: None, headers: Vec::new() }
    }

    /// Select this subprotocol (it must be one the client offered, else the handshake fails
    /// with 500). Overrides the route's own selection.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Add a header to the `101` response (e.g. `Set-Cookie`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl Upgrade<()> {
    /// Accept, with no per-connection data.
    pub fn accept() -> Self {
        Upgrade::with_data(())
    }
}

/// The upgrade hook's no: any status (4xx, 5xx, or a 3xx redirect with `Location`), headers
/// and a body.
///
/// ```
/// let no = ws_server::Reject::new(401).header("WWW-Authenticate", "Bearer").body("token required");
/// let redirect = ws_server::Reject::redirect("https://example.com/login");
/// # let _ = (no, redirect);
/// ```
#[derive(Debug, Clone)]
pub struct Reject {
    pub(crate) rejection: Rejection,
}

impl Reject {
    /// A refusal with this status (values outside 300..=599 are sent as 500).
    pub fn new(status: u16) -> Self {
        let status = if (300..600).contains(&status) { status } else { 500 };
        Reject { rejection: Rejection::new(status) }
    }

    /// A `302 Found` to `location`.
    pub fn redirect(location: impl Into<String>) -> Self {
        Reject::new(302).header("Location", location)
    }

    /// Adds a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.rejection = self.rejection.header(name, value);
        self
    }

    /// Sets the response body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.rejection = self.rejection.body(body);
        self
    }

    /// The status sent.
    pub fn status(&self) -> u16 {
        self.rejection.sent_status()
    }
}
