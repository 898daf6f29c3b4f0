//! What connecting to a `ws://` or `wss://` URL takes, decided once for every adapter: where to
//! connect, whether to run TLS and against which name, and the request to send.

use ws_proto::handshake::{ClientRequest, WsUrl};

use crate::Error;

/// A custom TLS client configuration for `connect_with`: an `Arc<rustls::ClientConfig>` (for
/// example one trusting a private CA, see
/// [`tls::client_config_with_roots`](crate::tls::client_config_with_roots)).
#[cfg(feature = "tls")]
pub type ClientTlsConfig = std::sync::Arc<rustls::ClientConfig>;

/// A custom TLS client configuration for `connect_with`. Built without TLS there is none to
/// give (this type has no values): pass `None`.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone, Copy)]
pub enum ClientTlsConfig {}

/// A connection to make: the result of parsing a URL and customizing its request.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    /// Host name or IP address to connect to (IPv6 without brackets); also the TLS server name.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `wss://`: run TLS before the opening handshake.
    pub tls: bool,
    /// The opening-handshake request (Host and resource from the URL, plus the caller's
    /// headers, subprotocols and origin).
    pub request: ClientRequest,
}

impl ConnectPlan {
    /// Parses `url` and lets `customize` add headers, subprotocols or an origin to its request.
    /// A URL that is not a valid `ws://` or `wss://` URL fails with
    /// [`HandshakeError::InvalidUrl`](ws_proto::handshake::HandshakeError::InvalidUrl) before any
    /// IO; `wss://` without TLS support fails with [`Error::TlsNotEnabled`].
    pub fn new(
        url: &str,
        customize: impl FnOnce(ClientRequest) -> ClientRequest,
        tls_supported: bool,
    ) -> Result<ConnectPlan, Error> {
        let url = WsUrl::parse(url)?;
        if url.tls && !tls_supported {
            return Err(Error::TlsNotEnabled);
        }
        let request = customize(ClientRequest::from_url(&url));
        Ok(ConnectPlan { host: url.host, port: url.port, tls: url.tls, request })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws_proto::handshake::HandshakeError;

    #[test]
    fn plans_and_refusals() {
        let p =
            ConnectPlan::new("wss://[::1]:8443/chat?x=1", |r| r.protocol("chat"), true).unwrap();
        assert_eq!((p.host.as_str(), p.port, p.tls), ("::1", 8443, true));
        assert_eq!(p.request.protocols(), ["chat"]);
        for url in ["http://x/", "ws://", "ws://h/#f"] {
            let e = ConnectPlan::new(url, |r| r, true).unwrap_err();
            assert!(matches!(e, Error::Handshake(HandshakeError::InvalidUrl)), "{url}");
        }
        let e = ConnectPlan::new("wss://h/", |r| r, false).unwrap_err();
        assert!(matches!(e, Error::TlsNotEnabled));
    }
}
