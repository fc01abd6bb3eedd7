//! The `api` block: what the generated libraries are called and how the
//! API reports success and failure.

use super::Checker;
use crate::ast::{ApiBlock, ApiValue, ExprKind, SourceFile};
use crate::diagnostic::{self, Code, Diagnostic};
use crate::ir::{Api, BuiltinType, ConstValue, Type};
use crate::span::Span;

/// The settings an `api` block may have (also offered by `cava lsp` completion).
pub const KEYS: &[&str] = &["version", "headers", "soname", "library", "error_type", "success", "failure", "invalid_handle", "resolver"];
const REQUIRED: &[&str] = &["version", "headers", "soname", "library", "error_type", "success", "failure"];

pub(super) fn placeholder() -> Api {
    Api {
        name: String::new(),
        version: String::new(),
        headers: Vec::new(),
        soname: String::new(),
        library: String::new(),
        error_type: Type::Builtin(BuiltinType::Int),
        success: 0,
        failure: -1,
        invalid_handle: -1,
        resolver: None,
    }
}

const EXAMPLE: &str = "api opencl {\n    version = \"3.0\";\n    headers = [\"CL/cl.h\"];\n    soname = \"libOpenCL.so.1\";\n    library = \"libOpenCL.so.1\";\n    error_type = cl_int;\n    success = CL_SUCCESS;\n    failure = CL_OUT_OF_HOST_MEMORY;\n}";

impl Checker {
    pub(super) fn check_api(&mut self, api: Option<&ApiBlock>, file: &SourceFile) {
        let Some(block) = api else {
            self.report(
                Diagnostic::error(Code::ApiBlock, "the spec has no `api` block")
                    .with_primary(Span::new(0, 0), "expected `api NAME { ... }` at the top of the spec")
                    .with_help(format!("start the spec with, for example:\n{EXAMPLE}")),
            );
            return;
        };
        for item in &file.items {
            if let crate::ast::ItemKind::Api(other) = &item.kind {
                if !std::ptr::eq(other, block) {
                    self.duplicate("api block", &other.name.node, other.name.span, block.name.span);
                }
            }
        }
        self.spec.api.name = block.name.node.clone();
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let mut invalid_handle = None;
        // keys offered as "did you mean" are not also reported missing
        let mut suggested: Vec<&str> = Vec::new();
        for entry in &block.entries {
            let key = entry.key.node.as_str();
            if !KEYS.contains(&key) {
                let mut d = Diagnostic::error(Code::ApiBlock, format!("unknown `api` setting `{key}`"))
                    .with_primary(entry.key.span, "not a setting");
                if let Some(best) = diagnostic::suggest(key, KEYS.iter().copied()) {
                    suggested.push(best);
                    d = d.with_help(format!("did you mean `{best}`?")).with_fix(entry.key.span, best, format!("use `{best}`"));
                } else {
                    d = d.with_help(format!("the settings are: {}", KEYS.join(", ")));
                }
                self.report(d);
                continue;
            }
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                let first = *first;
                self.duplicate("setting", key, entry.key.span, first);
                continue;
            }
            seen.push((KEYS.iter().copied().find(|k| *k == key).unwrap_or("version"), entry.key.span));
            let value = match &entry.value {
                ApiValue::Todo(reason) => {
                    self.report(
                        Diagnostic::error(Code::TodoLeft, format!("`todo` left in the spec: {}", reason.node))
                            .with_primary(entry.span, "a person must decide this")
                            .with_help(format!("replace the `todo` with the value of `{key}`")),
                    );
                    continue;
                }
                ApiValue::List(items) if key == "headers" => {
                    let mut headers = Vec::new();
                    for item in items {
                        if let Some(s) = self.string_value(item) {
                            headers.push(s);
                        }
                    }
                    self.spec.api.headers = headers;
                    continue;
                }
                ApiValue::List(items) => {
                    let span = items.first().map_or(entry.span, |e| e.span);
                    self.report(
                        Diagnostic::error(Code::TypeMismatch, format!("`{key}` takes one value, not a list")).with_primary(span, "a list"),
                    );
                    continue;
                }
                ApiValue::Expr(e) => e,
            };
            match key {
                "version" | "soname" | "library" | "headers" => {
                    let Some(s) = self.string_value(value) else { continue };
                    match key {
                        "version" => self.spec.api.version = s,
                        "soname" => self.spec.api.soname = s,
                        "library" => self.spec.api.library = s,
                        _ => self.spec.api.headers = vec![s],
                    }
                }
                "resolver" => {
                    // checked once every function is known (`check_resolver`)
                    match &value.kind {
                        ExprKind::Name(name) => self.resolver = Some(crate::span::Spanned { node: name.clone(), span: value.span }),
                        _ => self.report(
                            Diagnostic::error(Code::ApiBlock, "`resolver` takes the name of a function")
                                .with_primary(value.span, "not a function name")
                                .with_help("write the vendor's lookup function, as in `resolver = clGetExtensionFunctionAddress;`"),
                        ),
                    }
                }
                "error_type" => {
                    let ExprKind::Name(name) = &value.kind else {
                        self.report(Diagnostic::error(Code::UnknownType, "expected a type name").with_primary(value.span, "not a type"));
                        continue;
                    };
                    // a one-word C type (`int`, `long`) is allowed besides typedef names
                    let builtin = BuiltinType::from_name(name).or(match name.as_str() {
                        "int" => Some(BuiltinType::Int),
                        "long" => Some(BuiltinType::Long),
                        "short" => Some(BuiltinType::Short),
                        "char" => Some(BuiltinType::Char),
                        "unsigned" => Some(BuiltinType::UnsignedInt),
                        _ => None,
                    });
                    let ty = crate::ast::TypeExpr {
                        kind: match builtin {
                            Some(b) => crate::ast::TypeExprKind::Builtin(b),
                            None => crate::ast::TypeExprKind::Named(name.clone()),
                        },
                        span: value.span,
                    };
                    if let Some(ty) = self.lower_type(&ty) {
                        if self.shape(&ty) != super::types::Shape::Integer {
                            self.report(
                                Diagnostic::error(Code::TypeMismatch, "the error type must be an integer or enum type")
                                    .with_primary(value.span, format!("`{}` is not an integer", self.type_name(&ty))),
                            );
                        }
                        self.spec.api.error_type = ty;
                    }
                }
                _ => {
                    let Some(v) = self.const_int(value) else { continue };
                    match key {
                        "success" => self.spec.api.success = v,
                        "failure" => self.spec.api.failure = v,
                        _ => invalid_handle = Some(v),
                    }
                }
            }
        }
        self.spec.api.invalid_handle = invalid_handle.unwrap_or(self.spec.api.failure);
        let missing: Vec<&str> = REQUIRED.iter().copied().filter(|k| !seen.iter().any(|(s, _)| s == k) && !suggested.contains(k)).collect();
        if !missing.is_empty() {
            self.report(
                Diagnostic::error(
                    Code::ApiBlock,
                    format!("the `api` block is missing {}", missing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
                )
                .with_primary(block.name.span, "incomplete")
                .with_help(format!("a complete block looks like:\n{EXAMPLE}")),
            );
        }
    }

    /// `resolver = F;`: `F` is a function of the spec shaped like
    /// `void *F(const char *name)`, since the API server calls the vendor's
    /// `F` with nothing but a name.
    pub(super) fn check_resolver(&mut self) {
        let Some(name) = self.resolver.take() else { return };
        let Some(declared) = self.function_names.get(&name.node).copied() else {
            let names: Vec<&str> = self.function_names.keys().map(String::as_str).collect();
            let mut d = Diagnostic::error(Code::ApiBlock, format!("`{}` is not a function of the spec", name.node))
                .with_primary(name.span, "no function of this name");
            if let Some(best) = diagnostic::suggest(&name.node, names) {
                d = d.with_help(format!("did you mean `{best}`?")).with_fix(name.span, best, format!("use `{best}`"));
            }
            self.report(d);
            return;
        };
        let f = &self.spec.functions[declared.id.index()];
        let string = Type::Pointer { pointee: Box::new(Type::Builtin(BuiltinType::Char)), pointee_const: true };
        let takes_a_name = !f.variadic && f.params.len() == 1 && *self.spec.resolve(&f.params[0].ty) == string;
        let returns_a_pointer = matches!(self.spec.resolve(&f.ret), Type::Pointer { .. });
        if !takes_a_name || !returns_a_pointer || f.variant_of.is_some() {
            let what = if f.variant_of.is_some() { "a variant, not a vendor function" } else { "not `void *F(const char *name)`" };
            self.report(
                Diagnostic::error(Code::ApiBlock, format!("`{}` cannot be the resolver", name.node))
                    .with_primary(name.span, what)
                    .with_secondary(declared.span, format!("`{}` is declared here", name.node))
                    .with_help("the resolver takes a function's name and returns its address, as `clGetExtensionFunctionAddress` does"),
            );
            return;
        }
        self.spec.api.resolver = Some(name.node);
    }

    fn string_value(&mut self, e: &crate::ast::Expr) -> Option<String> {
        match self.const_value(e)? {
            ConstValue::Str(s) => Some(s),
            _ => {
                self.report(Diagnostic::error(Code::TypeMismatch, "expected a string").with_primary(e.span, "not a string"));
                None
            }
        }
    }
}
