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
//!
//! A server-only adapter uses [`kit_tests_server!`] instead (no client tests are generated).

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
///
/// `kit_tests!(harness, callback)`: both roles, leaving out the four scenarios a callback API
/// cannot express, as [`kit_tests_server!`]`(harness, callback)` does (ws-uring).
#[macro_export]
macro_rules! kit_tests {
    ($harness:expr) => {
        $crate::__kit_scenarios!(all, $crate::__kit_roles, [$harness; server, client]);
    };
    ($harness:expr, callback) => {
        $crate::__kit_scenarios!(callback, $crate::__kit_roles, [$harness; server, client]);
    };
}

/// Expands to one `#[test]` per scenario in the SERVER role only (`server::NAME`), for an
/// adapter that has no client. `kit_tests_server!(harness, callback)` leaves out the four
/// scenarios whose applications need split halves or a receive that can be abandoned
/// (`split_echo`, `cancel_safety_socket`, `cancel_safety_split`, `close_by_app_write_half`),
/// which a callback API does not have: they are not generated, rather than run as something
/// else under their names. `kit_tests_server!(harness, no_cancel)` leaves out only the two
/// `cancel_safety_*` scenarios, for a callback API whose send handle can serve as a write half
/// from another task (ws-server's callback routes): there is no receive to abandon.
#[macro_export]
macro_rules! kit_tests_server {
    ($harness:expr) => {
        $crate::__kit_scenarios!(all, $crate::__kit_roles, [$harness; server]);
    };
    ($harness:expr, callback) => {
        $crate::__kit_scenarios!(callback, $crate::__kit_roles, [$harness; server]);
    };
    ($harness:expr, no_cancel) => {
        $crate::__kit_scenarios!(no_cancel, $crate::__kit_roles, [$harness; server]);
    };
}

/// The scenario names, handed to `$then!([$args]; names)`: `all`; `no_cancel` (without the two
/// that need cancellable receives); or `callback` (without the four that need split halves or
/// cancellable receives).
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_scenarios {
    (all, $then:path, [$($args:tt)*]) => {
        $crate::__kit_scenarios!(no_cancel, $then, [$($args)*],
            cancel_safety_socket,
            cancel_safety_split,
        );
    };
    (no_cancel, $then:path, [$($args:tt)*] $(, $extra:ident)* $(,)?) => {
        $crate::__kit_scenarios!(callback, $then, [$($args)*],
            close_by_app_write_half,
            split_echo,
            $($extra,)*
        );
    };
    (callback, $then:path, [$($args:tt)*] $(, $extra:ident)* $(,)?) => {
        $then!([$($args)*]; [
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
            close_timeout,
            reset_mid_frame,
            half_close,
            stalled_reader,
            keepalive,
            idle_timeout,
            auto_pong,
            memory_budget,
            large_messages,
            app_panic_surfaced,
            $($extra,)*
        ]);
    };
}

/// One module per role (`server`, `client`), one `#[test]` per scenario in each.
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_roles {
    ([$harness:expr; $($role:ident),*]; $names:tt) => {
        $(
            $crate::__kit_role!($role, $harness; $names);
        )*
    };
}

/// The tests of one role: `mod server { ... }` or `mod client { ... }`.
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_role {
    (server, $harness:expr; $names:tt) => {
        $crate::__kit_role!(@mod server, Server, $harness; $names);
    };
    (client, $harness:expr; $names:tt) => {
        $crate::__kit_role!(@mod client, Client, $harness; $names);
    };
    (@mod $module:ident, $role:ident, $harness:expr; [$($name:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $name() {
                    let harness = $harness;
                    if let Some(why) = $crate::Harness::unavailable(&harness) {
                        println!("SKIPPED: {} unavailable here: {why}", $crate::Harness::name(&harness));
                        return;
                    }
                    let _timing = $crate::scenarios::timing_guard(stringify!($name));
                    $crate::scenarios::$name(&harness, $crate::Role::$role);
                }
            )*
        }
    };
}
