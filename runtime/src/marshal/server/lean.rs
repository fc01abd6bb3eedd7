//! The lean path: serving a call whose values are scalars, handles and in
//! buffers sent inline in the message (plain bytes, or arrays of handle
//! ids), which keeps, registers, issues and records nothing. Most calls
//! of a call-intensive program are such calls (`clSetKernelArg`,
//! `clEnqueueNDRangeKernel` without an event), and the general path's
//! bookkeeping for what they never use (staging, shadows, out buffers,
//! releases, callbacks) was most of the server's own cost of each.
//!
//! The lean path does nothing the vendor or the guest could see before the
//! vendor call (it only reads the message, the handle table and the
//! process's metadata), so when anything about a call is not plain (a
//! buffer staged or in the zero-copy region, a forged handle, a size it
//! cannot evaluate, a malformed message) it returns `None` and the general
//! path serves the call from the start, with its checks, errors and log
//! lines. Which path served a call is therefore invisible to the guest.

use super::*;

/// Which functions of `plan` may take the lean path, by function id (see
/// [`LeanCall::of`]).
pub fn lean_calls(plan: &Plan) -> Result<Vec<bool>, String> {
    plan.functions.iter().map(|f| Ok(LeanCall::of(plan, f, &call_slots(f)?).is_some())).collect()
}

/// What the lean path knows of a function before its calls come.
pub(super) struct LeanCall {
    is_async: bool,
    /// The result is the API's status type (a failure is deferred or
    /// reported; success reports a deferred one).
    returns_status: bool,
    /// Bit `i`: argument `i` has one description, and it is lean (no
    /// condition to evaluate, nothing to check per call).
    fixed: u32,
}

impl LeanCall {
    /// Whether the calls of `f` may take the lean path: decided once, when
    /// the plan loads. Each argument needs at least one lean description;
    /// which one applies is known per call (`clEnqueueNDRangeKernel`'s
    /// `event` is lean when null), so a call whose selected description is
    /// not lean goes the general way.
    pub(super) fn of(plan: &Plan, f: &Function, shapes: &[SlotShape]) -> Option<LeanCall> {
        // (a call that takes a step on an object, `object_steps`, takes it
        // before its conditions are evaluated; the lean path takes none)
        let plain = f.contextual.is_empty()
            && f.actions.is_empty()
            && crate::marshal::object_steps::stepped_arguments(f).is_empty()
            && shapes.len() == f.params.len()
            && f.params.len() <= MAX_ARGS
            && !matches!(f.ret, Ty::Record(_))
            && matches!(&f.return_value, Value::Leaf(leaf) if leaf.kind == Kind::Opaque)
            && f.params.iter().zip(shapes).all(|(p, shape)| p.value.any_leaf(&|leaf| lean_leaf(&p.ty, leaf, *shape)));
        plain.then(|| LeanCall {
            is_async: matches!(f.mode, CallMode::Async { .. }),
            returns_status: f.ret == plan.api.error_type,
            fixed: f
                .params
                .iter()
                .zip(shapes)
                .enumerate()
                .filter(|(_, (p, shape))| matches!(&p.value, Value::Leaf(leaf) if lean_leaf(&p.ty, leaf, **shape)))
                .fold(0, |bits, (i, _)| bits | 1 << i),
        })
    }
}

/// Arguments a lean function may have (the width of [`LeanCall::fixed`]);
/// their per-call values live in fixed arrays on the stack.
const MAX_ARGS: usize = 16;

/// A value the lean path can pass on: it lives for the call only, and is
/// a scalar, a handle, or an in buffer the server need not keep, bring
/// back or translate beyond handle ids.
fn lean_leaf(param_ty: &Ty, leaf: &Leaf, shape: SlotShape) -> bool {
    if leaf.deallocate || leaf.zerocopy || leaf.lifetime != Lifetime::Call {
        return false;
    }
    match (&leaf.kind, shape) {
        // a null pointer's slot: the word is the descriptor's key
        (Kind::Opaque, SlotShape::Buffer) => !matches!(leaf.ty, Ty::Record(_)),
        (Kind::Opaque, _) => !matches!(param_ty, Ty::Record(_)),
        (Kind::Handle { .. }, shape) => shape != SlotShape::Buffer,
        (Kind::Buffer { element, .. }, SlotShape::Buffer) => {
            leaf.input && !leaf.output && !leaf.no_copy && (!needs_walk(element) || handle_ids(element, &leaf.ty).is_some())
        }
        _ => false,
    }
}

/// The handle kind of a buffer that is an array of handle ids.
fn handle_ids(element: &Value, ty: &Ty) -> Option<u32> {
    match (element, pointee(ty)) {
        (Value::Leaf(leaf), Ty::Ptr(_)) => match leaf.kind {
            Kind::Handle { kind } => Some(kind),
            _ => None,
        },
        _ => None,
    }
}

/// Handle ids a call's arrays may hold in all: translated objects live in
/// a fixed array on the stack, so their addresses stay put; a call with
/// more takes the general path.
const MAX_HANDLE_IDS: usize = 16;

/// Serves the call if it is lean; `None` when the general path must.
pub(super) fn serve(
    shared: &Shared,
    channel: &mut ChannelState,
    message: &Message<'_>,
    max: u64,
) -> Option<Result<Option<Vec<u8>>, Refusal>> {
    let header = *message.header();
    let id = header.function as usize;
    let lean = shared.lean.get(id)?.as_ref()?;
    if shared.recorded[id] && shared.recorder.is_some() {
        return None;
    }
    if header.flags.contains(crate::wire::Flags::ASYNC) != lean.is_async {
        return None;
    }
    let plan = &shared.plan;
    let f = &plan.functions[id];
    let address = shared.address(id)?;
    let tenant: &Tenant = &channel.tenant;
    let shapes = &shared.slots[id];
    let n = f.params.len();

    // 1. what every argument holds, as expressions see it
    let mut scalars = message.scalars();
    let mut values = [V::Int(0); MAX_ARGS];
    let mut descriptors = [BufferRef::Null; MAX_ARGS];
    for (i, shape) in shapes.iter().enumerate() {
        values[i] = match shape {
            SlotShape::Void => V::Int(0),
            SlotShape::Buffer => {
                let d = scalars.buffer().ok()?;
                descriptors[i] = d;
                provisional(d)
            }
            SlotShape::Int { size, .. } | SlotShape::Float { size } => V::from_raw(scalar(&mut scalars, *size).ok()?, &f.params[i].ty),
            SlotShape::Word | SlotShape::Handle => V::Ptr(scalars.u64().ok()?),
        };
    }
    scalars.finish().ok()?;

    // 2. translate and check, in order; the handles are in use until the
    // call ends (see `in_use`), also when the general path takes it over
    let mut uses = Uses::new(shared, tenant, &channel.in_hand);
    let mut host = LeanHost { shared, tenant, message: *message };
    let values = &mut values[..n];
    let mut raws = [0u64; MAX_ARGS];
    let mut objects = [0u64; MAX_HANDLE_IDS];
    let mut objects_used = 0;
    for i in 0..n {
        let v = values[i];
        let leaf = match &f.params[i].value {
            Value::Leaf(leaf) if lean.fixed & 1 << i != 0 => leaf,
            value => {
                let leaf = select(plan, value, &Env { this: Some((v, None)), ..Env::new(values, &[]) }, &mut host).ok()?;
                if !lean_leaf(&f.params[i].ty, leaf, shapes[i]) {
                    return None;
                }
                leaf
            }
        };
        let raw = match (&leaf.kind, shapes[i]) {
            (Kind::Handle { kind }, _) => handle(tenant, &mut uses, v.as_u64(), *kind)?,
            (Kind::Buffer { size, element }, SlotShape::Buffer) => {
                let addr = match descriptors[i] {
                    BufferRef::Null => 0,
                    BufferRef::Inline(bytes) => {
                        let stride = stride(plan, &leaf.ty);
                        let env = Env { this: Some((v, None)), ..Env::new(values, &[]) };
                        let count = eval(plan, size, &env, &mut host).ok()?;
                        if byte_len(count.as_int(), stride, max)? != bytes.len() as u64 {
                            return None;
                        }
                        if let Some(kind) = handle_ids(element, &leaf.ty) {
                            // translated into `objects`, as the general path translates a shadow in place
                            let start = objects_used;
                            for word in bytes.chunks(8) {
                                let id = u64::from_le_bytes(word.try_into().ok()?);
                                *objects.get_mut(objects_used)? = handle(tenant, &mut uses, id, kind)?;
                                objects_used += 1;
                            }
                            objects[start..].as_ptr() as u64
                        } else {
                            // read in place from the message
                            bytes.as_ptr() as u64
                        }
                    }
                    _ => return None,
                };
                values[i] = V::Ptr(addr);
                addr
            }
            (Kind::Opaque, SlotShape::Buffer) => message.buffer_key_at(shared.offsets[id][i]).ok()?,
            _ => v.to_raw(&f.params[i].ty),
        };
        if f.replaced_in_guest && matches!(leaf.kind, Kind::Opaque) && matches!(leaf.ty, Ty::Ptr(_)) && raw != 0 {
            return None;
        }
        raws[i] = raw;
    }

    // 3. the call (`objects`, which translated arrays point into, lives until the function returns)
    channel.staging.begin_call(header.call_id);
    let ret_raw = calling_for(tenant.process, || {
        process_memory::with_call_region(None, || native::call(shared.library.dispatch, id as u32, address, &raws[..n]))
    });

    drop(uses);

    // 4. the outcome: an asynchronous call's error waits for a later call
    let mut ret = V::from_raw(ret_raw, &f.ret);
    let returns_status = lean.returns_status;
    let success = !returns_status || ret.as_int() == plan.api.success;
    if lean.is_async {
        if !success {
            channel.deferred.get_or_insert(ret.as_int());
        }
        channel.staging.end_call();
        return Some(Ok(None));
    }
    if returns_status && success {
        if let Some(code) = channel.deferred.take() {
            ret = V::Int(code);
        }
    }
    channel.staging.end_call();
    let buf = std::mem::take(&mut channel.reply_buf);
    let answer = Answer { ret, ret_bytes: None, outs: &[], pointed: &[] };
    Some(reply(shared, id as u32, &header, answer, buf).map(Some).map_err(malformed))
}

/// The vendor's object for a handle id of `kind`, in use until the call
/// ends; `None` for one the process may not use (the general path refuses
/// it with its reason).
fn handle(tenant: &Tenant, uses: &mut Uses<'_>, id: u64, kind: u32) -> Option<u64> {
    if id == 0 {
        return Some(0);
    }
    uses.take(&lock(&tenant.handles), id, kind).ok()
}

/// The lean path's view of a call's memory, for the conditions and sizes
/// it evaluates: the message's data area and the process's metadata, as
/// [`Frame`] reads them. Anything else (a kept buffer, a region, a write,
/// a registry) fails here, and the general path, whose `Frame` sees it all,
/// serves the call from the start; so a condition's assignment is never
/// made twice. Three words, where a `Frame` is hundreds of bytes to build.
struct LeanHost<'a> {
    shared: &'a Shared,
    tenant: &'a Tenant,
    message: Message<'a>,
}

impl Host for LeanHost<'_> {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        if copy_from(self.message.data_bytes(), addr, dst) || lock(&self.tenant.metadata).read(addr, dst) {
            return Ok(());
        }
        Err(EvalError::Unavailable("memory the lean path does not read"))
    }

    fn write(&mut self, _addr: u64, _src: &[u8]) -> Result<(), EvalError> {
        Err(EvalError::Unavailable("a write on the lean path"))
    }

    fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
        Ok(lock(&self.tenant.metadata).get_or_create(key, self.shared.plan.metadata_size()))
    }

    fn read_metadata(&mut self, key: u64, field: u64, delta: i128, dst: &mut [u8]) -> Result<(), EvalError> {
        read_in_metadata(self.shared, self.tenant, key, field, delta, dst).or_else(|addr| self.read(addr, dst))
    }

    fn library(&mut self, _function: LibraryFn, _args: &[V]) -> Result<V, EvalError> {
        Err(EvalError::Unavailable("a library function on the lean path"))
    }
}
