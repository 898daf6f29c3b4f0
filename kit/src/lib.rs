//! # ws-kit: one set of behaviour scenarios for every adapter
//!
//! The raw-socket peer the scenarios talk to ([`raw`]) and the adapters' side ([`harness`]):
//! one [`Harness`] per adapter and runtime, driving the same application behaviours ([`App`]).

#![forbid(unsafe_code)]

pub mod harness;
pub mod raw;
pub mod rng;

pub use harness::{App, AppHandle, End, ErrKind, Harness, Op, Report};
pub use ws_proto::Role;
