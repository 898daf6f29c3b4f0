//! The opening handshakes over a blocking stream: the loop of the `ws_proto` handshake drivers,
//! with reads and writes bounded by their deadline. The drivers own every decision (deadline,
//! refusals, the drain after one).

use std::io;
use std::time::Instant;

use ws_proto::handshake::{Handshake, HandshakeError, HandshakeStep};

use crate::Error;
use crate::io::{MIN_WAIT, is_timeout};
use crate::transport::Transport;

/// Drives `hs` over `stream` until it is done or failed; `decide` answers a server's request.
/// Returns the transport error that ended the handshake, if one did.
pub(crate) fn drive<S: Transport, H: Handshake>(
    stream: &mut S,
    hs: &mut H,
    mut decide: impl FnMut(&mut H),
) -> Option<io::Error> {
    let mut buf = [0u8; 4096];
    let mut error = None;
    loop {
        if let Err(e) = arm(stream, hs) {
            fail(hs, &mut error, e);
        }
        let step = hs.step();
        if matches!(step, HandshakeStep::Done | HandshakeStep::Failed) {
            return error;
        }
        let result = if !hs.transmit().is_empty() {
            stream.write(hs.transmit()).map(|n| match n {
                0 => fail(hs, &mut error, io::ErrorKind::WriteZero.into()),
                n => hs.advance_transmit(n),
            })
        } else {
            match step {
                HandshakeStep::Read => stream.read(&mut buf).map(|n| match n {
                    0 => hs.handle_eof(Instant::now()),
                    n => hs.handle_data(Instant::now(), &buf[..n]),
                }),
                HandshakeStep::Decide => {
                    decide(hs);
                    Ok(())
                }
                // A failed shutdown changes nothing: the refusal is over either way.
                HandshakeStep::Shutdown => {
                    let _ = stream.flush().and_then(|()| stream.shutdown_write());
                    hs.handle_write_shutdown(Instant::now());
                    Ok(())
                }
                HandshakeStep::Done | HandshakeStep::Failed => Ok(()),
            }
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => hs.handle_timeout(Instant::now()),
            Err(e) => fail(hs, &mut error, e),
        }
    }
}

/// Bounds the next read and write by the driver's deadline: a TLS layer may read while writing
/// and write while reading, so both directions are armed.
fn arm<S: Transport>(stream: &mut S, hs: &mut impl Handshake) -> io::Result<()> {
    let Some(deadline) = hs.poll_timeout() else { return Ok(()) };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        hs.handle_timeout(Instant::now());
        return Ok(());
    }
    stream.set_read_timeout(Some(left.max(MIN_WAIT)))?;
    stream.set_write_timeout(Some(left.max(MIN_WAIT)))?;
    Ok(())
}

fn fail(hs: &mut impl Handshake, error: &mut Option<io::Error>, e: io::Error) {
    error.get_or_insert(e);
    hs.handle_eof(Instant::now());
}

/// The driver's result, with the transport's own error where it ended the handshake.
pub(crate) fn result<T>(
    result: Result<T, HandshakeError>,
    io_error: Option<io::Error>,
) -> Result<T, Error> {
    match (result, io_error) {
        (Err(HandshakeError::ConnectionClosed), Some(e)) => Err(Error::from(e)),
        (result, _) => Ok(result?),
    }
}
