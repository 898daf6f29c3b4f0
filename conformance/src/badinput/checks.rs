//! The checks: what the raw peer sends after the handshake, and what the agent must answer.

use ws_kit::oracle::{Verdict, oracle, random_input};
use ws_kit::raw::{RawPeer, close_body, encode, op};
use ws_proto::{Message, Role};

use crate::script::{INFO_REPLY, TEXT_STEP};
use crate::session::config;

/// Random inputs per agent.
pub(crate) const RANDOM_SEEDS: usize = 8;
/// Seeds looked at, at most, to find [`RANDOM_SEEDS`] inputs for a client.
const SEED_SEARCH: u64 = 200;
/// The valid text a raw client sends before a bad frame (servers echo it).
const VALID_TEXT: &str = "hello";

/// One bad input and the Close code it must get back.
pub(crate) struct Violation {
    /// The check's name.
    pub(crate) name: &'static str,
    /// The close code RFC 6455 (and the binary's limits) call for.
    pub(crate) code: u16,
    /// The bytes, as the raw peer sends them (masked by a raw client).
    bytes: fn(&mut RawPeer) -> Vec<u8>,
}

/// Every single-input violation, in the order they run.
pub(crate) const VIOLATIONS: &[Violation] = &[
    Violation {
        name: "wrong_masking",
        code: 1002,
        // Unmasked to a server, masked to a client.
        bytes: |raw| {
            let mask = (!raw.is_client()).then_some([1, 2, 3, 4]);
            encode(true, 0, op::TEXT, b"hello", mask)
        },
    },
    Violation {
        name: "invalid_utf8",
        code: 1007,
        bytes: |raw| raw.encode(true, 0, op::TEXT, b"hello \xff world"),
    },
    Violation {
        // The first fragment of a text message, with invalid UTF-8; the rest never comes.
        name: "invalid_utf8_fail_fast",
        code: 1007,
        bytes: |raw| raw.encode(false, 0, op::TEXT, b"hello \xff"),
    },
    Violation { name: "reserved_opcode_3", code: 1002, bytes: |raw| raw.encode(true, 0, 0x3, b"") },
    Violation { name: "reserved_opcode_b", code: 1002, bytes: |raw| raw.encode(true, 0, 0xB, b"") },
    Violation { name: "rsv1", code: 1002, bytes: |raw| raw.encode(true, 0b100, op::TEXT, b"x") },
    Violation { name: "rsv2", code: 1002, bytes: |raw| raw.encode(true, 0b010, op::TEXT, b"x") },
    Violation { name: "rsv3", code: 1002, bytes: |raw| raw.encode(true, 0b001, op::TEXT, b"x") },
    Violation {
        // A Ping of 126 bytes.
        name: "control_too_long",
        code: 1002,
        bytes: |raw| raw.encode(true, 0, op::PING, &[b'p'; 126]),
    },
    Violation {
        name: "fragmented_ping",
        code: 1002,
        bytes: |raw| raw.encode(false, 0, op::PING, b"ping"),
    },
    Violation {
        name: "close_code_1005",
        code: 1002,
        bytes: |raw| raw.encode(true, 0, op::CLOSE, &close_body(1005, b"")),
    },
    Violation {
        name: "close_code_999",
        code: 1002,
        bytes: |raw| raw.encode(true, 0, op::CLOSE, &close_body(999, b"")),
    },
    Violation {
        name: "close_one_byte",
        code: 1002,
        bytes: |raw| raw.encode(true, 0, op::CLOSE, &[0x03]),
    },
    Violation {
        name: "close_reason_utf8",
        code: 1007,
        bytes: |raw| raw.encode(true, 0, op::CLOSE, &close_body(1000, b"bye \xc3\x28")),
    },
    Violation {
        name: "orphan_continuation",
        code: 1002,
        bytes: |raw| raw.encode(true, 0, op::CONT, b"tail"),
    },
    Violation {
        // A new text frame while a fragmented message is open (both in one write).
        name: "text_inside_fragmented",
        code: 1002,
        bytes: |raw| {
            let mut bytes = raw.encode(false, 0, op::TEXT, b"first ");
            bytes.extend(raw.encode(true, 0, op::TEXT, b"intruder"));
            bytes
        },
    },
    Violation {
        // A 64-bit length with the top bit set, header only.
        name: "length_top_bit",
        code: 1002,
        bytes: |raw| raw.encode_header(true, 0, op::BINARY, 1 << 63),
    },
    Violation {
        // A header announcing one byte more than the binaries' `max_frame_size` (the default
        // `Config`'s 16 MiB: every binary checked here uses `session::config()` or the same
        // defaults), and no payload: the 1009 must come before any payload.
        name: "frame_too_big",
        code: 1009,
        bytes: |raw| raw.encode_header(true, 0, op::BINARY, config().max_frame_size as u64 + 1),
    },
];

/// One check.
#[derive(Clone, Copy)]
pub(crate) enum Check {
    /// One bad input: exactly a Close with its code, then FIN.
    Violation(&'static Violation),
    /// A valid text message and a frame with reserved opcode 0x3 in one write: the agent's
    /// answer to the text (a server's echo, the interop client's next step), then Close 1002,
    /// then FIN.
    AfterValidMessage,
    /// Random bytes, then the raw peer's FIN: exactly the control frames the in-memory
    /// `ws_proto::Connection` queues for the same bytes, then FIN.
    Random(u64),
}

/// What the agent must put on the wire.
#[derive(Debug)]
pub(crate) enum Expect {
    /// `first` (a text message), if any, then a Close with exactly `code`, then FIN.
    Close { first: Option<&'static str>, code: u16 },
    /// The oracle's control frames, exactly and in order; the data messages `echoes`, in order
    /// (servers echo every data message the oracle delivered; the interop client sends none);
    /// then FIN.
    Oracle { echoes: Vec<(u8, Vec<u8>)> },
}

/// A check made concrete for one connection.
pub(crate) struct Prepared {
    /// What the raw peer sends, in one write.
    pub(crate) bytes: Vec<u8>,
    /// The raw peer half-closes right after sending (random input: the end of the stream is
    /// part of the input the oracle judged).
    pub(crate) half_close: bool,
    /// What the agent must answer.
    pub(crate) expect: Expect,
    /// What `ws_proto::Connection` does with the same bytes and the end of the stream.
    pub(crate) verdict: Verdict,
    /// The interop client's step that must fail, and the step that must pass first, if any.
    pub(crate) client_step: (&'static str, Option<&'static str>),
}

impl Check {
    /// Every check for an agent in `role`, in the order they run.
    pub(crate) fn all(role: Role) -> Vec<Check> {
        let mut checks: Vec<Check> = VIOLATIONS.iter().map(Check::Violation).collect();
        checks.push(Check::AfterValidMessage);
        checks.extend(random_seeds(role).into_iter().map(Check::Random));
        checks
    }

    /// E.g. `rsv1`, `random_bytes seed 4`.
    pub(crate) fn name(&self) -> String {
        match self {
            Check::Violation(v) => v.name.to_owned(),
            Check::AfterValidMessage => "after_valid_message".to_owned(),
            Check::Random(seed) => format!("random_bytes seed {seed}"),
        }
    }

    /// Whether a raw server accepts permessage-deflate for this check: only where the interop
    /// client must get a correct answer to `cmd:info` (it requires deflate on both ends).
    pub(crate) fn raw_server_deflate(&self) -> bool {
        matches!(self, Check::AfterValidMessage)
    }

    /// The bytes and the expectations, for an agent in `role` facing `raw`.
    pub(crate) fn prepare(&self, raw: &mut RawPeer, role: Role) -> Prepared {
        let (bytes, first, code) = match self {
            Check::Violation(v) => ((v.bytes)(raw), None, Some(v.code)),
            Check::AfterValidMessage => {
                // A server echoes the text; the interop client, given the right answer to
                // `cmd:info`, passes that step and sends its next message.
                let (text, answer) = match role {
                    Role::Server => (VALID_TEXT, VALID_TEXT),
                    Role::Client => (INFO_REPLY, TEXT_STEP),
                };
                let mut bytes = raw.encode(true, 0, op::TEXT, text.as_bytes());
                bytes.extend(raw.encode(true, 0, 0x3, b""));
                (bytes, Some(answer), Some(1002))
            }
            Check::Random(seed) => (random_input(*seed, role), None, None),
        };
        let verdict = oracle(role, &config(), &bytes);
        let expect = match code {
            Some(code) => Expect::Close { first, code },
            None => Expect::Oracle {
                echoes: match role {
                    Role::Server => data_messages(&verdict.messages),
                    Role::Client => Vec::new(),
                },
            },
        };
        let client_step = if first.is_some() { ("text", Some("info")) } else { ("info", None) };
        let half_close = matches!(self, Check::Random(_));
        Prepared { bytes, half_close, expect, verdict, client_step }
    }
}

/// The seeds of the random checks: for servers `0..RANDOM_SEEDS`; for clients the first
/// `RANDOM_SEEDS` seeds whose input hands the application nothing but Pings and Pongs before
/// the core's verdict (see [`core_decides_for_client`]).
pub(crate) fn random_seeds(role: Role) -> Vec<u64> {
    (0..SEED_SEARCH)
        .filter(|&seed| {
            role == Role::Server
                || core_decides_for_client(&oracle(role, &config(), &random_input(seed, role)))
        })
        .take(RANDOM_SEEDS)
        .collect()
}

/// The interop client, waiting for its answer to `cmd:info`, passes over Pings and Pongs and
/// stops at the first other message (a wrong answer ends its run and drops the connection), so
/// what it puts on the wire after random input is fixed by the core alone only when the input
/// hands it nothing else before the end. Those are the client's random inputs.
pub(crate) fn core_decides_for_client(verdict: &Verdict) -> bool {
    verdict.messages.iter().all(|m| matches!(m, Message::Ping(_) | Message::Pong(_)))
}

/// The data messages among `messages`: (opcode, payload).
fn data_messages(messages: &[Message]) -> Vec<(u8, Vec<u8>)> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Text(text) => Some((op::TEXT, text.as_str().as_bytes().to_vec())),
            Message::Binary(data) => Some((op::BINARY, data.to_vec())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ws_kit::raw::RawOpts;

    use super::*;

    #[test]
    fn the_core_agrees_with_every_violation_code() {
        // A pair of raw peers on loopback, only to encode each input as each side sends it:
        // masked by the raw client (for a server), unmasked by the raw server (for a client).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || RawPeer::server(&listener, RawOpts::default()));
        let mut raw_client = RawPeer::client(addr, RawOpts::default());
        let mut raw_server = server.join().unwrap();
        for v in VIOLATIONS {
            for (raw, role) in [(&mut raw_client, Role::Server), (&mut raw_server, Role::Client)] {
                let verdict = oracle(role, &config(), &(v.bytes)(raw));
                assert_eq!(verdict.code, Some(v.code), "{} against a {role:?}", v.name);
            }
        }
    }

    #[test]
    fn random_seeds_per_role() {
        assert_eq!(random_seeds(Role::Server), (0..RANDOM_SEEDS as u64).collect::<Vec<_>>());
        let client = random_seeds(Role::Client);
        assert_eq!(client.len(), RANDOM_SEEDS, "{client:?}");
        // Some of them fail the connection, some end it without an error.
        let codes: Vec<Option<u16>> = client
            .iter()
            .map(|&s| oracle(Role::Client, &config(), &random_input(s, Role::Client)).code)
            .collect();
        assert!(codes.iter().any(Option::is_some), "{codes:?}");
    }
}
