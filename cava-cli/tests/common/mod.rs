//! What the end-to-end tests of `cava build` share: building specs and the
//! C test library, and running API servers.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target").join("cava-build-tests").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Generates and compiles `spec` into `out`, sharing one target folder
/// between tests so the runtime is compiled once.
pub fn build(spec: &Path, out: &Path) {
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

/// The real library and the test program, built with the C compiler.
pub fn build_testlib(dir: &Path) -> (PathBuf, PathBuf) {
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
    let migrate_c = src.join("migrate.c");
    let include = format!("-I{}", src.display());
    run(&["-std=c99", "-O1", &include, "-o", "migrate", migrate_c.to_str().unwrap(), "-L.", "-l:libcavatest.so.1"]);
    (native.clone(), native.join("program"))
}

/// The C test library, its programs, and the guest library and API server
/// generated from its spec.
pub struct Testlib {
    /// Folder of the real `libcavatest.so.1` and the programs.
    pub native: PathBuf,
    pub program: PathBuf,
    pub migrate: PathBuf,
    /// `cava build` output: `lib/`, `bin/cavatest-server`, the crates.
    pub generated: PathBuf,
}

impl Testlib {
    pub fn server(&self) -> PathBuf {
        self.generated.join("bin/cavatest-server")
    }

    pub fn library(&self) -> PathBuf {
        self.native.join("libcavatest.so.1")
    }
}

/// The test library, built once per test binary: the tests of a binary
/// run in parallel threads, and two builds of the same generated crates
/// into the shared target folder overwrite each other's binaries while
/// another test copies or runs them.
pub fn testlib() -> &'static Testlib {
    static BUILT: OnceLock<Testlib> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = scratch("testlib");
        let (native, program) = build_testlib(&dir);
        let generated = dir.join("generated");
        build(&root().join("tests/testlib/testlib.lapis"), &generated);
        Testlib { migrate: native.join("migrate"), native, program, generated }
    })
}

pub struct Server(Child);

impl Server {
    /// Whether the server process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the server's log at `log` says `needle` (up to 10 s): the
/// server logs what a guest process left once the process has exited and
/// its connections have closed, a moment after the guest's own exit.
pub fn wait_for_log(log: &Path, needle: &str) {
    let start = Instant::now();
    while !std::fs::read_to_string(log).unwrap_or_default().contains(needle) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn start_server(binary: &Path, socket: &Path, library: &Path) -> Server {
    start_server_with(binary, socket, library, &[], Stdio::null())
}

/// An API server with environment variables `env` (`CAVA_MAX_MESSAGE`).
pub fn start_server_env(binary: &Path, socket: &Path, library: &Path, env: &[(&str, &str)]) -> Server {
    start_server_env_logged(binary, socket, library, env, Stdio::null())
}

/// An API server with environment variables `env` and its standard error
/// going to `stderr`.
pub fn start_server_env_logged(binary: &Path, socket: &Path, library: &Path, env: &[(&str, &str)], stderr: Stdio) -> Server {
    let _ = std::fs::remove_file(socket);
    let child = Command::new(binary)
        .arg("--socket")
        .arg(socket)
        .arg("--library")
        .arg(library)
        .envs(env.iter().copied())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "the API server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child)
}

/// An API server with more arguments (`--record`, `--replay`) and its
/// standard error going to `stderr`.
pub fn start_server_with(binary: &Path, socket: &Path, library: &Path, args: &[&std::ffi::OsStr], stderr: Stdio) -> Server {
    let _ = std::fs::remove_file(socket);
    let child = Command::new(binary).arg("--socket").arg(socket).arg("--library").arg(library).args(args).stderr(stderr).spawn().unwrap();
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "the API server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child)
}
