//! What the server does when a guest process has gone: it brings back the
//! reads the process left pending, releases its vendor objects, and frees
//! the buffers those reads wrote into, in that order.
//!
//! A process that exits (or crashes) without releasing its objects would
//! otherwise leave them, and the device memory behind them, with the vendor
//! library for as long as the server runs. For each handle type the spec
//! gives a `release_at_exit` function, the server calls it on each object
//! the process still holds, newest first, as many times as the spec's
//! `times` says (the process's own retains, for reference-counted APIs).
//! Only objects the process created are released (owned handles, see
//! `handles`): a root device or a primary context it was handed is the
//! library's.
//!
//! The count is read from the metadata the server keeps for the process,
//! which only the server's own statements write, after calls that
//! succeeded: a guest cannot make the server release more than it holds
//! except by retaining more, which the vendor counted too.
//!
//! A process that leaves with asynchronous reads pending (OpenCL's
//! non-blocking `clEnqueueReadBuffer` before its `clFinish`) leaves the
//! buffers the server kept for them (`lifetime(manual)`), which the vendor
//! may still be writing: freeing one before the vendor is done would let
//! it write into freed memory, and never freeing any lets a tenant grow
//! the server at will. Releasing the objects does not settle it: OpenCL's
//! `clReleaseCommandQueue` only flushes the queue, and its commands run
//! after it returns. So, first, while the process's handles still name
//! its objects, the server makes the call a guest makes to bring those
//! buffers back: for each registry entry (`buf_registry`, key) that holds
//! kept buffers, the registry's drainer ([`Plan::drainers`], `clFinish`
//! on the queue) on the key's object. A drainer that returns success means
//! what it means when a live guest calls it, and what the server already
//! relies on to free a buffer the guest brings back: the vendor is done
//! with every buffer the entry holds. Those buffers are freed last, after
//! the objects are released (nothing the vendor does at release can touch
//! them once their reads have completed, and the later the safer). A
//! buffer no successful drainer covered (its registry has none, its key's
//! object is gone or of another type, the call failed) stays allocated,
//! leaked rather than freed under the vendor, and the tenant's last log
//! line counts it. A drainer that never returns (a read gated by a user
//! event the process never set) holds that departure, and the objects and
//! buffers stay: a live guest's `clFinish` would hold its channel's thread
//! the same way.
//!
//! A departed process cannot do what its pending reads may wait for: an
//! OpenCL read gated by a user event the process would have set later
//! waits forever, and so would the drain. So before draining, the server
//! calls each function the spec marks `abandon_at_exit` once on each of
//! the process's live objects of its handle type (OpenCL's
//! `cava_clSetUserEventStatus_abandon`, which sets a user event still
//! pending to an error status: the commands waiting for it end without
//! running, as OpenCL defines, and `clFinish` returns). Only the
//! process's own objects, with 0 for the other arguments, as for
//! `release_at_exit`.

use std::collections::{HashMap, HashSet};

use super::{lock, Shared, SERVER};
use crate::handles::HandleKind;
use crate::marshal::eval::{eval, Env, EvalError, Host, V};
use crate::marshal::native;
use crate::marshal::tenants::Tenant;
use crate::plan::{Kind, LibraryFn, Plan, Ty, Value};

/// An object a process let go of whose release the server holds back until
/// the process leaves ([`release_at_departure`]).
#[derive(Debug)]
pub(in crate::marshal) struct Held {
    /// The release function, and the argument that takes the object.
    function: u32,
    param: u32,
    kind: HandleKind,
    object: usize,
}

/// For `replace_server` code of a function the spec gives as a release
/// (`release_at_exit`): instead of releasing `object` now, the server keeps
/// it until the calling process leaves, settles it then with the spec's
/// `abandon_at_exit` functions of its type, and releases it with
/// `function`. For an object the process can no longer reach but whose
/// pending state would hold the departure (an OpenCL user event released
/// before it was set: nothing can set it any more, and the commands it
/// gates, a read the departure must bring back among them, would wait for
/// ever). `false` (release it now) outside a call of a guest process.
pub fn release_at_departure(function: &str, object: usize) -> bool {
    let Some(shared) = SERVER.get() else { return false };
    let Some(tenant) = super::server_callbacks::caller().and_then(|process| shared.tenants.get(process)) else { return false };
    let plan = &shared.plan;
    let Some((id, f)) = plan.functions.iter().enumerate().find(|(_, f)| f.name == function) else { return false };
    let Some(release) = &f.release_at_exit else { return false };
    let Some(kind) = f.params.get(release.param as usize).and_then(|p| first_handle_kind(&p.value)) else { return false };
    lock(&tenant.held).push(Held { function: id as u32, param: release.param, kind, object });
    true
}

/// At most this many calls release one object: a count past it is a
/// corrupted or hostile figure, and the object is left after it.
const MAX_CALLS_PER_OBJECT: u64 = 1 << 20;

/// Which function releases each handle type at exit.
pub(super) fn releasers(plan: &Plan) -> HashMap<HandleKind, u32> {
    let mut releasers = HashMap::new();
    for (id, f) in plan.functions.iter().enumerate() {
        let Some(release) = &f.release_at_exit else { continue };
        let Some(param) = f.params.get(release.param as usize) else { continue };
        if let Some(kind) = first_handle_kind(&param.value) {
            releasers.entry(kind).or_insert(id as u32);
        }
    }
    releasers
}

fn first_handle_kind(value: &Value) -> Option<HandleKind> {
    match value {
        Value::Leaf(leaf) => match leaf.kind {
            Kind::Handle { kind } => Some(kind),
            _ => None,
        },
        Value::If { then, otherwise, .. } => first_handle_kind(then).or_else(|| first_handle_kind(otherwise)),
    }
}

/// The functions that settle each handle type's objects before the drain
/// (`abandon_at_exit`), in the spec's order.
pub(super) fn abandoners(plan: &Plan) -> HashMap<HandleKind, Vec<u32>> {
    let mut abandoners: HashMap<HandleKind, Vec<u32>> = HashMap::new();
    for (id, f) in plan.functions.iter().enumerate() {
        let Some(param) = f.abandon_at_exit.and_then(|p| f.params.get(p as usize)) else { continue };
        if let Some(kind) = first_handle_kind(&param.value) {
            abandoners.entry(kind).or_default().push(id as u32);
        }
    }
    abandoners
}

/// What `times` may read: the departed process's metadata, nothing else.
struct Departed<'a> {
    tenant: &'a Tenant,
    metadata_size: usize,
}

impl Host for Departed<'_> {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        if lock(&self.tenant.metadata).read(addr, dst) {
            Ok(())
        } else {
            Err(EvalError::OutOfBounds { addr, len: dst.len() as u64 })
        }
    }

    fn write(&mut self, _addr: u64, _src: &[u8]) -> Result<(), EvalError> {
        Err(EvalError::Unavailable("writing in `release_at_exit`"))
    }

    fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
        Ok(lock(&self.tenant.metadata).get_or_create(key, self.metadata_size))
    }

    fn library(&mut self, _function: LibraryFn, _args: &[V]) -> Result<V, EvalError> {
        Err(EvalError::Unavailable("library functions in `release_at_exit`"))
    }
}

/// Settles what `tenant`'s process left (see the module docs); the
/// tenant's drop runs it, and then counts what stays.
pub(in crate::marshal) fn depart(tenant: &Tenant) {
    let Some(shared) = SERVER.get() else { return };
    // the order matters: settled so that the drain can end, drained while
    // the handles name the objects, freed once the objects are released
    abandon(shared, tenant);
    let drained = drain(shared, tenant);
    release(shared, tenant);
    release_held(shared, tenant);
    free_drained(shared, tenant, drained);
}

/// Calls the `abandon_at_exit` functions on the process's own live objects
/// (see the module docs).
fn abandon(shared: &Shared, tenant: &Tenant) {
    if shared.abandoners.is_empty() {
        return;
    }
    let plan = &shared.plan;
    let mut objects: Vec<(usize, HandleKind)> = lock(&tenant.handles).owned_newest_first().into_iter().map(|(_, o, k)| (o, k)).collect();
    objects.extend(lock(&tenant.held).iter().map(|h| (h.object, h.kind)));
    let (mut calls, mut refused) = (0usize, 0usize);
    let mut functions: Vec<&str> = Vec::new();
    for (object, kind) in objects {
        let Some(abandoners) = shared.abandoners.get(&kind) else { continue };
        for &function in abandoners {
            let f = &plan.functions[function as usize];
            let (Some(address), Some(param)) = (shared.address(function as usize), f.abandon_at_exit) else { continue };
            let args = object_args(f, param as usize, object);
            calls += 1;
            if !call_succeeds(shared, function, address, &args) {
                refused += 1;
            }
            if !functions.contains(&f.name.as_str()) {
                functions.push(&f.name);
            }
        }
    }
    if calls > 0 {
        shared.log(format_args!(
            "guest process {} left objects the spec says how to settle: {calls} calls ({}; {} settled, {refused} had nothing to settle)",
            tenant.pid,
            functions.join(", "),
            calls - refused,
        ));
    }
}

/// What the drainers brought back: the kept buffers' keys, and the calls.
#[derive(Default)]
struct Drained {
    buffers: HashSet<u64>,
    calls: usize,
    failed: usize,
    /// The drainers called, by name, for the log.
    functions: Vec<String>,
}

/// Calls the registry's drainer on each key under which the process left
/// kept buffers (see the module docs).
fn drain(shared: &Shared, tenant: &Tenant) -> Drained {
    let mut drained = Drained::default();
    let plan = &shared.plan;
    // the calls to make, taken under the locks and made without them (the
    // vendor may call back while it runs the queue)
    let mut calls = Vec::new();
    {
        let registries = lock(&tenant.kept_registries);
        let handles = lock(&tenant.handles);
        for (registry, key, buffers) in registries.entries() {
            let Some(Some(function)) = shared.drainers.get(registry as usize) else { continue };
            let f = &plan.functions[*function as usize];
            let Some(kind) = f.params.first().and_then(|p| first_handle_kind(&p.value)) else { continue };
            // a key that no longer names an object of the process (released,
            // or another type) cannot be drained: its buffers stay
            let Ok(object) = handles.get(key, kind) else { continue };
            calls.push((*function, object as u64, buffers.to_vec()));
        }
    }
    calls.sort_unstable_by_key(|(function, object, _)| (*function, *object));
    for (function, object, buffers) in calls {
        if buffers.iter().all(|b| drained.buffers.contains(b)) {
            continue;
        }
        let f = &plan.functions[function as usize];
        let Some(address) = shared.address(function as usize) else { continue };
        let raw = native::call(shared.library.dispatch, function, address, &[object]);
        drained.calls += 1;
        if f.ret == plan.api.error_type && V::from_raw(raw, &f.ret).as_int() != plan.api.success {
            drained.failed += 1;
            continue;
        }
        if !drained.functions.contains(&f.name) {
            drained.functions.push(f.name.clone());
        }
        drained.buffers.extend(buffers);
    }
    drained
}

/// Frees the kept buffers the drainers brought back.
fn free_drained(shared: &Shared, tenant: &Tenant, drained: Drained) {
    if drained.calls == 0 {
        return;
    }
    let (mut buffers, mut bytes) = (0usize, 0usize);
    {
        let mut retained = lock(&tenant.retained);
        let mut registries = lock(&tenant.kept_registries);
        for key in &drained.buffers {
            if let Some(kept) = retained.remove(key) {
                buffers += 1;
                bytes += kept.bytes.len();
            }
            registries.forget(*key);
        }
    }
    let names = drained.functions.join(", ");
    shared.log(format_args!(
        "guest process {} left reads pending: brought back with {} calls ({}; {} failed); {buffers} kept buffers ({bytes} bytes) freed",
        tenant.pid,
        drained.calls,
        if names.is_empty() { "none succeeded" } else { &names },
        drained.failed,
    ));
}

fn release(shared: &Shared, tenant: &Tenant) {
    if shared.releasers.is_empty() {
        return;
    }
    let plan = &shared.plan;
    let metadata_size = plan.metadata_size();
    let live = lock(&tenant.handles).owned_newest_first();
    let (mut objects, mut calls, mut refused) = (0usize, 0u64, 0usize);
    let (mut freed, mut freed_bytes) = (0usize, 0usize);
    for (id, object, kind) in live {
        let Some(&function) = shared.releasers.get(&kind) else { continue };
        let f = &plan.functions[function as usize];
        let (Some(address), Some(release)) = (shared.address(function as usize), &f.release_at_exit) else { continue };
        let times = match &release.times {
            None => 1,
            Some(expr) => {
                let params = [V::Ptr(id)];
                let mut host = Departed { tenant, metadata_size };
                match eval(plan, expr, &Env::new(&params, &[]), &mut host) {
                    Ok(v) => v.as_int().clamp(0, i128::from(MAX_CALLS_PER_OBJECT)) as u64,
                    Err(e) => {
                        shared.log(format_args!("{}'s release count for a departed object failed ({e}); released once", f.name));
                        1
                    }
                }
            }
        };
        let args = object_args(f, release.param as usize, object);
        let refused_before = refused;
        for _ in 0..times {
            calls += 1;
            if !call_succeeds(shared, function, address, &args) {
                refused += 1;
                break;
            }
        }
        let _ = lock(&tenant.handles).remove(id, kind);
        lock(&tenant.metadata).remove(id);
        // the callbacks coupled to it end with it (the guest has gone: no message)
        lock(&shared.registrations).forget_coupled(tenant.process, id);
        if refused == refused_before {
            // and so do the buffers kept for it, as when a live process
            // releases it (one the library refused to release may still use them)
            let (n, bytes) = free_coupled(tenant, id);
            (freed, freed_bytes) = (freed + n, freed_bytes + bytes);
        }
        objects += 1;
    }
    if objects > 0 {
        shared.log(format_args!(
            "guest process {} left {objects} objects the spec says how to release: released with {calls} calls ({refused} refused by the library); \
             {freed} kept buffers coupled to them ({freed_bytes} bytes) freed",
            tenant.pid
        ));
    }
}

/// Releases the objects the process let go of that were held back until
/// now ([`release_at_departure`]), settled by `abandon` before the drain.
fn release_held(shared: &Shared, tenant: &Tenant) {
    let held = std::mem::take(&mut *lock(&tenant.held));
    if held.is_empty() {
        return;
    }
    let mut refused = 0;
    for h in &held {
        let f = &shared.plan.functions[h.function as usize];
        let Some(address) = shared.address(h.function as usize) else { continue };
        if !call_succeeds(shared, h.function, address, &object_args(f, h.param as usize, h.object)) {
            refused += 1;
        }
    }
    shared.log(format_args!(
        "guest process {} had let go of {} objects whose release waited for its departure: released ({refused} refused by the library)",
        tenant.pid,
        held.len()
    ));
}

/// Frees the kept buffers coupled to object `id`, which was released: how
/// many, and their bytes.
fn free_coupled(tenant: &Tenant, id: u64) -> (usize, usize) {
    let mut retained = lock(&tenant.retained);
    let keys: Vec<u64> = retained.iter().filter(|(_, r)| r.coupled == Some(id)).map(|(key, _)| *key).collect();
    if keys.is_empty() {
        return (0, 0);
    }
    let mut registries = lock(&tenant.kept_registries);
    let mut bytes = 0;
    for key in &keys {
        if let Some(kept) = retained.remove(key) {
            bytes += kept.bytes.len();
        }
        registries.forget(*key);
    }
    (keys.len(), bytes)
}

/// The arguments of a call the server makes for a departed process: the
/// object, and 0 for any other argument (a `replace_server` finds those).
fn object_args(f: &crate::plan::Function, param: usize, object: usize) -> Vec<u64> {
    let mut args = vec![0u64; f.params.len()];
    if let Some(arg) = args.get_mut(param) {
        *arg = object as u64;
    }
    args
}

/// Makes such a call; whether the library did not refuse it (a struct
/// result, boxed by the dispatcher, is freed).
fn call_succeeds(shared: &Shared, function: u32, address: usize, args: &[u64]) -> bool {
    let plan = &shared.plan;
    let f = &plan.functions[function as usize];
    let raw = native::call(shared.library.dispatch, function, address, args);
    if let Ty::Record(r) = f.ret {
        let (size, align) = plan.records.get(r as usize).map_or((0, 1), |r| (r.size, r.align));
        native::take_boxed(raw, size, align);
        true
    } else {
        f.ret != plan.api.error_type || V::from_raw(raw, &f.ret).as_int() == plan.api.success
    }
}
