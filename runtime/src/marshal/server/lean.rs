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

/// What the lean path knows of a function before its calls come, and its
/// reading of a call's arguments ([`LeanCall::decode`]), which the code
/// `cava build` generates per function follows (see [`LeanFn`]).
#[derive(Debug)]
pub struct LeanCall {
    is_async: bool,
    /// The result is the API's status type (a failure is deferred or
    /// reported; success reports a deferred one).
    returns_status: bool,
    /// Bit `i`: argument `i` has one description, and it is lean (no
    /// condition to evaluate, nothing to check per call).
    fixed: u32,
    shapes: Vec<SlotShape>,
    /// Each argument's offset in the scalar area.
    offsets: Vec<u32>,
}

impl LeanCall {
    /// Whether the calls of `f` may take the lean path: decided once, when
    /// the plan loads. Each argument needs at least one lean description;
    /// which one applies is known per call (`clEnqueueNDRangeKernel`'s
    /// `event` is lean when null), so a call whose selected description is
    /// not lean goes the general way.
    pub fn of(plan: &Plan, f: &Function, shapes: &[SlotShape]) -> Option<LeanCall> {
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
            shapes: shapes.to_vec(),
            offsets: slot_offsets(shapes),
        })
    }

    /// Each argument's offset in the scalar area (0 for `void`).
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// Where the scalar area of a call may end: after the last slot, and at
    /// most at the area's padded length (the bounds `decode`'s reader holds
    /// a message to, which generated code checks once).
    pub fn scalar_bounds(&self) -> (u32, u32) {
        let end = self.shapes.iter().zip(&self.offsets).filter_map(|(shape, at)| shape.slot().map(|slot| at + slot.size())).max();
        let slots: Vec<Slot> = self.shapes.iter().filter_map(|s| s.slot()).collect();
        (end.unwrap_or(0), Layout::of(&slots).1)
    }

    /// Reads, checks and translates the arguments of a call of `f` (the
    /// function this was made for) into `out`, as the vendor call takes
    /// them; `None` when the general path must serve the call. `cx`'s
    /// handles taken before a `None` stay in hand until `cx` goes.
    pub fn decode(&self, plan: &Plan, f: &Function, message: &Message<'_>, cx: &mut dyn LeanCx, out: &mut LeanArgs) -> Option<()> {
        let shapes = &self.shapes;
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
                SlotShape::Int { size, .. } | SlotShape::Float { size } => {
                    out.raws[i] = scalar(&mut scalars, *size).ok()?;
                    V::from_raw(out.raws[i], &f.params[i].ty)
                }
                SlotShape::Word | SlotShape::Handle => {
                    out.raws[i] = scalars.u64().ok()?;
                    V::Ptr(out.raws[i])
                }
            };
        }
        scalars.finish().ok()?;

        // 2. translate and check, in order
        let values = &mut values[..n];
        for i in 0..n {
            let v = values[i];
            let leaf = match &f.params[i].value {
                Value::Leaf(leaf) if self.fixed & 1 << i != 0 => leaf,
                value => {
                    let leaf = select(plan, value, &Env { this: Some((v, None)), ..Env::new(values, &[]) }, cx.host()).ok()?;
                    if !lean_leaf(&f.params[i].ty, leaf, shapes[i]) {
                        return None;
                    }
                    leaf
                }
            };
            let raw = match (&leaf.kind, shapes[i]) {
                (Kind::Handle { kind }, _) => cx.handle(v.as_u64(), *kind)?,
                (Kind::Buffer { size, element }, SlotShape::Buffer) => {
                    let addr = match descriptors[i] {
                        BufferRef::Null => 0,
                        BufferRef::Inline(bytes) => {
                            let env = Env { this: Some((v, None)), ..Env::new(values, &[]) };
                            let count = eval(plan, size, &env, cx.host()).ok()?;
                            out.inline(cx, bytes, count.as_int(), stride(plan, &leaf.ty), handle_ids(element, &leaf.ty))?
                        }
                        _ => return None,
                    };
                    values[i] = V::Ptr(addr);
                    addr
                }
                (Kind::Opaque, SlotShape::Buffer) => message.buffer_key_at(self.offsets[i]).ok()?,
                // the word as it came, not converted back from `V`
                _ => out.raws[i],
            };
            if f.replaced_in_guest && guest_only_word(leaf) && raw != 0 {
                return None;
            }
            out.raws[i] = raw;
        }
        Some(())
    }
}

/// Arguments a lean function may have (the width of [`LeanCall::fixed`]);
/// their per-call values live in fixed arrays on the stack.
pub const MAX_ARGS: usize = 16;

/// A value the lean path can pass on: it lives for the call only, and is
/// a scalar, a handle, or an in buffer the server need not keep, bring
/// back or translate beyond handle ids.
pub fn lean_leaf(param_ty: &Ty, leaf: &Leaf, shape: SlotShape) -> bool {
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

/// An opaque pointer of a function the guest replaces: a word the guest's
/// own code passes, which the lean path passes only when null (the general
/// path checks the others).
pub fn guest_only_word(leaf: &Leaf) -> bool {
    matches!(leaf.kind, Kind::Opaque) && matches!(leaf.ty, Ty::Ptr(_))
}

/// The handle kind of a buffer that is an array of handle ids.
pub fn handle_ids(element: &Value, ty: &Ty) -> Option<u32> {
    match (element, pointee(ty)) {
        (Value::Leaf(leaf), Ty::Ptr(_)) => match leaf.kind {
            Kind::Handle { kind } => Some(kind),
            _ => None,
        },
        _ => None,
    }
}

/// Handle ids a call's arrays may hold in all: translated objects live in
/// a fixed array, whose addresses stay put while the call runs; a call
/// with more takes the general path.
const MAX_HANDLE_IDS: usize = 16;

/// What reading a lean call's arguments reaches of the server: the
/// process's handles and the memory its expressions read.
pub trait LeanCx {
    /// The vendor's object for handle `id` of `kind` (0 for 0), in hand
    /// until the call ends; `None` for one the process may not use (the
    /// general path refuses it with its reason).
    fn handle(&mut self, id: u64, kind: u32) -> Option<u64>;
    /// The host the call's conditions and sizes are evaluated with.
    fn host(&mut self) -> &mut dyn Host;
    /// The most bytes one buffer may take.
    fn max(&self) -> u64;
}

/// A lean call's arguments as the vendor call takes them. Translated
/// arrays of handle ids live in `objects`, so it must stay put until the
/// vendor call returns.
#[derive(Debug)]
pub struct LeanArgs {
    pub raws: [u64; MAX_ARGS],
    objects: [u64; MAX_HANDLE_IDS],
    used: usize,
}

impl Default for LeanArgs {
    fn default() -> LeanArgs {
        LeanArgs { raws: [0; MAX_ARGS], objects: [0; MAX_HANDLE_IDS], used: 0 }
    }
}

impl LeanArgs {
    /// The translated objects of the call's arrays of handle ids, in order.
    pub fn objects(&self) -> &[u64] {
        &self.objects[..self.used]
    }

    /// The address the vendor gets for an in buffer sent inline, whose
    /// size expression gave `count` elements of `stride` bytes; `ids`: the
    /// handle kind when its elements are handle ids, translated here. `None`
    /// when the bytes are not what the size says.
    #[inline]
    pub fn inline(&mut self, cx: &mut dyn LeanCx, bytes: &[u8], count: i128, stride: u64, ids: Option<u32>) -> Option<u64> {
        if byte_len(count, stride, cx.max())? != bytes.len() as u64 {
            return None;
        }
        let Some(kind) = ids else {
            // read in place from the message
            return Some(bytes.as_ptr() as u64);
        };
        // translated into `objects`, as the general path translates a shadow in place
        let start = self.used;
        for word in bytes.chunks(8) {
            let id = u64::from_le_bytes(word.try_into().ok()?);
            *self.objects.get_mut(self.used)? = cx.handle(id, kind)?;
            self.used += 1;
        }
        Some(self.objects[start..].as_ptr() as u64)
    }
}

/// Code `cava build` generates for a lean function: [`LeanCall::decode`]
/// specialized to it (its slots at fixed offsets, its conditions and sizes
/// calling the generated expressions, its leaves' checks decided), which
/// decodes every call exactly as that does (`cava-codegen`'s `lean_stubs`
/// test compares the two).
pub type LeanFn = fn(&Plan, &Message<'_>, &mut dyn LeanCx, &mut LeanArgs) -> Option<()>;

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
    let n = f.params.len();

    // 1. the arguments, read, checked and translated; the handles are in
    // use until the call ends (see `in_use`)
    let mut cx = ServerCx { uses: Uses::new(shared, tenant, &channel.in_hand), host: LeanHost { shared, tenant, message: *message }, max };
    let mut args = LeanArgs::default();
    match shared.lean_code[id] {
        Some(code) => code(plan, message, &mut cx, &mut args)?,
        None => lean.decode(plan, f, message, &mut cx, &mut args)?,
    }

    // 2. the call (`args`, which translated arrays point into, lives until the function returns)
    channel.staging.begin_call(header.call_id);
    let ret_raw = calling_for(tenant.process, || {
        process_memory::with_call_region(None, || native::call(shared.library.dispatch, id as u32, address, &args.raws[..n]))
    });

    drop(cx);

    // 3. the outcome: an asynchronous call's error waits for a later call
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

/// The lean path on the server: the process's handle table, through the
/// call's [`Uses`], and its memory through [`LeanHost`].
struct ServerCx<'a> {
    uses: Uses<'a>,
    host: LeanHost<'a>,
    max: u64,
}

impl LeanCx for ServerCx<'_> {
    #[inline]
    fn handle(&mut self, id: u64, kind: u32) -> Option<u64> {
        if id == 0 {
            return Some(0);
        }
        self.uses.take(&lock(&self.host.tenant.handles), id, kind).ok()
    }

    fn host(&mut self) -> &mut dyn Host {
        &mut self.host
    }

    fn max(&self) -> u64 {
        self.max
    }
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
