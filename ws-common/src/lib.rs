//! # ws-common: what the runtime adapters share, written once
//!
//! The `ws-proto` core owns every protocol decision; this crate owns everything the adapters
//! would otherwise each write again:
//!
//! * [`Error`]: one error type, sorted by fault, for every adapter.
//! * [`tls`] (feature `tls`): rustls configuration builders.
//! * [`MaybeTls`]: the plain-or-TLS transport `connect` returns.
//! * [`ConnectPlan`]: URL handling for `connect`.
//! * [`aio`] (feature `async`): the async driver, generic over a runtime binding from [`rt`]:
//!   `WebSocket`, its split halves, `Stream` + `Sink`, and the opening handshakes.
//!
//! Applications use it through an adapter (`ws-tokio`, `ws-async-std`, `ws-blocking`), which
//! re-exports what they need. A new runtime binding is a marker type implementing
//! [`aio::Runtime`] and [`aio::StreamIo`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "async")]
pub mod aio;
mod connect;
mod error;
pub mod rt;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;

pub use connect::{ClientTlsConfig, ConnectPlan};
pub use error::Error;
pub use stream::{MaybeTls, NoTls, TlsLayer};
