//! One thread's loop: its ring, its listener (server), its connections and its timer heap.
//! A server thread accepts its connections; a client's loop opens them ([`Worker::connect`]).
//! Either way a connection is a [`Slot`], driven the same way once its handshake is done.
//!
//! The loop, once per turn:
//! 1. submit every queued operation and wait for at least one completion (one `io_uring_enter`);
//! 2. take the completions: new sockets, received bytes (fed to their connection, buffer given
//!    back at once), finished sends and shutdowns; each marks its connection dirty;
//! 3. run the timers that are due (one heap for every connection of the thread);
//! 4. drive every dirty connection: hand its events to the handler, queue its next send,
//!    carry out what `transport()` says;
//! 5. arm one timeout operation for the earliest deadline, if it moved earlier.
//!
//! So the sends of every connection that had something to say go out with one submission.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ws_proto::handshake::ClientHandshake;

use crate::ring::{Done, Ring, Token};
use crate::server::{ConnId, Stats};
use crate::slot::{Slot, Step};
use crate::{Error, Handler, WorkerSetup};

/// Submission queue entries per ring.
const RING_ENTRIES: u32 = 1024;
/// Provided receive buffers per ring, and their size: 4 MiB per thread.
const BUFFERS: u16 = 256;
const BUFFER_SIZE: u32 = 16 * 1024;
/// How long accepting pauses after a failed accept ended the multishot accept (out of file
/// descriptors and the like), instead of re-arming it at once in a loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// The timer heap's slot index for re-arming the accept.
const ACCEPT_TIMER: u32 = u32::MAX;
/// How long a stopping thread waits for the kernel to finish with its buffers.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The thread's body: sets the ring up, reports readiness, runs until stopped.
pub(crate) fn run<H: Handler>(setup: WorkerSetup, handler: H) -> Result<(), Error> {
    let mut worker = match Worker::new(setup.config, setup.multishot, setup.stats) {
        Ok(worker) => worker,
        Err(e) => {
            let _ = setup.ready.send(Err(e));
            return Ok(());
        }
    };
    let fd = setup.listener.as_raw_fd();
    worker.listener = Some(setup.listener);
    worker.handlers = Handlers::Shared(handler);
    let started =
        worker.ring.accept_multi(fd).and_then(|()| worker.ring.poll_wake(setup.stop.as_raw_fd()));
    if let Err(e) = started {
        let _ = setup.ready.send(Err(Error::Io(e)));
        return Ok(());
    }
    let _ = setup.ready.send(Ok(()));
    let result = worker.run();
    worker.stop();
    result
}

/// Whose handler drives a slot: a server thread's one (a clone per thread, shared by its
/// connections), or a client's, one per connection (given to `connect`, by slot index).
enum Handlers<H> {
    Shared(H),
    PerSlot(Vec<Option<H>>),
}

pub(crate) struct Worker<H> {
    ring: Ring,
    multishot: bool,
    /// A server thread's listener; none on a client's loop.
    listener: Option<TcpListener>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Connections to drive this turn (each at most once: `Slot::queued`).
    dirty: Vec<u32>,
    /// Deadlines: (when, slot, generation). An entry is stale unless the slot still has that
    /// deadline armed (see `Slot::armed`).
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// The earliest instant a timeout operation is in flight for.
    timer_armed: Option<Instant>,
    handlers: Handlers<H>,
    setup_stats: Arc<Stats>,
    config: ws_proto::Config,
    done: Vec<Done>,
    stopping: bool,
    /// Room reads in flight as last added to the shared count.
    rooms_reported: usize,
}

impl<H: Handler> Worker<H> {
    /// A loop with its ring set up, no listener and no connection yet.
    pub(crate) fn new(
        config: ws_proto::Config,
        multishot: bool,
        stats: Arc<Stats>,
    ) -> Result<Worker<H>, Error> {
        let ring = Ring::new(RING_ENTRIES, BUFFERS, BUFFER_SIZE).map_err(Error::from_setup)?;
        Ok(Worker {
            multishot: multishot && ring.features().multishot_recv,
            ring,
            listener: None,
            slots: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            timers: BinaryHeap::new(),
            timer_armed: None,
            handlers: Handlers::PerSlot(Vec::new()),
            setup_stats: stats,
            config,
            done: Vec::new(),
            stopping: false,
            rooms_reported: 0,
        })
    }

    /// (Client) Queues a connection to `addr` whose handshake is `hs` (its deadline, started
    /// already, bounds the connect too), driven by `handler`. Fails only if the socket cannot
    /// be made or the ring refuses the operation; a failed connect reaches the handler.
    pub(crate) fn connect(
        &mut self,
        addr: SocketAddr,
        hs: ClientHandshake,
        handler: H,
    ) -> Result<ConnId, Error> {
        use socket2::{Domain, Socket, Type};
        let Handlers::PerSlot(handlers) = &mut self.handlers else {
            return Err(Error::Io(io::Error::other("a server thread does not connect")));
        };
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_tcp_nodelay(true)?;
        let stream: TcpStream = socket.into();
        let fd = stream.as_raw_fd();
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::vacant());
                (self.slots.len() - 1) as u32
            }
        };
        if handlers.len() <= index as usize {
            handlers.resize_with(index as usize + 1, || None);
        }
        let id = self.setup_stats.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = &mut self.slots[index as usize];
        slot.occupy_client(stream, id, hs);
        let token = Token { index, generation: slot.generation };
        if let Err(e) = self.ring.connect(fd, token, addr.into()) {
            slot.vacate();
            self.free.push(index);
            return Err(Error::Io(e));
        }
        handlers[index as usize] = Some(handler);
        self.setup_stats.open.fetch_add(1, Ordering::Relaxed);
        // Driven once so that the handshake's deadline is armed.
        self.mark(index);
        Ok(ConnId(id))
    }

    /// (Client) Runs until every connection has ended and been freed.
    pub(crate) fn run_until_idle(&mut self) -> Result<(), Error> {
        let mut done = std::mem::take(&mut self.done);
        let now = Instant::now();
        // Connections queued since the last run: their deadlines armed before waiting.
        self.drive_dirty(now);
        self.arm_timer(now)?;
        while self.setup_stats.open.load(Ordering::Relaxed) > 0 {
            self.turn(&mut done)?;
        }
        self.done = done;
        Ok(())
    }

    fn run(&mut self) -> Result<(), Error> {
        let mut done = std::mem::take(&mut self.done);
        while !self.stopping {
            self.turn(&mut done)?;
        }
        Ok(())
    }

    /// One loop turn: submit and wait, complete, run timers, drive, re-arm the timer.
    fn turn(&mut self, done: &mut Vec<Done>) -> Result<(), Error> {
        self.ring.submit_and_wait(1)?;
        let now = Instant::now();
        self.ring.complete(done);
        for d in done.drain(..) {
            self.on_done(now, d)?;
        }
        self.run_timers(now)?;
        self.drive_dirty(now);
        self.arm_timer(now)?;
        self.report_rooms();
        Ok(())
    }

    /// Brings the shared count of room reads in flight up to date with this thread's.
    fn report_rooms(&mut self) {
        let rooms = self.ring.rooms_out();
        if rooms != self.rooms_reported {
            let shared = &self.setup_stats.rooms_in_flight;
            if rooms > self.rooms_reported {
                shared.fetch_add(rooms - self.rooms_reported, Ordering::Relaxed);
            } else {
                shared.fetch_sub(self.rooms_reported - rooms, Ordering::Relaxed);
            }
            self.rooms_reported = rooms;
        }
    }

    fn on_done(&mut self, now: Instant, done: Done) -> Result<(), Error> {
        match done {
            Done::Accept { result, more } => {
                let failed = result.is_err();
                match result {
                    Ok(stream) => self.open(now, stream),
                    // Out of descriptors and the like: the server goes on, and the waiting
                    // connections stay in the listener's queue.
                    Err(e) => eprintln!("ws-uring: accept failed: {e}"),
                }
                if !more && !self.stopping {
                    if failed {
                        // Re-armed by the timer: at once would fail again, in a loop.
                        self.timers.push(Reverse((now + ACCEPT_BACKOFF, ACCEPT_TIMER, 0)));
                    } else {
                        self.accept()?;
                    }
                }
            }
            Done::Recv { token, result, buf, more } => {
                let slot = self.slots.get_mut(token.index as usize);
                if let Some(slot) = slot.filter(|s| token.matches(s.generation)) {
                    let data = match (result, buf) {
                        (n, Some(b)) if n > 0 => self.ring.buffer(b, n as usize),
                        _ => &[],
                    };
                    slot.on_recv(now, result, data, more);
                    self.mark(token.index);
                }
                if let Some(b) = buf {
                    self.ring.recycle(b);
                }
            }
            Done::RecvRoom { token, result, room } => {
                self.setup_stats.room_reads.fetch_add(1, Ordering::Relaxed);
                // A room whose connection is gone is simply dropped: the kernel is done with it.
                if let Some(slot) = self.live(token) {
                    slot.on_recv_room(now, result, room);
                    self.mark(token.index);
                }
            }
            Done::Send { token, result, payload } => {
                if let Some(slot) = self.live(token) {
                    slot.on_send(now, result, payload);
                    self.mark(token.index);
                }
            }
            Done::Shutdown { token, result } => {
                if let Some(slot) = self.live(token) {
                    slot.on_shutdown(now, result);
                    self.mark(token.index);
                }
            }
            Done::Connect { token, result } => {
                if let Some(slot) = self.live(token) {
                    slot.on_connect(now, result);
                    self.mark(token.index);
                }
            }
            Done::Close { token } => {
                if let Some(slot) = self.live(token) {
                    slot.on_closed();
                    self.mark(token.index);
                }
            }
            Done::Timeout => self.timer_armed = None,
            Done::Cancel => {}
            Done::Wake => self.stopping = true,
        }
        Ok(())
    }

    /// Re-arms the multishot accept (a server thread's).
    fn accept(&mut self) -> io::Result<()> {
        match &self.listener {
            Some(listener) => self.ring.accept_multi(listener.as_raw_fd()),
            None => Ok(()),
        }
    }

    /// The slot `token` names, if it is still that connection's.
    fn live(&mut self, token: Token) -> Option<&mut Slot> {
        self.slots.get_mut(token.index as usize).filter(|s| token.matches(s.generation))
    }

    fn open(&mut self, now: Instant, stream: std::net::TcpStream) {
        if let Err(e) = stream.set_nodelay(true) {
            eprintln!("ws-uring: TCP_NODELAY: {e}");
            return;
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::vacant());
                (self.slots.len() - 1) as u32
            }
        };
        let id = self.setup_stats.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.setup_stats.open.fetch_add(1, Ordering::Relaxed);
        self.slots[index as usize].occupy(stream, id, self.config.clone(), now);
        self.mark(index);
    }

    fn mark(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        if !slot.queued {
            slot.queued = true;
            self.dirty.push(index);
        }
    }

    fn drive_dirty(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.dirty.len() {
            let index = self.dirty[i];
            i += 1;
            let slot = &mut self.slots[index as usize];
            slot.queued = false;
            let token = Token { index, generation: slot.generation };
            let handler = match &mut self.handlers {
                Handlers::Shared(handler) => Some(handler),
                Handlers::PerSlot(handlers) => {
                    handlers.get_mut(index as usize).and_then(Option::as_mut)
                }
            };
            // Every occupied slot of a client has its handler; a vacant one has nothing to do.
            let Some(handler) = handler else { continue };
            let step = slot.drive(now, token, &mut self.ring, handler, self.multishot);
            match step {
                Step::Wait(Some(deadline)) => {
                    if slot.armed.is_none_or(|armed| deadline < armed) {
                        slot.armed = Some(deadline);
                        self.timers.push(Reverse((deadline, index, slot.generation)));
                    }
                }
                // No deadline any more (a finished handshake's, say): the heap's entries for
                // this slot go stale, so they neither wake the thread nor drive the slot.
                Step::Wait(None) => slot.armed = None,
                Step::Free => {
                    slot.vacate();
                    if let Handlers::PerSlot(handlers) = &mut self.handlers {
                        handlers[index as usize] = None;
                    }
                    self.free.push(index);
                    self.setup_stats.open.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        self.dirty.clear();
    }

    fn run_timers(&mut self, now: Instant) -> io::Result<()> {
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if index == ACCEPT_TIMER {
                self.accept()?;
                continue;
            }
            if !self.timer_live(at, index, generation) {
                continue;
            }
            let slot = &mut self.slots[index as usize];
            slot.armed = None;
            slot.on_timer(now);
            // Driving re-arms the slot's current deadline (later, if it moved).
            self.mark(index);
        }
        Ok(())
    }

    /// False if a timer heap entry is stale: its slot moved on (a new connection), armed an
    /// earlier deadline since, or has no deadline any more.
    fn timer_live(&self, at: Instant, index: u32, generation: u32) -> bool {
        if index == ACCEPT_TIMER {
            return true;
        }
        self.slots
            .get(index as usize)
            .is_some_and(|slot| slot.generation == generation && slot.armed == Some(at))
    }

    /// One timeout operation for the earliest live deadline, unless one as early is in
    /// flight. Stale entries on top of the heap go first: they would wake the thread for
    /// nothing (an idle crowd's finished handshakes, one wake-up each).
    fn arm_timer(&mut self, now: Instant) -> io::Result<()> {
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            if self.timer_live(at, index, generation) {
                break;
            }
            self.timers.pop();
        }
        let Some(&Reverse((at, ..))) = self.timers.peek() else { return Ok(()) };
        if self.timer_armed.is_some_and(|armed| armed <= at) {
            return Ok(());
        }
        self.timer_armed = Some(at);
        self.ring.timeout(at.saturating_duration_since(now))
    }

    /// Stops: cancels everything in flight and waits (boundedly) for the kernel to finish with
    /// the buffers; sockets close as their slots drop.
    pub(crate) fn stop(&mut self) {
        let _ = self.ring.cancel_all();
        let until = Instant::now() + STOP_GRACE;
        let mut done = Vec::new();
        while self.ring.in_flight() > 0 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.ring.wait_timeout(left).is_err() {
                break;
            }
            self.ring.complete(&mut done);
            for d in done.drain(..) {
                if let Done::Recv { buf: Some(b), .. } = d {
                    self.ring.recycle(b);
                }
            }
        }
        self.report_rooms();
        let quiet = self.ring.in_flight() == 0;
        self.ring.set_quiescent(quiet);
        for slot in &mut self.slots {
            slot.vacate();
        }
    }
}
