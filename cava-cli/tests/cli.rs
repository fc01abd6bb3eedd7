//! The `cava` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cava(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cava")).args(args).current_dir(root()).output().expect("cava runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_spec(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cava-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

const BROKEN: &str = "api x {\n    version = \"1\";\n}\nint f(void) { asynch; }\nint g(int *p) { argument(q) { in; } }\nint h(int *p);\n";

#[test]
fn check_accepts_the_repository_specs() {
    let out = cava(&["check", "specs/cuda_figure_4_4.lapis", "tests/specs/every_descriptor.lapis"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("ok: `specs/cuda_figure_4_4.lapis` (6 functions)"));
}

#[test]
fn check_reports_every_error_at_once_and_fails() {
    let path = temp_spec("broken.lapis", BROKEN);
    let out = cava(&["check", "--color", "never", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for code in ["L0508", "L0301", "L0501", "L0203"] {
        assert!(stderr.contains(&format!("error[{code}]")), "missing {code} in:\n{stderr}");
    }
    assert!(stderr.contains("help: did you mean `async`?"));
    assert!(stderr.contains("(4 errors)"));
}

#[test]
fn check_json_is_one_object_per_line() {
    let path = temp_spec("broken-json.lapis", BROKEN);
    let out = cava(&["check", "--message-format", "json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("valid JSON")).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["severity"] == "error" && l["code"].as_str().unwrap().starts_with('L')));
}

#[test]
fn explain_prints_the_catalog_entry() {
    let out = cava(&["explain", "l0503"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("L0503: asynchronous function copies data back"));
    let out = cava(&["explain", "E0001"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cava explain --list"));
    let out = cava(&["explain", "--list"]);
    assert!(text(&out.stdout).lines().count() >= 40);
}

#[test]
fn fmt_check_and_write() {
    let path = temp_spec("unformatted.lapis", "api x { version = \"1\"; }\n\n\nint   f(int a)   {sync;}\n");
    let p = path.to_str().unwrap();
    let out = cava(&["fmt", "--check", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not formatted"));
    assert!(cava(&["fmt", "--write", p]).status.success());
    assert!(cava(&["fmt", "--check", p]).status.success());
    assert!(std::fs::read_to_string(&path).unwrap().contains("int f(int a) {\n    sync;\n}\n"));
    let broken = temp_spec("syntax.lapis", "int f( { }");
    let out = cava(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has syntax errors"));
}

#[test]
fn repository_specs_are_formatted() {
    let out = cava(&["fmt", "--check", "specs/cuda_figure_4_4.lapis", "tests/specs/every_descriptor.lapis"]);
    assert!(out.status.success(), "run `cava fmt --write` on the specs:\n{}", text(&out.stderr));
}

#[test]
fn dump_prints_both_stages() {
    let out = cava(&["dump", "--ast", "specs/cuda_figure_4_4.lapis"]);
    assert!(out.status.success());
    let ast: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(ast["items"].as_array().unwrap().len() > 10);
    let out = cava(&["dump", "--ir", "specs/cuda_figure_4_4.lapis"]);
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ir["api"]["soname"], "libcuda.so.1");
    let path = temp_spec("broken-dump.lapis", BROKEN);
    let out = cava(&["dump", "--ir", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = cava(&["check", "no/such/spec.lapis"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read `no/such/spec.lapis`"));
}

#[test]
fn init_lifts_a_header_and_reports_what_is_left() {
    let out_path = std::env::temp_dir().join(format!("cava-cli-test-{}", std::process::id())).join("lifted.lapis");
    std::fs::create_dir_all(out_path.parent().unwrap()).unwrap();
    let out = cava(&[
        "init",
        "tests/headers/update/v1.h",
        "--name",
        "acc",
        "--include-as",
        "acc.h",
        "--soname",
        "libacc.so.1",
        "--api-version",
        "1.0",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("lifted 3 functions (3 with nothing left to decide)"), "{stderr}");
    let spec = std::fs::read_to_string(&out_path).unwrap();
    assert!(spec.contains("api acc {") && spec.contains("soname = \"libacc.so.1\";") && spec.contains("library = \"libacc.so.1\";"));
    assert!(cava(&["check", out_path.to_str().unwrap()]).status.success());
    // where rules cannot decide, the only problems are the `todo`s
    let out = cava(&["init", "tests/headers/rules/todos.h", "-o", out_path.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("`todo`s to decide"));
    let out = cava(&["check", "--message-format", "json", out_path.to_str().unwrap()]);
    let codes: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(codes.len() >= 5);
    assert!(codes.iter().all(|c| c["code"] == "L0506"));
}

#[test]
fn init_errors_say_what_to_do() {
    let out = cava(&["init", "no/such/header.h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("header not found"), "{}", text(&out.stderr));
    let out = cava(&["init", "tests/headers/read/missing_include.h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pass its folder with -I"), "{}", text(&out.stderr));
}
