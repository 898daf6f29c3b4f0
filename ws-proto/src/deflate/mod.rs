//! permessage-deflate (RFC 7692): negotiation and the per-connection compression state.
//!
//! Compression happens inside the state machine: a [`Connection`](crate::Connection) built with
//! negotiated [`DeflateParams`] inflates incoming compressed messages (RSV1 set) and compresses
//! outgoing ones, still with no IO.
//!
//! # Negotiation
//!
//! * Client: [`DeflateConfig::offer`] is the `Sec-WebSocket-Extensions` element to send
//!   ([`ClientRequest::deflate`](crate::handshake::ClientRequest::deflate) adds it);
//!   [`DeflateConfig::accept_response`] validates the server's answer.
//! * Server: [`DeflateConfig::negotiate`] picks the first acceptable offer (several offers may
//!   arrive in one header or across headers), or declines them all; [`DeflateParams::response`]
//!   is the header element to answer with.
//!   [`Request::accept_response`](crate::handshake::Request::accept_response) does both.
//!
//! # Memory
//!
//! Each direction keeps its own zlib state, allocated on first use and freed with the
//! connection. With `flate2`'s zlib-rs backend the memory level is fixed at 8, so the window
//! size is the only lever, and it only moves the compressor:
//!
//! | window bits | compressor | decompressor |
//! |---|---|---|
//! | 15 (default) | ≈ 372 KiB | ≈ 47 KiB |
//! | 12 | ≈ 260 KiB | ≈ 47 KiB |
//! | 9 | ≈ 246 KiB | ≈ 47 KiB |
//!
//! (live heap bytes measured by `tests/deflate_memory.rs`). A connection that only receives
//! compressed messages pays for the decompressor alone; one that never compresses (e.g.
//! [`Compression::Never`](crate::Compression), messages under `min_size`) never allocates the
//! compressor. A server bounds its compressor with `server_max_window_bits`. With
//! `no_context_takeover` the state is reset after each message, not freed.
//!
//! # The window-bits-8 quirk
//!
//! zlib (and zlib-rs) cannot compress raw deflate with an 8-bit window. When a negotiation asks
//! our compressor for window 8, the extension is still accepted but our messages are sent
//! uncompressed (RFC 7692 lets any message go uncompressed); decompression uses a 9-bit window,
//! which reads 8-bit streams.

mod codec;
mod negotiate;

pub(crate) use codec::{DeflateState, InflateError};

/// The extension token.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// What this end wants from permessage-deflate: its offer (client) or its policy (server), plus
/// local compression settings.
///
/// Build it with struct update syntax:
/// `DeflateConfig { server_max_window_bits: 12, ..Default::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Largest LZ77 window (8–15) the *server* may compress with. A client asks for it in its
    /// offer when below 15; a server never uses more than this (and says so when below 15).
    pub server_max_window_bits: u8,
    /// Largest LZ77 window (8–15) the *client* may compress with. A client offers
    /// `client_max_window_bits` (valueless at 15); a server asks the client for this value when
    /// the client allows it.
    pub client_max_window_bits: u8,
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// zlib compression level, 0 (store) to 9 (smallest).
    pub level: u32,
    /// Messages shorter than this are sent uncompressed (compression would not pay off).
    pub min_size: usize,
    /// Largest *compressed* message accepted, counted after inflating: DEFLATE lets a peer
    /// send about 1 000 times less than it makes this end hold, so compressed messages get a
    /// lower limit than [`Config::max_message_size`](crate::Config::max_message_size) unless
    /// you raise it. Past it the connection fails with 1009
    /// ([`CapacityError::MessageTooLarge`](crate::CapacityError::MessageTooLarge)), inflating
    /// stopping at the limit. The smaller of the two limits applies; uncompressed messages on
    /// the same connection are bounded by `Config::max_message_size` only. Default 1 MiB;
    /// `None`: `Config::max_message_size` alone.
    pub max_message_size: Option<usize>,
}

impl Default for DeflateConfig {
    /// Window 15 both ways, context takeover allowed, level 1, messages under 64 bytes not
    /// compressed, compressed messages up to 1 MiB once inflated.
    ///
    /// Level 1 because real-time traffic wants throughput: on 16 KiB JSON messages it
    /// compressed 4.8x at ~5x the speed of level 6 (7.6x) in `benches/benches/deflate.rs`.
    fn default() -> Self {
        DeflateConfig {
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            level: 1,
            min_size: 64,
            max_message_size: Some(DEFAULT_MAX_MESSAGE_SIZE),
        }
    }
}

/// [`DeflateConfig::max_message_size`] by default: 1 MiB of inflated message.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;

/// The negotiated parameters, as agreed by both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// Window bits of the server's compressor (and the client's decompressor).
    pub server_max_window_bits: u8,
    /// Window bits of the client's compressor (and the server's decompressor).
    pub client_max_window_bits: u8,
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits` appears in the response.
    pub(crate) announce_server_bits: bool,
    /// `client_max_window_bits` appears in the response.
    pub(crate) announce_client_bits: bool,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` element a server answers with.
    pub fn response(&self) -> String {
        let mut s = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.announce_server_bits {
            s.push_str(&format!("; server_max_window_bits={}", self.server_max_window_bits));
        }
        if self.announce_client_bits {
            s.push_str(&format!("; client_max_window_bits={}", self.client_max_window_bits));
        }
        s
    }
}
