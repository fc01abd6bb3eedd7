//! Expressions compiled when a plan loads.
//!
//! [`eval::interpret`](super::eval::interpret) walks an expression's tree on
//! every call: a match per node, the node's type looked at to wrap its
//! result, constants and `sizeof` looked up in the plan, a utility's body
//! found by index. Conditions such as OpenCL's `arg_size == sizeof(cl_mem)
//! && cava_arg_is(kernel, arg_index, 1)` run on every forwarded call, on
//! both sides, so [`compile`] turns each expression of a plan into a tree of
//! closures once, when the plan loads: constants folded, a node's type
//! decided, operands that are constants or parameters read directly.
//! [`eval`](super::eval::eval) runs the compiled code where there is some.
//!
//! The invariant: compiled code computes exactly what the interpreter does
//! (the same value, the same error, the same host calls in the same order).
//! It reuses the interpreter's own pieces for anything but the walk itself
//! ([`wrap`], [`binary_values`], [`load`], [`normalize`]), and a node it does
//! not specialize is left to the interpreter. The tests evaluate every
//! expression of every spec both ways and compare.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::sync::Arc;

use smallvec::SmallVec;

use super::eval::{
    binary_values, index_place, interpret, load, member_place, neg, normalize, returned, this_place, wrap, Env, EvalError, Host, Shape, V,
};
use crate::plan::{
    self, BinaryOp, Callback, Constant, Expr, ExprKind, Function, Kind, Leaf, LibraryFn, Lifetime, Param, Plan, Ty, UnaryOp, Value,
};

/// Compiled code: evaluates an expression over the values of one call.
type Fun = dyn Fn(&Plan, &Env<'_>, &mut dyn Host) -> Result<V, EvalError> + Send + Sync;

/// The compiled form of an expression, attached to it when the plan loads
/// ([`Plan::from_bytes`], [`Plan::from_json`]); empty where the interpreter does the work. Not
/// part of the plan's data: never serialized, and equal to any other.
#[derive(Clone, Default)]
pub struct Code(Option<Arc<Fun>>);

impl Code {
    /// The compiled function, if any.
    #[inline]
    pub fn get(&self) -> Option<&Fun> {
        self.0.as_deref()
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Code(compiled)" } else { "Code(interpreted)" })
    }
}

impl Code {
    /// Code the generator wrote for the expression (see
    /// [`super::generated`]).
    pub fn generated(code: super::generated::Generated) -> Code {
        Code(Some(Arc::new(code)))
    }
}

impl PartialEq for Code {
    fn eq(&self, _: &Code) -> bool {
        true
    }
}

/// Compiles every expression of `plan` in place. Idempotent.
pub fn compile(plan: &mut Plan) {
    // the plan's tables, read while its expressions are rewritten
    let (records, constants) = (plan.records.clone(), plan.constants.clone());
    let bodies: Vec<Expr> = plan.utilities.iter().map(|u| u.body.clone()).collect();
    let tables = Tables { records: &records, constants: &constants, bodies: &bodies, inlining: None, escaped: Cell::new(false) };
    let mut utilities = std::mem::take(&mut plan.utilities);
    for u in &mut utilities {
        expr(&tables, &mut u.body);
    }
    plan.utilities = utilities;
    for f in &mut plan.functions {
        function(&tables, f);
    }
    for c in &mut plan.callbacks {
        callback(&tables, c);
    }
}

/// What compilation reads of the plan besides the expression itself, and
/// the utility call being inlined, if any.
struct Tables<'a> {
    records: &'a [crate::plan::Record],
    constants: &'a [Constant],
    /// Utility bodies as the plan has them.
    bodies: &'a [Expr],
    /// Inlining a utility's body: what its parameters stand for (each a
    /// constant or a parameter of the caller).
    inlining: Option<&'a [Operand]>,
    /// The body being inlined needs its own environment (`this`, a
    /// contextual argument, ...) or the interpreter: it is not inlined.
    escaped: Cell<bool>,
}

fn function(t: &Tables<'_>, f: &mut Function) {
    if let Some(e) = &mut f.in_guest {
        expr(t, e);
    }
    params(t, &mut f.params);
    for c in &mut f.contextual {
        expr(t, &mut c.init);
        value(t, &mut c.value);
    }
    value(t, &mut f.return_value);
    for a in &mut f.actions {
        expr(t, a);
    }
    if let Some(times) = f.release_at_exit.as_mut().and_then(|r| r.times.as_mut()) {
        expr(t, times);
    }
}

fn callback(t: &Tables<'_>, c: &mut Callback) {
    params(t, &mut c.params);
    value(t, &mut c.return_value);
}

fn params(t: &Tables<'_>, params: &mut [Param]) {
    for p in params {
        value(t, &mut p.value);
    }
}

fn value(t: &Tables<'_>, v: &mut Value) {
    match v {
        Value::Leaf(leaf) => self::leaf(t, leaf),
        Value::If { cond, then, otherwise } => {
            expr(t, cond);
            value(t, then);
            value(t, otherwise);
        }
    }
}

fn leaf(t: &Tables<'_>, leaf: &mut Leaf) {
    match &mut leaf.kind {
        Kind::Buffer { size, element } => {
            expr(t, size);
            value(t, element);
        }
        Kind::Struct { fields } => fields.iter_mut().for_each(|f| value(t, f)),
        Kind::Opaque | Kind::Handle { .. } | Kind::Callback { .. } | Kind::Userdata { .. } => {}
    }
    if let Lifetime::Coupled(owner) = &mut leaf.lifetime {
        expr(t, owner);
    }
}

/// How compiled code gets an operand's value.
#[derive(Clone)]
enum Operand {
    Const(V),
    Param(u32),
    Code(Arc<Fun>),
    /// Left to the interpreter (a copy of the expression, its own
    /// subexpressions compiled).
    Interpret(Arc<Expr>),
}

impl Operand {
    #[inline(always)]
    fn get(&self, plan: &Plan, env: &Env<'_>, host: &mut dyn Host) -> Result<V, EvalError> {
        match self {
            Operand::Const(v) => Ok(*v),
            Operand::Param(i) => env.params.get(*i as usize).copied().ok_or(EvalError::Plan("parameter out of range")),
            Operand::Code(f) => f(plan, env, host),
            Operand::Interpret(e) => interpret(plan, e, env, host),
        }
    }

    fn constant(&self) -> Option<V> {
        match self {
            Operand::Const(v) => Some(*v),
            _ => None,
        }
    }

    fn into_fun(self) -> Arc<Fun> {
        match self {
            Operand::Const(v) => Arc::new(move |_: &Plan, _: &Env<'_>, _: &mut dyn Host| Ok(v)),
            Operand::Param(i) => Arc::new(move |_: &Plan, env: &Env<'_>, _: &mut dyn Host| {
                env.params.get(i as usize).copied().ok_or(EvalError::Plan("parameter out of range"))
            }),
            Operand::Code(f) => f,
            Operand::Interpret(e) => Arc::new(move |plan: &Plan, env: &Env<'_>, host: &mut dyn Host| interpret(plan, &e, env, host)),
        }
    }
}

fn fun<F>(f: F) -> Operand
where
    F: Fn(&Plan, &Env<'_>, &mut dyn Host) -> Result<V, EvalError> + Send + Sync + 'static,
{
    Operand::Code(Arc::new(f))
}

/// Compiles `e` and its subexpressions, attaches the code, and returns how
/// a parent gets its value.
fn expr(t: &Tables<'_>, e: &mut Expr) -> Operand {
    let operand = build(t, e);
    match &operand {
        Operand::Interpret(_) => {}
        other => e.code = Code(Some(other.clone().into_fun())),
    }
    operand
}

/// Compiles the subexpressions of `e` (attaching their code), then `e`.
fn build(t: &Tables<'_>, e: &mut Expr) -> Operand {
    let ty = e.ty.clone();
    let operand = match &mut e.kind {
        ExprKind::Int(i) => Some(Operand::Const(wrap(*i, &ty))),
        ExprKind::Float(f) => Some(Operand::Const(V::Float(*f))),
        ExprKind::Param(i) => match t.inlining {
            None => Some(Operand::Param(*i)),
            Some(args) => args.get(*i as usize).cloned(),
        },
        ExprKind::Contextual(_) | ExprKind::This | ExprKind::ReturnValue if t.inlining.is_some() => None,
        ExprKind::ReturnValue => Some(fun(|_, env, _| returned(env))),
        ExprKind::Contextual(i) => {
            let i = *i as usize;
            Some(fun(move |_, env, _| env.contextual.get(i).copied().ok_or(EvalError::Plan("contextual argument out of range"))))
        }
        ExprKind::Constant(c) => match t.constants.get(*c as usize) {
            Some(Constant::Int(i)) => Some(Operand::Const(wrap(*i, &ty))),
            Some(Constant::Float(f)) => Some(Operand::Const(V::Float(*f))),
            _ => None,
        },
        ExprKind::SizeOf(of) => Some(Operand::Const(wrap(i128::from(plan::size_of(t.records, of)), &ty))),
        ExprKind::Registry(i) | ExprKind::Resource(i) => Some(Operand::Const(V::Int(i128::from(*i)))),
        ExprKind::This => Some(fun(move |plan, env, host| match env.this {
            Some((_, Some(addr))) => load(plan, addr, &ty, host),
            Some((v, None)) => Ok(v),
            None => Err(EvalError::Plan("`this` outside a value")),
        })),
        ExprKind::Unary(op, inner) => {
            let op = *op;
            unary(t, op, inner, ty)
        }
        ExprKind::Binary(op, l, r) => {
            let op = *op;
            let step = plan::element_size(t.records, &l.ty);
            let (l, r) = (expr(t, l), expr(t, r));
            Some(binary(op, l, r, step, ty))
        }
        ExprKind::Ternary(c, a, b) => {
            let (c, a, b) = (expr(t, c), expr(t, a), expr(t, b));
            Some(match c.constant() {
                Some(v) if v.truthy() => a,
                Some(_) => b,
                None => fun(
                    move |plan, env, host| {
                        if c.get(plan, env, host)?.truthy() {
                            a.get(plan, env, host)
                        } else {
                            b.get(plan, env, host)
                        }
                    },
                ),
            })
        }
        ExprKind::Index(..) | ExprKind::Member { .. } => {
            // compiles the subexpressions either way
            let placed = place(t, e);
            if let Some(fused) = metadata_field(t, e) {
                return fused;
            }
            placed.map(|(at, ty)| match ty {
                // an aggregate evaluates to its address (what `load` gives)
                Ty::Array(..) | Ty::Record(_) | Ty::Function | Ty::Void => fun(move |plan, env, host| match at(plan, env, host)? {
                    0 => Err(EvalError::Null),
                    addr => Ok(V::Ptr(addr)),
                }),
                Ty::Int { size, signed } if size <= 8 => fun(move |plan, env, host| load_int(at(plan, env, host)?, size, signed, host)),
                _ => fun(move |plan, env, host| load(plan, at(plan, env, host)?, &ty, host)),
            })
        }
        ExprKind::Library(f, args) => {
            let f = *f;
            let args: SmallVec<[Operand; 4]> = args.iter_mut().map(|a| expr(t, a)).collect();
            library(f, args)
        }
        ExprKind::Utility(u, args) => {
            let u = *u as usize;
            let args: SmallVec<[Operand; 4]> = args.iter_mut().map(|a| expr(t, a)).collect();
            let inlined = inline(t, u, &args);
            let call = fun(move |plan, env, host| {
                let utility = plan.utilities.get(u).ok_or(EvalError::Plan("utility out of range"))?;
                let mut values: SmallVec<[V; 6]> = SmallVec::new();
                for a in &args {
                    values.push(a.get(plan, env, host)?);
                }
                super::eval::eval(plan, &utility.body, &Env::new(&values, &[]), host)
            });
            Some(match inlined {
                Some((body, 0)) => body,
                // the caller's parameters the arguments name must exist, or
                // the call fails as the interpreter's does
                Some((body, need)) => {
                    fun(move |plan, env, host| if env.params.len() >= need { body.get(plan, env, host) } else { call.get(plan, env, host) })
                }
                None => call,
            })
        }
        ExprKind::Assign(l, r) => {
            expr(t, l);
            expr(t, r);
            None
        }
        ExprKind::ElementIndex(_) | ExprKind::SiblingField(_) | ExprKind::Str(_) => None,
    };
    operand.unwrap_or_else(|| {
        // an inlined body must not reach the interpreter: it would see the
        // caller's environment
        t.escaped.set(true);
        Operand::Interpret(Arc::new(e.clone()))
    })
}

/// A utility call's body compiled in place of the call, with its
/// parameters replaced by the arguments, and how many parameters of the
/// caller the arguments read. Only where that changes nothing: every
/// argument is a constant or a parameter (so evaluating it first has no
/// effect and cannot fail once those parameters exist), the body needs no
/// environment of its own, and no call is inlined inside another.
fn inline(t: &Tables<'_>, u: usize, args: &[Operand]) -> Option<(Operand, usize)> {
    if t.inlining.is_some() {
        return None;
    }
    let mut need = 0;
    for a in args {
        match a {
            Operand::Const(_) => {}
            Operand::Param(i) => need = need.max(*i as usize + 1),
            _ => return None,
        }
    }
    let mut body = t.bodies.get(u)?.clone();
    let inner = Tables { inlining: Some(args), escaped: Cell::new(false), ..*t };
    let compiled = expr(&inner, &mut body);
    (!inner.escaped.get()).then_some((compiled, need))
}

/// `load` of an integer of `size` bytes (at most 8).
#[inline(always)]
fn load_int(addr: u64, size: u8, signed: bool, host: &mut dyn Host) -> Result<V, EvalError> {
    if addr == 0 {
        return Err(EvalError::Null);
    }
    let mut b = [0u8; 8];
    host.read(addr, &mut b[..usize::from(size)])?;
    Ok(V::Int(normalize(i128::from(u64::from_le_bytes(b)), size, signed)))
}

fn unary(t: &Tables<'_>, op: UnaryOp, inner: &mut Expr, ty: Ty) -> Option<Operand> {
    match op {
        UnaryOp::Deref => {
            let p = expr(t, inner);
            Some(fun(move |plan, env, host| {
                let p = p.get(plan, env, host)?.as_u64();
                load(plan, p, &ty, host)
            }))
        }
        UnaryOp::AddrOf => {
            let (at, _) = place(t, inner)?;
            Some(fun(move |plan, env, host| Ok(V::Ptr(at(plan, env, host)?))))
        }
        UnaryOp::Not => {
            let x = expr(t, inner);
            Some(match x.constant() {
                Some(v) => Operand::Const(V::Int(i128::from(!v.truthy()))),
                None => fun(move |plan, env, host| Ok(V::Int(i128::from(!x.get(plan, env, host)?.truthy())))),
            })
        }
        UnaryOp::Neg => {
            let x = expr(t, inner);
            let shape = Shape::of(&ty);
            Some(match x.constant() {
                Some(v) => Operand::Const(neg(v, shape)),
                None => fun(move |plan, env, host| Ok(neg(x.get(plan, env, host)?, shape))),
            })
        }
        UnaryOp::BitNot => {
            let x = expr(t, inner);
            Some(match x.constant() {
                Some(v) => Operand::Const(wrap(!v.as_int(), &ty)),
                None => fun(move |plan, env, host| Ok(wrap(!x.get(plan, env, host)?.as_int(), &ty))),
            })
        }
    }
}

fn binary(op: BinaryOp, l: Operand, r: Operand, step: u64, ty: Ty) -> Operand {
    match op {
        BinaryOp::And => {
            if let Some(a) = l.constant() {
                if !a.truthy() {
                    return Operand::Const(V::Int(0));
                }
            }
            fun(move |plan, env, host| Ok(V::Int(i128::from(l.get(plan, env, host)?.truthy() && r.get(plan, env, host)?.truthy()))))
        }
        BinaryOp::Or => {
            if let Some(a) = l.constant() {
                if a.truthy() {
                    return Operand::Const(V::Int(1));
                }
            }
            fun(move |plan, env, host| Ok(V::Int(i128::from(l.get(plan, env, host)?.truthy() || r.get(plan, env, host)?.truthy()))))
        }
        _ => {
            if let (Some(a), Some(b)) = (l.constant(), r.constant()) {
                // an error (a division by zero) stays for run time
                if let Ok(v) = binary_values(op, a, b, step, &ty) {
                    return Operand::Const(v);
                }
            }
            match (r.constant(), &ty) {
                // the usual condition: a value against a constant, in integers
                (Some(b @ V::Int(_)), Ty::Int { .. }) if is_comparison(op) => fun(move |plan, env, host| {
                    let a = l.get(plan, env, host)?;
                    match a {
                        V::Int(_) | V::Ptr(_) => Ok(V::Int(i128::from(compare(op, a.as_int(), b.as_int())))),
                        V::Float(_) => binary_values(op, a, b, step, &ty),
                    }
                }),
                _ => fun(move |plan, env, host| {
                    let a = l.get(plan, env, host)?;
                    let b = r.get(plan, env, host)?;
                    binary_values(op, a, b, step, &ty)
                }),
            }
        }
    }
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne)
}

#[inline(always)]
fn compare(op: BinaryOp, x: i128, y: i128) -> bool {
    match op {
        BinaryOp::Lt => x < y,
        BinaryOp::Le => x <= y,
        BinaryOp::Gt => x > y,
        BinaryOp::Ge => x >= y,
        BinaryOp::Eq => x == y,
        _ => x != y,
    }
}

fn library(f: LibraryFn, args: SmallVec<[Operand; 4]>) -> Option<Operand> {
    match (f, args.as_slice()) {
        (LibraryFn::Metadata, [key]) => {
            let key = key.clone();
            Some(fun(move |plan, env, host| {
                let key = key.get(plan, env, host)?.as_u64();
                Ok(V::Ptr(host.metadata(key)?))
            }))
        }
        (LibraryFn::Min | LibraryFn::Max, [a, b]) => {
            let (a, b) = (a.clone(), b.clone());
            let min = f == LibraryFn::Min;
            Some(fun(move |plan, env, host| {
                let (a, b) = (a.get(plan, env, host)?, b.get(plan, env, host)?);
                let pick_a = match (a, b) {
                    (V::Float(_), _) | (_, V::Float(_)) => (a.as_float() <= b.as_float()) == min,
                    _ => (a.as_int() <= b.as_int()) == min,
                };
                Ok(if pick_a { a } else { b })
            }))
        }
        _ => None,
    }
}

/// Compiled code giving an lvalue's address.
type At = Arc<dyn Fn(&Plan, &Env<'_>, &mut dyn Host) -> Result<u64, EvalError> + Send + Sync>;

/// The address an lvalue designates and its type, as
/// [`eval`](super::eval)'s `place` computes them; `None` where the type is
/// only known at run time (the interpreter's business). Compiles the
/// subexpressions either way.
fn place(t: &Tables<'_>, e: &mut Expr) -> Option<(At, Ty)> {
    let ty = e.ty.clone();
    match &mut e.kind {
        ExprKind::Unary(UnaryOp::Deref, inner) => {
            let p = expr(t, inner);
            Some((Arc::new(move |plan, env, host| Ok(p.get(plan, env, host)?.as_u64())), ty))
        }
        ExprKind::Index(base, index) => {
            let step = i128::from(plan::element_size(t.records, &base.ty));
            let (base, index) = (expr(t, base), expr(t, index));
            let at: At = Arc::new(move |plan, env, host| {
                let base_v = base.get(plan, env, host)?.as_u64();
                let i = index.get(plan, env, host)?.as_int();
                index_place(base_v, i, step)
            });
            Some((at, ty))
        }
        ExprKind::Member { base, field, arrow } => {
            let field = *field as usize;
            let (base_at, record_ty): (At, Ty) = if *arrow {
                let record_ty = pointee(&base.ty).clone();
                let b = expr(t, base);
                (Arc::new(move |plan, env, host| Ok(b.get(plan, env, host)?.as_u64())), record_ty)
            } else {
                place(t, base)?
            };
            let Ty::Record(r) = record_ty else { return None };
            let field = t.records.get(r as usize).and_then(|r| r.fields.get(field))?;
            let (offset, field_ty) = (field.offset, field.ty.clone());
            let at: At = Arc::new(move |plan, env, host| member_place(base_at(plan, env, host)?, offset));
            Some((at, field_ty))
        }
        ExprKind::This | ExprKind::SiblingField(_) if t.inlining.is_some() => {
            t.escaped.set(true);
            None
        }
        ExprKind::This => Some((Arc::new(|_, env, _| this_place(env)), ty)),
        ExprKind::SiblingField(_) => None,
        _ => {
            let v = expr(t, e);
            Some((Arc::new(move |plan, env, host| Ok(v.get(plan, env, host)?.as_u64())), ty))
        }
    }
}

/// `metadata(key)->field`, or `metadata(key)->array[index]` with an
/// index that reaches no memory, of an integer type of up to 8 bytes (the
/// conditions' idiom: `metadata(kernel)->arg_kind[i]`, read on every
/// call): one closure and one host call (`Host::read_metadata`), where the
/// steps of `place` were a closure each and the host found the object's
/// block twice (for its address, then for the read).
fn metadata_field(t: &Tables<'_>, e: &mut Expr) -> Option<Operand> {
    let Ty::Int { size, signed } = e.ty else { return None };
    if size > 8 {
        return None;
    }
    let (key, field, index, step) = match &mut e.kind {
        ExprKind::Member { base, field, arrow: true } => {
            let (key, field) = metadata_member(t, base, *field)?;
            (key, field, None, 0)
        }
        ExprKind::Index(array, index) if matches!(array.ty, Ty::Array(..)) && reaches_no_memory(index) => {
            let step = i128::from(plan::element_size(t.records, &array.ty));
            let ExprKind::Member { base, field, arrow: true } = &mut array.kind else { return None };
            let (key, field) = metadata_member(t, base, *field)?;
            (key, field, Some(expr(t, index)), step)
        }
        _ => return None,
    };
    Some(fun(move |plan, env, host| {
        let key = key.get(plan, env, host)?.as_u64();
        let index = match &index {
            Some(index) => Some((index.get(plan, env, host)?.as_int(), step)),
            None => None,
        };
        super::generated::metadata_field(host, key, field, index, size, signed)
    }))
}

/// The key and the field's offset of `metadata(key)->field` (`base` being
/// `metadata(key)`).
fn metadata_member(t: &Tables<'_>, base: &mut Expr, field: u32) -> Option<(Operand, u64)> {
    let Ty::Record(record) = pointee(&base.ty) else { return None };
    let offset = t.records.get(*record as usize)?.fields.get(field as usize)?.offset;
    let ExprKind::Library(LibraryFn::Metadata, args) = &mut base.kind else { return None };
    let [key] = args.as_mut_slice() else { return None };
    Some((expr(t, key), offset))
}

/// Whether evaluating `e` makes no host call (it reads no memory and calls
/// no library or utility function), so that it may be evaluated before or
/// after a host call without changing what the host sees.
pub fn reaches_no_memory(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Param(_) | ExprKind::Constant(_) | ExprKind::SizeOf(_) => true,
        ExprKind::Unary(op, a) => !matches!(op, UnaryOp::Deref | UnaryOp::AddrOf) && reaches_no_memory(a),
        ExprKind::Binary(_, a, b) => reaches_no_memory(a) && reaches_no_memory(b),
        ExprKind::Ternary(a, b, c) => reaches_no_memory(a) && reaches_no_memory(b) && reaches_no_memory(c),
        ExprKind::Library(LibraryFn::Min | LibraryFn::Max, args) => args.iter().all(reaches_no_memory),
        _ => false,
    }
}

fn pointee(ty: &Ty) -> &Ty {
    match ty {
        Ty::Ptr(p) | Ty::Array(p, _) => p,
        _ => &Ty::Void,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Api, Utility};

    const INT: Ty = Ty::Int { size: 4, signed: true };

    fn e(kind: ExprKind) -> Expr {
        Expr::new(kind, INT)
    }

    fn b(kind: ExprKind) -> Box<Expr> {
        Box::new(e(kind))
    }

    /// A host with nothing in it: every read fails, metadata is logged.
    struct Empty(Vec<u64>);

    impl Host for Empty {
        fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
            Err(EvalError::OutOfBounds { addr, len: dst.len() as u64 })
        }
        fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), EvalError> {
            Err(EvalError::OutOfBounds { addr, len: src.len() as u64 })
        }
        fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
            self.0.push(key);
            Ok(0)
        }
        fn library(&mut self, _: LibraryFn, _: &[V]) -> Result<V, EvalError> {
            Ok(V::Int(0))
        }
    }

    fn plan(utilities: Vec<Utility>) -> Plan {
        Plan {
            api: Api {
                name: "t".into(),
                soname: "libt.so".into(),
                library: "libt.so".into(),
                error_type: INT,
                success: 0,
                failure: -1,
                invalid_handle: -2,
                resolver: None,
            },
            records: Vec::new(),
            functions: Vec::new(),
            callbacks: Vec::new(),
            utilities,
            constants: vec![Constant::Int(8)],
            registries: 0,
            metadata: None,
        }
    }

    fn tables<'a>(plan: &'a Plan, bodies: &'a [Expr]) -> Tables<'a> {
        Tables { records: &plan.records, constants: &plan.constants, bodies, inlining: None, escaped: Cell::new(false) }
    }

    #[test]
    fn constants_fold_and_a_pure_utility_call_is_inlined_with_the_interpreters_errors() {
        // twice(a, b) = a + b + b; meta(a, b) = metadata(a) + b, which asks
        // the host before it reads its second parameter
        let twice = e(ExprKind::Binary(
            BinaryOp::Add,
            b(ExprKind::Binary(BinaryOp::Add, b(ExprKind::Param(0)), b(ExprKind::Param(1)))),
            b(ExprKind::Param(1)),
        ));
        let meta = e(ExprKind::Binary(
            BinaryOp::Add,
            b(ExprKind::Library(LibraryFn::Metadata, vec![e(ExprKind::Param(0))])),
            b(ExprKind::Param(1)),
        ));
        let interpreted = plan(vec![
            Utility { name: "twice".into(), params: vec![INT, INT], body: twice },
            Utility { name: "meta".into(), params: vec![INT, INT], body: meta },
        ]);
        let mut compiled = interpreted.clone();
        compile(&mut compiled);
        let bodies: Vec<Expr> = interpreted.utilities.iter().map(|u| u.body.clone()).collect();
        let t = tables(&interpreted, &bodies);

        // 8 * sizeof(void *): folded
        let mut product = e(ExprKind::Binary(BinaryOp::Mul, b(ExprKind::Constant(0)), b(ExprKind::SizeOf(Ty::Ptr(Box::new(Ty::Void))))));
        assert!(matches!(expr(&t, &mut product), Operand::Const(V::Int(64))));
        // inlined where the arguments are constants or parameters, needing
        // the caller's parameters they name; not where one is computed
        assert!(matches!(inline(&t, 0, &[Operand::Param(2), Operand::Const(V::Int(3))]), Some((_, 3))));
        assert!(matches!(inline(&t, 1, &[Operand::Param(0), Operand::Param(3)]), Some((_, 4))));
        let computed = fun(|_, _, _| Ok(V::Int(1)));
        assert!(inline(&t, 0, &[computed, Operand::Param(1)]).is_none());

        let cases = [
            product,
            e(ExprKind::Utility(0, vec![e(ExprKind::Param(2)), e(ExprKind::Int(3))])),
            // with three parameters the interpreter fails on p3 before it
            // asks for metadata, and so must the inlined body
            e(ExprKind::Utility(1, vec![e(ExprKind::Param(0)), e(ExprKind::Param(3))])),
            e(ExprKind::Utility(
                0,
                vec![e(ExprKind::Binary(BinaryOp::Add, b(ExprKind::Param(0)), b(ExprKind::Int(1)))), e(ExprKind::Param(1))],
            )),
        ];
        for case in cases {
            let mut code = case.clone();
            expr(&t, &mut code);
            assert!(code.code.get().is_some(), "{case:?} compiles");
            for params in [vec![V::Int(5), V::Int(7), V::Int(-2), V::Int(1)], vec![V::Int(5), V::Int(7), V::Int(-2)], vec![]] {
                let env = Env::new(&params, &[]);
                let (mut h1, mut h2) = (Empty(Vec::new()), Empty(Vec::new()));
                let r1 = super::super::eval::eval(&interpreted, &case, &env, &mut h1);
                let r2 = super::super::eval::eval(&compiled, &code, &env, &mut h2);
                assert_eq!(r1, r2, "{case:?} with {params:?}");
                assert_eq!(h1.0, h2.0, "{case:?} with {params:?}: the same host calls");
            }
        }
    }

    #[test]
    fn return_value_is_the_environments_result_and_an_error_outside_statements() {
        let interpreted = plan(Vec::new());
        let t = tables(&interpreted, &[]);
        // metadata(return_value): the key is the result, both ways
        let case = e(ExprKind::Library(LibraryFn::Metadata, vec![e(ExprKind::ReturnValue)]));
        let mut code = case.clone();
        expr(&t, &mut code);
        assert!(code.code.get().is_some());
        for returned in [Some(V::Ptr(0x1_0000_0002)), Some(V::Int(-4)), None] {
            let env = Env { this: returned.map(|v| (v, None)), ..Env::new(&[], &[]) };
            let (mut h1, mut h2) = (Empty(Vec::new()), Empty(Vec::new()));
            let r1 = super::super::eval::interpret(&interpreted, &case, &env, &mut h1);
            let r2 = super::super::eval::eval(&interpreted, &code, &env, &mut h2);
            assert_eq!(r1, r2);
            assert_eq!(h1.0, h2.0);
            match returned {
                Some(v) => assert_eq!(h1.0, [v.as_u64()]),
                None => assert_eq!(r1, Err(EvalError::Plan(super::super::eval::RETURN_VALUE_OUTSIDE))),
            }
        }
    }
}
