//! Close codes and Close frame bodies (RFC 6455 §5.5.1, §7.4).

use core::fmt;

use bytes::Bytes;

use crate::utf8::Utf8Validator;

/// A WebSocket close status code.
///
/// A plain `u16` newtype: any value can be represented (so a received code is never lost), and
/// [`CloseCode::is_sendable`] tells which ones may appear on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary to a text-only endpoint).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reserved; reported locally when a Close frame carried no code. Never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reserved; reported locally when the transport ended without a Close frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type (invalid UTF-8 in a text message).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: (server) an unexpected condition prevented fulfilling the request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (temporary overload).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway received an invalid response from upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reserved; reported locally when the TLS handshake failed. Never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// True if this code may be carried in a Close frame.
    ///
    /// Valid: 1000–1003, 1007–1014 (registered), 3000–3999 (libraries and frameworks, IANA
    /// registered) and 4000–4999 (private use). Everything else, including the reserved 1004,
    /// 1005, 1006 and 1015, is a protocol error when received and refused when sending.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The body of a Close frame: a code and a UTF-8 reason of at most 123 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason; valid UTF-8 (checked on receipt, guaranteed by `&str` when sending).
    pub reason: Bytes,
}

impl CloseFrame {
    /// Largest reason that fits a control frame (125 bytes minus the 2-byte code).
    pub const MAX_REASON_LEN: usize = 123;

    /// A close frame with the given code and reason.
    pub fn new(code: CloseCode, reason: &str) -> Self {
        CloseFrame { code, reason: Bytes::copy_from_slice(reason.as_bytes()) }
    }

    /// The reason as text.
    pub fn reason_str(&self) -> &str {
        // Reasons are validated on receipt and built from `&str` when sent.
        std::str::from_utf8(&self.reason).unwrap_or("")
    }
}

/// Why a received Close body is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseBodyError {
    /// A 1-byte body: a code needs two.
    TooShort,
    /// A code that must not appear on the wire.
    InvalidCode(u16),
    /// The reason is not UTF-8.
    InvalidReason,
}

/// Parses a received Close frame payload. An empty payload means "no status" (`Ok(None)`).
pub(crate) fn parse_close_body(payload: Bytes) -> Result<Option<CloseFrame>, CloseBodyError> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(CloseBodyError::TooShort),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_sendable() {
                return Err(CloseBodyError::InvalidCode(code.0));
            }
            let reason = payload.slice(2..);
            let mut v = Utf8Validator::new();
            v.feed(&reason).and_then(|_| v.finish()).map_err(|_| CloseBodyError::InvalidReason)?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_ranges() {
        let valid: Vec<u16> = (0..=5000).filter(|&c| CloseCode(c).is_sendable()).collect();
        let expected: Vec<u16> = (1000..=1003).chain(1007..=1014).chain(3000..=4999).collect();
        assert_eq!(valid, expected);
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!CloseCode(c).is_sendable(), "{c}");
        }
    }

    #[test]
    fn parses_bodies() {
        assert_eq!(parse_close_body(Bytes::new()), Ok(None));
        assert_eq!(parse_close_body(Bytes::from_static(&[3])), Err(CloseBodyError::TooShort));
        assert_eq!(
            parse_close_body(Bytes::from_static(&[0x03, 0xed])),
            Err(CloseBodyError::InvalidCode(1005))
        );
        assert_eq!(
            parse_close_body(Bytes::from_static(b"\x03\xe8\xff")),
            Err(CloseBodyError::InvalidReason)
        );
        let ok = parse_close_body(Bytes::from_static(b"\x0f\xa0bye")).unwrap().unwrap();
        assert_eq!(ok.code, CloseCode(4000));
        assert_eq!(ok.reason_str(), "bye");
    }
}
