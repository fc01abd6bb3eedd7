//! `cava build --compile` end to end: every spec's generated crates compile,
//! and the C test program of `tests/testlib` prints exactly the same thing
//! linked against the generated guest library (talking to the generated API
//! server, which runs the real library) as linked against the real library,
//! on both transports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target").join("cava-build-tests").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Generates and compiles `spec` into `out`, sharing one target folder
/// between tests so the runtime is compiled once.
fn build(spec: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_cava"))
        .arg("build")
        .arg(spec)
        .arg("-o")
        .arg(out)
        .args(["--compile", "--offline", "--lockfile"])
        .arg(root().join("Cargo.lock"))
        .env("CARGO_TARGET_DIR", root().join("target").join("cava-build-tests").join("target"))
        .status()
        .unwrap();
    assert!(status.success(), "cava build {} failed", spec.display());
}

#[test]
fn every_spec_compiles() {
    for spec in ["specs/cuda_figure_4_4.lapis", "tests/specs/every_descriptor.lapis"] {
        let name = Path::new(spec).file_stem().unwrap().to_string_lossy().to_string();
        build(&root().join(spec), &scratch(&name));
    }
}

/// The real library and the test program, built with the C compiler.
fn build_testlib(dir: &Path) -> (PathBuf, PathBuf) {
    let src = root().join("tests/testlib");
    let native = dir.join("native");
    std::fs::create_dir_all(&native).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let run = |args: &[&str]| {
        let status = Command::new(&cc).args(args).current_dir(&native).status().unwrap();
        assert!(status.success(), "{cc} {args:?}");
    };
    let lib_c = src.join("testlib.c");
    let program_c = src.join("program.c");
    run(&[
        "-std=c99",
        "-O1",
        "-shared",
        "-fPIC",
        "-Wl,-soname,libcavatest.so.1",
        "-o",
        "libcavatest.so.1",
        lib_c.to_str().unwrap(),
        "-lpthread",
    ]);
    // no rpath: the loader finds the library through LD_LIBRARY_PATH, as users run it
    run(&["-std=c99", "-O1", "-o", "program", program_c.to_str().unwrap(), "-L.", "-l:libcavatest.so.1", "-lpthread"]);
    (native.clone(), native.join("program"))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(binary: &Path, socket: &Path, library: &Path) -> Server {
    let _ = std::fs::remove_file(socket);
    let child = Command::new(binary).arg("--socket").arg(socket).arg("--library").arg(library).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "the API server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child)
}

/// Sections of the test program whose output must be the same forwarded
/// (`unsupported` differs by design: see its own test).
const SECTIONS: [&str; 10] = ["basic", "handles", "buffers", "strings", "structs", "callbacks", "async", "metadata", "threads", "zerocopy"];

#[test]
fn the_test_program_prints_the_same_through_the_guest_library_on_both_transports() {
    let dir = scratch("testlib");
    let (native_dir, program) = build_testlib(&dir);
    let generated = dir.join("generated");
    build(&root().join("tests/testlib/testlib.lapis"), &generated);

    let native = Command::new(&program).args(SECTIONS).env("LD_LIBRARY_PATH", &native_dir).output().unwrap();
    assert!(native.status.success());
    let native = String::from_utf8(native.stdout).unwrap();
    assert!(native.contains("== threads =="), "{native}");

    let socket = dir.join("server.sock");
    for transport in ["unix", "shm"] {
        // one API server per guest, as in production: the library keeps global state
        let _server = start_server(&generated.join("bin/cavatest-server"), &socket, &native_dir.join("libcavatest.so.1"));
        let forwarded = Command::new(&program)
            .args(SECTIONS)
            .env("LD_LIBRARY_PATH", generated.join("lib"))
            .env("CAVA_SERVER", &socket)
            .env("CAVA_TRANSPORT", transport)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&forwarded.stderr);
        assert!(forwarded.status.success(), "{transport}: {stderr}");
        let forwarded = String::from_utf8(forwarded.stdout).unwrap();
        if forwarded != native {
            let diff: Vec<String> = native
                .lines()
                .zip(forwarded.lines())
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("native:    {a}\nforwarded: {b}"))
                .collect();
            panic!("{transport}: output differs:\n{}\nstderr:\n{stderr}", diff.join("\n"));
        }
    }
}

#[test]
fn a_guest_without_a_server_fails_calls_with_the_api_error_and_a_clear_message() {
    let dir = scratch("no-server");
    let (_, program) = build_testlib(&dir);
    let generated = dir.join("generated");
    build(&root().join("tests/testlib/testlib.lapis"), &generated);
    let out = Command::new(&program)
        .arg("handles")
        .env("LD_LIBRARY_PATH", generated.join("lib"))
        .env("CAVA_SERVER", dir.join("nobody-listens.sock"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // the library's failure value, not a crash
    assert!(stdout.contains("handles: device_count=0 status=-3"), "{stdout}");
    assert!(stderr.contains("cannot reach the API server"), "{stderr}");
}

#[test]
fn unsupported_functions_and_functions_missing_from_the_spec_fail_without_aborting() {
    let dir = scratch("unsupported");
    let (native_dir, program) = build_testlib(&dir);
    let generated = dir.join("generated");
    build(&root().join("tests/testlib/testlib.lapis"), &generated);
    let socket = dir.join("server.sock");
    let _server = start_server(&generated.join("bin/cavatest-server"), &socket, &native_dir.join("libcavatest.so.1"));
    let out = Command::new(&program)
        .arg("unsupported")
        .env("LD_LIBRARY_PATH", generated.join("lib"))
        .env("CAVA_SERVER", &socket)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // `unsupported(TL_ERROR_NOT_SUPPORTED)` in the spec; the spec's failure value for the other
    assert!(stdout.contains("unsupported: debug_printf status=-4"), "{stdout}");
    assert!(stdout.contains("unsupported: not_in_spec status=-3"), "{stdout}");
    assert!(stderr.contains("tl_debug_printf is not supported by this spec"), "{stderr}");
    assert!(stderr.contains("tl_not_in_spec is in the header but not in the spec"), "{stderr}");
}
