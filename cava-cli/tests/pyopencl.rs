//! A part of pyopencl's test suite through the guest library generated from
//! `specs/opencl.lapis`: Debian's `python3-pyopencl` (which links the
//! system's `libOpenCL.so.1`, so `LD_LIBRARY_PATH` puts the guest library in
//! its place) runs `test_wrapper.py`, `test_enqueue_copy.py` and
//! `test_array.py::test_get_async` and
//! `test_array.py::test_arrays_with_svm_allocators` of the matching sdist natively and
//! forwarded, on both transports, and the counts of passed, failed, skipped
//! and xfailed tests must be the same.
//!
//! The tests known not to pass forwarded (`DESELECTED`, with the reason) are
//! left out of both runs; the book's OpenCL chapter lists them.
//!
//! `scripts/env.sh` installs the packages and fetches the sdist (into
//! `~/.cache/cava`, or `CAVA_PYOPENCL_TESTS` names its `test` folder); the
//! test says it was skipped where either is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{build, root, scratch, start_server};

/// Debian's interpreter: the one `python3-pyopencl` is installed for.
const PYTHON: &str = "/usr/bin/python3";

/// The test files (and single tests) run, from the sdist's `test` folder.
/// `test_get_async` waits for the event of a non-blocking read that waits
/// for a user event set after the read is enqueued;
/// `test_arrays_with_svm_allocators` allocates arrays with SVM allocators
/// and pools.
const FILES: [&str; 4] =
    ["test_wrapper.py", "test_enqueue_copy.py", "test_array.py::test_get_async", "test_array.py::test_arrays_with_svm_allocators"];

/// Tests whose result differs forwarded, by node id prefix (see the book).
const DESELECTED: [(&str, &str); 1] = [(
    "test_wrapper.py::test_fine_grain_svm[",
    "fine-grain SVM is not offered through CAVA: the test passes natively and is skipped forwarded",
)];

fn tests_folder() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("CAVA_PYOPENCL_TESTS") {
        return Some(PathBuf::from(dir)).filter(|d| d.join(FILES[0]).exists());
    }
    let cache =
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(cache.join("cava/pyopencl-2022.3.1/pyopencl-2022.3.1/test")).filter(|d| d.join(FILES[0]).exists())
}

fn pyopencl_installed() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import pyopencl, pytest, mako"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn opencl_library() -> Option<PathBuf> {
    let icds = std::fs::read_dir("/etc/OpenCL/vendors").map(|d| d.count()).unwrap_or(0);
    ["/usr/lib/x86_64-linux-gnu/libOpenCL.so.1", "/usr/lib/aarch64-linux-gnu/libOpenCL.so.1", "/usr/lib64/libOpenCL.so.1"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .filter(|_| icds > 0)
}

/// Runs the subset with pytest in `tests`, with `env` added; returns the
/// counts from pytest's summary line (e.g. `43 passed, 1 skipped`), sorted
/// by outcome, and the whole output.
fn pytest(tests: &Path, env: &[(&str, &std::ffi::OsStr)]) -> (Vec<(String, u32)>, String) {
    let mut command = Command::new(PYTHON);
    command.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"]).args(FILES);
    for (prefix, _) in DESELECTED {
        // node ids are relative to the rootdir pytest chooses: the sdist's
        // (test/...) or the test folder
        command.arg("--deselect").arg(prefix).arg("--deselect").arg(format!("test/{prefix}"));
    }
    command.current_dir(tests).env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && (l.contains("passed") || l.contains("failed")))
        .unwrap_or_else(|| panic!("no pytest summary in:\n{text}"));
    let mut counts: Vec<(String, u32)> = summary
        .trim_matches(|c: char| c == '=' || c.is_whitespace())
        .split(" in ")
        .next()
        .unwrap()
        .split(", ")
        .filter_map(|part| {
            let (n, what) = part.trim().split_once(' ')?;
            // "deselected" depends only on the arguments; the rest is the result
            if what == "deselected" || what.starts_with("warning") {
                return None;
            }
            Some((what.to_string(), n.parse().ok()?))
        })
        .collect();
    counts.sort();
    (counts, text)
}

#[test]
fn a_part_of_the_pyopencl_suite_gives_the_same_results_through_the_guest_library() {
    let Some(library) = opencl_library() else {
        println!("skipped: no OpenCL library or ICD installed (scripts/env.sh installs PoCL)");
        return;
    };
    if !pyopencl_installed() {
        println!("skipped: {PYTHON} cannot import pyopencl, pytest and mako (scripts/env.sh installs python3-pyopencl python3-pytest python3-mako)");
        return;
    }
    let Some(tests) = tests_folder() else {
        println!("skipped: pyopencl 2022.3.1's test suite is not in ~/.cache/cava (scripts/env.sh fetches it with pip download) nor in CAVA_PYOPENCL_TESTS");
        return;
    };
    let dir = scratch("pyopencl");
    let generated = dir.join("generated");
    build(&root().join("specs/opencl.lapis"), &generated);

    let (native, native_text) = pytest(&tests, &[]);
    assert!(native.iter().any(|(what, n)| what == "passed" && *n > 30), "natively:\n{native_text}");
    let socket = dir.join("server.sock");
    let lib = generated.join("lib");
    for transport in ["shm", "unix"] {
        // one API server per guest, as in production
        let server = start_server(&generated.join("bin/opencl-server"), &socket, &library);
        let (forwarded, text) = pytest(
            &tests,
            &[
                ("LD_LIBRARY_PATH", lib.as_os_str()),
                ("CAVA_SERVER", socket.as_os_str()),
                ("CAVA_TRANSPORT", transport.as_ref()),
                ("CAVA_LOG", "quiet".as_ref()),
            ],
        );
        drop(server);
        println!("{transport}: natively {native:?}, forwarded {forwarded:?}");
        assert_eq!(forwarded, native, "pyopencl on {transport}: counts differ\nforwarded:\n{text}\nnatively:\n{native_text}");
    }
}
