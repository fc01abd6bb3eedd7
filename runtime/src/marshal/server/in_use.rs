//! A release never frees an object under a call of the process that has
//! its handle in hand (see [`in_hand`](crate::marshal::in_hand)): each
//! handle a call translates is published on its channel until the call
//! ends ([`Uses`]), and a call that deallocates a handle still in hand does
//! not make its vendor call then:
//!
//! - a release whose arguments are only handles and scalars (every OpenCL
//!   `clRelease*`) waits: its handle stays releasing (refused to every new
//!   call, as a released one is), the call answers success and runs its
//!   statements, and the thread that finds the handle free (the call that
//!   ends the last use) makes the vendor call with the release's
//!   arguments, and then does what the release's success does: ends the
//!   handle, frees the buffers kept for the object, forgets its coupled
//!   callbacks. Nothing blocks, so a use that never ends holds back only
//!   the release of its own objects, and no thread.
//! - any other (a buffer to bring back, a result to give) cannot be made
//!   later, and is refused with an error reply; its handle stays live.

use super::*;
use crate::marshal::in_hand::{Hand, InHand};

/// A release that waits for the calls that have its handle in hand: the
/// call to make (the other handles it names stay in hand meanwhile).
#[derive(Debug)]
pub(in crate::marshal) struct DeferredRelease {
    /// The handle it releases.
    id: u64,
    function: u32,
    /// The vendor call's arguments, translated.
    args: SmallVec<[u64; 4]>,
}

/// Which functions of `plan` deallocate a handle, and whether a call of
/// each that finds its handle in hand may wait ([`deferrable`]) or is
/// refused: `(function id, waits)`.
pub fn waiting_releases(plan: &Plan) -> Result<Vec<(usize, bool)>, String> {
    let mut releases = Vec::new();
    for (id, f) in plan.functions.iter().enumerate() {
        let deallocates = f.params.iter().any(|p| p.value.any_leaf(&|leaf| leaf.deallocate && matches!(leaf.kind, Kind::Handle { .. })));
        if deallocates {
            releases.push((id, deferrable(plan, f, &call_slots(f)?)));
        }
    }
    Ok(releases)
}

/// Whether a release by `f` may be made after its call answered: its
/// arguments are handles and scalars (nothing the call's message holds),
/// and it returns the API's status (answered as success) or nothing.
pub(super) fn deferrable(plan: &Plan, f: &Function, shapes: &[SlotShape]) -> bool {
    let plain = |value: &Value| {
        !value.any_leaf(&|leaf| {
            !matches!(leaf.kind, Kind::Handle { .. } | Kind::Opaque)
                || leaf.output
                || leaf.no_copy
                || leaf.zerocopy
                || leaf.lifetime != Lifetime::Call
        })
    };
    f.contextual.is_empty()
        && shapes.len() == f.params.len()
        && shapes.iter().all(|s| *s != SlotShape::Buffer)
        && (f.ret == plan.api.error_type || f.ret == Ty::Void)
        && matches!(&f.return_value, Value::Leaf(leaf) if leaf.kind == Kind::Opaque)
        && f.params.iter().all(|p| plain(&p.value))
}

/// The handles a call translated, each in hand until the call ends (when
/// this is dropped, which makes the releases that waited for them).
pub(super) struct Uses<'a> {
    shared: &'a Shared,
    tenant: &'a Tenant,
    hand: Hand<'a>,
}

impl<'a> Uses<'a> {
    #[inline]
    pub(super) fn new(shared: &'a Shared, tenant: &'a Tenant, hand: &'a InHand) -> Uses<'a> {
        Uses { shared, tenant, hand: Hand::new(hand) }
    }

    /// The object behind handle `id` of `kind`, in hand until the call
    /// ends; `handles` is the process's table, locked.
    #[inline(always)]
    pub(super) fn take(&mut self, handles: &HandleTable, id: u64, kind: u32) -> Result<u64, HandleError> {
        let object = handles.get(id, kind)?;
        if id != 0 {
            self.hand.publish(id);
        }
        Ok(object as u64)
    }

    /// Makes the release of `id` (releasing: this call deallocates it)
    /// wait, if a call in flight has it in hand (see the module docs):
    /// true when it does, and the call then makes no vendor call. `args`
    /// are the vendor call's.
    pub(super) fn defer(&mut self, function: u32, id: u64, args: &[u64]) -> Result<bool, Refusal> {
        let holdings = &self.tenant.holdings;
        if !holdings.in_use(id) {
            return Ok(false);
        }
        if !self.shared.deferrable[function as usize] {
            let name = &self.shared.plan.functions[function as usize].name;
            return Err((ErrorCode::ServerFailure, format!("{name} releases an object that another call in flight uses")));
        }
        holdings.wait(id, self.hand.take_all_but(id), DeferredRelease { id, function, args: SmallVec::from_slice(args) });
        // the uses may have ended meanwhile
        settle(self.shared, self.tenant);
        Ok(true)
    }
}

impl Drop for Uses<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.hand.is_empty() {
            return;
        }
        self.hand.clear();
        if self.tenant.holdings.after_call() {
            settle(self.shared, self.tenant);
        }
    }
}

/// Makes the waiting releases whose handles nobody has in hand any more.
#[cold]
fn settle(shared: &Shared, tenant: &Tenant) {
    tenant.holdings.settle(|release| make(shared, tenant, release));
}

/// Makes a release that waited, now that nobody has its handle in hand.
fn make(shared: &Shared, tenant: &Tenant, release: DeferredRelease) {
    let DeferredRelease { id, function, args } = release;
    let plan = &shared.plan;
    let f = &plan.functions[function as usize];
    let succeeded = shared.address(function as usize).is_some_and(|address| {
        lock(&tenant.handles).release_starts(id);
        let raw = calling_for(tenant.process, || {
            process_memory::with_call_region(None, || native::call(shared.library.dispatch, function, address, &args))
        });
        f.ret != plan.api.error_type || V::from_raw(raw, &f.ret).as_int() == plan.api.success
    });
    if succeeded {
        lock(&tenant.handles).finish_release(id);
        forget_deallocated(shared, tenant, id);
        lock(&tenant.metadata).remove(id);
    } else {
        // the object is still there: the handle names it again, and the
        // process's departure releases it (its guest was told it had gone)
        lock(&tenant.handles).abort_release(id);
        shared.log(format_args!("{}, deferred while another call used its object, failed; the object stays", f.name));
    }
}
