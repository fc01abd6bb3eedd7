//! The guest's lean encoding: writing a call whose arguments are scalars,
//! handles, null pointers and small in buffers straight into its message,
//! without the general encoder's bookkeeping for what such calls never use
//! (out buffers, staging, region blocks, kept and released buffers,
//! element walks). Most calls of a call-intensive program are such calls
//! (`clSetKernelArg`, `clEnqueueNDRangeKernel`); the API server serves
//! them by its own lean path (`server/lean.rs`).
//!
//! The lean encoding writes exactly the message the general encoder
//! writes. When an argument turns out not to be lean for this call (a
//! buffer in the process region, one too large to travel inline, a size
//! that does not evaluate), it gives up before anything left the guest and
//! the general encoder starts the message again, with its checks and
//! errors. The expressions evaluated on the way are pure (see
//! [`pure_value`]), so evaluating them twice changes nothing.

use super::*;
use crate::plan::{Expr, ExprKind, Function, Param};

/// Which functions of `plan` have lean encodings, by function id.
pub(super) fn lean_encodings(plan: &Plan, slots: &[Vec<SlotShape>], takes_callbacks: &[bool]) -> Vec<bool> {
    plan.functions.iter().zip(slots).zip(takes_callbacks).map(|((f, shapes), callbacks)| lean(plan, f, shapes, *callbacks)).collect()
}

/// Whether calls of `f` are encoded the lean way (as a guest library
/// decides when its plan loads): the generator writes the encodings of
/// these (see [`LeanEncode`]).
pub fn has_lean_encoding(plan: &Plan, f: &Function) -> bool {
    call_slots(f).is_ok_and(|shapes| lean(plan, f, &shapes, has_callbacks(f)))
}

/// Code `cava build` generates for a function with a lean encoding:
/// [`encode`] specialized to it (its slots' writes, its conditions and
/// sizes calling the generated expressions, its leaves' checks decided),
/// which writes every call exactly as that does (`cava-codegen`'s
/// `lean_encodings` test in `expr-check` compares the two).
pub type LeanEncode = fn(&Plan, &mut Writer, &[V], &mut dyn Host, u64) -> bool;

/// Whether calls of `f` may be encoded the lean way: decided once, when the
/// plan loads. Each buffer argument needs a lean description among its
/// branches; which branch applies is known per call.
fn lean(plan: &Plan, f: &Function, shapes: &[SlotShape], takes_callbacks: bool) -> bool {
    // contextual arguments travel too (encoded after the parameters): the
    // general encoder does them
    f.contextual.is_empty()
        && !takes_callbacks
        && f.in_guest.is_none()
        && f.unsupported.is_none()
        && shapes.len() == f.params.len()
        && f.params.iter().zip(shapes).all(|(p, shape)| *shape != SlotShape::Buffer || lean_param(plan, p))
}

fn lean_param(plan: &Plan, p: &Param) -> bool {
    p.value.any_leaf(&lean_leaf) && pure_value(plan, &p.value)
}

/// A description the lean encoding writes: a word the server takes as it
/// is (an opaque pointer, a handle id), or an in buffer that lives for the
/// call and whose elements travel as they are (bytes, or handle ids, which
/// only the server translates).
pub fn lean_leaf(leaf: &Leaf) -> bool {
    match &leaf.kind {
        Kind::Opaque => !matches!(leaf.ty, Ty::Record(_)),
        Kind::Handle { .. } => true,
        Kind::Buffer { element, .. } => {
            leaf.input
                && !leaf.output
                && !leaf.no_copy
                && !leaf.deallocate
                && !leaf.zerocopy
                && leaf.lifetime == Lifetime::Call
                && !matches!(&**element, Value::Leaf(l) if matches!(l.kind, Kind::Buffer { .. } | Kind::Struct { .. }))
                && !matches!(**element, Value::If { .. })
        }
        Kind::Callback { .. } | Kind::Userdata { .. } | Kind::Struct { .. } => false,
    }
}

/// Whether evaluating the value's conditions and sizes changes nothing:
/// no assignment, no registry or region call (reading metadata creates an
/// object's block, which the call would create anyway).
fn pure_value(plan: &Plan, value: &Value) -> bool {
    match value {
        Value::If { cond, then, otherwise } => pure(plan, cond, 0) && pure_value(plan, then) && pure_value(plan, otherwise),
        Value::Leaf(leaf) => match &leaf.kind {
            Kind::Buffer { size, .. } => pure(plan, size, 0),
            _ => true,
        },
    }
}

/// Utilities calling utilities deeper than this are taken as impure
/// (the checker refuses recursion; this only bounds the walk).
const MAX_UTILITY_DEPTH: u32 = 16;

fn pure(plan: &Plan, expr: &Expr, depth: u32) -> bool {
    let all = |exprs: &[&Expr]| exprs.iter().all(|e| pure(plan, e, depth));
    match &expr.kind {
        ExprKind::Assign(..) => false,
        ExprKind::Library(function, args) => {
            !matches!(function, LibraryFn::RegisterBuf | LibraryFn::RegisterBufsOf | LibraryFn::ZerocopyAlloc | LibraryFn::ZerocopyFree)
                && args.iter().all(|e| pure(plan, e, depth))
        }
        ExprKind::Utility(u, args) => {
            depth < MAX_UTILITY_DEPTH
                && plan.utilities.get(*u as usize).is_some_and(|u| pure(plan, &u.body, depth + 1))
                && args.iter().all(|e| pure(plan, e, depth))
        }
        ExprKind::Unary(_, a) => all(&[a]),
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => all(&[a, b]),
        ExprKind::Ternary(a, b, c) => all(&[a, b, c]),
        ExprKind::Member { base, .. } => all(&[base]),
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Param(_)
        | ExprKind::Contextual(_)
        | ExprKind::SiblingField(_)
        | ExprKind::Constant(_)
        | ExprKind::ElementIndex(_)
        | ExprKind::This
        | ExprKind::ReturnValue
        | ExprKind::SizeOf(_)
        | ExprKind::Registry(_)
        | ExprKind::Resource(_) => true,
    }
}

/// Writes the arguments of a call of a lean function into `writer`;
/// `false` when one is not lean for this call, and the general encoder
/// must start again (`writer` then holds a partial message).
pub(super) fn encode(
    writer: &mut Writer,
    plan: &Plan,
    f: &Function,
    shapes: &[SlotShape],
    params: &[V],
    host: &mut dyn Host,
    max: u64,
) -> bool {
    let env = Env::new(params, &[]);
    for ((p, &v), &shape) in f.params.iter().zip(params).zip(shapes) {
        match shape {
            SlotShape::Buffer => {
                let env = Env { this: Some((v, None)), ..env };
                let Ok(leaf) = select(plan, &p.value, &env, host) else { return false };
                let Some(descriptor) = descriptor(writer, plan, leaf, &env, v, host, max) else { return false };
                writer.descriptor_slot(descriptor);
            }
            scalar => write_scalar(writer, scalar, v.to_raw(&p.ty)),
        }
    }
    true
}

/// The descriptor of one buffer-shaped argument (its bytes appended to the
/// message), as the general encoder's `described` writes it; `None` when
/// the general encoder must decide.
fn descriptor(writer: &mut Writer, plan: &Plan, leaf: &Leaf, env: &Env<'_>, v: V, host: &mut dyn Host, max: u64) -> Option<[u8; 32]> {
    if !lean_leaf(leaf) {
        return None;
    }
    let Kind::Buffer { size, .. } = &leaf.kind else {
        // the word itself: the server passes it on or translates it
        return Some(word_descriptor(v.as_u64()));
    };
    let ptr = v.as_u64();
    if ptr == 0 {
        return Some(word_descriptor(0));
    }
    let count = eval(plan, size, env, host).ok()?.as_int();
    inline(writer, ptr, count, stride(plan, &leaf.ty), max)
}

/// The descriptor of an argument that travels as a word in a null
/// descriptor (an opaque pointer, a handle id, a null buffer).
#[inline(always)]
pub fn word_descriptor(word: u64) -> [u8; 32] {
    encode_descriptor(&BufferRef::Null, 0, word)
}

/// The descriptor of the in buffer at `ptr` of `count` elements of
/// `stride` bytes, its bytes appended to the message; `None` when it is
/// not sent inline (the general encoder stages large buffers, shares those
/// above `SHARED_MIN` and names those already in the process region).
#[inline]
pub fn inline(writer: &mut Writer, ptr: u64, count: i128, stride: u64, max: u64) -> Option<[u8; 32]> {
    let len = byte_len(count, stride, u64::MAX)?;
    let carried = len.saturating_add(writer.message_len() as u64);
    if len >= SHARED_MIN || carried > max.saturating_sub(STAGE_HEADROOM) || zerocopy::offset_of(ptr, len).is_some() {
        return None;
    }
    let offset = writer.data_with(len as usize, |dst| app_memory::read(ptr, dst)).ok()?;
    Some(inline_descriptor(offset, len, 0))
}
