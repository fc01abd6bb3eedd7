//! `cava build --compile` end to end: every spec's generated crates compile,
//! and the C test program of `tests/testlib` prints exactly the same thing
//! linked against the generated guest library (talking to the generated API
//! server, which runs the real library) as linked against the real library,
//! on both transports.

mod common;

use std::path::Path;
use std::process::Command;

use common::{build, root, scratch, start_server, start_server_env, start_server_with, testlib, wait_for_log};

#[test]
fn every_spec_compiles() {
    for spec in ["specs/cuda_figure_4_4.lapis", "tests/specs/every_descriptor.lapis"] {
        let name = Path::new(spec).file_stem().unwrap().to_string_lossy().to_string();
        build(&root().join(spec), &scratch(&name));
    }
}

/// Sections of the test program whose output must be the same forwarded
/// (`unsupported` differs by design: see its own test).
const SECTIONS: [&str; 18] = [
    "basic",
    "handles",
    "buffers",
    "strings",
    "structs",
    "callbacks",
    "once",
    "coupled",
    "map",
    "reuse",
    "async",
    "metadata",
    "threads",
    "retains",
    "release_race",
    "handover",
    "relay",
    "zerocopy",
];

#[test]
fn the_test_program_prints_the_same_through_the_guest_library_on_both_transports() {
    let lib = testlib();
    let (native_dir, program, generated) = (&lib.native, &lib.program, &lib.generated);
    let dir = scratch("same-output");

    let native = Command::new(program).args(SECTIONS).env("LD_LIBRARY_PATH", native_dir).output().unwrap();
    assert!(native.status.success());
    let native = String::from_utf8(native.stdout).unwrap();
    assert!(native.contains("== threads =="), "{native}");

    let socket = dir.join("server.sock");
    for transport in ["unix", "shm"] {
        // one API server per guest, as in production: the library keeps global state
        let _server = start_server(&lib.server(), &socket, &lib.library());
        let forwarded = Command::new(program)
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

/// Buffers larger than a message can carry are staged: with a 1 MiB limit
/// (`CAVA_MAX_MESSAGE`, read by both halves), the `staged` section's 3 to
/// 5 MiB in, out and in-out buffers (and an asynchronous call's) travel in
/// chunks before and after their calls, and the program prints what it
/// prints natively, on both transports.
#[test]
fn buffers_over_the_message_limit_are_staged_on_both_transports() {
    let lib = testlib();
    let native = Command::new(&lib.program).arg("staged").env("LD_LIBRARY_PATH", &lib.native).output().unwrap();
    assert!(native.status.success());
    let native = String::from_utf8(native.stdout).unwrap();
    assert!(native.contains("staged: finish status=0"), "{native}");
    let dir = scratch("staged");
    let socket = dir.join("server.sock");
    let limit: &[(&str, &str)] = &[("CAVA_MAX_MESSAGE", "1048576")];
    // the limit on both halves, on the guest only, on the server only
    for (server_env, guest_env) in [(limit, limit), (&[][..], limit), (limit, &[][..])] {
        for transport in ["unix", "shm"] {
            let _server = start_server_env(&lib.server(), &socket, &lib.library(), server_env);
            let forwarded = Command::new(&lib.program)
                .arg("staged")
                .env("LD_LIBRARY_PATH", lib.generated.join("lib"))
                .env("CAVA_SERVER", &socket)
                .env("CAVA_TRANSPORT", transport)
                .envs(guest_env.iter().copied())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&forwarded.stderr);
            let case = format!("{transport}, limit on server {}, on guest {}", !server_env.is_empty(), !guest_env.is_empty());
            assert!(forwarded.status.success(), "{case}: {stderr}");
            let forwarded = String::from_utf8(forwarded.stdout).unwrap();
            assert_eq!(forwarded, native, "{case}: output differs; stderr:\n{stderr}");
            assert!(stderr.is_empty(), "{case}: {stderr}");
        }
    }
}

/// A call that fails gave the vendor nothing to hold: the buffers the API
/// server kept for it go with it, so a guest that exits after refused reads
/// leaves no kept buffer behind (the server logs any it must leave).
#[test]
fn a_failed_call_leaves_no_kept_buffer_on_the_server() {
    // the server forgets a process once it has exited and its channels
    // closed, and logs then what it must leave (the section leaves two
    // objects, so the line comes; its lines about callbacks and released
    // objects come before it)
    let (stdout, log) = run_logged("failed-call-buffers", "async", "unix", " kept buffers (");
    assert!(stdout.contains("async: read past the end first_error=-2"), "{stdout}");
    assert!(log.contains(" left ") && log.contains(" and 0 kept buffers (0 bytes)"), "{log}");
}

/// Runs a section of the test program against a server of its own (in
/// scratch directory `dir`), on `transport`, and returns its output and
/// the server's log once the log has `last_line` (what the server writes
/// last about a process that left).
fn run_logged(dir: &str, section: &str, transport: &str, last_line: &str) -> (String, String) {
    let lib = testlib();
    let dir = scratch(dir);
    let socket = dir.join("server.sock");
    let log = dir.join("server.log");
    let server = start_server_with(&lib.server(), &socket, &lib.library(), &[], std::fs::File::create(&log).unwrap().into());
    let run = Command::new(&lib.program)
        .arg(section)
        .env("LD_LIBRARY_PATH", lib.generated.join("lib"))
        .env("CAVA_SERVER", &socket)
        .env("CAVA_TRANSPORT", transport)
        .output()
        .unwrap();
    assert!(run.status.success(), "{transport}: {}", String::from_utf8_lossy(&run.stderr));
    wait_for_log(&log, last_line);
    drop(server);
    (String::from_utf8_lossy(&run.stdout).into_owned(), std::fs::read_to_string(&log).unwrap())
}

/// [`run_logged`] until the server has counted the callback registrations
/// the process left.
fn run_and_count_registrations(section: &str, transport: &str) -> (String, String) {
    run_logged(&format!("{section}-callbacks-{transport}"), section, transport, "callback registrations")
}

/// A `lifetime(once)` callback's registration ends with its call, on both
/// sides, or with the call that made it when that call fails; the lasting
/// one beside them stays until the process leaves. The server counts what
/// the process left when its callback route closes.
#[test]
fn once_callbacks_leave_no_registration_behind() {
    for transport in ["unix", "shm"] {
        let (stdout, log) = run_and_count_registrations("once", transport);
        assert!(stdout.contains("once: 8 rounds, 64 of 64 called exactly once"), "{stdout}");
        assert!(stdout.contains("once: on_finish statuses=[0,0,0,0,0,0,0,0,-6]"), "{stdout}");
        // tl_set_notify's, and none of the 74 once registrations (one refused)
        assert!(log.contains(" left 1 callback registrations, now forgotten"), "{transport}: {log}");
    }
}

/// A `lifetime(coupled(return_value))` callback's registration ends with the
/// object the call returned, a `lifetime(coupled(queue))` one with the queue
/// passed in: nine queues created with a notify (one of them refused by the
/// library) and one watched, all released, leave only the lasting
/// registration of a `tl_set_notify` beside them. (Without the releases,
/// the server would count eleven.)
#[test]
fn coupled_callbacks_end_with_their_object() {
    for transport in ["unix", "shm"] {
        let (stdout, log) = run_and_count_registrations("coupled", transport);
        assert!(stdout.contains("coupled: release_queue status=0 notify_calls=3"), "{stdout}");
        assert!(stdout.contains("coupled: create(NULL device) status=-1 valid=0"), "{stdout}");
        assert!(stdout.contains("coupled: finish and release x8 statuses=[0,0,0,0,0,0,0,0] notify_calls=16"), "{stdout}");
        // coupled to the queue passed in: called at the finish and the release
        assert!(stdout.contains("coupled: watch, finish and release status=0 notify_calls=18"), "{stdout}");
        assert!(log.contains(" left 1 callback registrations, now forgotten"), "{transport}: {log}");
    }
}

/// A process that leaves without releasing its objects: the server
/// releases them with the spec's `release_at_exit` functions (a retained
/// memory object once per retain, too), so the next process of the same
/// server finds the library holding nothing of it.
#[test]
fn a_departed_process_objects_are_released_by_the_server() {
    let lib = testlib();
    let dir = scratch("departure");
    let socket = dir.join("server.sock");
    let log = dir.join("server.log");
    let server = start_server_with(&lib.server(), &socket, &lib.library(), &[], std::fs::File::create(&log).unwrap().into());
    let run = |section: &str| {
        let out = Command::new(&lib.program)
            .arg(section)
            .env("LD_LIBRARY_PATH", lib.generated.join("lib"))
            .env("CAVA_SERVER", &socket)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run("live").contains("live: objects=0"));
    let leave = run("leave");
    assert!(leave.contains("leave: statuses=[0,0,0,0,0,0] release=0 live=1,1,1,1"), "{leave}");
    wait_for_log(&log, "the spec says how to release");
    let live = run("live");
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    // two memory objects (one retained twice, released once: 2 more calls,
    // and 1 for the other), a queue and a kernel; the two devices stay
    assert!(log.contains("left 4 objects the spec says how to release: released with 5 calls (0 refused by the library)"), "{log}");
    assert!(live.contains("live: objects=0"), "{live}\n{log}");
}

/// A process that leaves with reads pending: the API server kept a buffer
/// for each (`lifetime(manual)`). Once the process has gone, it brings the
/// reads back with the call the spec gives for that (`tl_queue_finish` on
/// the queue their registry entry names), releases the queue and the
/// memory, and frees the two buffers; before, they stayed allocated until
/// the server exited, so a tenant could grow the server at will.
#[test]
fn a_departed_process_pending_reads_are_brought_back_and_their_buffers_freed() {
    let lib = testlib();
    for transport in ["unix", "shm"] {
        let dir = scratch(&format!("departure-reads-{transport}"));
        let socket = dir.join("server.sock");
        let log = dir.join("server.log");
        let server = start_server_with(&lib.server(), &socket, &lib.library(), &[], std::fs::File::create(&log).unwrap().into());
        let run = |section: &str| {
            let out = Command::new(&lib.program)
                .arg(section)
                .env("LD_LIBRARY_PATH", lib.generated.join("lib"))
                .env("CAVA_SERVER", &socket)
                .env("CAVA_TRANSPORT", transport)
                .output()
                .unwrap();
            assert!(out.status.success(), "{transport}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let left = run("leave_reads");
        assert!(left.contains("leave_reads: statuses=[0,0,0,0,0,0] pending=3"), "{transport}: {left}");
        // the last line the server writes about a departed process
        wait_for_log(&log, "stay allocated until the server exits");
        let live = run("live");
        drop(server);
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(
            log.contains("left reads pending: brought back with 1 calls (tl_queue_finish; 0 failed); 2 kept buffers (320 bytes) freed"),
            "{transport}: {log}"
        );
        assert!(
            log.contains(
                "left 2 objects the spec says how to release: released with 2 calls (0 refused by the library); \
                 1 kept buffers coupled to them (12 bytes) freed"
            ),
            "{transport}: {log}"
        );
        // the two devices it was handed stay the library's; no buffer stays
        assert!(log.contains("left 2 live objects and 0 kept buffers (0 bytes)"), "{transport}: {log}");
        assert!(live.contains("live: objects=0"), "{transport}: {live}\n{log}");
    }
}

/// A callback without userdata goes to the process whose call the library
/// is serving: process A's second `tl_map`, after process B registered its
/// own function, still calls A's (before, the latest registration of all
/// won, and A's values went to B's function in B's process).
#[test]
fn a_callback_without_userdata_stays_with_its_process() {
    use std::io::{BufRead, Write};
    let lib = testlib();
    let dir = scratch("map-isolation");
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());
    let guest = |section: &str| {
        let mut c = Command::new(&lib.program);
        c.arg(section).env("LD_LIBRARY_PATH", lib.generated.join("lib")).env("CAVA_SERVER", &socket);
        c
    };
    let mut a = guest("map_wait").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut a_out = std::io::BufReader::new(a.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("map: add_one ") {
        line.clear();
        assert!(a_out.read_line(&mut line).unwrap() > 0, "process A ended early");
    }
    assert!(line.contains("[2,3,4,5]"), "{line}");
    let b = guest("map_other").output().unwrap();
    assert!(String::from_utf8_lossy(&b.stdout).contains("map: times_ten [10,20,30,40] status=0"));
    a.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut a_out, &mut rest).unwrap();
    assert!(a.wait().unwrap().success());
    assert!(rest.contains("map: add_one after the other [2,3,4,5] status=0"), "{rest}");
}

#[test]
fn a_guest_without_a_server_fails_calls_with_the_api_error_and_a_clear_message() {
    let dir = scratch("no-server");
    let lib = testlib();
    let out = Command::new(&lib.program)
        .arg("handles")
        .env("LD_LIBRARY_PATH", lib.generated.join("lib"))
        .env("CAVA_SERVER", dir.join("nobody-listens.sock"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // the library's failure value, not a crash
    assert!(stdout.contains("handles: device_count=0 status=-3"), "{stdout}");
    assert!(stderr.contains("cannot reach the API server"), "{stderr}");
}

/// A guest library whose embedded plan does not load (here the built
/// library's copy of the plan has another layout hash, as a library built
/// by another `cava` would) answers every call with the spec's failure
/// value, NULL and the failure in `errcode_ret` for a creation, and says
/// why once on standard error. Before, every call returned 0: `TL_SUCCESS`,
/// for calls that never happened.
#[test]
fn a_guest_whose_plan_does_not_load_fails_calls_with_the_api_error_and_says_why_once() {
    let lib = testlib();
    let dir = scratch("unloaded-plan");
    let plan = std::fs::read(lib.generated.join("plan.bin")).unwrap();
    let mut guest = std::fs::read(lib.generated.join("lib/libcavatest.so.1")).unwrap();
    let at = guest.windows(plan.len()).position(|w| w == plan).expect("the guest library embeds plan.bin as it is");
    // the layout hash after "CAVAPLAN"
    guest[at + 8] ^= 0xff;
    let libdir = dir.join("lib");
    std::fs::create_dir_all(&libdir).unwrap();
    std::fs::write(libdir.join("libcavatest.so.1"), &guest).unwrap();
    // a server that would answer: the calls fail for want of a plan
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());
    let out = Command::new(&lib.program)
        .args(["handles", "unsupported"])
        .env("LD_LIBRARY_PATH", &libdir)
        .env("CAVA_SERVER", &socket)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // TL_ERROR_UNKNOWN (-3), the spec's failure
    assert!(stdout.contains("handles: device_count=0 status=-3"), "{stdout}");
    assert!(stdout.contains("handles: mem_create size=256 status=-3 valid=0"), "{stdout}");
    // a function the spec leaves out fails the same way
    assert!(stdout.contains("unsupported: not_in_spec status=-3"), "{stdout}");
    assert_eq!(stderr.matches("the embedded plan does not load").count(), 1, "{stderr}");
    assert!(stderr.contains("every call fails with the API's failure value"), "{stderr}");
}

#[test]
fn unsupported_functions_and_functions_missing_from_the_spec_fail_without_aborting() {
    let dir = scratch("unsupported");
    let lib = testlib();
    let socket = dir.join("server.sock");
    let _server = start_server(&lib.server(), &socket, &lib.library());
    let out = Command::new(&lib.program)
        .arg("unsupported")
        .env("LD_LIBRARY_PATH", lib.generated.join("lib"))
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

/// A process that makes and releases many objects does not grow the guest
/// library or the API server: each kept a block of metadata (the object's
/// count of retains) for every object the process had ever released, for
/// as long as the process lived (the server dropped its block, then the
/// release's statements made it again). The program checks its own
/// growth, the server's log counts the blocks of released objects that it
/// still held when the process left.
#[test]
fn released_objects_leave_no_metadata_behind() {
    let lib = testlib();
    let native = Command::new(&lib.program).arg("churn").env("LD_LIBRARY_PATH", &lib.native).output().unwrap();
    let expected = "== churn ==\nchurn: errors=0 grew under 2 MiB\n";
    assert_eq!(String::from_utf8_lossy(&native.stdout), expected);
    for transport in ["unix", "shm"] {
        // the devices it was handed stay the library's, and are the line's cause
        let (stdout, log) = run_logged(&format!("churn-{transport}"), "churn", transport, "blocks of metadata of released objects");
        assert_eq!(stdout, expected, "{transport}");
        assert!(log.contains("left 2 live objects and 0 kept buffers (0 bytes)"), "{transport}: {log}");
        assert!(log.contains("; 0 blocks of metadata of released objects"), "{transport}: {log}");
    }
}
