//! Transports: how a message gets from a guest to its API server and back.
//!
//! A transport moves opaque messages (byte strings); it does not decode them.
//! Framing errors (a frame over the size limit, a peer that breaks the ring
//! protocol or stops in the middle of a message) close the channel, because
//! the byte stream can no longer be trusted. A well-framed message that does
//! not decode is the server's business: it answers with an error reply and
//! the channel stays usable.
//!
//! - [`unix::UnixTransport`]: a Unix-domain stream socket with
//!   length-prefixed frames; the default.
//! - [`shm::ShmTransport`]: WarpDrive-shaped shared-memory rings with a
//!   zero-copy region, set up over a Unix socket.

// Not `forbid`: `shm::mem` below must be allowed unsafe code. Unsafe stays
// denied here (workspace lint); every leaf module forbids it.
#![deny(unsafe_code)]

use std::ptr::NonNull;
use std::time::Duration;

pub mod shm;
mod spin;
pub mod unix;

/// Largest message a channel accepts unless configured otherwise. Large
/// enough for a 64 MiB buffer inline; bigger transfers belong in the
/// shared-memory transport's zero-copy region.
pub const DEFAULT_MAX_MESSAGE: usize = 256 << 20;

/// The smallest limit [`configured_max_message`] accepts: room for any
/// call's scalar area and a useful chunk of a staged buffer.
pub const MIN_MAX_MESSAGE: usize = 64 << 10;

/// The largest message both halves of a channel use: `CAVA_MAX_MESSAGE`
/// (bytes, between [`MIN_MAX_MESSAGE`] and 4 GiB - 1) when it is set and
/// valid, [`DEFAULT_MAX_MESSAGE`] otherwise. The API server reads it for
/// its transports (and says it in the welcome); the guest reads it for its
/// socket and takes the smaller of it and the welcome's. Buffers larger
/// than a message can carry are staged (see the wire chapter), so a small
/// limit costs round trips, never a refused call: tests use one to stage
/// small buffers.
pub fn configured_max_message() -> usize {
    std::env::var("CAVA_MAX_MESSAGE")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n >= MIN_MAX_MESSAGE as u64 && *n <= u64::from(u32::MAX))
        .map_or(DEFAULT_MAX_MESSAGE, |n| n as usize)
}

/// Moves whole messages between two processes.
pub trait Transport {
    /// Sends one message, blocking until it has been handed over (written to
    /// the socket, or copied into the ring).
    fn send(&mut self, message: &[u8]) -> Result<(), TransportError>;

    /// Receives the next message into `buf`, replacing its contents (its
    /// allocation is reused). `None` waits as long as the peer is alive.
    /// A timeout that expires before a message starts leaves the channel
    /// usable.
    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Option<Duration>) -> Result<(), TransportError>;

    /// The largest message this channel sends or accepts.
    fn max_message(&self) -> usize;

    /// Accepts messages up to `max` bytes from now on, where the transport
    /// sets its own limit (a socket); a transport whose limit the server's
    /// geometry fixes (shared memory) keeps it.
    fn accept_up_to(&mut self, _max: usize) {}

    /// The zero-copy region, for transports that have one: how a server
    /// resolves a shared buffer descriptor.
    fn region(&self) -> Option<&dyn SharedRegion> {
        None
    }

    /// Guest side: a block of the zero-copy region for a large transfer;
    /// `None` when the transport has no region or it is full (the buffer
    /// then travels inline).
    fn alloc_shared(&mut self, _len: u64) -> Option<shm::RegionBlock> {
        None
    }

    /// Returns a block from [`Transport::alloc_shared`] once the server is
    /// done with it.
    fn free_shared(&mut self, _block: shm::RegionBlock) -> Result<(), TransportError> {
        Err(TransportError::ForeignBlock)
    }
}

/// A region of memory both ends see, addressed by offset. Every method
/// checks the range against the region first: offsets come from the
/// (untrusted) peer.
pub trait SharedRegion {
    /// Size of the region in bytes.
    fn region_len(&self) -> u64;

    /// Checks that `offset..offset + len` lies in the region.
    fn check_shared(&self, offset: u64, len: u64) -> Result<(), TransportError>;

    /// Copies bytes at `offset` into `dst`.
    fn read_region(&self, offset: u64, dst: &mut [u8]) -> Result<(), TransportError>;

    /// Copies `src` into the region at `offset`.
    fn write_region(&self, offset: u64, src: &[u8]) -> Result<(), TransportError>;

    /// A raw pointer to `len` bytes at `offset`, to hand to the vendor
    /// library without a copy. The peer may write these bytes at any time:
    /// use the pointer for FFI calls and copies, never to make a Rust
    /// reference.
    fn region_ptr(&self, offset: u64, len: u64) -> Result<NonNull<u8>, TransportError>;
}

/// Why a transport operation failed. Never fatal to the process: a dead or
/// misbehaving peer costs this channel, nothing else.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the peer closed the channel")]
    Closed,
    #[error("no message within {0:?}")]
    TimedOut(Duration),
    #[error("message of {len} bytes is over this channel's limit of {max} bytes")]
    TooLarge { len: u64, max: u64 },
    #[error("the peer announced a {len}-byte frame, over the {max}-byte limit; channel closed")]
    FrameTooLarge { len: u64, max: u64 },
    #[error("the peer stopped in the middle of a message; channel closed")]
    Stalled,
    #[error("the peer broke the ring protocol ({0}); channel closed")]
    Protocol(&'static str),
    #[error("channel opened by process {owner} used by process {caller}: a forked child must open its own channel")]
    ForeignProcess { owner: u32, caller: u32 },
    #[error("channel closed after an earlier framing error")]
    Poisoned,
    #[error("region block does not belong to this channel")]
    ForeignBlock,
    #[error("channel setup failed: {0}")]
    Setup(String),
    #[error("i/o error on the channel: {0}")]
    Io(#[from] std::io::Error),
}
