//! A generated API server facing a hostile guest: messages no generated
//! guest would send (forged handles, lying sizes, buffers outside the
//! zero-copy region or the process region, garbage) get an error reply and
//! a log line, and the server goes on serving the same channel.

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use cava_runtime::plan::{call_slots, CallMode, Plan};
use cava_runtime::transport::shm::{ProcessRegion, ShmTransport};
use cava_runtime::transport::unix::UnixTransport;
use cava_runtime::transport::{SharedRegion, Transport};
use cava_runtime::wire::{
    encode_descriptor, BufferRef, ErrorCode, ErrorReply, Fence, Fetch, Flags, Header, Hello, Kind, Layout, Message, Stage, StageAck,
    Welcome, Writer,
};
use common::{scratch, start_server, start_server_with, testlib};

struct Api {
    plan: Plan,
    contract: u128,
}

impl Api {
    fn load(generated: &Path) -> Api {
        let plan = Plan::from_bytes(&std::fs::read(generated.join("plan.bin")).unwrap()).unwrap();
        let lib = std::fs::read_to_string(generated.join("guest/src/lib.rs")).unwrap();
        let line = lib.lines().find(|l| l.contains("const CONTRACT: u128")).unwrap();
        let digits: String = line.split('=').nth(1).unwrap().chars().filter(char::is_ascii_digit).collect();
        let contract = digits.strip_suffix("128").unwrap().parse().unwrap();
        Api { plan, contract }
    }

    /// A call of `name` whose scalar area the caller fills in.
    fn call(&self, name: &str, call_id: u64) -> Writer {
        let id = self.plan.functions.iter().position(|f| f.name == name).unwrap();
        let slots: Vec<_> = call_slots(&self.plan.functions[id]).unwrap().iter().filter_map(|s| s.slot()).collect();
        // flagged as a guest flags it: the server checks the flag against the spec
        let flags = match self.plan.functions[id].mode {
            CallMode::Async { .. } => Flags::ASYNC,
            _ => Flags::NONE,
        };
        Writer::new(Header { function: id as u32, call_id, thread: 1, flags, ..Header::new(Kind::Call) }, Layout::of(&slots).1)
    }
}

fn connect(socket: &Path, selector: u8) -> Box<dyn Transport> {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(&[selector]).unwrap();
    match selector {
        b'S' => Box::new(ShmTransport::connect(stream, Duration::from_secs(10), Duration::from_micros(50)).unwrap()),
        _ => Box::new(UnixTransport::new(stream)),
    }
}

fn exchange(t: &mut dyn Transport, message: &[u8]) -> Vec<u8> {
    t.send(message).unwrap();
    let mut reply = Vec::new();
    t.recv(&mut reply, Some(Duration::from_secs(20))).unwrap();
    reply
}

fn refusal(reply: &[u8]) -> ErrorCode {
    let m = Message::decode(reply).unwrap();
    assert_eq!(m.kind(), Kind::Error, "expected an error reply");
    ErrorReply::decode(&m).unwrap().code
}

/// A valid `tl_checksum` call: it must keep working after every refusal.
fn checksum_works(api: &Api, t: &mut dyn Transport, call_id: u64) {
    let mut w = api.call("tl_checksum", call_id);
    w.buffer(b"hello").u64(5).out(4);
    let reply = exchange(t, &w.finish().unwrap());
    let m = Message::decode(&reply).unwrap();
    assert_eq!(m.kind(), Kind::Reply, "{:?}", ErrorReply::decode(&m).ok());
    assert_eq!(m.header().call_id, call_id);
}

#[test]
fn the_server_refuses_hostile_messages_and_goes_on_serving() {
    let dir = scratch("hostile");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());

    for selector in [b'U', b'S'] {
        let mut t = connect(&socket, selector);
        // a hello from another spec is refused
        if selector == b'U' {
            let reply = exchange(t.as_mut(), &Hello { contract: api.contract ^ 1, next_call_id: 1, process: 9, channel: 0 }.encode());
            assert_eq!(refusal(&reply), ErrorCode::ContractMismatch);
            t = connect(&socket, selector);
        }
        let welcome = exchange(t.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process: 9, channel: 0 }.encode());
        Welcome::decode(&Message::decode(&welcome).unwrap()).unwrap();
        checksum_works(&api, t.as_mut(), 1);

        // garbage
        assert_eq!(refusal(&exchange(t.as_mut(), b"not a message at all, just bytes of some length")), ErrorCode::Malformed);
        // a function the spec does not have
        let w = Writer::new(Header { function: 60_000, call_id: 2, thread: 1, ..Header::new(Kind::Call) }, 0);
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::UnknownFunction);
        // an in buffer shorter than the size the guest claims
        let mut w = api.call("tl_checksum", 3);
        w.buffer(b"hello").u64(4096).out(4);
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::Malformed);
        // an out buffer of another size than the spec's
        let mut w = api.call("tl_checksum", 4);
        w.buffer(b"hello").u64(5).out(4096);
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::Malformed);
        // a forged handle
        let mut w = api.call("tl_mem_release", 5);
        w.u64(0x0000_0007_0000_0003);
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::InvalidHandle);
        // a shared buffer: no region on a socket channel; outside the region on shared memory
        let mut w = api.call("tl_checksum", 6);
        w.shared(u64::MAX - 16, 5).u64(5).out(4);
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::Malformed);
        // a raw address for an undescribed pointer of a function the guest replaces
        let mut w = api.call("tl_nop_ptr", 8);
        w.u64(0x7fff_0000_1000);
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::Malformed);
        let mut w = api.call("tl_nop_ptr", 9);
        w.u64(0);
        assert_eq!(Message::decode(&exchange(t.as_mut(), &w.finish().unwrap())).unwrap().kind(), Kind::Reply, "NULL is no address");
        // a message that is not a call
        let reply = exchange(t.as_mut(), &Welcome { contract: api.contract, max_message: 1 }.encode());
        assert_eq!(refusal(&reply), ErrorCode::Malformed);

        checksum_works(&api, t.as_mut(), 7);
    }
}

/// One chunk of staged upload `index` for call `call_id`, inline.
fn stage(call_id: u64, index: u32, offset: u64, total: u64, bytes: &[u8]) -> Vec<u8> {
    let mut w = Stage { index, offset, total }.writer(call_id, 1, Vec::new());
    w.buffer(bytes);
    w.finish().unwrap()
}

fn acked(reply: &[u8]) -> (StageAck, Option<Vec<u8>>) {
    let m = Message::decode(reply).unwrap();
    assert_eq!(m.kind(), Kind::StageAck, "{:?}", ErrorReply::decode(&m).ok());
    let (ack, bytes) = StageAck::decode(&m).unwrap();
    (ack, if let BufferRef::Inline(b) = bytes { Some(b.to_vec()) } else { None })
}

fn ints(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Staging ([`Stage`], [`Fetch`], staged descriptors): chunks out of
/// order, past their declared length or over the channel's limit, calls
/// naming incomplete, missing or mislabelled uploads, staged results over
/// the limit, fetches of nothing or past the end, all get an error reply
/// and a log line; honest staging works on the same channel afterwards.
#[test]
fn staging_is_checked_and_bounded() {
    let dir = scratch("hostile-staging");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let limit = [std::ffi::OsStr::new("--max-staged"), std::ffi::OsStr::new("1048576")];
    let _server = start_server_with(&lib.server(), &socket, &lib.library(), &limit, std::process::Stdio::null());
    let sum_ints = |call_id: u64, descriptor: BufferRef<'_>, n: u64| {
        let mut w = api.call("tl_sum_ints", call_id);
        w.descriptor_slot(encode_descriptor(&descriptor, 0, 0)).u64(n).out(8);
        w.finish().unwrap()
    };
    for selector in [b'U', b'S'] {
        let mut t = connect(&socket, selector);
        Welcome::decode(
            &Message::decode(&exchange(t.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process: 11, channel: 0 }.encode()))
                .unwrap(),
        )
        .unwrap();
        let t = t.as_mut();
        // a first chunk that does not start at 0; a chunk past the declared length
        assert_eq!(refusal(&exchange(t, &stage(2, 0, 8, 40, &[1; 8]))), ErrorCode::Malformed);
        assert_eq!(refusal(&exchange(t, &stage(2, 0, 0, 4, &[1; 8]))), ErrorCode::Malformed);
        // more than the channel may hold, on the guest's word alone
        assert_eq!(refusal(&exchange(t, &stage(2, 0, 0, 2 << 20, &[1; 8]))), ErrorCode::Malformed);
        assert_eq!(refusal(&exchange(t, &stage(2, 0, 0, u64::MAX, &[1; 8]))), ErrorCode::Malformed);
        // a chunk in the zero-copy region, outside it (or on a channel without one)
        let mut w = Stage { index: 0, offset: 0, total: 40 }.writer(2, 1, Vec::new());
        w.shared(u64::MAX - 8, 16);
        assert_eq!(refusal(&exchange(t, &w.finish().unwrap())), ErrorCode::Malformed);
        // an incomplete upload, a missing one, one of another length
        assert_eq!(acked(&exchange(t, &stage(3, 0, 0, 40, &ints(&[1; 5])))).0, StageAck { index: 0, offset: 0, len: 20 });
        assert_eq!(refusal(&exchange(t, &sum_ints(3, BufferRef::Staged { index: 0, len: 40 }, 10))), ErrorCode::Malformed);
        assert_eq!(refusal(&exchange(t, &sum_ints(4, BufferRef::Staged { index: 7, len: 40 }, 10))), ErrorCode::Malformed);
        exchange(t, &stage(5, 0, 0, 40, &ints(&[1; 10])));
        assert_eq!(refusal(&exchange(t, &sum_ints(5, BufferRef::Staged { index: 0, len: 40 }, 9))), ErrorCode::Malformed);
        // a staged out buffer over the limit
        let mut w = api.call("tl_fill_sequence", 6);
        w.descriptor_slot(encode_descriptor(&BufferRef::StagedOut { len: 2 << 20 }, 0, 0)).u64(512 << 10).i32(0).i32(1);
        assert_eq!(refusal(&exchange(t, &w.finish().unwrap())), ErrorCode::Malformed);
        // fetches of nothing
        assert_eq!(refusal(&exchange(t, &Fetch { index: 0, offset: 0, len: 8 }.encode(6, 1, None))), ErrorCode::Malformed);

        // honest staging on the same channel: an upload in two chunks...
        let values: Vec<i32> = (1..=10).collect();
        let bytes = ints(&values);
        assert_eq!(acked(&exchange(t, &stage(7, 0, 0, 40, &bytes[..24]))).0.len, 24);
        assert_eq!(acked(&exchange(t, &stage(7, 0, 24, 40, &bytes[24..]))).0.len, 16);
        let reply = exchange(t, &sum_ints(7, BufferRef::Staged { index: 0, len: 40 }, 10));
        let (status, outs) = status_and_outs(&reply);
        assert_eq!((status, outs[0].as_deref()), (0, Some(&55i64.to_le_bytes()[..])));
        // ...and a result fetched in two chunks, then gone
        let mut w = api.call("tl_fill_sequence", 8);
        w.descriptor_slot(encode_descriptor(&BufferRef::StagedOut { len: 40 }, 0, 0)).u64(10).i32(5).i32(2);
        let reply = exchange(t, &w.finish().unwrap());
        let m = Message::decode(&reply).unwrap();
        assert_eq!(m.kind(), Kind::Reply, "{:?}", ErrorReply::decode(&m).ok());
        let mut s = m.scalars();
        assert_eq!(s.u32().unwrap(), 0);
        assert_eq!(s.u32().unwrap(), 1);
        let BufferRef::Staged { index, len: 40 } = s.buffer().unwrap() else { panic!("the result is not staged") };
        assert_eq!(refusal(&exchange(t, &Fetch { index, offset: 8, len: 8 }.encode(8, 1, None))), ErrorCode::Malformed, "out of order");
        // the refused fetch cost the result: the call again
        let reply = exchange(t, &w_fill(&api, 9));
        let m = Message::decode(&reply).unwrap();
        let mut s = m.scalars();
        let (_, _) = (s.u32().unwrap(), s.u32().unwrap());
        let BufferRef::Staged { index, .. } = s.buffer().unwrap() else { panic!("the result is not staged") };
        assert_eq!(refusal(&exchange(t, &Fetch { index, offset: 0, len: 41 }.encode(9, 1, None))), ErrorCode::Malformed, "past the end");
        let reply = exchange(t, &w_fill(&api, 10));
        let m = Message::decode(&reply).unwrap();
        let mut s = m.scalars();
        let (_, _) = (s.u32().unwrap(), s.u32().unwrap());
        let BufferRef::Staged { index, .. } = s.buffer().unwrap() else { panic!("the result is not staged") };
        assert_eq!(refusal(&exchange(t, &Fetch { index, offset: 0, len: 8 }.encode(9, 1, None))), ErrorCode::Malformed, "another call's");
        let reply = exchange(t, &w_fill(&api, 11));
        let m = Message::decode(&reply).unwrap();
        let mut s = m.scalars();
        let (_, _) = (s.u32().unwrap(), s.u32().unwrap());
        let BufferRef::Staged { index, .. } = s.buffer().unwrap() else { panic!("the result is not staged") };
        let (_, first) = acked(&exchange(t, &Fetch { index, offset: 0, len: 16 }.encode(11, 1, None)));
        let (_, rest) = acked(&exchange(t, &Fetch { index, offset: 16, len: 24 }.encode(11, 1, None)));
        let got: Vec<u8> = first.unwrap().into_iter().chain(rest.unwrap()).collect();
        assert_eq!(got, ints(&(0..10).map(|i| 5 + 2 * i).collect::<Vec<_>>()));
        assert_eq!(refusal(&exchange(t, &Fetch { index, offset: 40, len: 8 }.encode(11, 1, None))), ErrorCode::Malformed, "freed");
        // chunks sent without waiting (as a guest pipelines them) are
        // answered one by one, in order; one out of order costs its entry
        for message in [stage(12, 0, 0, 40, &bytes[..8]), stage(12, 0, 24, 40, &bytes[24..32]), stage(12, 0, 8, 40, &bytes[8..16])] {
            t.send(&message).unwrap();
        }
        let mut answer = Vec::new();
        t.recv(&mut answer, Some(Duration::from_secs(20))).unwrap();
        assert_eq!(acked(&answer).0, StageAck { index: 0, offset: 0, len: 8 });
        for _ in 0..2 {
            t.recv(&mut answer, Some(Duration::from_secs(20))).unwrap();
            assert_eq!(refusal(&answer), ErrorCode::Malformed);
        }
        // the buffer the fetched result left for reuse does not shrink the
        // limit, nor lets a declaration past it
        assert_eq!(acked(&exchange(t, &stage(13, 0, 0, 1 << 20, &[1; 8]))).0.len, 8);
        assert_eq!(refusal(&exchange(t, &stage(13, 1, 0, 1, &[1]))), ErrorCode::Malformed);
        checksum_works(&api, t, 14);
    }
}

fn w_fill(api: &Api, call_id: u64) -> Vec<u8> {
    let mut w = api.call("tl_fill_sequence", call_id);
    w.descriptor_slot(encode_descriptor(&BufferRef::StagedOut { len: 40 }, 0, 0)).u64(10).i32(5).i32(2);
    w.finish().unwrap()
}

/// Asks for the process region of process `process`: selector `Z`, hello,
/// then the region (or an error when the server refuses).
fn process_region(socket: &Path, api: &Api, process: u64) -> (UnixStream, Result<ProcessRegion, cava_runtime::transport::TransportError>) {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(b"Z").unwrap();
    UnixTransport::new(stream.try_clone().unwrap())
        .send(&Hello { contract: api.contract, next_call_id: 1, process, channel: 0 }.encode())
        .unwrap();
    let region = ProcessRegion::receive(&stream, Duration::from_secs(5));
    (stream, region)
}

/// `tl_checksum` of `len` bytes that the descriptor says are at `offset` of
/// the process region.
fn checksum_in_region(api: &Api, t: &mut dyn Transport, call_id: u64, offset: u64, len: u64, size: u64) -> Vec<u8> {
    let mut w = api.call("tl_checksum", call_id);
    w.descriptor_slot(encode_descriptor(&BufferRef::Process { offset, len }, 0, 0)).u64(size).out(4);
    exchange(t, &w.finish().unwrap())
}

#[test]
fn process_region_descriptors_are_checked_against_the_senders_own_region() {
    let dir = scratch("hostile-region");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());

    for (selector, process) in [(b'U', 21), (b'S', 22)] {
        let mut t = connect(&socket, selector);
        let welcome = exchange(t.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process, channel: 0 }.encode());
        Welcome::decode(&Message::decode(&welcome).unwrap()).unwrap();
        // before the process has a region
        assert_eq!(refusal(&checksum_in_region(&api, t.as_mut(), 1, 0, 5, 5)), ErrorCode::Malformed);

        // a region asked for with another spec's contract is refused
        let mut stream = UnixStream::connect(&socket).unwrap();
        stream.write_all(b"Z").unwrap();
        UnixTransport::new(stream.try_clone().unwrap())
            .send(&Hello { contract: api.contract ^ 1, next_call_id: 1, process, channel: 0 }.encode())
            .unwrap();
        assert!(ProcessRegion::receive(&stream, Duration::from_secs(5)).is_err());

        let (_keep, region) = process_region(&socket, &api, process);
        let region = region.unwrap();
        region.write_region(64, b"hello").unwrap();
        // a second region for the same process is refused
        assert!(process_region(&socket, &api, process).1.is_err());

        // in the region: served in place
        let reply = checksum_in_region(&api, t.as_mut(), 2, 64, 5, 5);
        let m = Message::decode(&reply).unwrap();
        assert_eq!(m.kind(), Kind::Reply, "{:?}", ErrorReply::decode(&m).ok());
        // past the end, overflowing, of another length than the spec's
        let len = region.region_len();
        for (offset, n, size) in [(len - 2, 5, 5), (len, 1, 1), (u64::MAX - 1, 5, 5), (1, u64::MAX, 5), (64, 5, 6)] {
            assert_eq!(refusal(&checksum_in_region(&api, t.as_mut(), 3, offset, n, size)), ErrorCode::Malformed, "({offset}, {n})");
        }
        // a buffer the server must keep cannot be the application's memory
        let mut w = api.call("tl_set_app_name", 4);
        w.descriptor_slot(encode_descriptor(&BufferRef::Process { offset: 64, len: 6 }, 0, 64));
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::Malformed);
        // a channel of another process (its own number) cannot reach this region
        let mut other = connect(&socket, selector);
        exchange(other.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process: process + 100, channel: 0 }.encode());
        assert_eq!(refusal(&checksum_in_region(&api, other.as_mut(), 1, 64, 5, 5)), ErrorCode::Malformed);
        // another process that stole the process number: its socket's peer
        // is not the number's, so it does not even get a channel
        if selector == b'U' {
            let mut relay = Relay::start(&socket);
            relay.send(b"U");
            relay.frame(&Hello { contract: api.contract, next_call_id: 1, process, channel: 0 }.encode());
            assert_eq!(refusal(&relay.reply()), ErrorCode::Denied, "a stolen process number was let in");
        }
        // a function the guest answers itself is not served
        let mut w = api.call("tl_host_alloc", 5);
        w.u64(4096);
        assert_eq!(refusal(&exchange(t.as_mut(), &w.finish().unwrap())), ErrorCode::UnknownFunction);

        checksum_works(&api, t.as_mut(), 6);
    }
}

/// A channel of guest process `process`, welcomed.
fn channel_of(socket: &Path, api: &Api, selector: u8, process: u64) -> Box<dyn Transport> {
    let mut t = connect(socket, selector);
    let welcome = exchange(t.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process, channel: 0 }.encode());
    Welcome::decode(&Message::decode(&welcome).unwrap()).unwrap();
    t
}

/// The first device's id, as `tl_get_devices` gives it on channel `t`.
fn first_device(api: &Api, t: &mut dyn Transport, call_id: u64) -> u64 {
    let mut w = api.call("tl_get_devices", call_id);
    w.out(8).u64(1).out(8);
    let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    assert_eq!(status, 0);
    u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap())
}

/// A new queue on `device`: its id.
fn new_queue(api: &Api, t: &mut dyn Transport, call_id: u64, device: u64) -> u64 {
    let mut w = api.call("tl_create_queue", call_id);
    w.u64(device).out(8);
    let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    assert_eq!(status, 0);
    u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap())
}

/// A new memory object of 256 bytes on `device`: its id.
fn new_mem(api: &Api, t: &mut dyn Transport, call_id: u64, device: u64) -> u64 {
    let mut w = api.call("tl_mem_create", call_id);
    w.u64(device).u64(256).null();
    let reply = exchange(t, &w.finish().unwrap());
    let mem = Message::decode(&reply).unwrap().scalars().u64().unwrap();
    assert_ne!(mem, 0);
    mem
}

/// `tl_mem_release(mem)` on channel `t`: the status, or the error reply's code.
fn release_mem(api: &Api, t: &mut dyn Transport, call_id: u64, mem: u64) -> Result<u32, ErrorCode> {
    let mut w = api.call("tl_mem_release", call_id);
    w.u64(mem);
    let reply = exchange(t, &w.finish().unwrap());
    let m = Message::decode(&reply).unwrap();
    match m.kind() {
        Kind::Error => Err(ErrorReply::decode(&m).unwrap().code),
        _ => Ok(m.scalars().u32().unwrap()),
    }
}

#[test]
fn a_guest_process_names_only_its_own_objects() {
    // two guest processes (two process numbers) on one server: each has its
    // own handle table, so one's ids mean nothing in the other
    let dir = scratch("hostile-tenants");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());

    for (selector, mine, theirs) in [(b'U', 41, 42), (b'S', 43, 44)] {
        let mut a = channel_of(&socket, &api, selector, mine);
        let device = first_device(&api, a.as_mut(), 1);
        let mem = new_mem(&api, a.as_mut(), 2, device);
        // another thread of the same process shares its objects
        let mut a2 = channel_of(&socket, &api, selector, mine);
        let mut w = api.call("tl_mem_get_size", 1);
        w.u64(mem).out(8);
        let (status, outs) = status_and_outs(&exchange(a2.as_mut(), &w.finish().unwrap()));
        assert_eq!((status, outs[0].clone().unwrap()), (0, 256u64.to_le_bytes().to_vec()));

        // another process names them: invalid handles
        let mut b = channel_of(&socket, &api, selector, theirs);
        assert_eq!(release_mem(&api, b.as_mut(), 1, mem), Err(ErrorCode::InvalidHandle), "another process released a memory object");
        let mut w = api.call("tl_mem_get_size", 3);
        w.u64(mem).out(8);
        assert_eq!(refusal(&exchange(b.as_mut(), &w.finish().unwrap())), ErrorCode::InvalidHandle);
        // its own objects take ids of their own, which name nothing of the first
        let their_device = first_device(&api, b.as_mut(), 4);
        let their_mem = new_mem(&api, b.as_mut(), 5, their_device);
        assert_eq!(release_mem(&api, b.as_mut(), 6, their_mem), Ok(0));
        // the first process's object is still there, and still its own
        assert_eq!(release_mem(&api, a.as_mut(), 3, mem), Ok(0), "another process's release reached this object");
        checksum_works(&api, b.as_mut(), 7);
    }
}

#[test]
fn a_guest_process_cannot_reach_another_process_kept_buffers() {
    // process A's asynchronous read keeps a buffer under key KEY; process B,
    // naming KEY in its own queue's finish, neither frees nor reads it
    let dir = scratch("hostile-tenants-kept");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());
    let mut a = channel_of(&socket, &api, b'U', 51);
    let device = first_device(&api, a.as_mut(), 1);
    let queue = new_queue(&api, a.as_mut(), 2, device);
    let mem = new_mem(&api, a.as_mut(), 3, device);
    const KEY: u64 = 0x7000_0000;
    let mut w = api.call("tl_enqueue_read", 4);
    w.u64(queue).u64(mem).u64(0).u64(64).descriptor_slot(encode_descriptor(&BufferRef::Out { len: 64 }, 0, KEY));
    a.send(&w.finish().unwrap()).unwrap();
    checksum_works(&api, a.as_mut(), 5);

    let mut b = channel_of(&socket, &api, b'U', 52);
    let their_device = first_device(&api, b.as_mut(), 1);
    let their_queue = new_queue(&api, b.as_mut(), 2, their_device);
    let (status, outs) = status_and_outs(&exchange(b.as_mut(), &finish_naming(&api, 3, their_queue, &[KEY], 64)));
    assert_eq!(status, 0);
    assert_eq!(outs, [None], "another process read a kept buffer");
    // A's finish brings its buffer back: B freed nothing
    let (status, outs) = status_and_outs(&exchange(a.as_mut(), &finish_naming(&api, 6, queue, &[KEY], 64)));
    assert_eq!(status, 0);
    assert_eq!(outs[0].as_ref().map(Vec::len), Some(64), "another process freed a kept buffer");
}

#[test]
fn a_process_number_belongs_to_the_process_that_used_it_first() {
    let dir = scratch("hostile-tenants-number");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());
    const MINE: u64 = 61;
    let mut a = channel_of(&socket, &api, b'U', MINE);
    let device = first_device(&api, a.as_mut(), 1);
    let mem = new_mem(&api, a.as_mut(), 2, device);

    // another process (a relay, so another process id) claiming the number:
    // a channel, the callback route, a process region
    for selector in [b"U", b"C"] {
        let mut relay = Relay::start(&socket);
        relay.send(selector);
        relay.frame(&Hello { contract: api.contract, next_call_id: 1, process: MINE, channel: 0 }.encode());
        assert_eq!(refusal(&relay.reply()), ErrorCode::Denied, "{} let in with a stolen process number", selector[0] as char);
    }
    let mut relay = Relay::start(&socket);
    relay.send(b"Z");
    relay.frame(&Hello { contract: api.contract, next_call_id: 1, process: MINE, channel: 0 }.encode());
    assert!(relay.closed(), "a region for a stolen process number");
    // with a number of its own it is a guest like any other, with nothing of the first's
    let mut relay = Relay::start(&socket);
    relay.send(b"U");
    relay.frame(&Hello { contract: api.contract, next_call_id: 1, process: MINE + 1, channel: 0 }.encode());
    Welcome::decode(&Message::decode(&relay.reply()).unwrap()).unwrap();
    let mut w = api.call("tl_mem_release", 1);
    w.u64(mem);
    relay.frame(&w.finish().unwrap());
    assert_eq!(refusal(&relay.reply()), ErrorCode::InvalidHandle);
    // the owner goes on
    assert_eq!(release_mem(&api, a.as_mut(), 3, mem), Ok(0));
}

/// A connection to the API server made by another process (a Python relay
/// between its standard input and output and the socket), so that the
/// server sees another process id at the other end.
struct Relay {
    child: std::process::Child,
}

impl Relay {
    const SCRIPT: &'static str = "import os, socket, sys, threading\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.connect(sys.argv[1])\n\
        def up():\n\
        \x20   while True:\n\
        \x20       b = os.read(0, 65536)\n\
        \x20       if not b: break\n\
        \x20       s.sendall(b)\n\
        threading.Thread(target=up, daemon=True).start()\n\
        while True:\n\
        \x20   b = s.recv(65536)\n\
        \x20   if not b: break\n\
        \x20   os.write(1, b)\n";

    fn start(socket: &Path) -> Relay {
        let child = std::process::Command::new("python3")
            .arg("-c")
            .arg(Relay::SCRIPT)
            .arg(socket)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the relay");
        Relay { child }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// One message in the Unix transport's framing (a u32 length first).
    fn frame(&mut self, message: &[u8]) {
        let mut framed = (message.len() as u32).to_le_bytes().to_vec();
        framed.extend_from_slice(message);
        self.send(&framed);
    }

    /// Whether the server closed the connection without sending anything.
    fn closed(&mut self) -> bool {
        use std::io::Read;
        let mut rest = Vec::new();
        self.child.stdout.as_mut().unwrap().read_to_end(&mut rest).unwrap();
        rest.is_empty()
    }

    fn reply(&mut self) -> Vec<u8> {
        use std::io::Read;
        let stdout = self.child.stdout.as_mut().unwrap();
        let mut len = [0u8; 4];
        stdout.read_exact(&mut len).unwrap();
        let mut message = vec![0u8; u32::from_le_bytes(len) as usize];
        stdout.read_exact(&mut message).unwrap();
        message
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply's out buffers, read after its result: `None` for one the server
/// sent nothing for.
fn reply_outs(s: &mut cava_runtime::wire::Scalars<'_>) -> Vec<Option<Vec<u8>>> {
    let count = s.u32().unwrap();
    (0..count)
        .map(|_| match s.buffer().unwrap() {
            BufferRef::Inline(bytes) => Some(bytes.to_vec()),
            _ => None,
        })
        .collect()
}

/// The status and the out buffers of a reply to a function returning
/// `tl_status`: `None` for an out buffer the server sent nothing for.
fn status_and_outs(reply: &[u8]) -> (u32, Vec<Option<Vec<u8>>>) {
    let m = Message::decode(reply).unwrap();
    assert_eq!(m.kind(), Kind::Reply, "{:?}", ErrorReply::decode(&m).ok());
    let mut s = m.scalars();
    let status = s.u32().unwrap();
    (status, reply_outs(&mut s))
}

/// `tl_queue_finish(queue)` naming the kept buffers `keys` (of `len` bytes
/// each) as the ones to bring back and free, as a guest does from its
/// registry: each element of the `bufs` array is a token pointing at an
/// out descriptor carrying the buffer's key.
fn finish_naming(api: &Api, call_id: u64, queue: u64, keys: &[u64], len: u64) -> Vec<u8> {
    let mut w = api.call("tl_queue_finish", call_id);
    w.u64(queue);
    let tokens: Vec<u8> =
        keys.iter().flat_map(|key| (w.data(&encode_descriptor(&BufferRef::Out { len }, 0, *key)) + 1).to_le_bytes()).collect();
    w.buffer(&tokens);
    w.finish().unwrap()
}

#[test]
fn a_guest_cannot_free_a_kept_buffer_through_another_queue() {
    // a read pending on queue A keeps a buffer that the vendor writes when
    // A runs; finishing queue B while naming that buffer must not free it
    // (the vendor would write into freed memory), and A's own finish still
    // brings it back
    let dir = scratch("hostile-kept");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());
    let mut t = connect(&socket, b'U');
    let welcome = exchange(t.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process: 9, channel: 0 }.encode());
    Welcome::decode(&Message::decode(&welcome).unwrap()).unwrap();

    let mut w = api.call("tl_get_devices", 1);
    w.out(8).u64(1).out(8);
    let (status, outs) = status_and_outs(&exchange(t.as_mut(), &w.finish().unwrap()));
    assert_eq!(status, 0);
    let device = u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap());
    let queue = |call_id| {
        let mut w = api.call("tl_create_queue", call_id);
        w.u64(device).out(8);
        w.finish().unwrap()
    };
    let (_, outs) = status_and_outs(&exchange(t.as_mut(), &queue(2)));
    let queue_a = u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap());
    let (_, outs) = status_and_outs(&exchange(t.as_mut(), &queue(3)));
    let queue_b = u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap());
    let mut w = api.call("tl_mem_create", 4);
    w.u64(device).u64(256).null();
    let reply = exchange(t.as_mut(), &w.finish().unwrap());
    let mem = Message::decode(&reply).unwrap().scalars().u64().unwrap();
    assert!(mem != 0 && queue_a != queue_b);

    // the asynchronous read into kept buffer KEY (no reply)
    const KEY: u64 = 0x7000_0000;
    let mut w = api.call("tl_enqueue_read", 5);
    w.u64(queue_a).u64(mem).u64(0).u64(64).descriptor_slot(encode_descriptor(&BufferRef::Out { len: 64 }, 0, KEY));
    t.send(&w.finish().unwrap()).unwrap();

    // a second, larger read into the same key while the first is pending:
    // refused (its error deferred), never reallocated under the vendor
    let mut w = api.call("tl_enqueue_read", 50);
    w.u64(queue_a).u64(mem).u64(0).u64(128).descriptor_slot(encode_descriptor(&BufferRef::Out { len: 128 }, 0, KEY));
    t.send(&w.finish().unwrap()).unwrap();

    // queue B's finish names it: nothing comes back for it, and it stays
    let (status, outs) = status_and_outs(&exchange(t.as_mut(), &finish_naming(&api, 6, queue_b, &[KEY], 64)));
    assert_ne!(status, 0, "the refused second read's error surfaces here");
    assert_eq!(outs.len(), 1);
    // queue A's finish brings it back (a freed buffer would come back as nothing)
    let (status, outs) = status_and_outs(&exchange(t.as_mut(), &finish_naming(&api, 7, queue_a, &[KEY], 64)));
    assert_eq!(status, 0);
    assert_eq!(outs[0].as_ref().map(Vec::len), Some(64), "queue A's pending read was freed by queue B's finish");
    // and now it is gone: a second finish of A has nothing for it
    let (_, outs) = status_and_outs(&exchange(t.as_mut(), &finish_naming(&api, 8, queue_a, &[KEY], 64)));
    assert_eq!(outs[0], None);
    checksum_works(&api, t.as_mut(), 9);
}

/// The system's OpenCL loader, when one is installed with an ICD behind it.
fn opencl_library() -> Option<std::path::PathBuf> {
    let icds = std::fs::read_dir("/etc/OpenCL/vendors").map(|d| d.count()).unwrap_or(0);
    ["/usr/lib/x86_64-linux-gnu/libOpenCL.so.1", "/usr/lib/aarch64-linux-gnu/libOpenCL.so.1", "/usr/lib64/libOpenCL.so.1"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .filter(|_| icds > 0)
}

/// A reference to SVM memory as a guest sends it: (allocation handle, offset).
fn svm_ref(allocation: u64, offset: u64) -> Vec<u8> {
    [allocation.to_le_bytes(), offset.to_le_bytes()].concat()
}

/// The `cl_int` result of a reply, or the error reply's code.
fn cl_status(reply: &[u8]) -> Result<i32, ErrorCode> {
    let m = Message::decode(reply).unwrap();
    match m.kind() {
        Kind::Error => Err(ErrorReply::decode(&m).unwrap().code),
        _ => Ok(m.scalars().u32().unwrap() as i32),
    }
}

#[test]
fn svm_references_are_checked_against_the_allocation_the_server_recorded() {
    // the guest names SVM memory by (handle, offset); a hostile guest
    // forging either must get an error, never an address outside the
    // allocation (PoCL itself checks no range: it would write past it)
    let Some((generated, library)) = opencl() else {
        println!("skipped: no OpenCL library or ICD installed (scripts/env.sh installs PoCL)");
        return;
    };
    let api = Api::load(generated);
    let socket = scratch("hostile-svm").join("server.sock");
    let _server = start_server(&generated.join("bin/opencl-server"), &socket, library);
    let mut t = channel_of(&socket, &api, b'U', 77);

    let mut w = api.call("clGetPlatformIDs", 1);
    w.u32(1).out(8).null();
    let (status, outs) = status_and_outs(&exchange(t.as_mut(), &w.finish().unwrap()));
    assert_eq!(status, 0);
    let platform = u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap());
    let mut w = api.call("clGetDeviceIDs", 2);
    w.u64(platform).u64(0xFFFF_FFFF).u32(1).out(8).null();
    let (status, outs) = status_and_outs(&exchange(t.as_mut(), &w.finish().unwrap()));
    assert_eq!(status, 0);
    let device = outs[0].clone().unwrap()[..8].to_vec();
    let mut w = api.call("clCreateContext", 3);
    w.null().u32(1).buffer(&device).u64(0).u64(0).null();
    let context = Message::decode(&exchange(t.as_mut(), &w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    assert_ne!(context, 0);
    let mut w = api.call("clCreateCommandQueue", 4);
    w.u64(context).u64(u64::from_le_bytes(device[..8].try_into().unwrap())).u64(0).null();
    let queue = Message::decode(&exchange(t.as_mut(), &w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    assert_ne!(queue, 0);
    let alloc = |call_id, size: u64| {
        let mut w = api.call("cava_clSVMAlloc", call_id);
        w.u64(context).u64(1).u64(size).u32(0);
        w.finish().unwrap()
    };
    let svm = Message::decode(&exchange(t.as_mut(), &alloc(5, 256))).unwrap().scalars().u64().unwrap();
    assert_ne!(svm, 0);
    let fill = |call_id, reference: &[u8], size: u64| {
        let mut w = api.call("cava_clEnqueueSVMMemFill", call_id);
        w.u64(queue).buffer(reference).buffer(&[1, 2, 3, 4]).u64(4).u64(size).u32(0).null().null();
        w.finish().unwrap()
    };
    let read = |call_id, reference: &[u8], size: u64| {
        let mut w = api.call("cava_clEnqueueSVMMemcpy_from_svm", call_id);
        w.u64(queue).u32(1).out(size).buffer(reference).u64(size).u32(0).null().null();
        w.finish().unwrap()
    };

    // in range: the fill lands, and reads back
    assert_eq!(cl_status(&exchange(t.as_mut(), &fill(6, &svm_ref(svm, 248), 8))), Ok(0));
    let (status, outs) = status_and_outs(&exchange(t.as_mut(), &read(7, &svm_ref(svm, 248), 8)));
    assert_eq!((status, outs[0].clone().unwrap()), (0, vec![1, 2, 3, 4, 1, 2, 3, 4]));
    // past the end, by the range or by the offset (also one that wraps)
    assert_eq!(cl_status(&exchange(t.as_mut(), &fill(8, &svm_ref(svm, 252), 8))), Ok(-30));
    assert_eq!(cl_status(&exchange(t.as_mut(), &fill(9, &svm_ref(svm, 4096), 4))), Ok(-30));
    assert_eq!(cl_status(&exchange(t.as_mut(), &fill(10, &svm_ref(svm, u64::MAX - 3), 8))), Ok(-30));
    assert_eq!(cl_status(&exchange(t.as_mut(), &read(11, &svm_ref(svm, 200), 64))), Ok(-30));
    let mut w = api.call("cava_clSetKernelExecInfo", 12);
    w.u64(0).u32(0x11B6).u64(16).buffer(&svm_ref(svm, 256));
    assert_eq!(cl_status(&exchange(t.as_mut(), &w.finish().unwrap())), Ok(-30), "an execution pointer past the end");
    let mut w = api.call("cava_clCreateBuffer_svm", 13);
    w.u64(context).u64(8).u64(64).buffer(&svm_ref(svm, 200)).null();
    assert_eq!(Message::decode(&exchange(t.as_mut(), &w.finish().unwrap())).unwrap().scalars().u64().unwrap(), 0, "a buffer past the end");
    // a forged handle, and a handle of another type (the queue's)
    assert_eq!(cl_status(&exchange(t.as_mut(), &fill(14, &svm_ref(0x0000_0009_0000_0042, 0), 4))), Err(ErrorCode::InvalidHandle));
    assert_eq!(cl_status(&exchange(t.as_mut(), &fill(15, &svm_ref(queue, 0), 4))), Err(ErrorCode::InvalidHandle));
    // the functions the guest replaces take no raw address
    let mut w = api.call("clEnqueueSVMMemFill", 16);
    w.u64(queue).u64(0x7fff_0000_1000).u64(0x7fff_0000_2000).u64(4).u64(4).u32(0).u64(0).u64(0);
    assert!(!matches!(cl_status(&exchange(t.as_mut(), &w.finish().unwrap())), Ok(0)), "a raw address was filled");
    let mut w = api.call("clSVMAlloc", 17);
    w.u64(context).u64(1).u64(256).u32(0);
    assert_eq!(
        Message::decode(&exchange(t.as_mut(), &w.finish().unwrap())).unwrap().scalars().u64().unwrap(),
        0,
        "an address reached the guest"
    );
    // fine-grain allocations are refused by the server too
    let mut w = api.call("cava_clSVMAlloc", 18);
    w.u64(context).u64(1 | 0x400).u64(256).u32(0);
    assert_eq!(Message::decode(&exchange(t.as_mut(), &w.finish().unwrap())).unwrap().scalars().u64().unwrap(), 0);

    // another process names the allocation: an invalid handle
    let mut other = channel_of(&socket, &api, b'U', 78);
    assert_eq!(cl_status(&exchange(other.as_mut(), &fill(1, &svm_ref(svm, 0), 4))), Err(ErrorCode::InvalidHandle));
    // once freed, the handle is stale
    let mut w = api.call("cava_clSVMFree", 19);
    w.u64(context).u64(svm);
    assert_eq!(Message::decode(&exchange(t.as_mut(), &w.finish().unwrap())).unwrap().kind(), Kind::Reply);
    assert_eq!(cl_status(&exchange(t.as_mut(), &fill(20, &svm_ref(svm, 0), 4))), Err(ErrorCode::InvalidHandle));
}

/// The server serves plain calls on a lean path (`server/lean.rs`) that
/// hands anything irregular to the general one. Both must answer alike:
/// the same messages, good and hostile, sent to a server with the lean path
/// and to one without it (`CAVA_LEAN_CALLS=0`) get the same replies.
#[test]
fn the_lean_path_answers_as_the_general_path() {
    let dir = scratch("hostile-lean");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let mut answers = Vec::new();
    for env in [&[][..], &[("CAVA_LEAN_CALLS", "0")][..]] {
        let socket = dir.join("server.sock");
        let _server = common::start_server_env(&lib.server(), &socket, &lib.library(), env);
        let mut t = channel_of(&socket, &api, b'U', 51);
        let device = first_device(&api, t.as_mut(), 1);
        let mem = new_mem(&api, t.as_mut(), 2, device);
        let queue = new_queue(&api, t.as_mut(), 3, device);
        let mut replies = Vec::new();
        let call = |t: &mut dyn Transport, w: Writer| exchange(t, &w.finish().unwrap());
        // an asynchronous call: no reply
        let post = |t: &mut dyn Transport, w: Writer| t.send(&w.finish().unwrap()).unwrap();
        let name = |call_id, mem: u64, name: &[u8]| {
            let mut w = api.call("tl_mem_set_name", call_id);
            w.u64(mem).buffer(name);
            w
        };
        replies.push(call(t.as_mut(), name(4, mem, b"lean\0")));
        replies.push(call(t.as_mut(), name(5, 0x0000_0007_0000_0003, b"forged\0")));
        replies.push(call(t.as_mut(), name(6, device, b"a device\0")));
        replies.push(call(t.as_mut(), name(7, mem, b"no terminator")));
        let mut w = api.call("tl_mem_get_name", 8);
        w.u64(mem).out(16).u64(16).null();
        replies.push(call(t.as_mut(), w));
        let mut w = api.call("tl_count_char", 9);
        w.buffer(b"banana\0").i8(b'a' as i8);
        replies.push(call(t.as_mut(), w));
        let mut w = api.call("tl_add_int", 10);
        w.i32(2).i32(40);
        replies.push(call(t.as_mut(), w));
        // asynchronous: a source shorter than its size, then a good one;
        // the error reaches the next synchronous call
        let write = |call_id, size: u64, src: &[u8]| {
            let mut w = api.call("tl_enqueue_write", call_id);
            w.u64(queue).u64(mem).u64(0).u64(size).buffer(src);
            w
        };
        post(t.as_mut(), write(11, 8, &[1, 2, 3, 4]));
        replies.push(exchange(t.as_mut(), &finish_naming(&api, 12, queue, &[], 0)));
        post(t.as_mut(), write(13, 4, &[1, 2, 3, 4]));
        let mut w = api.call("tl_enqueue_write", 14);
        w.u64(queue).u64(0x0000_0007_0000_0003).u64(0).u64(4).buffer(&[1, 2, 3, 4]);
        post(t.as_mut(), w);
        replies.push(exchange(t.as_mut(), &finish_naming(&api, 15, queue, &[], 0)));
        post(t.as_mut(), write(16, 4, &[5, 6, 7, 8]));
        replies.push(exchange(t.as_mut(), &finish_naming(&api, 17, queue, &[], 0)));
        answers.push(replies);
    }
    // an error reply's text may name a server address, which moves between runs
    let comparable = |replies: &[Vec<u8>]| -> Vec<Result<Vec<u8>, ErrorCode>> {
        replies.iter().map(|r| if Message::decode(r).unwrap().kind() == Kind::Error { Err(refusal(r)) } else { Ok(r.clone()) }).collect()
    };
    let [lean, general] = &answers[..] else { unreachable!() };
    assert_eq!(comparable(lean), comparable(general), "the lean path answered otherwise");
    // and what they answered is right
    assert_eq!(cl_status(&lean[0]), Ok(0));
    assert_eq!(refusal(&lean[1]), ErrorCode::InvalidHandle);
    assert_eq!(refusal(&lean[2]), ErrorCode::InvalidHandle);
    assert_eq!(refusal(&lean[3]), ErrorCode::Malformed);
    let text = ErrorReply::decode(&Message::decode(&lean[3]).unwrap()).unwrap().message.to_string();
    assert!(text.contains("outside the buffers") && !text.contains("0x"), "the server's address reached the guest: {text}");
    let (status, outs) = status_and_outs(&lean[4]);
    assert_eq!((status, &outs[0].clone().unwrap()[..5]), (0, &b"lean\0"[..]));
    assert_eq!(Message::decode(&lean[5]).unwrap().scalars().u64().unwrap(), 3);
    assert_eq!(Message::decode(&lean[6]).unwrap().scalars().u32().unwrap(), 42);
    assert_ne!(cl_status(&lean[7]), Ok(0), "the short source's error was lost");
    assert_ne!(cl_status(&lean[8]), Ok(0), "the forged memory object's error was lost");
    assert_eq!(cl_status(&lean[9]), Ok(0));
}

/// The OpenCL guest library and API server generated from
/// `specs/opencl.lapis`, and the system's OpenCL library, built once per
/// test binary (as [`testlib`]); `None` without an OpenCL library.
fn opencl() -> Option<&'static (std::path::PathBuf, std::path::PathBuf)> {
    static BUILT: std::sync::OnceLock<Option<(std::path::PathBuf, std::path::PathBuf)>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let library = opencl_library()?;
            let generated = scratch("hostile-opencl").join("generated");
            common::build(&common::root().join("specs/opencl.lapis"), &generated);
            Some((generated, library))
        })
        .as_ref()
}

/// Out buffers of a reply: `None` for one the server sent nothing for.
type Outs = Vec<Option<Vec<u8>>>;

/// A handle-returning call's reply: the handle and the out buffers, or the
/// error reply's code.
fn handle_and_outs(reply: &[u8]) -> Result<(u64, Outs), ErrorCode> {
    let m = Message::decode(reply).unwrap();
    if m.kind() == Kind::Error {
        return Err(ErrorReply::decode(&m).unwrap().code);
    }
    let mut s = m.scalars();
    let handle = s.u64().unwrap();
    Ok((handle, reply_outs(&mut s)))
}

/// The `cl_int` an `errcode_ret` out buffer brought back.
fn errcode(outs: &[Option<Vec<u8>>]) -> i32 {
    i32::from_le_bytes(outs.last().cloned().flatten().expect("an errcode_ret")[..4].try_into().unwrap())
}

/// An OpenCL context and a command queue on the first device, made on
/// channel `t` (call ids 1 to 4).
fn opencl_queue(api: &Api, t: &mut dyn Transport) -> (u64, u64) {
    let mut w = api.call("clGetPlatformIDs", 1);
    w.u32(1).out(8).null();
    let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    assert_eq!(status, 0);
    let platform = u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap());
    let mut w = api.call("clGetDeviceIDs", 2);
    w.u64(platform).u64(0xFFFF_FFFF).u32(1).out(8).null();
    let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    assert_eq!(status, 0);
    let device = outs[0].clone().unwrap()[..8].to_vec();
    let mut w = api.call("clCreateContext", 3);
    w.null().u32(1).buffer(&device).u64(0).u64(0).null();
    let context = Message::decode(&exchange(t, &w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    assert_ne!(context, 0);
    let mut w = api.call("clCreateCommandQueue", 4);
    w.u64(context).u64(u64::from_le_bytes(device[..8].try_into().unwrap())).u64(0).null();
    let queue = Message::decode(&exchange(t, &w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    assert_ne!(queue, 0);
    (context, queue)
}

/// `clFinish(queue)`: its status (a deferred error of an asynchronous
/// call before it surfaces here), or the error reply's code.
fn cl_finish(api: &Api, t: &mut dyn Transport, call_id: u64, queue: u64) -> Result<i32, ErrorCode> {
    let mut w = api.call("clFinish", call_id);
    w.u64(queue);
    cl_status(&exchange(t, &w.finish().unwrap()))
}

/// The three variants behind region-backed buffers, sent raw: a buffer
/// is created on the caller's own process region only, with
/// `CL_MEM_USE_HOST_PTR` alone of the host flags, and never on memory the
/// server copied (an inline buffer, the channel's region, NULL); a map
/// answers only "mapped" (1) and only for a buffer whose storage is the
/// mapping, with a range inside the buffer; an unmap finds its pointer
/// itself, from an offset inside the buffer. Each refusal is an error
/// status or an error reply, and the server goes on serving.
#[test]
fn region_backed_buffers_are_created_mapped_and_unmapped_only_in_the_callers_region() {
    let Some((generated, library)) = opencl() else {
        println!("skipped: no OpenCL library or ICD installed (scripts/env.sh installs PoCL)");
        return;
    };
    let api = Api::load(generated);
    let socket = scratch("hostile-opencl-region").join("server.sock");
    let _server = start_server(&generated.join("bin/opencl-server"), &socket, library);

    for (selector, process) in [(b'U', 81), (b'S', 82)] {
        let mut t = channel_of(&socket, &api, selector, process);
        let t = t.as_mut();
        let (context, queue) = opencl_queue(&api, t);
        let (_keep, region) = process_region(&socket, &api, process);
        let region = region.unwrap();
        let len = region.region_len();
        const SIZE: u64 = 64 << 10;
        const USE: u64 = 8;
        let create = |t: &mut dyn Transport, call_id, flags: u64, size: u64, host: Option<BufferRef<'_>>| {
            let mut w = api.call("cava_clCreateBuffer_region", call_id);
            w.u64(context).u64(flags).u64(size);
            match host {
                Some(BufferRef::Inline(bytes)) => w.buffer(bytes),
                Some(BufferRef::Shared { offset, len }) => w.shared(offset, len),
                Some(descriptor) => w.descriptor_slot(encode_descriptor(&descriptor, 0, 0)),
                None => w.null(),
            };
            w.out(4);
            handle_and_outs(&exchange(t, &w.finish().unwrap()))
        };
        let in_region = |offset, len| Some(BufferRef::Process { offset, len });

        // honest: in the caller's region, CL_MEM_USE_HOST_PTR (read-write)
        let (buffer, outs) = create(t, 10, USE | 1, SIZE, in_region(4096, SIZE)).unwrap();
        assert_ne!(buffer, 0);
        assert_eq!(errcode(&outs), 0);
        // without CL_MEM_USE_HOST_PTR, or with ALLOC or COPY besides
        for flags in [1, USE | 16, USE | 32, USE | 16 | 32, 16, 32] {
            let (mem, outs) = create(t, 11, flags, SIZE, in_region(4096, SIZE)).unwrap();
            assert_eq!((mem, errcode(&outs)), (0, -37), "flags {flags:#x}");
        }
        // memory the server copied (inline, the channel's region), or none
        let (mem, outs) = create(t, 12, USE, 4096, Some(BufferRef::Inline(&[7; 4096]))).unwrap();
        assert_eq!((mem, errcode(&outs)), (0, -37), "a buffer on an inline copy");
        let (mem, outs) = create(t, 13, USE, 4096, None).unwrap();
        assert_eq!((mem, errcode(&outs)), (0, -37), "a buffer on NULL");
        if selector == b'S' {
            let (mem, outs) = create(t, 14, USE, 4096, Some(BufferRef::Shared { offset: 0, len: 4096 })).unwrap();
            assert_eq!((mem, errcode(&outs)), (0, -37), "a buffer on the channel's region");
        }
        // past the region's end, wrapping, of another length than `size`
        for (offset, n, size) in [(len - 4096, SIZE, SIZE), (len, 4096, 4096), (u64::MAX - 4095, SIZE, SIZE), (4096, SIZE, SIZE * 2)] {
            assert_eq!(create(t, 15, USE, size, in_region(offset, n)), Err(ErrorCode::Malformed), "({offset:#x}, {n}, {size})");
        }
        // an empty buffer: the library's error
        let (mem, outs) = create(t, 16, USE, 0, in_region(4096, 0)).unwrap();
        assert_eq!(mem, 0);
        assert_ne!(errcode(&outs), 0);

        // a buffer that is not region-backed (the server's own storage)
        let mut w = api.call("clCreateBuffer", 20);
        w.u64(context).u64(1).u64(SIZE).null().out(4);
        let (plain, outs) = handle_and_outs(&exchange(t, &w.finish().unwrap())).unwrap();
        assert_eq!((plain != 0, errcode(&outs)), (true, 0));

        let map = |t: &mut dyn Transport, call_id, queue: u64, buffer: u64, flags: u64, offset: u64, size: u64, events: Option<&[u8]>| {
            let mut w = api.call("cava_clEnqueueMapBuffer_region", call_id);
            w.u64(queue).u64(buffer).u32(1).u64(flags).u64(offset).u64(size);
            match events {
                Some(events) => w.u32((events.len() / 8) as u32).buffer(events),
                None => w.u32(0).null(),
            };
            w.u64(0).out(4);
            handle_and_outs(&exchange(t, &w.finish().unwrap())).map(|(mapped, outs)| (mapped, errcode(&outs)))
        };
        let unmap = |t: &mut dyn Transport, call_id, buffer: u64, offset: u64| {
            let mut w = api.call("cava_clEnqueueUnmapMemObject_region", call_id);
            w.u64(queue).u64(buffer).u64(offset).u32(0).u64(0).u64(0);
            t.send(&w.finish().unwrap()).unwrap();
        };
        // honest: mapped (1, never an address), then unmapped
        assert_eq!(map(t, 21, queue, buffer, 1, 4096, 4096, None), Ok((1, 0)));
        unmap(t, 22, buffer, 4096);
        assert_eq!(cl_finish(&api, t, 23, queue), Ok(0));
        // flags other than read, write or invalidate
        for flags in [0, 5, 8, u64::MAX] {
            assert_eq!(map(t, 24, queue, buffer, flags, 0, 4096, None), Ok((0, -30)), "map flags {flags:#x}");
        }
        // ranges past the end, or wrapping
        for (offset, size) in [(SIZE, 1), (SIZE - 4096, 8192), (u64::MAX - 4095, 8192), (4096, u64::MAX)] {
            let (mapped, status) = map(t, 25, queue, buffer, 1, offset, size, None).unwrap();
            assert_eq!(mapped, 0, "({offset:#x}, {size:#x}) mapped");
            assert_ne!(status, 0, "({offset:#x}, {size:#x})");
        }
        // a buffer whose storage is not the mapping: undone
        assert_eq!(map(t, 26, queue, plain, 1, 0, 4096, None), Ok((0, -12)));
        // forged handles: the buffer, the queue, an event of the wait list
        assert_eq!(map(t, 27, queue, 0x0000_0009_0000_0042, 1, 0, 4096, None), Err(ErrorCode::InvalidHandle));
        assert_eq!(map(t, 28, queue, queue, 1, 0, 4096, None), Err(ErrorCode::InvalidHandle));
        assert_eq!(map(t, 29, buffer, buffer, 1, 0, 4096, None), Err(ErrorCode::InvalidHandle));
        assert_eq!(map(t, 30, queue, buffer, 1, 0, 4096, Some(&buffer.to_le_bytes())), Err(ErrorCode::InvalidHandle));

        // unmaps: an offset past the end, one no mapping starts at, a
        // buffer that is not region-backed, a forged buffer; each error
        // is deferred to the next call that returns a status
        for (buffer, offset) in [(buffer, SIZE), (buffer, u64::MAX), (buffer, 8192), (plain, 0), (0x0000_0009_0000_0042, 0)] {
            unmap(t, 31, buffer, offset);
            let status = cl_finish(&api, t, 32, queue).unwrap();
            assert_ne!(status, 0, "unmap of ({buffer:#x}, {offset:#x})");
        }
        assert_eq!(cl_finish(&api, t, 33, queue), Ok(0));

        // another process names the buffer, maps or unmaps it with its own queue
        let mut other = channel_of(&socket, &api, selector, process + 100);
        let other = other.as_mut();
        let (_, their_queue) = opencl_queue(&api, other);
        let mut w = api.call("cava_clEnqueueMapBuffer_region", 5);
        w.u64(their_queue).u64(buffer).u32(1).u64(1).u64(0).u64(4096).u32(0).null().u64(0).out(4);
        assert_eq!(handle_and_outs(&exchange(other, &w.finish().unwrap())), Err(ErrorCode::InvalidHandle));
        let mut w = api.call("cava_clEnqueueUnmapMemObject_region", 6);
        w.u64(their_queue).u64(buffer).u64(0).u32(0).u64(0).u64(0);
        other.send(&w.finish().unwrap()).unwrap();
        assert_ne!(cl_finish(&api, other, 7, their_queue), Ok(0));
        // nor can it create a buffer in the first process's region (it has none)
        let mut w = api.call("cava_clCreateBuffer_region", 8);
        w.u64(context).u64(USE).u64(SIZE).descriptor_slot(encode_descriptor(&BufferRef::Process { offset: 4096, len: SIZE }, 0, 0)).out(4);
        assert!(handle_and_outs(&exchange(other, &w.finish().unwrap())).is_err());

        // the owner goes on: a map still works, and the buffer releases
        assert_eq!(map(t, 40, queue, buffer, 3, 0, SIZE, None), Ok((1, 0)));
        unmap(t, 41, buffer, 0);
        assert_eq!(cl_finish(&api, t, 42, queue), Ok(0));
        let mut w = api.call("clReleaseMemObject", 43);
        w.u64(buffer);
        t.send(&w.finish().unwrap()).unwrap();
        assert_eq!(cl_finish(&api, t, 44, queue), Ok(0));
    }
}

/// Info queries whose native answer is an address in the API server's
/// process: `CL_MEM_HOST_PTR` of a buffer whose storage is the process
/// region or an SVM allocation (the guest answers it itself, from what the
/// application gave), and the platform in `CL_CONTEXT_PROPERTIES` (a
/// handle id). A guest asking raw learns no address of the server.
#[test]
fn info_queries_tell_no_server_addresses() {
    let Some((generated, library)) = opencl() else {
        println!("skipped: no OpenCL library or ICD installed (scripts/env.sh installs PoCL)");
        return;
    };
    let api = Api::load(generated);
    let socket = scratch("hostile-opencl-addresses").join("server.sock");
    let _server = start_server(&generated.join("bin/opencl-server"), &socket, library);
    const PROCESS: u64 = 91;
    let mut t = channel_of(&socket, &api, b'U', PROCESS);
    let t = t.as_mut();
    let (context, _) = opencl_queue(&api, t);
    let (_keep, region) = process_region(&socket, &api, PROCESS);
    region.unwrap();
    let host_ptr = |t: &mut dyn Transport, call_id, mem: u64, size: u64| {
        let mut w = api.call("clGetMemObjectInfo", call_id);
        w.u64(mem).u32(0x1103).u64(size).out(size).out(8);
        let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
        assert_eq!(status, 0);
        outs[0].clone().unwrap()
    };

    // a region-backed buffer: its storage is the region, mapped in the server
    let mut w = api.call("cava_clCreateBuffer_region", 10);
    w.u64(context).u64(8 | 1).u64(64 << 10);
    w.descriptor_slot(encode_descriptor(&BufferRef::Process { offset: 4096, len: 64 << 10 }, 0, 0)).out(4);
    let (region_backed, outs) = handle_and_outs(&exchange(t, &w.finish().unwrap())).unwrap();
    assert_eq!((region_backed != 0, errcode(&outs)), (true, 0));
    assert_eq!(host_ptr(t, 11, region_backed, 8), vec![0; 8], "the server's address of a region-backed buffer");
    assert_eq!(host_ptr(t, 12, region_backed, 64), vec![0; 64], "a larger answer buffer");
    // a sub-buffer of it
    let mut w = api.call("clCreateSubBuffer", 13);
    w.u64(region_backed).u64(1).u32(0x1220).buffer(&[4096u64.to_le_bytes(), 4096u64.to_le_bytes()].concat()).out(4);
    let (sub, outs) = handle_and_outs(&exchange(t, &w.finish().unwrap())).unwrap();
    assert_eq!((sub != 0, errcode(&outs)), (true, 0));
    assert_eq!(host_ptr(t, 14, sub, 8), vec![0; 8], "the server's address of a sub-buffer");
    // a buffer on SVM memory (CL_MEM_USE_HOST_PTR on an allocation), where PoCL supports SVM
    let mut w = api.call("cava_clSVMAlloc", 15);
    w.u64(context).u64(1).u64(4096).u32(0);
    let svm = Message::decode(&exchange(t, &w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    if svm != 0 {
        let mut w = api.call("cava_clCreateBuffer_svm", 16);
        w.u64(context).u64(8 | 1).u64(4096).buffer(&svm_ref(svm, 0)).out(4);
        let (on_svm, outs) = handle_and_outs(&exchange(t, &w.finish().unwrap())).unwrap();
        assert_eq!((on_svm != 0, errcode(&outs)), (true, 0));
        assert_eq!(host_ptr(t, 17, on_svm, 8), vec![0; 8], "the server's address of an SVM allocation");
    }

    // the properties a context was made with: the platform is its handle id
    let mut w = api.call("clGetPlatformIDs", 20);
    w.u32(1).out(8).null();
    let (_, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    let platform = u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap());
    let mut w = api.call("clGetDeviceIDs", 21);
    w.u64(platform).u64(0xFFFF_FFFF).u32(1).out(8).null();
    let (_, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    let properties = [0x1084, platform, 0].map(u64::to_le_bytes).concat();
    let mut w = api.call("clCreateContext", 22);
    w.buffer(&properties).u32(1).buffer(&outs[0].clone().unwrap()).u64(0).u64(0).null();
    let with_properties = Message::decode(&exchange(t, &w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    assert_ne!(with_properties, 0);
    let mut w = api.call("clGetContextInfo", 23);
    w.u64(with_properties).u32(0x1082).u64(24).out(24).out(8);
    let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    assert_eq!(status, 0);
    assert_eq!(outs[0].clone().unwrap(), properties, "CL_CONTEXT_PROPERTIES names the platform by its handle id");
    still_served(&api, t, 24, context);
}

/// The server still serves channel `t`: a context query (of a context with
/// one device) answers.
fn still_served(api: &Api, t: &mut dyn Transport, call_id: u64, context: u64) {
    let mut w = api.call("clGetContextInfo", call_id);
    w.u64(context).u32(0x1083).u64(4).out(4).null();
    let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    assert_eq!((status, outs[0].clone().unwrap()), (0, 1u32.to_le_bytes().to_vec()), "CL_CONTEXT_NUM_DEVICES");
}

/// A process that leaves a read gated by a user event it never set: the
/// server's departure must not wait for it forever. It sets the process's
/// pending user events to an error status (`abandon_at_exit`), so the
/// drain's `clFinish` returns, the kept buffer is freed and the objects
/// released; other guests are served meanwhile and after.
#[test]
fn a_departed_process_user_events_do_not_hold_its_departure() {
    departure_with_a_gated_read(false);
}

/// The same, but the process released the user event before it left,
/// without setting it: its handle is gone, so the departure could not
/// settle it, and the drain's `clFinish` waited for ever. The server holds
/// such an event back when the process lets go of it, and settles and
/// releases it at the departure (`release_at_departure`).
#[test]
fn a_departed_process_released_user_events_do_not_hold_its_departure() {
    departure_with_a_gated_read(true);
}

/// A guest process queues a read gated by a user event it never sets (and
/// releases the event first when `release_gate`), then leaves.
fn departure_with_a_gated_read(release_gate: bool) {
    let Some((generated, library)) = opencl() else {
        println!("skipped: no OpenCL library or ICD installed (scripts/env.sh installs PoCL)");
        return;
    };
    let api = Api::load(generated);
    let dir = scratch(if release_gate { "hostile-opencl-gated-released" } else { "hostile-opencl-gated" });
    let socket = dir.join("server.sock");
    let log = dir.join("server.log");
    let _server =
        start_server_with(&generated.join("bin/opencl-server"), &socket, library, &[], std::fs::File::create(&log).unwrap().into());

    // the guest is another process (a relay), which then exits
    let mut relay = Relay::start(&socket);
    relay.send(b"U");
    relay.frame(&Hello { contract: api.contract, next_call_id: 1, process: 95, channel: 0 }.encode());
    Welcome::decode(&Message::decode(&relay.reply()).unwrap()).unwrap();
    let call = |relay: &mut Relay, message: Vec<u8>| {
        relay.frame(&message);
        relay.reply()
    };
    let mut w = api.call("clGetPlatformIDs", 1);
    w.u32(1).out(8).null();
    let (_, outs) = status_and_outs(&call(&mut relay, w.finish().unwrap()));
    let platform = u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap());
    let mut w = api.call("clGetDeviceIDs", 2);
    w.u64(platform).u64(0xFFFF_FFFF).u32(1).out(8).null();
    let (_, outs) = status_and_outs(&call(&mut relay, w.finish().unwrap()));
    let device = outs[0].clone().unwrap()[..8].to_vec();
    let mut w = api.call("clCreateContext", 3);
    w.null().u32(1).buffer(&device).u64(0).u64(0).null();
    let context = Message::decode(&call(&mut relay, w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    let mut w = api.call("clCreateCommandQueue", 4);
    w.u64(context).u64(u64::from_le_bytes(device[..8].try_into().unwrap())).u64(0).null();
    let queue = Message::decode(&call(&mut relay, w.finish().unwrap())).unwrap().scalars().u64().unwrap();
    let mut w = api.call("clCreateBuffer", 5);
    w.u64(context).u64(1).u64(4096).null().out(4);
    let (buffer, outs) = handle_and_outs(&call(&mut relay, w.finish().unwrap())).unwrap();
    assert_eq!((buffer != 0, errcode(&outs)), (true, 0));
    let mut w = api.call("clCreateUserEvent", 6);
    w.u64(context).out(4);
    let (gate, outs) = handle_and_outs(&call(&mut relay, w.finish().unwrap())).unwrap();
    assert_eq!((gate != 0, errcode(&outs)), (true, 0));
    // a non-blocking read into a kept buffer, gated by the user event (no reply)
    let mut w = api.call("clEnqueueReadBuffer", 7);
    w.u64(queue).u64(buffer).u32(0).u64(0).u64(4096);
    w.descriptor_slot(encode_descriptor(&BufferRef::Out { len: 4096 }, 0, 0x7000_0000));
    w.u32(1).buffer(&gate.to_le_bytes()).null();
    relay.frame(&w.finish().unwrap());
    let mut w = api.call("clGetEventInfo", 8);
    w.u64(gate).u32(0x11D3).u64(4).out(4).null();
    let (status, outs) = status_and_outs(&call(&mut relay, w.finish().unwrap()));
    assert_eq!((status, outs[0].clone().unwrap()), (0, 2i32.to_le_bytes().to_vec()), "the read was queued, its gate CL_SUBMITTED");
    if release_gate {
        // asynchronous: no reply
        let mut w = api.call("clReleaseEvent", 9);
        w.u64(gate);
        relay.frame(&w.finish().unwrap());
        let mut w = api.call("clGetEventInfo", 10);
        w.u64(gate).u32(0x11D3).u64(4).out(4).null();
        let reply = call(&mut relay, w.finish().unwrap());
        assert_eq!(refusal(&reply), ErrorCode::InvalidHandle, "the gate's handle ended with its release");
    }
    drop(relay);

    common::wait_for_log(&log, "stay allocated until the server exits");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("cava_clSetUserEventStatus_abandon; 1 settled"), "{text}");
    assert!(
        text.contains("left reads pending: brought back with 1 calls (clFinish; 0 failed); 1 kept buffers (4096 bytes) freed"),
        "{text}"
    );
    assert!(text.contains(" and 0 kept buffers (0 bytes)"), "{text}");
    assert_eq!(
        text.contains("had let go of 1 objects whose release waited for its departure: released (0 refused by the library)"),
        release_gate,
        "{text}"
    );
    // and the server serves another guest
    let mut t = channel_of(&socket, &api, b'U', 96);
    let (context, _) = opencl_queue(&api, t.as_mut());
    still_served(&api, t.as_mut(), 5, context);
}

/// A call channel of process `process` numbered `channel` among its
/// channels (see `Fence`).
fn numbered_channel(socket: &Path, api: &Api, selector: u8, process: u64, channel: u64) -> Box<dyn Transport> {
    let mut t = connect(socket, selector);
    let welcome = exchange(t.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process, channel }.encode());
    Welcome::decode(&Message::decode(&welcome).unwrap()).unwrap();
    t
}

/// Sends a fence (no reply) and then a `tl_checksum` call; its reply.
fn fenced_checksum(api: &Api, t: &mut dyn Transport, call_id: u64, waits: &[(u64, u64)]) -> Vec<u8> {
    t.send(&Fence::encode(waits, call_id, 1, Vec::new())).unwrap();
    let mut w = api.call("tl_checksum", call_id);
    w.buffer(b"hello").u64(5).out(4);
    exchange(t, &w.finish().unwrap())
}

/// Fences from a hostile guest: a malformed one gets an error reply; one
/// naming a channel its process does not have (another process's number,
/// say) waits for nothing; one naming a count that never comes, or its own
/// channel's future, holds its channel for the patience at most and costs
/// the call it precedes an error reply and a log line. A fence that is met
/// lets its call run, and every channel goes on serving.
#[test]
fn fences_wait_only_for_their_own_process_and_never_forever() {
    let dir = scratch("hostile-fences");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    let socket = dir.join("server.sock");
    let log = dir.join("server.log");
    let patience = Duration::from_millis(700);
    let _server = common::start_server_env_logged(
        &lib.server(),
        &socket,
        &lib.library(),
        &[("CAVA_FENCE_PATIENCE_MS", "700")],
        std::fs::File::create(&log).unwrap().into(),
    );
    for (selector, process) in [(b'U', 300), (b'S', 310)] {
        let mut a = numbered_channel(&socket, &api, selector, process, 1);
        let mut b = numbered_channel(&socket, &api, selector, process, 2);
        checksum_works(&api, b.as_mut(), 1);
        // a number the process's channels already have is refused
        let mut again = connect(&socket, selector);
        let reply = exchange(again.as_mut(), &Hello { contract: api.contract, next_call_id: 1, process, channel: 2 }.encode());
        assert_eq!(refusal(&reply), ErrorCode::Denied);

        // malformed: not a list of pairs, too long a list, no list
        for bytes in [vec![0u8; 17], vec![0u8; 16 * (cava_runtime::wire::MAX_FENCE + 1)]] {
            let mut w = Writer::new(Header { call_id: 2, thread: 1, ..Header::new(Kind::Fence) }, 32);
            w.buffer(&bytes);
            assert_eq!(refusal(&exchange(a.as_mut(), &w.finish().unwrap())), ErrorCode::Malformed);
        }
        let mut w = Writer::new(Header { call_id: 2, thread: 1, ..Header::new(Kind::Fence) }, 32);
        w.shared(0, 16);
        assert_eq!(refusal(&exchange(a.as_mut(), &w.finish().unwrap())), ErrorCode::Malformed);
        checksum_works(&api, a.as_mut(), 2);

        // met: b has handled one call
        let start = std::time::Instant::now();
        assert_eq!(Message::decode(&fenced_checksum(&api, a.as_mut(), 3, &[(2, 1)])).unwrap().kind(), Kind::Reply);
        // a channel its process does not have: this process's channel 2 is
        // another's, whose count would stall it
        let mut stranger = numbered_channel(&socket, &api, selector, process + 1, 1);
        assert_eq!(Message::decode(&fenced_checksum(&api, stranger.as_mut(), 1, &[(2, 50), (77, 9)])).unwrap().kind(), Kind::Reply);
        assert!(start.elapsed() < patience, "met fences wait for nothing: {:?}", start.elapsed());

        // a count that comes: b's next call lets a's call run
        let mut w = api.call("tl_checksum", 4);
        w.buffer(b"hello").u64(5).out(4);
        a.send(&Fence::encode(&[(2, 2)], 4, 1, Vec::new())).unwrap();
        a.send(&w.finish().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        checksum_works(&api, b.as_mut(), 2);
        let mut reply = Vec::new();
        a.recv(&mut reply, Some(Duration::from_secs(20))).unwrap();
        assert_eq!(Message::decode(&reply).unwrap().kind(), Kind::Reply);

        // a count that never comes: the call is refused after the patience
        let start = std::time::Instant::now();
        assert_eq!(refusal(&fenced_checksum(&api, a.as_mut(), 5, &[(2, 1000)])), ErrorCode::ServerFailure);
        let waited = start.elapsed();
        assert!(waited >= patience && waited < patience * 6, "{waited:?}");
        // its own channel's future: refused at once
        let start = std::time::Instant::now();
        assert_eq!(refusal(&fenced_checksum(&api, a.as_mut(), 6, &[(1, 1000)])), ErrorCode::ServerFailure);
        assert!(start.elapsed() < patience);
        // a closed channel meets any count
        drop(b);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(Message::decode(&fenced_checksum(&api, a.as_mut(), 7, &[(2, 1000)])).unwrap().kind(), Kind::Reply);
        checksum_works(&api, a.as_mut(), 8);
        checksum_works(&api, stranger.as_mut(), 2);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("fence before call 2 refused"), "{text}");
    assert!(text.contains("call 5 of guest process") && text.contains("handled 2 calls and no more for 700ms"), "{text}");
    assert!(text.contains("refused a guest channel: its process already had a channel numbered 2"), "{text}");
}

/// The number of live memory objects on `device`, asked on channel `t`.
fn live_mems(api: &Api, t: &mut dyn Transport, call_id: u64, device: u64) -> u64 {
    let mut w = api.call("tl_device_live_mems", call_id);
    w.u64(device).out(8);
    let (status, outs) = status_and_outs(&exchange(t, &w.finish().unwrap()));
    assert_eq!(status, 0);
    u64::from_le_bytes(outs[0].clone().unwrap()[..8].try_into().unwrap())
}

/// A guest's threads race a use of an object against its release, with no
/// fences to order them (as a hostile guest need not send): one channel
/// holds a memory object in a long call (`tl_mem_hold`, which stands for a
/// command running on it: the test library answers a release of its last
/// reference meanwhile with `TL_ERROR_IN_USE` rather than free it under
/// the call), and another channel of the same process releases it, at
/// once or while the hold runs. The API server never makes the release
/// under a call that translated the handle: the release answers success,
/// and the library is asked to free the object once the hold has ended;
/// the hold succeeds, or, when it reached the server after the release,
/// gets the invalid-handle error reply. Then the handle is refused and the
/// object is gone. Without it the library refused most releases (the
/// server had called it under the hold), and a hold translated just before
/// a release reached a freed object. On both transports, with and without
/// the lean path (which translates the hold's handle itself).
#[test]
fn a_release_waits_for_the_calls_in_flight_that_use_its_object() {
    const ROUNDS: u64 = 150;
    const HOLD_US: u32 = 2_000;
    const IN_USE: u32 = -8i32 as u32;
    let dir = scratch("hostile-release-in-use");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    for (selector, lean) in [(b'U', "1"), (b'S', "0")] {
        let socket = dir.join(format!("server-{}.sock", selector as char));
        let log = dir.join(format!("server-{}.log", selector as char));
        let _server = common::start_server_env_logged(
            &lib.server(),
            &socket,
            &lib.library(),
            &[("CAVA_LEAN_CALLS", lean)],
            std::fs::File::create(&log).unwrap().into(),
        );
        let process = 400 + u64::from(selector);
        let mut a = numbered_channel(&socket, &api, selector, process, 1);
        let mut b = numbered_channel(&socket, &api, selector, process, 2);
        let device = first_device(&api, b.as_mut(), 1);
        let before = live_mems(&api, b.as_mut(), 2, device);
        let (mut held, mut late) = (0, 0);
        for round in 0..ROUNDS {
            let id = 10 + round * 4;
            let mem = new_mem(&api, b.as_mut(), id, device);
            let mut w = api.call("tl_mem_hold", id);
            w.u64(mem).u32(HOLD_US);
            a.send(&w.finish().unwrap()).unwrap();
            // the release at once, or while the hold runs
            std::thread::sleep(Duration::from_micros(round % 4 * 400));
            let released = release_mem(&api, b.as_mut(), id + 1, mem);
            assert_ne!(released, Ok(IN_USE), "round {round}: the library was asked to free the object under the hold");
            assert_eq!(released, Ok(0), "round {round}: the release answers success");
            let mut reply = Vec::new();
            a.recv(&mut reply, Some(Duration::from_secs(20))).unwrap();
            let m = Message::decode(&reply).unwrap();
            if m.kind() == Kind::Error {
                assert_eq!(ErrorReply::decode(&m).unwrap().code, ErrorCode::InvalidHandle, "round {round}");
                late += 1;
            } else {
                assert_eq!(m.scalars().u32().unwrap(), 0, "round {round}: the hold reached a freed object");
                held += 1;
            }
            let mut w = api.call("tl_mem_get_size", id + 2);
            w.u64(mem).out(8);
            assert_eq!(refusal(&exchange(b.as_mut(), &w.finish().unwrap())), ErrorCode::InvalidHandle, "round {round}");
        }
        println!("{}: the hold ran first in {held} of {ROUNDS} rounds, came late in {late}", selector as char);
        assert_eq!(live_mems(&api, b.as_mut(), 3, device), before, "every object was freed");
        assert!(held >= ROUNDS / 2, "the hold ran first in {held} of {ROUNDS} rounds ({late} came late)");
        checksum_works(&api, a.as_mut(), 1_000_000);
    }
}

/// A release that cannot wait for the calls that use its object (a queue's
/// brings its pending reads back, so its outcome is the application's to
/// see) is refused while another channel of the process holds the object
/// (`tl_queue_hold`, a long call on the queue), rather than made under the
/// call: an error reply, the queue still usable, and released once the
/// hold is over.
#[test]
fn a_release_that_cannot_wait_is_refused_while_its_object_is_in_use() {
    const HOLD_US: u32 = 300_000;
    let dir = scratch("hostile-release-refused");
    let lib = testlib();
    let api = Api::load(&lib.generated);
    for selector in [b'U', b'S'] {
        let socket = dir.join(format!("server-{}.sock", selector as char));
        let _server = common::start_server(&lib.server(), &socket, &lib.library());
        let process = 500 + u64::from(selector);
        let mut a = numbered_channel(&socket, &api, selector, process, 1);
        let mut b = numbered_channel(&socket, &api, selector, process, 2);
        let device = first_device(&api, b.as_mut(), 1);
        let queue = new_queue(&api, b.as_mut(), 2, device);
        let mut w = api.call("tl_queue_hold", 3);
        w.u64(queue).u32(HOLD_US);
        a.send(&w.finish().unwrap()).unwrap();
        // the hold has begun well before the release arrives
        std::thread::sleep(Duration::from_millis(50));
        let release = |t: &mut dyn Transport, call_id: u64| {
            let mut w = api.call("tl_release_queue", call_id);
            w.u64(queue).null();
            exchange(t, &w.finish().unwrap())
        };
        let refused = release(b.as_mut(), 4);
        assert_eq!(refusal(&refused), ErrorCode::ServerFailure, "{}: the release is refused while the hold runs", selector as char);
        let mut reply = Vec::new();
        a.recv(&mut reply, Some(Duration::from_secs(20))).unwrap();
        let m = Message::decode(&reply).unwrap();
        assert_eq!(m.kind(), Kind::Reply, "{}: the hold is answered", selector as char);
        assert_eq!(m.scalars().u32().unwrap(), 0, "{}: the hold's queue was never released under it", selector as char);
        // the handle stayed live: the queue answers, and its release now goes through
        let mut w = api.call("tl_queue_pending", 5);
        w.u64(queue).out(8);
        assert_eq!(status_and_outs(&exchange(b.as_mut(), &w.finish().unwrap())).0, 0, "{}: the queue is still usable", selector as char);
        let released = release(b.as_mut(), 6);
        assert_eq!(Message::decode(&released).unwrap().scalars().u32().unwrap(), 0, "{}: released once the hold is over", selector as char);
        let mut w = api.call("tl_queue_pending", 7);
        w.u64(queue).out(8);
        assert_eq!(refusal(&exchange(b.as_mut(), &w.finish().unwrap())), ErrorCode::InvalidHandle, "{}", selector as char);
    }
}
