//! The closing handshake (RFC 6455 §5.5.1, §7).

use std::time::Instant;

use super::{Connection, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::UsageError;
use crate::event::{CloseCause, CloseInfo, Event, Initiator};
use crate::frame::OpCode;

#[derive(Debug, Default)]
pub(crate) struct CloseState {
    /// The Close frame we sent.
    sent: Option<CloseFrame>,
    /// The Close frame we received.
    received: Option<CloseFrame>,
    initiator: Option<Initiator>,
    pub(crate) info: Option<CloseInfo>,
    /// The transport reached end of stream.
    pub(crate) eof: bool,
}

impl Connection {
    /// Starts the closing handshake: queues a Close frame with `code` and `reason`.
    ///
    /// Incoming messages are still delivered until the peer's Close arrives
    /// ([`Event::CloseReceived`]); [`Event::Closed`] follows once the transport is done. If the
    /// peer does not answer within `close_timeout`, [`handle_timeout`](Self::handle_timeout)
    /// gives up on it. `now` arms that timer.
    ///
    /// Errors: [`UsageError::Closed`] if a Close was already sent or the connection is closed;
    /// [`UsageError::InvalidCloseCode`] for codes that may not be sent (1005, 1006, 1015, …);
    /// [`UsageError::CloseReasonTooLong`] for reasons over 123 bytes.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode(code.0));
        }
        if reason.len() > CloseFrame::MAX_REASON_LEN {
            return Err(UsageError::CloseReasonTooLong);
        }
        self.send_close_frame(Some(code), reason);
        self.close.initiator = Some(Initiator::Local);
        self.state = State::Closing;
        self.timers.arm_close(now, &self.config);
        Ok(())
    }

    /// Queues a Close frame unless one was already sent. `None` sends an empty body.
    pub(crate) fn send_close_frame(&mut self, code: Option<CloseCode>, reason: &str) {
        if self.close.sent.is_some() {
            return;
        }
        let mut body = [0u8; 125];
        let len = match code {
            Some(code) => {
                body[..2].copy_from_slice(&code.0.to_be_bytes());
                body[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
                2 + reason.len()
            }
            None => 0,
        };
        self.queue_control(OpCode::Close, &body[..len]);
        self.close.sent = Some(CloseFrame::new(code.unwrap_or(CloseCode::NO_STATUS), reason));
        // A fragmented message we were sending can never be finished now.
        self.out_msg = None;
    }

    /// The peer's Close frame arrived (`None`: empty body) and the events before it are taken.
    pub(crate) fn apply_close_received(&mut self, now: Instant, frame: Option<CloseFrame>) {
        self.close.received =
            Some(frame.clone().unwrap_or_else(|| CloseFrame::new(CloseCode::NO_STATUS, "")));
        self.events.push_back(Event::CloseReceived(frame.clone()));
        if self.close.initiator.is_none() {
            self.close.initiator = Some(Initiator::Remote);
        }
        // Echo the peer's code (RFC 6455 §5.5.1); an empty Close gets an empty reply.
        self.send_close_frame(frame.map(|f| f.code), "");
        self.finish(now, CloseCause::Handshake);
    }

    /// Moves the WebSocket to `Closed` (recording how in [`CloseInfo`]) and starts the
    /// transport's end; [`Event::Closed`] is reported when that is done.
    pub(crate) fn finish(&mut self, now: Instant, cause: CloseCause) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.stop_input();
        self.out_msg = None;
        let initiator = match (self.close.initiator, cause) {
            (Some(i), _) => i,
            (None, CloseCause::EndOfStream) => Initiator::Remote,
            (None, _) => Initiator::Local,
        };
        let info = CloseInfo {
            initiator,
            sent: self.close.sent.clone(),
            received: self.close.received.clone(),
            clean: cause == CloseCause::Handshake,
            cause,
        };
        self.close.info = Some(info);
        self.timers.disarm_close();
        self.after_close(now, cause);
    }
}
