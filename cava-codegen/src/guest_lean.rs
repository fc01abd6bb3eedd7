//! The guest's lean encoding as Rust, per function: `lean.rs` of the
//! generated guest library, one function per function whose calls are
//! encoded the lean way (`cava_runtime::marshal::guest::has_lean_encoding`
//! decides which), each writing a call's message exactly as the runtime's
//! `guest::lean::encode` interprets it, with what that looks up per call
//! decided here: the slots' shapes, which descriptions are lean, the
//! strides. Conditions and sizes call the functions of `expressions.rs`
//! directly; the checks on what travels inline are the runtime's
//! (`lean_inline`).
//!
//! A function whose conditions or sizes have no generated code gets no
//! entry: the runtime interprets it.

use cava_runtime::marshal::guest::{has_lean_encoding, lean_leaf};
use cava_runtime::plan::{call_slots, Expr, Function, Kind, Leaf, Plan, SlotShape, Value};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::exprs;
use crate::lean::{per_function, ExprCalls};

/// The module `lean.rs` of a generated guest library: `TABLE`, one entry
/// per function of `plan`. `expressions` is the path of the crate's
/// `expressions` module.
pub fn module(plan: &Plan, expressions: TokenStream) -> TokenStream {
    let g = Gen { plan, exprs: ExprCalls::new(plan, expressions) };
    per_function(
        plan,
        "The lean encoding of each function whose calls are encoded the lean way",
        quote!(g::LeanEncode),
        quote!((plan: &g::Plan, w: &mut g::Writer, params: &[g::V], host: &mut dyn g::Host, max: u64) -> bool),
        |f| g.function(f),
    )
}

struct Gen<'p> {
    plan: &'p Plan,
    exprs: ExprCalls<'p>,
}

impl Gen<'_> {
    /// The body of a function's lean encoding; `None` where the runtime
    /// must interpret it.
    fn function(&self, f: &Function) -> Option<TokenStream> {
        if !has_lean_encoding(self.plan, f) {
            return None;
        }
        let shapes = call_slots(f).ok()?;
        let n = f.params.len();
        let mut writes = Vec::new();
        for (i, (p, shape)) in f.params.iter().zip(&shapes).enumerate() {
            writes.push(match shape {
                SlotShape::Buffer => {
                    let descriptor = self.value(&p.value)?;
                    quote!({
                        let v = params[#i];
                        let d = #descriptor;
                        w.descriptor_slot(d);
                    })
                }
                scalar => {
                    let slot = slot_shape(*scalar);
                    let shape = exprs::shape(&p.ty);
                    quote!(g::write_scalar(w, #slot, params[#i].to_raw_as(#shape));)
                }
            });
        }
        Some(quote! {
            // (the interpreter encodes what it is given; a call always
            // comes with every argument)
            let Ok(params) = <&[g::V; #n]>::try_from(params) else { return false };
            #(#writes)*
            true
        })
    }

    /// Code of type `[u8; 32]` (the descriptor of the argument `v`),
    /// choosing among the leaves of `value` as `select` does.
    fn value(&self, value: &Value) -> Option<TokenStream> {
        Some(match value {
            Value::Leaf(leaf) => self.leaf(leaf)?,
            Value::If { cond, then, otherwise } => {
                let cond = self.call(cond)?;
                let (then, otherwise) = (self.value(then)?, self.value(otherwise)?);
                quote!(if (#cond).truthy() { #then } else { #otherwise })
            }
        })
    }

    fn leaf(&self, leaf: &Leaf) -> Option<TokenStream> {
        if !lean_leaf(leaf) {
            return Some(quote!(return false));
        }
        let Kind::Buffer { size, .. } = &leaf.kind else {
            // the word itself: the server passes it on or translates it
            return Some(quote!(g::word_descriptor(v.as_u64())));
        };
        let count = self.call(size)?;
        let stride = Literal::u64_suffixed(self.plan.element_size(&leaf.ty));
        Some(quote!({
            let ptr = v.as_u64();
            if ptr == 0 {
                g::word_descriptor(0)
            } else {
                let count = #count;
                match g::lean_inline(w, ptr, count.as_int(), #stride, max) {
                    Some(d) => d,
                    None => return false,
                }
            }
        }))
    }

    /// Code of type `V` evaluating `e` (a condition or a size) with `this`
    /// the argument's value; `None` when it has no generated function.
    fn call(&self, e: &Expr) -> Option<TokenStream> {
        let env = quote!(&g::Env { this: Some((v, None)), ..g::Env::new(params, &[]) });
        let call = self.exprs.call(e, env, quote!(host))?;
        Some(quote!(match #call {
            Ok(value) => value,
            Err(_) => return false,
        }))
    }
}

/// A scalar slot's shape, as a constant.
fn slot_shape(shape: SlotShape) -> TokenStream {
    match shape {
        SlotShape::Int { size, signed } => quote!(g::SlotShape::Int { size: #size, signed: #signed }),
        SlotShape::Float { size } => quote!(g::SlotShape::Float { size: #size }),
        SlotShape::Word => quote!(g::SlotShape::Word),
        SlotShape::Handle => quote!(g::SlotShape::Handle),
        SlotShape::Buffer => quote!(g::SlotShape::Buffer),
        SlotShape::Void => quote!(g::SlotShape::Void),
    }
}
