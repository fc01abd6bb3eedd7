//! Questions about C types that inference asks: what a typedef stands for,
//! whether a pointer is an API object, how to write a declaration.

use std::collections::HashMap;

use crate::model::{CType, Header, Param, RecordKind};

/// Typedef names LAPIS knows without a declaration.
pub const LAPIS_BUILTIN_TYPEDEFS: &[&str] = &[
    "int8_t",
    "int16_t",
    "int32_t",
    "int64_t",
    "uint8_t",
    "uint16_t",
    "uint32_t",
    "uint64_t",
    "size_t",
    "ssize_t",
    "intptr_t",
    "uintptr_t",
    "ptrdiff_t",
    "bool",
];

/// Typedefs and records of one header, for resolving names.
#[derive(Debug)]
pub struct Types<'h> {
    typedefs: HashMap<&'h str, &'h CType>,
    complete_records: HashMap<&'h str, bool>,
}

/// What a type is once typedefs are followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Void,
    Integer,
    Float,
    /// A pointer to an incomplete struct or union: an API object.
    Handle,
    Pointer,
    Array,
    Record,
    Function,
}

impl<'h> Types<'h> {
    pub fn new(header: &'h Header) -> Types<'h> {
        Types {
            typedefs: header.typedefs.iter().map(|t| (t.name.as_str(), &t.target)).collect(),
            complete_records: header.records.iter().map(|r| (r.name.as_str(), r.fields.is_some())).collect(),
        }
    }

    /// Follows typedefs (at most 64, against cycles).
    pub fn resolve<'a>(&'a self, mut ty: &'a CType) -> &'a CType {
        for _ in 0..64 {
            match ty {
                CType::Typedef(name) if !LAPIS_BUILTIN_TYPEDEFS.contains(&name.as_str()) => match self.typedefs.get(name.as_str()) {
                    Some(target) => ty = target,
                    None => return ty,
                },
                _ => return ty,
            }
        }
        ty
    }

    fn record_is_complete(&self, name: &Option<String>, inline_fields: bool) -> bool {
        inline_fields || name.as_deref().and_then(|n| self.complete_records.get(n)).copied().unwrap_or(false)
    }

    pub fn kind(&self, ty: &CType) -> Kind {
        match self.resolve(ty) {
            CType::Void => Kind::Void,
            CType::Builtin(name) if name.contains("float") || name.contains("double") => Kind::Float,
            CType::Builtin(_) | CType::Enum { .. } | CType::Typedef(_) => Kind::Integer,
            CType::Record { name, fields, .. } => {
                if self.record_is_complete(name, fields.is_some()) {
                    Kind::Record
                } else {
                    Kind::Void
                }
            }
            CType::Pointer { pointee, .. } => match self.resolve(pointee) {
                CType::Record { name, fields, .. } if !self.record_is_complete(name, fields.is_some()) => Kind::Handle,
                _ => Kind::Pointer,
            },
            // `T a[]` is a pointer of unknown length, as a parameter
            CType::Array { len: None, element } => match self.resolve(element) {
                CType::Record { name, fields, .. } if !self.record_is_complete(name, fields.is_some()) => Kind::Handle,
                _ => Kind::Pointer,
            },
            CType::Array { .. } => Kind::Array,
            CType::Function(_) => Kind::Function,
        }
    }

    /// The pointee of a pointer (after typedefs), with its constness.
    pub fn pointee<'a>(&'a self, ty: &'a CType) -> Option<(&'a CType, bool)> {
        match self.resolve(ty) {
            CType::Pointer { pointee, pointee_const } => Some((pointee, *pointee_const)),
            CType::Array { element, len: None } => Some((element, false)),
            _ => None,
        }
    }

    pub fn is_function_pointer(&self, ty: &CType) -> bool {
        self.pointee(ty).is_some_and(|(p, _)| matches!(self.resolve(p), CType::Function(_)))
    }

    pub fn is_void_pointer(&self, ty: &CType) -> bool {
        self.pointee(ty).is_some_and(|(p, _)| matches!(self.resolve(p), CType::Void))
    }

    /// `va_list` (a compiler builtin behind a typedef).
    pub fn is_va_list(&self, ty: &CType) -> bool {
        matches!(ty, CType::Typedef(n) if n == "va_list" || n == "__gnuc_va_list")
            || matches!(self.resolve(ty), CType::Builtin(b) if b.contains("va_list"))
    }

    /// `const char *` (or a typedef of it).
    pub fn is_string(&self, ty: &CType) -> bool {
        self.pointee(ty).is_some_and(|(p, is_const)| is_const && matches!(self.resolve(p), CType::Builtin(b) if b == "char"))
    }

    /// The size in bytes of scalar types whose size is obvious (for "does
    /// this count bytes or elements" questions); `None` when not obvious.
    pub fn is_byte_sized(&self, ty: &CType) -> bool {
        match self.resolve(ty) {
            CType::Void => true,
            CType::Builtin(b) => b.contains("char") || b == "_Bool",
            CType::Typedef(t) => t == "int8_t" || t == "uint8_t",
            _ => false,
        }
    }
}

/// C's declarator syntax: `ty` declared with `name` (which may be empty).
pub fn declare(ty: &CType, name: &str) -> String {
    declarator(ty, false, name.to_string()).trim().to_string()
}

fn declarator(ty: &CType, is_const: bool, inner: String) -> String {
    let qualifier = if is_const { "const " } else { "" };
    let space = if inner.is_empty() || inner.starts_with('[') || inner.starts_with('(') && !inner.starts_with("(*") { "" } else { " " };
    let base = |word: String| format!("{qualifier}{word}{space}{inner}");
    match ty {
        CType::Void => base("void".into()),
        CType::Builtin(b) => base(b.clone()),
        CType::Typedef(t) => base(t.clone()),
        CType::Record { kind, name, fields } => {
            let keyword = match kind {
                RecordKind::Struct => "struct",
                RecordKind::Union => "union",
            };
            match (name, fields) {
                (Some(n), _) => base(format!("{keyword} {n}")),
                (None, Some(fields)) => {
                    let body: Vec<String> = fields.iter().map(|f| format!("{};", declare(&f.ty, &f.name))).collect();
                    base(format!("{keyword} {{ {} }}", body.join(" ")))
                }
                (None, None) => base(format!("{keyword} {{ }}")),
            }
        }
        CType::Enum { name, variants } => match (name, variants) {
            (Some(n), _) => base(format!("enum {n}")),
            (None, Some(vs)) => {
                let body: Vec<String> = vs.iter().map(|(n, v)| format!("{n} = {v}")).collect();
                base(format!("enum {{ {} }}", body.join(", ")))
            }
            (None, None) => base("int".into()),
        },
        CType::Pointer { pointee, pointee_const } => {
            let star = format!("*{inner}");
            let wrapped = if matches!(**pointee, CType::Array { .. } | CType::Function(_)) { format!("({star})") } else { star };
            declarator(pointee, *pointee_const, wrapped)
        }
        CType::Array { element, len } => {
            let len = len.map(|n| n.to_string()).unwrap_or_default();
            declarator(element, is_const, format!("{inner}[{len}]"))
        }
        CType::Function(sig) => {
            let mut params: Vec<String> = sig.params.iter().map(|p| declare(&p.ty, p.name.as_deref().unwrap_or(""))).collect();
            if sig.variadic {
                params.push("...".into());
            }
            let params = if params.is_empty() { "void".to_string() } else { params.join(", ") };
            declarator(&sig.ret, false, format!("{inner}({params})"))
        }
    }
}

/// Parameter names, inventing `argN` for unnamed ones (descriptors need names).
pub fn param_names(params: &[Param]) -> Vec<String> {
    params.iter().enumerate().map(|(i, p)| p.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("arg{i}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Signature;

    fn ptr(t: CType, c: bool) -> CType {
        CType::Pointer { pointee: Box::new(t), pointee_const: c }
    }

    #[test]
    fn declarators() {
        let int = CType::Builtin("int".into());
        assert_eq!(declare(&ptr(CType::Builtin("char".into()), true), "name"), "const char *name");
        assert_eq!(declare(&ptr(ptr(int.clone(), false), false), "p"), "int **p");
        let f =
            CType::Function(Box::new(Signature { ret: CType::Void, params: vec![Param { name: None, ty: int.clone() }], variadic: false }));
        assert_eq!(declare(&ptr(f, false), "cb"), "void (*cb)(int)");
        assert_eq!(declare(&CType::Array { element: Box::new(int), len: Some(3) }, "a"), "int a[3]");
    }
}
