//! The wire slot of each top-level value. The slot must not depend on run
//! time values (a router reads argument `n` at a fixed offset), so every
//! leaf of an `if` tree must agree on it.

use super::{Kind, Leaf, Plan, Ty, Value};
use crate::wire::Slot;

/// How a top-level value travels in its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotShape {
    /// An integer of `size` bytes (enums, `_Bool` and characters included).
    Int {
        size: u8,
        signed: bool,
    },
    Float {
        size: u8,
    },
    /// A pointer-sized word sent as it is: opaque pointers, callbacks, userdata.
    Word,
    /// An id from the guest's handle table.
    Handle,
    /// A buffer descriptor: pointers to data, and structs passed by value.
    Buffer,
    /// Nothing (`void` results).
    Void,
}

impl SlotShape {
    /// The wire slot; `None` for `Void`.
    pub fn slot(self) -> Option<Slot> {
        Some(match self {
            SlotShape::Int { size: 1, .. } => Slot::U8,
            SlotShape::Int { size: 2, .. } => Slot::U16,
            SlotShape::Int { size: 4, .. } | SlotShape::Float { size: 4 } => Slot::U32,
            SlotShape::Int { .. } | SlotShape::Float { .. } | SlotShape::Word | SlotShape::Handle => Slot::U64,
            SlotShape::Buffer => Slot::Buffer,
            SlotShape::Void => return None,
        })
    }
}

fn leaf_shape(leaf: &Leaf) -> Result<SlotShape, String> {
    Ok(match &leaf.kind {
        Kind::Handle { .. } => SlotShape::Handle,
        Kind::Buffer { .. } | Kind::Struct { .. } => SlotShape::Buffer,
        Kind::Callback { .. } | Kind::Userdata { .. } => SlotShape::Word,
        Kind::Opaque => match &leaf.ty {
            Ty::Void => SlotShape::Void,
            Ty::Int { size, signed } => SlotShape::Int { size: *size, signed: *signed },
            Ty::Float { size } => SlotShape::Float { size: *size },
            Ty::Ptr(_) | Ty::Function => SlotShape::Word,
            Ty::Record(_) | Ty::Array(..) => SlotShape::Buffer,
        },
    })
}

/// The slot shape of a value, the same for every leaf of its `if` tree.
pub fn shape(value: &Value) -> Result<SlotShape, String> {
    match value {
        Value::Leaf(leaf) => leaf_shape(leaf),
        Value::If { then, otherwise, .. } => {
            let (a, b) = (shape(then)?, shape(otherwise)?);
            if a == b {
                Ok(a)
            } else if matches!((a, b), (SlotShape::Buffer, SlotShape::Word) | (SlotShape::Word, SlotShape::Buffer)) {
                // `if (p != 0) { buffer(n); } else { opaque; }`: the word
                // travels as the key of a null descriptor
                Ok(SlotShape::Buffer)
            } else if matches!((a, b), (SlotShape::Handle, SlotShape::Word) | (SlotShape::Word, SlotShape::Handle)) {
                // `if (this == 1) { opaque; } else { handle; }` (a constant
                // that stands for an object, like CUDA's default streams):
                // both are 64-bit words, and the API server translates the
                // word only where its own reading of the condition selects
                // `handle`, so a guest gets no other word through
                Ok(SlotShape::Handle)
            } else {
                Err(format!("its branches travel differently ({a:?} and {b:?}); describe it the same way in every branch"))
            }
        }
    }
}

/// Slot shapes of a function's arguments, then its contextual arguments.
pub fn call_slots(function: &super::Function) -> Result<Vec<SlotShape>, String> {
    let params = function.params.iter().map(|p| (&p.name, &p.value));
    let contextual = function.contextual.iter().map(|c| (&c.name, &c.value));
    params
        .chain(contextual)
        .map(|(name, value)| shape(value).map_err(|e| format!("argument `{name}` of `{}`: {e}", function.name)))
        .collect()
}

/// Slot shape of a function's result.
pub fn reply_slot(_plan: &Plan, function: &super::Function) -> Result<SlotShape, String> {
    shape(&function.return_value).map_err(|e| format!("the result of `{}`: {e}", function.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Expr, ExprKind};

    fn leaf(kind: Kind, ty: Ty) -> Value {
        Value::Leaf(Box::new(Leaf {
            ty,
            kind,
            input: true,
            output: false,
            no_copy: false,
            lifetime: crate::plan::Lifetime::Call,
            allocate: false,
            deallocate: false,
            zerocopy: false,
            obj_record: false,
        }))
    }

    fn branches(then: Value, otherwise: Value) -> Value {
        let cond = Expr::new(ExprKind::Int(1), Ty::Int { size: 4, signed: true });
        Value::If { cond, then: Box::new(then), otherwise: Box::new(otherwise) }
    }

    #[test]
    fn a_handle_or_a_word_travels_in_one_64_bit_slot() {
        let handle = || leaf(Kind::Handle { kind: 0 }, Ty::Ptr(Box::new(Ty::Void)));
        let word = || leaf(Kind::Opaque, Ty::Ptr(Box::new(Ty::Void)));
        assert_eq!(shape(&branches(word(), handle())), Ok(SlotShape::Handle));
        assert_eq!(shape(&branches(handle(), word())), Ok(SlotShape::Handle));
        let int = leaf(Kind::Opaque, Ty::Int { size: 4, signed: true });
        assert!(shape(&branches(handle(), int)).is_err(), "a 32-bit integer and a handle do not share a slot");
    }
}
