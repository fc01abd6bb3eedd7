//! Shared-memory transport, shaped like WarpDrive's user-space queues.
//!
//! One mapping holds a control page, a request ring (guest to server), a
//! response ring, and a zero-copy region for `zerocopy` buffers and large
//! transfers. On the data path a send is a copy into the ring, a release
//! store and a fence; a busy receiver polls with no system call, and one that
//! polled in vain (for an adaptive time of at most [`ShmConfig::spin`])
//! sleeps on a futex doorbell.
//!
//! The channel is set up over a Unix socket (the server sends the memfd with
//! `SCM_RIGHTS`), and that socket stays open: a sleeper checks it for a hang
//! up after each sleep, so a dead peer is noticed within 20 ms, and a closing
//! side rings the doorbells so the other notices at once. A send into the
//! ring does not look at the socket (that would be a system call), so a dead
//! peer surfaces on the next receive, or when the ring fills.
//!
//! Fork: the mapping is `MADV_DONTFORK`, descriptors are close-on-exec, and
//! every operation checks that it runs in the process that opened the
//! channel; a forked child gets
//! [`TransportError::ForeignProcess`](crate::transport::TransportError::ForeignProcess).

// Not `forbid`: `mem` must be allowed unsafe code. Unsafe stays denied here
// (workspace lint); every other module below forbids it.
#![deny(unsafe_code)]

mod channel;
mod mem;
mod process;
mod region;
mod ring;
mod setup;

pub use self::channel::{ShmConfig, ShmTransport, Side};
// also the Unix transport's and the guest's fork check: one load, no getpid
pub(crate) use self::mem::ForkEpoch;
pub use self::process::ProcessRegion;
pub use self::region::{RegionAllocator, RegionBlock, GRANULE};

#[cfg(test)]
mod tests;
