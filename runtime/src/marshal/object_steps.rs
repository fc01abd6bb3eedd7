//! One object's retains and releases as one step each, on the API server.
//!
//! A release decides whether it ends its handle from the object's metadata
//! (`if (metadata(mem)->retains == 0) { deallocate; }`) before the vendor
//! call, and its statements count the release after it. Two releases of
//! one object on two channels (one server thread each) could both read the
//! count before either wrote it: both decided they were not the last, the
//! vendor freed the object at the second, and the handle stayed in the
//! process's table naming freed memory, which the vendor could give to the
//! next object it made, another process's too (testlib section
//! `release_race`). Locking the statements alone (the tenant's
//! `statements`) keeps each count right, not the decision made before it.
//!
//! So a call of a function that decides a handle argument's end by a
//! condition, or whose statements write a handle argument's metadata,
//! takes that object's *step*: from before its conditions are evaluated
//! until its statements have run, no other such call on the object runs.
//! Calls on other objects, and calls that neither decide nor count (reads,
//! launches, a release without a condition, which `begin_release` already
//! makes the only one), never wait. Which functions take steps is decided
//! from the plan when the server starts ([`stepped_arguments`]), never by
//! name.
//!
//! A step is held across the vendor call, the only way to keep the count
//! and the vendor's own in step. A vendor call may call back into the
//! guest on the serving thread and wait for it (a memory object's
//! destructor callbacks run inside its last release); the step is held
//! meanwhile. A callback that retained or released the object it was
//! called for would then wait for itself, but that object is being
//! destroyed, and using it there is undefined natively too; a callback
//! that releases another object takes that object's step, which is why
//! steps are per object and not one per process. Steps are per guest
//! process as well (each [`Tenant`](super::tenants::Tenant) has its
//! own), so a guest that never answers a callback holds up only its own
//! calls on its own object, whose thread it already holds.

#![forbid(unsafe_code)]

use std::sync::{Condvar, Mutex};

use smallvec::SmallVec;

use crate::plan::{Expr, ExprKind, Function, Kind, LibraryFn, Value};

/// The handle arguments (by index) whose objects a call of `f` takes a
/// step on: those whose description ends the handle under a condition (a
/// `deallocate` in one branch of an `if`), and those whose metadata the
/// statements write.
pub fn stepped_arguments(f: &Function) -> SmallVec<[u32; 1]> {
    let mut written = SmallVec::<[u32; 2]>::new();
    for action in &f.actions {
        metadata_written(action, &mut written);
    }
    (0..f.params.len() as u32)
        .filter(|&i| {
            let value = &f.params[i as usize].value;
            let handle = value.any_leaf(&|leaf| matches!(leaf.kind, Kind::Handle { .. }));
            let decided = matches!(value, Value::If { .. }) && value.any_leaf(&|leaf| leaf.deallocate);
            handle && (decided || written.contains(&i))
        })
        .collect()
}

/// The arguments whose metadata `expr` assigns to (`metadata(p)->f = ...`).
fn metadata_written(expr: &Expr, out: &mut SmallVec<[u32; 2]>) {
    if let ExprKind::Assign(target, _) = &expr.kind {
        metadata_named(target, out);
    }
    each_child(expr, &mut |child| metadata_written(child, out));
}

/// The arguments whose metadata `expr` names.
fn metadata_named(expr: &Expr, out: &mut SmallVec<[u32; 2]>) {
    if let ExprKind::Library(LibraryFn::Metadata, args) = &expr.kind {
        if let Some(ExprKind::Param(p)) = args.first().map(|a| &a.kind) {
            if !out.contains(p) {
                out.push(*p);
            }
        }
    }
    each_child(expr, &mut |child| metadata_named(child, out));
}

fn each_child(expr: &Expr, visit: &mut dyn FnMut(&Expr)) {
    match &expr.kind {
        ExprKind::Unary(_, a) => visit(a),
        ExprKind::Binary(_, a, b) | ExprKind::Assign(a, b) | ExprKind::Index(a, b) => {
            visit(a);
            visit(b);
        }
        ExprKind::Ternary(a, b, c) => {
            visit(a);
            visit(b);
            visit(c);
        }
        ExprKind::Member { base, .. } => visit(base),
        ExprKind::Library(_, args) | ExprKind::Utility(_, args) => args.iter().for_each(visit),
        _ => {}
    }
}

/// One guest process's objects that a call is taking a step on.
#[derive(Debug, Default)]
pub(super) struct ObjectSteps {
    /// The handle ids of the steps under way: a few at most, one per
    /// thread of the process in a stepped call.
    busy: Mutex<SmallVec<[u64; 4]>>,
    ended: Condvar,
}

impl ObjectSteps {
    /// Takes a step on each object of `ids` (handle ids; 0 names none),
    /// waiting while another call has a step on any of them. All of a
    /// call's objects are taken at once, so two calls that name the same
    /// objects in other orders never hold one each.
    pub(super) fn enter(&self, ids: impl IntoIterator<Item = u64>) -> Step<'_> {
        let mut ids: SmallVec<[u64; 1]> = ids.into_iter().filter(|id| *id != 0).collect();
        if ids.is_empty() {
            return Step { steps: self, ids };
        }
        ids.sort_unstable();
        ids.dedup();
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while ids.iter().any(|id| busy.contains(id)) {
            busy = self.ended.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        busy.extend(ids.iter().copied());
        Step { steps: self, ids }
    }
}

/// A call's steps, which end when it is dropped (after the call's
/// statements, or with the call when it is refused).
#[must_use]
#[derive(Debug)]
pub(super) struct Step<'a> {
    steps: &'a ObjectSteps,
    ids: SmallVec<[u64; 1]>,
}

impl Drop for Step<'_> {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        self.steps.busy.lock().unwrap_or_else(|e| e.into_inner()).retain(|id| !self.ids.contains(id));
        // waiters may wait for other objects: each looks again
        self.steps.ended.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CallMode, Leaf, Lifetime, Param, Ty};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    const INT: Ty = Ty::Int { size: 4, signed: true };

    fn e(kind: ExprKind) -> Expr {
        Expr::new(kind, INT)
    }

    fn leaf(kind: Kind, deallocate: bool) -> Value {
        Value::Leaf(Box::new(Leaf {
            ty: INT,
            kind,
            input: true,
            output: false,
            no_copy: false,
            lifetime: Lifetime::Call,
            allocate: false,
            deallocate,
            zerocopy: false,
            obj_record: false,
        }))
    }

    fn function(params: Vec<Value>, actions: Vec<Expr>) -> Function {
        Function {
            name: "f".into(),
            ret: INT,
            params: params.into_iter().enumerate().map(|(i, value)| Param { name: format!("p{i}"), ty: INT, value }).collect(),
            mode: CallMode::Sync,
            unsupported: None,
            replaced_in_guest: false,
            in_guest: None,
            variant_of: None,
            contextual: Vec::new(),
            return_value: leaf(Kind::Opaque, false),
            actions,
            release_at_exit: None,
            abandon_at_exit: None,
        }
    }

    /// `metadata(p<param>)->field 0`
    fn field_of(param: u32) -> Box<Expr> {
        let metadata = e(ExprKind::Library(LibraryFn::Metadata, vec![e(ExprKind::Param(param))]));
        Box::new(e(ExprKind::Member { base: Box::new(metadata), field: 0, arrow: true }))
    }

    #[test]
    fn a_release_that_decides_and_a_retain_that_counts_take_steps_on_their_object() {
        let handle = || leaf(Kind::Handle { kind: 1 }, false);
        let count = |p| {
            e(ExprKind::Assign(
                field_of(p),
                Box::new(e(ExprKind::Binary(crate::plan::BinaryOp::Add, field_of(p), Box::new(e(ExprKind::Int(1)))))),
            ))
        };
        let decided = Value::If { cond: *field_of(0), then: Box::new(leaf(Kind::Handle { kind: 1 }, true)), otherwise: Box::new(handle()) };
        let release = function(vec![decided, leaf(Kind::Opaque, false)], vec![count(0)]);
        assert_eq!(stepped_arguments(&release).as_slice(), [0]);
        // a retain: only its statements say so, and only of the object they count
        let retain = function(vec![handle(), handle()], vec![count(1)]);
        assert_eq!(stepped_arguments(&retain).as_slice(), [1]);
        // reading metadata, or ending a handle unconditionally, takes none
        let reads = function(vec![handle()], vec![e(ExprKind::Binary(crate::plan::BinaryOp::Add, field_of(0), field_of(0)))]);
        assert!(stepped_arguments(&reads).is_empty());
        let release_always = function(vec![leaf(Kind::Handle { kind: 1 }, true)], Vec::new());
        assert!(stepped_arguments(&release_always).is_empty());
    }

    #[test]
    fn a_step_on_an_object_waits_for_the_one_under_way_and_others_do_not() {
        let steps = ObjectSteps::default();
        let first = steps.enter([7, 0]);
        // another object, or no object: at once
        drop(steps.enter([8]));
        drop(steps.enter([0]));
        let second_began = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _second = steps.enter([9, 7]);
                second_began.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(100));
            assert!(!second_began.load(Ordering::SeqCst), "a second step on object 7 began while the first was under way");
            drop(first);
        });
        assert!(second_began.load(Ordering::SeqCst));
        assert!(steps.busy.lock().unwrap().is_empty(), "every step ended");
    }
}
