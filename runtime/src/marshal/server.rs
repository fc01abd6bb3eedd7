//! The API server half: what a generated API server's `main` calls.
//!
//! One server serves any number of guest processes, each with state of its
//! own (its handle table, metadata and kept buffers: see
//! [`super::tenants`]); each guest thread's channel is served by a thread of
//! its own. Everything a guest sends is checked against the plan before the
//! vendor library sees it: handle ids through the handle table, buffer
//! lengths against the sizes the spec's expressions give on the server's
//! own copy of the arguments, nested pointers against the message. A bad
//! message gets an error reply and a log line; the server goes on.
//!
//! This file holds the server's shared state and its start; the parts of
//! serving are in `server/`: `connections` (what each connection is for,
//! its hello and admission), `call` (serving one call), `decoder` (its
//! arguments, checked), `frame` (its memory as expressions see it),
//! `reply` (out buffers and the reply), `departure` (bringing back a
//! departed process's pending reads, releasing its objects, freeing the
//! reads' buffers).

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::collections::VecDeque;

use smallvec::SmallVec;
use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod call;
mod connections;
mod decoder;
mod departure;
mod frame;
mod in_use;
mod lean;
mod process_memory;
mod reply;

pub use departure::release_at_departure;
pub(super) use departure::Held;
pub use frame::provisional;
pub use in_use::waiting_releases;
pub(super) use in_use::DeferredRelease;
pub use lean::{guest_only_word, handle_ids, lean_calls, lean_leaf, LeanArgs, LeanCall, LeanCx, LeanFn, MAX_ARGS as MAX_LEAN_ARGS};
pub use process_memory::{hold_process_memory, vendor_address, ProcessMemoryHold};

use call::*;
use connections::*;
use decoder::*;
use frame::*;
use in_use::Uses;
use reply::*;

use super::callbacks::userdata_of;
use super::eval::{eval, load, select, Env, EvalError, Host, V};
use super::fences::{Counter, Unmet};
use super::in_hand::InHand;
use super::log;
use super::native::{self, Dispatch, VendorLibrary};
use super::object_steps::stepped_arguments;
use super::record::{self, Entry, Owner, RecordLog};
use super::server_callbacks::{self, calling_for, release_unfired, CallbackHost, Registrations, Route};
use super::staging::{Staging, DEFAULT_MAX_STAGED, HEADROOM as STAGE_HEADROOM};
use super::tenants::{take_coupled, Lease, Refused, Retained, Tenant, Tenants};
use super::walk::{byte_len, needs_walk, pointee, stride};
use crate::handles::{HandleError, HandleKind, HandleTable};
use crate::plan::{call_slots, reply_slot, CallMode, ExprKind, Function, Kind, Leaf, LibraryFn, Lifetime, Plan, SlotShape, Ty, Value};
use crate::transport::shm::{ProcessRegion, ShmConfig, ShmTransport};
use crate::transport::unix::UnixTransport;
use crate::transport::{configured_max_message, SharedRegion, Transport, TransportError};
use crate::wire::{
    check_contract, BufferRef, ErrorCode, ErrorReply, Fence, Fetch, Header, Hello, Kind as MsgKind, Layout, Message, Slot, Stage, StageAck,
    Welcome, Writer,
};

/// A generated API server: its plan, contract and dispatcher.
#[derive(Debug)]
pub struct ServerLibrary {
    pub name: &'static str,
    /// The plan's binary form (`plan.bin`).
    pub plan: &'static [u8],
    pub contract: u128,
    /// The generated code of the plan's expressions (see `generated`).
    pub expressions: &'static [Option<super::generated::Generated>],
    /// The generated lean code of each function, by id (see [`LeanFn`]).
    pub lean: &'static [Option<LeanFn>],
    pub dispatch: Dispatch,
    /// The address of the generated trampoline of each plan callback.
    pub trampoline: fn(u32) -> usize,
}

/// The server of this process, for trampolines (which the vendor library
/// calls with nothing but the callback's own arguments).
static SERVER: OnceLock<Arc<Shared>> = OnceLock::new();

/// State shared by all channels; what belongs to one guest process is in
/// its [`Tenant`].
struct Shared {
    library: &'static ServerLibrary,
    plan: Plan,
    slots: Vec<Vec<SlotShape>>,
    /// Scalar-area offset of each slot, per function.
    offsets: Vec<Vec<u32>>,
    ret: Vec<SlotShape>,
    /// Each function whose calls may take the lean path, what that path
    /// needs to know of it ([`lean::LeanCall`]).
    lean: Vec<Option<lean::LeanCall>>,
    /// The generated code of each lean function (`None`: the lean path
    /// interprets [`lean::LeanCall::decode`]).
    lean_code: Vec<Option<LeanFn>>,
    /// Each function's handle arguments whose objects its calls take a
    /// step on ([`object_steps`](super::object_steps)).
    stepped: Vec<SmallVec<[u32; 1]>>,
    /// Whether each function's release of an object another call in
    /// flight uses may wait for that call ([`in_use`]).
    deferrable: Vec<bool>,
    /// The vendor's function for each plan function; unset until its first
    /// call for one the library does not export, which the resolver finds.
    addresses: Vec<OnceLock<Option<usize>>>,
    /// The vendor's `resolver` function (the `api` block's), if any.
    resolver: Option<usize>,
    /// Each guest process's state, by its number.
    tenants: Tenants<Tenant>,
    /// Every process's callback registrations: the vendor library holds
    /// their ids, and a trampoline has nothing else to find them by.
    registrations: Mutex<Registrations>,
    /// Whether each function has an `obj_record` value (its successful
    /// calls go to the record log).
    recorded: Vec<bool>,
    recorder: Option<Mutex<RecordLog>>,
    /// The function that releases a departed process's objects of each
    /// handle type (`release_at_exit`).
    releasers: HashMap<HandleKind, u32>,
    /// The functions that settle a departed process's objects of each
    /// handle type before its pending reads are brought back
    /// (`abandon_at_exit`).
    abandoners: HashMap<HandleKind, Vec<u32>>,
    /// The function that brings back what each buffer registry holds
    /// under a key, for a departed process's pending reads
    /// ([`Plan::drainers`]).
    drainers: Vec<Option<u32>>,
    /// Largest message of a channel (`CAVA_MAX_MESSAGE`, see
    /// [`configured_max_message`]).
    max_message: usize,
    /// Most bytes one channel may hold staged at once (`--max-staged`).
    max_staged: u64,
    /// How long a fence waits for a channel that handles nothing more
    /// (`CAVA_FENCE_PATIENCE_MS`, see [`fences`](super::fences)).
    fence_patience: Duration,
    _vendor: VendorLibrary,
    /// Addresses `replace_server` code asked for by name
    /// ([`vendor_address`]), found once each: it asks on every call.
    vendor_symbols: Mutex<HashMap<String, Option<usize>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("api", &self.plan.api.name).finish_non_exhaustive()
    }
}

impl Shared {
    fn vendor_address(&self, name: &str) -> Option<usize> {
        let mut symbols = lock(&self.vendor_symbols);
        if let Some(found) = symbols.get(name) {
            return *found;
        }
        let found = self._vendor.address(name);
        symbols.insert(name.to_owned(), found);
        found
    }

    fn new(library: &'static ServerLibrary, vendor_path: Option<&str>) -> Result<Shared, String> {
        let plan = super::generated::load_plan(library.plan, library.expressions, library.name)?;
        let vendor = VendorLibrary::open(vendor_path.unwrap_or(&plan.api.library))?;
        let mut slots = Vec::new();
        let mut offsets = Vec::new();
        let mut ret = Vec::new();
        let mut lean = Vec::new();
        let mut deferrable = Vec::new();
        let mut addresses = Vec::new();
        let resolver = plan.api.resolver.as_deref().and_then(|name| {
            let address = vendor.address(name);
            if address.is_none() {
                log(library.name, format_args!("the resolver {name} is not in the vendor library"));
            }
            address
        });
        for f in &plan.functions {
            let shapes = call_slots(f)?;
            offsets.push(slot_offsets(&shapes));
            lean.push(lean::LeanCall::of(&plan, f, &shapes));
            deferrable.push(in_use::deferrable(&plan, f, &shapes));
            slots.push(shapes);
            ret.push(reply_slot(&plan, f)?);
            // the guest answers unsupported and in_guest functions itself;
            // a variant is served by the vendor function it describes
            let local = f.unsupported.is_some() || f.in_guest.is_some();
            let symbol = f.variant_of.as_deref().unwrap_or(&f.name);
            let address = OnceLock::new();
            match if local { None } else { vendor.address(symbol) } {
                Some(found) => _ = address.set(Some(found)),
                // asked at the first call, not here: resolving can run the
                // vendor's initialisation (an ICD loader loads its platforms)
                None if !local && resolver.is_some() => {}
                None => {
                    if !local {
                        log(library.name, format_args!("{symbol} is not in the vendor library; calls to {} will fail", f.name));
                    }
                    _ = address.set(None);
                }
            }
            addresses.push(address);
        }
        if std::env::var_os("CAVA_LEAN_CALLS").is_some_and(|v| v == "0") {
            // every call through the general path: for comparing, or ruling the lean path out
            lean.iter_mut().for_each(|l| *l = None);
        }
        let leans: Vec<bool> = lean.iter().map(Option::is_some).collect();
        let lean_code = super::generated::per_function(&leans, library.lean, library.name, "lean code");
        let recorded = plan.functions.iter().map(records).collect();
        let stepped = plan.functions.iter().map(stepped_arguments).collect();
        let releasers = departure::releasers(&plan);
        let abandoners = departure::abandoners(&plan);
        let drainers = plan.drainers();
        Ok(Shared {
            library,
            plan,
            slots,
            offsets,
            ret,
            lean,
            lean_code,
            stepped,
            deferrable,
            addresses,
            resolver,
            tenants: Tenants::default(),
            registrations: Mutex::default(),
            recorded,
            recorder: None,
            releasers,
            abandoners,
            drainers,
            max_message: configured_max_message(),
            max_staged: DEFAULT_MAX_STAGED,
            fence_patience: super::fences::patience(),
            _vendor: vendor,
            vendor_symbols: Mutex::default(),
        })
    }

    fn log(&self, message: std::fmt::Arguments<'_>) {
        log(self.library.name, message);
    }

    /// The vendor's function for plan function `id`, if it has one.
    fn address(&self, id: usize) -> Option<usize> {
        *self.addresses[id].get_or_init(|| {
            let f = &self.plan.functions[id];
            let symbol = f.variant_of.as_deref().unwrap_or(&f.name);
            let found = self.resolver.and_then(|resolver| native::resolve(resolver, symbol));
            if found.is_none() {
                self.log(format_args!("{symbol} is neither in the vendor library nor found by its resolver; calls to {} fail", f.name));
            }
            found
        })
    }
}

impl Shared {
    /// Appends to the record log, if the server keeps one.
    fn record(&self, tenant: &Tenant, entry: Entry) {
        if let Some(recorder) = &self.recorder {
            if let Err(e) = lock(recorder).append(Owner { process: tenant.process, pid: tenant.pid }, &entry) {
                self.log(format_args!("cannot write the record log: {e}; migration will miss this call"));
            }
        }
    }
}

/// Whether a function has an `obj_record` value.
fn records(f: &Function) -> bool {
    fn any(value: &Value) -> bool {
        value.any_leaf(&|leaf| {
            leaf.obj_record
                || match &leaf.kind {
                    Kind::Buffer { element, .. } => any(element),
                    Kind::Struct { fields } => fields.iter().any(any),
                    _ => false,
                }
        })
    }
    f.params.iter().any(|p| any(&p.value)) || any(&f.return_value)
}

/// Replays a record log into this (fresh) server before it serves guests.
fn replay_log(shared: &Shared, bytes: &[u8]) {
    let (entries, truncated) = record::decode(bytes);
    if truncated {
        shared.log(format_args!("the record log ends in a cut-off entry; replaying what precedes it"));
    }
    let live = record::live(&entries);
    let mut channels: HashMap<Owner, ChannelState> = HashMap::new();
    let mut failed = 0;
    for (owner, issued, raw) in &live {
        // each process's records go into its own state, bound to its process
        // id: the process finds them when it reconnects
        let channel = match channels.entry(*owner) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let make = || Tenant::new(shared.library.name, owner.process, owner.pid).on_departure(departure::depart);
                let Some(tenant) = shared.tenants.prebind(owner.process, owner.pid, make) else {
                    failed += 1;
                    shared.log(format_args!(
                        "a recorded call of process {} is not replayed: the process has exited, or its number is another's",
                        owner.pid
                    ));
                    continue;
                };
                e.insert(ChannelState::new(tenant, shared.max_staged))
            }
        };
        let result = Message::decode(raw).map_err(malformed).and_then(|message| {
            let arrival = Arrival { raw, region: None, rebind: Some(issued.iter().copied().collect()) };
            handle_call(shared, channel, &message, u64::MAX, arrival)
        });
        if let Err((_, text)) = result {
            failed += 1;
            shared.log(format_args!("a recorded call failed to replay: {text}"));
        }
    }
    shared.log(format_args!("replayed {} recorded calls ({failed} failed)", live.len()));
}

impl CallbackHost for Shared {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn registrations(&self) -> &Mutex<Registrations> {
        &self.registrations
    }

    fn handle_id(&self, process: u64, object: u64, kind: u32) -> Result<u64, String> {
        let tenant = self.tenants.get(process).ok_or("the guest process left")?;
        let id = lock(&tenant.handles).insert(object as usize, kind).map_err(|e| e.to_string());
        id
    }

    fn log(&self, message: std::fmt::Arguments<'_>) {
        Shared::log(self, message);
    }
}

/// What a generated trampoline calls: runs plan callback `callback` with
/// the raw words the vendor library passed, and returns the raw result.
pub fn callback(library: &'static ServerLibrary, callback: u32, args: &[u64]) -> u64 {
    match SERVER.get() {
        Some(shared) => server_callbacks::run(shared.as_ref(), callback, args),
        None => {
            log(library.name, format_args!("a callback arrived before the server started; it returns 0"));
            0
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the server: `SERVER --socket PATH [--library PATH]`. Returns the
/// process exit code.
const USAGE: &str = "--socket PATH [--library PATH] [--record LOG] [--replay LOG] [--max-staged BYTES]";

/// How a server runs (its command line).
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// The vendor library to load instead of the spec's.
    pub vendor: Option<String>,
    /// Append the calls to replay (`obj_record`) to this log.
    pub record: Option<String>,
    /// Before serving, replay this log (written by another server's
    /// `record`): the guest's objects are re-created with the ids it holds.
    pub replay: Option<String>,
    /// Most bytes of buffers too large for one message that one channel
    /// may hold staged at once (default [`DEFAULT_MAX_STAGED`], 16 GiB).
    pub max_staged: Option<u64>,
}

pub fn main(library: &'static ServerLibrary) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut socket = None;
    let mut options = ServeOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--socket" => socket = it.next().cloned(),
            "--library" => options.vendor = it.next().cloned(),
            "--record" => options.record = it.next().cloned(),
            "--replay" => options.replay = it.next().cloned(),
            "--max-staged" => match it.next().and_then(|n| n.parse().ok()) {
                Some(n) => options.max_staged = Some(n),
                None => {
                    log(library.name, format_args!("--max-staged takes a number of bytes (usage: {USAGE})"));
                    return std::process::ExitCode::from(2);
                }
            },
            "--help" | "-h" => {
                println!("usage: {} {USAGE}", library.name);
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                log(library.name, format_args!("unknown argument `{other}` (usage: {USAGE})"));
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(socket) = socket else {
        log(library.name, format_args!("--socket PATH is required"));
        return std::process::ExitCode::from(2);
    };
    match serve(library, &socket, &options) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            log(library.name, format_args!("{e}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Listens on `socket` and serves every channel that connects, each on its
/// own thread, until the process is stopped.
pub fn serve(library: &'static ServerLibrary, socket: &str, options: &ServeOptions) -> Result<(), String> {
    let mut shared = Shared::new(library, options.vendor.as_deref())?;
    if let Some(max) = options.max_staged {
        shared.max_staged = max;
    }
    let replay = match &options.replay {
        Some(path) => Some(std::fs::read(path).map_err(|e| format!("cannot read the record log {path}: {e}"))?),
        None => None,
    };
    if let Some(path) = &options.record {
        let log = RecordLog::create(Path::new(path)).map_err(|e| format!("cannot create the record log {path}: {e}"))?;
        shared.recorder = Some(Mutex::new(log));
    }
    let shared = Arc::new(shared);
    if SERVER.set(Arc::clone(&shared)).is_err() {
        return Err("one process serves one API server".into());
    }
    if let Some(bytes) = replay {
        replay_log(&shared, &bytes);
    }
    let listener = listen_at(socket)?;
    shared.log(format_args!("serving {} on {socket}", shared.plan.api.name));
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let serving = Arc::clone(&shared);
                // named, so that `top -H` and the benchmarks' CPU accounting
                // tell a connection's thread from the vendor's own
                let spawned = std::thread::Builder::new().name("cava-channel".into()).spawn(move || serve_channel(&serving, stream));
                if let Err(e) = spawned {
                    shared.log(format_args!("cannot start a thread for a new connection: {e}"));
                }
            }
            Err(e) => shared.log(format_args!("accept failed: {e}")),
        }
    }
    Ok(())
}

/// A listener at `socket`, whose path appears only once it listens: bound
/// under a temporary name and renamed into place. `bind` creates the path
/// before `listen`, and a guest (or a test) that connects in between is
/// refused; a rename is atomic.
fn listen_at(socket: &str) -> Result<UnixListener, String> {
    let temporary = format!("{socket}.{}", std::process::id());
    let _ = std::fs::remove_file(&temporary);
    let Ok(listener) = UnixListener::bind(&temporary) else {
        // (a path near the length limit has no room for the suffix)
        let _ = std::fs::remove_file(socket);
        return UnixListener::bind(socket).map_err(|e| format!("cannot listen on {socket}: {e}"));
    };
    if let Err(e) = std::fs::rename(&temporary, socket) {
        let _ = std::fs::remove_file(&temporary);
        return Err(format!("cannot listen on {socket}: {e}"));
    }
    Ok(listener)
}
