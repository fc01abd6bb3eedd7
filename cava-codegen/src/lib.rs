//! Code generators: a checked [`lapis_parser::ir::Spec`] in, generated
//! crates out, as files in memory ([`Files`]); writing them is the caller's
//! business (`cava build`, a build script, a test).
//!
//! The backends share one lowering ([`lower`]) from the model to the
//! runtime's call plan, which both halves embed in its binary form
//! (`plan.bin`; `plan.json` is the same plan for people):
//! - `types.rs`: the spec's C types, `#[repr(C)]`, with layout checks;
//! - the guest library ([`guest`]): a `cdylib` with the vendor's soname and
//!   every function of the spec with its exact C signature;
//! - the API server ([`server`]): a binary that `dlopen`s the vendor library
//!   and dispatches forwarded calls;
//! - `expressions.rs` ([`exprs`]), in both crates: the spec's expressions
//!   (conditions, sizes, statements) as Rust;
//! - `lean.rs`, in the server ([`lean`]): the lean path's reading of each
//!   lean function's calls, as Rust; in the guest ([`guest_lean`]): the
//!   lean encoding of each function encoded the lean way, as Rust.

#![forbid(unsafe_code)]

pub mod contract;
pub mod exprs;
mod guest;
pub mod guest_lean;
pub mod lean;
pub mod lower;
mod manifest;
mod rust;
mod server;
mod types;

use lapis_parser::ir::Spec;

/// What `cava build` writes: paths relative to the output directory, and
/// their contents, text or bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Files {
    pub files: Vec<(String, Content)>,
}

/// A generated file's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Source, manifests, the plan's JSON form: UTF-8 text.
    Text(String),
    /// The plan's binary form.
    Bytes(Vec<u8>),
}

impl Content {
    /// What goes into the file.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Content::Text(text) => text.as_bytes(),
            Content::Bytes(bytes) => bytes,
        }
    }

    /// The text of a text file.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Content::Text(text) => Some(text),
            Content::Bytes(_) => None,
        }
    }
}

impl Files {
    /// The text of a generated text file (`None` for a binary one).
    pub fn get(&self, path: &str) -> Option<&str> {
        self.content(path).and_then(Content::as_text)
    }

    /// The content of a generated file, text or bytes.
    pub fn content(&self, path: &str) -> Option<&Content> {
        self.files.iter().find(|(p, _)| p == path).map(|(_, c)| c)
    }

    fn text(&mut self, path: &str, text: String) {
        self.files.push((path.into(), Content::Text(text)));
    }

    fn bytes(&mut self, path: &str, bytes: Vec<u8>) {
        self.files.push((path.into(), Content::Bytes(bytes)));
    }
}

/// Where the generated crates find the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// A path dependency (a checkout of CAVA).
    Path(String),
    /// A crates.io version requirement.
    Version(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub runtime: Runtime,
    /// Functions the API's headers declare that the spec leaves out: the
    /// guest exports them too, failing without forwarding (a program that
    /// links against them still loads).
    pub missing: Vec<MissingFunction>,
    /// The vendor library's symbol versions, oldest first (each inherits
    /// the one before). Empty: the guest's symbols are unversioned.
    pub symbol_versions: Vec<VersionNode>,
}

/// One version of the vendor library's version script (`OPENCL_1.2`) and
/// the functions it defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionNode {
    pub name: String,
    pub symbols: Vec<String>,
}

/// A function of the header the spec does not describe, as far as its C
/// ABI goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingFunction {
    pub name: String,
    pub params: Vec<AbiType>,
    pub ret: AbiType,
    /// Its result is the API's error type: it returns the spec's `failure`.
    pub returns_error: bool,
}

/// A C type reduced to how it is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiType {
    Void,
    Int { size: u8, signed: bool },
    Float { size: u8 },
    Pointer,
}

/// Why generation failed: the spec uses something the generators cannot
/// carry yet. The message says where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateError {
    pub message: String,
}

impl GenerateError {
    pub fn new(message: impl Into<String>) -> GenerateError {
        GenerateError { message: message.into() }
    }

    /// Prefixes the message with the function it is about.
    pub fn context(self, function: &str) -> GenerateError {
        GenerateError { message: format!("in `{function}`: {}", self.message) }
    }
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GenerateError {}

/// Facts every backend shares.
pub(crate) struct Generated {
    pub contract: u128,
    /// What each function returns when the guest's plan does not load, by
    /// plan function id, with the API's failure word and the error type's
    /// size (see `cava_runtime::marshal::guest::Failures`).
    pub failures: Vec<cava_runtime::marshal::guest::Failure>,
    pub failure: u64,
    pub status_size: u8,
}

/// The crate name prefix for an API (`opencl` → `opencl-guest`, `opencl-server`).
pub fn crate_prefix(spec: &Spec) -> String {
    spec.api.name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-")
}

/// The library name inside a soname: `libOpenCL.so.1` → `OpenCL`.
pub fn library_name(soname: &str) -> String {
    let base = soname.strip_prefix("lib").unwrap_or(soname);
    base.split(".so").next().unwrap_or(base).to_string()
}

/// Generates both crates for a spec that checked without errors.
pub fn generate(spec: &Spec, options: &Options) -> Result<Files, GenerateError> {
    let lowered = lower::lower(spec)?;
    let names = rust::Names::new(spec);
    let g = Generated {
        contract: contract::contract_hash(spec),
        failures: (0..lowered.plan.functions.len()).map(|f| cava_runtime::marshal::guest::failure_of(&lowered.plan, f)).collect(),
        failure: cava_runtime::marshal::guest::failure_word(&lowered.plan),
        status_size: lowered.plan.size_of(&lowered.plan.api.error_type).min(8) as u8,
    };
    // embedded and decoded by every guest process and server when it starts
    // (see cava_runtime::plan::binary); the JSON form is for people and is
    // read by nothing generated
    let plan = lowered.plan.to_bytes();
    let plan_json = serde_json::to_string_pretty(&lowered.plan).map_err(|e| GenerateError::new(e.to_string()))? + "\n";
    let types = format(types::generate(spec, &names, &lowered)?)?;
    let expressions = format(exprs::module(&lowered.plan))?;
    let prefix = crate_prefix(spec);
    let mut files = Files::default();
    files.text("Cargo.toml", manifest::workspace());
    files.bytes("plan.bin", plan);
    files.text("plan.json", plan_json);
    let versioned = !options.symbol_versions.is_empty();
    files.text("guest/Cargo.toml", manifest::guest(&prefix, &library_name(&spec.api.soname), &options.runtime, versioned));
    if versioned {
        files.text("guest/versions.map", manifest::version_script(spec, options));
    }
    files.text("guest/build.rs", manifest::guest_build_rs(&spec.api.soname));
    files.text("guest/src/lib.rs", format(guest::lib_rs(spec, &names, &g, &options.missing)?)?);
    files.text("guest/src/types.rs", types.clone());
    files.text("guest/src/expressions.rs", expressions.clone());
    files.text("guest/src/lean.rs", format(guest_lean::module(&lowered.plan, quote::quote!(crate::expressions)))?);
    files.text("server/Cargo.toml", manifest::server(&prefix, &options.runtime));
    files.text("server/src/main.rs", format(server::main_rs(spec, &names, &g)?)?);
    files.text("server/src/types.rs", types);
    files.text("server/src/expressions.rs", expressions);
    files.text("server/src/lean.rs", format(lean::module(&lowered.plan, quote::quote!(crate::expressions)))?);
    Ok(files)
}

fn format(tokens: proc_macro2::TokenStream) -> Result<String, GenerateError> {
    let file = syn::parse2::<syn::File>(tokens)
        .map_err(|e| GenerateError::new(format!("generated code does not parse (a generator bug): {e}")))?;
    Ok(prettyplease::unparse(&file))
}
