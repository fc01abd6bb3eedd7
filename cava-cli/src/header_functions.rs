//! The functions an API's headers declare that its spec leaves out. The
//! guest library exports them too (failing without forwarding), so that a
//! program linked against one of them still loads and runs as far as it
//! can, as it would against an older vendor library.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cava_codegen::{AbiType, MissingFunction};
use cava_init::model::{CType, Header};
use cava_init::read::{read_header, ReadOptions};
use lapis_parser::ir::{Spec, Type};

/// Where a header named in the spec's `headers` list is: next to the spec,
/// in an `-I` folder, or in the system include folders.
pub fn locate(spec_path: &Path, name: &str, include_dirs: &[PathBuf]) -> Option<PathBuf> {
    let spec_dir = spec_path.parent().unwrap_or(Path::new("."));
    std::iter::once(spec_dir.to_path_buf())
        .chain(include_dirs.iter().cloned())
        .chain(["/usr/local/include", "/usr/include"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The functions of the spec's headers that the spec does not describe.
pub fn missing_functions(spec_path: &Path, spec: &Spec, include_dirs: &[PathBuf]) -> Result<Vec<MissingFunction>> {
    let mut missing = Vec::new();
    let described: std::collections::HashSet<&str> = spec.functions.iter().map(|f| f.name.as_str()).collect();
    let error_type = match &spec.api.error_type {
        Type::Named(id) => Some(spec.type_def(*id).name.as_str()),
        _ => None,
    };
    for name in &spec.api.headers {
        let Some(path) = locate(spec_path, name, include_dirs) else {
            // a spec can be built where its header is not installed: only the
            // functions it leaves out are lost, so say so and go on
            eprintln!(
                "warning: header `{name}` (the spec's `headers`) not found next to the spec, in an -I folder or in /usr/include: \
                 the guest exports only the spec's functions (pass its folder with -I)"
            );
            continue;
        };
        let mut options = ReadOptions::default();
        options.include_dirs.extend(include_dirs.iter().cloned());
        if let Some(dir) = path.parent() {
            options.include_dirs.push(dir.to_path_buf());
        }
        let header = read_header(&path, &options).with_context(|| {
            format!(
                "cannot read header {} (pass include folders with -I, or --no-header to export only the spec's functions)",
                path.display()
            )
        })?;
        let abi = Abi::new(&header);
        for f in header.functions.iter().filter(|f| f.in_main_file && !described.contains(f.name.as_str())) {
            if missing.iter().any(|m: &MissingFunction| m.name == f.name) {
                continue;
            }
            let params: Option<Vec<AbiType>> = f.signature.params.iter().map(|p| abi.of(&p.ty)).collect();
            let (Some(params), Some(ret)) = (params, abi.of(&f.signature.ret)) else {
                eprintln!("note: `{}` passes a struct by value; the guest does not export it", f.name);
                continue;
            };
            let returns_error = matches!(&f.signature.ret, CType::Typedef(t) if Some(t.as_str()) == error_type);
            missing.push(MissingFunction { name: f.name.clone(), params, ret, returns_error });
        }
    }
    Ok(missing)
}

/// Reduces header types to how they are passed.
struct Abi<'h> {
    typedefs: HashMap<&'h str, &'h CType>,
}

impl<'h> Abi<'h> {
    fn new(header: &'h Header) -> Abi<'h> {
        Abi { typedefs: header.typedefs.iter().map(|t| (t.name.as_str(), &t.target)).collect() }
    }

    /// `None` for a struct or union passed by value.
    fn of(&self, ty: &CType) -> Option<AbiType> {
        self.resolve(ty, 0)
    }

    fn resolve(&self, ty: &CType, depth: usize) -> Option<AbiType> {
        Some(match ty {
            CType::Void => AbiType::Void,
            CType::Builtin(name) => builtin(name)?,
            CType::Typedef(name) if depth < 32 => match self.typedefs.get(name.as_str()) {
                Some(target) => self.resolve(target, depth + 1)?,
                None => standard(name)?,
            },
            CType::Typedef(_) => return None,
            CType::Enum { .. } => AbiType::Int { size: 4, signed: true },
            CType::Pointer { .. } | CType::Array { .. } | CType::Function(_) => AbiType::Pointer,
            CType::Record { .. } => return None,
        })
    }
}

/// C's builtin types on LP64 Linux.
fn builtin(name: &str) -> Option<AbiType> {
    let int = |size, signed| Some(AbiType::Int { size, signed });
    match name {
        "_Bool" | "bool" | "unsigned char" => int(1, false),
        "char" | "signed char" => int(1, true),
        "short" | "signed short" => int(2, true),
        "unsigned short" => int(2, false),
        "int" | "signed int" => int(4, true),
        "unsigned int" => int(4, false),
        "long" | "long long" | "signed long" | "signed long long" => int(8, true),
        "unsigned long" | "unsigned long long" => int(8, false),
        "float" => Some(AbiType::Float { size: 4 }),
        "double" => Some(AbiType::Float { size: 8 }),
        _ => None,
    }
}

/// Standard typedefs when the header's typedef list lacks them.
fn standard(name: &str) -> Option<AbiType> {
    let int = |size, signed| Some(AbiType::Int { size, signed });
    match name {
        "size_t" | "uintptr_t" | "uint64_t" => int(8, false),
        "ssize_t" | "ptrdiff_t" | "intptr_t" | "int64_t" => int(8, true),
        "uint32_t" => int(4, false),
        "int32_t" => int(4, true),
        "uint16_t" => int(2, false),
        "int16_t" => int(2, true),
        "uint8_t" => int(1, false),
        "int8_t" => int(1, true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_reduce_to_how_they_are_passed() {
        let header = Header {
            typedefs: vec![cava_init::model::Typedef {
                name: "cl_int".into(),
                target: CType::Typedef("int32_t".into()),
                location: Default::default(),
                in_system_header: false,
            }],
            ..Header::default()
        };
        let abi = Abi::new(&header);
        assert_eq!(abi.of(&CType::Typedef("cl_int".into())), Some(AbiType::Int { size: 4, signed: true }));
        assert_eq!(abi.of(&CType::Builtin("unsigned long".into())), Some(AbiType::Int { size: 8, signed: false }));
        assert_eq!(abi.of(&CType::Pointer { pointee: Box::new(CType::Void), pointee_const: true }), Some(AbiType::Pointer));
        assert_eq!(abi.of(&CType::Record { kind: cava_init::model::RecordKind::Struct, name: Some("s".into()), fields: None }), None);
        assert_eq!(abi.of(&CType::Builtin("long double".into())), None, "not guessed");
    }
}
