//! One end of a shared-memory channel: the rings, the zero-copy region and
//! the liveness check, put together behind [`Transport`].

#![forbid(unsafe_code)]

use std::os::unix::net::UnixStream;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use super::mem::SharedMapping;
use super::region::{RegionAllocator, RegionBlock};
use super::ring::{Consumer, Producer, Wait};
use super::setup::{self, Geometry, Places};
use crate::transport::{SharedRegion, Transport, TransportError, DEFAULT_MAX_MESSAGE};

/// Sizes and timing of a shared-memory channel, chosen by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShmConfig {
    /// Bytes in each ring: a power of two, 4 KiB to 1 GiB. Messages larger
    /// than the ring still go through, streamed.
    pub ring_bytes: usize,
    /// Bytes in the zero-copy region (a multiple of 4 KiB). Pages are only
    /// allocated when first touched.
    pub region_bytes: usize,
    /// Largest message either side accepts.
    pub max_message: usize,
    /// The longest a receiver polls before sleeping on the doorbell; each
    /// side adapts between 2 µs and this (see `ring.rs`). Not sent to the
    /// peer: each side chooses its own.
    pub spin: Duration,
}

impl Default for ShmConfig {
    fn default() -> ShmConfig {
        ShmConfig { ring_bytes: 1 << 20, region_bytes: 256 << 20, max_message: DEFAULT_MAX_MESSAGE, spin: Duration::from_micros(50) }
    }
}

/// Which end of the channel this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Guest,
    Server,
}

/// One end of a shared-memory channel.
#[derive(Debug)]
pub struct ShmTransport {
    mem: SharedMapping,
    /// The setup socket, kept open to learn when the peer dies.
    socket: UnixStream,
    tx: Producer,
    rx: Consumer,
    side: Side,
    region_at: usize,
    region_bytes: u64,
    max_message: usize,
    spin: Duration,
    /// The guest's allocator for the zero-copy region; the server has none.
    allocator: Option<RegionAllocator>,
    owner_pid: u32,
    poisoned: bool,
}

impl ShmTransport {
    /// Server side: creates the mapping and sends it to the guest at the
    /// other end of `socket`.
    pub fn serve(socket: UnixStream, config: ShmConfig) -> Result<ShmTransport, TransportError> {
        let geometry = Geometry { ring_bytes: config.ring_bytes, region_bytes: config.region_bytes, max_message: config.max_message };
        let (mem, places) = setup::create_and_send(&socket, geometry)?;
        Ok(ShmTransport::new(mem, socket, places, geometry, Side::Server, config.spin))
    }

    /// Guest side: receives the mapping from the server at the other end of
    /// `socket`, waiting at most `timeout` for it. `spin` is this side's
    /// polling time ([`ShmConfig::spin`]).
    pub fn connect(socket: UnixStream, timeout: Duration, spin: Duration) -> Result<ShmTransport, TransportError> {
        socket.set_read_timeout(Some(timeout.max(Duration::from_micros(1))))?;
        let received = setup::receive_and_map(&socket);
        socket.set_read_timeout(None)?;
        let (mem, places, geometry) = received?;
        Ok(ShmTransport::new(mem, socket, places, geometry, Side::Guest, spin))
    }

    /// Both ends in this process (guest first), over a socket pair: for
    /// tests, benchmarks and a server thread inside the guest process.
    pub fn pair(config: ShmConfig) -> Result<(ShmTransport, ShmTransport), TransportError> {
        let (a, b) = UnixStream::pair()?;
        let server = ShmTransport::serve(b, config)?;
        let guest = ShmTransport::connect(a, Duration::from_secs(5), config.spin)?;
        Ok((guest, server))
    }

    fn new(mem: SharedMapping, socket: UnixStream, places: Places, geometry: Geometry, side: Side, spin: Duration) -> ShmTransport {
        let (tx, rx) = match side {
            Side::Guest => (Producer::new(places.requests), Consumer::new(places.responses)),
            Side::Server => (Producer::new(places.responses), Consumer::new(places.requests)),
        };
        let region_bytes = geometry.region_bytes as u64;
        ShmTransport {
            mem,
            socket,
            tx,
            rx,
            side,
            region_at: places.region,
            region_bytes,
            max_message: geometry.max_message,
            spin,
            allocator: (side == Side::Guest).then(|| RegionAllocator::new(region_bytes)),
            owner_pid: rustix::process::getpid().as_raw_nonzero().get() as u32,
            poisoned: false,
        }
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// The setup socket (kept open to watch the peer).
    pub fn socket(&self) -> &UnixStream {
        &self.socket
    }

    fn check_usable(&self) -> Result<(), TransportError> {
        if !self.mem.is_ours() {
            let caller = rustix::process::getpid().as_raw_nonzero().get() as u32;
            return Err(TransportError::ForeignProcess { owner: self.owner_pid, caller });
        }
        if self.poisoned {
            return Err(TransportError::Poisoned);
        }
        Ok(())
    }

    /// Closes the channel after a framing error: the peer sees the socket
    /// hang up and is woken to notice.
    fn poison(&mut self, error: TransportError) -> TransportError {
        if matches!(error, TransportError::Protocol(_) | TransportError::Stalled | TransportError::FrameTooLarge { .. }) {
            self.poisoned = true;
            let _ = self.socket.shutdown(std::net::Shutdown::Both);
            self.tx.wake_peer(&self.mem);
            self.rx.wake_peer(&self.mem);
        }
        error
    }

    // ---- the zero-copy region ----

    /// Allocates a block of the region (guest only; `None` on the server or
    /// when no free extent is large enough: send the buffer inline then).
    pub fn alloc(&mut self, len: u64) -> Option<RegionBlock> {
        if self.check_usable().is_err() {
            return None;
        }
        self.allocator.as_mut()?.alloc(len)
    }

    /// Returns a block once nothing refers to it any more (the reply of the
    /// last call that used it has arrived).
    pub fn free(&mut self, block: RegionBlock) -> Result<(), TransportError> {
        self.check_usable()?;
        match self.allocator.as_mut().map(|a| a.free(block)) {
            Some(true) => Ok(()),
            _ => Err(TransportError::ForeignBlock),
        }
    }

    fn region_offset(&self, offset: u64, len: usize) -> Result<usize, TransportError> {
        self.check_usable()?;
        self.check_shared(offset, len as u64)?;
        Ok(self.region_at + offset as usize)
    }

    /// Bytes of the region currently allocated (guest side; 0 on the server).
    pub fn region_in_use(&self) -> u64 {
        self.allocator.as_ref().map_or(0, RegionAllocator::live_bytes)
    }
}

impl SharedRegion for ShmTransport {
    fn region_len(&self) -> u64 {
        self.region_bytes
    }

    fn check_shared(&self, offset: u64, len: u64) -> Result<(), TransportError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.region_bytes => Ok(()),
            _ => Err(TransportError::Protocol("shared buffer outside the zero-copy region")),
        }
    }

    fn write_region(&self, offset: u64, src: &[u8]) -> Result<(), TransportError> {
        let at = self.region_offset(offset, src.len())?;
        self.mem.copy_in(at, src).ok_or(TransportError::Protocol("shared buffer outside the mapping"))
    }

    fn read_region(&self, offset: u64, dst: &mut [u8]) -> Result<(), TransportError> {
        let at = self.region_offset(offset, dst.len())?;
        self.mem.copy_out(at, dst).ok_or(TransportError::Protocol("shared buffer outside the mapping"))
    }

    fn region_ptr(&self, offset: u64, len: u64) -> Result<NonNull<u8>, TransportError> {
        let len = usize::try_from(len).map_err(|_| TransportError::Protocol("shared buffer too large"))?;
        let at = self.region_offset(offset, len)?;
        self.mem.raw(at, len).ok_or(TransportError::Protocol("shared buffer outside the mapping"))
    }
}

#[cfg(test)]
impl ShmTransport {
    /// Sends without the size check, as a broken or hostile peer would.
    pub(crate) fn send_unchecked(&mut self, message: &[u8]) -> Result<(), TransportError> {
        let socket = &self.socket;
        let wait = Wait { spin: self.spin, deadline: None, alive: &|| peer_alive(socket) };
        self.tx.send(&self.mem, message, &wait)
    }

    /// Writes `value` into the published index of our sending ring, as a
    /// hostile peer could.
    pub(crate) fn scribble_head(&self, value: u64) {
        self.tx.scribble_head(&self.mem, value);
    }

    /// Writes raw bytes into our sending ring and publishes them.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        let wait = Wait { spin: self.spin, deadline: None, alive: &|| Ok(()) };
        self.tx.send_raw(&self.mem, bytes, &wait).unwrap();
    }
}

/// Fails with `Closed` when the peer has hung up the setup socket.
fn peer_alive(socket: &UnixStream) -> Result<(), TransportError> {
    let mut fds = [PollFd::new(socket, PollFlags::RDHUP)];
    let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
    match rustix::event::poll(&mut fds, Some(&zero)) {
        Ok(0) => Ok(()),
        Ok(_) if fds[0].revents().intersects(PollFlags::HUP | PollFlags::RDHUP | PollFlags::ERR | PollFlags::NVAL) => {
            Err(TransportError::Closed)
        }
        Ok(_) => Ok(()),
        Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(TransportError::Io(e.into())),
    }
}

impl Transport for ShmTransport {
    fn send(&mut self, message: &[u8]) -> Result<(), TransportError> {
        self.check_usable()?;
        if message.len() > self.max_message {
            return Err(TransportError::TooLarge { len: message.len() as u64, max: self.max_message as u64 });
        }
        let socket = &self.socket;
        let wait = Wait { spin: self.spin, deadline: None, alive: &|| peer_alive(socket) };
        let result = self.tx.send(&self.mem, message, &wait);
        result.map_err(|e| self.poison(e))
    }

    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Option<Duration>) -> Result<(), TransportError> {
        self.check_usable()?;
        let socket = &self.socket;
        let wait = Wait { spin: self.spin, deadline: timeout.map(|t| Instant::now() + t), alive: &|| peer_alive(socket) };
        let result = self.rx.recv(&self.mem, buf, self.max_message, &wait);
        result.map_err(|e| match e {
            TransportError::TimedOut(_) => TransportError::TimedOut(timeout.unwrap_or_default()),
            e => self.poison(e),
        })
    }

    fn max_message(&self) -> usize {
        self.max_message
    }

    fn region(&self) -> Option<&dyn SharedRegion> {
        Some(self)
    }

    fn alloc_shared(&mut self, len: u64) -> Option<RegionBlock> {
        self.alloc(len)
    }

    fn free_shared(&mut self, block: RegionBlock) -> Result<(), TransportError> {
        self.free(block)
    }
}

impl Drop for ShmTransport {
    fn drop(&mut self) {
        // Wake a peer asleep on either ring so it finds the socket closed
        // now rather than after its next liveness slice. Not in a forked
        // child: it has no mapping.
        if self.mem.is_ours() {
            let _ = self.socket.shutdown(std::net::Shutdown::Both);
            self.tx.wake_peer(&self.mem);
            self.rx.wake_peer(&self.mem);
        }
    }
}
