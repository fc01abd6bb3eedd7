//! In-process tests of the shared-memory channel: both ends in one process
//! over a socket pair (the cross-process and fork tests are in
//! `runtime/tests/`).

use std::time::{Duration, Instant};

use super::*;
use crate::transport::{SharedRegion, Transport, TransportError};

fn small() -> ShmConfig {
    ShmConfig { ring_bytes: 64 << 10, region_bytes: 1 << 20, max_message: 8 << 20, spin: Duration::from_micros(20) }
}

fn short() -> Option<Duration> {
    Some(Duration::from_millis(50))
}

#[test]
fn messages_cross_both_rings_and_large_ones_stream_through() {
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    assert_eq!((guest.side(), server.side()), (Side::Guest, Side::Server));
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7) as u8).collect();
    let expected = big.clone();
    let echo = std::thread::spawn(move || {
        let mut buf = Vec::new();
        for _ in 0..4 {
            server.recv(&mut buf, None).unwrap();
            server.send(&buf).unwrap();
        }
        server
    });
    let mut buf = Vec::new();
    for message in [&b"ping"[..], &b""[..], &big[..], &[9u8; 65536][..]] {
        guest.send(message).unwrap();
        guest.recv(&mut buf, Some(Duration::from_secs(10))).unwrap();
        assert!(buf == message, "message of {} bytes came back wrong", message.len());
    }
    assert!(buf.len() == 65536 && expected.len() == 5_000_000);
    drop(echo.join().unwrap());
}

#[test]
fn a_timeout_before_a_message_leaves_the_channel_usable() {
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    let mut buf = Vec::new();
    let started = Instant::now();
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::TimedOut(_))));
    assert!(started.elapsed() >= Duration::from_millis(50));
    guest.send(b"late").unwrap();
    server.recv(&mut buf, short()).unwrap();
    assert_eq!(buf, b"late");
}

#[test]
fn a_sleeping_receiver_is_woken_by_the_doorbell() {
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    let sender = std::thread::spawn(move || {
        // long enough for the receiver to stop spinning and sleep
        std::thread::sleep(Duration::from_millis(30));
        guest.send(b"wake up").unwrap();
        guest
    });
    let mut buf = Vec::new();
    server.recv(&mut buf, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(buf, b"wake up");
    drop(sender.join().unwrap());
}

#[test]
fn a_producer_asleep_on_a_full_ring_is_woken_by_a_slow_consumer() {
    // many small messages through a small ring whose consumer pauses now
    // and then: the producer sleeps on a full ring, waits for a quarter of
    // it, and every message still arrives once, in order
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    const N: u32 = 20_000;
    let consumer = std::thread::spawn(move || {
        let mut buf = Vec::new();
        for i in 0..N {
            if i % 2_000 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            server.recv(&mut buf, Some(Duration::from_secs(10))).unwrap();
            assert_eq!(buf, [&i.to_le_bytes()[..], &[7u8; 60][..]].concat(), "message {i}");
        }
    });
    for i in 0..N {
        guest.send(&[&i.to_le_bytes()[..], &[7u8; 60][..]].concat()).unwrap();
    }
    consumer.join().unwrap();
}

#[test]
fn what_a_peer_sent_before_it_left_is_received_before_it_is_closed() {
    // the receiver asleep, the sender publishes its last messages and
    // leaves at once: they are received, then the channel is closed
    for _ in 0..20 {
        let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
        let receiver = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut got = Vec::new();
            while server.recv(&mut buf, None).is_ok() {
                got.push(buf.clone());
            }
            got
        });
        std::thread::sleep(Duration::from_millis(30));
        guest.send(b"last").unwrap();
        guest.send(b"words").unwrap();
        drop(guest);
        assert_eq!(receiver.join().unwrap(), vec![b"last".to_vec(), b"words".to_vec()]);
    }
}

#[test]
fn a_dead_peer_is_noticed_by_a_sleeping_receiver() {
    let (guest, mut server) = ShmTransport::pair(small()).unwrap();
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(guest);
    });
    let started = Instant::now();
    let mut buf = Vec::new();
    assert!(matches!(server.recv(&mut buf, None), Err(TransportError::Closed)));
    assert!(started.elapsed() < Duration::from_secs(2));
    dropper.join().unwrap();
}

#[test]
fn a_dead_peer_is_noticed_by_a_sender_on_a_full_ring() {
    let (mut guest, server) = ShmTransport::pair(small()).unwrap();
    drop(server);
    // fits in the ring: goes in without looking at the peer
    guest.send(&[1; 1000]).unwrap();
    // does not fit: the sender waits for room and finds the peer gone
    assert!(matches!(guest.send(&vec![0; 200 << 10]), Err(TransportError::Closed)));
}

#[test]
fn an_index_out_of_range_closes_the_channel() {
    let (guest, mut server) = ShmTransport::pair(small()).unwrap();
    guest.scribble_head(u64::MAX / 2);
    let mut buf = Vec::new();
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::Protocol(_))));
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::Poisoned)));
    assert!(matches!(server.send(b"x"), Err(TransportError::Poisoned)));
}

#[test]
fn an_oversized_frame_closes_the_channel_and_the_peer_sees_it() {
    let (mut guest, mut server) = ShmTransport::pair(ShmConfig { max_message: 1024, ..small() }).unwrap();
    assert!(matches!(guest.send(&[0; 1025]), Err(TransportError::TooLarge { len: 1025, max: 1024 })));
    guest.send_unchecked(&[0; 1025]).unwrap();
    let mut buf = Vec::new();
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::FrameTooLarge { len: 1025, max: 1024 })));
    assert!(matches!(guest.recv(&mut buf, Some(Duration::from_secs(2))), Err(TransportError::Closed)));
}

#[test]
fn a_peer_that_stops_mid_message_stalls() {
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    let mut frame = 100u32.to_le_bytes().to_vec();
    frame.extend_from_slice(&[7; 10]);
    guest.send_raw(&frame);
    let mut buf = Vec::new();
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::Stalled)));
    // and half a length prefix
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    guest.send_raw(&[100, 0]);
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::Stalled)));
}

/// A message queued behind another is taken in one piece when it is all
/// in the ring (`Consumer::recv`'s first branch); one announced larger
/// than the limit, or not all there yet, is still refused or waited for.
#[test]
fn queued_messages_are_taken_whole_and_checked_as_any() {
    let (mut guest, mut server) = ShmTransport::pair(ShmConfig { max_message: 1024, ..small() }).unwrap();
    let mut buf = Vec::new();
    for n in [3usize, 0, 200] {
        guest.send(&vec![n as u8; n]).unwrap();
    }
    for n in [3usize, 0, 200] {
        server.recv(&mut buf, short()).unwrap();
        assert_eq!(buf, vec![n as u8; n]);
    }
    // behind a message: one over the limit
    guest.send(b"first").unwrap();
    guest.send_unchecked(&[0; 1025]).unwrap();
    server.recv(&mut buf, short()).unwrap();
    assert_eq!(buf, b"first");
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::FrameTooLarge { len: 1025, max: 1024 })));
    // behind a message: one whose bytes have not all come
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    guest.send(b"first").unwrap();
    let mut frame = 100u32.to_le_bytes().to_vec();
    frame.extend_from_slice(&[7; 10]);
    guest.send_raw(&frame);
    server.recv(&mut buf, short()).unwrap();
    assert_eq!(buf, b"first");
    assert!(matches!(server.recv(&mut buf, short()), Err(TransportError::Stalled)));
}

#[test]
fn zero_copy_blocks_cross_without_the_rings() {
    let (mut guest, mut server) = ShmTransport::pair(small()).unwrap();
    assert!(server.alloc(10).is_none(), "only the guest allocates");
    let block = guest.alloc(100_000).unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    guest.write_region(block.offset(), &data).unwrap();
    let mut seen = vec![0; data.len()];
    server.read_region(block.offset(), &mut seen).unwrap();
    assert!(seen == data);
    // the server writes an out buffer in place; the guest reads it
    server.write_region(block.offset(), b"result").unwrap();
    let mut out = [0u8; 6];
    guest.read_region(block.offset(), &mut out).unwrap();
    assert_eq!(&out, b"result");
    let p = server.region_ptr(block.offset(), block.len()).unwrap();
    assert_eq!(p, guest.region_ptr(block.offset(), block.len()).map(|_| p).unwrap());
    assert_eq!(guest.region_in_use(), block.len());
    guest.free(block).unwrap();
    assert_eq!(guest.region_in_use(), 0);
}

#[test]
fn shared_descriptors_outside_the_region_are_refused() {
    let (guest, server) = ShmTransport::pair(small()).unwrap();
    let len = server.region_len();
    assert!(server.check_shared(0, len).is_ok());
    assert!(matches!(server.check_shared(1, len), Err(TransportError::Protocol(_))));
    assert!(matches!(server.check_shared(u64::MAX, 2), Err(TransportError::Protocol(_))));
    assert!(matches!(server.read_region(len - 4, &mut [0; 8]), Err(TransportError::Protocol(_))));
    assert!(matches!(server.region_ptr(0, u64::MAX), Err(TransportError::Protocol(_))));
    assert!(matches!(guest.write_region(len, &[1]), Err(TransportError::Protocol(_))));
}

#[test]
fn the_region_refuses_more_than_it_holds_and_foreign_blocks() {
    let (mut guest, _server) = ShmTransport::pair(small()).unwrap();
    let (mut other, _other_server) = ShmTransport::pair(small()).unwrap();
    let all = guest.alloc(guest.region_len()).unwrap();
    assert!(guest.alloc(1).is_none(), "nothing in flight is handed out twice");
    let foreign = other.alloc(64).unwrap();
    assert!(guest.free(foreign).is_err());
    guest.free(all).unwrap();
}

#[test]
fn bad_geometry_and_a_peer_that_sends_no_mapping_are_setup_errors() {
    for config in [
        ShmConfig { ring_bytes: 3000, ..small() },
        ShmConfig { ring_bytes: 1 << 31, ..small() },
        ShmConfig { region_bytes: 100, ..small() },
        ShmConfig { max_message: 0, ..small() },
    ] {
        assert!(matches!(ShmTransport::pair(config), Err(TransportError::Setup(_))), "{config:?}");
    }
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    std::io::Write::write_all(&mut &b, &[0; 8]).unwrap();
    let err = ShmTransport::connect(a, Duration::from_secs(1), Duration::ZERO).unwrap_err();
    assert!(err.to_string().contains("sent no mapping"), "{err}");
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(b);
    assert!(matches!(ShmTransport::connect(a, Duration::from_secs(1), Duration::ZERO), Err(TransportError::Closed)));
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    assert!(ShmTransport::connect(a, Duration::from_millis(20), Duration::ZERO).is_err(), "no server: times out");
}
