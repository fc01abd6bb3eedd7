//! Generates the expression code of every spec in the repository (what
//! `cava build` writes into `expressions.rs`) and the lean code of both
//! halves (`lean.rs`), one module per spec, with a table naming each spec by its
//! path from the repository's root.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut specs: Vec<PathBuf> = Vec::new();
    for dir in ["specs", "tests/specs", "tests/testlib"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "lapis") {
                println!("cargo:rerun-if-changed={}", path.display());
                specs.push(path);
            }
        }
    }
    specs.sort();
    let mut modules = Vec::new();
    let mut entries = Vec::new();
    for (i, path) in specs.iter().enumerate() {
        let source = std::fs::read_to_string(path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        assert!(!checked.has_errors(), "{}", path.display());
        let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
        let code = cava_codegen::exprs::module(&plan);
        let lean = cava_codegen::lean::module(&plan, quote::quote!(super::expressions));
        let guest_lean = cava_codegen::guest_lean::module(&plan, quote::quote!(super::expressions));
        let name = quote::format_ident!("spec{}", i);
        let key = path.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        modules
            .push(quote::quote!(pub mod #name { pub mod expressions { #code } pub mod lean { #lean } pub mod guest_lean { #guest_lean } }));
        entries.push(quote::quote!(Spec { path: #key, expressions: &#name::expressions::TABLE, lean: &#name::lean::TABLE, guest_lean: &#name::guest_lean::TABLE }));
    }
    let file: syn::File = syn::parse2(quote::quote! {
        /// Each spec's generated code, by its path from the repository's root.
        pub static SPECS: &[Spec] = &[#(#entries),*];
        #(#modules)*
    })
    .unwrap();
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("specs.rs");
    std::fs::write(out, prettyplease::unparse(&file)).unwrap();
}
