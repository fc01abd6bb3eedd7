//! The expression code `cava build` generates (`cava_codegen::exprs`)
//! computes what the interpreter does: every expression of every spec in
//! the repository, evaluated both ways over many random calls, gives the
//! same value or error and makes the same writes, metadata and library
//! calls in the same order.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::agree::{compare, expressions};
use common::{root, specs};

use cava_runtime::marshal::generated::install;

#[test]
fn generated_expressions_agree_with_the_interpreter_on_every_spec() {
    // recursive utilities over random lists recurse deeply in the interpreter
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let paths = specs();
            assert_eq!(paths.len(), cava_expr_check::SPECS.len(), "the build script saw the same specs");
            for path in paths {
                let key = path.strip_prefix(root()).unwrap().to_string_lossy().to_string();
                let spec = cava_expr_check::SPECS.iter().find(|s| s.path == key).unwrap_or_else(|| panic!("{key}: not generated"));
                let table = spec.expressions;
                let source = std::fs::read_to_string(&path).unwrap();
                let (_, checked) = lapis_parser::check_source(&source);
                let interpreted = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
                let mut generated = interpreted.clone();
                let attached = install(&mut generated, table).unwrap();
                let all = expressions(&interpreted).len();
                // every expression but those naming a field of the struct being described
                assert!(attached * 10 >= all * 9, "{key}: code for {attached} of {all} expressions");
                compare(&path, &interpreted, &generated);
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_table_for_another_plan_is_refused_and_attaches_nothing() {
    let table = cava_expr_check::SPECS.iter().find(|s| s.path.ends_with("opencl.lapis")).unwrap().expressions;
    let source = std::fs::read_to_string(root().join("tests/testlib/testlib.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let mut plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    let error = install(&mut plan, table).unwrap_err();
    assert!(error.contains("entries for"), "{error}");
    assert!(expressions(&plan).iter().all(|e| e.code.get().is_none()));
}
