//! Functions, callbacks and utilities: signatures, function descriptors,
//! argument scopes, and the rules that need a whole function (async calls
//! that copy back, userdata without a callback) or the whole spec
//! (`deallocate` without `allocate`, unused declarations).

use std::collections::HashMap;

use super::exprs::{Env, Returned};
use super::release::PendingRelease;
use super::types::Shape;
use super::values::{for_each_leaf, for_each_leaf_mut, Layer, Subject, UNRESOLVED_CALLBACK};
use super::{Checker, Declared};
use crate::ast::{self, DescriptorArg, ItemKind, ReplaceSide, SourceFile, StmtKind, TypeExprKind};
use crate::descriptors::Place;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, BuiltinType, CallMode, ResourceKind, ResourceUseKind, Type, Value, ValueKind, ValueSpec};
use crate::span::{Span, Spanned};

/// A prototype's pieces.
struct Signature {
    name: Spanned<String>,
    ret: Type,
    params: Vec<(Spanned<String>, Type)>,
    variadic: bool,
}

/// A `variant_of(target)` seen in function `id` (declared at `at`), checked
/// once every function is known.
pub(crate) struct PendingVariant {
    pub id: ir::FunctionId,
    pub target: Spanned<String>,
    pub at: Span,
}

/// Statements of a body sorted by what they describe.
#[derive(Default)]
struct Sorted {
    arguments: HashMap<String, Vec<Layer>>,
    return_value: Vec<Layer>,
    /// The first `return_value` scope, for messages.
    return_span: Option<Span>,
}

impl Checker {
    fn signature(&mut self, decl: &ast::Declaration) -> Option<Signature> {
        let name = decl.name.clone()?;
        let TypeExprKind::Function { ret, params, variadic } = &decl.ty.kind else { return None };
        let ret = self.lower_type(ret);
        let mut lowered = Vec::new();
        let mut ok = ret.is_some();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for (i, p) in params.iter().enumerate() {
            let pname = p.name.clone().unwrap_or_else(|| Spanned::new(format!("arg{i}"), p.span));
            if let Some(first) = seen.insert(pname.node.clone(), pname.span) {
                self.duplicate("parameter", &pname.node, pname.span, first);
            }
            match self.lower_type(&p.ty).map(super::types::decay_parameter) {
                Some(ty) => lowered.push((pname, ty)),
                None => ok = false,
            }
        }
        ok.then(|| Signature { name, ret: ret.unwrap_or(Type::Builtin(BuiltinType::Void)), params: lowered, variadic: *variadic })
    }

    fn env_for(params: &[(Spanned<String>, Type)]) -> Env {
        Env { params: params.iter().map(|(n, t)| (n.node.clone(), t.clone())).collect(), runtime: true, ..Env::default() }
    }

    pub(super) fn resolve_utilities(&mut self, file: &SourceFile) {
        let mut bodies = Vec::new();
        for item in &file.items {
            let ItemKind::Utility(utility) = &item.kind else { continue };
            let Some(sig) = self.signature(&utility.decl) else { continue };
            let id = ir::UtilityId(self.spec.utilities.len() as u32);
            if let Some(first) = claim(&mut self.utility_names, &sig.name, id) {
                self.duplicate("utility", &sig.name.node, sig.name.span, first);
                continue;
            }
            self.spec.utilities.push(ir::Utility {
                name: sig.name.node.clone(),
                ret: sig.ret.clone(),
                params: sig.params.iter().map(|(n, t)| (n.node.clone(), t.clone())).collect(),
                body: ir::Expr { kind: ir::ExprKind::Int(0), ty: sig.ret.clone() },
            });
            bodies.push((id, Self::env_for(&sig.params), &utility.body));
        }
        for (id, env, body) in bodies {
            if let Some(resolved) = self.resolve_expr(body, &env) {
                self.spec.utilities[id.index()].body = resolved;
            }
        }
    }

    pub(super) fn resolve_callbacks(&mut self, file: &SourceFile) {
        let mut pending = Vec::new();
        for item in &file.items {
            let ItemKind::Callback(function) = &item.kind else { continue };
            let Some(sig) = self.signature(&function.decl) else { continue };
            let id = ir::CallbackId(self.spec.callbacks.len() as u32);
            if let Some(first) = claim(&mut self.callback_names, &sig.name, id) {
                self.duplicate("callback", &sig.name.node, sig.name.span, first);
                continue;
            }
            self.spec.callbacks.push(ir::Callback {
                name: sig.name.node.clone(),
                ret: sig.ret.clone(),
                params: Vec::new(),
                return_value: Value::Leaf(Box::new(void_spec())),
                replace_guest: None,
            });
            pending.push((id, sig, function.body.as_ref()));
        }
        for (id, sig, body) in pending {
            let stmts = body.map_or(&[][..], |b| &b.stmts[..]);
            let (replacements, rest): (Vec<&ast::Stmt>, Vec<&ast::Stmt>) =
                stmts.iter().partition(|s| matches!(s.kind, StmtKind::Replace { .. }));
            for stmt in replacements {
                self.callback_replacement(id, stmt);
            }
            let rest: Vec<ast::Stmt> = rest.into_iter().cloned().collect();
            let sorted = self.sort_body(&rest, &sig, None);
            // a callback's userdata is the pointer the guest registered: nothing to link
            let (mut params, _) = self.resolve_params(&sig, sorted.arguments, false, &[]);
            for p in &mut params {
                for_each_leaf_mut(&mut p.value, &mut |s| {
                    if let ValueKind::Userdata { callback_param } = &mut s.kind {
                        *callback_param = None;
                    }
                });
            }
            self.spec.callbacks[id.index()].params = params;
            if self.shape(&sig.ret) == Shape::Void {
                if let Some(span) = sorted.return_span {
                    self.report(
                        Diagnostic::error(Code::ReturnValueOnVoid, format!("`{}` returns nothing", sig.name.node))
                            .with_primary(span, "no return value to describe")
                            .with_secondary(sig.name.span, "declared to return `void`"),
                    );
                }
            } else {
                let mut subject = Subject::new(sig.name.span, format!("the return value of callback `{}`", sig.name.node), "result");
                subject.returned = true;
                let env = Self::env_for(&sig.params);
                self.spec.callbacks[id.index()].return_value = self.resolve_value(&sig.ret, sorted.return_value, &env, &subject, 0);
            }
        }
    }

    /// A replacement standing in a callback's body: `replace_guest` wraps the
    /// call of the application's function in the guest; the API server only
    /// passes a callback on, so it has nothing for `replace_server` to replace.
    fn callback_replacement(&mut self, id: ir::CallbackId, stmt: &ast::Stmt) {
        let StmtKind::Replace { side, code } = &stmt.kind else { return };
        match side {
            ReplaceSide::Server => self.report(
                Diagnostic::error(Code::MisplacedDescriptor, "`replace_server` cannot stand in a callback's body")
                    .with_primary(stmt.span, "not allowed here")
                    .with_help("the API server only passes a callback on to the guest; `replace_guest` replaces what the guest runs"),
            ),
            ReplaceSide::Guest => {
                let slot = &mut self.spec.callbacks[id.index()].replace_guest;
                if slot.is_some() {
                    self.report(
                        Diagnostic::error(Code::DuplicateDescriptor, "the replacement is given twice")
                            .with_primary(stmt.span, "given again here"),
                    );
                    return;
                }
                *slot = Some(code.node.clone());
            }
        }
    }

    pub(super) fn resolve_functions(&mut self, file: &SourceFile) {
        for item in &file.items {
            let ItemKind::Function(function) = &item.kind else { continue };
            let Some(sig) = self.signature(&function.decl) else { continue };
            let id = ir::FunctionId(self.spec.functions.len() as u32);
            if let Some(first) = claim(&mut self.function_names, &sig.name, id) {
                self.duplicate("function", &sig.name.node, sig.name.span, first);
                continue;
            }
            let resolved = self.resolve_function(&sig, function.body.as_ref());
            self.spec.functions.push(resolved);
        }
        self.resolve_variants();
    }

    /// `variant_of(f)`: `f` is a function of the spec that is not a variant
    /// itself, with the variant's return and parameter types (the API server
    /// calls `f` with the variant's arguments).
    fn resolve_variants(&mut self) {
        let pending_all = std::mem::take(&mut self.variants);
        let declaring: std::collections::HashSet<ir::FunctionId> = pending_all.iter().map(|p| p.id).collect();
        for pending in pending_all {
            let PendingVariant { id, target, at } = pending;
            let Some(declared) = self.function_names.get(&target.node).copied() else {
                let names: Vec<&str> = self.function_names.keys().map(String::as_str).collect();
                let mut d = Diagnostic::error(Code::BadVariant, format!("`{}` is not a function of the spec", target.node))
                    .with_primary(target.span, "no function of this name");
                if let Some(best) = crate::diagnostic::suggest(&target.node, names) {
                    d = d.with_help(format!("did you mean `{best}`?")).with_fix(target.span, best, format!("use `{best}`"));
                }
                self.report(d);
                continue;
            };
            let (variant, of) = (&self.spec.functions[id.index()], &self.spec.functions[declared.id.index()]);
            let problem = if declared.id == id {
                Some("a function cannot be a variant of itself".to_string())
            } else if declaring.contains(&declared.id) {
                Some(format!("`{}` is a variant itself", target.node))
            } else if variant.variadic || of.variadic {
                Some("variadic functions have no variants".to_string())
            } else if self.spec.resolve(&variant.ret) != self.spec.resolve(&of.ret) {
                Some(format!("it returns `{}`, `{}` returns `{}`", self.type_name(&variant.ret), target.node, self.type_name(&of.ret)))
            } else if variant.params.len() != of.params.len() {
                Some(format!("it takes {} parameters, `{}` takes {}", variant.params.len(), target.node, of.params.len()))
            } else {
                variant.params.iter().zip(&of.params).enumerate().find_map(|(i, (a, b))| {
                    (self.spec.resolve(&a.ty) != self.spec.resolve(&b.ty)).then(|| {
                        format!("parameter {} is `{}` here, `{}` in `{}`", i + 1, self.type_name(&a.ty), self.type_name(&b.ty), target.node)
                    })
                })
            };
            let name = variant.name.clone();
            match problem {
                Some(problem) => {
                    let mut d = Diagnostic::error(Code::BadVariant, format!("`{name}` cannot be a variant of `{}`", target.node))
                        .with_primary(target.span, problem)
                        .with_secondary(at, "the variant");
                    if declared.id != id {
                        d = d.with_secondary(declared.span, format!("`{}` is declared here", target.node));
                    }
                    self.report(d);
                }
                None => self.spec.functions[id.index()].variant_of = Some(declared.id),
            }
        }
    }

    fn resolve_function(&mut self, sig: &Signature, body: Option<&ast::Block>) -> ir::Function {
        let mut function = ir::Function {
            name: sig.name.node.clone(),
            ret: sig.ret.clone(),
            params: Vec::new(),
            variadic: sig.variadic,
            described: body.is_some(),
            mode: CallMode::Sync,
            unsupported: None,
            in_guest: None,
            replace_guest: None,
            replace_server: None,
            variant_of: None,
            release_at_exit: None,
            abandon_at_exit: None,
            resources: Vec::new(),
            contextual: Vec::new(),
            return_value: Value::Leaf(Box::new(void_spec())),
            actions: Vec::new(),
        };
        let stmts = body.map_or(&[][..], |b| &b.stmts[..]);
        let mut env = Self::env_for(&sig.params);
        let errors_before = self.error_count();
        self.userdata_sites.clear();
        self.own_sites.clear();
        self.return_value_uses.clear();
        // statements run after the call: they may name its result
        let returned = match self.shape(&sig.ret) {
            Shape::Void => Returned::Void,
            _ => Returned::Value(sig.ret.clone()),
        };
        let mut mode: Option<(&'static str, Span)> = None;
        let mut success: Option<(i128, Span)> = None;
        let mut in_guest: Option<Span> = None;
        let mut variant: Option<Span> = None;
        let mut release: Option<PendingRelease<'_>> = None;
        let mut abandon: Option<PendingRelease<'_>> = None;
        let mut contextual_spans = Vec::new();
        for stmt in stmts {
            match &stmt.kind {
                StmtKind::Descriptor(d) => {
                    let Some(info) = self.descriptor_info(d, stmt.span, Place::Function) else { continue };
                    let args: Vec<&ast::Expr> = d
                        .args
                        .iter()
                        .flatten()
                        .filter_map(|a| match a {
                            DescriptorArg::Expr(e) => Some(e),
                            DescriptorArg::Type(_) => None,
                        })
                        .collect();
                    match info.name {
                        "sync" | "async" => {
                            if let Some((other, span)) = mode {
                                let (primary, message) = if other == info.name {
                                    (Code::DuplicateDescriptor, format!("`{other}` is given twice"))
                                } else {
                                    (Code::ContradictoryDescriptors, format!("`{}` contradicts `{other}`", info.name))
                                };
                                self.report(
                                    Diagnostic::error(primary, message)
                                        .with_primary(d.name.span, "here")
                                        .with_secondary(span, "first given here"),
                                );
                                continue;
                            }
                            mode = Some((info.name, d.name.span));
                        }
                        "success" => {
                            if !self.given_once("success", success.map(|(_, s)| s), d.name.span) {
                                continue;
                            }
                            if let Some(v) = self.const_int_in(args[0], &env) {
                                success = Some((v, d.name.span));
                            }
                        }
                        "unsupported" => {
                            if let Some(v) = self.const_int_in(args[0], &env) {
                                self.check_error_value(v, args[0].span);
                                if !self.is_error_type(&sig.ret) {
                                    self.report(
                                        Diagnostic::error(Code::UnsupportedValue, format!("`{}` cannot be `unsupported`", sig.name.node))
                                            .with_primary(
                                                d.name.span,
                                                format!("it returns `{}`, not the API's error type", self.type_name(&sig.ret)),
                                            )
                                            .with_help("give it a hand-written replacement with `replace_guest { ... }` instead"),
                                    );
                                }
                                function.unsupported = Some(v);
                            }
                        }
                        "in_guest" => {
                            if !self.given_once("in_guest", in_guest, d.name.span) {
                                continue;
                            }
                            in_guest = Some(d.name.span);
                            if let Some(expr) = self.resolve_expr(args[0], &env) {
                                if self.in_guest_result_fits(sig, &expr, args[0].span) {
                                    function.in_guest = Some(expr);
                                }
                            }
                        }
                        "variant_of" => {
                            if !self.given_once("variant_of", variant, d.name.span) {
                                continue;
                            }
                            variant = Some(d.name.span);
                            match &args[0].kind {
                                // resolved once every function is known (the target may come later)
                                ast::ExprKind::Name(target) => {
                                    let id = ir::FunctionId(self.spec.functions.len() as u32);
                                    self.variants.push(PendingVariant {
                                        id,
                                        target: Spanned::new(target.clone(), args[0].span),
                                        at: sig.name.span,
                                    });
                                }
                                _ => self.report(
                                    Diagnostic::error(Code::DescriptorArguments, "`variant_of` takes the name of a function")
                                        .with_primary(args[0].span, "not a function name")
                                        .with_help("write the vendor function's name, as in `variant_of(clEnqueueReadBuffer);`"),
                                ),
                            }
                        }
                        "release_at_exit" => {
                            if !self.given_once("release_at_exit", release.as_ref().map(|r| r.span), d.name.span) {
                                continue;
                            }
                            release = Some(PendingRelease {
                                name: "release_at_exit",
                                span: d.name.span,
                                obj: args[0],
                                times: args.get(1).copied(),
                            });
                        }
                        "abandon_at_exit" => {
                            if !self.given_once("abandon_at_exit", abandon.as_ref().map(|r| r.span), d.name.span) {
                                continue;
                            }
                            abandon = Some(PendingRelease { name: "abandon_at_exit", span: d.name.span, obj: args[0], times: None });
                        }
                        "allocates_rc" | "deallocates_rc" | "consumes_rc" => {
                            if let Some(use_) = self.resource_use(info.name, &args, &env) {
                                function.resources.push(use_);
                            }
                        }
                        _ => {}
                    }
                }
                StmtKind::ContextualArgument { decl, value } => {
                    let Some(name) = &decl.name else { continue };
                    if env.params.iter().chain(env.contextual.iter()).any(|(n, _)| *n == name.node) {
                        self.report(
                            Diagnostic::error(Code::DuplicateDefinition, format!("`{}` is already an argument", name.node))
                                .with_primary(name.span, "choose another name"),
                        );
                        continue;
                    }
                    let (Some(ty), Some(init)) = (self.lower_type(&decl.ty), self.resolve_expr(value, &env)) else { continue };
                    env.contextual.push((name.node.clone(), ty.clone()));
                    contextual_spans.push(name.clone());
                    function.contextual.push(ir::Contextual {
                        name: name.node.clone(),
                        ty,
                        init,
                        value: Value::Leaf(Box::new(void_spec())),
                    });
                }
                StmtKind::Replace { side, code } => {
                    let slot = match side {
                        ReplaceSide::Guest => &mut function.replace_guest,
                        ReplaceSide::Server => &mut function.replace_server,
                    };
                    if slot.is_some() {
                        self.report(
                            Diagnostic::error(Code::DuplicateDescriptor, "the replacement is given twice")
                                .with_primary(stmt.span, "given again here"),
                        );
                        continue;
                    }
                    *slot = Some(code.node.clone());
                }
                StmtKind::Expr(e) => {
                    let env = Env { returned: returned.clone(), ..env.clone() };
                    if let Some(action) = self.action(e, &env) {
                        function.actions.push(action);
                    }
                }
                _ => {}
            }
        }
        let sorted = self.sort_body(stmts, sig, Some(&env.contextual));
        // Nothing is forwarded for an unsupported or guest-replaced function,
        // and a body that already has errors would only add "undescribed" noise.
        let body_broken = self.error_count() > errors_before;
        let lenient = function.unsupported.is_some() || function.replace_guest.is_some() || in_guest.is_some() || body_broken;
        let (params, param_spans) = self.resolve_params(sig, sorted.arguments.clone(), lenient, &env.contextual);
        let mut coupled_to_return = Vec::new();
        if self.error_count() == errors_before {
            coupled_to_return = self.link_userdata(sig, &params);
        }
        // contextual arguments are described by `argument(name)` scopes too
        let mut arguments = sorted.arguments;
        for (i, name) in contextual_spans.iter().enumerate() {
            let layers = arguments.remove(&name.node).unwrap_or_default();
            let mut subject = Subject::new(name.span, format!("contextual argument `{}`", name.node), &name.node);
            subject.lenient = lenient;
            let ty = function.contextual[i].ty.clone();
            function.contextual[i].value = self.resolve_value(&ty, layers, &env, &subject, 0);
        }
        function.params = params;
        if let Some(pending) = release {
            if self.error_count() == errors_before {
                let span = pending.span;
                function.release_at_exit = self.resolve_release(pending, &function, &env);
                if function.release_at_exit.is_some() {
                    self.releases.push((ir::FunctionId(self.spec.functions.len() as u32), span));
                }
            }
        }
        if let Some(pending) = abandon {
            if self.error_count() == errors_before {
                function.abandon_at_exit = self.resolve_release(pending, &function, &env).map(|r| r.param);
            }
        }
        if self.shape(&sig.ret) == Shape::Void {
            if let Some(span) = sorted.return_span {
                self.report(
                    Diagnostic::error(Code::ReturnValueOnVoid, format!("`{}` returns nothing", sig.name.node))
                        .with_primary(span, "no return value to describe")
                        .with_secondary(sig.name.span, "declared to return `void`"),
                );
            }
        } else {
            let mut subject = Subject::new(sig.name.span, format!("the return value of `{}`", sig.name.node), "result");
            subject.lenient = lenient;
            subject.returned = true;
            let value = self.resolve_value(&sig.ret, sorted.return_value, &env, &subject, 0);
            function.return_value = value;
        }
        self.check_coupled_to_return(sig, &function.return_value, coupled_to_return);
        self.check_return_value_uses(sig, &function.return_value);
        let unsupported_or_replaced = function.unsupported.is_some() || function.replace_guest.is_some() || in_guest.is_some();
        if let Some(span) = in_guest {
            let other = if function.unsupported.is_some() {
                Some("unsupported")
            } else if function.replace_guest.is_some() {
                Some("replace_guest")
            } else if function.replace_server.is_some() {
                Some("replace_server")
            } else {
                mode.filter(|(m, _)| *m == "async").map(|(m, _)| m)
            };
            if let Some(other) = other {
                self.report(
                    Diagnostic::error(Code::ContradictoryDescriptors, format!("`in_guest` contradicts `{other}`"))
                        .with_primary(span, "the guest answers the call itself")
                        .with_help("`in_guest` never forwards the call, so there is nothing to replace, refuse or run asynchronously"),
                );
            }
        }
        if function.unsupported.is_some() && (function.replace_guest.is_some() || function.replace_server.is_some()) {
            self.report(
                Diagnostic::error(Code::ContradictoryDescriptors, format!("`{}` is both `unsupported` and replaced", sig.name.node))
                    .with_primary(sig.name.span, "choose one")
                    .with_help("`unsupported` returns an error without running anything; a replacement runs hand-written code"),
            );
        }
        if let Some(span) = variant {
            // a variant is only reached through `function_ids` from hand-written guest code
            let conflict = if function.unsupported.is_some() {
                Some("`unsupported` (nothing would forward it)")
            } else if function.replace_guest.is_some() {
                Some("`replace_guest` (the guest does not export a variant, so nothing would run it)")
            } else {
                None
            };
            if let Some(why) = conflict {
                self.report(
                    Diagnostic::error(Code::ContradictoryDescriptors, format!("`{}` is a variant and {why}", sig.name.node))
                        .with_primary(span, "a variant")
                        .with_help("a variant describes a call that another function's `replace_guest` code forwards"),
                );
            }
        }
        if sig.variadic && !unsupported_or_replaced && !body_broken {
            self.report(
                Diagnostic::error(Code::VariadicFunction, format!("`{}` takes a variable number of arguments", sig.name.node))
                    .with_primary(sig.name.span, "cannot be forwarded")
                    .with_help("mark it `unsupported(v);` or write `replace_guest { ... }`"),
            );
        }
        if body_broken {
            success = None;
        }
        function.mode = self.call_mode(sig, &function, mode, success, &param_spans);
        function
    }

    /// A function descriptor that may be given once: false (and L0304,
    /// pointing at both) when it was already given at `first`.
    fn given_once(&mut self, name: &str, first: Option<Span>, again: Span) -> bool {
        let Some(first) = first else { return true };
        self.report(
            Diagnostic::error(Code::DuplicateDescriptor, format!("`{name}` is given twice"))
                .with_primary(again, "given again here")
                .with_secondary(first, "first given here"),
        );
        false
    }

    /// `in_guest(expr)`: what `expr` gives must fit the function's result
    /// (anything for `void`, a pointer or integer for a pointer, a number
    /// for a number).
    fn in_guest_result_fits(&mut self, sig: &Signature, expr: &ir::Expr, span: Span) -> bool {
        let fits = matches!(
            (self.shape(&sig.ret), self.shape(&expr.ty)),
            (Shape::Void, _)
                | (Shape::Pointer { .. }, Shape::Pointer { .. } | Shape::Integer)
                | (Shape::Integer | Shape::Float, Shape::Integer | Shape::Float)
        );
        if !fits {
            let expected = format!("`{}` returns `{}`", sig.name.node, self.type_name(&sig.ret));
            self.mismatch::<()>(span, &expected, &expr.ty);
        }
        fits
    }

    /// `unsupported(v)`: `v` must be an error, and one of the error enum's values when it is an enum.
    fn check_error_value(&mut self, value: i128, span: Span) {
        let error_type = self.spec.api.error_type.clone();
        let type_name = self.type_name(&error_type);
        if value == self.spec.api.success {
            self.report(
                Diagnostic::error(Code::UnsupportedValue, "`unsupported` returns the success value")
                    .with_primary(span, "the application would believe the call worked")
                    .with_help(format!("return an error of `{type_name}`, such as the `api` block's `failure` value")),
            );
            return;
        }
        let enum_values = self.type_chain(&error_type).iter().find_map(|t| match t {
            Type::Named(id) => match &self.spec.types[id.index()].kind {
                ir::TypeDefKind::Enum { variants } => Some(variants.iter().map(|(_, v)| *v).collect::<Vec<_>>()),
                _ => None,
            },
            _ => None,
        });
        if let Some(values) = enum_values {
            if !values.contains(&value) {
                self.report(
                    Diagnostic::error(Code::UnsupportedValue, format!("{value} is not a value of `{type_name}`"))
                        .with_primary(span, "not one of the error enum's values"),
                );
            }
        }
    }

    fn call_mode(
        &mut self,
        sig: &Signature,
        function: &ir::Function,
        mode: Option<(&str, Span)>,
        success: Option<(i128, Span)>,
        param_spans: &[Span],
    ) -> CallMode {
        let Some(("async", async_span)) = mode else {
            if let Some((_, span)) = success {
                self.report(
                    Diagnostic::warning(Code::ConflictingAsync, "`success` has no effect on a synchronous function")
                        .with_primary(span, "only used by `async` calls")
                        .with_help("add `async;` or remove `success(...)`"),
                );
            }
            return CallMode::Sync;
        };
        let ret_shape = self.shape(&sig.ret);
        let success_value = match (ret_shape, success) {
            (Shape::Void, _) => 0,
            (_, Some((v, _))) if self.is_error_type(&sig.ret) => v,
            (_, None) if self.is_error_type(&sig.ret) => self.spec.api.success,
            _ => {
                self.report(
                    Diagnostic::error(Code::AsyncWithoutSuccess, format!("`{}` cannot be asynchronous", sig.name.node))
                        .with_primary(async_span, "returns before the API server runs the call")
                        .with_secondary(
                            sig.name.span,
                            format!("but its result is a `{}` the guest cannot know in advance", self.type_name(&sig.ret)),
                        )
                        .with_help("only functions returning nothing or the API's error type can be `async`"),
                );
                0
            }
        };
        for (i, param) in function.params.iter().enumerate() {
            let mut copies_back = false;
            for_each_leaf(&param.value, &mut |spec| copies_back |= spec.output && !spec.no_copy && !spec.zerocopy);
            if copies_back {
                self.report(
                    Diagnostic::error(Code::AsyncCopiesBack, format!("asynchronous `{}` copies `{}` back", sig.name.node, param.name))
                        .with_primary(param_spans[i], "an `out` value")
                        .with_secondary(async_span, "the call returns before the data exists")
                        .with_help("make the call `sync`, or mark the data `no_copy` with `lifetime(manual)` and copy it back from a synchronizing call"),
                );
            }
        }
        CallMode::Async { success: success_value }
    }

    fn is_error_type(&self, ty: &Type) -> bool {
        self.spec.resolve(ty) == self.spec.resolve(&self.spec.api.error_type)
    }

    fn resource_use(&mut self, descriptor: &str, args: &[&ast::Expr], env: &Env) -> Option<ir::ResourceUse> {
        let (kind, wanted) = match descriptor {
            "allocates_rc" => (ResourceUseKind::Allocates, ResourceKind::Continuous),
            "deallocates_rc" => (ResourceUseKind::Deallocates, ResourceKind::Continuous),
            _ => (ResourceUseKind::Consumes, ResourceKind::Instantaneous),
        };
        let name = match &args[0].kind {
            ast::ExprKind::Name(n) => n.clone(),
            _ => {
                self.report(Diagnostic::error(Code::UnknownResource, "expected a resource name").with_primary(args[0].span, "not a name"));
                return None;
            }
        };
        let amount = self.resolve_expr(args[1], env);
        let Some(declared) = self.resource_names.get(&name).copied() else {
            let mut d =
                Diagnostic::error(Code::UnknownResource, format!("unknown resource `{name}`")).with_primary(args[0].span, "not declared");
            if let Some(best) = crate::diagnostic::suggest(&name, self.resource_names.keys().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{best}`?")).with_fix(args[0].span, best, format!("use `{best}`"));
            } else {
                let decl = if wanted == ResourceKind::Continuous { "continuous_rc" } else { "instantaneous_rc" };
                d = d.with_help(format!("declare it with `{decl} {name};`"));
            }
            self.report(d);
            return None;
        };
        self.usage.resources.insert(declared.id);
        let actual = self.spec.resources[declared.id.index()].kind;
        if actual != wanted {
            let (is, needs) = match actual {
                ResourceKind::Continuous => ("a continuous", "consumed needs an `instantaneous_rc`"),
                ResourceKind::Instantaneous => ("an instantaneous", "allocated and deallocated needs a `continuous_rc`"),
            };
            self.report(
                Diagnostic::error(Code::UnknownResource, format!("`{name}` is {is} resource"))
                    .with_primary(args[0].span, format!("a resource that is {needs}"))
                    .with_secondary(declared.span, "declared here")
                    .with_help(if actual == ResourceKind::Continuous {
                        "use `allocates_rc`/`deallocates_rc`"
                    } else {
                        "use `consumes_rc`"
                    }),
            );
            return None;
        }
        let amount = amount?;
        self.expect_number(&amount, args[1].span, true)?;
        Some(ir::ResourceUse { kind, resource: declared.id, amount })
    }

    /// An expression statement: a library call or an assignment to metadata.
    /// `return_value` in statements stands for the same value on both
    /// halves: an integer, a float, or a handle's id. A struct returned by
    /// value, or a pointer that is not a handle, is each half's own copy.
    fn check_return_value_uses(&mut self, sig: &Signature, value: &Value) {
        let Some(&first) = self.return_value_uses.first() else { return };
        let problem = match self.shape(&sig.ret) {
            Shape::Record { .. } => Some("a struct returned by value"),
            Shape::Pointer { .. } => {
                let mut handle = true;
                for_each_top_leaf(value, &mut |spec| handle &= matches!(spec.kind, ValueKind::Handle));
                (!handle).then_some("a pointer that is not a handle")
            }
            _ => None,
        };
        if let Some(problem) = problem {
            let d = Diagnostic::error(Code::ReturnValueUndefined, format!("`{}` returns {problem}", sig.name.node))
                .with_primary(first, "not the same value on both halves")
                .with_secondary(sig.name.span, format!("returns `{}`", self.type_name(&sig.ret)))
                .with_help("`return_value` in a statement names an integer, a floating-point number or a handle (`return_value { handle; }`), which the guest and the API server see alike");
            self.report(d);
        }
    }

    fn action(&mut self, e: &ast::Expr, env: &Env) -> Option<ir::Expr> {
        let resolved = self.resolve_expr(e, env)?;
        let allowed = match &resolved.kind {
            ir::ExprKind::Library(f, _) => matches!(
                f,
                ir::LibraryFn::RegisterBuf | ir::LibraryFn::RegisterBufsOf | ir::LibraryFn::ZerocopyFree | ir::LibraryFn::Metadata
            ),
            ir::ExprKind::Assign(target, _) => rooted_in_metadata(target),
            _ => false,
        };
        if !allowed {
            self.report(
                Diagnostic::error(Code::MisplacedDescriptor, "this statement has no effect")
                    .with_primary(e.span, "not a library call or metadata assignment")
                    .with_help(
                        "statements in a function's body are `register_buf(...)`, `register_bufs_of(...)`, `zerocopy_free(...)` or `metadata(key)->field = value`",
                    ),
            );
            return None;
        }
        Some(resolved)
    }

    /// Sorts a body's scopes by the argument they describe, turning an `if`
    /// around argument scopes into an `if` inside each of them.
    fn sort_body(&mut self, stmts: &[ast::Stmt], sig: &Signature, contextual: Option<&Vec<(String, Type)>>) -> Sorted {
        let mut sorted = Sorted::default();
        let mut first_scope: HashMap<String, Span> = HashMap::new();
        let is_function = contextual.is_some();
        for stmt in stmts {
            match &stmt.kind {
                StmtKind::Argument { name, body } => {
                    let known = sig.params.iter().any(|(p, _)| p.node == name.node)
                        || contextual.is_some_and(|c| c.iter().any(|(n, _)| *n == name.node));
                    if !known {
                        self.unknown_argument(name, sig);
                        continue;
                    }
                    if let Some(first) = first_scope.insert(name.node.clone(), name.span) {
                        self.report(
                            Diagnostic::error(Code::DuplicateDefinition, format!("argument `{}` is described twice", name.node))
                                .with_primary(name.span, "described again here")
                                .with_secondary(first, "first described here")
                                .with_help("merge the two blocks into one"),
                        );
                    }
                    sorted.arguments.entry(name.node.clone()).or_default().push(Layer::explicit(body.stmts.clone()));
                }
                StmtKind::ReturnValue(block) => {
                    sorted.return_span = sorted.return_span.or(Some(stmt.span));
                    sorted.return_value.push(Layer::explicit(block.stmts.clone()));
                }
                StmtKind::If { cond, then, otherwise } => {
                    let inner_then = self.sort_body(&then.stmts, sig, contextual);
                    let inner_else = otherwise.as_ref().map(|b| self.sort_body(&b.stmts, sig, contextual)).unwrap_or_default();
                    let mut names: Vec<&String> = inner_then.arguments.keys().chain(inner_else.arguments.keys()).collect();
                    names.sort();
                    names.dedup();
                    for name in names {
                        let branch = |s: &Sorted| ast::Block {
                            stmts: s.arguments.get(name).map(|ls| ls.iter().flat_map(|l| l.stmts.clone()).collect()).unwrap_or_default(),
                            span: stmt.span,
                        };
                        let conditional = ast::Stmt {
                            kind: StmtKind::If { cond: cond.clone(), then: branch(&inner_then), otherwise: Some(branch(&inner_else)) },
                            span: stmt.span,
                        };
                        sorted.arguments.entry(name.clone()).or_default().push(Layer::explicit(vec![conditional]));
                    }
                    if !inner_then.return_value.is_empty() || !inner_else.return_value.is_empty() {
                        let conditional = ast::Stmt {
                            kind: StmtKind::If {
                                cond: cond.clone(),
                                then: ast::Block {
                                    stmts: inner_then.return_value.iter().flat_map(|l| l.stmts.clone()).collect(),
                                    span: stmt.span,
                                },
                                otherwise: Some(ast::Block {
                                    stmts: inner_else.return_value.iter().flat_map(|l| l.stmts.clone()).collect(),
                                    span: stmt.span,
                                }),
                            },
                            span: stmt.span,
                        };
                        sorted.return_value.push(Layer::explicit(vec![conditional]));
                    }
                    self.conditional_function_descriptors(&then.stmts, is_function);
                    if let Some(b) = otherwise {
                        self.conditional_function_descriptors(&b.stmts, is_function);
                    }
                }
                StmtKind::Element(_) | StmtKind::Field { .. } => self.misplaced_statement(stmt, "a function's body"),
                // a callback's own replacement is taken out before: this one
                // is inside an `if`, which reports it
                StmtKind::Replace { .. } if !is_function => {}
                StmtKind::ContextualArgument { .. } | StmtKind::Expr(_) if !is_function => {
                    self.misplaced_statement(stmt, "a callback's body")
                }
                StmtKind::Descriptor(d) if !is_function && !matches!(d.name.node.as_str(), "todo") => {
                    if let Some(info) = crate::descriptors::lookup(&d.name.node) {
                        self.report(
                            Diagnostic::error(Code::MisplacedDescriptor, format!("`{}` cannot stand in a callback's body", info.name))
                                .with_primary(d.name.span, "callbacks take only `argument(...)` scopes"),
                        );
                    } else {
                        self.descriptor_info(d, stmt.span, Place::Function);
                    }
                }
                StmtKind::Descriptor(d) if !is_function => {
                    self.descriptor_info(d, stmt.span, Place::Function);
                }
                _ => {}
            }
        }
        sorted
    }

    /// Inside an `if` in a function's (or callback's) body, only argument scopes may stand.
    fn conditional_function_descriptors(&mut self, stmts: &[ast::Stmt], is_function: bool) {
        for stmt in stmts {
            match &stmt.kind {
                StmtKind::Descriptor(d) => {
                    if d.name.node == "todo" {
                        self.descriptor_info(d, stmt.span, Place::Function);
                        continue;
                    }
                    // the resource is meant to be used: do not also call it unused
                    if let Some(DescriptorArg::Expr(ast::Expr { kind: ast::ExprKind::Name(r), .. })) =
                        d.args.as_ref().and_then(|a| a.first())
                    {
                        if let Some(declared) = self.resource_names.get(r) {
                            self.usage.resources.insert(declared.id);
                        }
                    }
                    self.report(
                        Diagnostic::error(Code::MisplacedDescriptor, format!("`{}` cannot be conditional", d.name.node))
                            .with_primary(d.name.span, "inside `if` in a function's body")
                            .with_help("an `if` in a function's body may hold `argument(...)` and `return_value` scopes; for a resource, put the condition in the amount: `consumes_rc(r, c ? n : 0)`"),
                    );
                }
                StmtKind::ContextualArgument { .. } | StmtKind::Replace { .. } | StmtKind::Expr(_) => self
                    .misplaced_statement(stmt, if is_function { "an `if` in a function's body" } else { "an `if` in a callback's body" }),
                _ => {}
            }
        }
    }

    fn unknown_argument(&mut self, name: &Spanned<String>, sig: &Signature) {
        let params: Vec<&str> = sig.params.iter().map(|(p, _)| p.node.as_str()).collect();
        let mut d = Diagnostic::error(Code::UnknownArgument, format!("`{}` has no argument `{}`", sig.name.node, name.node))
            .with_primary(name.span, "unknown argument");
        if let Some(best) = crate::diagnostic::suggest(&name.node, params.iter().copied()) {
            d = d.with_help(format!("did you mean `{best}`?")).with_fix(name.span, best, format!("use `{best}`"));
        } else if params.is_empty() {
            d = d.with_help(format!("`{}` takes no arguments", sig.name.node));
        } else {
            d = d.with_help(format!("its arguments are: {}", params.join(", ")));
        }
        self.report(d);
    }

    fn resolve_params(
        &mut self,
        sig: &Signature,
        mut arguments: HashMap<String, Vec<Layer>>,
        lenient: bool,
        contextual: &[(String, Type)],
    ) -> (Vec<ir::Param>, Vec<Span>) {
        let env = Env { contextual: contextual.to_vec(), ..Self::env_for(&sig.params) };
        let mut params = Vec::new();
        let mut spans = Vec::new();
        for (name, ty) in &sig.params {
            let layers = arguments.remove(&name.node).unwrap_or_default();
            let mut subject = Subject::new(name.span, format!("argument `{}` of `{}`", name.node, sig.name.node), &name.node);
            subject.lenient = lenient;
            let value = self.resolve_value(ty, layers, &env, &subject, 0);
            params.push(ir::Param { name: name.node.clone(), ty: ty.clone(), value });
            spans.push(name.span);
        }
        (params, spans)
    }

    /// Checks that each `userdata` of the function just resolved has its
    /// callback, and the callbacks with registrations of their own; returns
    /// the `coupled(return_value)` ones to check with the return value.
    fn link_userdata(&mut self, sig: &Signature, params: &[ir::Param]) -> Vec<(Span, String)> {
        let callbacks: Vec<usize> = params
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                let mut is_callback = false;
                for_each_leaf(&p.value, &mut |s| is_callback |= matches!(s.kind, ValueKind::Callback(_)));
                is_callback
            })
            .map(|(i, _)| i)
            .collect();
        let names: Vec<&str> = callbacks.iter().map(|&i| params[i].name.as_str()).collect();
        let with_userdata: Vec<usize> = self
            .userdata_sites
            .iter()
            .filter_map(|(_, named)| match named {
                Some(i) => Some(*i),
                None => callbacks.first().copied().filter(|_| callbacks.len() == 1),
            })
            .collect();
        let coupled_to_return = self.check_own_sites(sig, params, &with_userdata);
        for (span, named) in std::mem::take(&mut self.userdata_sites) {
            let (message, label, help) = match named {
                Some(i) if callbacks.contains(&i) => continue,
                None if callbacks.len() == 1 => continue,
                Some(i) => (
                    format!("`userdata({})` names an argument that is not a callback", params[i].name),
                    "not described with `callback(T)`".to_string(),
                    if names.is_empty() {
                        "describe the function pointer with `callback(T)`".to_string()
                    } else {
                        format!("the callbacks are: {}", names.join(", "))
                    },
                ),
                None if callbacks.is_empty() => (
                    "`userdata` with no callback".to_string(),
                    format!("`{}` has no argument described with `callback(T)`", sig.name.node),
                    "describe the function pointer with `callback(T)`".to_string(),
                ),
                None => (
                    "`userdata` with several callbacks".to_string(),
                    "which callback gets this pointer?".to_string(),
                    format!("name the callback: `userdata({})`", names[0]),
                ),
            };
            self.report(Diagnostic::error(Code::UserdataWithoutCallback, message).with_primary(span, label).with_help(help));
        }
        coupled_to_return
    }

    /// A registration that ends after one call (`once`), or with an object
    /// (`coupled`), is its own: the API server tells it apart from the
    /// process's others by its userdata, handing the library its own id in
    /// place of the application's pointer. So such a callback must be an
    /// argument with a `userdata` argument, and its declaration must say
    /// which argument brings the userdata back. A callback `coupled(obj)`
    /// names a handle argument; `coupled(return_value)` ones are returned,
    /// to be checked against the return value.
    fn check_own_sites(&mut self, sig: &Signature, params: &[ir::Param], with_userdata: &[usize]) -> Vec<(Span, String)> {
        let mut coupled_to_return = Vec::new();
        for site in std::mem::take(&mut self.own_sites) {
            let (span, name) = (site.span, site.name);
            let lifetime = match site.lifetime {
                ir::Lifetime::Once => "once",
                _ => "coupled",
            };
            let index = params.iter().position(|p| p.name == name).filter(|_| site.is_argument);
            let Some(index) = index else {
                self.report(
                    Diagnostic::error(Code::CallbackLifetime, format!("only a callback argument can be `{lifetime}`"))
                        .with_primary(span, "a callback inside a buffer or struct")
                        .with_help("describe the function pointer as an argument of its own"),
                );
                continue;
            };
            let mut declared = None;
            for_each_leaf(&params[index].value, &mut |s| {
                if let ValueKind::Callback(ir::CallbackRef::Declared(id)) = &s.kind {
                    declared = Some(*id);
                }
            });
            let returns_userdata = declared.is_some_and(|id| {
                let mut found = false;
                for p in &self.spec.callbacks[id.index()].params {
                    for_each_leaf(&p.value, &mut |s| found |= matches!(s.kind, ValueKind::Userdata { .. }));
                }
                found
            });
            if !returns_userdata {
                self.report(
                    Diagnostic::error(Code::CallbackLifetime, format!("callback `{name}` is `{lifetime}` but its calls carry no userdata"))
                        .with_primary(span, "the API server could not tell this registration from the others")
                        .with_help("declare the callback with `callback` and mark its userdata argument `userdata`"),
                );
                continue;
            } else if !with_userdata.contains(&index) {
                self.report(
                    Diagnostic::error(Code::CallbackLifetime, format!("callback `{name}` is `{lifetime}` but has no `userdata` argument"))
                        .with_primary(span, "the API server could not tell this registration from the others")
                        .with_help(format!("mark the pointer the API hands back with `userdata` (or `userdata({name})`)")),
                );
                continue;
            }
            match &site.lifetime {
                ir::Lifetime::CoupledToReturn => coupled_to_return.push((span, name)),
                ir::Lifetime::Coupled(obj) => {
                    let help = "couple it to the handle whose release ends the registration: a handle argument, or `return_value` for the object the call returns";
                    let ir::ExprKind::Param(owner) = obj.kind else {
                        self.report(
                            Diagnostic::error(Code::CallbackLifetime, format!("callback `{name}` is coupled to an expression"))
                                .with_primary(span, "a callback can be coupled only to a handle argument or to `return_value`")
                                .with_help(help),
                        );
                        continue;
                    };
                    let mut all_handles = true;
                    for_each_leaf(&params[owner].value, &mut |s| all_handles &= matches!(s.kind, ValueKind::Handle));
                    if !all_handles {
                        let owner_index = owner;
                        let owner = &params[owner];
                        self.report(
                            Diagnostic::error(
                                Code::CallbackLifetime,
                                format!("callback `{name}` is coupled to `{}`, which is not a handle", owner.name),
                            )
                            .with_primary(span, "no release of it would end the registration")
                            .with_secondary(sig.params[owner_index].0.span, format!("`{}` is `{}`", owner.name, self.type_name(&owner.ty)))
                            .with_help(help),
                        );
                    }
                }
                _ => {}
            }
        }
        coupled_to_return
    }

    /// A callback `coupled(return_value)` lasts as long as the handle the
    /// function returns: the return value must be one.
    fn check_coupled_to_return(&mut self, sig: &Signature, returned: &Value, sites: Vec<(Span, String)>) {
        if sites.is_empty() {
            return;
        }
        let void = self.shape(&sig.ret) == Shape::Void;
        let mut all_handles = true;
        for_each_leaf(returned, &mut |s| all_handles &= matches!(s.kind, ValueKind::Handle));
        if all_handles && !void {
            return;
        }
        let shown = self.type_name(&sig.ret);
        for (span, name) in sites {
            let d = Diagnostic::error(
                Code::CallbackLifetime,
                format!("callback `{name}` is coupled to the return value of `{}`, which is not a handle", sig.name.node),
            )
            .with_primary(span, "no release of it would end the registration")
            .with_secondary(sig.name.span, if void { "returns nothing".to_string() } else { format!("returns `{shown}`") })
            .with_help("couple the callback to a handle argument, or describe the return value as a `handle`");
            self.report(d);
        }
    }

    pub(super) fn whole_spec_rules(&mut self) {
        let releases = std::mem::take(&mut self.releases);
        self.check_one_release_per_type(&releases);
        // resolve the single-callback userdata links now that they are checked
        for f in &mut self.spec.functions {
            let callbacks: Vec<usize> = f
                .params
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    let mut is_callback = false;
                    for_each_leaf(&p.value, &mut |s| is_callback |= matches!(s.kind, ValueKind::Callback(_)));
                    is_callback
                })
                .map(|(i, _)| i)
                .collect();
            if let [only] = callbacks[..] {
                for p in &mut f.params {
                    for_each_leaf_mut(&mut p.value, &mut |s| {
                        if let ValueKind::Userdata { callback_param } = &mut s.kind {
                            if *callback_param == Some(UNRESOLVED_CALLBACK) {
                                *callback_param = Some(only);
                            }
                        }
                    });
                }
            }
        }
        // the rules below read facts from the whole spec, which errors elsewhere
        // (a misspelt `allocate`, a failed `argument` scope) make unreliable
        if self.error_count() > 0 {
            return;
        }
        let deallocated = std::mem::take(&mut self.usage.deallocated_handles);
        for (ty, name, span) in deallocated {
            if !self.usage.allocated_handles.contains(&ty) {
                self.report(
                    Diagnostic::error(Code::DeallocateNeverAllocated, format!("`deallocate` on a `{name}`, which no function allocates"))
                        .with_primary(span, "nothing creates this kind of object")
                        .with_help(format!("mark the value that creates a `{name}` (an out element or a return value) with `allocate`")),
                );
            }
        }
        if !self.usage.manual_buffers {
            for span in std::mem::take(&mut self.usage.deallocated_buffers) {
                self.report(
                    Diagnostic::error(Code::DeallocateNeverAllocated, "`deallocate` on a buffer, but no buffer outlives its call")
                        .with_primary(span, "nothing to deallocate")
                        .with_help("a buffer kept with `lifetime(manual)` is released by a later `deallocate`"),
                );
            }
        }
        let mut unused = Vec::new();
        for (name, d) in &self.resource_names {
            if !self.usage.resources.contains(&d.id) {
                unused.push(("resource", name.clone(), d.span));
            }
        }
        for (name, d) in &self.registry_names {
            if !self.usage.registries.contains(&d.id) {
                unused.push(("buffer registry", name.clone(), d.span));
            }
        }
        for (name, d) in &self.callback_names {
            if !self.usage.callbacks.contains(&d.id) {
                unused.push(("callback", name.clone(), d.span));
            }
        }
        for (name, d) in &self.utility_names {
            if !self.usage.utilities.contains(&d.id) {
                unused.push(("utility", name.clone(), d.span));
            }
        }
        unused.sort_by_key(|(_, _, span)| *span);
        for (what, name, span) in unused {
            self.report(
                Diagnostic::warning(Code::UnusedDeclaration, format!("{what} `{name}` is never used"))
                    .with_primary(span, "declared here")
                    .with_help("remove it, or add the descriptor that uses it"),
            );
        }
    }
}

/// Records `name` as declared with `id`, or returns where it was declared first.
fn claim<T>(names: &mut HashMap<String, Declared<T>>, name: &Spanned<String>, id: T) -> Option<Span> {
    if let Some(first) = names.get(&name.node) {
        return Some(first.span);
    }
    names.insert(name.node.clone(), Declared { id, span: name.span });
    None
}

fn rooted_in_metadata(e: &ir::Expr) -> bool {
    match &e.kind {
        ir::ExprKind::Library(ir::LibraryFn::Metadata, _) => true,
        ir::ExprKind::Member { base, .. } | ir::ExprKind::Index(base, _) => rooted_in_metadata(base),
        ir::ExprKind::Unary(ir::UnaryOp::Deref, inner) => rooted_in_metadata(inner),
        _ => false,
    }
}

fn void_spec() -> ir::ValueSpec {
    ir::ValueSpec::opaque(Type::Builtin(BuiltinType::Void), false)
}

/// Calls `f` on each leaf of a value's `if` tree (not on what the leaves point to).
fn for_each_top_leaf(value: &Value, f: &mut impl FnMut(&ValueSpec)) {
    match value {
        Value::If { then, otherwise, .. } => {
            for_each_top_leaf(then, f);
            for_each_top_leaf(otherwise, f);
        }
        Value::Leaf(spec) => f(spec),
    }
}
