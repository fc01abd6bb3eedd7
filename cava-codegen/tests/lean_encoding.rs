//! The guest's lean encoding (`cava_runtime::marshal::guest`, `lean.rs`)
//! writes exactly the message the general encoder writes: every function
//! of every spec in the repository that has a lean encoding, called many
//! times with random arguments, encodes to the same bytes both ways
//! whenever the lean encoding does not give up.

mod common;

use common::{arguments, specs, Rng, ARENA};

use cava_runtime::marshal::guest::testing::Encodings;
use cava_runtime::plan::{Plan, Ty};

/// Calls of each lean function of `plan`: (lean encodings compared, calls).
fn compare(name: &str, plan: &Plan, rounds: usize) -> (usize, usize) {
    let encodings = Encodings::new(&plan.to_bytes()).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut compared, mut calls) = (0, 0);
    for (id, f) in plan.functions.iter().enumerate() {
        if !encodings.is_lean(id as u32) {
            continue;
        }
        let types: Vec<Ty> = f.params.iter().map(|p| p.ty.clone()).collect();
        let mut arenas = vec![vec![0u8; ARENA]; types.len()];
        for round in 0..rounds {
            let args = arguments(&mut rng, &types, &mut arenas);
            // a small channel: buffers the general encoder would stage
            let max = if round.is_multiple_of(4) { 300 } else { 1 << 20 };
            calls += 1;
            if let Some((lean, general)) = encodings.both(id as u32, &args, max) {
                compared += 1;
                assert!(lean.is_ok() && lean == general, "{name}: {} with {args:x?} (max {max}): {lean:?} {general:?}", f.name);
            }
        }
    }
    (compared, calls)
}

#[test]
fn lean_encodings_write_what_the_general_encoder_writes() {
    for path in specs() {
        let source = std::fs::read_to_string(&path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        assert!(!checked.has_errors(), "{}", path.display());
        let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (compared, calls) = compare(&name, &plan, 200);
        // the test means something only where most calls were compared
        assert!(compared * 2 >= calls, "{name}: only {compared} of {calls} calls were encoded the lean way");
    }
}

#[test]
fn the_calls_of_a_call_intensive_opencl_program_are_lean() {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/opencl.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    let encodings = Encodings::new(&plan.to_bytes()).unwrap();
    for name in ["clSetKernelArg", "clEnqueueNDRangeKernel", "clEnqueueWriteBuffer"] {
        let id = plan.functions.iter().position(|f| f.name == name).unwrap();
        assert!(encodings.is_lean(id as u32), "{name} is not encoded the lean way");
    }
}
