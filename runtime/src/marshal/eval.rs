//! Evaluating the spec's expressions (buffer sizes, conditions, actions)
//! over the values of one call.
//!
//! Both halves run the same evaluator over different memories: the guest
//! reads the application's memory, the API server reads only the buffers of
//! the call being served ([`Host::read`] refuses any other address), so a
//! hostile size or index can make an expression fail, never make the server
//! read out of bounds. Arithmetic follows C: it is done wide and wrapped to
//! the width of the expression's type.

#![forbid(unsafe_code)]

use smallvec::SmallVec;

use crate::plan::{BinaryOp, Constant, Expr, ExprKind, Leaf, LibraryFn, Plan, Ty, UnaryOp, Value};

/// A value during evaluation. Pointers are addresses in the evaluating
/// process; structs and arrays evaluate to the address of their bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum V {
    Int(i128),
    Float(f64),
    Ptr(u64),
}

impl V {
    pub fn truthy(self) -> bool {
        match self {
            V::Int(i) => i != 0,
            V::Float(f) => f != 0.0,
            V::Ptr(p) => p != 0,
        }
    }

    pub fn as_int(self) -> i128 {
        match self {
            V::Int(i) => i,
            V::Float(f) => f as i128,
            V::Ptr(p) => i128::from(p),
        }
    }

    pub fn as_u64(self) -> u64 {
        self.as_int() as u64
    }

    pub fn as_float(self) -> f64 {
        match self {
            V::Int(i) => i as f64,
            V::Float(f) => f,
            V::Ptr(p) => p as f64,
        }
    }

    /// The value as the raw 64-bit word a C call passes for type `ty`.
    pub fn to_raw(self, ty: &Ty) -> u64 {
        self.to_raw_as(Shape::of(ty))
    }

    /// [`V::to_raw`] for a type of shape `shape`.
    #[inline(always)]
    pub fn to_raw_as(self, shape: Shape) -> u64 {
        match shape {
            Shape::Float { size: 4 } => u64::from(narrow(self.as_float())),
            Shape::Float { .. } => self.as_float().to_bits(),
            Shape::Int { size, .. } => truncate(self.as_int(), size) as u64,
            Shape::Ptr | Shape::Aggregate => self.as_u64(),
        }
    }

    /// The value of a raw 64-bit word holding a C value of type `ty`.
    pub fn from_raw(raw: u64, ty: &Ty) -> V {
        V::from_raw_as(raw, Shape::of(ty))
    }

    /// [`V::from_raw`] for a type of shape `shape`.
    #[inline(always)]
    pub fn from_raw_as(raw: u64, shape: Shape) -> V {
        match shape {
            Shape::Float { size: 4 } => V::Float(widen(raw as u32)),
            Shape::Float { .. } => V::Float(f64::from_bits(raw)),
            Shape::Int { size, signed } => V::Int(normalize(i128::from(raw), size, signed)),
            Shape::Ptr | Shape::Aggregate => V::Ptr(raw),
        }
    }
}

/// The `float` with bits `bits` as a `double` of the same value. A NaN
/// keeps its payload and its sign, and a signaling NaN stays signaling: the
/// processor's conversion would quiet it, and a `float` argument that
/// travels through the evaluator would reach the vendor with other bits
/// than the application passed.
fn widen(bits: u32) -> f64 {
    let f = f32::from_bits(bits);
    if !f.is_nan() {
        return f64::from(f);
    }
    let sign = u64::from(bits >> 31) << 63;
    let payload = u64::from(bits & 0x007f_ffff) << 29;
    f64::from_bits(sign | 0x7ff0_0000_0000_0000 | payload)
}

/// The bits of `f` as a `float`: [`widen`]'s inverse for the values it
/// makes (a NaN's payload and signaling bit kept); other values rounded as
/// C converts.
fn narrow(f: f64) -> u32 {
    if !f.is_nan() {
        return (f as f32).to_bits();
    }
    let bits = f.to_bits();
    let sign = ((bits >> 63) as u32) << 31;
    // a payload only in the low bits would read as infinity: quiet NaN
    let payload = match ((bits >> 29) & 0x007f_ffff) as u32 {
        0 => 0x0040_0000,
        payload => payload,
    };
    sign | 0x7f80_0000 | payload
}

fn truncate(v: i128, size: u8) -> i128 {
    match size {
        1..=8 => v & ((1i128 << (u32::from(size) * 8)) - 1),
        _ => v,
    }
}

/// Wraps `v` to a C integer of `size` bytes.
pub fn normalize(v: i128, size: u8, signed: bool) -> i128 {
    // the usual widths in 64-bit arithmetic, which is several times cheaper
    match (size, signed) {
        (8, false) => return i128::from(v as u64),
        (8, true) => return i128::from(v as i64),
        (4, false) => return i128::from(v as u32),
        (4, true) => return i128::from(v as i32),
        _ => {}
    }
    let bits = u32::from(size.clamp(1, 16)) * 8;
    if bits >= 128 {
        return v;
    }
    let t = v & ((1i128 << bits) - 1);
    if signed && t >> (bits - 1) & 1 == 1 {
        t - (1i128 << bits)
    } else {
        t
    }
}

/// What evaluation needs of a type to read, write or wrap a value of it:
/// its variant and width, without the pointee or the record. Generated
/// code (see [`super::generated`]) passes shapes as constants, which the
/// compiler folds, where the interpreter derives them from the [`Ty`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Int {
        size: u8,
        signed: bool,
    },
    Float {
        size: u8,
    },
    Ptr,
    /// Arrays, records, functions and `void`: they evaluate to an address.
    Aggregate,
}

impl Shape {
    #[inline(always)]
    pub fn of(ty: &Ty) -> Shape {
        match ty {
            Ty::Int { size, signed } => Shape::Int { size: *size, signed: *signed },
            Ty::Float { size } => Shape::Float { size: *size },
            Ty::Ptr(_) => Shape::Ptr,
            Ty::Array(..) | Ty::Record(_) | Ty::Function | Ty::Void => Shape::Aggregate,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("null pointer dereferenced in a spec expression")]
    Null,
    // (no address in the text: on the API server it would be one of the
    // server's own, and the text goes back to the guest in the error reply)
    #[error("a spec expression read {len} bytes outside the buffers of this call")]
    OutOfBounds { addr: u64, len: u64 },
    #[error("division by zero in a spec expression")]
    DivisionByZero,
    #[error("{0} is not available on this side of the call")]
    Unavailable(&'static str),
    #[error("malformed plan: {0}")]
    Plan(&'static str),
}

/// The memory and library state an expression runs against.
pub trait Host {
    /// Copies `dst.len()` bytes at `addr` into `dst`.
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError>;
    /// Copies `src` to `addr` (assignments, e.g. to metadata fields).
    fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), EvalError>;
    /// The address of `key`'s metadata, created zeroed on first use.
    fn metadata(&mut self, key: u64) -> Result<u64, EvalError>;
    /// Buffer registries and the zero-copy allocator.
    fn library(&mut self, function: LibraryFn, args: &[V]) -> Result<V, EvalError>;
    /// Reads `metadata(key)->...` at `field` bytes into `key`'s metadata
    /// and `delta` bytes from there (an element of an array field): what
    /// `metadata` and then `read` give, as evaluating the expression step
    /// by step does. A host that finds the block and reads it in one step
    /// does so (the API server: one lookup instead of two).
    fn read_metadata(&mut self, key: u64, field: u64, delta: i128, dst: &mut [u8]) -> Result<(), EvalError> {
        let base = self.metadata(key)?;
        if base == 0 {
            return Err(EvalError::Null);
        }
        let addr = (i128::from(base.wrapping_add(field)) + delta) as u64;
        if addr == 0 {
            return Err(EvalError::Null);
        }
        self.read(addr, dst)
    }
}

/// What names in an expression refer to.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    pub params: &'a [V],
    pub contextual: &'a [V],
    /// `this`: the value being described, and its address when it has one.
    pub this: Option<(V, Option<u64>)>,
    /// The struct whose field is being described: its address and record.
    pub sibling: Option<(u64, u32)>,
    /// Indexes of the enclosing elements, outermost first.
    pub indices: &'a [u64],
}

impl<'a> Env<'a> {
    pub fn new(params: &'a [V], contextual: &'a [V]) -> Env<'a> {
        Env { params, contextual, this: None, sibling: None, indices: &[] }
    }

    /// The environment of a function's statements: its arguments and its result.
    pub fn after_call(params: &'a [V], contextual: &'a [V], returned: V) -> Env<'a> {
        Env { this: Some((returned, None)), ..Env::new(params, contextual) }
    }
}

pub(super) const RETURN_VALUE_OUTSIDE: &str = "`return_value` outside a function's statements";

/// `return_value`, in a function's statements: they have no `this` of their
/// own (the checker refuses it there), so the result travels in `this`
/// (see [`Env::after_call`]) rather than in a field every `Env` would carry
/// and copy on the hot path.
pub fn returned(env: &Env<'_>) -> Result<V, EvalError> {
    env.this.map(|(v, _)| v).ok_or(EvalError::Plan(RETURN_VALUE_OUTSIDE))
}

/// Chooses the leaf of an `if` tree that applies.
pub fn select<'p>(plan: &Plan, value: &'p Value, env: &Env<'_>, host: &mut dyn Host) -> Result<&'p Leaf, EvalError> {
    let mut value = value;
    loop {
        match value {
            Value::Leaf(leaf) => return Ok(leaf),
            Value::If { cond, then, otherwise } => {
                value = if eval(plan, cond, env, host)?.truthy() { then } else { otherwise };
            }
        }
    }
}

/// Reads a value of type `ty` at `addr`.
pub fn load(plan: &Plan, addr: u64, ty: &Ty, host: &dyn Host) -> Result<V, EvalError> {
    let _ = plan;
    load_as(addr, Shape::of(ty), host)
}

/// [`load`] of a value of shape `shape`.
#[inline(always)]
pub fn load_as(addr: u64, shape: Shape, host: &dyn Host) -> Result<V, EvalError> {
    if addr == 0 {
        return Err(EvalError::Null);
    }
    match shape {
        Shape::Int { size, signed } => {
            let mut b = [0u8; 16];
            let n = usize::from(size).min(16);
            host.read(addr, &mut b[..n])?;
            Ok(V::Int(normalize(i128::from_le_bytes(b), size, signed)))
        }
        Shape::Float { size: 4 } => {
            let mut b = [0u8; 4];
            host.read(addr, &mut b)?;
            Ok(V::Float(widen(u32::from_le_bytes(b))))
        }
        Shape::Float { .. } => {
            let mut b = [0u8; 8];
            host.read(addr, &mut b)?;
            Ok(V::Float(f64::from_le_bytes(b)))
        }
        Shape::Ptr => {
            let mut b = [0u8; 8];
            host.read(addr, &mut b)?;
            Ok(V::Ptr(u64::from_le_bytes(b)))
        }
        // aggregates evaluate to their address
        Shape::Aggregate => Ok(V::Ptr(addr)),
    }
}

fn store(addr: u64, ty: &Ty, v: V, host: &mut dyn Host) -> Result<(), EvalError> {
    store_as(addr, Shape::of(ty), v, host)
}

/// Writes `v` as a value of shape `shape` at `addr` (an assignment).
#[inline(always)]
pub fn store_as(addr: u64, shape: Shape, v: V, host: &mut dyn Host) -> Result<(), EvalError> {
    if addr == 0 {
        return Err(EvalError::Null);
    }
    match shape {
        Shape::Int { size, .. } => host.write(addr, &v.as_int().to_le_bytes()[..usize::from(size).min(16)]),
        Shape::Float { size: 4 } => host.write(addr, &narrow(v.as_float()).to_le_bytes()),
        Shape::Float { .. } => host.write(addr, &v.as_float().to_le_bytes()),
        Shape::Ptr => host.write(addr, &v.as_u64().to_le_bytes()),
        Shape::Aggregate => Err(EvalError::Plan("assignment to an aggregate")),
    }
}

fn pointee(ty: &Ty) -> &Ty {
    match ty {
        Ty::Ptr(p) | Ty::Array(p, _) => p,
        _ => &Ty::Void,
    }
}

fn element_size(plan: &Plan, ty: &Ty) -> u64 {
    plan.element_size(ty)
}

/// `this`'s address, as an lvalue.
#[inline(always)]
pub fn this_place(env: &Env<'_>) -> Result<u64, EvalError> {
    match env.this {
        Some((_, Some(addr))) => Ok(addr),
        Some((V::Ptr(addr), None)) => Ok(addr),
        _ => Err(EvalError::Plan("`this` has no address here")),
    }
}

/// `base[i]`'s address, elements being `step` bytes.
#[inline(always)]
pub fn index_place(base: u64, i: i128, step: i128) -> Result<u64, EvalError> {
    let offset = i.checked_mul(step).ok_or(EvalError::OutOfBounds { addr: base, len: 0 })?;
    Ok((i128::from(base) + offset) as u64)
}

/// The address of the field `offset` bytes into the record at `addr`.
#[inline(always)]
pub fn member_place(addr: u64, offset: u64) -> Result<u64, EvalError> {
    if addr == 0 {
        return Err(EvalError::Null);
    }
    Ok(addr.wrapping_add(offset))
}

/// `-v`, as a value of shape `shape`.
#[inline(always)]
pub fn neg(v: V, shape: Shape) -> V {
    match v {
        V::Float(f) => V::Float(-f),
        v => wrap_as(v.as_int().wrapping_neg(), shape),
    }
}

/// The address and type an lvalue expression designates.
fn place<'e>(plan: &'e Plan, expr: &'e Expr, env: &Env<'_>, host: &mut dyn Host) -> Result<(u64, &'e Ty), EvalError> {
    match &expr.kind {
        ExprKind::Unary(UnaryOp::Deref, inner) => Ok((eval(plan, inner, env, host)?.as_u64(), &expr.ty)),
        ExprKind::Index(base, index) => {
            let base_v = eval(plan, base, env, host)?.as_u64();
            let i = eval(plan, index, env, host)?.as_int();
            Ok((index_place(base_v, i, i128::from(element_size(plan, &base.ty)))?, &expr.ty))
        }
        ExprKind::Member { base, field, arrow } => {
            let (addr, record_ty) =
                if *arrow { (eval(plan, base, env, host)?.as_u64(), pointee(&base.ty)) } else { place(plan, base, env, host)? };
            let Ty::Record(r) = record_ty else { return Err(EvalError::Plan("member of a non-record")) };
            let field =
                plan.records.get(*r as usize).and_then(|r| r.fields.get(*field as usize)).ok_or(EvalError::Plan("unknown field"))?;
            Ok((member_place(addr, field.offset)?, &field.ty))
        }
        ExprKind::This => Ok((this_place(env)?, &expr.ty)),
        ExprKind::SiblingField(i) => {
            let (addr, r) = env.sibling.ok_or(EvalError::Plan("no enclosing struct"))?;
            let field = plan.records.get(r as usize).and_then(|r| r.fields.get(*i as usize)).ok_or(EvalError::Plan("unknown field"))?;
            Ok((addr.wrapping_add(field.offset), &field.ty))
        }
        // a struct-valued parameter (passed by value) evaluates to its address
        _ => Ok((eval(plan, expr, env, host)?.as_u64(), &expr.ty)),
    }
}

/// An integer result as a value of type `ty`: wrapped to its width, or a
/// pointer.
pub(super) fn wrap(v: i128, ty: &Ty) -> V {
    wrap_as(v, Shape::of(ty))
}

/// [`wrap`] to a value of shape `shape`.
#[inline(always)]
pub fn wrap_as(v: i128, shape: Shape) -> V {
    match shape {
        Shape::Int { size, signed } => V::Int(normalize(v, size, signed)),
        Shape::Ptr => V::Ptr(v as u64),
        _ => V::Int(v),
    }
}

/// Evaluates `expr`: through the code compiled for it when the plan was
/// loaded (see [`super::compile`]), otherwise by walking the tree.
#[inline]
pub fn eval(plan: &Plan, expr: &Expr, env: &Env<'_>, host: &mut dyn Host) -> Result<V, EvalError> {
    match expr.code.get() {
        Some(code) => code(plan, env, host),
        None => interpret(plan, expr, env, host),
    }
}

/// Evaluates `expr` by walking its tree (its subexpressions through
/// [`eval`], so compiled where they are): the definition of what every
/// expression means, which compiled code must agree with.
pub fn interpret(plan: &Plan, expr: &Expr, env: &Env<'_>, host: &mut dyn Host) -> Result<V, EvalError> {
    let wrap = |v: i128| wrap(v, &expr.ty);
    Ok(match &expr.kind {
        ExprKind::Int(i) => wrap(*i),
        ExprKind::Float(f) => V::Float(*f),
        ExprKind::Str(_) => return Err(EvalError::Unavailable("a string literal")),
        ExprKind::Param(i) => *env.params.get(*i as usize).ok_or(EvalError::Plan("parameter out of range"))?,
        ExprKind::Contextual(i) => *env.contextual.get(*i as usize).ok_or(EvalError::Plan("contextual argument out of range"))?,
        ExprKind::ElementIndex(depth) => {
            let n = env.indices.len();
            let i = n.checked_sub(1 + *depth as usize).ok_or(EvalError::Plan("`index` outside an element"))?;
            V::Int(i128::from(env.indices[i]))
        }
        ExprKind::This => match env.this {
            Some((V::Ptr(_), Some(addr))) | Some((V::Int(_), Some(addr))) | Some((V::Float(_), Some(addr))) => {
                load(plan, addr, &expr.ty, host)?
            }
            Some((v, None)) => v,
            None => return Err(EvalError::Plan("`this` outside a value")),
        },
        ExprKind::ReturnValue => returned(env)?,
        ExprKind::Constant(c) => match plan.constants.get(*c as usize) {
            Some(Constant::Int(i)) => wrap(*i),
            Some(Constant::Float(f)) => V::Float(*f),
            Some(Constant::Str(_)) => return Err(EvalError::Unavailable("a string constant")),
            None => return Err(EvalError::Plan("constant out of range")),
        },
        ExprKind::SizeOf(ty) => wrap(i128::from(plan.size_of(ty))),
        ExprKind::Registry(i) | ExprKind::Resource(i) => V::Int(i128::from(*i)),
        ExprKind::Unary(op, inner) => match op {
            UnaryOp::Deref => {
                let p = eval(plan, inner, env, host)?.as_u64();
                load(plan, p, &expr.ty, host)?
            }
            UnaryOp::AddrOf => V::Ptr(place(plan, inner, env, host)?.0),
            UnaryOp::Not => V::Int(i128::from(!eval(plan, inner, env, host)?.truthy())),
            UnaryOp::Neg => neg(eval(plan, inner, env, host)?, Shape::of(&expr.ty)),
            UnaryOp::BitNot => wrap(!eval(plan, inner, env, host)?.as_int()),
        },
        ExprKind::Index(..) | ExprKind::Member { .. } | ExprKind::SiblingField(_) => {
            let (addr, ty) = place(plan, expr, env, host)?;
            load(plan, addr, ty, host)?
        }
        ExprKind::Assign(lhs, rhs) => {
            let v = eval(plan, rhs, env, host)?;
            let (addr, ty) = place(plan, lhs, env, host)?;
            store(addr, ty, v, host)?;
            v
        }
        ExprKind::Ternary(c, a, b) => {
            if eval(plan, c, env, host)?.truthy() {
                eval(plan, a, env, host)?
            } else {
                eval(plan, b, env, host)?
            }
        }
        ExprKind::Binary(op, l, r) => binary(plan, *op, l, r, &expr.ty, env, host)?,
        ExprKind::Library(f, args) => {
            let values = eval_args(plan, args, env, host)?;
            let elem = args.first().map_or(0, |a| element_size(plan, &a.ty));
            library(*f, elem, &values, host)?
        }
        ExprKind::Utility(u, args) => {
            let utility = plan.utilities.get(*u as usize).ok_or(EvalError::Plan("utility out of range"))?;
            let values = eval_args(plan, args, env, host)?;
            eval(plan, &utility.body, &Env::new(&values, &[]), host)?
        }
    })
}

/// The arguments of a function call in an expression, on the stack: a
/// condition such as `cava_arg_is(kernel, index, 1)` runs on every call.
fn eval_args(plan: &Plan, args: &[Expr], env: &Env<'_>, host: &mut dyn Host) -> Result<SmallVec<[V; 6]>, EvalError> {
    // pushed one by one: collecting `Result`s into a SmallVec costs several
    // times more
    let mut values = SmallVec::new();
    for a in args {
        values.push(eval(plan, a, env, host)?);
    }
    Ok(values)
}

fn binary(plan: &Plan, op: BinaryOp, l: &Expr, r: &Expr, ty: &Ty, env: &Env<'_>, host: &mut dyn Host) -> Result<V, EvalError> {
    match op {
        BinaryOp::And => return Ok(V::Int(i128::from(eval(plan, l, env, host)?.truthy() && eval(plan, r, env, host)?.truthy()))),
        BinaryOp::Or => return Ok(V::Int(i128::from(eval(plan, l, env, host)?.truthy() || eval(plan, r, env, host)?.truthy()))),
        _ => {}
    }
    let (a, b) = (eval(plan, l, env, host)?, eval(plan, r, env, host)?);
    binary_values(op, a, b, element_size(plan, &l.ty), ty)
}

/// A binary operator other than `&&` and `||` applied to its operands'
/// values; `step` is the size of what the left operand points to (pointer
/// arithmetic), `ty` the result's type.
pub(super) fn binary_values(op: BinaryOp, a: V, b: V, step: u64, ty: &Ty) -> Result<V, EvalError> {
    binary_as(op, a, b, step, Shape::of(ty))
}

/// [`binary_values`] with a result of shape `shape`.
#[inline(always)]
pub fn binary_as(op: BinaryOp, a: V, b: V, step: u64, shape: Shape) -> Result<V, EvalError> {
    use BinaryOp::*;
    // pointer arithmetic scales by the pointee
    if let (V::Ptr(p), Add | Sub) = (a, op) {
        if !matches!(b, V::Ptr(_)) {
            let step = b.as_int().wrapping_mul(i128::from(step));
            let q = if op == Add { i128::from(p).wrapping_add(step) } else { i128::from(p).wrapping_sub(step) };
            return Ok(V::Ptr(q as u64));
        }
    }
    if matches!(a, V::Float(_)) || matches!(b, V::Float(_)) {
        let (x, y) = (a.as_float(), b.as_float());
        let v = match op {
            Add => x + y,
            Sub => x - y,
            Mul => x * y,
            Div => x / y,
            Lt => return Ok(V::Int(i128::from(x < y))),
            Le => return Ok(V::Int(i128::from(x <= y))),
            Gt => return Ok(V::Int(i128::from(x > y))),
            Ge => return Ok(V::Int(i128::from(x >= y))),
            Eq => return Ok(V::Int(i128::from(x == y))),
            Ne => return Ok(V::Int(i128::from(x != y))),
            _ => return Err(EvalError::Plan("integer operator on floats")),
        };
        return Ok(if matches!(shape, Shape::Float { .. }) { V::Float(v) } else { V::Int(v as i128) });
    }
    let (x, y) = (a.as_int(), b.as_int());
    let v = match op {
        Add => x.wrapping_add(y),
        Sub => x.wrapping_sub(y),
        Mul => x.wrapping_mul(y),
        Div => x.checked_div(y).ok_or(EvalError::DivisionByZero)?,
        Rem => x.checked_rem(y).ok_or(EvalError::DivisionByZero)?,
        Shl => x.wrapping_shl((y & 127) as u32),
        Shr => x.wrapping_shr((y & 127) as u32),
        BitAnd => x & y,
        BitOr => x | y,
        BitXor => x ^ y,
        Lt => i128::from(x < y),
        Le => i128::from(x <= y),
        Gt => i128::from(x > y),
        Ge => i128::from(x >= y),
        Eq => i128::from(x == y),
        Ne => i128::from(x != y),
        And | Or => unreachable!("handled above"),
    };
    Ok(wrap_as(v, shape))
}

/// Longest string or list the evaluator scans for its terminator.
const MAX_SCAN: u64 = 1 << 30;

/// Library function `f` applied to its arguments' values; `elem` is the
/// size of what the first argument points to (`terminated_len`'s
/// element).
#[inline]
pub fn library(f: LibraryFn, elem: u64, values: &[V], host: &mut dyn Host) -> Result<V, EvalError> {
    let arg = |i: usize| values.get(i).copied().ok_or(EvalError::Plan("missing library argument"));
    match f {
        LibraryFn::Min | LibraryFn::Max => {
            let (a, b) = (arg(0)?, arg(1)?);
            let pick_a = match (a, b) {
                (V::Float(_), _) | (_, V::Float(_)) => (a.as_float() <= b.as_float()) == (f == LibraryFn::Min),
                _ => (a.as_int() <= b.as_int()) == (f == LibraryFn::Min),
            };
            Ok(if pick_a { a } else { b })
        }
        LibraryFn::Strlen => {
            let p = arg(0)?.as_u64();
            let mut byte = [0u8; 1];
            for n in 0..MAX_SCAN {
                host.read(p.wrapping_add(n), &mut byte)?;
                if byte[0] == 0 {
                    return Ok(V::Int(i128::from(n)));
                }
            }
            Err(EvalError::OutOfBounds { addr: p, len: MAX_SCAN })
        }
        LibraryFn::TerminatedLen => {
            let p = arg(0)?.as_u64();
            if p == 0 {
                return Ok(V::Int(0));
            }
            let size = elem.min(16) as usize;
            let mut element = [0u8; 16];
            for n in 0..MAX_SCAN {
                host.read(p.wrapping_add(n * size as u64), &mut element[..size])?;
                if element[..size].iter().all(|b| *b == 0) {
                    return Ok(V::Int(i128::from(n + 1)));
                }
            }
            Err(EvalError::OutOfBounds { addr: p, len: MAX_SCAN })
        }
        LibraryFn::Metadata => Ok(V::Ptr(host.metadata(arg(0)?.as_u64())?)),
        _ => host.library(f, values),
    }
}

#[cfg(test)]
mod tests {
    use super::{normalize, Shape, V};
    use proptest::prelude::*;

    #[test]
    fn a_float_argument_keeps_its_bits_through_the_evaluator() {
        let float = Shape::Float { size: 4 };
        // signaling and quiet NaNs of both signs, infinities, zeros, a denormal, a number
        for bits in [0x7f80_0001u32, 0xff80_0001, 0x7fa0_0000, 0x7fc0_0000, 0xffc0_1234, 0x7f80_0000, 0x8000_0000, 0, 1, 0x3fc0_0000] {
            let raw = u64::from(bits);
            assert_eq!(V::from_raw_as(raw, float).to_raw_as(float), raw, "{bits:#x}");
        }
        let double = Shape::Float { size: 8 };
        for raw in [0x7ff0_0000_0000_0001u64, 0x7ff8_0000_0000_0000, 0x3ff8_0000_0000_0000] {
            assert_eq!(V::from_raw_as(raw, double).to_raw_as(double), raw, "{raw:#x}");
        }
        // a double narrowed is C's conversion, and a NaN stays a NaN
        assert_eq!(V::Float(1.5).to_raw_as(float), u64::from(1.5f32.to_bits()));
        assert!(f32::from_bits(V::Float(f64::from_bits(0x7ff0_0000_0000_0001)).to_raw_as(float) as u32).is_nan());
    }

    /// C's conversion to an integer of `size` bytes, written the slow way.
    fn reference(v: i128, size: u8, signed: bool) -> i128 {
        let bits = u32::from(size) * 8;
        let t = v.rem_euclid(1i128 << bits);
        if signed && t >= 1i128 << (bits - 1) {
            t - (1i128 << bits)
        } else {
            t
        }
    }

    proptest! {
        #[test]
        fn normalize_wraps_as_c_does(v in any::<i128>(), size in prop::sample::select(vec![1u8, 2, 4, 8]), signed in any::<bool>()) {
            prop_assert_eq!(normalize(v, size, signed), reference(v, size, signed));
        }
    }
}
