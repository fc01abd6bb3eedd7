//! C types: collecting type names, lowering `TypeExpr`s to `ir::Type`, type
//! categories for `default(C)`, and constants (which array lengths need).

use super::{Checker, Declared, GlobalValue};
use crate::ast::{self, ItemKind, SourceFile, TagBody, TagKind, TypeExpr, TypeExprKind};
use crate::diagnostic::{self, Code, Diagnostic};
use crate::ir::{self, BuiltinType, ConstValue, Type, TypeDefKind, TypeId};
use crate::span::Span;

/// The families of types that `default(C)` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Category {
    Pointer,
    ConstPointer,
    String,
    FunctionPointer,
    Integer,
    Float,
    Struct,
}

impl Category {
    pub fn parse(name: &str) -> Option<Category> {
        Some(match name {
            "pointer" => Category::Pointer,
            "const_pointer" => Category::ConstPointer,
            "string" => Category::String,
            "function_pointer" => Category::FunctionPointer,
            "integer" => Category::Integer,
            "float" => Category::Float,
            "struct" => Category::Struct,
            _ => return None,
        })
    }
}

/// What a type is, after following typedefs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Shape {
    Void,
    Integer,
    Float,
    /// A pointer; `incomplete` when it points to a struct or union with no
    /// body (an API object), `pointee_void` for `void *`.
    Pointer {
        pointee: Type,
        pointee_const: bool,
    },
    Array {
        element: Type,
    },
    Record {
        id: TypeId,
        incomplete: bool,
    },
    Function,
}

/// How one constant is evaluated lazily (constants may refer to each other
/// and array lengths may refer to constants declared later).
#[derive(Clone, Debug)]
pub(crate) enum ConstState {
    Pending { expr: Option<ast::Expr>, previous: Option<ir::ConstantId>, span: Span },
    InProgress,
    Done,
    Failed,
}

impl Checker {
    fn tag_key(kind: TagKind, name: &str) -> String {
        format!("{} {name}", kind.keyword())
    }

    fn new_type(&mut self, name: String, kind: TypeDefKind) -> TypeId {
        let id = TypeId(self.spec.types.len() as u32);
        self.spec.types.push(ir::TypeDef { name, kind });
        id
    }

    fn empty_tag(kind: TagKind) -> TypeDefKind {
        match kind {
            TagKind::Struct => TypeDefKind::Struct { fields: None },
            TagKind::Union => TypeDefKind::Union { fields: None },
            TagKind::Enum => TypeDefKind::Enum { variants: Vec::new() },
        }
    }

    /// The id of `struct T` (etc.), declaring it as incomplete on first use, as C does.
    fn tag_id(&mut self, kind: TagKind, name: &str, span: Span) -> TypeId {
        let key = Self::tag_key(kind, name);
        if let Some(declared) = self.type_names.get(&key) {
            return declared.id;
        }
        let id = self.new_type(key.clone(), Self::empty_tag(kind));
        self.type_names.insert(key, Declared { id, span });
        id
    }

    /// Pass 1: every type name, so that later passes can refer to types in any order.
    pub(super) fn collect_types(&mut self, file: &SourceFile) {
        for item in &file.items {
            match &item.kind {
                ItemKind::Typedef(decl) => {
                    let Some(name) = &decl.name else { continue };
                    if let Some(first) = self.type_names.get(&name.node) {
                        let first = first.span;
                        self.duplicate("type", &name.node, name.span, first);
                        continue;
                    }
                    if BuiltinType::from_name(&name.node).is_some() {
                        continue;
                    }
                    let id = self.new_type(name.node.clone(), TypeDefKind::Typedef(Type::Builtin(BuiltinType::Int)));
                    self.type_names.insert(name.node.clone(), Declared { id, span: name.span });
                }
                ItemKind::TagDefinition(def) => {
                    let key = Self::tag_key(def.kind, &def.name.node);
                    if let Some(first) = self.type_names.get(&key) {
                        let first = first.span;
                        self.duplicate("type", &key, def.name.span, first);
                        continue;
                    }
                    let id = self.new_type(key.clone(), Self::empty_tag(def.kind));
                    self.type_names.insert(key, Declared { id, span: def.name.span });
                }
                _ => {}
            }
        }
    }

    /// `struct T;` declares `T` unless a definition already does.
    fn collect_tag_declarations(&mut self, file: &SourceFile) {
        for item in &file.items {
            if let ItemKind::TagDeclaration { kind, name } = &item.kind {
                self.tag_id(*kind, &name.node, name.span);
            }
        }
    }

    /// Pass 2: the bodies of typedefs and tag definitions, and constant names.
    pub(super) fn lower_type_definitions(&mut self, file: &SourceFile) {
        self.collect_tag_declarations(file);
        self.collect_constant_names(file);
        for item in &file.items {
            match &item.kind {
                ItemKind::Typedef(decl) => {
                    let Some(name) = &decl.name else { continue };
                    let Some(declared) = self.type_names.get(&name.node).copied() else { continue };
                    if declared.span != name.span {
                        continue;
                    }
                    let lowered = self.lower_type(&decl.ty).unwrap_or(Type::Builtin(BuiltinType::Int));
                    if lowered == Type::Named(declared.id) {
                        self.report(
                            Diagnostic::error(Code::UnknownType, format!("type `{}` is defined in terms of itself", name.node))
                                .with_primary(decl.ty.span, "refers to itself"),
                        );
                        continue;
                    }
                    self.spec.types[declared.id.index()].kind = TypeDefKind::Typedef(lowered);
                }
                ItemKind::TagDefinition(def) => {
                    let key = Self::tag_key(def.kind, &def.name.node);
                    let Some(declared) = self.type_names.get(&key).copied() else { continue };
                    if declared.span == def.name.span {
                        self.define_tag(declared.id, &def.body);
                    }
                }
                _ => {}
            }
        }
    }

    fn define_tag(&mut self, id: TypeId, body: &TagBody) {
        let kind = match body {
            TagBody::Fields(fields) => {
                let mut lowered = Vec::new();
                let mut seen: std::collections::HashMap<&str, Span> = Default::default();
                for field in fields {
                    let Some(ty) = self.lower_type(&field.ty) else { continue };
                    let Some(name) = &field.name else {
                        // an anonymous struct or union member keeps its place in the layout
                        lowered.push(ir::FieldDef { name: format!("__anonymous{}", lowered.len()), ty });
                        continue;
                    };
                    if let Some(first) = seen.insert(&name.node, name.span) {
                        self.duplicate("field", &name.node, name.span, first);
                        continue;
                    }
                    lowered.push(ir::FieldDef { name: name.node.clone(), ty });
                }
                match self.spec.types[id.index()].kind {
                    TypeDefKind::Union { .. } => TypeDefKind::Union { fields: Some(lowered) },
                    _ => TypeDefKind::Struct { fields: Some(lowered) },
                }
            }
            TagBody::Enumerators(enumerators) => {
                let mut variants = Vec::new();
                for e in enumerators {
                    if let Some(GlobalValue::Constant(cid)) = self.globals.get(&e.name.node).map(|d| d.id) {
                        if let Some(ConstValue::Int(v)) = self.constant_value(cid) {
                            variants.push((e.name.node.clone(), v));
                        }
                    }
                }
                TypeDefKind::Enum { variants }
            }
        };
        self.spec.types[id.index()].kind = kind;
    }

    /// Lowers a type, reporting unknown names. `None` means an error was reported.
    pub(crate) fn lower_type(&mut self, ty: &TypeExpr) -> Option<Type> {
        Some(match &ty.kind {
            TypeExprKind::Builtin(b) => Type::Builtin(*b),
            TypeExprKind::Named(name) => match self.type_names.get(name) {
                Some(declared) => Type::Named(declared.id),
                None => {
                    let names: Vec<&str> = self.type_names.keys().map(String::as_str).filter(|n| !n.contains(' ')).collect();
                    let mut d = Diagnostic::error(Code::UnknownType, format!("unknown type `{name}`"))
                        .with_primary(ty.span, "not declared in this spec");
                    if let Some(best) = diagnostic::suggest(name, names) {
                        d = d.with_help(format!("did you mean `{best}`?")).with_fix(ty.span, best, format!("use `{best}`"));
                    } else {
                        d = d.with_help("declare it with `typedef`, or lift it from the header with `cava init`");
                    }
                    self.report(d);
                    return None;
                }
            },
            TypeExprKind::Tag { kind, name, body } => {
                let id = match name {
                    Some(name) => self.tag_id(*kind, name, ty.span),
                    None => {
                        let n = self.spec.types.len();
                        self.new_type(format!("{} __anonymous{n}", kind.keyword()), Self::empty_tag(*kind))
                    }
                };
                if let Some(body) = body {
                    self.define_tag(id, body);
                }
                Type::Named(id)
            }
            TypeExprKind::Const(inner) => self.lower_type(inner)?,
            TypeExprKind::Pointer(inner) => {
                let pointee_const = matches!(inner.kind, TypeExprKind::Const(_));
                Type::Pointer { pointee: Box::new(self.lower_type(inner)?), pointee_const }
            }
            TypeExprKind::Array { element, len } => {
                let element = self.lower_type(element)?;
                let len = match len {
                    None => 0,
                    Some(expr) => {
                        let value = self.const_int(expr)?;
                        if !(0..=u32::MAX as i128).contains(&value) {
                            self.report(
                                Diagnostic::error(Code::TypeMismatch, format!("array length {value} is out of range"))
                                    .with_primary(expr.span, "must be between 0 and 4294967295"),
                            );
                            return None;
                        }
                        value as u64
                    }
                };
                Type::Array { element: Box::new(element), len }
            }
            TypeExprKind::Function { ret, params, variadic } => {
                let ret = self.lower_type(ret)?;
                let mut lowered = Vec::new();
                for p in params {
                    lowered.push(decay_parameter(self.lower_type(&p.ty)?));
                }
                Type::Function(Box::new(ir::Signature { ret, params: lowered, variadic: *variadic }))
            }
        })
    }

    /// What `ty` is after following typedefs.
    pub(crate) fn shape(&self, ty: &Type) -> Shape {
        match self.spec.resolve(ty) {
            Type::Builtin(BuiltinType::Void) => Shape::Void,
            Type::Builtin(BuiltinType::Float | BuiltinType::Double | BuiltinType::LongDouble) => Shape::Float,
            Type::Builtin(_) => Shape::Integer,
            Type::Pointer { pointee, pointee_const } => Shape::Pointer { pointee: (**pointee).clone(), pointee_const: *pointee_const },
            Type::Array { element, .. } => Shape::Array { element: (**element).clone() },
            Type::Function(_) => Shape::Function,
            Type::Named(id) => match &self.spec.types[id.index()].kind {
                TypeDefKind::Enum { .. } => Shape::Integer,
                TypeDefKind::Struct { fields } | TypeDefKind::Union { fields } => Shape::Record { id: *id, incomplete: fields.is_none() },
                TypeDefKind::Typedef(_) => Shape::Integer,
            },
        }
    }

    /// True for a pointer to an incomplete struct or union: an API object.
    pub(crate) fn is_object_pointer(&self, ty: &Type) -> bool {
        match self.shape(ty) {
            Shape::Pointer { pointee, .. } => matches!(self.shape(&pointee), Shape::Record { incomplete: true, .. }),
            _ => false,
        }
    }

    pub(crate) fn category(&self, ty: &Type) -> Option<Category> {
        Some(match self.shape(ty) {
            Shape::Integer => Category::Integer,
            Shape::Float => Category::Float,
            Shape::Record { incomplete: false, .. } => Category::Struct,
            Shape::Pointer { pointee, pointee_const } => match self.shape(&pointee) {
                Shape::Function => Category::FunctionPointer,
                Shape::Record { incomplete: true, .. } => return None,
                _ if pointee_const && self.spec.resolve(&pointee) == &Type::Builtin(BuiltinType::Char) => Category::String,
                _ if pointee_const => Category::ConstPointer,
                _ => Category::Pointer,
            },
            _ => return None,
        })
    }

    /// The chain of names a type goes by: `cl_mem`, then what it is a typedef of, ...
    pub(crate) fn type_chain(&self, ty: &Type) -> Vec<Type> {
        let mut chain = vec![ty.clone()];
        let mut current = ty.clone();
        for _ in 0..64 {
            match current {
                Type::Named(id) => match &self.spec.types[id.index()].kind {
                    TypeDefKind::Typedef(inner) => {
                        chain.push(inner.clone());
                        current = inner.clone();
                    }
                    _ => break,
                },
                _ => break,
            }
        }
        chain
    }

    /// How a type is written, for messages.
    pub(crate) fn type_name(&self, ty: &Type) -> String {
        self.c_declarator(ty, false, String::new()).trim_end().to_string()
    }

    /// C's inside-out declarator syntax: `ty` declared around `inner` (the
    /// part already written), e.g. `void (*)(int)` or `const char **`.
    fn c_declarator(&self, ty: &Type, is_const: bool, inner: String) -> String {
        let qualifier = if is_const { "const " } else { "" };
        let space = if inner.is_empty() { "" } else { " " };
        match ty {
            Type::Builtin(b) => format!("{qualifier}{}{space}{inner}", b.c_name()),
            Type::Named(id) => format!("{qualifier}{}{space}{inner}", self.spec.types[id.index()].name),
            Type::Pointer { pointee, pointee_const } => {
                let star = format!("*{inner}");
                let wrapped = if matches!(**pointee, Type::Array { .. } | Type::Function(_)) { format!("({star})") } else { star };
                self.c_declarator(pointee, *pointee_const, wrapped)
            }
            Type::Array { element, len } => self.c_declarator(element, is_const, format!("{inner}[{len}]")),
            Type::Function(sig) => {
                let mut params: Vec<String> = sig.params.iter().map(|p| self.type_name(p)).collect();
                if sig.variadic {
                    params.push("...".into());
                }
                let params = if params.is_empty() { "void".to_string() } else { params.join(", ") };
                self.c_declarator(&sig.ret, false, format!("{inner}({params})"))
            }
        }
    }

    fn collect_constant_names(&mut self, file: &SourceFile) {
        let register = |this: &mut Checker, name: &ast::Ident, ty: Type, state: ConstState| {
            if let Some(first) = this.globals.get(&name.node) {
                let first = first.span;
                this.duplicate("constant", &name.node, name.span, first);
                return None;
            }
            let id = ir::ConstantId(this.spec.constants.len() as u32);
            this.spec.constants.push(ir::Constant { name: name.node.clone(), ty, value: ConstValue::Int(0) });
            this.const_states.push(state);
            this.globals.insert(name.node.clone(), Declared { id: GlobalValue::Constant(id), span: name.span });
            Some(id)
        };
        let mut enum_bodies: Vec<(Type, Vec<ast::Enumerator>)> = Vec::new();
        for item in &file.items {
            match &item.kind {
                ItemKind::TagDefinition(def) if def.kind == TagKind::Enum => {
                    if let (TagBody::Enumerators(list), Some(d)) =
                        (&def.body, self.type_names.get(&Self::tag_key(TagKind::Enum, &def.name.node)))
                    {
                        enum_bodies.push((Type::Named(d.id), list.clone()));
                    }
                }
                ItemKind::Typedef(decl) => {
                    if let TypeExprKind::Tag { kind: TagKind::Enum, body: Some(body), .. } = &decl.ty.kind {
                        if let TagBody::Enumerators(list) = &**body {
                            let ty = decl.name.as_ref().and_then(|n| self.type_names.get(&n.node)).map(|d| Type::Named(d.id));
                            enum_bodies.push((ty.unwrap_or(Type::Builtin(BuiltinType::Int)), list.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        for (ty, list) in enum_bodies {
            let mut previous = None;
            for e in list {
                let state = ConstState::Pending { expr: e.value.clone(), previous, span: e.name.span };
                previous = register(self, &e.name, ty.clone(), state).or(previous);
            }
        }
        for item in &file.items {
            if let ItemKind::Constant(c) = &item.kind {
                let Some(name) = &c.decl.name else { continue };
                let state = ConstState::Pending { expr: Some(c.value.clone()), previous: None, span: name.span };
                // the type is lowered after all type names are known
                register(self, name, Type::Builtin(BuiltinType::Int), state);
            }
        }
    }

    /// Lowers the declared types of `const` items and evaluates every constant.
    pub(super) fn resolve_constants(&mut self, file: &SourceFile) {
        for item in &file.items {
            if let ItemKind::Constant(c) = &item.kind {
                let Some(name) = &c.decl.name else { continue };
                let Some(Declared { id: GlobalValue::Constant(id), span }) = self.globals.get(&name.node).copied() else {
                    continue;
                };
                if span != name.span {
                    continue;
                }
                if let Some(ty) = self.lower_type(&c.decl.ty) {
                    self.spec.constants[id.index()].ty = ty;
                    self.check_constant_type(id, &c.value);
                }
            }
        }
        for i in 0..self.spec.constants.len() {
            self.constant_value(ir::ConstantId(i as u32));
        }
    }

    /// A constant's value must fit its declared type's kind.
    fn check_constant_type(&mut self, id: ir::ConstantId, value_expr: &ast::Expr) {
        let Some(value) = self.constant_value(id) else { return };
        let ty = self.spec.constants[id.index()].ty.clone();
        let ok = matches!(
            (self.shape(&ty), &value),
            (Shape::Integer, ConstValue::Int(_))
                | (Shape::Float, ConstValue::Int(_) | ConstValue::Float(_))
                | (Shape::Pointer { .. }, ConstValue::Str(_))
        );
        if !ok {
            let what = match value {
                ConstValue::Int(_) => "an integer",
                ConstValue::Float(_) => "a floating-point number",
                ConstValue::Str(_) => "a string",
            };
            let name = self.type_name(&ty);
            self.report(
                Diagnostic::error(Code::TypeMismatch, format!("mismatched types: a `{name}` constant cannot hold {what}"))
                    .with_primary(value_expr.span, format!("this is {what}")),
            );
        }
    }

    /// The value of a constant, evaluating it on first use.
    pub(crate) fn constant_value(&mut self, id: ir::ConstantId) -> Option<ConstValue> {
        match std::mem::replace(&mut self.const_states[id.index()], ConstState::InProgress) {
            ConstState::Done => {
                self.const_states[id.index()] = ConstState::Done;
                Some(self.spec.constants[id.index()].value.clone())
            }
            ConstState::Failed => {
                self.const_states[id.index()] = ConstState::Failed;
                None
            }
            ConstState::InProgress => {
                self.const_states[id.index()] = ConstState::Failed;
                None
            }
            ConstState::Pending { expr, previous, span } => {
                let value = match (&expr, previous) {
                    (Some(expr), _) => self.const_value(expr),
                    (None, Some(prev)) => match self.constant_value(prev) {
                        Some(ConstValue::Int(v)) => Some(ConstValue::Int(v + 1)),
                        _ => None,
                    },
                    (None, None) => Some(ConstValue::Int(0)),
                };
                if matches!(self.const_states[id.index()], ConstState::Failed) && value.is_none() {
                    let name = self.spec.constants[id.index()].name.clone();
                    self.report(
                        Diagnostic::error(Code::NotConstant, format!("constant `{name}` depends on itself"))
                            .with_primary(span, "its value refers back to it"),
                    );
                }
                match value {
                    Some(value) => {
                        self.spec.constants[id.index()].value = value.clone();
                        self.const_states[id.index()] = ConstState::Done;
                        Some(value)
                    }
                    None => {
                        self.const_states[id.index()] = ConstState::Failed;
                        None
                    }
                }
            }
        }
    }

    /// Evaluates an expression that must be a compile-time constant.
    pub(crate) fn const_value(&mut self, expr: &ast::Expr) -> Option<ConstValue> {
        self.const_value_in(expr, &super::exprs::Env::constant())
    }

    /// Like `const_value`, where `env` names the arguments that are in scope
    /// but not constant (so that naming one says "not a constant").
    pub(crate) fn const_value_in(&mut self, expr: &ast::Expr, env: &super::exprs::Env) -> Option<ConstValue> {
        let env = super::exprs::Env { runtime: false, ..env.clone() };
        let resolved = self.resolve_expr(expr, &env)?;
        match eval(&resolved, self) {
            Some(v) => Some(v),
            None => {
                self.report(
                    Diagnostic::error(Code::NotConstant, "expected a constant value")
                        .with_primary(expr.span, "this is only known when the program runs")
                        .with_help("use numbers, constants, enum values and operators on them"),
                );
                None
            }
        }
    }

    /// Evaluates an integer constant (array lengths, status values).
    pub(crate) fn const_int(&mut self, expr: &ast::Expr) -> Option<i128> {
        self.const_int_in(expr, &super::exprs::Env::constant())
    }

    pub(crate) fn const_int_in(&mut self, expr: &ast::Expr, env: &super::exprs::Env) -> Option<i128> {
        match self.const_value_in(expr, env)? {
            ConstValue::Int(v) => Some(v),
            _ => {
                self.report(
                    Diagnostic::error(Code::TypeMismatch, "expected an integer constant").with_primary(expr.span, "not an integer"),
                );
                None
            }
        }
    }
}

/// A parameter's type as C sees it: a function is a pointer to it, and an
/// array of unknown length is a pointer to its elements.
pub(crate) fn decay_parameter(ty: Type) -> Type {
    match ty {
        Type::Function(sig) => Type::Pointer { pointee: Box::new(Type::Function(sig)), pointee_const: false },
        Type::Array { element, len: 0 } => Type::Pointer { pointee: element, pointee_const: false },
        other => other,
    }
}

/// Evaluates a resolved expression at compile time, if it is constant.
pub(crate) fn eval(expr: &ir::Expr, checker: &Checker) -> Option<ConstValue> {
    use crate::ir::{BinaryOp::*, ExprKind, UnaryOp};
    let int = |e: &ir::Expr| match eval(e, checker)? {
        ConstValue::Int(v) => Some(v),
        _ => None,
    };
    Some(match &expr.kind {
        ExprKind::Int(v) => ConstValue::Int(*v),
        ExprKind::Float(v) => ConstValue::Float(*v),
        ExprKind::Str(s) => ConstValue::Str(s.clone()),
        ExprKind::Constant(id) => match checker.const_states.get(id.index()) {
            Some(ConstState::Done) => checker.spec.constants[id.index()].value.clone(),
            _ => return None,
        },
        ExprKind::Unary(op, inner) => {
            let v = int(inner)?;
            ConstValue::Int(match op {
                UnaryOp::Neg => v.checked_neg()?,
                UnaryOp::Not => i128::from(v == 0),
                UnaryOp::BitNot => !v,
                UnaryOp::Deref | UnaryOp::AddrOf => return None,
            })
        }
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (int(a)?, int(b)?);
            ConstValue::Int(match op {
                Mul => a.checked_mul(b)?,
                Div => a.checked_div(b)?,
                Rem => a.checked_rem(b)?,
                Add => a.checked_add(b)?,
                Sub => a.checked_sub(b)?,
                Shl => a.checked_shl(u32::try_from(b).ok()?)?,
                Shr => a.checked_shr(u32::try_from(b).ok()?)?,
                Lt => i128::from(a < b),
                Le => i128::from(a <= b),
                Gt => i128::from(a > b),
                Ge => i128::from(a >= b),
                Eq => i128::from(a == b),
                Ne => i128::from(a != b),
                BitAnd => a & b,
                BitXor => a ^ b,
                BitOr => a | b,
                And => i128::from(a != 0 && b != 0),
                Or => i128::from(a != 0 || b != 0),
            })
        }
        ExprKind::Ternary(c, a, b) => {
            if int(c)? != 0 {
                eval(a, checker)?
            } else {
                eval(b, checker)?
            }
        }
        ExprKind::SizeOf(ty) => ConstValue::Int(size_of(checker, ty)? as i128),
        ExprKind::Library(f @ (crate::ir::LibraryFn::Min | crate::ir::LibraryFn::Max), args) => {
            let (a, b) = (int(&args[0])?, int(&args[1])?);
            ConstValue::Int(if *f == crate::ir::LibraryFn::Min { a.min(b) } else { a.max(b) })
        }
        _ => return None,
    })
}

/// The size of a type on x86-64 Linux, where it is known without the header's layout rules.
fn size_of(checker: &Checker, ty: &Type) -> Option<u64> {
    use BuiltinType::*;
    Some(match checker.spec.resolve(ty) {
        Type::Builtin(b) => match b {
            Void => return None,
            Bool | Char | SignedChar | UnsignedChar | Int8 | Uint8 => 1,
            Short | UnsignedShort | Int16 | Uint16 => 2,
            Int | UnsignedInt | Int32 | Uint32 | Float => 4,
            LongDouble => 16,
            _ => 8,
        },
        Type::Pointer { .. } | Type::Function(_) => 8,
        Type::Array { element, len } => size_of(checker, element)?.checked_mul(*len)?,
        Type::Named(id) => match &checker.spec.types[id.index()].kind {
            crate::ir::TypeDefKind::Enum { .. } => 4,
            _ => return None,
        },
    })
}
