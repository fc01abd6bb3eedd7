//! Expression code written by the generator, one Rust function per
//! outermost expression of the spec (see `cava-codegen`'s `exprs.rs`), and
//! the pieces it is written with.
//!
//! The generated guest library and API server each carry a table of these
//! functions, numbered in [`crate::plan::walk::expressions`]' order; when
//! the plan loads, [`install`] attaches each to its expression in place of
//! the closures [`super::compile`] built. Where the generator wrote
//! nothing (a table entry of `None`) the closures stay.
//!
//! The generated API server also carries, for each function its lean path
//! serves, that path's reading of a call's arguments specialized to the
//! function ([`LeanFn`]; `cava-codegen`'s `lean.rs`), written with
//! [`scalars`], [`bytes`] and [`provisional`] below; the generated guest
//! library likewise carries the lean encoding of each function whose
//! calls are encoded the lean way ([`LeanEncode`]; `guest_lean.rs`),
//! written with [`write_scalar`], [`word_descriptor`] and [`lean_inline`].
//!
//! The invariant is the closures' own: generated code computes exactly
//! what the interpreter does (the same value, the same error, the same host
//! calls in the same order). It is written with the interpreter's pieces
//! ([`load_as`], [`wrap_as`], [`binary_as`], [`library`], ...) with the
//! types' shapes, offsets and steps as constants, so what is left to run is
//! the arithmetic and the host's reads; `cava-codegen`'s
//! `generated_expressions` test evaluates every expression of every spec
//! both ways and compares.

#![forbid(unsafe_code)]

pub use super::eval::{
    binary_as, index_place, library, load_as, member_place, neg, normalize, returned, store_as, this_place, wrap_as, Env, EvalError, Host,
    Shape, V,
};
pub use super::guest::{lean_inline, word_descriptor, write_scalar, LeanEncode};
pub use super::server::{LeanArgs, LeanCx, LeanFn};
pub use crate::plan::{BinaryOp, LibraryFn, Plan, SlotShape};
pub use crate::wire::{BufferRef, Message, Writer};

/// The code of one expression.
pub type Generated = fn(&Plan, &Env<'_>, &mut dyn Host) -> Result<V, EvalError>;

/// Attaches `table[i]` to the `i`th outermost expression of `plan` (in
/// [`crate::plan::walk::expressions`]' order); how many it attached. A
/// table of another length was written for another plan: nothing is
/// attached, and the error says so (the contract hash makes that a bug of
/// the generator, not of a user's build). An empty table (a test's
/// library, which has no generated code) attaches nothing.
pub fn install(plan: &mut Plan, table: &[Option<Generated>]) -> Result<usize, String> {
    if table.is_empty() {
        return Ok(0);
    }
    let exprs = crate::plan::walk::expressions_mut(plan);
    if exprs.len() != table.len() {
        return Err(format!(
            "the generated expression code has {} entries for {} expressions; using the compiled closures",
            table.len(),
            exprs.len()
        ));
    }
    let mut attached = 0;
    for (e, code) in exprs.into_iter().zip(table) {
        if let Some(code) = code {
            e.code = super::compile::Code::generated(*code);
            attached += 1;
        }
    }
    Ok(attached)
}

/// Decodes the plan a generated crate embeds (`plan.bin`), compiles its
/// expressions and attaches the crate's generated code (`table`), unless
/// `CAVA_GENERATED_EXPRESSIONS=0` (for comparing the two). A table that
/// does not fit the plan is logged and left out: the closures serve.
pub(crate) fn load_plan(bytes: &[u8], table: &[Option<Generated>], who: &str) -> Result<Plan, String> {
    let mut plan = Plan::from_bytes(bytes).map_err(|e| format!("the embedded plan does not load: {e}"))?;
    if std::env::var_os("CAVA_GENERATED_EXPRESSIONS").is_none_or(|v| v != "0") {
        if let Err(e) = install(&mut plan, table) {
            super::log::log(who, format_args!("{e}"));
        }
    }
    Ok(plan)
}

/// The generated code of each function of a plan (`table`, by function
/// id), kept where `wanted` (the runtime's own decision that the function
/// takes the path the code is for), unless `CAVA_GENERATED_LEAN=0`: for
/// comparing with the interpreter. A table of another length was written
/// for another plan: logged (`what` names it) and left out.
pub(crate) fn per_function<T: Copy>(wanted: &[bool], table: &[Option<T>], who: &str, what: &str) -> Vec<Option<T>> {
    let off = std::env::var_os("CAVA_GENERATED_LEAN").is_some_and(|v| v == "0");
    if off || table.is_empty() {
        return vec![None; wanted.len()];
    }
    if table.len() != wanted.len() {
        super::log::log(who, format_args!("the generated {what} has {} entries for {} functions; interpreting", table.len(), wanted.len()));
        return vec![None; wanted.len()];
    }
    wanted.iter().zip(table).map(|(w, code)| code.filter(|_| *w)).collect()
}

/// Utility `u` by the code installed for its body, which is not the
/// generator's (the generator wrote none for it).
pub fn utility(plan: &Plan, u: usize, env: &Env<'_>, host: &mut dyn Host) -> Result<V, EvalError> {
    let utility = plan.utilities.get(u).ok_or(EvalError::Plan("utility out of range"))?;
    super::eval::eval(plan, &utility.body, env, host)
}

/// Parameter `i`.
#[inline(always)]
pub fn param(env: &Env<'_>, i: usize) -> Result<V, EvalError> {
    env.params.get(i).copied().ok_or(EvalError::Plan("parameter out of range"))
}

/// Contextual argument `i`.
#[inline(always)]
pub fn contextual(env: &Env<'_>, i: usize) -> Result<V, EvalError> {
    env.contextual.get(i).copied().ok_or(EvalError::Plan("contextual argument out of range"))
}

/// `index`, `depth` elements out (0: the innermost).
#[inline(always)]
pub fn element_index(env: &Env<'_>, depth: usize) -> Result<V, EvalError> {
    let n = env.indices.len();
    let i = n.checked_sub(1 + depth).ok_or(EvalError::Plan("`index` outside an element"))?;
    Ok(V::Int(i128::from(env.indices[i])))
}

/// `this`'s value: read at its address when it has one.
#[inline(always)]
pub fn this(env: &Env<'_>, shape: Shape, host: &dyn Host) -> Result<V, EvalError> {
    match env.this {
        Some((_, Some(addr))) => load_as(addr, shape, host),
        Some((v, None)) => Ok(v),
        None => Err(EvalError::Plan("`this` outside a value")),
    }
}

/// The address and shape of field `i` of the struct being described (its
/// record is known only when the call runs).
pub fn sibling_place(plan: &Plan, env: &Env<'_>, i: usize) -> Result<(u64, Shape), EvalError> {
    let (addr, r) = env.sibling.ok_or(EvalError::Plan("no enclosing struct"))?;
    let field = plan.records.get(r as usize).and_then(|r| r.fields.get(i)).ok_or(EvalError::Plan("unknown field"))?;
    Ok((addr.wrapping_add(field.offset), Shape::of(&field.ty)))
}

/// `metadata(key)->field` or `metadata(key)->array[i]` (an integer field
/// of up to 8 bytes, `index` being `i` and the element's size), read in one
/// host call as the compiled closures do (see `compile::metadata_field`,
/// whose conditions the generator checks).
#[inline(always)]
pub fn metadata_field(
    host: &mut dyn Host,
    key: u64,
    field: u64,
    index: Option<(i128, i128)>,
    size: u8,
    signed: bool,
) -> Result<V, EvalError> {
    let delta = match index {
        Some((i, step)) => match i.checked_mul(step) {
            Some(delta) => delta,
            // as `place` fails, naming the array's address
            None => return Err(EvalError::OutOfBounds { addr: host.metadata(key)?.wrapping_add(field), len: 0 }),
        },
        None => 0,
    };
    let mut b = [0u8; 8];
    host.read_metadata(key, field, delta, &mut b[..usize::from(size).min(8)])?;
    Ok(V::Int(normalize(i128::from(u64::from_le_bytes(b)), size, signed)))
}

/// The scalar area of a call whose last slot ends at `END` and whose area
/// is `padded` long when laid out (see [`crate::wire::Layout`]): `None`
/// where reading the slots in order would fail or leave bytes unread, as
/// [`crate::wire::Scalars`] does.
#[inline(always)]
pub fn scalars<'m, const END: usize>(message: &Message<'m>, padded: usize) -> Option<&'m [u8; END]> {
    let s = message.scalar_bytes();
    if s.len() > padded {
        return None;
    }
    s.get(..END)?.try_into().ok()
}

/// The `N` bytes at `at` of a call's scalar area (constants: the bounds
/// check folds away).
#[inline(always)]
pub fn bytes<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&s[at..at + N]);
    b
}

/// A buffer argument's value before it is translated, as expressions see
/// it (see the server's `frame::provisional`).
#[inline(always)]
pub fn provisional(descriptor: BufferRef<'_>) -> V {
    super::server::provisional(descriptor)
}
