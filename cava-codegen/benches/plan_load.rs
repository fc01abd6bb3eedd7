//! What a generated guest library or API server spends on its plan when
//! the process starts, on the OpenCL spec's plan: decoding the binary form
//! it embeds (`plan.bin`), parsing the JSON form (what it embedded before),
//! and compiling the expressions, which both do. A process never drops its
//! plan, so neither do the timings.
//!
//! `cargo bench -p cava-codegen --bench plan_load`

use std::path::Path;

use cava_runtime::marshal::compile::compile;
use cava_runtime::plan::{binary, Plan};
use criterion::{criterion_group, criterion_main, Criterion};

fn plan_load(c: &mut Criterion) {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/opencl.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    let bytes = plan.to_bytes();
    let json = serde_json::to_string(&plan).unwrap();
    eprintln!("OpenCL plan: {} bytes binary, {} bytes compact JSON", bytes.len(), json.len());
    let mut group = c.benchmark_group("plan_load");
    group.bench_function("binary decode + compile (Plan::from_bytes)", |b| b.iter_with_large_drop(|| Plan::from_bytes(&bytes).unwrap()));
    group.bench_function("JSON parse + compile (Plan::from_json)", |b| b.iter_with_large_drop(|| Plan::from_json(&json).unwrap()));
    group.bench_function("binary decode", |b| b.iter_with_large_drop(|| binary::decode(&bytes).unwrap()));
    group.bench_function("JSON parse", |b| b.iter_with_large_drop(|| serde_json::from_str::<Plan>(&json).unwrap()));
    group.bench_function("compile", |b| b.iter_batched_ref(|| plan.clone(), compile, criterion::BatchSize::LargeInput));
    group.finish();
}

criterion_group!(benches, plan_load);
criterion_main!(benches);
