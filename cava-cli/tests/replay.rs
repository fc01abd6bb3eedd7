//! Record and replay: a program is moved to a fresh API server in the
//! middle of its run. The first server records the calls the spec marks
//! `obj_record`; the second replays that log before serving, re-creating
//! the program's objects under the ids the program holds; the program goes
//! on as if nothing happened.

mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::{scratch, start_server_with, testlib};

#[test]
fn a_program_moved_to_a_server_that_replayed_the_record_log_goes_on_with_its_handles() {
    let dir = scratch("replay");
    let lib = testlib();
    let (migrate, native_dir, generated) = (&lib.migrate, &lib.native, &lib.generated);
    let (server, library) = (lib.server(), lib.library());

    let native = Command::new(migrate).env("LD_LIBRARY_PATH", native_dir).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    native.stdin.as_ref().unwrap().write_all(b"go\n").unwrap();
    let native = String::from_utf8(native.wait_with_output().unwrap().stdout).unwrap();
    assert!(native.contains("values: 42 42 42 42 42 42 42 42"), "{native}");

    let socket = dir.join("server.sock");
    let (first_log, second_log) = (dir.join("first.log"), dir.join("second.log"));
    let first = start_server_with(&server, &socket, &library, &[OsStr::new("--record"), first_log.as_os_str()], Stdio::null());
    let mut program = Command::new(migrate)
        .env("LD_LIBRARY_PATH", generated.join("lib"))
        .env("CAVA_SERVER", &socket)
        .env("CAVA_TRANSPORT", "unix")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = program.id();
    let mut stdout = BufReader::new(program.stdout.take().unwrap());
    let mut forwarded = String::new();
    while !forwarded.contains("== paused ==") {
        assert_ne!(stdout.read_line(&mut forwarded).unwrap(), 0, "the program ended before pausing:\n{forwarded}");
    }
    drop(first); // the first server is gone, with all its objects

    let replay_log = dir.join("replay.err");
    let _second = start_server_with(
        &server,
        &socket,
        &library,
        &[OsStr::new("--replay"), first_log.as_os_str(), OsStr::new("--record"), second_log.as_os_str()],
        Stdio::from(std::fs::File::create(&replay_log).unwrap()),
    );
    program.stdin.as_ref().unwrap().write_all(b"go\n").unwrap();
    std::io::Read::read_to_string(&mut stdout, &mut forwarded).unwrap();
    let output = program.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(forwarded, native, "guest stderr:\n{stderr}\nserver:\n{}", std::fs::read_to_string(&replay_log).unwrap());
    assert!(stderr.contains("reconnecting"), "{stderr}");
    let server_log = std::fs::read_to_string(&replay_log).unwrap();
    assert!(server_log.contains("replayed 6 recorded calls (0 failed)"), "{server_log}");
    // the second server recorded the replayed calls, then what the program
    // did after the move
    let (entries, truncated) = cava_runtime::marshal::record::decode(&std::fs::read(&second_log).unwrap());
    assert!(!truncated);
    assert_eq!(entries.iter().filter(|(_, e)| matches!(e, cava_runtime::marshal::record::Entry::Record { .. })).count(), 6);
    // every entry is the program's own (its process id)
    assert!(entries.iter().all(|(owner, _)| owner.pid == pid), "{entries:?}");
    // all released but the devices, which live as long as the library: only
    // the call that handed them out is left to replay
    let live = cava_runtime::marshal::record::live(&entries);
    assert_eq!(live.len(), 1, "{entries:?}");
    assert_eq!(live[0].1.len(), 2, "the two devices");
}
