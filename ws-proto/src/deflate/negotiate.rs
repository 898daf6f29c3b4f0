//! Offer, acceptance and validation of permessage-deflate parameters (RFC 7692 §5, §7.1).

use super::{DeflateConfig, DeflateParams, EXTENSION_NAME};
use crate::handshake::{ExtensionOffer, HandshakeError};

/// The parameters of one `permessage-deflate` element, each at most once.
#[derive(Debug, Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses parameters; `None` for an unknown, repeated or malformed one (RFC 7692 §7: such an
/// offer is declined, such a response fails the connection).
fn parse(params: &[(String, Option<String>)]) -> Option<Params> {
    let mut p = Params::default();
    let mut seen = [false; 4];
    for (name, value) in params {
        let slot = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return None,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
        match (slot, value) {
            (0, None) => p.server_no_context_takeover = true,
            (1, None) => p.client_no_context_takeover = true,
            (2, Some(v)) => p.server_max_window_bits = Some(window_bits(v)?),
            (3, None) => p.client_max_window_bits = Some(None),
            (3, Some(v)) => p.client_max_window_bits = Some(Some(window_bits(v)?)),
            _ => return None,
        }
    }
    Some(p)
}

/// A window size: a decimal 8–15 without leading zeros.
fn window_bits(v: &str) -> Option<u8> {
    match v {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => v.parse().ok(),
        _ => None,
    }
}

impl DeflateConfig {
    /// The client's offer: one `Sec-WebSocket-Extensions` element.
    ///
    /// ```
    /// let c = ws_proto::deflate::DeflateConfig::default();
    /// assert_eq!(c.offer(), "permessage-deflate; client_max_window_bits");
    /// ```
    pub fn offer(&self) -> String {
        let mut s = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            s.push_str(&format!("; server_max_window_bits={}", self.server_max_window_bits));
        }
        match self.client_max_window_bits {
            15 => s.push_str("; client_max_window_bits"),
            b => s.push_str(&format!("; client_max_window_bits={b}")),
        }
        s
    }

    /// Server side: the parameters for the first acceptable `permessage-deflate` offer, in the
    /// client's order of preference, or `None` if every offer is declined (unknown, repeated or
    /// invalid parameters).
    ///
    /// The response narrows the offer by this config: the server's window is the smaller of the
    /// two, context takeover is disabled if either side asks, and the client's window is
    /// limited only when the client allowed it (`client_max_window_bits` in its offer).
    pub fn negotiate(&self, offers: &[ExtensionOffer]) -> Option<DeflateParams> {
        offers
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|o| self.accept_offer(o))
    }

    /// Server side: accepts one offer, or `None` to decline it.
    pub fn accept_offer(&self, offer: &ExtensionOffer) -> Option<DeflateParams> {
        let p = parse(&offer.params)?;
        let ours_s = self.server_max_window_bits.clamp(8, 15);
        let ours_c = self.client_max_window_bits.clamp(8, 15);
        // RFC 7692 §7.1.2.1: the same or a smaller value than offered; may be sent unasked.
        let (server_bits, announce_server_bits) = match p.server_max_window_bits {
            Some(v) => (v.min(ours_s), true),
            None => (ours_s, ours_s < 15),
        };
        // §7.1.2.2: only when the client offered the parameter.
        let (client_bits, announce_client_bits) = match p.client_max_window_bits {
            None => (15, false),
            Some(None) => (ours_c, ours_c < 15),
            Some(Some(v)) => (v.min(ours_c), v.min(ours_c) < 15),
        };
        Some(DeflateParams {
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            server_no_context_takeover: p.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            announce_server_bits,
            announce_client_bits,
        })
    }

    /// Client side: validates the server's `Sec-WebSocket-Extensions` against our [`offer`]
    /// (`Ok(None)`: the server declined compression). Any answer we could not have asked for
    /// fails the handshake with [`HandshakeError::UnexpectedExtension`].
    ///
    /// [`offer`]: Self::offer
    pub fn accept_response(
        &self,
        extensions: &[ExtensionOffer],
    ) -> Result<Option<DeflateParams>, HandshakeError> {
        let bad = HandshakeError::UnexpectedExtension;
        let deflates: Vec<&ExtensionOffer> =
            extensions.iter().filter(|e| e.name.eq_ignore_ascii_case(EXTENSION_NAME)).collect();
        let response = match deflates[..] {
            [] => return Ok(None),
            [r] => r,
            _ => return Err(bad),
        };
        let p = parse(&response.params).ok_or(bad.clone())?;
        if self.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(bad);
        }
        let server_bits = match (p.server_max_window_bits, self.server_max_window_bits) {
            (Some(v), ours) if v <= ours => v,
            (Some(_), _) => return Err(bad),
            (None, 15) => 15,
            // We asked for a smaller window; the server must confirm it.
            (None, _) => return Err(bad),
        };
        let client_bits = match p.client_max_window_bits {
            None => self.client_max_window_bits,
            Some(Some(v)) if v <= self.client_max_window_bits => v,
            Some(_) => return Err(bad),
        };
        Ok(Some(DeflateParams {
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            announce_server_bits: p.server_max_window_bits.is_some(),
            announce_client_bits: p.client_max_window_bits.is_some(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_extensions;

    fn offers(s: &str) -> Vec<ExtensionOffer> {
        parse_extensions(s).unwrap()
    }

    fn server(config: &DeflateConfig, header: &str) -> Option<String> {
        config.negotiate(&offers(header)).map(|p| p.response())
    }

    #[test]
    fn server_accepts_and_narrows() {
        let d = DeflateConfig::default();
        assert_eq!(server(&d, "permessage-deflate").as_deref(), Some("permessage-deflate"));
        assert_eq!(
            server(&d, "permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            server(&d, "permessage-deflate; server_max_window_bits=10; client_no_context_takeover")
                .as_deref(),
            Some("permessage-deflate; client_no_context_takeover; server_max_window_bits=10")
        );
        let small = DeflateConfig {
            server_max_window_bits: 12,
            client_max_window_bits: 11,
            server_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        // The client allows a client window: we ask for ours. It did not: we may not.
        assert_eq!(
            server(&small, "permessage-deflate; client_max_window_bits").as_deref(),
            Some(
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; \
                 client_max_window_bits=11"
            )
        );
        let p = small.negotiate(&offers("permessage-deflate")).unwrap();
        assert_eq!((p.client_max_window_bits, p.announce_client_bits), (15, false));
        assert_eq!(
            server(&small, "permessage-deflate; server_max_window_bits=9").as_deref(),
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9")
        );
    }

    #[test]
    fn server_declines_invalid_offers_and_falls_back() {
        let d = DeflateConfig::default();
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
            "permessage-deflate; mystery",
            "x-other",
        ] {
            assert_eq!(server(&d, bad), None, "{bad}");
        }
        // Multiple offers: the first acceptable one wins (RFC 7692 §7.1.3 example).
        assert_eq!(
            server(
                &d,
                "permessage-deflate; mystery, permessage-deflate; client_max_window_bits=10"
            )
            .as_deref(),
            Some("permessage-deflate; client_max_window_bits=10")
        );
        assert_eq!(
            server(&d, "permessage-deflate; server_max_window_bits=\"10\"").as_deref(),
            Some("permessage-deflate; server_max_window_bits=10")
        );
    }

    fn client(
        config: &DeflateConfig,
        header: &str,
    ) -> Result<Option<DeflateParams>, HandshakeError> {
        config.accept_response(&offers(header))
    }

    #[test]
    fn client_validates_the_response() {
        let d = DeflateConfig::default();
        assert_eq!(client(&d, ""), Ok(None));
        let p = client(&d, "permessage-deflate; server_no_context_takeover").unwrap().unwrap();
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        let p =
            client(&d, "permessage-deflate; client_max_window_bits=9; client_no_context_takeover")
                .unwrap()
                .unwrap();
        assert_eq!((p.client_max_window_bits, p.client_no_context_takeover), (9, true));
        let p = client(&d, "permessage-deflate; server_max_window_bits=8").unwrap().unwrap();
        assert_eq!(p.server_max_window_bits, 8);
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; unknown",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert_eq!(client(&d, bad), Err(HandshakeError::UnexpectedExtension), "{bad}");
        }
        let asked = DeflateConfig {
            server_max_window_bits: 10,
            client_max_window_bits: 12,
            server_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        assert_eq!(
            asked.offer(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
             client_max_window_bits=12"
        );
        for bad in [
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=13",
        ] {
            assert_eq!(client(&asked, bad), Err(HandshakeError::UnexpectedExtension), "{bad}");
        }
        let p = client(
            &asked,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        )
        .unwrap()
        .unwrap();
        assert_eq!((p.server_max_window_bits, p.client_max_window_bits), (9, 12));
    }
}
