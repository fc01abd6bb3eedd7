//! The code `cava build` generates for every spec in the repository (the
//! expressions, and the server's lean code), compiled here so that the
//! tests can run it against the interpreter (see `build.rs`).

use cava_runtime::marshal::generated::{Generated, LeanFn};

/// One spec's generated code.
#[derive(Debug)]
pub struct Spec {
    /// From the repository's root.
    pub path: &'static str,
    /// `expressions.rs`' table.
    pub expressions: &'static [Option<Generated>],
    /// `lean.rs`' table.
    pub lean: &'static [Option<LeanFn>],
}

include!(concat!(env!("OUT_DIR"), "/specs.rs"));
