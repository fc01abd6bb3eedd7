//! `cava bench --quick --json` end to end: it builds the benchmark library,
//! its guest library and API server, runs the driver natively and through
//! both transports, and prints one JSON document whose figures are all
//! positive and finite. No figure is compared with a goal: the machine
//! running the tests is too noisy for timed assertions.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn positive(v: &Value, key: &str) -> f64 {
    let n = v[key].as_f64().unwrap_or_else(|| panic!("`{key}` is not a number in {v}"));
    assert!(n.is_finite() && n > 0.0, "`{key}` = {n} in {v}");
    n
}

#[test]
fn quick_bench_prints_positive_figures_for_every_path_function_and_size() {
    let scratch = root().join("target").join("cava-build-tests");
    let out = Command::new(env!("CARGO_BIN_EXE_cava"))
        .args(["bench", "--quick", "--json", "--debug", "--offline", "--sizes", "4K,64K", "--dir"])
        .arg(scratch.join("bench"))
        // share the build tests' target folder: the runtime is compiled once
        .env("CARGO_TARGET_DIR", scratch.join("target"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cava bench failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stderr}"));

    let meta = &report["meta"];
    assert_eq!(meta["profile"], "debug");
    assert_eq!(meta["quick"], true);
    positive(meta, "iterations");
    positive(meta, "seconds");

    let paths = ["native", "unix", "shm"];
    let latency = report["latency"].as_array().unwrap();
    assert_eq!(latency.len(), 4 * paths.len(), "{latency:?}");
    for function in ["timer", "bl_null", "bl_scalars", "bl_queue"] {
        for path in paths {
            let l = latency
                .iter()
                .find(|l| l["function"] == function && l["path"] == path)
                .unwrap_or_else(|| panic!("no {function} on {path}"));
            // queued calls are sampled in batches of 100
            let samples =
                if function == "bl_queue" { meta["iterations"].as_u64().unwrap() / 100 + 1 } else { meta["iterations"].as_u64().unwrap() };
            assert_eq!(l["iterations"], samples);
            let (p50, p90, p99) = (positive(l, "p50_us"), positive(l, "p90_us"), positive(l, "p99_us"));
            assert!(p50 <= p90 && p90 <= p99, "{l}");
            positive(l, "mean_us");
        }
    }

    let throughput = report["throughput"].as_array().unwrap();
    assert_eq!(throughput.len(), 4 * 2 * paths.len(), "{throughput:?}");
    for direction in ["in", "out", "in_zc", "out_zc"] {
        for size in [4096, 65536] {
            for path in paths {
                let t = throughput
                    .iter()
                    .find(|t| t["direction"] == direction && t["size_bytes"] == size && t["path"] == path)
                    .unwrap_or_else(|| panic!("no {direction} {size} on {path}"));
                assert!(t["reps"].as_u64().unwrap() >= 5, "{t}");
                for key in ["median_us", "min_us", "max_us", "gbps", "memcpy_median_us", "memcpy_gbps", "vs_native", "vs_memcpy"] {
                    positive(t, key);
                }
                assert!(t["min_us"].as_f64() <= t["median_us"].as_f64() && t["median_us"].as_f64() <= t["max_us"].as_f64(), "{t}");
                if path == "native" {
                    assert_eq!(t["vs_native"].as_f64(), Some(1.0), "{t}");
                }
            }
        }
    }
}
