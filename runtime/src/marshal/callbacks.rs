//! What both halves agree on about callbacks: the slots of a callback
//! message and of its reply.
//!
//! A callback message (kind `Callback`, server to guest) names the plan's
//! callback in the header's `function` and numbers itself in `call_id`. Its
//! scalar area holds the guest's registration id (u64), then one slot per
//! parameter of the callback: a buffer descriptor for a buffer, a u64 for
//! anything else (integers and floats as their raw bits, handles as the
//! guest's ids, userdata as 0: the guest substitutes the pointer it kept).
//! The reply (kind `CallbackReply`, same `function` and `call_id`) holds the
//! callback's raw result as a u64.
//!
//! Callbacks are not on a router's hot path and the server builds them, so
//! their layout favours simplicity over size.

#![forbid(unsafe_code)]

use crate::plan::{Callback, Kind, Lifetime, Plan, Value};
use crate::wire::{Layout, Slot};

/// Whether a callback parameter travels as a buffer descriptor.
pub(super) fn is_buffer(value: &Value) -> bool {
    value.any_leaf(&|leaf| matches!(leaf.kind, Kind::Buffer { .. }))
}

/// The slots of a callback message: the registration id, then the parameters.
pub(super) fn message_slots(callback: &Callback) -> Vec<Slot> {
    std::iter::once(Slot::U64).chain(callback.params.iter().map(|p| if is_buffer(&p.value) { Slot::Buffer } else { Slot::U64 })).collect()
}

pub(super) fn message_scalar_len(callback: &Callback) -> u32 {
    Layout::of(&message_slots(callback)).1
}

pub(super) const REPLY_SLOTS: [Slot; 1] = [Slot::U64];

/// When a callback registration ends, on both sides (its argument's
/// `lifetime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ends {
    /// With the guest process (`static`, the default): shared by every
    /// registration of the same callback type, function and userdata.
    WithProcess,
    /// After its first call (`once`), or on a release message.
    AfterOneCall,
    /// On a release message (`coupled`): the object it is coupled to was
    /// deallocated, or the call that made it failed.
    WithObject,
}

impl Ends {
    pub(super) fn of(lifetime: &Lifetime) -> Ends {
        match lifetime {
            Lifetime::Once => Ends::AfterOneCall,
            Lifetime::Coupled(_) | Lifetime::CoupledToReturn => Ends::WithObject,
            _ => Ends::WithProcess,
        }
    }
}

/// The parameter of a callback that carries the application's pointer back
/// (its `userdata`), if it has one.
pub(super) fn userdata_param(callback: &Callback) -> Option<usize> {
    callback.params.iter().position(|p| matches!(&p.value, Value::Leaf(leaf) if matches!(leaf.kind, Kind::Userdata { .. })))
}

/// For each parameter of `function` that is a function's callback, the
/// parameter holding its userdata (`userdata(cb)` pairs them).
pub(super) fn userdata_of(plan: &Plan, function: u32, callback_param: usize) -> Option<usize> {
    let f = plan.functions.get(function as usize)?;
    f.params.iter().position(|p| {
        matches!(&p.value, Value::Leaf(leaf) if matches!(leaf.kind, Kind::Userdata { callback_param: Some(c) } if c as usize == callback_param))
    })
}

/// Whether any parameter of a function is a callback or its userdata.
pub(super) fn has_callbacks(f: &crate::plan::Function) -> bool {
    f.params.iter().any(|p| p.value.any_leaf(&|leaf| matches!(leaf.kind, Kind::Callback { .. } | Kind::Userdata { .. })))
}
