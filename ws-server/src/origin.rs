//! Which `Origin` headers a route accepts. Browsers send `Origin` on every WebSocket
//! handshake and scripts cannot forge it, so checking it stops other sites' pages from using a
//! visitor's cookies against this server (cross-site WebSocket hijacking). Non-browser clients
//! may send anything or nothing, so it is no authentication.

/// A route's origin policy. A request it refuses is answered 403.
///
/// ```
/// use ws_server::Origins;
/// let policy = Origins::exact(["https://example.com"]);
/// assert!(policy.allows(Some("https://EXAMPLE.com"), "example.com"));
/// assert!(!policy.allows(Some("https://evil.example"), "example.com"));
/// assert!(!policy.allows(None, "example.com"), "missing Origin refused unless allowed");
/// assert!(policy.allow_missing(true).allows(None, "example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    rule: Rule,
    allow_missing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Any,
    Exact(Vec<String>),
    Prefix(Vec<String>),
    SameOrigin,
}

impl Default for Origins {
    /// Any origin, and requests without one.
    fn default() -> Self {
        Origins::any()
    }
}

impl Origins {
    /// Any origin, and requests without one (the default).
    pub fn any() -> Self {
        Origins { rule: Rule::Any, allow_missing: true }
    }

    /// Only these origins (`scheme://host[:port]`, compared ASCII case-insensitively).
    /// Requests without `Origin` are refused unless [`allow_missing`](Self::allow_missing).
    pub fn exact<I: IntoIterator<Item = S>, S: Into<String>>(origins: I) -> Self {
        Origins { rule: Rule::Exact(lowered(origins)), allow_missing: false }
    }

    /// Origins starting with one of these prefixes (ASCII case-insensitive), e.g.
    /// `https://app.example.com`. Mind the boundary: `https://app.example.com` also matches
    /// `https://app.example.com.evil.net`; end a host prefix with `:` or list exact origins when
    /// that matters. Requests without `Origin` are refused unless
    /// [`allow_missing`](Self::allow_missing).
    pub fn prefix<I: IntoIterator<Item = S>, S: Into<String>>(prefixes: I) -> Self {
        Origins { rule: Rule::Prefix(lowered(prefixes)), allow_missing: false }
    }

    /// Only pages served by this server: the `Origin`'s host (and port) must equal the
    /// request's `Host`. Requests without `Origin` are refused unless
    /// [`allow_missing`](Self::allow_missing).
    pub fn same_origin() -> Self {
        Origins { rule: Rule::SameOrigin, allow_missing: false }
    }

    /// Whether a request without an `Origin` header (a non-browser client) is accepted.
    pub fn allow_missing(mut self, allow: bool) -> Self {
        self.allow_missing = allow;
        self
    }

    /// Whether a request with this `Origin` (if any) and `Host` is accepted.
    pub fn allows(&self, origin: Option<&str>, host: &str) -> bool {
        let Some(origin) = origin else { return self.allow_missing };
        let origin = origin.trim();
        match &self.rule {
            Rule::Any => true,
            Rule::Exact(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            Rule::Prefix(list) => list.iter().any(|p| {
                origin.len() >= p.len()
                    && origin.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }),
            Rule::SameOrigin => {
                // `null` (sandboxed frames, file://) never matches.
                let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
                !authority.is_empty() && authority.eq_ignore_ascii_case(host.trim())
            }
        }
    }
}

fn lowered<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(|s| s.into().trim().trim_end_matches('/').to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule() {
        let host = "chat.example.com:8080";
        assert!(Origins::any().allows(None, host));
        assert!(Origins::any().allows(Some("null"), host));

        let exact = Origins::exact(["https://chat.example.com:8080/", "http://localhost:3000"]);
        assert!(exact.allows(Some("https://chat.example.com:8080"), host));
        assert!(exact.allows(Some("HTTP://LOCALHOST:3000"), host));
        assert!(!exact.allows(Some("https://chat.example.com"), host));
        assert!(!exact.allows(None, host));

        let prefix = Origins::prefix(["https://chat.example.com"]);
        assert!(prefix.allows(Some("https://chat.example.com:8080"), host));
        assert!(!prefix.allows(Some("https://other.example.com"), host));
        assert!(!prefix.allows(Some("https://chat"), host));

        let same = Origins::same_origin();
        assert!(same.allows(Some("https://chat.example.com:8080"), host));
        assert!(same.allows(Some("http://Chat.Example.com:8080"), host));
        assert!(!same.allows(Some("https://chat.example.com"), host));
        assert!(!same.allows(Some("null"), host));
        assert!(!same.allows(None, host));
        assert!(same.allow_missing(true).allows(None, host));
    }
}
