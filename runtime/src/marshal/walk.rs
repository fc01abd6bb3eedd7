//! What both sides must agree on when they walk a value.

use crate::plan::{Kind, Plan, Ty, Value};

/// True when the elements of a buffer of `element` values must be visited
/// one by one (they hold handles, pointers to other buffers, or structs
/// with those), false when the bytes can be copied as they are.
pub fn needs_walk(element: &Value) -> bool {
    match element {
        Value::If { then, otherwise, .. } => needs_walk(then) || needs_walk(otherwise),
        Value::Leaf(leaf) => match &leaf.kind {
            Kind::Handle { .. } => true,
            // an array inside a struct holds its elements in place
            Kind::Buffer { element, .. } if matches!(leaf.ty, Ty::Array(..)) => needs_walk(element),
            Kind::Buffer { .. } => true,
            Kind::Struct { fields } => fields.iter().any(needs_walk),
            Kind::Opaque | Kind::Callback { .. } | Kind::Userdata { .. } => false,
        },
    }
}

/// The pointee of a pointer or array type (`void` otherwise).
pub fn pointee(ty: &Ty) -> &Ty {
    match ty {
        Ty::Ptr(p) | Ty::Array(p, _) => p,
        _ => &Ty::Void,
    }
}

/// Bytes of one element of a buffer whose pointer type is `ty`.
pub fn stride(plan: &Plan, ty: &Ty) -> u64 {
    plan.element_size(ty)
}

/// `count` elements of `stride` bytes, refused above `max`.
pub fn byte_len(count: i128, stride: u64, max: u64) -> Option<u64> {
    let count = u64::try_from(count).ok()?;
    count.checked_mul(stride).filter(|n| *n <= max)
}
