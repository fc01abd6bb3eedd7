//! The process region: one zero-copy region per guest process, for the
//! buffers the application itself allocates with `zerocopy_alloc`.
//!
//! A channel's region belongs to one guest thread and holds blocks the guest
//! copies the application's bytes into. The process region is different:
//! the application gets pointers into it and fills it directly, so a buffer
//! that lies there travels as `(offset, length)` and is never copied; every
//! channel of the process may name it.
//!
//! As for channels, the API server creates the memfd, sizes it and seals it
//! against resizing (so the untrusted guest cannot turn a server access into
//! a `SIGBUS`), and sends it over the Unix socket that asked for it
//! (`SCM_RIGHTS`). The guest checks the seals and the size and maps it
//! `MADV_DONTFORK`: a forked child has no such mapping and must get a
//! region of its own ([`ProcessRegion::is_ours`]). The socket stays open as
//! long as the guest process holds the region; when it closes, the server
//! forgets the region (calls already running keep it mapped until they end).

#![forbid(unsafe_code)]

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::ptr::NonNull;
use std::time::Duration;

use super::mem::SharedMapping;
use super::setup;
use crate::transport::{SharedRegion, TransportError};

/// First word of the note that comes with the descriptor.
const MAGIC: u64 = u64::from_le_bytes(*b"CAVAZC\x00\x01");
/// The largest process region a guest accepts (its address space is the
/// limit, not memory: pages exist only once touched).
const MAX_BYTES: u64 = 64 << 30;

/// One mapping of a process region, on either side.
#[derive(Debug)]
pub struct ProcessRegion {
    mem: SharedMapping,
    len: u64,
}

impl ProcessRegion {
    /// Server side: creates a sealed region of `bytes` (a multiple of
    /// 4 KiB), maps it and sends it to the guest at the other end of
    /// `socket`.
    pub fn serve(socket: &UnixStream, bytes: u64) -> Result<ProcessRegion, TransportError> {
        if bytes == 0 || !bytes.is_multiple_of(4096) || bytes > MAX_BYTES {
            return Err(TransportError::Setup("a process region is a multiple of 4 KiB, at most 64 GiB".into()));
        }
        let fd = setup::sealed_memfd("cava-zerocopy", bytes)?;
        let len = usize::try_from(bytes).map_err(|_| TransportError::Setup("process region too large".into()))?;
        let mem = SharedMapping::map(fd.as_fd(), len).map_err(|e| TransportError::Setup(format!("mapping the memfd: {e}")))?;
        let mut note = [0u8; 16];
        note[..8].copy_from_slice(&MAGIC.to_le_bytes());
        note[8..].copy_from_slice(&bytes.to_le_bytes());
        setup::send_fd(socket, &fd, &note)?;
        Ok(ProcessRegion { mem, len: bytes })
    }

    /// Guest side: receives the region from the server at the other end of
    /// `socket`, waiting at most `timeout`, checks it and maps it.
    pub fn receive(socket: &UnixStream, timeout: Duration) -> Result<ProcessRegion, TransportError> {
        socket.set_read_timeout(Some(timeout.max(Duration::from_micros(1))))?;
        let mut note = [0u8; 16];
        let received = setup::receive_fd(socket, &mut note);
        socket.set_read_timeout(None)?;
        let Some((fd, got)) = received? else {
            return Err(TransportError::Setup("the API server refused the zero-copy region (its log says why)".into()));
        };
        let word = |at: usize| u64::from_le_bytes(note[at..at + 8].try_into().unwrap_or([0; 8]));
        if got != note.len() || word(0) != MAGIC {
            return Err(TransportError::Setup("not a CAVA zero-copy region".into()));
        }
        let bytes = word(8);
        if bytes > MAX_BYTES {
            return Err(TransportError::Setup(format!("a zero-copy region of {bytes} bytes is over the limit")));
        }
        setup::check_sealed(&fd, bytes)?;
        let len = usize::try_from(bytes).map_err(|_| TransportError::Setup("process region too large".into()))?;
        let mem = SharedMapping::map(fd.as_fd(), len).map_err(|e| TransportError::Setup(format!("mapping: {e}")))?;
        Ok(ProcessRegion { mem, len: bytes })
    }

    /// Whether this process mapped the region (false in a forked child,
    /// which does not have the mapping).
    pub fn is_ours(&self) -> bool {
        self.mem.is_ours()
    }

    /// The address of the region's first byte in this process.
    pub fn base(&self) -> Option<NonNull<u8>> {
        self.mem.raw(0, 0)
    }

    /// The region offset of `len` bytes at address `addr` of this process,
    /// if they lie wholly inside the region (and this process has it).
    pub fn offset_of(&self, addr: u64, len: u64) -> Option<u64> {
        if !self.is_ours() {
            return None;
        }
        let base = self.base()?.as_ptr() as u64;
        let offset = addr.checked_sub(base)?;
        (offset.checked_add(len)? <= self.len).then_some(offset)
    }

    fn at(&self, offset: u64, len: u64) -> Result<usize, TransportError> {
        if !self.is_ours() {
            return Err(TransportError::Protocol("a process region used by a forked child"));
        }
        self.check_shared(offset, len)?;
        // in bounds of a mapping of `len` bytes, so it fits in usize
        Ok(offset as usize)
    }
}

impl SharedRegion for ProcessRegion {
    fn region_len(&self) -> u64 {
        self.len
    }

    fn check_shared(&self, offset: u64, len: u64) -> Result<(), TransportError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(TransportError::Protocol("buffer outside the process's zero-copy region")),
        }
    }

    fn read_region(&self, offset: u64, dst: &mut [u8]) -> Result<(), TransportError> {
        let at = self.at(offset, dst.len() as u64)?;
        self.mem.copy_out(at, dst).ok_or(TransportError::Protocol("buffer outside the process's zero-copy region"))
    }

    fn write_region(&self, offset: u64, src: &[u8]) -> Result<(), TransportError> {
        let at = self.at(offset, src.len() as u64)?;
        self.mem.copy_in(at, src).ok_or(TransportError::Protocol("buffer outside the process's zero-copy region"))
    }

    fn region_ptr(&self, offset: u64, len: u64) -> Result<NonNull<u8>, TransportError> {
        let at = self.at(offset, len)?;
        self.mem.raw(at, len as usize).ok_or(TransportError::Protocol("buffer outside the process's zero-copy region"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(bytes: u64) -> (ProcessRegion, ProcessRegion) {
        let (a, b) = UnixStream::pair().unwrap();
        let server = ProcessRegion::serve(&b, bytes).unwrap();
        let guest = ProcessRegion::receive(&a, Duration::from_secs(5)).unwrap();
        (guest, server)
    }

    #[test]
    fn both_sides_see_the_same_bytes() {
        let (guest, server) = pair(1 << 20);
        guest.write_region(4096, b"hello").unwrap();
        let mut got = [0u8; 5];
        server.read_region(4096, &mut got).unwrap();
        assert_eq!(&got, b"hello");
        let base = guest.base().unwrap().as_ptr() as u64;
        assert_eq!(guest.offset_of(base + 100, 28), Some(100));
        assert_eq!(guest.offset_of(base + (1 << 20) - 1, 1), Some((1 << 20) - 1));
        assert_eq!(guest.offset_of(base + (1 << 20) - 1, 2), None, "runs past the end");
        assert_eq!(guest.offset_of(base - 1, 1), None, "starts before");
        assert_eq!(guest.offset_of(u64::MAX, 2), None, "overflows");
    }

    #[test]
    fn every_access_is_checked_against_the_region() {
        let (_guest, server) = pair(64 << 10);
        assert!(server.region_ptr(0, 64 << 10).is_ok());
        assert!(server.region_ptr(64 << 10, 0).is_ok(), "an empty buffer at the end");
        for (offset, len) in [(0, (64 << 10) + 1), (64 << 10, 1), (u64::MAX, 2), (1, u64::MAX)] {
            assert!(server.region_ptr(offset, len).is_err(), "({offset}, {len}) accepted");
            assert!(server.check_shared(offset, len).is_err());
        }
        assert!(server.read_region(u64::MAX - 1, &mut [0; 4]).is_err());
    }

    #[test]
    fn a_bad_size_or_a_refusal_is_a_setup_error() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(ProcessRegion::serve(&a, 1000).is_err());
        assert!(ProcessRegion::serve(&a, 0).is_err());
        // bytes without a descriptor: the server said no
        let (a, b) = UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut &b, &[0u8; 16]).unwrap();
        assert!(matches!(ProcessRegion::receive(&a, Duration::from_secs(1)), Err(TransportError::Setup(_))));
        // nothing within the timeout
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(ProcessRegion::receive(&a, Duration::from_millis(20)).is_err());
    }
}
