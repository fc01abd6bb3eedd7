//! Value descriptors: merging the layers that describe one value (built-in
//! defaults, `default(C)`, `type(T)`, then the spec's own scopes, lowest
//! priority first), splitting on `if`, and checking each complete
//! description (the leaves of the decision tree).
//!
//! Within one layer, two descriptors that disagree are an error. Between
//! layers, the later one wins: `argument(p) { out; }` replaces the direction
//! a `default(pointer) { in; }` gave.

use std::collections::HashMap;

use super::exprs::Env;
use super::types::Shape;
use super::{Checker, OwnSite};
use crate::ast::{self, DescriptorArg, StmtKind};
use crate::descriptors::{self, Args, Place};
use crate::diagnostic::{self, Code, Diagnostic};
use crate::ir::{self, BuiltinType, CallbackRef, Lifetime, Type, Value, ValueKind, ValueSpec};
use crate::span::{Span, Spanned};

/// Statements from one source of descriptors.
#[derive(Clone, Debug)]
pub(crate) struct Layer {
    pub stmts: Vec<ast::Stmt>,
    /// False for `type(T)` and `default(C)` scopes and the built-in defaults:
    /// they describe a value wherever it appears, so they cannot name the
    /// arguments of one function (only `this`, fields and constants).
    pub sees_arguments: bool,
}

impl Layer {
    pub fn explicit(stmts: Vec<ast::Stmt>) -> Layer {
        Layer { stmts, sees_arguments: true }
    }

    fn implicit(stmts: Vec<ast::Stmt>) -> Layer {
        Layer { stmts, sees_arguments: false }
    }

    /// A layer made from a block inside this one inherits its visibility.
    fn inner(&self, stmts: Vec<ast::Stmt>) -> Layer {
        Layer { stmts, sees_arguments: self.sees_arguments }
    }
}

/// The environment a layer's expressions are resolved in.
fn layer_env(env: &Env, layer: &Layer) -> Env {
    if layer.sees_arguments {
        return env.clone();
    }
    Env { params: Default::default(), contextual: Vec::new(), hides_arguments: true, ..env.clone() }
}

/// The reserved name that `coupled(...)` on a callback takes for the
/// function's result (which expressions cannot name otherwise).
pub(crate) const RETURN_VALUE: &str = "return_value";

/// What is being described, for messages.
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    /// Where the value is declared (the argument's name in the prototype).
    pub span: Span,
    /// How the whole value is introduced: "argument `x` of `f`".
    pub root: String,
    /// The name paths start from: `x` in `x[i].label`.
    pub name: String,
    /// From the root to this value: "", "[i]", "[i].label".
    pub path: String,
    /// A function's argument or return value (an array here is a pointer).
    pub top_level: bool,
    /// Missing descriptions are not reported: the function is not forwarded,
    /// the value's descriptors already had errors, or a `type`/`default`
    /// scope is being checked on its own.
    pub lenient: bool,
    /// The value comes back from the API server (a return value and what it holds).
    pub returned: bool,
}

impl Subject {
    pub fn new(span: Span, root: String, name: &str) -> Subject {
        Subject { span, root, name: name.to_string(), path: String::new(), top_level: true, lenient: false, returned: false }
    }

    /// "argument `x` of `f`", or "`x[i].label` in argument `x` of `f`".
    pub fn what(&self) -> String {
        if self.path.is_empty() {
            self.root.clone()
        } else {
            format!("`{}{}` in {}", self.name, self.path, self.root)
        }
    }

    fn nested(&self, step: &str) -> Subject {
        Subject { path: format!("{}{step}", self.path), top_level: false, ..self.clone() }
    }
}

/// Most nested `if`s and `element`s one value may have.
const MAX_NESTING: u32 = 24;

#[derive(Clone, Debug)]
enum Kind {
    Opaque,
    Handle,
    Buffer(ir::Expr),
    Callback(CallbackRef),
    /// The callback argument it belongs to, when named.
    Userdata(Option<usize>),
}

impl Kind {
    fn with_article(&self) -> &'static str {
        match self {
            Kind::Opaque => "an opaque value",
            Kind::Handle => "a handle",
            Kind::Buffer(_) => "a buffer",
            Kind::Callback(_) => "a callback",
            Kind::Userdata(_) => "userdata",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Kind::Opaque => "opaque",
            Kind::Handle => "handle",
            Kind::Buffer(_) => "buffer",
            Kind::Callback(_) => "callback",
            Kind::Userdata(_) => "userdata",
        }
    }
}

/// Descriptors gathered from one layer or merged from all.
#[derive(Default)]
struct Attrs {
    kind: Option<(Kind, Span)>,
    direction: Option<(bool, bool, bool, Span)>,
    lifetime: Option<(Lifetime, Span)>,
    allocate: Option<Span>,
    deallocate: Option<Span>,
    zerocopy: Option<Span>,
    obj_record: bool,
    depends_on: Vec<ir::Expr>,
    state_callbacks: Option<(ir::UtilityId, ir::UtilityId)>,
    cast: Option<(Type, Span)>,
    elements: Vec<Layer>,
    /// The first `element` scope, for messages.
    element_span: Option<Span>,
    fields: Vec<(Spanned<String>, Layer)>,
}

/// A userdata whose callback argument is found once all arguments are known.
pub(crate) const UNRESOLVED_CALLBACK: usize = usize::MAX;

impl Checker {
    /// Describes one value of type `ty` from the spec's scopes (`explicit`,
    /// lowest priority first) and the defaults that apply to its type.
    pub(crate) fn resolve_value(&mut self, ty: &Type, explicit: Vec<Layer>, env: &Env, subject: &Subject, depth: u32) -> Value {
        let mut layers = self.implicit_layers(ty, subject.span);
        layers.extend(explicit);
        self.resolve_layers(ty, layers, env, subject, depth)
    }

    fn implicit_layers(&self, ty: &Type, span: Span) -> Vec<Layer> {
        let mut layers = Vec::new();
        if self.is_object_pointer(ty) {
            // pointers to incomplete structs are API objects unless the spec says otherwise
            layers.push(Layer::implicit(vec![synthetic("handle", span)]));
        }
        if let Some(category) = self.category(ty) {
            for (cat, block) in &self.category_scopes {
                if *cat == category {
                    layers.push(Layer::implicit(block.stmts.clone()));
                }
            }
        }
        for name in self.type_chain(ty).iter().rev() {
            for (key, block) in &self.type_scopes {
                if key == name {
                    layers.push(Layer::implicit(block.stmts.clone()));
                }
            }
        }
        layers
    }

    fn resolve_layers(&mut self, ty: &Type, layers: Vec<Layer>, env: &Env, subject: &Subject, depth: u32) -> Value {
        let env = &Env { this: Some(ty.clone()), ..env.clone() };
        if depth > MAX_NESTING {
            // one report is enough: every other use of the type recurses the same way
            if std::mem::replace(&mut self.reported_recursion, true) {
                return opaque_leaf(ty);
            }
            let shown: String = subject.path.chars().take(60).collect();
            self.report(
                Diagnostic::error(Code::RecursiveDescription, format!("the description of {} never ends", subject.root))
                    .with_primary(subject.span, format!("`{}{shown}...` goes more than {MAX_NESTING} levels deep", subject.name))
                    .with_help("a recursive type needs a `handle`, `opaque` or `no_copy` somewhere to stop the recursion"),
            );
            return opaque_leaf(ty);
        }
        for (li, layer) in layers.iter().enumerate() {
            for (si, stmt) in layer.stmts.iter().enumerate() {
                let StmtKind::If { cond, then, otherwise } = &stmt.kind else { continue };
                let resolved = self.resolve_expr(cond, &layer_env(env, layer)).and_then(|c| {
                    self.expect_condition(&c, cond.span)?;
                    Some(c)
                });
                let mut then_layers = layers.clone();
                then_layers[li].stmts.splice(si..=si, then.stmts.iter().cloned());
                let mut else_layers = layers.clone();
                else_layers[li].stmts.splice(si..=si, otherwise.iter().flat_map(|b| b.stmts.iter().cloned()));
                let then_value = self.resolve_layers(ty, then_layers, env, subject, depth + 1);
                let else_value = self.resolve_layers(ty, else_layers, env, subject, depth + 1);
                return match resolved {
                    Some(cond) => Value::If { cond, then: Box::new(then_value), otherwise: Box::new(else_value) },
                    None => then_value,
                };
            }
        }
        self.leaf(ty, layers, env, subject, depth)
    }

    fn leaf(&mut self, ty: &Type, layers: Vec<Layer>, env: &Env, subject: &Subject, depth: u32) -> Value {
        let mut merged = Attrs::default();
        let errors_before = self.error_count();
        for layer in &layers {
            let attrs = self.layer_attrs(layer, &layer_env(env, layer));
            overlay(&mut merged, attrs);
        }
        // a value whose own descriptors were wrong is not also "undescribed"
        let broken = self.error_count() > errors_before || layers.iter().any(|l| l.stmts.iter().any(|s| matches!(s.kind, StmtKind::Error)));
        let subject = &Subject { lenient: subject.lenient || broken, ..subject.clone() };
        if let (Some(a), Some(d)) = (merged.allocate, merged.deallocate) {
            self.report(
                Diagnostic::error(Code::ContradictoryDescriptors, "`allocate` and `deallocate` on the same value")
                    .with_primary(d, "deallocated here")
                    .with_secondary(a, "allocated here"),
            );
        }
        let ty = match merged.cast.take() {
            Some((cast, span)) => {
                self.check_cast(ty, &cast, span);
                cast
            }
            None => ty.clone(),
        };
        let shape = self.shape(&ty);
        // without `in`/`out`: a returned value comes out; a handle, an opaque
        // value or a plain number goes in; a pointer must be told (checked below)
        let (input, output, no_copy) = match merged.direction {
            Some((i, o, n, _)) => (i, o, n),
            None if subject.returned => (false, true, false),
            None => {
                let must_be_told = match &merged.kind {
                    Some((Kind::Buffer(_), _)) => true,
                    Some(_) => false,
                    None => matches!(shape, Shape::Pointer { .. }) || (subject.top_level && matches!(shape, Shape::Array { .. })),
                };
                (!must_be_told, false, false)
            }
        };
        let given_lifetime = merged.lifetime.clone();
        let kind = self.finish_kind(&ty, &shape, &mut merged, env, subject, depth, (input, output, no_copy));
        let lifetime = self.lifetime_of(&kind, given_lifetime, subject);
        if merged.allocate.is_some() && matches!(kind, ValueKind::Handle) {
            self.usage.allocated_handles.insert(self.spec.resolve(&ty).clone());
        }
        if let Some(span) = merged.deallocate {
            match &kind {
                ValueKind::Handle => {
                    let shown = self.type_name(&ty);
                    self.usage.deallocated_handles.push((self.spec.resolve(&ty).clone(), shown, span))
                }
                _ => self.usage.deallocated_buffers.push(span),
            }
        }
        if matches!(kind, ValueKind::Buffer { .. }) && lifetime == Lifetime::Manual {
            self.usage.manual_buffers = true;
        }
        if !merged.fields.is_empty() && !matches!(kind, ValueKind::Struct { .. }) {
            let span = merged.fields[0].0.span;
            let mut d = Diagnostic::error(Code::FieldOnNonStruct, format!("`field` on {}, which is not a struct or union", subject.what()))
                .with_primary(span, format!("{} is `{}`", subject.what(), self.type_name(&ty)));
            if let Shape::Pointer { pointee, .. } = self.shape(&ty) {
                if matches!(self.shape(&pointee), Shape::Record { .. }) {
                    d = d.with_help("it points to a struct: describe the struct's fields inside `element { field(...) { ... } }`");
                }
            }
            self.report(d);
        }
        Value::Leaf(Box::new(ValueSpec {
            ty,
            kind,
            input,
            output,
            no_copy,
            lifetime,
            allocate: merged.allocate.is_some(),
            deallocate: merged.deallocate.is_some(),
            zerocopy: merged.zerocopy.is_some(),
            obj_record: merged.obj_record,
            depends_on: merged.depends_on,
            state_callbacks: merged.state_callbacks,
        }))
    }

    /// The value's lifetime: a buffer's copy lives for the call unless told
    /// otherwise; a callback's registration lives until its process leaves
    /// (`static`) unless it is `once` (the one lifetime only callbacks
    /// have) or `coupled` to an object (a handle argument, or the handle the
    /// function returns: `coupled(return_value)`, only callbacks'). Whether
    /// a callback's `once` or `coupled` fits its function is checked with
    /// the function (`own_sites`).
    fn lifetime_of(&mut self, kind: &ValueKind, given: Option<(Lifetime, Span)>, subject: &Subject) -> Lifetime {
        let is_callback = matches!(kind, ValueKind::Callback(_));
        match given {
            None if is_callback => Lifetime::Static,
            None => Lifetime::Call,
            Some((Lifetime::Static, _)) if is_callback => Lifetime::Static,
            Some((lifetime @ (Lifetime::Once | Lifetime::Coupled(_) | Lifetime::CoupledToReturn), span)) if is_callback => {
                self.own_sites.push(OwnSite {
                    span,
                    name: subject.name.clone(),
                    is_argument: subject.top_level && subject.path.is_empty() && !subject.returned,
                    lifetime: lifetime.clone(),
                });
                lifetime
            }
            Some((lifetime, span)) if is_callback => {
                self.report(
                    Diagnostic::error(
                        Code::CallbackLifetime,
                        "a callback's registration lives until its process leaves, for one call, or as long as an object",
                    )
                    .with_primary(span, format!("`{}` is a buffer's lifetime", lifetime_name(&lifetime)))
                    .with_help("write `lifetime(static)` (the default for callbacks), `lifetime(once)` or `lifetime(coupled(obj))`"),
                );
                Lifetime::Static
            }
            Some((lifetime @ (Lifetime::Once | Lifetime::CoupledToReturn), span)) => {
                self.report(
                    Diagnostic::error(Code::CallbackLifetime, format!("`{}` is a callback's lifetime", lifetime_name(&lifetime)))
                        .with_primary(span, format!("{} is not a callback", subject.what()))
                        .with_help("a buffer's lifetime is `call`, `manual`, `static` or `coupled(obj)`"),
                );
                Lifetime::Call
            }
            Some((lifetime, _)) => lifetime,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_kind(
        &mut self,
        ty: &Type,
        shape: &Shape,
        merged: &mut Attrs,
        env: &Env,
        subject: &Subject,
        depth: u32,
        dir: (bool, bool, bool),
    ) -> ValueKind {
        let (input, output, no_copy) = dir;
        match merged.kind.take() {
            Some((Kind::Opaque, _)) => ValueKind::Opaque,
            Some((Kind::Handle, span)) => {
                if !matches!(shape, Shape::Pointer { .. }) {
                    self.report(
                        Diagnostic::error(Code::HandleOnNonPointer, format!("`handle` on {}, which is not a pointer", subject.what()))
                            .with_primary(span, "only pointers can be handles")
                            .with_secondary(subject.span, format!("this is `{}`", self.type_name(ty)))
                            .with_help("use `opaque` to pass the value through unchanged"),
                    );
                }
                ValueKind::Handle
            }
            Some((Kind::Callback(callback), span)) => {
                let is_function_pointer = match shape {
                    Shape::Pointer { pointee, .. } => self.shape(pointee) == Shape::Function,
                    Shape::Function => true,
                    _ => false,
                };
                if !is_function_pointer {
                    self.report(
                        Diagnostic::error(
                            Code::CallbackOnNonFunctionPointer,
                            format!("`callback` on {}, which is not a function pointer", subject.what()),
                        )
                        .with_primary(span, format!("this is `{}`", self.type_name(ty))),
                    );
                } else {
                    self.check_callback_signature(ty, &callback, span);
                }
                ValueKind::Callback(callback)
            }
            Some((Kind::Userdata(param), _)) => ValueKind::Userdata { callback_param: Some(param.unwrap_or(UNRESOLVED_CALLBACK)) },
            Some((Kind::Buffer(size), span)) => {
                let element_ty = match shape {
                    Shape::Pointer { pointee, .. } => Some(pointee.clone()),
                    Shape::Array { element } => Some(element.clone()),
                    _ => None,
                };
                let Some(element_ty) = element_ty else {
                    self.report(
                        Diagnostic::error(
                            Code::ElementOnNonPointer,
                            format!("`buffer` on {}, which is not a pointer or array", subject.what()),
                        )
                        .with_primary(span, format!("this is `{}`", self.type_name(ty))),
                    );
                    return ValueKind::Opaque;
                };
                if !(input || output || no_copy || merged.zerocopy.is_some()) {
                    self.no_direction(subject, &self.type_name(ty));
                }
                self.buffer(element_ty, size, std::mem::take(&mut merged.elements), env, subject, depth)
            }
            None => match shape {
                Shape::Record { id, incomplete: false } => {
                    let fields = std::mem::take(&mut merged.fields);
                    self.record(*id, fields, env, subject, depth)
                }
                Shape::Array { element } => {
                    if subject.top_level && !(input || output || no_copy) {
                        self.no_direction(subject, &self.type_name(ty));
                    }
                    let len = match self.spec.resolve(ty) {
                        Type::Array { len, .. } => *len,
                        _ => 0,
                    };
                    let size = ir::Expr { kind: ir::ExprKind::Int(len as i128), ty: Type::Builtin(BuiltinType::Size) };
                    self.buffer(element.clone(), size, std::mem::take(&mut merged.elements), env, subject, depth)
                }
                Shape::Pointer { pointee, .. } => {
                    if subject.lenient {
                        // nothing to report: see `Subject::lenient`
                    } else if self.shape(pointee) == Shape::Function {
                        self.undescribed_function_pointer(subject, ty);
                    } else if !(input || output || no_copy) {
                        self.no_direction(subject, &self.type_name(ty));
                    } else if !no_copy && merged.zerocopy.is_none() {
                        self.report(
                            Diagnostic::error(Code::PointerWithoutSize, format!("{} is copied but its size is unknown", subject.what()))
                                .with_primary(subject.span, format!("`{}` needs `buffer(n)`", self.type_name(ty)))
                                .with_help("add `buffer(n)`, where `n` counts elements (bytes for `void *`)"),
                        );
                    }
                    if !merged.elements.is_empty() {
                        let size = ir::Expr { kind: ir::ExprKind::Int(1), ty: Type::Builtin(BuiltinType::Size) };
                        return self.buffer(pointee.clone(), size, std::mem::take(&mut merged.elements), env, subject, depth);
                    }
                    ValueKind::Opaque
                }
                Shape::Function => {
                    if !subject.lenient {
                        self.undescribed_function_pointer(subject, ty);
                    }
                    ValueKind::Opaque
                }
                _ => {
                    if let Some(span) = merged.element_span {
                        self.report(
                            Diagnostic::error(
                                Code::ElementOnNonPointer,
                                format!("`element` on {}, which is not a pointer or array", subject.what()),
                            )
                            .with_primary(span, "no elements to describe")
                            .with_secondary(subject.span, format!("this is `{}`", self.type_name(ty))),
                        );
                    }
                    ValueKind::Opaque
                }
            },
        }
    }

    /// A `callback` declaration must have the function pointer's signature:
    /// the API server calls it with those arguments.
    fn check_callback_signature(&mut self, ty: &Type, callback: &CallbackRef, span: Span) {
        let CallbackRef::Declared(id) = callback else { return };
        let pointer_sig = match self.spec.resolve(ty) {
            Type::Pointer { pointee, .. } => match self.spec.resolve(pointee) {
                Type::Function(sig) => sig.clone(),
                _ => return,
            },
            Type::Function(sig) => sig.clone(),
            _ => return,
        };
        let declared = &self.spec.callbacks[id.index()];
        let declared_types: Vec<Type> = declared.params.iter().map(|p| p.ty.clone()).collect();
        let same = |a: &Type, b: &Type| self.spec.resolve(a) == self.spec.resolve(b);
        let matches = same(&declared.ret, &pointer_sig.ret)
            && declared_types.len() == pointer_sig.params.len()
            && declared_types.iter().zip(&pointer_sig.params).all(|(a, b)| same(a, b));
        if !matches {
            let name = declared.name.clone();
            let declared_sig =
                Type::Function(Box::new(ir::Signature { ret: declared.ret.clone(), params: declared_types, variadic: false }));
            self.report(
                Diagnostic::error(Code::TypeMismatch, format!("mismatched types: callback `{name}` does not match the function pointer"))
                    .with_primary(span, format!("`{name}` is `{}`", self.type_name(&declared_sig)))
                    .with_note(format!("the function pointer is `{}`", self.type_name(ty))),
            );
        }
    }

    fn undescribed_function_pointer(&mut self, subject: &Subject, ty: &Type) {
        self.report(
            Diagnostic::error(Code::PointerWithoutDirection, format!("{} is a function pointer with no description", subject.what()))
                .with_primary(subject.span, format!("`{}`", self.type_name(ty)))
                .with_help("describe it with `callback(T)`, or `opaque` if the API never calls it"),
        );
    }

    fn no_direction(&mut self, subject: &Subject, type_name: &str) {
        if subject.lenient {
            return;
        }
        self.report(
            Diagnostic::error(Code::PointerWithoutDirection, format!("{} has no known direction", subject.what()))
                .with_primary(subject.span, format!("`{type_name}` is a pointer: is it copied in, out, or both?"))
                .with_help("add `in`, `out` (or both) with `buffer(n)`, or `handle`, `opaque` or `no_copy`"),
        );
    }

    fn buffer(
        &mut self,
        element_ty: Type,
        size: ir::Expr,
        element_layers: Vec<Layer>,
        env: &Env,
        subject: &Subject,
        depth: u32,
    ) -> ValueKind {
        let element_ty = if self.shape(&element_ty) == Shape::Void { Type::Builtin(BuiltinType::Uint8) } else { element_ty };
        let mut inner = env.clone();
        inner.element_depth += 1;
        let element_subject = subject.nested("[i]");
        let element = self.resolve_value(&element_ty, element_layers, &inner, &element_subject, depth + 1);
        ValueKind::Buffer { size, element: Box::new(element) }
    }

    fn record(
        &mut self,
        id: ir::TypeId,
        field_layers: Vec<(Spanned<String>, Layer)>,
        env: &Env,
        subject: &Subject,
        depth: u32,
    ) -> ValueKind {
        let fields = self.record_fields(id);
        let record_name = self.spec.types[id.index()].name.clone();
        let mut by_field: HashMap<usize, Vec<Layer>> = HashMap::new();
        for (name, layer) in field_layers {
            match fields.iter().position(|(n, _)| *n == name.node) {
                Some(i) => by_field.entry(i).or_default().push(layer),
                None => {
                    let mut d = Diagnostic::error(Code::UnknownField, format!("no field `{}` in `{record_name}`", name.node))
                        .with_primary(name.span, "unknown field");
                    if let Some(best) = diagnostic::suggest(&name.node, fields.iter().map(|(n, _)| n.as_str())) {
                        d = d.with_help(format!("did you mean `{best}`?")).with_fix(name.span, best, format!("use `{best}`"));
                    }
                    self.report(d);
                }
            }
        }
        let mut field_env = env.clone();
        field_env.siblings = fields.clone().into();
        let values = fields
            .iter()
            .enumerate()
            .map(|(i, (name, ty))| {
                let field_subject = subject.nested(&format!(".{name}"));
                self.resolve_value(ty, by_field.remove(&i).unwrap_or_default(), &field_env, &field_subject, depth + 1)
            })
            .collect();
        ValueKind::Struct { fields: values }
    }

    fn check_cast(&mut self, from: &Type, to: &Type, span: Span) {
        let (a, b) = (self.shape(from), self.shape(to));
        let compatible = match (&a, &b) {
            (Shape::Pointer { .. } | Shape::Array { .. }, Shape::Pointer { .. }) => true,
            (Shape::Integer, Shape::Integer) | (Shape::Float, Shape::Float) => {
                super::types::eval(&size_expr(from), self) == super::types::eval(&size_expr(to), self)
            }
            _ => a == b,
        };
        if !compatible {
            let (from, to) = (self.type_name(from), self.type_name(to));
            self.report(
                Diagnostic::error(Code::InvalidCast, format!("cannot cast `{from}` to `{to}`"))
                    .with_primary(span, "the value would change size or kind on the wire")
                    .with_help("cast pointers to pointers, or integers to integers of the same size"),
            );
        }
    }

    /// The descriptors of one layer, with disagreements inside it reported.
    fn layer_attrs(&mut self, layer: &Layer, env: &Env) -> Attrs {
        let mut attrs = Attrs::default();
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        for stmt in &layer.stmts {
            match &stmt.kind {
                StmtKind::Descriptor(d) => {
                    let Some(info) = self.descriptor_info(d, stmt.span, Place::Value) else { continue };
                    if let Some(first) = seen.insert(info.name, d.name.span) {
                        if info.args == Args::None {
                            self.report(
                                Diagnostic::warning(Code::DuplicateDescriptor, format!("`{}` is given twice", info.name))
                                    .with_primary(d.name.span, "repeated here")
                                    .with_secondary(first, "first given here")
                                    .with_fix(stmt.span, "", "remove the repeat"),
                            );
                            continue;
                        }
                        if info.name == "lifetime" {
                            self.report(
                                Diagnostic::error(Code::ContradictoryDescriptors, "two lifetimes for one value")
                                    .with_primary(d.name.span, "a second lifetime")
                                    .with_secondary(first, "the first lifetime")
                                    .with_help("a buffer has one lifetime: `call`, `manual`, `static` or `coupled(obj)`"),
                            );
                            continue;
                        }
                        if info.name != "obj_depends_on" {
                            self.report(
                                Diagnostic::error(Code::DuplicateDescriptor, format!("`{}` is given twice in one scope", info.name))
                                    .with_primary(d.name.span, "given again here")
                                    .with_secondary(first, "first given here")
                                    .with_help("keep one; in different branches, use `if`"),
                            );
                            continue;
                        }
                    }
                    self.apply_descriptor(&mut attrs, info, d, stmt.span, env);
                }
                StmtKind::Element(block) => {
                    attrs.element_span = attrs.element_span.or(Some(stmt.span));
                    attrs.elements.push(layer.inner(block.stmts.clone()));
                }
                StmtKind::Field { name, body } => attrs.fields.push((name.clone(), layer.inner(body.stmts.clone()))),
                StmtKind::Error | StmtKind::If { .. } => {}
                StmtKind::Argument { .. }
                | StmtKind::ReturnValue(_)
                | StmtKind::ContextualArgument { .. }
                | StmtKind::Replace { .. }
                | StmtKind::Expr(_) => self.misplaced_statement(stmt, "a value scope"),
            }
        }
        attrs
    }

    /// Reports a scope or statement that cannot stand where it is.
    pub(crate) fn misplaced_statement(&mut self, stmt: &ast::Stmt, place: &str) {
        let (what, help) = match &stmt.kind {
            StmtKind::Argument { .. } => ("`argument(...)`", "argument scopes stand directly in a function's body"),
            StmtKind::ReturnValue(_) => ("`return_value`", "`return_value` stands directly in a function's body"),
            StmtKind::ContextualArgument { .. } => ("`contextual_argument`", "contextual arguments are declared in a function's body"),
            StmtKind::Replace { .. } => {
                ("a replacement", "replacements stand directly in a function's body (`replace_guest` also in a callback's)")
            }
            StmtKind::Expr(_) => ("a statement", "library calls and metadata assignments stand in a function's body"),
            StmtKind::Element(_) => ("`element`", "`element` describes what an argument points to: put it inside `argument(x) { ... }`"),
            StmtKind::Field { .. } => {
                ("`field(...)`", "`field` describes a struct member: put it inside `type(struct T) { ... }` or an argument's `element`")
            }
            _ => ("this", ""),
        };
        self.report(
            Diagnostic::error(Code::MisplacedDescriptor, format!("{what} cannot stand in {place}"))
                .with_primary(stmt.span, "not allowed here")
                .with_help(help),
        );
    }

    /// Looks a descriptor up and checks where it stands and what it was given.
    pub(crate) fn descriptor_info(
        &mut self,
        d: &ast::Descriptor,
        span: Span,
        place: Place,
    ) -> Option<&'static descriptors::DescriptorInfo> {
        let Some(info) = descriptors::lookup(&d.name.node) else {
            self.unknown_descriptor(d);
            return None;
        };
        if info.name == "todo" {
            let reason = match d.args.as_deref() {
                Some([DescriptorArg::Expr(ast::Expr { kind: ast::ExprKind::Str(s), .. })]) => s.clone(),
                _ => String::new(),
            };
            self.report(
                Diagnostic::error(Code::TodoLeft, format!("`todo` left in the spec: {reason}"))
                    .with_primary(span, "a person must decide this")
                    .with_help("replace the `todo` with descriptors that describe the API"),
            );
            return None;
        }
        if info.place != Place::Anywhere && info.place != place {
            let (wanted, here) = match info.place {
                Place::Function => ("a function's body", "a value scope"),
                _ => ("a value scope (`argument`, `element`, `field`, `return_value`, `type`, `default`)", "a function's body"),
            };
            self.report(
                Diagnostic::error(Code::MisplacedDescriptor, format!("`{}` cannot stand in {here}", info.name))
                    .with_primary(d.name.span, "not allowed here")
                    .with_help(format!("`{}` belongs in {wanted}", info.name)),
            );
            return None;
        }
        let count = d.args.as_ref().map_or(0, Vec::len);
        let ok = match info.args {
            Args::None => d.args.is_none(),
            Args::Expr | Args::Type | Args::Str => count == 1,
            Args::OptionalExpr => count <= 1,
            Args::TwoExprs => count == 2,
            Args::OneOrTwoExprs => count == 1 || count == 2,
        };
        if !ok {
            self.report(
                Diagnostic::error(Code::DescriptorArguments, format!("wrong arguments for `{}`", info.name))
                    .with_primary(span, format!("expected `{}`", info.syntax.trim_end_matches(';')))
                    .with_help(format!("write it as `{}`", info.syntax)),
            );
            return None;
        }
        Some(info)
    }

    fn unknown_descriptor(&mut self, d: &ast::Descriptor) {
        let name = &d.name.node;
        let mut diag = Diagnostic::error(Code::UnknownDescriptor, format!("unknown descriptor `{name}`"))
            .with_primary(d.name.span, "not a LAPIS descriptor");
        if let Some(rest) = name.strip_prefix("lifetime_") {
            diag = diag.with_help(format!("lifetimes are written `lifetime({rest})`"));
            if matches!(rest, "call" | "manual" | "static") && d.args.is_none() {
                diag = diag.with_fix(d.name.span, format!("lifetime({rest})"), format!("use `lifetime({rest})`"));
            }
        } else if let Some((_, instead)) = descriptors::ALIASES.iter().find(|(alias, _)| *alias == name) {
            diag = diag.with_help(format!("LAPIS writes this as `{instead}`"));
        } else {
            let names = descriptors::DESCRIPTORS.iter().map(|d| d.name).chain(descriptors::SCOPE_KEYWORDS.iter().copied());
            if let Some(best) = diagnostic::suggest(name, names) {
                diag = diag.with_help(format!("did you mean `{best}`?")).with_fix(d.name.span, best, format!("use `{best}`"));
            } else {
                diag = diag.with_help("see `cava explain L0301` or the LAPIS reference for the list of descriptors");
            }
        }
        self.report(diag);
    }

    fn apply_descriptor(&mut self, attrs: &mut Attrs, info: &descriptors::DescriptorInfo, d: &ast::Descriptor, span: Span, env: &Env) {
        let args = d.args.as_deref().unwrap_or(&[]);
        let expr_arg = |i: usize| match args.get(i) {
            Some(DescriptorArg::Expr(e)) => Some(e),
            _ => None,
        };
        let name_span = d.name.span;
        let set_kind = |this: &mut Checker, attrs: &mut Attrs, kind: Kind| {
            if let Some((old, old_span)) = &attrs.kind {
                this.report(
                    Diagnostic::error(Code::ContradictoryDescriptors, format!("`{}` contradicts `{}`", kind.name(), old.name()))
                        .with_primary(name_span, format!("makes the value {}", kind.with_article()))
                        .with_secondary(*old_span, format!("already {}", old.with_article())),
                );
                return;
            }
            attrs.kind = Some((kind, name_span));
        };
        match info.name {
            "handle" => set_kind(self, attrs, Kind::Handle),
            "opaque" => set_kind(self, attrs, Kind::Opaque),
            "buffer" => {
                let Some(e) = expr_arg(0) else { return };
                if let Some(size) = self.resolve_expr(e, env) {
                    if self.expect_number(&size, e.span, true).is_some() {
                        set_kind(self, attrs, Kind::Buffer(size));
                    }
                }
            }
            "callback" => {
                let Some(DescriptorArg::Type(t)) = args.first() else { return };
                if let Some(callback) = self.callback_ref(t) {
                    set_kind(self, attrs, Kind::Callback(callback));
                }
            }
            "userdata" => {
                let param = match expr_arg(0) {
                    None => None,
                    Some(ast::Expr { kind: ast::ExprKind::Name(n), .. }) if env.params.iter().any(|(p, _)| p == n) => {
                        env.params.iter().position(|(p, _)| p == n)
                    }
                    Some(e) => {
                        self.report(
                            Diagnostic::error(Code::UserdataWithoutCallback, "`userdata(...)` must name the callback argument")
                                .with_primary(e.span, "not an argument of this function"),
                        );
                        return;
                    }
                };
                set_kind(self, attrs, Kind::Userdata(param));
                self.userdata_sites.push((name_span, param));
            }
            "in" | "out" | "no_copy" => {
                let (mut i, mut o, mut n, first) = attrs.direction.unwrap_or((false, false, false, name_span));
                match info.name {
                    "in" => i = true,
                    "out" => o = true,
                    _ => n = true,
                }
                if n && (i || o) {
                    self.report(
                        Diagnostic::error(Code::ContradictoryDescriptors, "`no_copy` contradicts `in` and `out`")
                            .with_primary(name_span, "here")
                            .with_secondary(first, "the direction is given here")
                            .with_help("a value that is not copied has no direction; keep `no_copy` only with a lifetime"),
                    );
                }
                attrs.direction = Some((i, o, n, first));
            }
            "lifetime" => {
                let Some(e) = expr_arg(0) else { return };
                let lifetime = match &e.kind {
                    ast::ExprKind::Name(n) if n == "call" => Lifetime::Call,
                    ast::ExprKind::Name(n) if n == "manual" => Lifetime::Manual,
                    ast::ExprKind::Name(n) if n == "static" => Lifetime::Static,
                    ast::ExprKind::Name(n) if n == "once" => Lifetime::Once,
                    // reserved here: the function's result, which no expression names
                    ast::ExprKind::Call(n, inner)
                        if n.node == "coupled"
                            && inner.len() == 1
                            && matches!(&inner[0].kind, ast::ExprKind::Name(r) if r == RETURN_VALUE) =>
                    {
                        Lifetime::CoupledToReturn
                    }
                    ast::ExprKind::Call(n, inner) if n.node == "coupled" && inner.len() == 1 => match self.resolve_expr(&inner[0], env) {
                        Some(obj) => Lifetime::Coupled(obj),
                        None => return,
                    },
                    _ => {
                        self.report(
                            Diagnostic::error(Code::DescriptorArguments, "unknown lifetime")
                                .with_primary(e.span, "expected `call`, `manual`, `static`, `coupled(obj)` or `once`"),
                        );
                        return;
                    }
                };
                attrs.lifetime = Some((lifetime, name_span));
            }
            "allocate" => attrs.allocate = Some(name_span),
            "deallocate" => attrs.deallocate = Some(name_span),
            "zerocopy" => attrs.zerocopy = Some(name_span),
            "obj_record" => attrs.obj_record = true,
            "obj_depends_on" => {
                if let Some(obj) = expr_arg(0).and_then(|e| self.resolve_expr(e, env)) {
                    attrs.depends_on.push(obj);
                }
            }
            "obj_state_cbs" => {
                let write = expr_arg(0).and_then(|e| self.utility_ref(e));
                let read = expr_arg(1).and_then(|e| self.utility_ref(e));
                if let (Some(w), Some(r)) = (write, read) {
                    attrs.state_callbacks = Some((w, r));
                }
            }
            "type_cast" => {
                let Some(DescriptorArg::Type(t)) = args.first() else { return };
                if let Some(ty) = self.lower_type(t) {
                    attrs.cast = Some((ty, name_span));
                }
            }
            _ => {}
        }
        if attrs.zerocopy.is_some() {
            if let Some((_, _, true, first)) = attrs.direction {
                let zc = attrs.zerocopy.unwrap_or(span);
                self.report(
                    Diagnostic::error(Code::ContradictoryDescriptors, "`zerocopy` contradicts `no_copy`")
                        .with_primary(zc, "the buffer is shared, never copied")
                        .with_secondary(first, "`no_copy` here"),
                );
                attrs.zerocopy = None;
            }
        }
    }

    fn callback_ref(&mut self, t: &ast::TypeExpr) -> Option<CallbackRef> {
        if let ast::TypeExprKind::Named(name) = &t.kind {
            if let Some(declared) = self.callback_names.get(name).copied() {
                self.usage.callbacks.insert(declared.id);
                return Some(CallbackRef::Declared(declared.id));
            }
            if !self.type_names.contains_key(name) {
                let mut d = Diagnostic::error(Code::UnknownCallbackType, format!("unknown callback type `{name}`"))
                    .with_primary(t.span, "no `callback` declaration or function-pointer typedef");
                if let Some(best) = diagnostic::suggest(name, self.callback_names.keys().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{best}`?")).with_fix(t.span, best, format!("use `{best}`"));
                }
                self.report(d);
                return None;
            }
        }
        let ty = self.lower_type(t)?;
        let signature = match self.spec.resolve(&ty) {
            Type::Pointer { pointee, .. } => match self.spec.resolve(pointee) {
                Type::Function(sig) => Some(sig.clone()),
                _ => None,
            },
            Type::Function(sig) => Some(sig.clone()),
            _ => None,
        };
        match signature {
            Some(sig) => Some(CallbackRef::Signature(sig)),
            None => {
                let name = self.type_name(&ty);
                self.report(
                    Diagnostic::error(Code::UnknownCallbackType, format!("`{name}` is not a function type"))
                        .with_primary(t.span, "expected a `callback` declaration or a function-pointer typedef"),
                );
                None
            }
        }
    }

    fn utility_ref(&mut self, e: &ast::Expr) -> Option<ir::UtilityId> {
        if let ast::ExprKind::Name(name) = &e.kind {
            if let Some(declared) = self.utility_names.get(name).copied() {
                self.usage.utilities.insert(declared.id);
                return Some(declared.id);
            }
        }
        self.report(
            Diagnostic::error(Code::UnknownFunction, "expected the name of a utility function")
                .with_primary(e.span, "not a utility declared in this spec")
                .with_help("declare it with `utility T name(params) { return expr; }`"),
        );
        None
    }
}

/// Puts a later layer's descriptors over the merged ones.
fn overlay(merged: &mut Attrs, layer: Attrs) {
    if layer.kind.is_some() {
        merged.kind = layer.kind;
    }
    if layer.direction.is_some() {
        merged.direction = layer.direction;
    }
    if layer.lifetime.is_some() {
        merged.lifetime = layer.lifetime;
    }
    if layer.cast.is_some() {
        merged.cast = layer.cast;
    }
    if layer.state_callbacks.is_some() {
        merged.state_callbacks = layer.state_callbacks;
    }
    merged.allocate = layer.allocate.or(merged.allocate);
    merged.deallocate = layer.deallocate.or(merged.deallocate);
    merged.zerocopy = layer.zerocopy.or(merged.zerocopy);
    merged.obj_record |= layer.obj_record;
    merged.depends_on.extend(layer.depends_on);
    merged.elements.extend(layer.elements);
    merged.element_span = merged.element_span.or(layer.element_span);
    merged.fields.extend(layer.fields);
}

fn synthetic(name: &str, span: Span) -> ast::Stmt {
    ast::Stmt { kind: StmtKind::Descriptor(ast::Descriptor { name: Spanned::new(name.to_string(), span), args: None }), span }
}

fn opaque_leaf(ty: &Type) -> Value {
    Value::Leaf(Box::new(ValueSpec::opaque(ty.clone(), true)))
}

fn size_expr(ty: &Type) -> ir::Expr {
    ir::Expr { kind: ir::ExprKind::SizeOf(ty.clone()), ty: Type::Builtin(BuiltinType::Size) }
}

/// Calls `f` on every leaf of a value, including elements and fields.
pub(crate) fn for_each_leaf(value: &Value, f: &mut impl FnMut(&ValueSpec)) {
    match value {
        Value::If { then, otherwise, .. } => {
            for_each_leaf(then, f);
            for_each_leaf(otherwise, f);
        }
        Value::Leaf(spec) => {
            f(spec);
            match &spec.kind {
                ValueKind::Buffer { element, .. } => for_each_leaf(element, f),
                ValueKind::Struct { fields } => fields.iter().for_each(|v| for_each_leaf(v, f)),
                _ => {}
            }
        }
    }
}

/// Like `for_each_leaf`, mutably.
pub(crate) fn for_each_leaf_mut(value: &mut Value, f: &mut impl FnMut(&mut ValueSpec)) {
    match value {
        Value::If { then, otherwise, .. } => {
            for_each_leaf_mut(then, f);
            for_each_leaf_mut(otherwise, f);
        }
        Value::Leaf(spec) => {
            f(spec);
            match &mut spec.kind {
                ValueKind::Buffer { element, .. } => for_each_leaf_mut(element, f),
                ValueKind::Struct { fields } => fields.iter_mut().for_each(|v| for_each_leaf_mut(v, f)),
                _ => {}
            }
        }
    }
}

fn lifetime_name(lifetime: &Lifetime) -> &'static str {
    match lifetime {
        Lifetime::Call => "call",
        Lifetime::Manual => "manual",
        Lifetime::Static => "static",
        Lifetime::Coupled(_) => "coupled",
        Lifetime::CoupledToReturn => "coupled(return_value)",
        Lifetime::Once => "once",
    }
}
