//! The in-memory oracle for arbitrary input, and the random inputs it judges.
//!
//! [`oracle`] feeds bytes to a `ws_proto::Connection` of a role and config, then the end of the
//! stream, and reports what the core did with them: the error it failed the connection with
//! (if any), the control frames it queued (its Close with the code, its Pongs), in order, and
//! the messages an application receiving from it would have been given before the end. An
//! adapter that follows the core must put exactly those control frames on the wire.
//!
//! [`random_input`] makes the deterministic random inputs of the `random_bytes` scenario (and of
//! the conformance harness's bad-input checks against the shipped binaries).

use std::time::Instant;

use ws_proto::{Config, Connection, Message, MessageAssembler, Role};

use crate::raw::{Frame, decode_all, encode, op};
use crate::rng::SplitMix;

/// What the core does with some input followed by the end of the stream.
#[derive(Debug)]
pub struct Verdict {
    /// The peer's fault the connection failed with, if it failed.
    pub error: Option<ws_proto::Error>,
    /// The close code of that failure.
    pub code: Option<u16>,
    /// The control frames the core queued, in order (unmasked).
    pub control: Vec<Frame>,
    /// The messages handed to the application, in order (Pings, Pongs and the peer's Close
    /// included), before the connection ended.
    pub messages: Vec<Message>,
}

/// Feeds `bytes`, then the end of the stream, to a fresh `Connection` of `role` and `config`,
/// draining its events after each; returns what it did.
pub fn oracle(role: Role, config: &Config, bytes: &[u8]) -> Verdict {
    let now = Instant::now();
    let mut conn = Connection::new(role, config.clone(), now);
    let mut assembler = MessageAssembler::new();
    let mut messages = Vec::new();
    conn.handle_data(now, bytes);
    while let Some(event) = conn.poll_event() {
        messages.extend(assembler.push(event));
    }
    conn.handle_eof(now);
    while let Some(event) = conn.poll_event() {
        messages.extend(assembler.push(event));
    }
    let error = conn.close_info().and_then(|info| info.error());
    let code = error.as_ref().and_then(|e| e.close_code()).map(|c| c.0);
    let mut out = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    let control = decode_all(&out).into_iter().filter(Frame::is_control).collect();
    Verdict { error, code, control, messages }
}

/// Random input for `seed`, as a peer of the adapter in `role` would send it: every third seed
/// pure noise, the others a few frame-like chunks with random opcodes, bits, lengths, masking
/// and payloads, sometimes truncated or corrupted.
pub fn random_input(seed: u64, role: Role) -> Vec<u8> {
    let salt = if role == Role::Server { 0x5eed } else { 0xc11e };
    let mut rng = SplitMix::seeded(seed.wrapping_mul(0x9e37_79b9) ^ salt);
    if seed % 3 == 0 {
        let n = 1 + rng.below(300) as usize;
        return rng.bytes(n);
    }
    const OPCODES: [u8; 10] = [0x0, 0x1, 0x1, 0x2, 0x2, 0x3, 0x8, 0x9, 0xA, 0xB];
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let opcode = OPCODES[rng.below(OPCODES.len() as u64) as usize];
        let fin = !rng.one_in(4);
        let rsv = if rng.one_in(5) { rng.below(8) as u8 } else { 0 };
        let len = if rng.one_in(8) { 126 + rng.below(200) } else { rng.below(40) } as usize;
        let mut payload = if rng.one_in(2) {
            (0..len).map(|_| b'a' + rng.below(26) as u8).collect()
        } else {
            rng.bytes(len)
        };
        if opcode == op::CLOSE && len >= 2 && rng.one_in(2) {
            let code = [1000u16, 1001, 1005, 1006, 999, 3000, 4999, 5000][rng.below(8) as usize];
            payload[..2].copy_from_slice(&code.to_be_bytes());
        }
        // Mostly the masking the role requires, sometimes the wrong one.
        let masked = (role == Role::Server) != rng.one_in(6);
        let mask = masked.then(|| rng.mask_key());
        out.extend(encode(fin, rsv, opcode, &payload, mask));
    }
    if rng.one_in(4) {
        let i = rng.below(out.len() as u64) as usize;
        out[i] ^= 1 << rng.below(8);
    }
    if rng.one_in(4) {
        let keep = 1 + rng.below(out.len() as u64) as usize;
        out.truncate(keep);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_deterministic_and_varied() {
        assert_eq!(random_input(4, Role::Server), random_input(4, Role::Server));
        let codes: Vec<Option<u16>> = (0..30)
            .map(|s| oracle(Role::Server, &Config::default(), &random_input(s, Role::Server)).code)
            .collect();
        assert!(codes.iter().any(Option::is_none), "{codes:?}");
        assert!(codes.contains(&Some(1002)), "{codes:?}");
    }

    #[test]
    fn messages_come_before_the_failure() {
        // A text, a Ping, then a reserved opcode, as a client sends them.
        let mut bytes = encode(true, 0, op::TEXT, b"hi", Some([1, 2, 3, 4]));
        bytes.extend(encode(true, 0, op::PING, b"p", Some([5, 6, 7, 8])));
        bytes.extend(encode(true, 0, 0x3, b"", Some([9, 9, 9, 9])));
        let verdict = oracle(Role::Server, &Config::default(), &bytes);
        assert_eq!(verdict.code, Some(1002));
        assert_eq!(verdict.messages, [Message::text("hi"), Message::Ping("p".into())]);
        let control: Vec<(u8, Option<u16>)> =
            verdict.control.iter().map(|f| (f.opcode, f.close_code())).collect();
        assert_eq!(control, [(op::PONG, None), (op::CLOSE, Some(1002))]);
    }
}
