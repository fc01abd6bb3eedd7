//! `cava run SPEC -- PROGRAM [ARGS]`: build the spec's guest library and
//! API server (cached), start the server, run an unmodified program against
//! the guest library, stop the server, and exit with the program's status.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::build::{build, BuildArgs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Unix,
    Shm,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The spec of the API the program uses.
    spec: PathBuf,
    /// The transport between the program and the API server.
    #[arg(long, value_enum, default_value = "shm")]
    transport: Transport,
    /// The vendor library the API server loads (default: the spec's `library`).
    #[arg(long, value_name = "PATH")]
    library: Option<PathBuf>,
    /// Folder for the generated crates and the build (default: target/cava-run/<api> under the current folder).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Build without optimization (faster to build, slower to run).
    #[arg(long)]
    debug: bool,
    /// Pass --offline to cargo.
    #[arg(long)]
    offline: bool,
    /// Also write the API server's log to this file instead of standard error.
    #[arg(long, value_name = "FILE")]
    server_log: Option<PathBuf>,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    program: Vec<String>,
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let source = std::fs::read_to_string(&args.spec).with_context(|| format!("cannot read {}", args.spec.display()))?;
    let (_, checked) = lapis_parser::check_source(&source);
    let api = cava_codegen::crate_prefix(&checked.spec);
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?.join("target").join("cava-run").join(&api),
    };
    // `cava build` reports a spec with errors and writes only what changed,
    // so a second run costs a cargo no-op
    let lockfile = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).filter(|p| p.exists());
    let built = build(&BuildArgs::compile_into(args.spec.clone(), dir.clone(), !args.debug, args.offline, lockfile))?;
    if built != ExitCode::SUCCESS {
        return Ok(built);
    }

    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir)?;
    let socket = run_dir.join(format!("server-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let mut server = Command::new(dir.join("bin").join(format!("{api}-server")));
    server.arg("--socket").arg(&socket);
    if let Some(library) = &args.library {
        server.arg("--library").arg(library);
    }
    if let Some(log) = &args.server_log {
        server.stderr(Stdio::from(std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?));
    }
    let mut server = Server(server.spawn().context("cannot start the API server")?);
    let start = Instant::now();
    while !socket.exists() {
        if let Some(status) = server.0.try_wait()? {
            bail!("the API server stopped before it listened ({status})");
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("the API server did not listen on {} within 30 s", socket.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let lib = dir.join("lib");
    let library_path = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(old) if !old.is_empty() => {
            let mut paths = vec![lib];
            paths.extend(std::env::split_paths(&old));
            std::env::join_paths(paths)?
        }
        _ => lib.into_os_string(),
    };
    let transport = match args.transport {
        Transport::Unix => "unix",
        Transport::Shm => "shm",
    };
    let (program, program_args) = args.program.split_first().context("no program given after `--`")?;
    let status = Command::new(program)
        .args(program_args)
        .env("LD_LIBRARY_PATH", library_path)
        .env("CAVA_SERVER", &socket)
        .env("CAVA_TRANSPORT", transport)
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    drop(server);
    let _ = std::fs::remove_file(&socket);
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // killed by a signal: the shell's convention
        None => {
            use std::os::unix::process::ExitStatusExt;
            ExitCode::from(128u8.wrapping_add(status.signal().unwrap_or(0) as u8))
        }
    })
}
