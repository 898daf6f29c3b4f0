//! The receiving and sending methods, written once and implemented for [`WebSocket`] and for the
//! halves ([`ReadHalf`] receives, [`WriteHalf`] sends). Each type provides a private
//! `with(&mut self, f)` that runs `f` on its driver (directly, or under the short lock shared by
//! the halves).
//!
//! [`WebSocket`]: crate::WebSocket
//! [`ReadHalf`]: crate::ReadHalf
//! [`WriteHalf`]: crate::WriteHalf

/// `recv`, `recv_event` and `futures_core::Stream`.
macro_rules! impl_recv_api {
    ($ty:ident) => {
        impl<S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> $ty<S> {
            /// Receives the next message: `Text` and `Binary` whole (fragments joined), `Ping` and
            /// `Pong` as notifications (Pings are answered automatically unless `auto_pong` is
            /// off), and the peer's `Close` frame. Returns `None` once the connection is closed and
            /// the transport shut down.
            ///
            /// **Cancel-safe**: all state lives in the connection, never in the future. If the
            /// future is dropped before it completes (in a `select!` with a timer, say), no data is
            /// lost: the next call returns the next message.
            ///
            /// While this is polled it also writes what is queued (the automatic Pongs and Close
            /// replies included) and runs the timers from [`Config`](crate::Config): keepalive
            /// Pings, the Pong, idle and close timeouts. Nothing runs them when no task is
            /// receiving.
            ///
            /// Errors: [`Error::Protocol`](crate::Error::Protocol) when the peer broke the protocol
            /// or a limit (returned after our Close frame with its code was sent and the transport
            /// closed), [`Error::Io`](crate::Error::Io) when the transport fails. An end of stream
            /// without a closing handshake is not an error: `None`, with
            /// [`close_info`](Self::close_info) telling code 1006.
            pub async fn recv(&mut self) -> Option<Result<ws_proto::Message, crate::Error>> {
                std::future::poll_fn(|cx| self.poll_recv(cx)).await
            }

            /// Polls for the next message (see [`recv`](Self::recv)).
            pub fn poll_recv(
                &mut self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Result<ws_proto::Message, crate::Error>>> {
                self.with(|inner| inner.poll_recv(cx))
            }

            /// Receives the next event of the core, for streaming: each data frame arrives as soon
            /// as it is complete ([`Event::Data`](ws_proto::Event::Data) with `first` and `fin`),
            /// so a huge fragmented message can be processed fragment by fragment without ever
            /// being held whole. The last event is [`Event::Closed`](ws_proto::Event::Closed) for
            /// a connection that was not failed by the peer; then `None`.
            ///
            /// Cancel-safe, runs timers and reports errors like [`recv`](Self::recv). Do not mix
            /// it with `recv` in the middle of a fragmented message.
            pub async fn recv_event(&mut self) -> Option<Result<ws_proto::Event, crate::Error>> {
                std::future::poll_fn(|cx| self.with(|inner| inner.poll_recv_event(cx))).await
            }
        }

        /// The same as [`recv`](Self::recv), as a stream.
        impl<S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> futures_core::Stream
            for $ty<S>
        {
            type Item = Result<ws_proto::Message, crate::Error>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                self.get_mut().poll_recv(cx)
            }
        }
    };
}

/// The `send*` methods, `feed`, `ping`, `pong`, `close`, `flush` and `futures_sink::Sink<Message>`.
macro_rules! impl_send_api {
    ($ty:ident) => {
        impl<S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> $ty<S> {
            /// Sends a message and waits until it is written to the transport.
            ///
            /// `Ping`/`Pong` send control frames; `Close(frame)` starts the closing handshake
            /// with the frame's code and reason (1000 when `None`).
            ///
            /// Errors: [`Error::Usage`](crate::Error::Usage) if the connection is closing or
            /// closed (nothing is sent), [`Error::Io`](crate::Error::Io) if the transport fails.
            /// Cancelling the future after its first poll leaves the message queued: it is
            /// written by the next flush, send or receive, never twice and never torn.
            pub async fn send(&mut self, message: ws_proto::Message) -> Result<(), crate::Error> {
                self.with(|inner| inner.queue_message(message))?;
                self.flush().await
            }

            /// Queues a message and writes what the transport accepts at once, without waiting
            /// for the rest unless more than
            /// [`Config::write_buffer_high_water`](ws_proto::Config::write_buffer_high_water)
            /// bytes are queued: then it waits until the peer has read enough (backpressure, so
            /// memory stays bounded when the peer reads slowly or not at all).
            ///
            /// The rest is written by [`flush`](Self::flush), the next `send*` call, and while
            /// a receive is polled. Use it to batch many messages into few writes.
            pub async fn feed(&mut self, message: ws_proto::Message) -> Result<(), crate::Error> {
                self.with(|inner| inner.queue_message(message))?;
                std::future::poll_fn(|cx| self.with(|inner| inner.poll_ready(cx))).await
            }

            /// Sends a text message: `&str` (copied), `String` or
            /// [`Utf8Bytes`](crate::Utf8Bytes) (large ones queued without a copy on servers).
            /// Waits as [`send`](Self::send) does.
            pub async fn send_text<'a>(
                &mut self,
                text: impl Into<ws_proto::TextPayload<'a>>,
            ) -> Result<(), crate::Error> {
                self.with(|inner| inner.command(|conn, _| conn.send_text(text)))?;
                self.flush().await
            }

            /// Sends a binary message: `&[u8]` (copied), `Vec<u8>` or [`Bytes`](crate::Bytes)
            /// (large ones queued without a copy on servers). Waits as [`send`](Self::send)
            /// does.
            pub async fn send_binary<'a>(
                &mut self,
                data: impl Into<ws_proto::Payload<'a>>,
            ) -> Result<(), crate::Error> {
                self.with(|inner| inner.command(|conn, _| conn.send_binary(data)))?;
                self.flush().await
            }

            /// Sends one fragment of a message of `kind`; `fin` ends the message. Control frames
            /// may be sent between fragments, other messages may not. Text fragments may split a
            /// code point, but invalid UTF-8 is refused with
            /// [`Error::Usage`](crate::Error::Usage) and not sent.
            pub async fn send_fragment<'a>(
                &mut self,
                kind: ws_proto::MessageKind,
                data: impl Into<ws_proto::Payload<'a>>,
                fin: bool,
            ) -> Result<(), crate::Error> {
                self.with(|inner| inner.command(|conn, _| conn.send_fragment(kind, data, fin)))?;
                self.flush().await
            }

            /// Sends a frame encoded once for many connections (broadcast, see
            /// [`PreparedFrame`](crate::PreparedFrame)): servers write the shared bytes without
            /// encoding or copying them again.
            pub async fn send_prepared(
                &mut self,
                frame: &ws_proto::PreparedFrame,
            ) -> Result<(), crate::Error> {
                self.with(|inner| inner.command(|conn, _| conn.send_prepared(frame)))?;
                self.flush().await
            }

            /// Sends a Ping (payload at most 125 bytes). Its Pong is reported by the receiving
            /// side as [`Message::Pong`](crate::Message::Pong) and measures the round trip
            /// (`last_rtt`).
            pub async fn ping(&mut self, payload: &[u8]) -> Result<(), crate::Error> {
                self.with(|inner| inner.command(|conn, now| conn.ping(now, payload)))?;
                self.flush().await
            }

            /// Sends an unsolicited Pong (payload at most 125 bytes). Pings are answered
            /// automatically unless `Config::auto_pong` is off.
            pub async fn pong(&mut self, payload: &[u8]) -> Result<(), crate::Error> {
                self.with(|inner| inner.command(|conn, _| conn.pong(payload)))?;
                self.flush().await
            }

            /// Starts the closing handshake: sends a Close frame with `code` and `reason` (at most
            /// 123 bytes) and waits until it is written.
            ///
            /// Keep receiving afterwards: the peer's Close arrives as
            /// [`Message::Close`](crate::Message::Close), then `None` once the transport is shut
            /// down. If the peer does not answer within `Config::close_timeout`, the transport is
            /// closed regardless.
            pub async fn close(
                &mut self,
                code: impl Into<ws_proto::CloseCode>,
                reason: &str,
            ) -> Result<(), crate::Error> {
                let code = code.into();
                self.with(|inner| inner.command(|conn, now| conn.close(now, code, reason)))?;
                self.flush().await
            }

            /// Writes everything queued and flushes the transport.
            pub async fn flush(&mut self) -> Result<(), crate::Error> {
                std::future::poll_fn(|cx| self.with(|inner| inner.poll_flush(cx))).await
            }
        }

        /// A sink of messages. `poll_ready` applies the backpressure of
        /// [`send`](Self::send); `poll_close` sends a Close frame (1000) if none was sent and
        /// flushes it. Keep receiving to see the peer's reply and the end of the stream.
        impl<S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin>
            futures_sink::Sink<ws_proto::Message> for $ty<S>
        {
            type Error = crate::Error;

            fn poll_ready(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                self.get_mut().with(|inner| inner.poll_ready(cx))
            }

            fn start_send(
                self: std::pin::Pin<&mut Self>,
                message: ws_proto::Message,
            ) -> Result<(), crate::Error> {
                self.get_mut().with(|inner| inner.queue_message(message))
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                self.get_mut().with(|inner| inner.poll_flush(cx))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                self.get_mut().with(|inner| inner.poll_close_sink(cx))
            }
        }
    };
}

pub(crate) use {impl_recv_api, impl_send_api};
