//! Header fields of a handshake, and the small grammars RFC 6455 uses in them.

use core::fmt;

/// The header fields of a request or response, in order, names as received.
///
/// Lookups are ASCII case-insensitive. Values are raw bytes (HTTP allows non-UTF-8 octets);
/// [`Headers::get`] returns those that are UTF-8 as text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every field's name and value, back to back, in order: two allocations for a whole
    /// request's fields (this is on every connection's setup path) instead of two per field.
    bytes: Vec<u8>,
    /// Per field, where its name ends and where its value ends in `bytes` (a name starts
    /// where the field before ended).
    ends: Vec<(usize, usize)>,
}

impl Headers {
    pub(crate) fn from_httparse(headers: &[httparse::Header<'_>]) -> Self {
        let size = headers.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut fields = Headers { bytes: Vec::with_capacity(size), ends: Vec::new() };
        fields.ends.reserve_exact(headers.len());
        for h in headers {
            fields.push(h.name, h.value);
        }
        fields
    }

    pub(crate) fn from_fields(fields: Vec<(String, Vec<u8>)>) -> Self {
        let mut headers = Headers::default();
        for (name, value) in &fields {
            headers.push(name, value);
        }
        headers
    }

    fn push(&mut self, name: &str, value: &[u8]) {
        self.bytes.extend_from_slice(name.as_bytes());
        let name_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.ends.push((name_end, self.bytes.len()));
    }

    /// Every field as `(name bytes, value)`.
    fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let starts = core::iter::once(0).chain(self.ends.iter().map(|&(_, end)| end));
        starts.zip(&self.ends).map(|(start, &(name_end, end))| {
            (&self.bytes[start..name_end], &self.bytes[name_end..end])
        })
    }

    /// The first value of `name`, if present and UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name` as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields().filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// Every field as `(name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        // Names came in as `&str` (httparse checks they are tokens): always UTF-8.
        self.fields().map(|(n, v)| (std::str::from_utf8(n).unwrap_or_default(), v))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The comma-separated elements of every `name` field, trimmed, empty ones skipped.
    pub(crate) fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name).flat_map(|v| v.split(|&b| b == b',')).map(trim).filter(|t| !t.is_empty())
    }

    /// True if the comma-separated list in `name` contains `token` (case-insensitively).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v)))).finish()
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// An HTTP token character (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A header value we may send: visible ASCII, spaces and tabs, no CR, LF or NUL.
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// One element of a `Sec-WebSocket-Extensions` header: a name and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order: name and optional value (quoted strings already unquoted).
    pub params: Vec<(String, Option<String>)>,
}

impl fmt::Display for ExtensionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, "; {k}={v}")?,
                None => write!(f, "; {k}")?,
            }
        }
        Ok(())
    }
}

/// Parses the value of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): a comma-separated
/// list of `name; param; param=value; param="quoted value"`.
///
/// Returns `None` if the syntax is invalid.
///
/// ```
/// let offers = ws_proto::handshake::parse_extensions(
///     "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"",
/// ).unwrap();
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[1].params[0], ("server_max_window_bits".into(), Some("10".into())));
/// ```
pub fn parse_extensions(value: &str) -> Option<Vec<ExtensionOffer>> {
    let mut out = Vec::new();
    let mut p = Scanner { s: value.as_bytes(), i: 0 };
    loop {
        p.skip_ws();
        if p.eof() {
            break;
        }
        if p.eat(b',') {
            continue; // empty list elements are allowed by the #rule
        }
        let name = p.token()?;
        let mut params = Vec::new();
        loop {
            p.skip_ws();
            if !p.eat(b';') {
                break;
            }
            p.skip_ws();
            let key = p.token()?;
            p.skip_ws();
            let value = if p.eat(b'=') {
                p.skip_ws();
                Some(if p.peek() == Some(b'"') { p.quoted()? } else { p.token()? })
            } else {
                None
            };
            params.push((key, value));
        }
        out.push(ExtensionOffer { name, params });
        p.skip_ws();
        if !p.eof() && !p.eat(b',') {
            return None;
        }
    }
    Some(out)
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn quoted(&mut self) -> Option<String> {
        self.eat(b'"');
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        // RFC 6455 §9.1: a quoted value must itself be a token once unquoted.
        is_token(&out).then(|| String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lists() {
        let h = Headers::from_fields(vec![
            ("connection".into(), b"keep-alive, Upgrade".to_vec()),
            ("Connection".into(), b" ,foo".to_vec()),
        ]);
        let fields: Vec<_> = h.iter().collect();
        assert_eq!(
            fields,
            [("connection", &b"keep-alive, Upgrade"[..]), ("Connection", &b" ,foo"[..])]
        );
        assert_eq!(h.get_all("CONNECTION").count(), 2);
        assert_eq!(h.get("connection"), Some("keep-alive, Upgrade"));
        assert_eq!(h.get("upgrade"), None);
        assert_eq!((h.len(), Headers::default().is_empty()), (2, true));
        assert!(h.has_token("CONNECTION", "upgrade"));
        assert!(h.has_token("connection", "foo"));
        assert!(!h.has_token("connection", "keep"));
    }

    #[test]
    fn extension_grammar() {
        let e = parse_extensions("a;x=1;y , b").unwrap();
        assert_eq!(e[0].name, "a");
        assert_eq!(e[0].params, vec![("x".into(), Some("1".into())), ("y".into(), None)]);
        assert_eq!(e[1].name, "b");
        assert_eq!(e[0].to_string(), "a; x=1; y");
        assert!(parse_extensions("").unwrap().is_empty());
        for bad in ["a;", "a;=1", "a b", "a;x=\"1 2\"", "a;x=\"unterminated", "@"] {
            assert_eq!(parse_extensions(bad), None, "{bad}");
        }
    }
}
