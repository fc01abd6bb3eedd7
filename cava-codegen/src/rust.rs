//! How C names and types are spelled in generated Rust.

use std::collections::HashSet;

use lapis_parser::ir::{BuiltinType, Signature, Spec, Type, TypeDefKind, TypeId};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::GenerateError;

/// A Rust identifier for a C name: keywords become raw identifiers (or get a
/// trailing `_` where Rust allows no raw form).
pub fn ident(name: &str) -> Ident {
    let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    let clean = if clean.is_empty() || clean.starts_with(|c: char| c.is_ascii_digit()) { format!("_{clean}") } else { clean };
    match clean.as_str() {
        "self" | "Self" | "super" | "crate" | "_" => format_ident!("{clean}_"),
        _ if syn::parse_str::<Ident>(&clean).is_ok() => Ident::new(&clean, Span::call_site()),
        _ => Ident::new_raw(&clean, Span::call_site()),
    }
}

/// A tag's name without its keyword (`struct foo` → `foo`).
fn tag_name(name: &str) -> &str {
    ["struct ", "union ", "enum "].iter().find_map(|k| name.strip_prefix(k)).unwrap_or(name)
}

/// Names of the spec's types in the generated `types` module. Struct,
/// union and enum tags live in their own namespace in C, so a tag that
/// collides with a typedef (`typedef struct foo foo;`) gets a prefix.
pub struct Names {
    names: Vec<Ident>,
}

impl Names {
    pub fn new(spec: &Spec) -> Names {
        let typedefs: HashSet<&str> =
            spec.types.iter().filter(|t| matches!(t.kind, TypeDefKind::Typedef(_))).map(|t| t.name.as_str()).collect();
        let names = spec
            .types
            .iter()
            .map(|t| {
                let tag = tag_name(&t.name);
                match &t.kind {
                    TypeDefKind::Typedef(_) => ident(&t.name),
                    TypeDefKind::Struct { .. } if typedefs.contains(tag) => format_ident!("struct_{}", ident(tag)),
                    TypeDefKind::Union { .. } if typedefs.contains(tag) => format_ident!("union_{}", ident(tag)),
                    TypeDefKind::Enum { .. } if typedefs.contains(tag) => format_ident!("enum_{}", ident(tag)),
                    _ => ident(tag),
                }
            })
            .collect();
        Names { names }
    }

    pub fn get(&self, id: TypeId) -> &Ident {
        &self.names[id.index()]
    }
}

pub fn builtin(b: BuiltinType) -> Result<TokenStream, GenerateError> {
    use BuiltinType::*;
    Ok(match b {
        Void => quote!(::core::ffi::c_void),
        Bool => quote!(bool),
        Char => quote!(::core::ffi::c_char),
        SignedChar | Int8 => quote!(i8),
        UnsignedChar | Uint8 => quote!(u8),
        Short | Int16 => quote!(i16),
        UnsignedShort | Uint16 => quote!(u16),
        Int | Int32 => quote!(i32),
        UnsignedInt | Uint32 => quote!(u32),
        Long | LongLong | Int64 => quote!(i64),
        UnsignedLong | UnsignedLongLong | Uint64 => quote!(u64),
        Float => quote!(f32),
        Double => quote!(f64),
        LongDouble => return Err(GenerateError::new("`long double` has no Rust equivalent")),
        Size | Uintptr => quote!(usize),
        Ssize | Intptr | Ptrdiff => quote!(isize),
    })
}

/// The Rust type of a C type, as `types::NAME` for the spec's own types.
pub fn ty(spec: &Spec, names: &Names, t: &Type) -> Result<TokenStream, GenerateError> {
    Ok(match t {
        Type::Builtin(b) => builtin(*b)?,
        Type::Pointer { pointee, pointee_const } => {
            if let Type::Function(sig) = spec.resolve(pointee) {
                let f = fn_type(spec, names, sig)?;
                return Ok(quote!(::core::option::Option<#f>));
            }
            let inner = ty(spec, names, pointee)?;
            if *pointee_const {
                quote!(*const #inner)
            } else {
                quote!(*mut #inner)
            }
        }
        Type::Array { element, len } => {
            let inner = ty(spec, names, element)?;
            let len = *len as usize;
            quote!([#inner; #len])
        }
        Type::Named(id) => {
            if let TypeDefKind::Typedef(inner) = &spec.type_def(*id).kind {
                // a typedef of a function type has no Rust spelling of its own
                if matches!(spec.resolve(inner), Type::Function(_)) {
                    return ty(spec, names, inner);
                }
            }
            let name = names.get(*id);
            quote!(types::#name)
        }
        Type::Function(sig) => fn_type(spec, names, sig)?,
    })
}

pub fn fn_type(spec: &Spec, names: &Names, sig: &Signature) -> Result<TokenStream, GenerateError> {
    let params = sig.params.iter().map(|p| ty(spec, names, p)).collect::<Result<Vec<_>, _>>()?;
    let ret = ret(spec, names, &sig.ret)?;
    Ok(quote!(unsafe extern "C" fn(#(#params),*) #ret))
}

/// `-> T`, or nothing for `void`.
pub fn ret(spec: &Spec, names: &Names, t: &Type) -> Result<TokenStream, GenerateError> {
    if matches!(spec.resolve(t), Type::Builtin(BuiltinType::Void)) {
        return Ok(TokenStream::new());
    }
    let t = ty(spec, names, t)?;
    Ok(quote!(-> #t))
}

/// How a value of C type `t` (the Rust expression `value`) becomes a raw
/// 64-bit word.
pub fn to_raw(spec: &Spec, t: &Type, value: TokenStream) -> TokenStream {
    match spec.resolve(t) {
        Type::Builtin(BuiltinType::Float) => quote!(u64::from(#value.to_bits())),
        Type::Builtin(BuiltinType::Double) => quote!(#value.to_bits()),
        Type::Builtin(BuiltinType::Bool) => quote!(u64::from(#value)),
        Type::Pointer { pointee, .. } if matches!(spec.resolve(pointee), Type::Function(_)) => {
            quote!(#value.map_or(0, |f| f as usize as u64))
        }
        Type::Pointer { .. } => quote!(#value as usize as u64),
        Type::Named(id) if matches!(spec.type_def(*id).kind, TypeDefKind::Struct { .. } | TypeDefKind::Union { .. }) => {
            // passed by value: the marshaller reads it at its address
            quote!(::core::ptr::addr_of!(#value) as usize as u64)
        }
        _ => quote!(#value as u64),
    }
}

/// How a raw 64-bit word becomes a value of C type `t` (`rust_ty`).
pub fn from_raw(spec: &Spec, t: &Type, rust_ty: &TokenStream, raw: TokenStream) -> TokenStream {
    match spec.resolve(t) {
        Type::Builtin(BuiltinType::Float) => quote!(f32::from_bits(#raw as u32)),
        Type::Builtin(BuiltinType::Double) => quote!(f64::from_bits(#raw)),
        Type::Builtin(BuiltinType::Bool) => quote!(#raw != 0),
        Type::Pointer { pointee, .. } if matches!(spec.resolve(pointee), Type::Function(_)) => {
            quote!(::core::mem::transmute::<usize, #rust_ty>(#raw as usize))
        }
        Type::Pointer { .. } => quote!(#raw as usize as #rust_ty),
        Type::Named(id) if matches!(spec.type_def(*id).kind, TypeDefKind::Struct { .. } | TypeDefKind::Union { .. }) => {
            quote!(::core::ptr::read_unaligned(#raw as usize as *const #rust_ty))
        }
        _ => quote!(#raw as #rust_ty),
    }
}

/// A parameter's type as the C ABI passes it: arrays decay to pointers.
pub fn decayed(spec: &Spec, t: &Type) -> Type {
    match spec.resolve(t) {
        Type::Array { element, .. } => Type::Pointer { pointee: element.clone(), pointee_const: false },
        _ => t.clone(),
    }
}

/// Whether a C type is a struct or union (passed and returned by value).
pub fn is_record(spec: &Spec, t: &Type) -> bool {
    matches!(spec.resolve(t), Type::Named(id) if matches!(spec.type_def(*id).kind, TypeDefKind::Struct { .. } | TypeDefKind::Union { .. }))
}

/// `call` (a C call returning `ret`) as an expression giving the raw word
/// of its result (0 for `void`): what a dispatcher or invoker returns.
pub fn raw_result(spec: &Spec, ret: &Type, call: TokenStream) -> TokenStream {
    if matches!(spec.resolve(ret), Type::Builtin(BuiltinType::Void)) {
        quote!({ #call; 0 })
    } else {
        let r = to_raw(spec, ret, quote!(__ret));
        quote!({ let __ret = #call; #r })
    }
}

/// `call` (giving a raw word) as the body of a C function returning `ret`.
pub fn typed_result(spec: &Spec, names: &Names, ret: &Type, call: TokenStream) -> Result<TokenStream, GenerateError> {
    if matches!(spec.resolve(ret), Type::Builtin(BuiltinType::Void)) {
        return Ok(quote!({ #call; }));
    }
    let rust_ty = ty(spec, names, ret)?;
    let convert = from_raw(spec, ret, &rust_ty, quote!(__raw));
    Ok(quote!({ let __raw = #call; #convert }))
}
