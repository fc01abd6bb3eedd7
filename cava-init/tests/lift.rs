//! `cava init` end to end: lifted specs parse and check apart from `todo`s
//! (reported at their lines), every inference rule has a header under
//! `tests/headers/rules/` with a snapshot of its lifted spec, real headers
//! lift, and `--update` keeps what a person wrote.

use std::path::{Path, PathBuf};

use cava_init::read::{read_header, ReadOptions};
use cava_init::{formatted, lift, LiftOptions, Stats};
use lapis_parser::codes::Code;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lift_file(path: &Path, prefix: Option<&str>, header: &str) -> (String, Stats) {
    let model = read_header(path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = LiftOptions { prefix: prefix.map(str::to_string), header: header.to_string(), ..LiftOptions::default() };
    let lifted = lift(&model, &options);
    (formatted(&lifted), lifted.stats)
}

/// A lifted spec checks, except for `todo`s, each reported on the line that holds it.
fn assert_only_todos(name: &str, spec: &str) -> usize {
    let (_, checked) = lapis_parser::check_source(spec);
    let others: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.code != Code::TodoLeft)
        .map(|d| lapis_parser::render::render_text(name, spec, std::slice::from_ref(d), false))
        .collect();
    assert!(others.is_empty(), "{name}: diagnostics other than `todo`:\n{}", others.join("\n"));
    for d in &checked.diagnostics {
        let line_start = spec[..d.primary.span.start as usize].rfind('\n').map_or(0, |i| i + 1);
        let line_end = spec[line_start..].find('\n').map_or(spec.len(), |i| line_start + i);
        assert!(spec[line_start..line_end].contains("todo("), "{name}: a todo is reported away from its line");
    }
    let todos = spec.matches("todo(").count();
    assert_eq!(checked.diagnostics.len(), todos, "{name}: every todo is reported once");
    todos
}

#[test]
fn every_rule_header_lifts_into_a_checked_spec() {
    let dir = root().join("tests/headers/rules");
    let mut headers: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "h")).collect();
    headers.sort();
    assert!(headers.len() >= 9);
    for path in headers {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let (spec, _) = lift_file(&path, None, &format!("{name}.h"));
        assert_only_todos(&name, &spec);
        insta::with_settings!({ snapshot_path => dir.join("snapshots"), prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, spec);
        });
    }
}

#[test]
fn formatting_a_lifted_spec_changes_nothing() {
    let (spec, _) = lift_file(&root().join("tests/headers/rules/callbacks.h"), None, "callbacks.h");
    assert_eq!(lapis_parser::fmt::format_source(&spec).unwrap(), spec);
}

fn installed(path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    if path.exists() {
        Some(path)
    } else {
        // CI installs the packages; on a developer machine without them the test says so
        eprintln!("skipped: {} is not installed (Debian: opencl-headers, zlib1g-dev)", path.display());
        None
    }
}

#[test]
fn real_opencl_header() {
    let Some(path) = installed("/usr/include/CL/cl.h") else { return };
    let (spec, stats) = lift_file(&path, Some("cl"), "CL/cl.h");
    assert_only_todos("cl.h", &spec);
    assert!(stats.functions >= 110, "{stats:?}");
    assert!(stats.functions_without_todo * 100 / stats.functions >= 70, "{stats:?}");
    assert!(spec.contains("cl_int clReleaseMemObject(cl_mem memobj) {\n    argument(memobj) {\n        deallocate;"));
    assert!(spec.contains("error_type = cl_int;") && spec.contains("success = CL_SUCCESS;"));
    insta::with_settings!({ snapshot_path => root().join("tests/headers/real/snapshots"), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("opencl_cl_h", spec);
    });
}

#[test]
fn real_zlib_header() {
    let Some(path) = installed("/usr/include/zlib.h") else { return };
    let (spec, stats) = lift_file(&path, None, "zlib.h");
    assert_only_todos("zlib.h", &spec);
    assert!(stats.functions >= 80, "{stats:?}");
    assert!(spec.contains("int deflate(z_streamp strm, int flush)"));
}

/// NVIDIA's `cuda.h` cannot be committed (licence); `.ci/run` downloads it
/// from PyPI and points `CAVA_CUDA_INCLUDE` at it.
#[test]
fn real_cuda_header() {
    let Some(dir) = std::env::var_os("CAVA_CUDA_INCLUDE") else {
        eprintln!("skipped: set CAVA_CUDA_INCLUDE to the folder holding cuda.h (see .ci/run)");
        return;
    };
    let (spec, stats) = lift_file(&Path::new(&dir).join("cuda.h"), Some("cu"), "cuda.h");
    assert_only_todos("cuda.h", &spec);
    // 452 after preprocessing; `cuMemAlloc` and the like are renamed to
    // their `_v2` symbols by macros and must not be lost
    assert!(stats.functions >= 450, "{stats:?}");
    assert!(spec.contains("CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)"));
    assert!(spec.contains("error_type = CUresult;") && spec.contains("success = CUDA_SUCCESS;"));
}

#[test]
fn update_keeps_what_a_person_wrote_and_adds_what_is_new() {
    let dir = root().join("tests/headers/update");
    let (v1, _) = lift_file(&dir.join("v1.h"), None, "acc.h");
    // a person refines the spec: fills the todos and makes a write asynchronous
    let edited = v1
        .replace("todo(\"the API version this spec describes\")", "\"1.0\"")
        .replace("todo(\"the soname of the library the guest replaces, e.g. libfoo.so.1\")", "\"libacc.so.1\"")
        .replace("todo(\"the library the API server loads, e.g. libfoo.so.1\")", "\"libacc.so.1\"")
        .replace(
            "acc_status accWriteBuffer(acc_buffer buffer, const void *src, size_t size) {\n",
            "acc_status accWriteBuffer(acc_buffer buffer, const void *src, size_t size) {\n    async;\n",
        );
    assert_ne!(edited, v1);
    assert_eq!(assert_only_todos("v1 edited", &edited), 0);

    let model = read_header(&dir.join("v2.h"), &ReadOptions::default()).unwrap();
    let lifted = lift(&model, &LiftOptions { header: "acc.h".into(), ..LiftOptions::default() });
    let (updated, report) = cava_init::update(&edited, &lifted, "acc.h").unwrap();
    assert!(updated.starts_with(&edited), "what the person wrote is kept byte for byte");
    assert_eq!(report.added_functions, ["accReadBuffer", "accFillBuffer"]);
    assert!(report.missing_from_header.is_empty());
    assert!(updated.contains("const int ACC_ERROR_INVALID_PATTERN = -7;"));
    assert!(updated.contains("struct acc_pattern {"));
    assert_only_todos("v2 update", &updated);

    // updating again with the same header changes nothing
    let (again, report) = cava_init::update(&updated, &lifted, "acc.h").unwrap();
    assert_eq!(again, updated);
    assert!(report.added_functions.is_empty() && report.added_other == 0);

    // a function that disappeared from the header is reported, not deleted
    let old = read_header(&dir.join("v1.h"), &ReadOptions::default()).unwrap();
    let lifted_old = lift(&old, &LiftOptions { header: "acc.h".into(), ..LiftOptions::default() });
    let (kept, report) = cava_init::update(&updated, &lifted_old, "acc.h").unwrap();
    assert_eq!(kept, updated);
    assert_eq!(report.missing_from_header, ["accReadBuffer", "accFillBuffer"]);

    // a variant of a header function is not in the header under its own name: not reported
    let with_variant = format!(
        "{updated}\nacc_status accWriteBuffer_blocking(acc_buffer buffer, const void *src, size_t size) {{\n    variant_of(accWriteBuffer);\n}}\n"
    );
    let (_, report) = cava_init::update(&with_variant, &lifted, "acc.h").unwrap();
    assert!(report.missing_from_header.is_empty(), "{:?}", report.missing_from_header);
}

#[test]
fn update_refuses_a_spec_with_syntax_errors() {
    let dir = root().join("tests/headers/update");
    let model = read_header(&dir.join("v2.h"), &ReadOptions::default()).unwrap();
    let lifted = lift(&model, &LiftOptions { header: "acc.h".into(), ..LiftOptions::default() });
    assert!(cava_init::update("int f( {", &lifted, "acc.h").is_err());
}
