//! # ws-kit: one set of behaviour scenarios for every adapter
//!
//! The raw-socket peer the scenarios talk to: a hand-written WebSocket peer on a plain TCP
//! socket that sends exactly the bytes it is asked to and checks exactly the bytes it gets.

#![forbid(unsafe_code)]

pub mod raw;
pub mod rng;
