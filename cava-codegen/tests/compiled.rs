//! The code compiled for a plan's expressions when it loads
//! (`cava_runtime::marshal::compile`) computes what the interpreter does:
//! every expression of every spec in the repository, evaluated both ways
//! over many random calls, gives the same value or error, and makes the
//! same reads, writes and library calls in the same order.

mod common;

use common::agree::{compare, expressions};
use common::specs;
use std::path::Path;

use cava_runtime::marshal::compile::compile;
use cava_runtime::plan::Plan;

#[test]
fn compiled_expressions_agree_with_the_interpreter_on_every_spec() {
    // recursive utilities over random lists recurse deeply in the interpreter
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            for path in specs() {
                let source = std::fs::read_to_string(&path).unwrap();
                let (_, checked) = lapis_parser::check_source(&source);
                assert!(!checked.has_errors(), "{}", path.display());
                let interpreted = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
                let mut compiled = interpreted.clone();
                compile(&mut compiled);
                compare(&path, &interpreted, &compiled);
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_loaded_plan_is_compiled_and_serializes_as_before() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/opencl.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    let json = serde_json::to_string(&plan).unwrap();
    let loaded = Plan::from_json(&json).unwrap();
    assert!(expressions(&loaded).iter().filter(|e| e.code.get().is_some()).count() > expressions(&loaded).len() / 2);
    assert_eq!(serde_json::to_string(&loaded).unwrap(), json);
}
