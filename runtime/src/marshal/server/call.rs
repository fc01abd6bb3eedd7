//! Serving one call: decode and check its arguments, call the vendor
//! library, then release, record and reply as the call's outcome says.

use super::*;
use crate::marshal::callbacks::Ends;
use crate::marshal::server_callbacks::release_coupled;

/// What a call comes with besides its message.
pub(super) struct Arrival<'a> {
    /// The message's bytes, for the record log.
    pub(super) raw: &'a [u8],
    pub(super) region: Option<&'a dyn SharedRegion>,
    /// Replaying: the ids the recorded call issued.
    pub(super) rebind: Option<VecDeque<u64>>,
}

// never inlined: the one place a profile (`bench/opencl/instructions.sh`)
// finds a call's whole cost on the server, also in generated servers built
// with link-time optimization
#[inline(never)]
pub(super) fn handle_call<'a>(
    shared: &'a Shared,
    channel: &mut ChannelState,
    message: &Message<'a>,
    max: u64,
    arrival: Arrival<'a>,
) -> Result<Option<Vec<u8>>, Refusal> {
    if let Some(served) = super::lean::serve(shared, channel, message, max) {
        return served;
    }
    let mut once = SmallVec::new();
    let result = run_call(shared, channel, message, max, arrival, &mut once);
    if !once.is_empty() {
        // the call failed or was refused (or left a `coupled` one without its
        // object): the library will never call them
        release_unfired(&shared.registrations, &once, &|m| shared.log(m));
    }
    result
}

/// Removes the kept buffer at `key` if it still bears the mark `serial`
/// and no other call in flight pins it (see `Retained`); `own`: this
/// call's pins.
fn take_kept(tenant: &Tenant, key: u64, serial: u64, own: u32) -> Option<Retained> {
    let mut retained = lock(&tenant.retained);
    match retained.get(&key) {
        Some(r) if r.may_free(serial, own) => retained.remove(&key),
        _ => None,
    }
}

/// What the server kept for a handle a call deallocated: kept buffers
/// coupled to it (and their registry records); the record log notes its
/// end. Its metadata goes after the call's statements, which write to it
/// (a release's count) and would make it again. A coupled buffer that
/// another call in flight has in hand (see `Retained::pins`: a call that
/// took it over for another object, or hands it to the vendor again) is
/// not freed under it: it stays, and the log says so.
pub(super) fn forget_deallocated(shared: &Shared, tenant: &Tenant, id: u64) {
    let (freed, pinned) = take_coupled(&mut lock(&tenant.retained), id);
    if pinned > 0 {
        shared.log(format_args!("{pinned} kept buffers coupled to a released object are in another call's hands; they are not freed"));
    }
    let mut registries = lock(&tenant.kept_registries);
    for (key, _) in freed {
        registries.forget(key);
    }
    shared.record(tenant, Entry::Forget(id));
    release_coupled(&shared.registrations, tenant.process, id, &|m| shared.log(m));
}

/// The handles a call deallocates: releasing from before the vendor call
/// (see `HandleTable::begin_release`) until its outcome ends them, or makes
/// them live again, also when the call is refused before it is made.
struct Releasing<'t> {
    handles: &'t Mutex<HandleTable>,
    ids: SmallVec<[u64; 1]>,
}

impl Releasing<'_> {
    /// The vendor call that may free the objects starts: they no longer
    /// keep their ids (see `HandleTable::release_starts`).
    fn starts(&self) {
        if !self.ids.is_empty() {
            let mut handles = lock(self.handles);
            for id in &self.ids {
                handles.release_starts(*id);
            }
        }
    }

    /// Ends the handles (the call succeeded) and returns them.
    fn finish(&mut self) -> SmallVec<[u64; 1]> {
        let ids = std::mem::take(&mut self.ids);
        if !ids.is_empty() {
            let mut handles = lock(self.handles);
            for id in &ids {
                handles.finish_release(*id);
            }
        }
        ids
    }

    fn abort(&mut self) {
        if !self.ids.is_empty() {
            let mut handles = lock(self.handles);
            for id in self.ids.drain(..) {
                handles.abort_release(id);
            }
        }
    }
}

impl Drop for Releasing<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            self.abort();
        }
    }
}

/// The `once` and `coupled` callback registrations a call made; it empties
/// the list when the vendor call succeeds (but for `coupled` ones left
/// without an object, which go as the others would with a failed call).
pub(super) type OnceRegistrations = SmallVec<[u64; 1]>;

pub(super) fn run_call<'a>(
    shared: &'a Shared,
    channel: &mut ChannelState,
    message: &Message<'a>,
    max: u64,
    arrival: Arrival<'a>,
    once: &mut OnceRegistrations,
) -> Result<Option<Vec<u8>>, Refusal> {
    let Arrival { raw, region, rebind } = arrival;
    let plan = &shared.plan;
    let tenant: &Tenant = &channel.tenant;
    let header = *message.header();
    let id = header.function;
    let f: &Function =
        plan.functions.get(id as usize).ok_or_else(|| (ErrorCode::UnknownFunction, format!("no function {id} in this spec")))?;
    let address = shared.address(id as usize).ok_or_else(|| (ErrorCode::UnknownFunction, format!("{} is not served", f.name)))?;
    let is_async = matches!(f.mode, CallMode::Async { .. });
    if header.flags.contains(crate::wire::Flags::ASYNC) != is_async {
        return Err(malformed("the call's async flag disagrees with the spec"));
    }
    let shapes = &shared.slots[id as usize];
    let n = f.params.len();
    // the call's uploads; results of an earlier call nobody fetched go
    channel.staging.begin_call(header.call_id);
    let staging = std::mem::replace(&mut channel.staging, Staging::new(shared.max_staged));
    let mut decoder = Decoder {
        plan,
        frame: Frame::new(shared, tenant, *message, region, rebind),
        outs: Vec::new(),
        release: Vec::new(),
        claim: None,
        max,
        spare: std::mem::take(&mut channel.spare),
        staging,
        staged_bytes: 0,
        uses: Uses::new(shared, tenant, &channel.in_hand),
    };

    // 1. what every slot holds, as expressions see it
    let mut scalars = message.scalars();
    let mut values: PerSlot<V> = SmallVec::with_capacity(shapes.len());
    let mut descriptors: PerSlot<(usize, BufferRef<'_>)> = SmallVec::new();
    let mut keys: PerSlot<(usize, u64)> = SmallVec::new();
    for (i, shape) in shapes.iter().enumerate() {
        let ty = if i < n { &f.params[i].ty } else { &f.contextual[i - n].ty };
        let position = shared.offsets[id as usize][i];
        let v = match shape {
            SlotShape::Void => V::Int(0),
            SlotShape::Buffer => {
                let d = scalars.buffer().map_err(malformed)?;
                keys.push((i, message.buffer_key_at(position).map_err(malformed)?));
                descriptors.push((i, d));
                provisional(d)
            }
            SlotShape::Int { size, .. } | SlotShape::Float { size } => V::from_raw(scalar(&mut scalars, *size).map_err(malformed)?, ty),
            SlotShape::Word | SlotShape::Handle => V::Ptr(scalars.u64().map_err(malformed)?),
        };
        values.push(v);
    }
    scalars.finish().map_err(malformed)?;
    // arguments are `values[..n]`, contextual arguments the rest

    // a retain or release of an object: the only one on it from its
    // conditions to its statements (see `object_steps`)
    let step = tenant.steps.enter(shared.stepped[id as usize].iter().map(|&p| values[p as usize].as_u64()));

    // 2. translate and check, in order
    let mut raws: PerSlot<u64> = filled(0, n);
    let mut leaves: PerSlot<Option<&Leaf>> = filled(None, shapes.len());
    // the registration each userdata argument stands for
    let mut userdata: PerSlot<Option<u64>> = filled(None, n);
    // `coupled` registrations, tied to their objects if the call succeeds
    let mut coupled: SmallVec<[(u64, &Lifetime); 1]> = SmallVec::new();
    // handles passed in that the call is recorded with (`obj_record`)
    let mut record_objects = Vec::new();
    let mut releasing = Releasing { handles: &tenant.handles, ids: SmallVec::new() };
    for i in 0..shapes.len() {
        let (ty, value) = if i < n { (&f.params[i].ty, &f.params[i].value) } else { (&f.contextual[i - n].ty, &f.contextual[i - n].value) };
        let v = values[i];
        decoder.claim = if i < n {
            None
        } else {
            registry_claim(plan, &f.contextual[i - n].init, &Env::new(&values[..n], &values[n..]), &mut decoder.frame)
        };
        let env = || Env { this: Some((v, None)), ..Env::new(&values[..n], &values[n..]) };
        let leaf = match value {
            Value::Leaf(leaf) => leaf,
            Value::If { .. } => select(plan, value, &env(), &mut decoder.frame).map_err(malformed)?,
        };
        leaves[i] = Some(leaf);
        if leaf.obj_record && matches!(leaf.kind, Kind::Handle { .. }) && v.as_u64() != 0 {
            record_objects.push(v.as_u64());
        }
        let raw = match (&leaf.kind, shapes[i]) {
            (Kind::Handle { kind }, _) if leaf.deallocate && i < n && v.as_u64() != 0 => {
                // unusable from now on: the vendor may reuse the address
                // as soon as it frees the object, before the call returns;
                // an object the process did not create is the library's,
                // and its handle stays (see `handles`)
                let mut handles = lock(&tenant.handles);
                if handles.is_owned(v.as_u64()) {
                    let object = handles.begin_release(v.as_u64(), *kind).map_err(handle_error)?;
                    releasing.ids.push(v.as_u64());
                    object as u64
                } else {
                    decoder.uses.take(&handles, v.as_u64(), *kind).map_err(handle_error)?
                }
            }
            (Kind::Handle { kind }, _) => decoder.handle(v.as_u64(), *kind)?,
            (Kind::Callback { callback }, _) if v.as_u64() != 0 => {
                let Some(callback) = *callback else {
                    return Err(malformed("a callback whose type has no `callback` declaration in the spec cannot be forwarded"));
                };
                let trampoline = (shared.library.trampoline)(callback);
                let mut registrations = lock(&shared.registrations);
                if trampoline == 0 || !registrations.has_route(tenant.process) {
                    return Err(malformed("a callback from a guest process without a callback route"));
                }
                let id = match Ends::of(&leaf.lifetime) {
                    Ends::WithProcess => registrations.register(tenant.process, v.as_u64(), callback),
                    ends => {
                        let id = registrations.register_own(tenant.process, v.as_u64(), callback, ends);
                        once.push(id);
                        if ends == Ends::WithObject {
                            coupled.push((id, &leaf.lifetime));
                        }
                        id
                    }
                };
                if let Some(u) = userdata_of(plan, header.function, i) {
                    userdata[u] = Some(id);
                }
                trampoline as u64
            }
            (Kind::Userdata { .. }, _) => 0,
            (Kind::Buffer { size, element }, SlotShape::Buffer) => {
                let d = descriptors.iter().find(|(j, _)| *j == i).map(|(_, d)| *d).unwrap_or(BufferRef::Null);
                let key = keys.iter().find(|(j, _)| *j == i).map_or(0, |(_, k)| *k);
                let addr = decoder.buffer(&env(), leaf, d, key, size, pointee(&leaf.ty), element)?;
                values[i] = V::Ptr(addr);
                addr
            }
            (Kind::Opaque, SlotShape::Buffer) if !matches!(leaf.ty, Ty::Record(_)) => {
                // a word in a buffer slot: the key of a null descriptor
                keys.iter().find(|(j, _)| *j == i).map_or(0, |(_, k)| *k)
            }
            (_, SlotShape::Buffer) => {
                // a struct passed by value: its bytes, as they came
                let d = descriptors.iter().find(|(j, _)| *j == i).map(|(_, d)| *d).unwrap_or(BufferRef::Null);
                match d {
                    BufferRef::Inline(bytes) if bytes.len() as u64 == plan.size_of(ty) => bytes.as_ptr() as u64,
                    _ => return Err(malformed("a struct argument of the wrong size")),
                }
            }
            _ => v.to_raw(ty),
        };
        if f.replaced_in_guest && matches!(leaf.kind, Kind::Opaque) && matches!(leaf.ty, Ty::Ptr(_)) && raw != 0 {
            // a function the guest replaces need not describe its values, so
            // an undescribed pointer would reach the vendor as a raw address
            return Err(malformed(format!(
                "`{}` is replaced in the guest and its argument `{}` is an undescribed pointer: the server does not pass it on",
                f.name,
                if i < n { f.params[i].name.as_str() } else { f.contextual[i - n].name.as_str() }
            )));
        }
        if i < n {
            raws[i] = raw;
        }
    }

    for (raw, id) in raws.iter_mut().zip(&userdata) {
        if let Some(id) = id {
            *raw = *id;
        }
    }

    // 3. the call; a release of an object another call in flight uses
    // waits for it, and answers as the release will (see `in_use`)
    let mut deferred = None;
    if let [released] = releasing.ids[..] {
        if decoder.uses.defer(id, released, &raws)? {
            releasing.ids.clear();
            deferred = Some(released);
        }
    } else if releasing.ids.iter().any(|r| tenant.holdings.in_use(*r)) {
        return Err((ErrorCode::ServerFailure, format!("{} releases objects other calls in flight use", f.name)));
    }
    let ret_raw = if deferred.is_some() {
        plan.api.success as u64
    } else {
        releasing.starts();
        let call_region = decoder.frame.process_region.as_ref();
        calling_for(tenant.process, || {
            process_memory::with_call_region(call_region, || native::call(shared.library.dispatch, id, address, &raws))
        })
    };

    // 4. results
    let (params, contextual) = values.split_at(n);
    let env = Env::new(params, contextual);
    let ret_leaf = select(plan, &f.return_value, &env, &mut decoder.frame).map_err(malformed)?;
    let mut ret = V::from_raw(ret_raw, &f.ret);
    if let Kind::Handle { kind } = ret_leaf.kind {
        ret = V::Ptr(decoder.frame.issue(ret_raw, kind, ret_leaf.allocate)?);
    }
    // a buffer the vendor returned (a string it owns): copied into the reply
    let mut ret_bytes = None;
    if let Ty::Record(r) = f.ret {
        // a struct returned by value, boxed by the dispatcher
        let (size, align) = plan.records.get(r as usize).map_or((0, 1), |r| (r.size, r.align));
        ret_bytes = Some(native::take_boxed(ret_raw, size, align));
    } else if let Kind::Buffer { size, .. } = &ret_leaf.kind {
        if ret_raw != 0 {
            let env = Env { this: Some((V::Ptr(ret_raw), None)), ..env };
            decoder.frame.vendor_reads = true;
            let count = eval(plan, size, &env, &mut decoder.frame);
            decoder.frame.vendor_reads = false;
            let len = byte_len(count.map_err(malformed)?.as_int(), stride(plan, &ret_leaf.ty), max)
                .ok_or_else(|| malformed("a returned buffer over the limit"))?;
            let mut bytes = vec![0u8; len as usize];
            native::read_vendor(ret_raw, &mut bytes);
            ret_bytes = Some(bytes);
        }
    }
    let returns_status = f.ret == plan.api.error_type;
    let success = !returns_status || ret.as_int() == plan.api.success;
    // (a deferred release's metadata goes as an ended handle's: after the statements)
    let mut ended: SmallVec<[u64; 1]> = deferred.into_iter().collect();
    if success {
        once.clear();
        // (the checks here keep calls that neither couple nor release cheap)
        if !coupled.is_empty() {
            couple(shared, tenant, &coupled, (ret, ret_leaf), &env, &mut decoder.frame, once);
        }
        if !releasing.ids.is_empty() {
            ended = releasing.finish();
            for &id in &ended {
                forget_deallocated(shared, tenant, id);
            }
        }
    } else if !releasing.ids.is_empty() {
        releasing.abort();
    }
    let mut outs = Vec::with_capacity(decoder.outs.len());
    let mut pointed: Vec<(u32, u64, Vec<u8>)> = Vec::new();
    for out in &decoder.outs {
        let mut bytes = match out.place {
            Place::Staged(index) => {
                // too large for the reply: kept for the guest to fetch
                let bytes = decoder.frame.shadows.get_mut(index).map(std::mem::take).unwrap_or_default();
                outs.push(OutBytes::Staged(bytes));
                continue;
            }
            Place::Shared | Place::Missing => {
                outs.push(OutBytes::Nothing);
                continue;
            }
            Place::Shadow(index) if out.walk.is_none() => {
                // sent from the shadow itself, nested pointers blanked in place
                if let Some(shadow) = decoder.frame.shadows.get_mut(index) {
                    blank(shadow, &out.pointers);
                }
                outs.push(OutBytes::Shadow(index));
                continue;
            }
            Place::Shadow(index) => decoder.frame.shadows.get(index).map(|s| s.to_vec()).unwrap_or_default(),
            Place::Retained(key) => match decoder.release.iter().find(|(k, _)| *k == key) {
                // freed by this call: its bytes move into the reply; gone
                // already (another call that found it too brought it back
                // first), or another call's now, it is answered as one that
                // was gone on arrival
                Some(&(_, serial)) => {
                    let Some(kept) = take_kept(tenant, key, serial, decoder.frame.pins_of(key)) else {
                        outs.push(OutBytes::Nothing);
                        continue;
                    };
                    let mut bytes = kept.bytes.into_vec();
                    bytes.truncate(out.len as usize);
                    bytes
                }
                None => {
                    lock(&tenant.retained).get(&key).map(|r| r.bytes[..(out.len as usize).min(r.bytes.len())].to_vec()).unwrap_or_default()
                }
            },
        };
        if let Some((ty, stride, element)) = out.walk {
            let mut walk = OutWalk { pointers: &out.pointers, max, pointed: Vec::new() };
            translate_out(shared, &env, &mut decoder.frame, &mut bytes, ty, stride, element, &mut walk)?;
            let index = outs.len() as u32;
            pointed.extend(walk.pointed.into_iter().map(|(at, data)| (index, at, data)));
        }
        blank(&mut bytes, &out.pointers);
        outs.push(OutBytes::Owned(bytes));
    }
    let created = if success { &[][..] } else { &decoder.frame.created[..] };
    if !decoder.release.is_empty() || !created.is_empty() {
        let mut retained = lock(&tenant.retained);
        let mut registries = lock(&tenant.kept_registries);
        for &(key, serial) in decoder.release.iter().chain(created) {
            if retained.get(&key).is_some_and(|r| r.may_free(serial, decoder.frame.pins_of(key))) {
                retained.remove(&key);
                registries.forget(key);
            }
        }
    }
    // statements record what a call did: a failed call did nothing (the
    // guest skips them too; an asynchronous call's it ran when queued)
    if success {
        // `return_value` is the result as the guest gets it: a handle's id
        let env = Env::after_call(params, contextual, ret);
        let _serial = (!f.actions.is_empty()).then(|| lock(&tenant.statements));
        for action in &f.actions {
            eval(plan, action, &env, &mut decoder.frame).map_err(malformed)?;
        }
    }
    if !ended.is_empty() {
        // after the statements (see `forget_deallocated`): each ended
        // object's metadata kept a block per object for the process's life
        let mut metadata = lock(&tenant.metadata);
        for id in ended {
            metadata.remove(id);
        }
    }
    drop(step);
    if success && shared.recorded[id as usize] && shared.recorder.is_some() {
        if decoder.frame.used_region {
            shared.log(format_args!("a call of {} used the zero-copy region or staged buffers and is not recorded for replay", f.name));
        } else {
            let issued = std::mem::take(&mut decoder.frame.issued);
            record_objects.extend(issued.iter().copied().filter(|id| *id != 0));
            shared.record(tenant, Entry::Record { objects: record_objects, issued, message: raw.to_vec() });
        }
    }
    let shadows = std::mem::take(&mut decoder.frame.shadows);
    let message = if let CallMode::Async { .. } = f.mode {
        if !success {
            channel.deferred.get_or_insert(ret.as_int());
        }
        None
    } else {
        if returns_status && success {
            if let Some(code) = channel.deferred.take() {
                ret = V::Int(code);
            }
        }
        decoder.staging.end_call();
        // out buffers go in the reply while they fit in one message with
        // room for the rest; the others are staged for the guest to fetch
        // (many kept buffers brought back by one call can exceed a message)
        let mut room = max.saturating_sub(STAGE_HEADROOM);
        let mut fits = |len: usize| {
            let fit = len as u64 <= room;
            if fit {
                room -= len as u64;
            }
            fit
        };
        let outs: Vec<ReplyOut<'_>> = outs
            .into_iter()
            .map(|o| match o {
                OutBytes::Nothing => ReplyOut::Null,
                OutBytes::Shadow(index) => match shadows.get(index) {
                    None => ReplyOut::Null,
                    Some(s) if fits(s.len()) => ReplyOut::Bytes(s),
                    Some(s) => ReplyOut::Staged { index: decoder.staging.keep_result(header.call_id, s.to_vec()), len: s.len() as u64 },
                },
                OutBytes::Owned(bytes) if fits(bytes.len()) => ReplyOut::Owned(bytes),
                OutBytes::Owned(bytes) | OutBytes::Staged(bytes) => {
                    let len = bytes.len() as u64;
                    ReplyOut::Staged { index: decoder.staging.keep_result(header.call_id, bytes), len }
                }
            })
            .collect();
        let buf = std::mem::take(&mut channel.reply_buf);
        let answer = Answer { ret, ret_bytes: ret_bytes.as_deref(), outs: &outs, pointed: &pointed };
        Some(reply(shared, id, &header, answer, buf).map_err(malformed)?)
    };
    decoder.staging.end_call();
    // keep the largest shadows for the channel's next calls; staged ones
    // (which may be gigabytes) go back to the staging area, within its limit
    let mut spare = decoder.spare;
    if !shadows.is_empty() {
        for shadow in shadows {
            if shadow.capacity() as u64 <= max {
                spare.push(shadow);
            } else {
                decoder.staging.recycle(shadow);
            }
        }
        spare.sort_unstable_by_key(|b| std::cmp::Reverse(b.capacity()));
        spare.truncate(SPARE_SHADOWS);
    }
    channel.staging = decoder.staging;
    channel.spare = spare;
    Ok(message)
}

/// Ties the `coupled` callback registrations of a call that succeeded to
/// the handle ids of their objects (the returned handle, or an argument's);
/// one left without an object (the call returned NULL, as a failed
/// `clCreateContext` does) goes into `unfired`, released with the call.
fn couple(
    shared: &Shared,
    tenant: &Tenant,
    coupled: &[(u64, &Lifetime)],
    (ret, ret_leaf): (V, &Leaf),
    env: &Env<'_>,
    frame: &mut Frame<'_>,
    unfired: &mut OnceRegistrations,
) {
    for (id, lifetime) in coupled {
        let handle = match lifetime {
            Lifetime::CoupledToReturn if matches!(ret_leaf.kind, Kind::Handle { .. }) => ret.as_u64(),
            Lifetime::Coupled(owner) => eval(&shared.plan, owner, env, frame).map_or(0, V::as_u64),
            _ => 0,
        };
        if handle == 0 {
            unfired.push(*id);
        } else {
            lock(&shared.registrations).couple(tenant.process, handle, *id);
        }
    }
}

/// A call's per-slot temporaries: on the stack for functions of up to 16
/// parameters, so that a call allocates nothing it does not keep (seven
/// small heap allocations a call were a third of the server's own cost).
pub(super) type PerSlot<T> = SmallVec<[T; 16]>;

/// `n` copies of `x`, on the stack up to 16 (`resize` pushes one by one).
pub(super) fn filled<T: Copy>(x: T, n: usize) -> PerSlot<T> {
    if n <= 16 {
        SmallVec::from_buf_and_len([x; 16], n)
    } else {
        smallvec::smallvec![x; n]
    }
}

/// The registry entry a contextual argument takes its buffers from, when
/// it is `get_bufs(registry, key)` (the key as the server sees it); a key
/// the server cannot evaluate claims nothing.
pub(super) fn registry_claim(plan: &Plan, init: &crate::plan::Expr, env: &Env<'_>, frame: &mut Frame<'_>) -> Option<(u32, u64)> {
    let ExprKind::Library(LibraryFn::GetBufs, args) = &init.kind else { return None };
    let (Some(ExprKind::Registry(registry)), Some(key)) = (args.first().map(|a| &a.kind), args.get(1)) else { return None };
    let key = eval(plan, key, env, frame).map_or(u64::MAX, V::as_u64);
    Some((*registry, key))
}

/// A scalar argument of `size` bytes, widened to a word.
#[inline]
pub(super) fn scalar(scalars: &mut crate::wire::Scalars<'_>, size: u8) -> Result<u64, crate::wire::WireError> {
    Ok(match size {
        1 => u64::from(scalars.u8()?),
        2 => u64::from(scalars.u16()?),
        4 => u64::from(scalars.u32()?),
        _ => scalars.u64()?,
    })
}

/// How many shadows a channel keeps for reuse.
pub(super) const SPARE_SHADOWS: usize = 4;

/// Where an out buffer's bytes are when the reply is written.
pub(super) enum OutBytes {
    Nothing,
    Shadow(usize),
    Owned(Vec<u8>),
    /// Staged for the guest to fetch.
    Staged(Vec<u8>),
}

/// Zeroes the nested pointers of an out buffer: the guest restores its own.
pub(super) fn blank(bytes: &mut [u8], pointers: &[u64]) {
    for at in pointers {
        if let Some(slot) = bytes.get_mut(*at as usize..*at as usize + 8) {
            slot.fill(0);
        }
    }
}
