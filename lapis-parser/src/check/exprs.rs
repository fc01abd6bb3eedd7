//! Expressions: name resolution and type checking. `None` means an error
//! has been reported (or the expression depends on one), so callers stay
//! silent and errors do not cascade.

use super::types::Shape;
use super::values::RETURN_VALUE;
use super::{Checker, GlobalValue};
use crate::ast::{self, ExprKind as A};
use crate::descriptors::STDLIB_FUNCTIONS;
use crate::diagnostic::{self, Code, Diagnostic};
use crate::ir::{self, BinaryOp, BuiltinType, ExprKind, LibraryFn, Type, UnaryOp};
use crate::span::Span;
use std::rc::Rc;

/// What names mean where an expression stands.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    /// Parameters of the function, callback or utility (shared: an `Env` is
    /// copied for every value described).
    pub params: Rc<[(String, Type)]>,
    /// Contextual arguments declared so far.
    pub contextual: Vec<(String, Type)>,
    /// Fields of the struct whose field is being described.
    pub siblings: Rc<[(String, Type)]>,
    /// How many `element` scopes enclose the expression (for `index`).
    pub element_depth: u32,
    /// False where only constants are allowed.
    pub runtime: bool,
    /// The type of the value being described, which `this` names.
    pub this: Option<Type>,
    /// In a `type(T)` or `default(C)` scope: the function's arguments exist
    /// but cannot be named (for a better message).
    pub hides_arguments: bool,
    /// What `return_value` names here.
    pub returned: Returned,
}

/// What `return_value` names where an expression stands.
#[derive(Clone, Debug, Default)]
pub(crate) enum Returned {
    /// Nothing: the expression is evaluated before the call (or outside a function).
    #[default]
    Undefined,
    /// A statement of a function that returns `void`.
    Void,
    /// A statement of a function returning this type: the result, after the call.
    Value(Type),
}

impl Env {
    pub fn constant() -> Env {
        Env::default()
    }
}

fn int_type() -> Type {
    Type::Builtin(BuiltinType::Int)
}

fn size_type() -> Type {
    Type::Builtin(BuiltinType::Size)
}

fn expr(kind: ExprKind, ty: Type) -> ir::Expr {
    ir::Expr { kind, ty }
}

impl Checker {
    pub(crate) fn resolve_expr(&mut self, e: &ast::Expr, env: &Env) -> Option<ir::Expr> {
        Some(match &e.kind {
            A::Int(v) => {
                let ty = if *v <= i32::MAX as u64 {
                    int_type()
                } else if *v <= i64::MAX as u64 {
                    Type::Builtin(BuiltinType::LongLong)
                } else {
                    Type::Builtin(BuiltinType::UnsignedLongLong)
                };
                expr(ExprKind::Int(*v as i128), ty)
            }
            A::Float(v) => expr(ExprKind::Float(*v), Type::Builtin(BuiltinType::Double)),
            A::Char(c) => expr(ExprKind::Int(*c as i128), Type::Builtin(BuiltinType::Char)),
            A::Str(s) => {
                expr(ExprKind::Str(s.clone()), Type::Pointer { pointee: Box::new(Type::Builtin(BuiltinType::Char)), pointee_const: true })
            }
            A::Name(name) => return self.resolve_name(name, e.span, env),
            A::Unary(op, inner) => {
                let inner = self.resolve_expr(inner, env)?;
                let ty = match op {
                    UnaryOp::Not => int_type(),
                    UnaryOp::Neg | UnaryOp::BitNot => {
                        self.expect_number(&inner, e.span, *op == UnaryOp::BitNot)?;
                        inner.ty.clone()
                    }
                    UnaryOp::Deref => match self.shape(&inner.ty) {
                        Shape::Pointer { pointee, .. } => pointee,
                        Shape::Array { element } => element,
                        _ => return self.invalid_operand(e.span, "`*` needs a pointer", &inner.ty),
                    },
                    UnaryOp::AddrOf => Type::Pointer { pointee: Box::new(inner.ty.clone()), pointee_const: false },
                };
                expr(ExprKind::Unary(*op, Box::new(inner)), ty)
            }
            A::Binary(op, a, b) => {
                let (a, b) = (self.resolve_expr(a, env), self.resolve_expr(b, env));
                let (a, b) = (a?, b?);
                let ty = self.binary_type(*op, &a, &b, e.span)?;
                expr(ExprKind::Binary(*op, Box::new(a), Box::new(b)), ty)
            }
            A::Ternary(c, a, b) => {
                let (c, a, b) = (self.resolve_expr(c, env), self.resolve_expr(a, env), self.resolve_expr(b, env));
                let (c, a, b) = (c?, a?, b?);
                self.expect_condition(&c, e.span)?;
                let ty = if self.shape(&a.ty) == Shape::Integer && self.shape(&b.ty) == Shape::Integer {
                    wider(&a.ty, &b.ty)
                } else {
                    a.ty.clone()
                };
                expr(ExprKind::Ternary(Box::new(c), Box::new(a), Box::new(b)), ty)
            }
            A::Assign(target, value) => {
                let (t, v) = (self.resolve_expr(target, env), self.resolve_expr(value, env));
                let (t, v) = (t?, v?);
                expr(ExprKind::Assign(Box::new(t), Box::new(v)), Type::Builtin(BuiltinType::Void))
            }
            A::Member { base, field, arrow } => {
                let base = self.resolve_expr(base, env)?;
                let record = match (self.shape(&base.ty), arrow) {
                    (Shape::Pointer { pointee, .. }, true) => self.shape(&pointee),
                    (shape, false) => shape,
                    _ => Shape::Void,
                };
                let Shape::Record { id, .. } = record else {
                    let want = if *arrow { "`->` needs a pointer to a struct or union" } else { "`.` needs a struct or union" };
                    return self.invalid_operand(e.span, want, &base.ty);
                };
                let fields = self.record_fields(id);
                let Some(index) = fields.iter().position(|(n, _)| *n == field.node) else {
                    let names = fields.iter().map(|(n, _)| n.as_str());
                    let mut d = Diagnostic::error(
                        Code::UnknownField,
                        format!("no field `{}` in `{}`", field.node, self.spec.types[id.index()].name),
                    )
                    .with_primary(field.span, "unknown field");
                    if let Some(best) = diagnostic::suggest(&field.node, names) {
                        d = d.with_help(format!("did you mean `{best}`?")).with_fix(field.span, best, format!("use `{best}`"));
                    }
                    self.report(d);
                    return None;
                };
                let ty = fields[index].1.clone();
                expr(ExprKind::Member { base: Box::new(base), field: index, arrow: *arrow }, ty)
            }
            A::Index(base, index) => {
                let (base, index) = (self.resolve_expr(base, env), self.resolve_expr(index, env));
                let (base, index) = (base?, index?);
                self.expect_number(&index, e.span, true)?;
                let ty = match self.shape(&base.ty) {
                    Shape::Pointer { pointee, .. } => pointee,
                    Shape::Array { element } => element,
                    _ => return self.invalid_operand(e.span, "`[]` needs a pointer or array", &base.ty),
                };
                expr(ExprKind::Index(Box::new(base), Box::new(index)), ty)
            }
            A::SizeofType(ty) => {
                // `sizeof(x)` is parsed as a type; fall back to a value named `x`
                if let ast::TypeExprKind::Named(name) = &ty.kind {
                    if !self.type_names.contains_key(name) && self.name_is_value(name, env) {
                        let value = self.resolve_name(name, ty.span, env)?;
                        return Some(expr(ExprKind::SizeOf(value.ty), size_type()));
                    }
                }
                let lowered = self.lower_type(ty)?;
                expr(ExprKind::SizeOf(lowered), size_type())
            }
            A::Call(name, args) => return self.resolve_call(name, args, e.span, env),
            A::Error => return None,
        })
    }

    fn name_is_value(&self, name: &str, env: &Env) -> bool {
        env.params.iter().chain(env.contextual.iter()).chain(env.siblings.iter()).any(|(n, _)| n == name) || self.globals.contains_key(name)
    }

    pub(crate) fn record_fields(&self, id: ir::TypeId) -> Vec<(String, Type)> {
        match &self.spec.types[id.index()].kind {
            ir::TypeDefKind::Struct { fields: Some(fields) } | ir::TypeDefKind::Union { fields: Some(fields) } => {
                fields.iter().map(|f| (f.name.clone(), f.ty.clone())).collect()
            }
            _ => Vec::new(),
        }
    }

    fn resolve_name(&mut self, name: &str, span: Span, env: &Env) -> Option<ir::Expr> {
        if env.runtime {
            if let Some(i) = env.siblings.iter().position(|(n, _)| n == name) {
                return Some(expr(ExprKind::SiblingField(i), env.siblings[i].1.clone()));
            }
            if let Some(i) = env.params.iter().position(|(n, _)| n == name) {
                return Some(expr(ExprKind::Param(i), env.params[i].1.clone()));
            }
            if let Some(i) = env.contextual.iter().position(|(n, _)| n == name) {
                return Some(expr(ExprKind::Contextual(i), env.contextual[i].1.clone()));
            }
            if name == "this" {
                if let Some(ty) = &env.this {
                    return Some(expr(ExprKind::This, ty.clone()));
                }
            }
            if name == "index" && env.element_depth > 0 {
                return Some(expr(ExprKind::ElementIndex(0), size_type()));
            }
            if name == RETURN_VALUE {
                if let Returned::Value(ty) = &env.returned {
                    self.return_value_uses.push(span);
                    return Some(expr(ExprKind::ReturnValue, ty.clone()));
                }
            }
        }
        if name == RETURN_VALUE && !self.globals.contains_key(name) {
            let (label, help) = match env.returned {
                Returned::Void => (
                    "the function returns `void`",
                    "`return_value` names the result of the call; a function that returns nothing has none",
                ),
                _ => (
                    "not defined here",
                    "`return_value` names the result of the call in a function's statements (`register_buf(...)`, `metadata(key)->f = v`), which run after the call; expressions evaluated before the call (argument scopes, contextual arguments, resource amounts) cannot use it",
                ),
            };
            self.report(
                Diagnostic::error(Code::ReturnValueUndefined, "`return_value` is not defined here")
                    .with_primary(span, label)
                    .with_help(help),
            );
            return None;
        }
        if let Some(declared) = self.globals.get(name).copied() {
            let GlobalValue::Constant(id) = declared.id;
            self.constant_value(id)?;
            let ty = self.spec.constants[id.index()].ty.clone();
            return Some(expr(ExprKind::Constant(id), ty));
        }
        let is_param = env.params.iter().chain(env.contextual.iter()).any(|(n, _)| n == name);
        let mut d =
            Diagnostic::error(Code::UnknownName, format!("cannot find `{name}` here")).with_primary(span, "not found in this scope");
        if is_param || (name == "index" && !env.runtime) {
            d = d.with_help("only constants are allowed here");
            d.code = Code::NotConstant;
            d.message = format!("`{name}` is not a constant");
        } else if env.hides_arguments && diagnostic::suggest(name, self.globals.keys().map(String::as_str)).is_none() {
            d = d.with_help(
                "`type(T)` and `default(C)` scopes describe a type wherever it appears, so they cannot name a function's arguments; use `this`, fields and constants, or move the descriptor into `argument(...)`",
            );
        } else if name == "index" {
            d = d.with_help("`index` is the position of the element being described; use it inside `element { ... }`");
        } else {
            let mut candidates: Vec<&str> = self.globals.keys().map(String::as_str).collect();
            if env.runtime {
                candidates.extend(env.params.iter().chain(env.contextual.iter()).chain(env.siblings.iter()).map(|(n, _)| n.as_str()));
            }
            if let Some(best) = diagnostic::suggest(name, candidates) {
                d = d.with_help(format!("did you mean `{best}`?")).with_fix(span, best, format!("use `{best}`"));
            } else if !env.params.is_empty() {
                let params: Vec<&str> = env.params.iter().map(|(n, _)| n.as_str()).collect();
                d = d.with_help(format!("the arguments here are: {}", params.join(", ")));
            }
        }
        self.report(d);
        None
    }

    fn resolve_call(&mut self, name: &ast::Ident, args: &[ast::Expr], span: Span, env: &Env) -> Option<ir::Expr> {
        if name.node == "sizeof" {
            let arg = self.resolve_expr(args.first()?, env)?;
            return Some(expr(ExprKind::SizeOf(arg.ty), size_type()));
        }
        if let Some(declared) = self.utility_names.get(&name.node).copied() {
            self.usage.utilities.insert(declared.id);
            let utility = &self.spec.utilities[declared.id.index()];
            let (params, ret) = (utility.params.clone(), utility.ret.clone());
            self.arity(name, args.len(), params.len(), span)?;
            let resolved = self.resolve_args(args, env)?;
            return Some(expr(ExprKind::Utility(declared.id, resolved), ret));
        }
        let library = match name.node.as_str() {
            "metadata" => LibraryFn::Metadata,
            "register_buf" => LibraryFn::RegisterBuf,
            "register_bufs_of" => LibraryFn::RegisterBufsOf,
            "get_bufs" => LibraryFn::GetBufs,
            "get_n_bufs" => LibraryFn::GetNBufs,
            "get_buf_size" => LibraryFn::GetBufSize,
            "zerocopy_alloc" => LibraryFn::ZerocopyAlloc,
            "zerocopy_free" => LibraryFn::ZerocopyFree,
            "min" => LibraryFn::Min,
            "max" => LibraryFn::Max,
            "strlen" => LibraryFn::Strlen,
            "terminated_len" => LibraryFn::TerminatedLen,
            _ => {
                let mut candidates: Vec<&str> = STDLIB_FUNCTIONS.iter().map(|(n, _)| *n).collect();
                candidates.extend(self.utility_names.keys().map(String::as_str));
                let mut d = Diagnostic::error(Code::UnknownFunction, format!("cannot find function `{}`", name.node))
                    .with_primary(name.span, "not a library function or utility");
                if let Some(best) = diagnostic::suggest(&name.node, candidates) {
                    d = d.with_help(format!("did you mean `{best}`?")).with_fix(name.span, best, format!("use `{best}`"));
                } else {
                    d = d.with_help("declare it with `utility T name(params) { return expr; }`");
                }
                self.report(d);
                return None;
            }
        };
        if !env.runtime && !matches!(library, LibraryFn::Min | LibraryFn::Max) {
            self.report(
                Diagnostic::error(Code::NotConstant, format!("`{}` is only known when the program runs", name.node))
                    .with_primary(span, "not a constant"),
            );
            return None;
        }
        let (expected, registry_first) = match library {
            LibraryFn::Metadata | LibraryFn::ZerocopyAlloc | LibraryFn::ZerocopyFree | LibraryFn::Strlen | LibraryFn::TerminatedLen => {
                (1, false)
            }
            LibraryFn::Min | LibraryFn::Max => (2, false),
            LibraryFn::GetBufs | LibraryFn::GetNBufs => (2, true),
            LibraryFn::GetBufSize => (3, true),
            LibraryFn::RegisterBuf | LibraryFn::RegisterBufsOf => (4, true),
        };
        self.arity(name, args.len(), expected, span)?;
        let mut resolved = Vec::new();
        let mut rest = args;
        if registry_first {
            resolved.push(self.resolve_registry(&args[0])?);
            rest = &args[1..];
        }
        if library == LibraryFn::RegisterBufsOf {
            // two (registry, key) pairs
            resolved.extend(self.resolve_args(&rest[..1], env)?);
            resolved.push(self.resolve_registry(&rest[1])?);
            rest = &rest[2..];
        }
        resolved.extend(self.resolve_args(rest, env)?);
        let void_ptr = |pointee_const| Type::Pointer { pointee: Box::new(Type::Builtin(BuiltinType::Void)), pointee_const };
        let ty = match library {
            LibraryFn::Metadata => {
                let Some(meta) = self.spec.metadata.clone() else {
                    if std::mem::replace(&mut self.reported_no_metadata, true) {
                        return None;
                    }
                    self.report(
                        Diagnostic::error(Code::NoMetadataType, "`metadata` is used but no metadata type is declared")
                            .with_primary(name.span, "needs `declare_metadata(T);`")
                            .with_help("declare the record type once at top level, e.g. `declare_metadata(struct kernel_info);`"),
                    );
                    return None;
                };
                self.expect_key(&resolved[0], args[0].span)?;
                Type::Pointer { pointee: Box::new(meta), pointee_const: false }
            }
            LibraryFn::RegisterBuf => {
                self.expect_key(&resolved[1], args[1].span)?;
                self.expect_number(&resolved[3], args[3].span, true)?;
                Type::Builtin(BuiltinType::Void)
            }
            LibraryFn::RegisterBufsOf => {
                self.expect_key(&resolved[1], args[1].span)?;
                self.expect_key(&resolved[3], args[3].span)?;
                Type::Builtin(BuiltinType::Void)
            }
            LibraryFn::GetBufs => Type::Pointer { pointee: Box::new(void_ptr(false)), pointee_const: false },
            LibraryFn::GetNBufs => size_type(),
            LibraryFn::GetBufSize => {
                self.expect_number(&resolved[2], args[2].span, true)?;
                size_type()
            }
            LibraryFn::ZerocopyAlloc => {
                self.expect_number(&resolved[0], args[0].span, true)?;
                void_ptr(false)
            }
            LibraryFn::ZerocopyFree => Type::Builtin(BuiltinType::Void),
            LibraryFn::Min | LibraryFn::Max => {
                self.expect_number(&resolved[0], args[0].span, true)?;
                self.expect_number(&resolved[1], args[1].span, true)?;
                wider(&resolved[0].ty, &resolved[1].ty)
            }
            LibraryFn::TerminatedLen => {
                let scalar_list = match self.shape(&resolved[0].ty) {
                    Shape::Pointer { pointee, .. } => matches!(self.shape(&pointee), Shape::Integer | Shape::Pointer { .. }),
                    _ => false,
                };
                if !scalar_list {
                    return self.mismatch(args[0].span, "`terminated_len` needs a pointer to integers or pointers", &resolved[0].ty);
                }
                size_type()
            }
            LibraryFn::Strlen => {
                let is_string = match self.shape(&resolved[0].ty) {
                    Shape::Pointer { pointee, .. } => matches!(
                        self.spec.resolve(&pointee),
                        Type::Builtin(BuiltinType::Char | BuiltinType::SignedChar | BuiltinType::UnsignedChar)
                    ),
                    _ => false,
                };
                if !is_string {
                    return self.mismatch(args[0].span, "`strlen` needs a `char *`", &resolved[0].ty);
                }
                size_type()
            }
        };
        Some(expr(ExprKind::Library(library, resolved), ty))
    }

    fn resolve_args(&mut self, args: &[ast::Expr], env: &Env) -> Option<Vec<ir::Expr>> {
        let resolved: Vec<Option<ir::Expr>> = args.iter().map(|a| self.resolve_expr(a, env)).collect();
        resolved.into_iter().collect()
    }

    fn resolve_registry(&mut self, arg: &ast::Expr) -> Option<ir::Expr> {
        let A::Name(name) = &arg.kind else {
            self.report(
                Diagnostic::error(Code::UnknownRegistry, "expected the name of a buffer registry")
                    .with_primary(arg.span, "not a registry name"),
            );
            return None;
        };
        match self.registry_names.get(name).copied() {
            Some(declared) => {
                self.usage.registries.insert(declared.id);
                Some(expr(ExprKind::Registry(declared.id), Type::Builtin(BuiltinType::Void)))
            }
            None => {
                let mut d = Diagnostic::error(Code::UnknownRegistry, format!("unknown buffer registry `{name}`"))
                    .with_primary(arg.span, "not declared");
                if let Some(best) = diagnostic::suggest(name, self.registry_names.keys().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{best}`?")).with_fix(arg.span, best, format!("use `{best}`"));
                } else {
                    d = d.with_help(format!("declare it with `buf_registry {name};`"));
                }
                self.report(d);
                None
            }
        }
    }

    fn arity(&mut self, name: &ast::Ident, got: usize, expected: usize, span: Span) -> Option<()> {
        if got == expected {
            return Some(());
        }
        self.report(
            Diagnostic::error(
                Code::WrongArgumentCount,
                format!(
                    "`{}` takes {expected} argument{} but {got} {} given",
                    name.node,
                    if expected == 1 { "" } else { "s" },
                    if got == 1 { "was" } else { "were" }
                ),
            )
            .with_primary(span, format!("expected {expected}")),
        );
        None
    }

    fn binary_type(&mut self, op: BinaryOp, a: &ir::Expr, b: &ir::Expr, span: Span) -> Option<Type> {
        use BinaryOp::*;
        let (sa, sb) = (self.shape(&a.ty), self.shape(&b.ty));
        let numeric = |s: &Shape| matches!(s, Shape::Integer | Shape::Float);
        let pointerish = |s: &Shape| matches!(s, Shape::Pointer { .. } | Shape::Array { .. });
        match op {
            And | Or => {
                self.expect_condition(a, span)?;
                self.expect_condition(b, span)?;
                Some(int_type())
            }
            Eq | Ne | Lt | Le | Gt | Ge => {
                if (numeric(&sa) && numeric(&sb))
                    || (pointerish(&sa) && (pointerish(&sb) || sb == Shape::Integer))
                    || (sa == Shape::Integer && pointerish(&sb))
                {
                    Some(int_type())
                } else {
                    self.invalid_operand(
                        span,
                        &format!("cannot compare `{}` with `{}`", self.type_name(&a.ty), self.type_name(&b.ty)),
                        &a.ty,
                    )
                }
            }
            Add | Sub if pointerish(&sa) && sb == Shape::Integer => Some(a.ty.clone()),
            Add if sa == Shape::Integer && pointerish(&sb) => Some(b.ty.clone()),
            Sub if pointerish(&sa) && pointerish(&sb) => Some(Type::Builtin(BuiltinType::Ptrdiff)),
            Mul | Div | Add | Sub => {
                self.expect_number(a, span, false)?;
                self.expect_number(b, span, false)?;
                Some(if sa == Shape::Float || sb == Shape::Float { Type::Builtin(BuiltinType::Double) } else { wider(&a.ty, &b.ty) })
            }
            Rem | Shl | Shr | BitAnd | BitOr | BitXor => {
                self.expect_number(a, span, true)?;
                self.expect_number(b, span, true)?;
                Some(wider(&a.ty, &b.ty))
            }
        }
    }

    /// Requires an integer (or, unless `integer_only`, a float).
    pub(crate) fn expect_number(&mut self, e: &ir::Expr, span: Span, integer_only: bool) -> Option<()> {
        match self.shape(&e.ty) {
            Shape::Integer => Some(()),
            Shape::Float if !integer_only => Some(()),
            _ => self.mismatch(span, if integer_only { "expected an integer" } else { "expected a number" }, &e.ty),
        }
    }

    /// Requires something usable as a condition.
    pub(crate) fn expect_condition(&mut self, e: &ir::Expr, span: Span) -> Option<()> {
        match self.shape(&e.ty) {
            Shape::Integer | Shape::Pointer { .. } | Shape::Float => Some(()),
            _ => self.mismatch(span, "expected a condition (an integer, boolean or pointer)", &e.ty),
        }
    }

    /// Requires something that can key metadata or a registry: a handle, pointer or integer.
    fn expect_key(&mut self, e: &ir::Expr, span: Span) -> Option<()> {
        match self.shape(&e.ty) {
            Shape::Integer | Shape::Pointer { .. } => Some(()),
            _ => self.mismatch(span, "expected an object, pointer or integer as the key", &e.ty),
        }
    }

    pub(crate) fn mismatch<T>(&mut self, span: Span, expected: &str, found: &Type) -> Option<T> {
        let found = self.type_name(found);
        self.report(
            Diagnostic::error(Code::TypeMismatch, format!("mismatched types: {expected}")).with_primary(span, format!("this is `{found}`")),
        );
        None
    }

    fn invalid_operand<T>(&mut self, span: Span, what: &str, found: &Type) -> Option<T> {
        let found = self.type_name(found);
        self.report(Diagnostic::error(Code::InvalidOperand, what.to_string()).with_primary(span, format!("the operand is `{found}`")));
        None
    }
}

/// The wider of two integer types, by C's usual arithmetic conversions (simplified).
fn wider(a: &Type, b: &Type) -> Type {
    let rank = |t: &Type| match t {
        Type::Builtin(
            BuiltinType::UnsignedLongLong | BuiltinType::Uint64 | BuiltinType::Size | BuiltinType::Uintptr | BuiltinType::UnsignedLong,
        ) => 4,
        Type::Builtin(
            BuiltinType::LongLong
            | BuiltinType::Int64
            | BuiltinType::Long
            | BuiltinType::Ssize
            | BuiltinType::Intptr
            | BuiltinType::Ptrdiff,
        ) => 3,
        Type::Builtin(BuiltinType::UnsignedInt | BuiltinType::Uint32) => 2,
        _ => 1,
    };
    if rank(b) > rank(a) {
        b.clone()
    } else {
        a.clone()
    }
}
