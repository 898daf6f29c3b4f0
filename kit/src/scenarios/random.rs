//! Scenario 2: random bytes after the handshake, judged by an oracle.
//!
//! The same bytes are fed to an in-memory `ws_proto::Connection` of the adapter's role and
//! config; whatever control frames it queues (the Close with its code, Pongs) are what the
//! raw peer must read from the adapter, followed by EOF. The raw peer sends the bytes, then
//! half-closes, then reads until the end. The application's end must match too: `Err` with
//! the oracle's code if the oracle failed the connection, `None` otherwise.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use ws_proto::{Config, Connection, Role};

use super::{END_WITHIN, FRAME_WITHIN, assert_recv_error, label, start};
use crate::harness::{App, End, Harness};
use crate::raw::{Frame, RawOpts, ReadEnd, decode_all, encode, op};
use crate::rng::SplitMix;

/// Seeds per role.
const SEEDS: u64 = 30;

/// What the core does with the bytes: the code it failed with, and the control frames it
/// queued, in order.
struct Verdict {
    code: Option<u16>,
    control: Vec<Frame>,
}

fn oracle(role: Role, config: &Config, bytes: &[u8]) -> Verdict {
    let now = Instant::now();
    let mut conn = Connection::new(role, config.clone(), now);
    conn.handle_data(now, bytes);
    while conn.poll_event().is_some() {}
    conn.handle_eof(now);
    while conn.poll_event().is_some() {}
    let failure = conn.close_info().and_then(|info| info.error());
    let code = failure.and_then(|e| e.close_code()).map(|c| c.0);
    let mut out = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    let control = decode_all(&out).into_iter().filter(Frame::is_control).collect();
    Verdict { code, control }
}

/// Random input for `seed`: every third seed pure noise, the others a few frame-like chunks
/// with random opcodes, bits, lengths, masking and payloads, sometimes truncated or corrupted.
fn input(seed: u64, role: Role) -> Vec<u8> {
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

fn one(h: &dyn Harness, role: Role, seed: u64) {
    let who = label(h, role);
    let config = Config::default();
    let bytes = input(seed, role);
    let verdict = oracle(role, &config, &bytes);
    let (mut raw, app) = start(h, role, config, App::Echo, RawOpts::default());
    raw.send_raw(&bytes);
    raw.shutdown_write();
    let (frames, end) = raw.read_until_end(FRAME_WITHIN);
    assert!(
        matches!(end, ReadEnd::Eof { pending: 0 }),
        "{who}: the raw peer saw {end} after {frames:?}; expected the control frames {:?} then \
         EOF",
        verdict.control
    );
    let control: Vec<Frame> = frames.into_iter().filter(Frame::is_control).collect();
    assert!(
        control == verdict.control,
        "{who}: the adapter sent the control frames {control:?}, the core queued {:?} (input \
         {bytes:02x?})",
        verdict.control
    );
    let report = app.join_within(END_WITHIN);
    match verdict.code {
        Some(code) => assert_recv_error(&report, code, &who),
        None => assert_eq!(report.end, End::None, "{who}: the application's end"),
    }
}

/// 30 seeds of random bytes; the adapter must answer exactly as the core does. Every seed
/// runs; the failure lists each seed that failed and how.
pub fn random_bytes(h: &dyn Harness, role: Role) {
    let mut failed = Vec::new();
    for seed in 0..SEEDS {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| one(h, role, seed))) {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            // The first line says what happened; the input dump follows it.
            let first = text.split(" (input").next().unwrap_or_default();
            failed.push(format!("seed {seed}: {first}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{}: {} of {SEEDS} seeds failed:\n{}",
        label(h, role),
        failed.len(),
        failed.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_deterministic_and_varied() {
        assert_eq!(input(4, Role::Server), input(4, Role::Server));
        let codes: Vec<Option<u16>> = (0..SEEDS)
            .map(|s| oracle(Role::Server, &Config::default(), &input(s, Role::Server)).code)
            .collect();
        assert!(codes.iter().any(Option::is_none), "{codes:?}");
        assert!(codes.contains(&Some(1002)), "{codes:?}");
    }
}
