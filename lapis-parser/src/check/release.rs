//! `release_at_exit(obj, times)`: the function that releases a departed
//! guest process's objects of one handle type; `abandon_at_exit(obj)`, the
//! function that settles them before their pending reads are brought back
//! (checked the same way).
//!
//! The API server calls the function itself, with the object and 0 for
//! every other argument, so the checker makes sure it can: `obj` is a
//! parameter described as a handle, a function with other parameters has a
//! `replace_server` that can stand the zeros (it finds what it needs in
//! state of its own), the function is forwarded (the server has its
//! address), and no other function releases the same handle type.

use super::exprs::Env;
use super::values::for_each_leaf;
use super::Checker;
use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, ValueKind};
use crate::span::Span;

/// A `release_at_exit` as written, checked once the function's parameters
/// are resolved.
pub(super) struct PendingRelease<'a> {
    /// `release_at_exit` or `abandon_at_exit` (which takes no `times`).
    pub name: &'static str,
    pub span: Span,
    pub obj: &'a ast::Expr,
    pub times: Option<&'a ast::Expr>,
}

impl Checker {
    pub(super) fn resolve_release(&mut self, pending: PendingRelease<'_>, function: &ir::Function, env: &Env) -> Option<ir::ReleaseAtExit> {
        let descriptor = pending.name;
        let fail = |this: &mut Checker, primary: Span, label: String, message: String, help: &str| {
            let (message, help) = (message.replace("release_at_exit", descriptor), help.replace("release_at_exit", descriptor));
            this.report(Diagnostic::error(Code::BadRelease, message).with_primary(primary, label).with_help(help));
            None
        };
        let ast::ExprKind::Name(name) = &pending.obj.kind else {
            return fail(
                self,
                pending.obj.span,
                "not an argument's name".into(),
                "`release_at_exit` takes the argument that is released".into(),
                "write `release_at_exit(obj);` with the name of the function's handle argument",
            );
        };
        let Some(param) = function.params.iter().position(|p| &p.name == name) else {
            return fail(
                self,
                pending.obj.span,
                format!("`{}` has no argument `{name}`", function.name),
                format!("`{name}` is not an argument of `{}`", function.name),
                "name the function's handle argument",
            );
        };
        if function.params.len() != 1 && function.replace_server.is_none() {
            return fail(
                self,
                pending.span,
                format!("`{}` takes {} arguments", function.name, function.params.len()),
                "`release_at_exit` on a function of more than one argument".into(),
                "the API server passes the object and 0 for every other argument: describe a function that takes only the \
                 object, or give this one a `replace_server` that finds the others",
            );
        }
        let mut all_handles = true;
        for_each_leaf(&function.params[param].value, &mut |leaf| all_handles &= matches!(leaf.kind, ValueKind::Handle));
        if !all_handles {
            return fail(
                self,
                pending.obj.span,
                format!("`{name}` is not described as a handle"),
                "`release_at_exit` on an argument that is not a handle".into(),
                "the server finds a departed process's objects in its handle table: only handles can be released",
            );
        }
        if function.unsupported.is_some() || function.in_guest.is_some() {
            return fail(
                self,
                pending.span,
                "the API server never calls it".into(),
                format!("`{}` is not forwarded", function.name),
                "`release_at_exit` needs a function the API server runs",
            );
        }
        let times = match pending.times {
            None => None,
            Some(e) => {
                let times = self.resolve_expr(e, env)?;
                self.expect_number(&times, e.span, true)?;
                Some(times)
            }
        };
        Some(ir::ReleaseAtExit { param, times })
    }

    /// One releasing function per handle type: with two, which would run?
    pub(super) fn check_one_release_per_type(&mut self, sites: &[(ir::FunctionId, Span)]) {
        let mut seen: Vec<(ir::Type, Span, String)> = Vec::new();
        for (id, span) in sites {
            let f = &self.spec.functions[id.index()];
            let Some(release) = &f.release_at_exit else { continue };
            let ty = self.spec.resolve(&f.params[release.param].ty).clone();
            if let Some((_, first, other)) = seen.iter().find(|(t, _, _)| *t == ty) {
                let d = Diagnostic::error(Code::BadRelease, "two functions release the same handle type at exit")
                    .with_primary(*span, format!("`{}` releases it here", f.name))
                    .with_secondary(*first, format!("and `{other}` here"))
                    .with_help("keep `release_at_exit` on one of them");
                self.report(d);
                continue;
            }
            seen.push((ty, *span, f.name.clone()));
        }
    }
}
