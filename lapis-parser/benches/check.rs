//! Checking speed: a generated spec of 5,000 functions in the shape of a
//! real API (handles, out handles, query functions, buffers, async calls,
//! conditions and resources), parsed and checked from text.
//!
//! Run: `cargo bench -p lapis-parser --bench check`

use criterion::{criterion_group, criterion_main, Criterion};

include!("gen.rs");

fn bench(c: &mut Criterion) {
    let spec = generated_spec(5000);
    let (_, checked) = lapis_parser::check_source(&spec);
    assert!(!checked.has_errors(), "the generated spec must be valid: {:?}", checked.diagnostics.first());
    let mut group = c.benchmark_group("check");
    group.sample_size(20);
    group.bench_function("parse 5000 functions", |b| b.iter(|| lapis_parser::parse(&spec)));
    group.bench_function("parse and check 5000 functions", |b| b.iter(|| lapis_parser::check_source(&spec)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
