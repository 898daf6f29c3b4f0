//! # ws-kit: one set of behaviour scenarios for every adapter
//!
//! Each scenario is written once ([`scenarios`]) and runs through every adapter ([`Harness`])
//! in both roles against a [`RawPeer`](raw::RawPeer): a hand-written peer on a plain TCP socket
//! that sends exactly the bytes the scenario asks for and checks exactly the bytes the adapter
//! sends back (Close codes, Close before FIN, echo before Close, Pong payloads, timer bounds).
//!
//! The applications behave like real ones ([`App`]): they stop at the first `Err` and drop the
//! socket. A behaviour is tested once, through every adapter and both roles.
//!
//! Add an adapter: implement [`Harness`] for it and invoke [`kit_tests!`] in a test file:
//!
//! ```ignore
//! ws_kit::kit_tests!(ws_kit::harness::tokio::Tokio);
//! ```

#![forbid(unsafe_code)]

pub mod harness;
pub mod oracle;
pub mod raw;
pub mod rng;
pub mod scenarios;

pub use harness::{App, AppHandle, End, ErrKind, Harness, Op, Report};
pub use ws_proto::Role;

/// Expands to one `#[test]` per scenario per role (`server::NAME`, `client::NAME`), each
/// running the scenario through `$harness` (an expression of a type implementing
/// [`Harness`]).
#[macro_export]
macro_rules! kit_tests {
    ($harness:expr) => {
        $crate::kit_tests!(@roles $harness;
            violation_wrong_masking,
            violation_invalid_utf8,
            violation_invalid_utf8_fail_fast,
            violation_reserved_opcode_3,
            violation_reserved_opcode_b,
            violation_rsv1,
            violation_rsv2,
            violation_rsv3,
            violation_control_too_long,
            violation_fragmented_ping,
            violation_close_code_1005,
            violation_close_code_999,
            violation_close_one_byte,
            violation_close_reason_utf8,
            violation_orphan_continuation,
            violation_text_inside_fragmented,
            violation_length_top_bit,
            violation_frame_too_big,
            violation_message_too_big,
            violation_inflate_bomb,
            violation_after_valid_message,
            random_bytes,
            close_by_peer,
            close_by_app_socket,
            close_by_app_write_half,
            close_timeout,
            reset_mid_frame,
            half_close,
            stalled_reader,
            keepalive,
            idle_timeout,
            auto_pong,
            memory_budget,
            cancel_safety_socket,
            cancel_safety_split,
            split_echo,
            large_messages,
            app_panic_surfaced,
        );
    };
    (@roles $harness:expr; $($name:ident),* $(,)?) => {
        mod server {
            $(
                #[test]
                fn $name() {
                    let _timing = $crate::scenarios::timing_guard(stringify!($name));
                    $crate::scenarios::$name(&$harness, $crate::Role::Server);
                }
            )*
        }
        mod client {
            $(
                #[test]
                fn $name() {
                    let _timing = $crate::scenarios::timing_guard(stringify!($name));
                    $crate::scenarios::$name(&$harness, $crate::Role::Client);
                }
            )*
        }
    };
}
