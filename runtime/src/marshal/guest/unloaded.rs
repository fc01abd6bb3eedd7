//! What the guest library's functions return when its embedded plan does
//! not load (a corrupted library, or a plan written by another version of
//! `cava`).
//!
//! Without its plan the guest knows neither the API's error type nor its
//! `failure` value, and answering 0 would tell an OpenCL application
//! `CL_SUCCESS` for a call that never happened. So the code generator
//! writes, from the plan itself, what each function returns when its call
//! fails ([`Failure`], the same as a call that cannot reach the server
//! returns), into the generated library beside the plan ([`Failures`]);
//! a call without a plan answers that and writes the API's failure into
//! the status out-argument (`errcode_ret`) where the spec has one, and the
//! library says why on standard error once.

#![forbid(unsafe_code)]

use super::{failure_result, struct_result, GuestLibrary};
use crate::marshal::app_memory;
use crate::marshal::eval::V;
use crate::plan::{BinaryOp, ExprKind, Kind, Leaf, Plan, Ty, Value};

/// What one function returns when its call cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// This raw result word: the API's `failure` for a function of its
    /// error type, an `unsupported` function's own code, 0 (NULL, false,
    /// 0) for any other.
    Word(u64),
    /// This raw result word, and the API's `failure` written into argument
    /// `param` (a status out-argument such as OpenCL's `errcode_ret`) when
    /// the application passes one.
    Status(u64, u32),
    /// A struct result of this many bytes, zeroed.
    Zeroed(u64),
}

/// The generated table of what each function of the plan returns when the
/// plan does not load.
#[derive(Debug)]
pub struct Failures {
    /// The API's `failure` as a raw word of its error type (also what a
    /// header function missing from the spec returns).
    pub failure: u64,
    /// Bytes of the error type: how much of `failure` a status
    /// out-argument receives.
    pub status_size: u8,
    /// By plan function id.
    pub functions: &'static [Failure],
}

/// The API's `failure` as a raw word of its error type.
pub fn failure_word(plan: &Plan) -> u64 {
    V::Int(plan.api.failure).to_raw(&plan.api.error_type)
}

/// What function `function` of `plan` returns when its call fails before
/// reaching the vendor library, as [`super::call`] answers with the plan:
/// the code generator writes it into [`Failures`].
pub fn failure_of(plan: &Plan, function: usize) -> Failure {
    let Some(f) = plan.functions.get(function) else { return Failure::Word(0) };
    if let Ty::Record(_) = f.ret {
        return Failure::Zeroed(plan.size_of(&f.ret));
    }
    if let Some(code) = f.unsupported {
        return Failure::Word(failure_result(plan, &f.ret, code));
    }
    let code = if f.ret == plan.api.error_type { plan.api.failure } else { 0 };
    let word = failure_result(plan, &f.ret, code);
    // a forwarded call that fails writes its status out-argument too (an
    // `in_guest` one does not); without the plan's conditions only the
    // unconditional form and `if (this != 0)` are known to be one
    let status = f.in_guest.is_none().then(|| f.params.iter().position(|p| is_status(plan, &p.value))).flatten();
    match status {
        Some(param) => Failure::Status(word, param as u32),
        None => Failure::Word(word),
    }
}

/// Whether a value is a status out-argument whenever it is not NULL: one
/// element of the error type, out (what a failed call with the plan writes
/// into, where the spec's conditions pick that description; a buffer of
/// another size is left alone here, as its size is not known).
fn is_status(plan: &Plan, value: &Value) -> bool {
    let status = |leaf: &Leaf| {
        leaf.output
            && matches!(&leaf.kind, Kind::Buffer { size, .. } if size.kind == ExprKind::Int(1))
            && matches!(&leaf.ty, Ty::Ptr(pointee) if **pointee == plan.api.error_type)
    };
    match value {
        Value::Leaf(leaf) => status(leaf),
        Value::If { cond, then, otherwise } => {
            let non_null = match &cond.kind {
                ExprKind::Binary(BinaryOp::Ne, a, b) => {
                    matches!((&a.kind, &b.kind), (ExprKind::This, ExprKind::Int(0)) | (ExprKind::Int(0), ExprKind::This))
                }
                _ => false,
            };
            let quiet = !otherwise.any_leaf(&|l| l.output);
            non_null && quiet && matches!(&**then, Value::Leaf(leaf) if status(leaf))
        }
    }
}

impl GuestLibrary {
    /// A call of `function` when the plan does not load: its [`Failure`],
    /// and the reason on standard error, once for the library.
    pub(super) fn unloaded(&self, function: u32, args: &[u64], error: &str) -> u64 {
        if !self.told.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.log(format_args!("{error}; every call fails with the API's failure value"));
        }
        match self.failures.functions.get(function as usize) {
            Some(Failure::Word(word)) => *word,
            Some(Failure::Status(word, param)) => {
                if let Some(&status) = args.get(*param as usize).filter(|p| **p != 0) {
                    let size = usize::from(self.failures.status_size).min(8);
                    let _ = app_memory::write(status, &self.failures.failure.to_le_bytes()[..size]);
                }
                *word
            }
            Some(Failure::Zeroed(size)) => struct_result(&vec![0u8; *size as usize]),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marshal::guest::{call, missing};

    fn no_callbacks(_: u32, _: usize, _: &[u64]) -> u64 {
        0
    }

    static FAILURES: Failures = Failures {
        failure: (-6i32) as u32 as u64,
        status_size: 4,
        functions: &[Failure::Word((-6i32) as u32 as u64), Failure::Status(0, 1), Failure::Zeroed(24), Failure::Word(0)],
    };

    /// Not a plan: the library cannot load it.
    static BROKEN: GuestLibrary = GuestLibrary::new("broken guest", b"CAVAPLAN\x01\x02", 7, &[], &[], no_callbacks, &FAILURES);

    #[test]
    fn a_library_whose_plan_does_not_load_answers_each_function_s_failure() {
        // a status-returning function: the API's failure, not 0 (success)
        assert_eq!(call(&BROKEN, 0, &[1, 2]) as u32 as i32, -6);
        // a function returning an object: NULL, and the failure in its status argument
        let mut status: i32 = 0;
        let status_addr = std::ptr::addr_of_mut!(status) as u64;
        assert_eq!(call(&BROKEN, 1, &[5, status_addr]), 0);
        assert_eq!(status, -6);
        assert_eq!(call(&BROKEN, 1, &[5, 0]), 0, "a NULL status argument is left alone");
        // a struct result: zeroed bytes, never a NULL pointer to read
        let at = call(&BROKEN, 2, &[]);
        assert_ne!(at, 0);
        let mut bytes = [0xffu8; 24];
        app_memory::read(at, &mut bytes).unwrap();
        assert_eq!(bytes, [0; 24]);
        assert_eq!(call(&BROKEN, 3, &[]), 0);
        assert_eq!(call(&BROKEN, 99, &[]), 0, "a function the table does not know");
        // a header function missing from the spec: the API's failure too
        assert_eq!(missing(&BROKEN, "not_in_spec", true) as u32 as i32, -6);
        assert!(BROKEN.told.load(std::sync::atomic::Ordering::Relaxed), "the reason was logged");
    }
}
