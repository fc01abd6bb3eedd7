//! A forked child that uses its parent's channel gets an error instead of
//! corrupting it, does not even have the parent's mappings (channel and
//! process region), and can open a channel of its own; the parent's channel
//! keeps working.
//!
//! `fork` is unsafe, so this test file allows unsafe code for exactly two
//! calls (`fork` and `_exit`); the library's only unsafe module is
//! `transport::shm::mem`. The file holds a single test, so the process has
//! as few threads as possible when it forks.

#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::time::Duration;

use cava_runtime::transport::shm::{ProcessRegion, ShmConfig, ShmTransport};
use cava_runtime::transport::unix::UnixTransport;
use cava_runtime::transport::{SharedRegion, Transport, TransportError};

fn config() -> ShmConfig {
    ShmConfig { ring_bytes: 64 << 10, region_bytes: 1 << 20, ..ShmConfig::default() }
}

/// Whether `addr` lies in any mapping of this process.
fn mapped(addr: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().any(|line| {
        let range = line.split_whitespace().next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        (usize::from_str_radix(lo, 16).unwrap()..usize::from_str_radix(hi, 16).unwrap()).contains(&addr)
    })
}

fn close_on_exec(fd: i32) -> bool {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
    u32::from_str_radix(flags, 8).unwrap() & 0o2000000 != 0
}

/// Runs in the child; returns the exit code (0: every check passed).
fn child(guest: &mut ShmTransport, unix: &mut UnixTransport, mapped_at: usize, zone: &ProcessRegion) -> i32 {
    let mut buf = Vec::new();
    let zone_at = zone.base().map_or(0, |b| b.as_ptr() as usize);
    let checks = [
        matches!(guest.send(b"from the child"), Err(TransportError::ForeignProcess { .. })),
        matches!(guest.recv(&mut buf, Some(Duration::ZERO)), Err(TransportError::ForeignProcess { .. })),
        guest.alloc(64).is_none(),
        matches!(guest.read_region(0, &mut [0; 8]), Err(TransportError::ForeignProcess { .. })),
        matches!(unix.send(b"from the child"), Err(TransportError::ForeignProcess { .. })),
        // MADV_DONTFORK: the child does not have the mapping at all
        !mapped(mapped_at),
        // nor its parent's process region: no address in it is a region buffer
        !mapped(zone_at),
        zone.offset_of(zone_at as u64, 1).is_none(),
        zone.region_ptr(0, 1).is_err(),
        // a channel of its own works
        {
            let (mut g, mut s) = ShmTransport::pair(config()).unwrap();
            g.send(b"mine").is_ok() && s.recv(&mut buf, Some(Duration::from_secs(5))).is_ok() && buf == b"mine"
        },
    ];
    match checks.iter().position(|ok| !ok) {
        None => 0,
        Some(i) => 10 + i as i32,
    }
}

#[test]
fn a_forked_child_cannot_use_its_parents_channels() {
    let (mut guest, mut server) = ShmTransport::pair(config()).unwrap();
    let (mut unix, mut unix_peer) = UnixTransport::pair().unwrap();
    let mapped_at = guest.region_ptr(0, 1).unwrap().as_ptr() as usize;
    let (zone_socket, zone_server) = std::os::unix::net::UnixStream::pair().unwrap();
    let _zone_server = ProcessRegion::serve(&zone_server, 1 << 20).unwrap();
    let zone = ProcessRegion::receive(&zone_socket, Duration::from_secs(5)).unwrap();
    assert!(zone.offset_of(zone.base().unwrap().as_ptr() as u64, 1) == Some(0));
    assert!(mapped(mapped_at));
    assert!(close_on_exec(guest.socket().as_raw_fd()) && close_on_exec(unix.stream().as_raw_fd()));
    // the memfd itself is closed once mapped: nothing to leak into an exec
    let leaked = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .any(|target| target.to_string_lossy().contains("cava-shm"));
    assert!(!leaked, "memfd left open");

    // SAFETY: the child only runs `child` (which allocates; glibc's fork
    // makes malloc usable in the child) and leaves with `_exit`, skipping
    // the parent's destructors and atexit handlers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child(&mut guest, &mut unix, mapped_at, &zone);
        // SAFETY: ends the child at once, as a forked child should.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above; `status` is a valid out pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child check {} failed (see the list in `child`)", libc::WEXITSTATUS(status) - 10);

    // the parent's channels are untouched
    let mut buf = Vec::new();
    guest.send(b"from the parent").unwrap();
    server.recv(&mut buf, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(buf, b"from the parent");
    unix.send(b"still fine").unwrap();
    unix_peer.recv(&mut buf, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(buf, b"still fine");
    assert!(zone.region_ptr(0, 1).is_ok(), "the parent keeps its process region");
}
