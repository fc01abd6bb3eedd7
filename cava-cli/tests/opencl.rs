//! OpenCL end to end: the guest library and API server generated from
//! `specs/opencl.lapis` run the C programs of `examples/opencl` on the
//! system's OpenCL library (PoCL in CI, installed by `scripts/env.sh`), and
//! each prints exactly what it prints natively, on both transports.
//!
//! Skipped, with a message, where no OpenCL library or header is installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{build, root, scratch, start_server, start_server_env, start_server_with, wait_for_log};

/// The system's OpenCL library (the ICD loader), when one is installed
/// with a device behind it and the header to compile the examples.
fn opencl() -> Option<PathBuf> {
    let header = ["/usr/include/CL/cl.h", "/usr/local/include/CL/cl.h"].iter().any(|h| Path::new(h).exists());
    let library = ["/usr/lib/x86_64-linux-gnu/libOpenCL.so.1", "/usr/lib/aarch64-linux-gnu/libOpenCL.so.1", "/usr/lib64/libOpenCL.so.1"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let icds = std::fs::read_dir("/etc/OpenCL/vendors").map(|d| d.count()).unwrap_or(0);
    match library {
        Some(library) if header && icds > 0 => Some(library),
        _ => {
            println!("skipped: no OpenCL library, header or ICD installed (scripts/env.sh installs PoCL)");
            None
        }
    }
}

/// Compiles `examples/opencl/NAME.c` against the system's OpenCL library.
fn build_example(dir: &Path, name: &str) -> PathBuf {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let source = root().join("examples/opencl").join(format!("{name}.c"));
    let binary = dir.join(name);
    let status = Command::new(&cc)
        .args(["-std=c99", "-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .args(["-lOpenCL", "-lm", "-lpthread"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{cc} {}", source.display());
    binary
}

#[test]
fn the_opencl_examples_print_the_same_through_the_guest_library_on_both_transports() {
    let Some(library) = opencl() else { return };
    let dir = scratch("opencl");
    let generated = dir.join("generated");
    build(&root().join("specs/opencl.lapis"), &generated);
    // small sizes: PoCL compiles each kernel on first use
    let programs: [(&str, &[&str]); 12] = [
        ("vector_add", &["4096"]),
        ("matrix_multiply", &["48"]),
        ("build_log", &[]),
        ("mapped_buffers", &["1024"]),
        // 1 MiB: a region-backed buffer, mapped in place
        ("mapped_buffers", &["262144"]),
        ("mapped_images", &["37"]),
        ("reduction", &["4096"]),
        // 1 MiB reads: over shared memory through the zero-copy region
        ("async_reads", &["262144"]),
        // 256 KiB: maps and copies through the zero-copy region too
        ("svm", &["65536"]),
        // functions fetched by name are the guest's own, and they forward
        ("extension_functions", &[]),
        // buffers in the process region, used in place by PoCL
        ("large_transfers", &["4"]),
        // two threads' calls on one queue, ordered by the application
        ("handover", &["400"]),
    ];
    let socket = dir.join("server.sock");
    for (name, args) in programs {
        let program = build_example(&dir, name);
        let native = Command::new(&program).args(args).output().unwrap();
        let native_out = String::from_utf8(native.stdout).unwrap();
        assert!(native.status.success(), "{name} natively: {native_out}");
        // the reads again with calls limited to 256 KiB: blocking reads and
        // writes are staged, non-blocking reads split by the spec, replies
        // too large staged by the server; with the limit on the guest only,
        // which must still take the server's larger replies; and with the
        // limit on the server only
        // (server's limit, guest's limit): "" is the default (256 MiB)
        let limits: &[(&str, &str)] =
            if name == "async_reads" { &[("", ""), ("262144", "262144"), ("", "262144"), ("262144", "")] } else { &[("", "")] };
        for (transport, (server_limit, guest_limit)) in ["unix", "shm"].into_iter().flat_map(|t| limits.iter().map(move |l| (t, *l))) {
            let limit = format!("limits {server_limit:?} {guest_limit:?}");
            // one API server per guest, as in production
            let env: &[(&str, &str)] = if server_limit.is_empty() { &[] } else { &[("CAVA_MAX_MESSAGE", server_limit)] };
            let _server = start_server_env(&generated.join("bin/opencl-server"), &socket, &library, env);
            let mut command = Command::new(&program);
            command.args(args).env("LD_LIBRARY_PATH", generated.join("lib")).env("CAVA_SERVER", &socket).env("CAVA_TRANSPORT", transport);
            if !guest_limit.is_empty() {
                command.env("CAVA_MAX_MESSAGE", guest_limit);
            }
            let forwarded = command.output().unwrap();
            let stderr = String::from_utf8_lossy(&forwarded.stderr);
            let forwarded_out = String::from_utf8(forwarded.stdout).unwrap();
            assert!(forwarded.status.success(), "{name} on {transport} {limit}: {forwarded_out}\nstderr:\n{stderr}");
            assert_eq!(forwarded_out, native_out, "{name} on {transport} {limit}: output differs\nstderr:\n{stderr}");
            // the guest carries the loader's symbol versions
            assert!(!stderr.contains("no version information"), "{stderr}");
            // released buffers give their region blocks back: 24 rounds of
            // 64 MiB fit in the 1 GiB region one after the other
            assert!(!stderr.contains("does not fit in this process's zero-copy region"), "{name} on {transport}: {stderr}");
        }
    }

    // the SVM errors only the guest reports (natively PoCL takes any pointer)
    let program = dir.join("svm");
    for transport in ["unix", "shm"] {
        let _server = start_server(&generated.join("bin/opencl-server"), &socket, &library);
        let forwarded = Command::new(&program)
            .args(["128", "forwarded"])
            .env("LD_LIBRARY_PATH", generated.join("lib"))
            .env("CAVA_SERVER", &socket)
            .env("CAVA_TRANSPORT", transport)
            .output()
            .unwrap();
        let out = String::from_utf8(forwarded.stdout).unwrap();
        assert!(forwarded.status.success(), "svm forwarded on {transport}: {out}");
        let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("forwarded: ")).collect();
        assert_eq!(
            errors,
            [
                "forwarded: fine-grain allocation: NULL",
                "forwarded: argument outside: -50",
                "forwarded: argument past the end: -50",
                "forwarded: exec info outside: -30",
                "forwarded: fine-grain system: -59",
                "forwarded: map past the end: -30",
                "forwarded: map outside: -30",
                "forwarded: unmap outside: -30",
                "forwarded: fill past the end: -30",
                "forwarded: fill outside: -30",
                "forwarded: copy past the end: -30",
                "forwarded: buffer past the end: NULL -37",
                "forwarded: migrate outside: -30",
            ],
            "svm on {transport}: {out}"
        );
        assert!(out.ends_with("PASSED\n"), "svm on {transport}: {out}");
    }

    // a buffer the zero-copy region cannot hold is created and transferred
    // as any other, and the guest says so once
    let large = dir.join("large_transfers");
    let native = Command::new(&large).args(["4", "full"]).output().unwrap();
    let native = String::from_utf8(native.stdout).unwrap();
    assert!(native.ends_with("PASSED\n"), "large_transfers full natively: {native}");
    let _server = start_server(&generated.join("bin/opencl-server"), &socket, &library);
    let forwarded = Command::new(&large)
        .args(["4", "full"])
        .env("LD_LIBRARY_PATH", generated.join("lib"))
        .env("CAVA_SERVER", &socket)
        .env("CAVA_TRANSPORT", "shm")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&forwarded.stderr);
    assert_eq!(String::from_utf8(forwarded.stdout).unwrap(), native, "large_transfers full: {stderr}");
    assert_eq!(stderr.matches("does not fit in this process's zero-copy region").count(), 1, "{stderr}");
    drop(_server);

    // a process that leaves SVM allocations, a sub-device, its queue and its
    // context: the server frees them (`release_at_exit`, the SVM free with the
    // allocation's own context)
    let log = dir.join("server.log");
    let server =
        start_server_with(&generated.join("bin/opencl-server"), &socket, &library, &[], std::fs::File::create(&log).unwrap().into());
    let left = Command::new(&program)
        .args(["128", "leave"])
        .env("LD_LIBRARY_PATH", generated.join("lib"))
        .env("CAVA_SERVER", &socket)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).contains("left two allocations and 1 sub-device"),
        "{}",
        String::from_utf8_lossy(&left.stdout)
    );
    wait_for_log(&log, "the spec says how to release");
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    // the sub-device twice (it was retained), the root device not at all
    assert!(log.contains("left 5 objects the spec says how to release: released with 6 calls (0 refused by the library)"), "{log}");

    // a process that leaves two non-blocking reads pending (one with an
    // event): the server kept a buffer for each; once the process has gone
    // it finishes the queue (clFinish, before releasing it: a released
    // queue's commands may still run), releases the event, the memory, the
    // queue and the context, and then frees the two buffers (4096 and 2048
    // bytes); before, they stayed allocated until the server exited
    let program = dir.join("async_reads");
    for transport in ["unix", "shm"] {
        let log = dir.join(format!("server-reads-{transport}.log"));
        let server =
            start_server_with(&generated.join("bin/opencl-server"), &socket, &library, &[], std::fs::File::create(&log).unwrap().into());
        let left = Command::new(&program)
            .args(["1024", "leave"])
            .env("LD_LIBRARY_PATH", generated.join("lib"))
            .env("CAVA_SERVER", &socket)
            .env("CAVA_TRANSPORT", transport)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&left.stdout).contains("left 2 reads pending"), "{}", String::from_utf8_lossy(&left.stdout));
        wait_for_log(&log, "stay allocated until the server exits");
        drop(server);
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(
            log.contains("left reads pending: brought back with 1 calls (clFinish; 0 failed); 2 kept buffers (6144 bytes) freed"),
            "{transport}: {log}"
        );
        assert!(log.contains("left 4 objects the spec says how to release"), "{transport}: {log}");
        assert!(log.contains(" and 0 kept buffers (0 bytes)"), "{transport}: {log}");
    }

    // clinfo, unmodified, through `cava run`
    if Command::new("clinfo").arg("--version").output().is_err() {
        println!("skipped clinfo: not installed (scripts/env.sh installs it)");
        return;
    }
    let native = Command::new("clinfo").output().unwrap();
    let forwarded = Command::new(env!("CARGO_BIN_EXE_cava"))
        .args(["run", "--debug", "--offline", "--transport", "shm", "--dir"])
        .arg(&generated)
        .arg(root().join("specs/opencl.lapis"))
        .args(["--", "clinfo"])
        .env("CARGO_TARGET_DIR", root().join("target").join("cava-build-tests").join("target"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&forwarded.stderr);
    assert!(forwarded.status.success(), "cava run -- clinfo: {stderr}");
    let (native, forwarded) = (coarse_grain_svm_only(&comparable_clinfo(&native.stdout)), comparable_clinfo(&forwarded.stdout));
    assert!(native.lines().count() > 50, "{native}");
    assert!(native.contains("ICD loader Name"), "{native}");
    assert_eq!(forwarded, native, "clinfo differs through cava run\nstderr:\n{stderr}");
}

/// clinfo's output as the guest must change it: of the device's SVM
/// capabilities only coarse-grain buffer sharing is offered.
fn coarse_grain_svm_only(clinfo: &str) -> String {
    let mut out = String::new();
    for line in clinfo.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("Fine-grained") || trimmed.starts_with("Atomics") {
            out.push_str(&line.replace("Yes", "No"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// clinfo's output without what legitimately differs through CAVA (see the
/// book's OpenCL chapter): memory figures PoCL derives from the memory free
/// at the time. The ICD loader's properties must match: the guest forwards
/// the loader's extension function to the server's loader.
fn comparable_clinfo(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let mut out = String::new();
    for line in text.lines() {
        if line.contains("Global memory size") || line.contains("Global free memory") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// A guest that sends no fences (`CAVA_FENCES=0`, as an older or a hostile
/// one) gets its threads' calls out of their order, and wrong data, but
/// cannot crash the API server: a call that freed a kept buffer it had
/// found (`clFinish` bringing a read back) freed it also when another
/// thread's read had taken it over meanwhile, or had made a new one at
/// the same key, and PoCL then wrote into freed memory (the server aborted
/// with a corrupted heap in 3 of 6 runs of 1,000 rounds). A kept buffer is
/// now freed only by the call that found it, and never while another call
/// in flight hands it to the vendor.
#[test]
fn a_guest_without_fences_cannot_crash_the_server() {
    let Some(library) = opencl() else { return };
    let dir = scratch("opencl-unfenced");
    let generated = dir.join("generated");
    build(&root().join("specs/opencl.lapis"), &generated);
    let program = build_example(&dir, "handover");
    let socket = dir.join("server.sock");
    for transport in ["unix", "shm"] {
        let mut server = start_server_env(&generated.join("bin/opencl-server"), &socket, &library, &[]);
        for _ in 0..3 {
            let out = Command::new(&program)
                .arg("1000")
                .env("LD_LIBRARY_PATH", generated.join("lib"))
                .env("CAVA_SERVER", &socket)
                .env("CAVA_TRANSPORT", transport)
                .env("CAVA_FENCES", "0")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(server.is_running(), "{transport}: the API server died\n{stdout}");
            // its threads' calls reached the server in any order: some reads are stale, no call failed
            assert!(
                stdout.contains("handover: rounds=1000 errors=0,0 "),
                "{transport}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
