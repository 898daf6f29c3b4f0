//! Runtime bindings for the async driver ([`crate::aio`]): a marker type per runtime that maps
//! the driver's few IO needs (read, vectored write, flush, shut down) and its timer onto the
//! runtime's own traits. Nothing else differs between runtimes.

#[cfg(feature = "futures-io")]
mod futures;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "futures-io")]
pub use self::futures::FuturesIo;
#[cfg(feature = "tokio")]
pub use self::tokio::Tokio;
