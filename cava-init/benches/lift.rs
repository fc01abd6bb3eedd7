//! Lifting speed: reading a real header with libclang and writing its spec.
//!
//! Run: `source scripts/env.sh && cargo bench -p cava-init --bench lift`
//! (`scripts/env.sh` fetches cuda.h and sets `CAVA_CUDA_INCLUDE`).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};

fn headers() -> Vec<(&'static str, PathBuf, Option<&'static str>)> {
    let mut found = Vec::new();
    if let Some(dir) = std::env::var_os("CAVA_CUDA_INCLUDE") {
        found.push(("cuda.h", PathBuf::from(dir).join("cuda.h"), Some("cu")));
    } else {
        eprintln!("cuda.h not measured: set CAVA_CUDA_INCLUDE (see scripts/env.sh)");
    }
    for (name, path, prefix) in [("CL/cl.h", "/usr/include/CL/cl.h", Some("cl")), ("zlib.h", "/usr/include/zlib.h", None)] {
        let path = PathBuf::from(path);
        if path.exists() {
            found.push((name, path, prefix));
        }
    }
    found
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("init");
    group.sample_size(20);
    for (name, path, prefix) in headers() {
        let options = cava_init::LiftOptions { prefix: prefix.map(str::to_string), header: name.to_string(), ..Default::default() };
        group.bench_function(format!("lift {name}"), |b| {
            b.iter(|| {
                let header = cava_init::read::read_header(&path, &Default::default()).expect("the header reads");
                cava_init::formatted(&cava_init::lift(&header, &options))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
