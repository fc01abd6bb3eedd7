//! Transport speed, all in one run: the null-call round trip per transport
//! against a native call, and in/out buffer throughput from 4 KiB to 64 MiB
//! per transport against `memcpy`.
//!
//! The server is a thread of this process running the test server
//! (`tests/common`), so each round trip includes building the request with
//! the `Writer`, decoding it on the server with the one reader, building
//! the reply and decoding it: the whole runtime path generated code will
//! take, minus the vendor call.
//!
//! Run: `cargo bench -p cava-runtime --bench transport`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::thread::JoinHandle;
use std::time::Duration;

use cava_runtime::transport::shm::{ShmConfig, ShmTransport};
use cava_runtime::transport::unix::UnixTransport;
use cava_runtime::transport::{SharedRegion, Transport};
use cava_runtime::wire::{BufferRef, Header, Kind, Message, Writer};
use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 5] = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20];

fn start<T: Transport + Send + 'static>(mut server: T) -> JoinHandle<()> {
    std::thread::spawn(move || {
        serve(&mut server).expect("bench server");
    })
}

fn unix() -> (UnixTransport, JoinHandle<()>) {
    let (guest, server) = UnixTransport::pair().unwrap();
    (guest, start(server))
}

fn shm() -> (ShmTransport, JoinHandle<()>) {
    let (guest, server) = ShmTransport::pair(ShmConfig::default()).unwrap();
    (guest, start(server))
}

fn stop(mut guest: impl Transport, server: JoinHandle<()>) {
    goodbye(&mut guest).unwrap();
    server.join().unwrap();
}

fn header(function: u32, call_id: u64) -> Header {
    Header { function, call_id, thread: 1, ..Header::new(Kind::Call) }
}

/// Marshal, send, wait, decode: one null call.
fn null_call(t: &mut dyn Transport, req: &mut Vec<u8>, reply: &mut Vec<u8>, id: &mut u64) {
    *id += 1;
    *req = Writer::reuse(std::mem::take(req), header(NULL, *id), 0).finish().unwrap();
    round_trip(t, req, reply).unwrap();
    let m = Message::decode(reply).unwrap();
    assert_eq!(m.header().call_id, *id);
}

#[inline(never)]
fn native_null(x: u64) -> u64 {
    black_box(x)
}

fn null_calls(c: &mut Criterion) {
    let mut g = c.benchmark_group("null call");
    g.bench_function("native", |b| b.iter(|| native_null(black_box(1))));
    let (mut req, mut reply, mut id) = (Vec::new(), Vec::new(), 0);
    let (mut t, server) = unix();
    g.bench_function("unix socket", |b| b.iter(|| null_call(&mut t, &mut req, &mut reply, &mut id)));
    stop(t, server);
    let (mut t, server) = shm();
    g.bench_function("shared memory", |b| b.iter(|| null_call(&mut t, &mut req, &mut reply, &mut id)));
    stop(t, server);
    g.finish();
}

/// Guest to server: the bytes travel inline in the message.
fn send_inline(t: &mut dyn Transport, data: &[u8], req: &mut Vec<u8>, reply: &mut Vec<u8>) {
    let mut w = Writer::reuse(std::mem::take(req), header(CONSUME, 1), one_buffer());
    w.reserve(data.len()).buffer(data);
    *req = w.finish().unwrap();
    round_trip(t, req, reply).unwrap();
    assert_eq!(Message::decode(reply).unwrap().u64_at(0).unwrap(), data.len() as u64);
}

/// Server to guest: the reply carries the bytes inline; the guest copies
/// them into the application's buffer.
fn receive_inline(t: &mut dyn Transport, dst: &mut [u8], req: &mut Vec<u8>, reply: &mut Vec<u8>) {
    let mut w = Writer::reuse(std::mem::take(req), header(PRODUCE, 1), one_buffer());
    w.out(dst.len() as u64);
    *req = w.finish().unwrap();
    round_trip(t, req, reply).unwrap();
    let m = Message::decode(reply).unwrap();
    let BufferRef::Inline(bytes) = m.buffer_at(0).unwrap() else { panic!("inline reply expected") };
    dst.copy_from_slice(bytes);
}

/// An application buffer starting on a page boundary, as large buffers from
/// `mmap` or the allocator's big-block path do. Two heap vectors a few bytes
/// past a 4 KiB multiple apart hit a slow path of `rep movsb` on this AMD
/// machine (64 KiB copies ten times slower), which would make the memcpy
/// baseline meaningless.
struct PageAligned {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl PageAligned {
    fn new(len: usize) -> PageAligned {
        let storage = vec![1u8; len + 4096];
        let start = storage.as_ptr().align_offset(4096);
        PageAligned { storage, start, len }
    }

    fn get_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

fn group_for<'a>(c: &'a mut Criterion, name: &str, size: usize) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(size as u64));
    if size >= 16 << 20 {
        g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    } else {
        g.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    }
    g
}

fn throughput(c: &mut Criterion) {
    let (mut ut, userver) = unix();
    let (mut st, sserver) = shm();
    let (mut req, mut reply) = (Vec::new(), Vec::new());
    for size in SIZES {
        let mut src_buf = PageAligned::new(size);
        let mut dst_buf = PageAligned::new(size);
        src_buf.get_mut().iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let src = src_buf.get_mut();
        let dst = dst_buf.get_mut();
        let block = st.alloc(size as u64).unwrap();
        let id = BenchmarkId::from_parameter(format!("{} KiB", size >> 10));

        let mut g = group_for(c, "in memcpy", size);
        g.bench_with_input(id.clone(), &size, |b, _| b.iter(|| dst.copy_from_slice(black_box(&*src))));
        g.finish();
        let mut g = group_for(c, "in unix socket", size);
        g.bench_with_input(id.clone(), &size, |b, _| b.iter(|| send_inline(&mut ut, src, &mut req, &mut reply)));
        g.finish();
        let mut g = group_for(c, "in shared memory ring", size);
        g.bench_with_input(id.clone(), &size, |b, _| b.iter(|| send_inline(&mut st, src, &mut req, &mut reply)));
        g.finish();
        let mut g = group_for(c, "in shared memory zero-copy", size);
        g.bench_with_input(id.clone(), &size, |b, _| {
            b.iter(|| {
                // the application's bytes go into the region once; the
                // server hands the vendor a pointer into it
                st.write_region(block.offset(), src).unwrap();
                let mut w = Writer::reuse(std::mem::take(&mut req), header(CONSUME, 1), one_buffer());
                w.shared(block.offset(), size as u64);
                req = w.finish().unwrap();
                round_trip(&mut st, &req, &mut reply).unwrap();
            })
        });
        g.finish();

        let mut g = group_for(c, "out memcpy", size);
        g.bench_with_input(id.clone(), &size, |b, _| b.iter(|| dst.copy_from_slice(black_box(&*src))));
        g.finish();
        let mut g = group_for(c, "out unix socket", size);
        g.bench_with_input(id.clone(), &size, |b, _| b.iter(|| receive_inline(&mut ut, dst, &mut req, &mut reply)));
        g.finish();
        let mut g = group_for(c, "out shared memory ring", size);
        g.bench_with_input(id.clone(), &size, |b, _| b.iter(|| receive_inline(&mut st, dst, &mut req, &mut reply)));
        g.finish();
        let mut g = group_for(c, "out shared memory zero-copy", size);
        g.bench_with_input(id, &size, |b, _| {
            b.iter(|| {
                // the vendor wrote the out buffer in the region; the guest
                // copies it into the application's memory once
                let mut w = Writer::reuse(std::mem::take(&mut req), header(PRODUCE, 1), one_buffer());
                w.shared(block.offset(), size as u64);
                req = w.finish().unwrap();
                round_trip(&mut st, &req, &mut reply).unwrap();
                st.read_region(block.offset(), dst).unwrap();
            })
        });
        g.finish();
        st.free(block).unwrap();
    }
    stop(ut, userver);
    stop(st, sserver);
}

criterion_group!(benches, null_calls, throughput);
criterion_main!(benches);
