//! The expression code `cava build` generates for every spec in the
//! repository, compiled here so that `tests/generated_expressions.rs` can
//! run it against the interpreter (see `build.rs`).

include!(concat!(env!("OUT_DIR"), "/specs.rs"));
