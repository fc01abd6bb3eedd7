//! The API server's lean path as Rust, per function: `lean.rs` of the
//! generated server, one function per function the lean path serves
//! (`cava_runtime::marshal::server::LeanCall::of` decides which), each
//! reading a call's arguments exactly as `LeanCall::decode` interprets
//! them, with what that looks up per call decided here: the slots' offsets
//! and the scalar area's length, the shapes, which descriptions are lean,
//! the strides and handle kinds, the guest-only words. Conditions and sizes
//! call the functions of `expressions.rs` directly.
//!
//! A function whose conditions or sizes have no generated code, or whose
//! slots do not lay out, gets no entry: the runtime interprets it.

use std::collections::HashMap;

use cava_runtime::marshal::server::{guest_only_word, handle_ids, lean_leaf, LeanCall};
use cava_runtime::plan::{call_slots, walk, Expr, Function, Kind, Leaf, Plan, SlotShape, Ty, Value};
use cava_runtime::wire::Layout;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::exprs;

/// The module `lean.rs` of a generated server: `TABLE`, one entry per
/// function of `plan`. `expressions` is the path of the crate's
/// `expressions` module.
pub fn module(plan: &Plan, expressions: TokenStream) -> TokenStream {
    let g = Gen { plan, exprs: ExprCalls::new(plan, expressions) };
    let mut functions = Vec::new();
    let mut entries = Vec::new();
    for (id, f) in plan.functions.iter().enumerate() {
        match g.function(f) {
            Some(body) => {
                let name = format_ident!("f{}", id);
                let doc = format!(" `{}`.", f.name);
                functions.push(quote! {
                    #[doc = #doc]
                    fn #name(plan: &g::Plan, m: &g::Message<'_>, cx: &mut dyn g::LeanCx, out: &mut g::LeanArgs) -> Option<()> {
                        #body
                    }
                });
                entries.push(quote!(Some(#name as g::LeanFn)));
            }
            None => entries.push(quote!(None)),
        }
    }
    let n = entries.len();
    quote! {
        //! The lean path's reading of each lean function's calls, generated
        //! by `cava build`; do not edit. Entry `i` of `TABLE` is function
        //! `i`'s (`None`: the runtime interprets it).
        #![allow(unused, clippy::all)]

        use ::cava_runtime::marshal::generated as g;

        pub static TABLE: [Option<g::LeanFn>; #n] = [#(#entries),*];

        #(#functions)*
    }
}

struct Gen<'p> {
    plan: &'p Plan,
    exprs: ExprCalls<'p>,
}

/// Calls of the functions `expressions.rs` has for a plan's outermost
/// expressions.
pub(crate) struct ExprCalls<'p> {
    plan: &'p Plan,
    /// Each outermost expression's number (its function's).
    numbers: HashMap<*const Expr, usize>,
    /// The path of the crate's `expressions` module.
    module: TokenStream,
}

impl<'p> ExprCalls<'p> {
    pub(crate) fn new(plan: &'p Plan, module: TokenStream) -> ExprCalls<'p> {
        let numbers = walk::expressions(plan).into_iter().enumerate().map(|(i, e)| (e as *const Expr, i)).collect();
        ExprCalls { plan, numbers, module }
    }

    /// Code of type `Result<V, EvalError>` evaluating `e` (a condition or
    /// a size of the plan) in `env` with `host`, by its generated function;
    /// `None` when it has none.
    pub(crate) fn call(&self, e: &Expr, env: TokenStream, host: TokenStream) -> Option<TokenStream> {
        let number = *self.numbers.get(&(e as *const Expr))?;
        if !exprs::has_code(self.plan, e) {
            return None;
        }
        let name = format_ident!("e{}", number);
        let module = &self.module;
        Some(quote!(#module::#name(plan, #env, #host)))
    }
}

impl Gen<'_> {
    /// The body of a function's lean reading; `None` where the runtime
    /// must interpret it.
    fn function(&self, f: &Function) -> Option<TokenStream> {
        let shapes = call_slots(f).ok()?;
        LeanCall::of(self.plan, f, &shapes)?;
        let slots: Vec<_> = shapes.iter().filter_map(|s| s.slot()).collect();
        let (slot_offsets, padded) = Layout::of(&slots);
        let end = slots.iter().zip(&slot_offsets).map(|(s, o)| o + s.size()).max().unwrap_or(0) as usize;
        let mut at = slot_offsets.into_iter();
        let offsets: Vec<u32> = shapes.iter().map(|s| if s.slot().is_some() { at.next().unwrap_or(0) } else { 0 }).collect();
        let n = f.params.len();
        let padded = padded as usize;

        // 1. what every argument holds, as expressions see it
        let mut reads = Vec::new();
        for (i, (p, shape)) in f.params.iter().zip(&shapes).enumerate() {
            let o = offsets[i] as usize;
            let value = match shape {
                SlotShape::Void => quote!(g::V::Int(0)),
                SlotShape::Buffer => {
                    let d = descriptor(i);
                    reads.push(quote!(let #d = m.buffer_at(#o as u32).ok()?;));
                    quote!(g::provisional(#d))
                }
                SlotShape::Int { size, .. } | SlotShape::Float { size } => {
                    let raw = match size {
                        1 => quote!(u64::from(u8::from_le_bytes(g::bytes::<1>(s, #o)))),
                        2 => quote!(u64::from(u16::from_le_bytes(g::bytes::<2>(s, #o)))),
                        4 => quote!(u64::from(u32::from_le_bytes(g::bytes::<4>(s, #o)))),
                        _ => quote!(u64::from_le_bytes(g::bytes::<8>(s, #o))),
                    };
                    let shape = exprs::shape(&p.ty);
                    reads.push(quote!(out.raws[#i] = #raw;));
                    quote!(g::V::from_raw_as(out.raws[#i], #shape))
                }
                SlotShape::Word | SlotShape::Handle => {
                    reads.push(quote!(out.raws[#i] = u64::from_le_bytes(g::bytes::<8>(s, #o));));
                    quote!(g::V::Ptr(out.raws[#i]))
                }
            };
            reads.push(quote!(values[#i] = #value;));
        }

        // 2. translate and check, in order
        let mut steps = Vec::new();
        for (i, (p, shape)) in f.params.iter().zip(&shapes).enumerate() {
            let raw = self.value(f, i, &p.value, &p.ty, *shape, offsets[i])?;
            steps.push(quote!({
                let v = values[#i];
                out.raws[#i] = #raw;
            }));
        }
        Some(quote! {
            let s = g::scalars::<#end>(m, #padded)?;
            let mut values = [g::V::Int(0); #n];
            #(#reads)*
            #(#steps)*
            Some(())
        })
    }

    /// Code of type `u64` (the vendor's word for argument `i`) choosing
    /// among the leaves of `value` as `select` does.
    fn value(&self, f: &Function, i: usize, value: &Value, ty: &Ty, shape: SlotShape, offset: u32) -> Option<TokenStream> {
        Some(match value {
            Value::Leaf(leaf) => self.leaf(f, i, leaf, ty, shape, offset)?,
            Value::If { cond, then, otherwise } => {
                let cond = self.call(cond)?;
                let then = self.value(f, i, then, ty, shape, offset)?;
                let otherwise = self.value(f, i, otherwise, ty, shape, offset)?;
                quote!(if (#cond).truthy() { #then } else { #otherwise })
            }
        })
    }

    /// Code of type `u64` for argument `i` described by `leaf`.
    fn leaf(&self, f: &Function, i: usize, leaf: &Leaf, ty: &Ty, shape: SlotShape, offset: u32) -> Option<TokenStream> {
        if !lean_leaf(ty, leaf, shape) {
            return Some(quote!(return None));
        }
        let raw = match (&leaf.kind, shape) {
            (Kind::Handle { kind }, _) => quote!(cx.handle(v.as_u64(), #kind)?),
            (Kind::Buffer { size, element }, SlotShape::Buffer) => {
                let d = descriptor(i);
                let count = self.call(size)?;
                let stride = Literal::u64_suffixed(self.plan.element_size(&leaf.ty));
                let ids = match handle_ids(element, &leaf.ty) {
                    Some(kind) => quote!(Some(#kind)),
                    None => quote!(None),
                };
                quote!({
                    let addr = match #d {
                        g::BufferRef::Null => 0,
                        g::BufferRef::Inline(bytes) => {
                            let count = #count;
                            out.inline(cx, bytes, count.as_int(), #stride, #ids)?
                        }
                        _ => return None,
                    };
                    values[#i] = g::V::Ptr(addr);
                    addr
                })
            }
            (Kind::Opaque, SlotShape::Buffer) => quote!(m.buffer_key_at(#offset).ok()?),
            // the word as it came (see `LeanCall::decode`)
            _ => quote!(out.raws[#i]),
        };
        Some(if f.replaced_in_guest && guest_only_word(leaf) {
            quote!({
                let raw = #raw;
                if raw != 0 {
                    return None;
                }
                raw
            })
        } else {
            raw
        })
    }

    /// Code of type `V` evaluating `e` (a condition or a size) with `this`
    /// the argument's value; `None` when it has no generated function.
    fn call(&self, e: &Expr) -> Option<TokenStream> {
        let env = quote!(&g::Env { this: Some((v, None)), ..g::Env::new(&values, &[]) });
        let call = self.exprs.call(e, env, quote!(cx.host()))?;
        Some(quote!(#call.ok()?))
    }
}

fn descriptor(i: usize) -> proc_macro2::Ident {
    format_ident!("d{}", i)
}
