//! Making the shared mapping and handing it to the guest.
//!
//! The server creates the memfd (`MFD_CLOEXEC`), sizes it, and seals it
//! against shrinking and growing before anyone maps it: a guest that holds
//! the descriptor could otherwise truncate the file and make the server's
//! next access a `SIGBUS`. It then sends the descriptor over the Unix socket
//! (`SCM_RIGHTS`); the guest receives it close-on-exec (`MSG_CMSG_CLOEXEC`),
//! checks the seals and the size, maps it and checks the control block.

#![forbid(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

use super::mem::SharedMapping;
use super::ring::{RingPlace, RING_HEADER};
use crate::transport::TransportError;

const PAGE: usize = 4096;
const MAGIC: u64 = u64::from_le_bytes(*b"CAVASHM\x01");
const LAYOUT_VERSION: u32 = 1;
const MIN_RING: usize = PAGE;
const MAX_RING: usize = 1 << 30;

/// Sizes of a channel's mapping, chosen by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub ring_bytes: usize,
    pub region_bytes: usize,
    pub max_message: usize,
}

/// Where everything is in the mapping: the control page, the request ring
/// (guest to server), the response ring, then the zero-copy region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Places {
    pub requests: RingPlace,
    pub responses: RingPlace,
    pub region: usize,
    pub total: usize,
}

impl Geometry {
    pub(crate) fn check(&self) -> Result<Places, TransportError> {
        let bad = |what: &str| TransportError::Setup(what.to_string());
        if !self.ring_bytes.is_power_of_two() || !(MIN_RING..=MAX_RING).contains(&self.ring_bytes) {
            return Err(bad("ring size must be a power of two between 4 KiB and 1 GiB"));
        }
        if !self.region_bytes.is_multiple_of(PAGE) {
            return Err(bad("region size must be a multiple of 4 KiB"));
        }
        if self.max_message == 0 || self.max_message > u32::MAX as usize {
            return Err(bad("largest message must be between 1 byte and 4 GiB"));
        }
        let ring_span = (RING_HEADER + self.ring_bytes).div_ceil(PAGE) * PAGE;
        let requests = RingPlace { base: PAGE, capacity: self.ring_bytes };
        let responses = RingPlace { base: PAGE + ring_span, capacity: self.ring_bytes };
        let region = PAGE + 2 * ring_span;
        let total = region.checked_add(self.region_bytes).ok_or_else(|| bad("mapping too large"))?;
        Ok(Places { requests, responses, region, total })
    }
}

// Control page fields (written once by the server, read once by the guest).
const MAGIC_AT: usize = 0;
const VERSION_AT: usize = 8;
const RING_AT: usize = 16;
const REGION_AT: usize = 24;
const MAX_MESSAGE_AT: usize = 32;

fn setup_error(what: &str) -> impl Fn(rustix::io::Errno) -> TransportError + '_ {
    move |e| TransportError::Setup(format!("{what}: {e}"))
}

/// Server side: creates, seals and maps the memfd, writes the control page
/// and sends the descriptor to the guest.
pub(crate) fn create_and_send(socket: &UnixStream, geometry: Geometry) -> Result<(SharedMapping, Places), TransportError> {
    let places = geometry.check()?;
    let fd = sealed_memfd("cava-shm", places.total as u64)?;
    let mem = SharedMapping::map(fd.as_fd(), places.total).map_err(|e| TransportError::Setup(format!("mapping the memfd: {e}")))?;
    let put = |at: usize, bytes: &[u8]| mem.copy_in(at, bytes).expect("control page inside the mapping");
    put(MAGIC_AT, &MAGIC.to_le_bytes());
    put(VERSION_AT, &LAYOUT_VERSION.to_le_bytes());
    put(RING_AT, &(geometry.ring_bytes as u64).to_le_bytes());
    put(REGION_AT, &(geometry.region_bytes as u64).to_le_bytes());
    put(MAX_MESSAGE_AT, &(geometry.max_message as u64).to_le_bytes());
    send_fd(socket, &fd, &(places.total as u64).to_le_bytes())?;
    Ok((mem, places))
}

/// A memfd of `total` bytes (`MFD_CLOEXEC`), sealed against shrinking and
/// growing before anyone maps it.
pub(crate) fn sealed_memfd(name: &str, total: u64) -> Result<OwnedFd, TransportError> {
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).map_err(setup_error("memfd_create"))?;
    rustix::fs::ftruncate(&fd, total).map_err(setup_error("sizing the memfd"))?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL).map_err(setup_error("sealing the memfd"))?;
    Ok(fd)
}

/// Sends `note` and the descriptor `fd` (`SCM_RIGHTS`) in one message.
pub(crate) fn send_fd(socket: &UnixStream, fd: &OwnedFd, note: &[u8]) -> Result<(), TransportError> {
    let fds = [fd.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(socket, &[IoSlice::new(note)], &mut control, SendFlags::NOSIGNAL).map_err(setup_error("sending the mapping"))?;
    Ok(())
}

/// Receives a message from [`send_fd`]: fills `note` and returns the
/// descriptor (close-on-exec) with the number of note bytes that came.
/// `Ok(None)` when bytes came without a descriptor (the peer refused).
pub(crate) fn receive_fd(socket: &UnixStream, note: &mut [u8]) -> Result<Option<(OwnedFd, usize)>, TransportError> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(socket, &mut [IoSliceMut::new(note)], &mut control, RecvFlags::CMSG_CLOEXEC)
        .map_err(setup_error("receiving the mapping"))?;
    let mut fd: Option<OwnedFd> = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for received in fds {
                // keep the first; any extra descriptor is closed on drop
                fd.get_or_insert(received);
            }
        }
    }
    if got.bytes == 0 && fd.is_none() {
        return Err(TransportError::Closed);
    }
    Ok(fd.map(|fd| (fd, got.bytes)))
}

/// Checks that a received memfd is sealed against resizing and is exactly
/// `total` bytes long (invariant 1 of `mem.rs`).
pub(crate) fn check_sealed(fd: &OwnedFd, total: u64) -> Result<(), TransportError> {
    let seals = rustix::fs::fcntl_get_seals(fd).map_err(setup_error("reading the seals"))?;
    if !seals.contains(SealFlags::SHRINK | SealFlags::GROW) {
        return Err(TransportError::Setup("the mapping is not sealed against resizing".into()));
    }
    let size = rustix::fs::fstat(fd).map_err(setup_error("fstat"))?.st_size as u64;
    if size != total || size < PAGE as u64 {
        return Err(TransportError::Setup(format!("mapping is {size} bytes, announced {total}")));
    }
    Ok(())
}

/// Guest side: receives the descriptor, checks it and maps it.
pub(crate) fn receive_and_map(socket: &UnixStream) -> Result<(SharedMapping, Places, Geometry), TransportError> {
    let mut note = [0u8; 8];
    let (fd, got) = receive_fd(socket, &mut note)?
        .ok_or_else(|| TransportError::Setup("the server sent no mapping (is it serving shared memory?)".into()))?;
    if got != note.len() {
        return Err(TransportError::Setup("short setup note".into()));
    }
    let total = u64::from_le_bytes(note);
    check_sealed(&fd, total)?;
    let total = usize::try_from(total).map_err(|_| TransportError::Setup("mapping too large".into()))?;
    let mem = SharedMapping::map(fd.as_fd(), total).map_err(|e| TransportError::Setup(format!("mapping: {e}")))?;
    let mut word = [0u8; 8];
    let mut get = |at: usize| {
        mem.copy_out(at, &mut word).expect("control page inside the mapping");
        u64::from_le_bytes(word)
    };
    if get(MAGIC_AT) != MAGIC {
        return Err(TransportError::Setup("not a CAVA shared-memory channel".into()));
    }
    if get(VERSION_AT) as u32 != LAYOUT_VERSION {
        return Err(TransportError::Setup("shared-memory layout version differs: use the same CAVA release on both sides".into()));
    }
    let as_size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let geometry =
        Geometry { ring_bytes: as_size(get(RING_AT)), region_bytes: as_size(get(REGION_AT)), max_message: as_size(get(MAX_MESSAGE_AT)) };
    let places = geometry.check()?;
    if places.total != total {
        return Err(TransportError::Setup("control page disagrees with the mapping size".into()));
    }
    Ok((mem, places, geometry))
}
