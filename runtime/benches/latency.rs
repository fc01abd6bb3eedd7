//! Null-call latency distribution per transport: 100,000 timed calls each
//! after a warm-up, printed as percentiles. Criterion reports medians of
//! batch means; this reports the p50 and tail of single calls.
//!
//! Run: `cargo bench -p cava-runtime --bench latency`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use cava_runtime::transport::shm::{ShmConfig, ShmTransport};
use cava_runtime::transport::unix::UnixTransport;
use cava_runtime::transport::Transport;
use cava_runtime::wire::{Header, Kind, Message, Writer};
use common::*;

fn measure(name: &str, guest: &mut dyn Transport, calls: usize) {
    let (mut req, mut reply) = (Vec::new(), Vec::new());
    let mut times = Vec::with_capacity(calls);
    for i in 0..(calls + calls / 10) as u64 {
        let started = Instant::now();
        req = Writer::reuse(std::mem::take(&mut req), Header { function: NULL, call_id: i, thread: 1, ..Header::new(Kind::Call) }, 0)
            .finish()
            .unwrap();
        round_trip(guest, &req, &mut reply).unwrap();
        assert_eq!(Message::decode(&reply).unwrap().header().call_id, i);
        if i as usize >= calls / 10 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:>14}: p50 {:7.2} µs  p90 {:7.2} µs  p99 {:7.2} µs  p99.9 {:7.2} µs",
        us(pct(0.5)),
        us(pct(0.9)),
        us(pct(0.99)),
        us(pct(0.999))
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this
    // binary without it, and then a quick smoke run is enough
    let calls = if std::env::args().any(|a| a == "--bench") { 100_000 } else { 1_000 };
    let (mut guest, mut server) = UnixTransport::pair().unwrap();
    let t = std::thread::spawn(move || serve(&mut server).unwrap());
    measure("unix socket", &mut guest, calls);
    goodbye(&mut guest).unwrap();
    t.join().unwrap();

    let (mut guest, mut server) = ShmTransport::pair(ShmConfig::default()).unwrap();
    let t = std::thread::spawn(move || serve(&mut server).unwrap());
    measure("shared memory", &mut guest, calls);
    goodbye(&mut guest).unwrap();
    t.join().unwrap();
}
