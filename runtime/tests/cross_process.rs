//! A guest and a server in two processes, over each transport. The server
//! is this same test binary started again with `CAVA_TEST_ROLE` set, running
//! only `server_role`.

mod common;

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cava_runtime::transport::shm::{ShmConfig, ShmTransport};
use cava_runtime::transport::unix::UnixTransport;
use cava_runtime::transport::{SharedRegion, Transport};
use cava_runtime::wire::{BufferRef, ErrorCode, ErrorReply, Kind, Layout, Message, Slot};
use common::*;

fn shm_config() -> ShmConfig {
    ShmConfig { ring_bytes: 256 << 10, region_bytes: 16 << 20, ..ShmConfig::default() }
}

/// Runs as the server when started by `spawn_server`; does nothing in a
/// normal test run.
#[test]
fn server_role() {
    let (Ok(role), Ok(path)) = (std::env::var("CAVA_TEST_ROLE"), std::env::var("CAVA_TEST_SOCKET")) else { return };
    let stream = UnixStream::connect(path).expect("connect to the test guest");
    let refused = match role.as_str() {
        "unix" => serve(&mut UnixTransport::new(stream)),
        "shm" => serve(&mut ShmTransport::serve(stream, shm_config()).expect("shared-memory setup")),
        other => panic!("unknown role {other}"),
    }
    .expect("server loop");
    // bad messages the guest sends: garbage, a wrong contract, an unknown
    // function, and over shared memory a descriptor outside the region
    assert_eq!(refused, if role == "shm" { 4 } else { 3 }, "refused messages");
}

fn spawn_server(role: &str) -> (Child, UnixStream, PathBuf) {
    let path = std::env::temp_dir().join(format!("cava-runtime-test-{}-{role}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "server_role", "--test-threads=1"])
        .stdout(Stdio::null())
        .env("CAVA_TEST_ROLE", role)
        .env("CAVA_TEST_SOCKET", &path)
        .spawn()
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    (child, stream, path)
}

fn reply_of(reply: &[u8]) -> Message<'_> {
    let m = Message::decode(reply).unwrap();
    if let Ok(e) = ErrorReply::decode(&m) {
        panic!("error reply: {}", e.message);
    }
    m.expect(Kind::Reply).unwrap();
    m
}

fn error_of(reply: &[u8]) -> ErrorCode {
    ErrorReply::decode(&Message::decode(reply).unwrap()).unwrap().code
}

/// The same conversation over any transport.
fn converse(t: &mut dyn Transport) {
    let mut reply = Vec::new();
    assert!(hello(t, CONTRACT ^ 1).unwrap_err().contains("regenerate both halves"));
    assert_eq!(hello(t, CONTRACT).unwrap().contract, CONTRACT);

    round_trip(t, &call(NULL, 10, 0).finish().unwrap(), &mut reply).unwrap();
    assert_eq!(reply_of(&reply).header().call_id, 10);

    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = call(CHECKSUM, 11, one_buffer());
    w.buffer(&data);
    round_trip(t, &w.finish().unwrap(), &mut reply).unwrap();
    let m = reply_of(&reply);
    assert_eq!((m.u64_at(0).unwrap(), m.u64_at(8).unwrap()), (1_000_000, data.iter().map(|b| u64::from(*b)).sum::<u64>()));

    let mut w = call(FILL, 12, Layout::of(&[Slot::Buffer, Slot::U8]).1);
    w.out(100_000).u8(3);
    round_trip(t, &w.finish().unwrap(), &mut reply).unwrap();
    let BufferRef::Inline(out) = reply_of(&reply).buffer_at(0).unwrap() else { panic!("inline out buffer expected") };
    assert!(out.len() == 100_000 && out.iter().enumerate().all(|(i, b)| *b == 3u8.wrapping_add(i as u8)));

    // garbage gets an error reply and the channel goes on
    round_trip(t, b"certainly not a CAVA message", &mut reply).unwrap();
    assert_eq!(error_of(&reply), ErrorCode::Malformed);
    round_trip(t, &call(77, 13, 0).finish().unwrap(), &mut reply).unwrap();
    assert_eq!(error_of(&reply), ErrorCode::UnknownFunction);
    round_trip(t, &call(NULL, 14, 0).finish().unwrap(), &mut reply).unwrap();
    assert_eq!(reply_of(&reply).header().call_id, 14);
}

fn finish(t: &mut dyn Transport, mut child: Child, path: PathBuf) {
    goodbye(t).unwrap();
    let status = child.wait().unwrap();
    let _ = std::fs::remove_file(path);
    assert!(status.success(), "server process failed: {status}");
}

#[test]
fn guest_and_server_in_two_processes_over_a_unix_socket() {
    let (child, stream, path) = spawn_server("unix");
    let mut t = UnixTransport::new(stream);
    converse(&mut t);
    finish(&mut t, child, path);
}

#[test]
fn guest_and_server_in_two_processes_over_shared_memory() {
    let (child, stream, path) = spawn_server("shm");
    let mut t = ShmTransport::connect(stream, Duration::from_secs(10), Duration::from_micros(50)).unwrap();
    converse(&mut t);

    // zero copy: the guest writes a block, the server reads it in place
    let mut reply = Vec::new();
    let block = t.alloc(3_000_000).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 13) as u8).collect();
    t.write_region(block.offset(), &data).unwrap();
    let mut w = call(CHECKSUM, 20, one_buffer());
    w.shared(block.offset(), data.len() as u64);
    round_trip(&mut t, &w.finish().unwrap(), &mut reply).unwrap();
    assert_eq!(reply_of(&reply).u64_at(8).unwrap(), data.iter().map(|b| u64::from(*b)).sum::<u64>());

    // and writes an out buffer in place
    let mut w = call(FILL, 21, Layout::of(&[Slot::Buffer, Slot::U8]).1);
    w.shared(block.offset(), 5000).u8(9);
    round_trip(&mut t, &w.finish().unwrap(), &mut reply).unwrap();
    reply_of(&reply);
    let mut out = vec![0; 5000];
    t.read_region(block.offset(), &mut out).unwrap();
    assert!(out.iter().enumerate().all(|(i, b)| *b == 9u8.wrapping_add(i as u8)));
    t.free(block).unwrap();

    // a shared descriptor outside the region is refused, not followed
    let mut w = call(CHECKSUM, 22, one_buffer());
    w.shared(t.region_len() - 10, 11);
    round_trip(&mut t, &w.finish().unwrap(), &mut reply).unwrap();
    assert_eq!(error_of(&reply), ErrorCode::Malformed);
    finish(&mut t, child, path);
}
