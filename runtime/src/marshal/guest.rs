//! The guest half: what a generated guest library's functions call.
//!
//! Each application thread gets its own channel to the API server (opened on
//! its first call, closed when the thread exits), so the server serves it
//! from a thread of its own and thread-affine APIs behave as natively. A
//! forked child opens its own channel on its first call instead of sharing
//! its parent's.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use smallvec::SmallVec;

use super::app_memory::{self, Invoke};
use super::callbacks::{has_callbacks, userdata_of, Ends};
use super::eval::{eval, load, select, Env, EvalError, Host, V};
use super::generated::Generated;
use super::guest_callbacks::{process, Callbacks, RouteInfo};
use super::log;
use super::walk::{byte_len, needs_walk, pointee, stride};
use super::zerocopy;
use crate::plan::{call_slots, reply_slot, CallMode, Kind, Leaf, LibraryFn, Lifetime, Plan, SlotShape, Ty, Value};
use crate::transport::shm::{ForkEpoch, RegionBlock, ShmTransport};
use crate::transport::unix::UnixTransport;
use crate::transport::{Transport, TransportError};
use crate::wire::ErrorCode;
use crate::wire::{
    encode_descriptor, inline_descriptor, BufferRef, ErrorReply, Fence, Fetch, Flags, Header, Hello, Kind as MsgKind, Layout, Message,
    Stage, StageAck, Welcome, Writer, MAX_FENCE,
};

mod bringing;
mod channel;
mod fences;
mod lean;
mod staging;
#[doc(hidden)]
pub mod testing;
mod unloaded;

use bringing::*;
use channel::*;
use fences::{Fences, View};
pub use lean::{has_lean_encoding, inline as lean_inline, lean_leaf, word_descriptor, LeanEncode};
use staging::*;
pub use unloaded::{failure_of, failure_word, Failure, Failures};

/// A generated guest library: its plan and contract, as `static` data.
#[derive(Debug)]
pub struct GuestLibrary {
    name: &'static str,
    /// The plan's binary form (`plan.bin`).
    plan: &'static [u8],
    contract: u128,
    /// The generated code of the plan's expressions (see `generated`).
    expressions: &'static [Option<Generated>],
    /// The generated lean encoding of each function (see `lean`).
    lean: &'static [Option<LeanEncode>],
    invoke: Invoke,
    /// What each function returns when the plan does not load (see
    /// `unloaded`).
    failures: &'static Failures,
    /// Whether the library said, once, that its plan does not load.
    told: AtomicBool,
    state: OnceLock<Result<State, String>>,
}

/// Registered buffers (address, size) by registry and key.
type Registries = HashMap<(u32, u64), Vec<(u64, u64)>>;

/// The library's plan, prepared once, and the guest-side state shared by
/// all threads (registries, metadata).
#[derive(Debug)]
struct State {
    plan: Plan,
    slots: Vec<Vec<SlotShape>>,
    scalar_len: Vec<u32>,
    ret: Vec<SlotShape>,
    registries: Mutex<Registries>,
    /// Registered buffers that calls in flight are bringing back.
    bringing: Bringing,
    /// By object (its handle id): read by conditions on every call, so
    /// hashed by [`IdHasher`] rather than SipHash.
    metadata: Mutex<HashMap<u64, Box<[u8]>, BuildHasherDefault<IdHasher>>>,
    /// Held while one call's statements run (see `run_actions`).
    statements: Mutex<()>,
    /// By function: the arguments whose description may end a handle
    /// (`deallocate`), whose metadata then goes (see `run_actions`).
    ending: Vec<SmallVec<[u32; 1]>>,
    /// Bytes of one object's metadata.
    metadata_size: usize,
    warned: Mutex<HashSet<u32>>,
    /// Copies of buffers functions returned (strings the vendor owns), one
    /// per distinct content, alive as long as the library.
    returned: Mutex<HashSet<Box<[u8]>>>,
    /// Whether each function takes callbacks (and so needs the route).
    takes_callbacks: Vec<bool>,
    /// Whether each function's calls may be encoded the lean way (see
    /// `lean`).
    lean: Vec<bool>,
    /// The generated code of each lean encoding (`None`: `lean::encode`
    /// interprets it).
    lean_code: Vec<Option<LeanEncode>>,
    callbacks: Callbacks,
    /// The process's channels, for the fences that keep calls ordered
    /// across them (see `fences`).
    fences: Fences,
    /// The library's name and contract, to open the process region.
    name: &'static str,
    contract: u128,
}

impl GuestLibrary {
    /// `invoke` calls an application's callback with the C signature of
    /// the plan's callback (generated); `failures` is what each function
    /// returns if the plan does not load (generated from the plan);
    /// `expressions` is the generated code of the plan's expressions, and
    /// `lean` that of its lean encodings.
    pub const fn new(
        name: &'static str,
        plan: &'static [u8],
        contract: u128,
        expressions: &'static [Option<Generated>],
        lean: &'static [Option<LeanEncode>],
        invoke: Invoke,
        failures: &'static Failures,
    ) -> GuestLibrary {
        GuestLibrary { name, plan, contract, expressions, lean, invoke, failures, told: AtomicBool::new(false), state: OnceLock::new() }
    }

    fn state(&'static self) -> Result<&'static State, &'static str> {
        self.state
            .get_or_init(|| State::load(self.plan, self.expressions, self.lean, self.name, self.contract))
            .as_ref()
            .map_err(String::as_str)
    }

    fn log(&self, message: std::fmt::Arguments<'_>) {
        log(self.name, message);
    }
}

impl State {
    /// Prepares the plan embedded in library `name` (`plan.bin`) for calls.
    fn load(
        plan: &[u8],
        expressions: &[Option<Generated>],
        lean_table: &[Option<LeanEncode>],
        name: &'static str,
        contract: u128,
    ) -> Result<State, String> {
        let plan = super::generated::load_plan(plan, expressions, name)?;
        let mut slots = Vec::new();
        let mut scalar_len = Vec::new();
        let mut ret = Vec::new();
        let takes_callbacks: Vec<bool> = plan.functions.iter().map(has_callbacks).collect();
        for f in &plan.functions {
            let shapes = call_slots(f)?;
            let wire: Vec<_> = shapes.iter().filter_map(|s| s.slot()).collect();
            scalar_len.push(Layout::of(&wire).1);
            slots.push(shapes);
            ret.push(reply_slot(&plan, f)?);
        }
        let metadata_size = plan.metadata_size();
        let ending = plan.functions.iter().map(ending_handles).collect();
        let mut lean = lean::lean_encodings(&plan, &slots, &takes_callbacks);
        if std::env::var_os("CAVA_LEAN_ENCODING").is_some_and(|v| v == "0") {
            // every call by the general encoder (for comparing the two)
            lean.fill(false);
        }
        let lean_code = super::generated::per_function(&lean, lean_table, name, "lean encoding code");
        Ok(State {
            plan,
            slots,
            scalar_len,
            ret,
            registries: Mutex::default(),
            bringing: Bringing::default(),
            metadata: Mutex::default(),
            statements: Mutex::default(),
            ending,
            metadata_size,
            warned: Mutex::default(),
            returned: Mutex::default(),
            takes_callbacks,
            lean,
            lean_code,
            callbacks: Callbacks::default(),
            fences: Fences::default(),
            name,
            contract,
        })
    }
}

/// Why a forwarded call failed before an answer from the vendor library.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("{0}")]
    Eval(#[from] EvalError),
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("{0}")]
    Wire(#[from] crate::wire::WireError),
    #[error("{0}")]
    Write(#[from] crate::wire::WriteError),
    /// The message never reached the server (safe to send again elsewhere).
    #[error("{0}")]
    NotSent(TransportError),
    #[error("the API server refused the call: {1}")]
    Refused(ErrorCode, String),
    #[error("{0}")]
    Other(String),
}

/// One thread's channel to the API server.
struct Channel {
    transport: Box<dyn Transport>,
    /// Region blocks of asynchronous calls the server may not have run yet:
    /// freed when the next synchronous reply arrives (calls run in order).
    in_flight: Vec<RegionBlock>,
    next_call: u64,
    thread: u64,
    /// The process that opened the channel (see [`ForkEpoch`]).
    epoch: ForkEpoch,
    buf: Vec<u8>,
    /// The largest message this channel carries: the smaller of the
    /// transport's and the server's (its welcome's).
    max: u64,
    /// The channel's number and what it knows of the process's other
    /// channels (see `fences`).
    fences: View,
}

/// How long a closing channel waits for the server to handle what it
/// left queued (its thread's exit waits that long at most).
const GOODBYE_PATIENCE: Duration = Duration::from_secs(5);

impl Drop for Channel {
    /// The thread leaves (or the channel broke, or is replaced): its
    /// channel leaves the process's fence registry once all its calls have
    /// run, so that threads that come and go do not lengthen every other
    /// channel's look. When asynchronous calls of it may still be queued,
    /// a goodbye asks the server to answer once it has handled them, and to
    /// close the channel: one round trip, only for such a thread.
    fn drop(&mut self) {
        // a forked child's copy of its parent's channel: neither the
        // connection nor the registry entry is the child's
        if self.epoch != ForkEpoch::current() {
            return;
        }
        if self.fences.settled() || self.goodbye() {
            self.fences.leave();
        }
    }
}

impl Channel {
    /// Says goodbye and waits for the server's goodbye (or its closing the
    /// channel); whether it came (then the server handled every message
    /// before ours).
    fn goodbye(&mut self) -> bool {
        let header = Header { thread: self.thread, ..Header::new(MsgKind::Goodbye) };
        if let Err(e) = self.transport.send(&header.encode()) {
            // a channel already closed (by the server leaving, or broken)
            // carries nothing more that could run
            return matches!(e, TransportError::Closed | TransportError::Poisoned);
        }
        let deadline = std::time::Instant::now() + GOODBYE_PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.transport.recv(&mut self.buf, Some(left)) {
                Ok(()) if Message::decode(&self.buf).is_ok_and(|m| m.kind() == MsgKind::Goodbye) => return true,
                // (an answer to something earlier: the goodbye comes after it)
                Ok(()) if !left.is_zero() => continue,
                Err(TransportError::Closed) => return true,
                _ => return false,
            }
        }
    }
}

thread_local! {
    static CHANNEL: RefCell<Option<Channel>> = const { RefCell::new(None) };
}

/// The words a call sends: the application's callbacks become registration
/// ids and their userdata 0 (both stay in the guest).
fn substitute_callbacks(state: &State, function: u32, params: &[V]) -> Result<Vec<V>, CallError> {
    let plan = &state.plan;
    let f = &plan.functions[function as usize];
    let mut sent = params.to_vec();
    let mut host = GuestHost::new(state);
    for (i, p) in f.params.iter().enumerate() {
        let env = Env { this: Some((params[i], None)), ..Env::new(params, &[]) };
        let leaf = select(plan, &p.value, &env, &mut host)?;
        match leaf.kind {
            Kind::Callback { callback: Some(callback) } if params[i].as_u64() != 0 => {
                let userdata = userdata_of(plan, function, i).map_or(0, |u| params[u].as_u64());
                let ends = Ends::of(&leaf.lifetime);
                sent[i] = V::Ptr(state.callbacks.register(callback, params[i].as_u64(), userdata, ends));
            }
            Kind::Userdata { .. } => sent[i] = V::Ptr(0),
            _ => {}
        }
    }
    Ok(sent)
}

/// Hashes the guest's own handle ids (`generation << 32 | slot + 1`, from
/// its own server, so not chosen by an attacker): one multiplication.
#[derive(Clone, Copy, Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x ^ (x >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The guest's memory and state, for the evaluator.
struct GuestHost<'s> {
    state: &'s State,
    /// Arrays handed out by `get_bufs`, alive until the call ends.
    scratch: Vec<Box<[u64]>>,
    /// Each registry entry as this call first saw it. A call's `get_bufs`,
    /// `get_n_bufs` and `get_buf_size` must agree, and another thread (a
    /// callback bringing back a read, say) may change the entry between
    /// them: a buffer gone there in the meantime is one the server no longer
    /// holds, which it answers with nothing.
    seen: HashMap<(u32, u64), Vec<(u64, u64)>>,
}

impl<'s> GuestHost<'s> {
    fn new(state: &'s State) -> GuestHost<'s> {
        GuestHost { state, scratch: Vec::new(), seen: HashMap::new() }
    }
}

impl Host for GuestHost<'_> {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        app_memory::read(addr, dst)
    }

    fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), EvalError> {
        app_memory::write(addr, src)
    }

    fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
        let size = self.state.metadata_size;
        let mut all = self.state.metadata.lock().unwrap_or_else(|e| e.into_inner());
        let entry = all.entry(key).or_insert_with(|| vec![0u8; size].into_boxed_slice());
        Ok(entry.as_ptr() as u64)
    }

    fn library(&mut self, function: LibraryFn, args: &[V]) -> Result<V, EvalError> {
        let arg = |i: usize| args.get(i).map_or(0, |v| v.as_u64());
        let mut registries = self.state.registries.lock().unwrap_or_else(|e| e.into_inner());
        let key = (arg(0) as u32, arg(1));
        match function {
            LibraryFn::RegisterBuf => {
                registries.entry(key).or_default().push((arg(2), arg(3)));
                Ok(V::Int(0))
            }
            LibraryFn::RegisterBufsOf => {
                let from = registries.get(&(arg(2) as u32, arg(3))).cloned().unwrap_or_default();
                if key.1 != 0 && !from.is_empty() {
                    let list = registries.entry(key).or_default();
                    for buf in from {
                        if !list.iter().any(|(p, _)| *p == buf.0) {
                            list.push(buf);
                        }
                    }
                }
                Ok(V::Int(0))
            }
            LibraryFn::GetBufs | LibraryFn::GetNBufs | LibraryFn::GetBufSize => {
                let entry = self.seen.entry(key).or_insert_with(|| registries.get(&key).cloned().unwrap_or_default());
                Ok(match function {
                    LibraryFn::GetBufs => {
                        let list: Box<[u64]> = entry.iter().map(|(p, _)| *p).collect();
                        let addr = if list.is_empty() { 0 } else { list.as_ptr() as u64 };
                        self.scratch.push(list);
                        V::Ptr(addr)
                    }
                    LibraryFn::GetNBufs => V::Int(entry.len() as i128),
                    _ => V::Int(entry.get(arg(2) as usize).map_or(0, |(_, n)| i128::from(*n))),
                })
            }
            LibraryFn::ZerocopyAlloc => {
                drop(registries);
                Ok(V::Ptr(region_alloc(self.state, arg(0))))
            }
            LibraryFn::ZerocopyFree => {
                drop(registries);
                region_free(self.state.name, arg(0));
                Ok(V::Int(0))
            }
            _ => Err(EvalError::Plan("not a host library function")),
        }
    }
}

/// Where a reply's out buffer goes in the application's memory.
#[derive(Debug)]
struct OutDest {
    addr: u64,
    len: u64,
    /// The zero-copy region block the server wrote it into, by offset.
    shared: Option<u64>,
    /// Too large for the reply: the server stages it, the guest fetches it.
    staged: bool,
}

/// Buffers this large go through the shared-memory transport's zero-copy
/// region instead of inline: the guest copies them once, straight between
/// the application and the region, and the vendor library reads or writes
/// them in place on the server.
pub const SHARED_MIN: u64 = 64 << 10;

/// Room a call's message keeps for everything but one large buffer: a
/// plain buffer larger than the channel's message limit less this is
/// staged (see [`Encoder::stage`]).
pub const STAGE_HEADROOM: u64 = super::staging::HEADROOM;

/// The most bytes one staging chunk carries (less when the message limit
/// is smaller). Small enough that the [`STAGE_WINDOW`] chunks in flight
/// stay in the processor's cache between the guest's copy and the
/// server's: 2 MiB chunks moved 512 MiB faster than 1, 4, 8, 16 or 64 MiB
/// ones (book: Benchmarks).
pub const STAGE_CHUNK: u64 = 2 << 20;

/// Chunks of one staged transfer that may be in flight at once (sent and
/// not yet answered): the guest copies the next chunk while the server
/// copies the last, and the round trips overlap. Over shared memory each
/// holds a block of the zero-copy region until its answer.
pub const STAGE_WINDOW: usize = 4;

/// Builds one call message.
struct Encoder<'s, 't> {
    plan: &'s Plan,
    writer: Writer,
    transport: &'t mut dyn Transport,
    /// Region blocks this call uses, freed once the server is done with it.
    blocks: Vec<RegionBlock>,
    is_async: bool,
    outs: Vec<OutDest>,
    /// Pointers inside out buffers, restored after the reply overwrote them.
    restore: Vec<(u64, u64)>,
    /// Guest addresses of buffers this call deallocates (released from registries).
    released: Vec<u64>,
    host: &'t mut GuestHost<'s>,
    max: u64,
    /// The call's id and thread, which its staging messages carry.
    call_id: u64,
    thread: u64,
    /// The next staging index of the call's uploads.
    next_stage: u32,
}

/// A scalar argument's raw word in its slot (nothing for `void`), as the
/// encoders write it.
#[inline(always)]
pub fn write_scalar(writer: &mut Writer, shape: SlotShape, raw: u64) {
    match shape {
        SlotShape::Void | SlotShape::Buffer => {}
        SlotShape::Int { size: 1, .. } => _ = writer.u8(raw as u8),
        SlotShape::Int { size: 2, .. } => _ = writer.u16(raw as u16),
        SlotShape::Int { size: 4, .. } | SlotShape::Float { size: 4 } => _ = writer.u32(raw as u32),
        SlotShape::Int { .. } | SlotShape::Float { .. } | SlotShape::Word | SlotShape::Handle => _ = writer.u64(raw),
    }
}

impl Encoder<'_, '_> {
    fn top(&mut self, env: &Env<'_>, shape: SlotShape, ty: &Ty, value: &Value, v: V) -> Result<(), CallError> {
        match shape {
            SlotShape::Buffer => {
                let env = Env { this: Some((v, None)), ..*env };
                let plan = self.plan;
                let leaf = select(plan, value, &env, self.host)?;
                let descriptor = self.described(&env, leaf, v)?;
                self.writer.descriptor_slot(descriptor);
            }
            scalar => write_scalar(&mut self.writer, scalar, v.to_raw(ty)),
        }
        Ok(())
    }

    /// A buffer or a struct passed by value (whose address is `v`).
    fn described(&mut self, env: &Env<'_>, leaf: &Leaf, v: V) -> Result<[u8; 32], CallError> {
        let plan = self.plan;
        match &leaf.kind {
            Kind::Buffer { size, element } => {
                let ptr = v.as_u64();
                if ptr == 0 {
                    return Ok(encode_descriptor(&BufferRef::Null, 0, 0));
                }
                let count = eval(plan, size, env, self.host)?.as_int();
                let stride = stride(plan, &leaf.ty);
                // over the message limit is fine for buffers that are staged
                // or in the process region; `buffer` decides
                let len = byte_len(count, stride, u64::MAX).ok_or_else(|| {
                    CallError::Other(format!(
                        "a buffer of {count} elements of {stride} bytes is over the limit of {} bytes a call can carry \
                         (one transfer of more is not forwarded yet)",
                        self.max
                    ))
                })?;
                self.buffer(env, leaf, ptr, len, stride, pointee(&leaf.ty), element)
            }
            Kind::Opaque if !matches!(leaf.ty, Ty::Record(_)) => Ok(encode_descriptor(&BufferRef::Null, 0, v.as_u64())),
            Kind::Callback { .. } | Kind::Userdata { .. } | Kind::Handle { .. } => Ok(encode_descriptor(&BufferRef::Null, 0, v.as_u64())),
            _ => {
                // a struct by value: one element, described by the leaf itself
                let len = plan.size_of(&leaf.ty);
                let element = Value::Leaf(Box::new(Leaf { input: true, output: false, ..leaf.clone() }));
                let as_buffer = Leaf { input: true, output: false, lifetime: Lifetime::Call, ..leaf.clone() };
                self.buffer(env, &as_buffer, v.as_u64(), len, len.max(1), &leaf.ty, &element)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn buffer(
        &mut self,
        env: &Env<'_>,
        leaf: &Leaf,
        ptr: u64,
        len: u64,
        stride: u64,
        element_ty: &Ty,
        element: &Value,
    ) -> Result<[u8; 32], CallError> {
        let key = if leaf.lifetime != Lifetime::Call || leaf.deallocate { ptr } else { 0 };
        if leaf.deallocate {
            self.released.push(ptr);
        }
        let plain = leaf.lifetime == Lifetime::Call && !leaf.deallocate && !leaf.no_copy && !needs_walk(element);
        if plain {
            if let Some(offset) = zerocopy::offset_of(ptr, len) {
                // the application's memory is the process region: not copied at all
                if leaf.output {
                    // the vendor writes it in place; the reply carries nothing
                    self.outs.push(OutDest { addr: ptr, len, shared: None, staged: false });
                }
                return Ok(encode_descriptor(&BufferRef::Process { offset, len }, 0, 0));
            }
        }
        if leaf.zerocopy && leaf.output && self.is_async {
            // nothing of an asynchronous call comes back: only memory the vendor writes in place will do
            return Err(CallError::Other("a `zerocopy` out buffer of an asynchronous call must come from zerocopy_alloc".into()));
        }
        // what the message already holds counts: two buffers can be too
        // large together (only input bytes travel in the message)
        let carried = if leaf.input { len.saturating_add(self.writer.message_len() as u64) } else { len };
        if plain && carried > self.max.saturating_sub(STAGE_HEADROOM) && !(leaf.output && self.is_async) {
            // too large for one message: uploaded before the call, fetched after it
            return self.stage(ptr, len, leaf.input, leaf.output);
        }
        if len > self.max {
            return Err(CallError::Other(format!(
                "a buffer of {len} bytes is over the limit of {} bytes a call can carry ({})",
                self.max,
                if plain { "an out buffer of an asynchronous call is not staged" } else { "only plain buffers of the call are staged" }
            )));
        }
        if plain && len >= SHARED_MIN && !(leaf.output && self.is_async) {
            if let Some(descriptor) = self.shared(ptr, len, leaf.input, leaf.output)? {
                return Ok(descriptor);
            }
        }
        if leaf.output && !leaf.no_copy {
            self.outs.push(OutDest { addr: ptr, len, shared: None, staged: false });
        }
        if !leaf.input || leaf.no_copy {
            return Ok(encode_descriptor(&BufferRef::Out { len }, 0, key));
        }
        if !needs_walk(element) || matches!(element, Value::Leaf(l) if !matches!(l.kind, Kind::Buffer { .. } | Kind::Struct { .. })) {
            // straight from the application into the message (handles are
            // ids here already: only the server translates them)
            let offset = self.writer.data_with(len as usize, |dst| app_memory::read(ptr, dst))?;
            return Ok(inline_descriptor(offset, len, key));
        }
        // on the stack for the usual few elements (a kernel argument's handle)
        let mut bytes: SmallVec<[u8; 64]> = SmallVec::from_elem(0, len as usize);
        app_memory::read(ptr, &mut bytes)?;
        // pointers inside become tokens (nested buffers go to the message first)
        let mut indices: SmallVec<[u64; 4]> = SmallVec::from_slice(env.indices);
        for i in 0..len / stride {
            indices.push(i);
            let env = Env { indices: &indices, ..*env };
            self.element(&env, &mut bytes, ptr + i * stride, (i * stride) as usize, element_ty, element)?;
            indices.pop();
        }
        let offset = self.writer.data(&bytes);
        Ok(inline_descriptor(offset, len, key))
    }

    /// Puts a buffer in a block of the zero-copy region; `None` when the
    /// transport has none or it is full.
    fn shared(&mut self, ptr: u64, len: u64, input: bool, output: bool) -> Result<Option<[u8; 32]>, CallError> {
        let Some(block) = self.transport.alloc_shared(len) else { return Ok(None) };
        let offset = block.offset();
        self.blocks.push(block);
        let region = self.transport.region().ok_or_else(|| CallError::Other("a region block without a region".into()))?;
        let at = region.region_ptr(offset, len)?;
        if input {
            app_memory::copy_to_region(ptr, at, len as usize)?;
        }
        if output {
            self.outs.push(OutDest { addr: ptr, len, shared: Some(offset), staged: false });
        }
        Ok(Some(encode_descriptor(&BufferRef::Shared { offset, len }, 0, 0)))
    }

    /// Rewrites the pointers of one element (at `addr` in the application,
    /// `at` in `bytes`) into tokens.
    fn element(&mut self, env: &Env<'_>, bytes: &mut [u8], addr: u64, at: usize, ty: &Ty, value: &Value) -> Result<(), CallError> {
        let plan = self.plan;
        let this = load(plan, addr, ty, &*self.host)?;
        let env = Env { this: Some((this, Some(addr))), ..*env };
        let leaf = select(plan, value, &env, self.host)?;
        match &leaf.kind {
            Kind::Buffer { element, .. } if matches!(ty, Ty::Array(..)) => {
                // an array inside a struct: its elements are right here
                if let Ty::Array(element_ty, len) = ty {
                    if needs_walk(element) {
                        let stride = plan.size_of(element_ty).max(1);
                        let mut indices: SmallVec<[u64; 4]> = SmallVec::from_slice(env.indices);
                        for i in 0..*len {
                            indices.push(i);
                            let env = Env { indices: &indices, ..env };
                            self.element(&env, bytes, addr + i * stride, at + (i * stride) as usize, element_ty, element)?;
                            indices.pop();
                        }
                    }
                }
            }
            Kind::Buffer { .. } => {
                let pointer = this.as_u64();
                let token = if pointer == 0 {
                    0
                } else {
                    let descriptor = self.described(&env, leaf, this)?;
                    self.restore.push((addr, pointer));
                    self.writer.data(&descriptor) + 1
                };
                bytes.get_mut(at..at + 8).ok_or(EvalError::Plan("pointer outside its buffer"))?.copy_from_slice(&token.to_le_bytes());
            }
            Kind::Struct { fields } => {
                let Ty::Record(r) = leaf.ty else { return Err(EvalError::Plan("struct description of a non-struct").into()) };
                let record = plan.records.get(r as usize).ok_or(EvalError::Plan("unknown record"))?;
                for (field, value) in record.fields.iter().zip(fields) {
                    let env = Env { sibling: Some((addr, r)), ..env };
                    self.element(&env, bytes, addr + field.offset, at + field.offset as usize, &field.ty, value)?;
                }
            }
            // handles already are ids in the guest; callbacks and userdata travel as they are
            _ => {}
        }
        Ok(())
    }
}

/// Forwards call `function` with raw argument words `args` (integers
/// extended to 64 bits, floats as their bits, pointers as addresses,
/// structs passed by value as their address) and returns the raw result.
pub fn call(library: &'static GuestLibrary, function: u32, args: &[u64]) -> u64 {
    let state = match library.state() {
        Ok(state) => state,
        // the function's failure, never 0: that is success for most APIs
        Err(e) => return library.unloaded(function, args, e),
    };
    let plan = &state.plan;
    let Some(f) = plan.functions.get(function as usize) else { return 0 };
    if let Some(code) = f.unsupported {
        if state.warned.lock().unwrap_or_else(|e| e.into_inner()).insert(function) {
            library.log(format_args!("{} is not supported by this spec; it returns {code}", f.name));
        }
        return failure_result(plan, &f.ret, code);
    }
    // on the stack: a queued call should allocate nothing
    let mut params: SmallVec<[V; 16]> = SmallVec::new();
    for (p, raw) in f.params.iter().zip(args) {
        params.push(V::from_raw(*raw, &p.ty));
    }
    if let Some(expr) = &f.in_guest {
        return answer_in_guest(library, state, f, expr, &params);
    }
    match forward(library, state, function, &params) {
        Ok(raw) => raw,
        Err(e) => {
            // a forged or stale handle is an ordinary API error, as natively
            let status = match e {
                CallError::Refused(ErrorCode::InvalidHandle, _) => plan.api.invalid_handle,
                _ => {
                    library.log(format_args!("{} failed: {e}", f.name));
                    plan.api.failure
                }
            };
            write_status(state, function, &params, status);
            let code = if f.ret == plan.api.error_type { status } else { 0 };
            failure_result(plan, &f.ret, code)
        }
    }
}

/// Runs an `in_guest` function: its expression (and then its statements),
/// in the guest, without a message.
fn answer_in_guest(library: &GuestLibrary, state: &State, f: &crate::plan::Function, expr: &crate::plan::Expr, params: &[V]) -> u64 {
    let mut host = GuestHost::new(state);
    let result = eval(&state.plan, expr, &Env::new(params, &[]), &mut host).and_then(|v| {
        let env = Env::after_call(params, &[], V::from_raw(v.to_raw(&f.ret), &f.ret));
        let _serial = (!f.actions.is_empty()).then(|| state.statements.lock().unwrap_or_else(|e| e.into_inner()));
        f.actions.iter().try_for_each(|a| eval(&state.plan, a, &env, &mut host).map(drop)).map(|()| v)
    });
    match result {
        Ok(v) => v.to_raw(&f.ret),
        Err(e) => {
            library.log(format_args!("{} failed in the guest: {e}", f.name));
            failure_result(&state.plan, &f.ret, if f.ret == state.plan.api.error_type { state.plan.api.failure } else { 0 })
        }
    }
}

/// How many buffers registry `registry` (its number in the plan, as in the
/// generated `registry_ids`) holds under `key`, for `replace_guest` code
/// that must know whether a synchronizing call has anything to bring back.
/// 0 when the library's plan does not load.
pub fn registered(library: &'static GuestLibrary, registry: u32, key: u64) -> usize {
    let Ok(state) = library.state() else { return 0 };
    let registries = state.registries.lock().unwrap_or_else(|e| e.into_inner());
    registries.get(&(registry, key)).map_or(0, Vec::len)
}

/// The largest buffer one call of this thread carries whole, for
/// `replace_guest` code that must split a transfer the server keeps past
/// the call (a non-blocking read's destination), which is not staged: the
/// thread's channel's message limit (connecting it first if the thread has
/// none yet; the configured one if that fails, and the call will fail
/// too), less room for the rest of the message.
pub fn transfer_limit(library: &'static GuestLibrary) -> u64 {
    let max = CHANNEL.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.as_ref().is_some_and(|c| c.epoch != ForkEpoch::current()) {
            *slot = None;
        }
        if slot.is_none() {
            // the limit is the channel's (the server's, if smaller than this
            // process's): connect now rather than guess
            *slot = Some(connect(library, &library.state().ok()?.fences).ok()?);
        }
        slot.as_ref().map(|c| c.max)
    });
    max.unwrap_or(crate::transport::configured_max_message() as u64).saturating_sub(STAGE_HEADROOM).max(1)
}

/// `zerocopy_alloc(n)` for `replace_guest` code (a vendor allocator that
/// returns its memory through an out pointer, like `cuMemAllocHost`):
/// memory of this process's zero-copy region, or 0, logged, when the region
/// is full or cannot be set up.
pub fn zerocopy_alloc(library: &'static GuestLibrary, n: u64) -> u64 {
    match library.state() {
        Ok(state) => region_alloc(state, n),
        Err(e) => {
            library.log(format_args!("{e}"));
            0
        }
    }
}

/// For `replace_guest` code: a line on the guest's log (stderr, prefixed
/// with the library's name; `CAVA_LOG=quiet` silences it).
pub fn log_line(library: &'static GuestLibrary, message: std::fmt::Arguments<'_>) {
    library.log(message);
}

/// For `replace_guest` code that puts memory of its own in the region (an
/// optimisation it can do without): `n` bytes of the process's zero-copy
/// region, or 0, silently, when it is full or cannot be set up (then never
/// asked again); freed with [`zerocopy_free`].
pub fn zerocopy_try_alloc(library: &'static GuestLibrary, n: u64) -> u64 {
    match library.state() {
        Ok(state) => zerocopy::try_alloc(n, || open_process_region(state)).unwrap_or(0),
        Err(_) => 0,
    }
}

/// `zerocopy_free(p)` for `replace_guest` code: false (and a log line)
/// when `p` did not come from `zerocopy_alloc`.
pub fn zerocopy_free(library: &'static GuestLibrary, p: u64) -> bool {
    region_free(library.name, p)
}

/// `n` bytes of the process's zero-copy region, or 0 (NULL, as `malloc`
/// fails), logged, when it is full or cannot be set up.
fn region_alloc(state: &State, n: u64) -> u64 {
    zerocopy::alloc(n, || open_process_region(state)).unwrap_or_else(|e| {
        log(state.name, format_args!("zerocopy_alloc({n}) returns NULL: {e}"));
        0
    })
}

/// Frees region memory; false, logged, for memory that is not the region's.
fn region_free(name: &str, p: u64) -> bool {
    match zerocopy::free(p) {
        Ok(()) => true,
        Err(e) => {
            log(name, format_args!("{e}; ignored"));
            false
        }
    }
}

/// The result of a function the spec leaves out of the library: its header
/// declares it, so the guest exports it, but it is never forwarded.
pub fn missing(library: &'static GuestLibrary, name: &str, returns_error_type: bool) -> u64 {
    static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    if WARNED.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashSet::new).insert(name.to_string()) {
        library.log(format_args!("{name} is in the header but not in the spec; it fails"));
    }
    match library.state() {
        Ok(state) if returns_error_type => V::Int(state.plan.api.failure).to_raw(&state.plan.api.error_type),
        Err(e) if returns_error_type => {
            library.unloaded(u32::MAX, &[], e);
            library.failures.failure
        }
        _ => 0,
    }
}

/// Writes `code` into the status out-arguments of a call (an out buffer of
/// one element of the API's error type, like OpenCL's `errcode_ret`).
fn write_status(state: &State, function: u32, params: &[V], code: i128) {
    let plan = &state.plan;
    let f = &plan.functions[function as usize];
    let mut host = GuestHost::new(state);
    for (p, v) in f.params.iter().zip(params) {
        let env = Env { this: Some((*v, None)), ..Env::new(params, &[]) };
        let Ok(leaf) = select(plan, &p.value, &env, &mut host) else { continue };
        if leaf.output && matches!(leaf.kind, Kind::Buffer { .. }) && *pointee(&leaf.ty) == plan.api.error_type && v.as_u64() != 0 {
            let size = plan.size_of(&plan.api.error_type) as usize;
            let _ = app_memory::write(v.as_u64(), &code.to_le_bytes()[..size.min(16)]);
        }
    }
}

fn forward(library: &'static GuestLibrary, state: &'static State, function: u32, params: &[V]) -> Result<u64, CallError> {
    let plan = &state.plan;
    let f = &plan.functions[function as usize];
    let sent = if state.takes_callbacks[function as usize] {
        let sent = substitute_callbacks(state, function, params)?;
        if sent.iter().zip(params).any(|(s, p)| s != p && s.as_u64() != 0) {
            open_route(library, state)?;
        }
        Some(sent)
    } else {
        None
    };
    let mut host = GuestHost::new(state);
    let mut contextual: SmallVec<[V; 4]> = SmallVec::new();
    for c in &f.contextual {
        let v = eval(plan, &c.init, &Env::new(params, &contextual), &mut host)?;
        contextual.push(v);
    }
    CHANNEL.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|c| c.epoch != ForkEpoch::current()) {
            // a forked child: its parent's channel is not ours to use
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(connect(library, &state.fences)?);
        }
        let channel = slot.as_mut().expect("connected above");
        let sent = sent.as_deref().unwrap_or(params);
        let mut result = exchange(channel, state, function, params, sent, &contextual, &mut host);
        if let Err(CallError::NotSent(e)) = &result {
            // the server went away (restarted, or replaced by a migration)
            // before it saw the call: a fresh channel may reach its successor
            library.log(format_args!("the API server is gone ({e}); reconnecting"));
            *slot = None;
            let channel = slot.insert(connect(library, &state.fences)?);
            result = exchange(channel, state, function, params, sent, &contextual, &mut host);
        }
        if matches!(result, Err(CallError::Transport(_) | CallError::NotSent(_))) {
            // the channel is gone: the next call reconnects
            *slot = None;
        }
        result
    })
}

fn exchange<'s>(
    channel: &mut Channel,
    state: &'s State,
    function: u32,
    params: &[V],
    sent: &[V],
    contextual: &[V],
    host: &mut GuestHost<'s>,
) -> Result<u64, CallError> {
    let plan = &state.plan;
    let f = &plan.functions[function as usize];
    let call_id = channel.next_call;
    channel.next_call += 1;
    let is_async = matches!(f.mode, CallMode::Async { .. });
    // before anything of the call (its staged buffers included): what other
    // threads sent before it runs first
    send_fences(channel, &state.fences, call_id)?;
    let header = Header {
        function,
        call_id,
        thread: channel.thread,
        flags: if is_async { Flags::ASYNC } else { Flags::NONE },
        ..Header::new(MsgKind::Call)
    };
    let max = channel.max;
    let mut writer = Writer::reuse(std::mem::take(&mut channel.buf), header, state.scalar_len[function as usize]);
    if state.lean[function as usize] {
        let encoded = match state.lean_code[function as usize] {
            Some(code) => code(plan, &mut writer, sent, host, max),
            None => lean::encode(&mut writer, plan, f, &state.slots[function as usize], sent, host, max),
        };
        if encoded {
            return exchange_encoded(channel, state, function, Encoded::lean(writer, call_id), params, contextual, host);
        }
        writer.restart();
    }
    let mut encoder = Encoder {
        plan,
        writer,
        transport: channel.transport.as_mut(),
        blocks: Vec::new(),
        is_async,
        outs: Vec::new(),
        restore: Vec::new(),
        released: Vec::new(),
        host,
        max,
        call_id,
        thread: channel.thread,
        next_stage: 0,
    };
    let encoded = encode(&mut encoder, state, f, function, sent, contextual, params);
    let Encoder { writer, outs, restore, released, blocks, .. } = encoder;
    if let Err(e) = encoded {
        free_blocks(channel.transport.as_mut(), blocks);
        return Err(e);
    }
    exchange_encoded(channel, state, function, Encoded { writer, call_id, outs, restore, released, blocks }, params, contextual, host)
}

/// An encoded call: its message and what the rest of the exchange needs
/// of the encoding (nothing for a lean one).
struct Encoded {
    writer: Writer,
    call_id: u64,
    outs: Vec<OutDest>,
    restore: Vec<(u64, u64)>,
    released: Vec<u64>,
    blocks: Vec<RegionBlock>,
}

impl Encoded {
    fn lean(writer: Writer, call_id: u64) -> Encoded {
        Encoded { writer, call_id, outs: Vec::new(), restore: Vec::new(), released: Vec::new(), blocks: Vec::new() }
    }
}

/// Sends an encoded call and, for a synchronous one, takes its reply.
fn exchange_encoded<'s>(
    channel: &mut Channel,
    state: &'s State,
    function: u32,
    encoded: Encoded,
    params: &[V],
    contextual: &[V],
    host: &mut GuestHost<'s>,
) -> Result<u64, CallError> {
    let plan = &state.plan;
    let f = &plan.functions[function as usize];
    let is_async = matches!(f.mode, CallMode::Async { .. });
    let Encoded { writer, call_id, outs, restore, released, blocks } = encoded;
    let message = match writer.finish() {
        Ok(message) => message,
        Err(e) => {
            free_blocks(channel.transport.as_mut(), blocks);
            return Err(e.into());
        }
    };
    // registered before the server can give the buffers to this call
    let bringing = (!is_async && !released.is_empty()).then(|| state.bringing.start(&released));
    if let Err(e) = channel.transport.send(&message) {
        free_blocks(channel.transport.as_mut(), blocks);
        // a message over the limit is this call's fault, not the channel's:
        // the channel stays, and no other channel would take it either
        if let TransportError::TooLarge { .. } = e {
            return Err(CallError::Other(e.to_string()));
        }
        return Err(CallError::NotSent(e));
    }
    channel.buf = message;
    channel.fences.sent(&state.fences, is_async);
    if let CallMode::Async { success } = f.mode {
        channel.in_flight.extend(blocks);
        let ret = V::Int(success).to_raw(&f.ret);
        run_actions(state, function, params, contextual, V::from_raw(ret, &f.ret), host)?;
        return Ok(ret);
    }
    channel.transport.recv(&mut channel.buf, None)?;
    channel.fences.replied();
    // every earlier call has run: their blocks and this call's are free again
    let done: Vec<RegionBlock> = channel.in_flight.drain(..).chain(blocks).collect();
    let shared_outs: Vec<(u64, u64, u64)> = outs.iter().filter_map(|o| o.shared.map(|at| (o.addr, o.len, at))).collect();
    let copied = copy_shared_outs(channel.transport.as_ref(), &shared_outs);
    free_blocks(channel.transport.as_mut(), done);
    let message = Message::decode(&channel.buf)?;
    if message.kind() == MsgKind::Error {
        let reply = ErrorReply::decode(&message)?;
        return Err(CallError::Refused(reply.code, reply.message.to_string()));
    }
    message.expect(MsgKind::Reply)?;
    if message.header().call_id != call_id {
        return Err(CallError::Other(format!("reply to call {} while waiting for call {call_id}", message.header().call_id)));
    }
    copied?;
    let mut scalars = message.scalars();
    let ret = match state.ret[function as usize] {
        SlotShape::Void => 0,
        SlotShape::Int { size: 1, .. } => u64::from(scalars.u8()?),
        SlotShape::Int { size: 2, .. } => u64::from(scalars.u16()?),
        SlotShape::Int { size: 4, signed } => {
            let v = scalars.u32()?;
            if signed {
                v as i32 as i64 as u64
            } else {
                u64::from(v)
            }
        }
        SlotShape::Float { size: 4 } => u64::from(scalars.u32()?),
        SlotShape::Int { .. } | SlotShape::Float { .. } | SlotShape::Word | SlotShape::Handle => scalars.u64()?,
        SlotShape::Buffer if matches!(f.ret, Ty::Record(_)) => match scalars.buffer()? {
            BufferRef::Inline(bytes) if bytes.len() as u64 == plan.size_of(&f.ret) => struct_result(bytes),
            other => return Err(CallError::Other(format!("a struct result came back as {}", other.name()))),
        },
        SlotShape::Buffer => match scalars.buffer()? {
            BufferRef::Null => 0,
            BufferRef::Inline(bytes) => intern(state, bytes),
            other => return Err(CallError::Other(format!("a returned buffer came back as {}", other.name()))),
        },
    };
    let count = scalars.u32()? as usize;
    if count != outs.len() {
        return Err(CallError::Other(format!("the reply carries {count} out buffers, the call has {}", outs.len())));
    }
    // buffers this call freed that another call in flight took first
    let mut taken: SmallVec<[u64; 2]> = SmallVec::new();
    let mut staged = Vec::new();
    for out in &outs {
        match scalars.buffer()? {
            BufferRef::Staged { index, len } if out.staged && len == out.len => staged.push((out.addr, index, len)),
            // the server stages what does not fit in its reply with the rest
            BufferRef::Staged { index, len } if !out.staged && out.shared.is_none() && len <= out.len => {
                staged.push((out.addr, index, len))
            }
            _ if out.staged => return Err(CallError::Other("a staged out buffer came back otherwise".into())),
            // a kept buffer this call frees, which another call took first:
            // that call may still be writing it into the application's memory
            ref reply if bringing.is_some() && released.contains(&out.addr) && taken_by_another(reply, out.len) => taken.push(out.addr),
            BufferRef::Null => {}
            _ if out.shared.is_some() => return Err(CallError::Other("a zero-copy out buffer came back inline".into())),
            BufferRef::Inline(bytes) if bytes.len() as u64 <= out.len => app_memory::write(out.addr, bytes)?,
            other => return Err(CallError::Other(format!("an out buffer of {} bytes came back as {}", out.len, other.name()))),
        }
    }
    if !staged.is_empty() {
        let thread = channel.thread;
        fetch_staged(channel.transport.as_mut(), call_id, thread, channel.max, &staged)?;
    }
    for (addr, pointer) in restore {
        app_memory::write(addr, &pointer.to_le_bytes())?;
    }
    // pointers the library wrote into out buffers, to its own memory: they
    // point to the guest's copy, kept for the life of the library
    for _ in 0..scalars.u32()? {
        let (index, at) = (scalars.u32()? as usize, scalars.u64()?);
        let out = outs.get(index).filter(|o| at.checked_add(8).is_some_and(|end| end <= o.len));
        let (Some(out), BufferRef::Inline(bytes)) = (out, scalars.buffer()?) else {
            return Err(CallError::Other(format!("data pointed to from out buffer {index} at {at} is malformed")));
        };
        app_memory::write(out.addr + at, &intern(state, bytes).to_le_bytes())?;
    }
    if !released.is_empty() {
        let mut registries = state.registries.lock().unwrap_or_else(|e| e.into_inner());
        for list in registries.values_mut() {
            list.retain(|(p, _)| !released.contains(p));
        }
        registries.retain(|_, list| !list.is_empty());
    }
    drop(bringing);
    if !taken.is_empty() && !state.bringing.await_gone(&taken) {
        log(state.name, format_args!("another call bringing back a buffer this call claimed did not finish in {BRINGING_WAIT:?}"));
    }
    // a failed call changed nothing the statements record (the API server
    // skips them too, so both sides' metadata stay the same)
    let failed = f.ret == plan.api.error_type && V::from_raw(ret, &f.ret).as_int() != plan.api.success;
    if !failed {
        run_actions(state, function, params, contextual, V::from_raw(ret, &f.ret), host)?;
    }
    Ok(ret)
}

/// Sends the fences call `call_id` must wait behind, if another channel
/// of the process sent asynchronous calls since this one last looked.
fn send_fences(channel: &mut Channel, fences: &Fences, call_id: u64) -> Result<(), CallError> {
    let waits = channel.fences.waits(fences);
    for chunk in waits.chunks(MAX_FENCE) {
        let message = Fence::encode(chunk, call_id, channel.thread, std::mem::take(&mut channel.buf));
        let sent = channel.transport.send(&message);
        channel.buf = message;
        // the call was not sent either: as safe to send again elsewhere
        sent.map_err(CallError::NotSent)?;
    }
    Ok(())
}

/// Writes the call's arguments into the message.
fn encode(
    encoder: &mut Encoder<'_, '_>,
    state: &State,
    f: &crate::plan::Function,
    function: u32,
    sent: &[V],
    contextual: &[V],
    params: &[V],
) -> Result<(), CallError> {
    let shapes = &state.slots[function as usize];
    let env = Env::new(params, contextual);
    for (i, (p, v)) in f.params.iter().zip(sent).enumerate() {
        encoder.top(&env, shapes[i], &p.ty, &p.value, *v)?;
    }
    for (i, (c, v)) in f.contextual.iter().zip(contextual).enumerate() {
        encoder.top(&env, shapes[f.params.len() + i], &c.ty, &c.value, *v)?;
    }
    Ok(())
}

/// Copies out buffers the server wrote into the zero-copy region to their
/// places in the application: `(address, length, region offset)`.
fn copy_shared_outs(transport: &dyn Transport, outs: &[(u64, u64, u64)]) -> Result<(), CallError> {
    if outs.is_empty() {
        return Ok(());
    }
    let region = transport.region().ok_or_else(|| CallError::Other("zero-copy out buffers without a region".into()))?;
    for &(addr, len, at) in outs {
        app_memory::copy_from_region(region.region_ptr(at, len)?, addr, len as usize)?;
    }
    Ok(())
}

fn free_blocks(transport: &mut dyn Transport, blocks: Vec<RegionBlock>) {
    for block in blocks {
        // a block the transport does not know is a bug, but never worth a failed call
        let _ = transport.free_shared(block);
    }
}

/// The arguments of `f` whose description may end a handle.
fn ending_handles(f: &crate::plan::Function) -> SmallVec<[u32; 1]> {
    let ends = |leaf: &Leaf| leaf.deallocate && matches!(leaf.kind, Kind::Handle { .. });
    (0..f.params.len() as u32).filter(|&i| f.params[i as usize].value.any_leaf(&ends)).collect()
}

/// Runs a call's statements, and drops the metadata of the handles the
/// call ends: they would otherwise keep a block each for the life of the
/// process (an event per command that asked for one). Which handles end
/// is decided as the API server decides it, on the metadata as it was
/// before the statements (`if (metadata(mem)->retains == 0) { deallocate; }`),
/// under the same lock; the server drops its copy the same way.
fn run_actions(
    state: &State,
    function: u32,
    params: &[V],
    contextual: &[V],
    returned: V,
    host: &mut GuestHost<'_>,
) -> Result<(), CallError> {
    let f = &state.plan.functions[function as usize];
    let ending = &state.ending[function as usize];
    if f.actions.is_empty() && ending.is_empty() {
        return Ok(());
    }
    // one call's statements at a time: each reads and writes the metadata
    // in several steps, and two threads' at once lost updates (two
    // concurrent retains counted one)
    let _serial = state.statements.lock().unwrap_or_else(|e| e.into_inner());
    let mut ended: SmallVec<[u64; 1]> = SmallVec::new();
    for &i in ending {
        let (Some(p), Some(&v)) = (f.params.get(i as usize), params.get(i as usize)) else { continue };
        let env = Env { this: Some((v, None)), ..Env::new(params, contextual) };
        // (a condition that cannot be evaluated ends nothing: the call has gone)
        if v.as_u64() != 0 && select(&state.plan, &p.value, &env, host).is_ok_and(|leaf| leaf.deallocate) {
            ended.push(v.as_u64());
        }
    }
    let env = Env::after_call(params, contextual, returned);
    for action in &f.actions {
        eval(&state.plan, action, &env, host)?;
    }
    if !ended.is_empty() {
        let mut metadata = state.metadata.lock().unwrap_or_else(|e| e.into_inner());
        for key in ended {
            metadata.remove(&key);
        }
    }
    Ok(())
}

/// Where a struct returned by value waits for the generated function to
/// read it (at once, before this thread's next call): the address is the
/// raw result.
fn struct_result(bytes: &[u8]) -> u64 {
    thread_local! {
        static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    RESULT.with(|cell| {
        let mut kept = cell.borrow_mut();
        kept.clear();
        kept.extend_from_slice(bytes);
        // never empty: the generated code reads from it
        kept.push(0);
        kept.as_ptr() as u64
    })
}

/// The raw result of a failed or unsupported call: `code` for a result of
/// the API's error type, a zeroed struct for a struct, 0 otherwise.
fn failure_result(plan: &Plan, ret: &Ty, code: i128) -> u64 {
    match ret {
        Ty::Record(_) => struct_result(&vec![0u8; plan.size_of(ret) as usize]),
        _ => V::Int(code).to_raw(ret),
    }
}

/// A stable guest copy of a returned buffer. Returned buffers are the
/// vendor's (status strings, names): the guest keeps one copy of each
/// distinct content for the life of the process, as the vendor keeps its own.
fn intern(state: &State, bytes: &[u8]) -> u64 {
    let mut returned = state.returned.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(kept) = returned.get(bytes) {
        return kept.as_ptr() as u64;
    }
    let kept: Box<[u8]> = bytes.into();
    let addr = kept.as_ptr() as u64;
    returned.insert(kept);
    addr
}
