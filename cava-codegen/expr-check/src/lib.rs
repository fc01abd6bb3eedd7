//! The code `cava build` generates for every spec in the repository (the
//! expressions, and both halves' lean code), compiled here so that the
//! tests can run it against the interpreter (see `build.rs`).

use cava_runtime::marshal::generated::{Generated, LeanEncode, LeanFn};

/// One spec's generated code.
#[derive(Debug)]
pub struct Spec {
    /// From the repository's root.
    pub path: &'static str,
    /// `expressions.rs`' table.
    pub expressions: &'static [Option<Generated>],
    /// The server's `lean.rs`' table.
    pub lean: &'static [Option<LeanFn>],
    /// The guest library's `lean.rs`' table.
    pub guest_lean: &'static [Option<LeanEncode>],
}

include!(concat!(env!("OUT_DIR"), "/specs.rs"));
