//! Every expression of a plan, in one fixed order: the order in which the
//! generator numbers the code it writes for them (see
//! [`crate::marshal::generated`]) and in which the runtime installs that
//! code, so the two halves agree on which code belongs to which
//! expression. Only the outermost expressions are listed (a condition, a
//! size, a statement, a utility's body), not their subexpressions.

use super::{Expr, Kind, Leaf, Lifetime, Plan, Value};

/// Writes the walk once for shared and for mutable references.
macro_rules! walk {
    ($name:ident, [$($mut:tt)?], $iter:ident, $as_ref:ident) => {
        /// Every outermost expression of `plan`, in the generator's order.
        pub fn $name(plan: & $($mut)? Plan) -> Vec<& $($mut)? Expr> {
            fn value<'p>(v: &'p $($mut)? Value, out: &mut Vec<&'p $($mut)? Expr>) {
                match v {
                    Value::Leaf(l) => leaf(l, out),
                    Value::If { cond, then, otherwise } => {
                        out.push(cond);
                        value(then, out);
                        value(otherwise, out);
                    }
                }
            }
            fn leaf<'p>(l: &'p $($mut)? Leaf, out: &mut Vec<&'p $($mut)? Expr>) {
                match & $($mut)? l.kind {
                    Kind::Buffer { size, element } => {
                        out.push(size);
                        value(element, out);
                    }
                    Kind::Struct { fields } => fields.$iter().for_each(|f| value(f, out)),
                    _ => {}
                }
                if let Lifetime::Coupled(owner) = & $($mut)? l.lifetime {
                    out.push(owner);
                }
            }
            let mut out = Vec::new();
            for u in & $($mut)? plan.utilities {
                out.push(& $($mut)? u.body);
            }
            for f in & $($mut)? plan.functions {
                out.extend(& $($mut)? f.in_guest);
                for p in & $($mut)? f.params {
                    value(& $($mut)? p.value, &mut out);
                }
                for c in & $($mut)? f.contextual {
                    out.push(& $($mut)? c.init);
                    value(& $($mut)? c.value, &mut out);
                }
                value(& $($mut)? f.return_value, &mut out);
                out.extend(& $($mut)? f.actions);
                out.extend(f.release_at_exit.$as_ref().and_then(|r| r.times.$as_ref()));
            }
            for c in & $($mut)? plan.callbacks {
                for p in & $($mut)? c.params {
                    value(& $($mut)? p.value, &mut out);
                }
                value(& $($mut)? c.return_value, &mut out);
            }
            out
        }
    };
}

walk!(expressions, [], iter, as_ref);
walk!(expressions_mut, [mut], iter_mut, as_mut);
