//! The guest's lean encodings that `cava build` generates per function
//! (`cava_codegen::guest_lean`) write exactly what the runtime's lean
//! encoding interprets (`guest::lean::encode`): for every function of every
//! spec in the repository encoded the lean way, over many random calls
//! (pointers null and not, sizes small and large, channels small and
//! large), both give up on the same calls and write the same bytes.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{arguments, root, specs, Rng, ARENA};

use cava_runtime::marshal::guest::has_lean_encoding;
use cava_runtime::marshal::guest::testing::Encodings;
use cava_runtime::plan::Ty;

#[test]
fn generated_lean_encodings_write_what_the_interpreter_writes_on_every_spec() {
    let paths = specs();
    assert_eq!(paths.len(), cava_expr_check::SPECS.len(), "the build script saw the same specs");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut generated_functions, mut lean_functions, mut written, mut calls) = (0, 0, 0, 0);
    for path in paths {
        let key = path.strip_prefix(root()).unwrap().to_string_lossy().to_string();
        let spec = cava_expr_check::SPECS.iter().find(|s| s.path == key).unwrap_or_else(|| panic!("{key}: not generated"));
        let source = std::fs::read_to_string(&path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
        assert_eq!(spec.guest_lean.len(), plan.functions.len(), "{key}");
        // (the generated encodings call the generated expressions directly)
        let interpreted = Encodings::new(&plan.to_bytes()).unwrap();
        let generated = Encodings::new(&plan.to_bytes()).unwrap();
        for (id, f) in plan.functions.iter().enumerate() {
            let lean = has_lean_encoding(&plan, f);
            assert_eq!(lean, interpreted.is_lean(id as u32), "{key}: {}", f.name);
            lean_functions += usize::from(lean);
            let Some(code) = spec.guest_lean[id] else { continue };
            assert!(lean, "{key}: {} has a generated lean encoding but is not encoded the lean way", f.name);
            generated_functions += 1;
            let types: Vec<Ty> = f.params.iter().map(|p| p.ty.clone()).collect();
            let mut arenas = vec![vec![0u8; ARENA]; types.len()];
            for round in 0..300 {
                let args = arguments(&mut rng, &types, &mut arenas);
                // a small channel: buffers the general encoder would stage
                let max = if round % 4 == 0 { 300 } else { 1 << 20 };
                let a = interpreted.lean(id as u32, &args, max, None);
                let b = generated.lean(id as u32, &args, max, Some(code));
                assert_eq!(a, b, "{key}: {} with {args:x?} (max {max})", f.name);
                calls += 1;
                written += usize::from(a.is_some());
            }
        }
    }
    eprintln!("{written} of {calls} random calls written, by {generated_functions} generated encodings");
    // the random calls are mostly written, not only given up on
    assert!(written * 2 >= calls, "only {written} of {calls} random calls were written");
    // every function encoded the lean way but those whose conditions are left to the closures
    assert!(generated_functions * 10 >= lean_functions * 9, "code for {generated_functions} of {lean_functions} lean encodings");
}

#[test]
fn the_guest_generates_lean_encodings_for_the_launch_path() {
    let spec = cava_expr_check::SPECS.iter().find(|s| s.path.ends_with("specs/opencl.lapis")).unwrap();
    let source = std::fs::read_to_string(root().join(spec.path)).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    for name in ["clSetKernelArg", "clEnqueueNDRangeKernel", "clEnqueueWriteBuffer"] {
        let id = plan.functions.iter().position(|f| f.name == name).unwrap();
        assert!(spec.guest_lean[id].is_some(), "{name} has no generated lean encoding");
    }
}
