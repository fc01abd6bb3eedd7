//! `cava bench`: what API remoting costs, measured in one run against the
//! native library and `memcpy`.
//!
//! The subject is `bench/benchlib`: a tiny C library (`libcavabench.so.1`),
//! its spec, and a C driver program linked against it. The driver runs once
//! against the real library and once per transport against the guest
//! library generated from the spec (found through `LD_LIBRARY_PATH`, as an
//! application finds it), each in a process of its own because both
//! libraries export the same symbols. It prints raw timings, one JSON object
//! per line; this module summarizes them (percentiles of single calls,
//! medians of repeated copies) into a table or one JSON document.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Print one JSON document on standard output instead of tables.
    #[arg(long)]
    json: bool,
    /// Few iterations and small sizes (4 KiB and 64 KiB unless --sizes is given): checks that everything runs, the figures mean little.
    #[arg(long)]
    quick: bool,
    /// Which transports to measure besides the native library.
    #[arg(long, value_enum, default_value_t = TransportChoice::All)]
    transport: TransportChoice,
    /// Buffer sizes, comma-separated: bytes, or with K/KiB, M/MiB, G/GiB (default: 4K,64K,1M,16M,64M).
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    sizes: Option<Vec<u64>>,
    /// Timed calls per null-call measurement (default: 100000; 2000 with --quick).
    #[arg(long)]
    iterations: Option<u64>,
    /// Cache folder for the benchmark library, driver and generated crates.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Build the generated crates without optimization (faster to build; the figures are then not representative).
    #[arg(long)]
    debug: bool,
    /// Pass --offline to cargo.
    #[arg(long)]
    offline: bool,
    /// Run the driver on CPU 0 and the API server on CPU 1 (with `taskset`), so the scheduler cannot put both on one CPU.
    #[arg(long)]
    pin: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TransportChoice {
    Unix,
    Shm,
    All,
}

/// `4096`, `4K`, `4KiB`, `64M`, `1MiB`, `1G`.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size (e.g. 4096, 64K, 16MiB)"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use K, M or G, powers of 1024)")),
    };
    let n = n.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))?;
    if n == 0 {
        return Err("sizes must be positive".into());
    }
    Ok(n)
}

/// How much each measurement repeats.
#[derive(Debug, Clone, Copy)]
struct Effort {
    iterations: u64,
    warmup: u64,
    /// A size is repeated `reps_bytes / size` times, within `min_reps..=max_reps`.
    reps_bytes: u64,
    min_reps: u64,
    max_reps: u64,
}

const FULL: Effort = Effort { iterations: 100_000, warmup: 10_000, reps_bytes: 1 << 30, min_reps: 21, max_reps: 2_000 };
const QUICK: Effort = Effort { iterations: 2_000, warmup: 200, reps_bytes: 8 << 20, min_reps: 5, max_reps: 50 };

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn bench(args: &BenchArgs) -> Result<ExitCode> {
    let root = root().canonicalize().context("the CAVA checkout this `cava` was built from is gone")?;
    let source = root.join("bench/benchlib");
    if !source.join("benchlib.lapis").exists() {
        bail!("{} has no benchlib.lapis: `cava bench` runs from a CAVA checkout", source.display());
    }
    let dir = args.dir.clone().unwrap_or_else(|| root.join("target/cava-bench"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let mut effort = if args.quick { QUICK } else { FULL };
    if let Some(n) = args.iterations {
        if n == 0 {
            bail!("--iterations must be positive");
        }
        effort.iterations = n;
        effort.warmup = effort.warmup.min(n);
    }
    let sizes = match &args.sizes {
        Some(s) => s.clone(),
        None if args.quick => vec![4 << 10, 64 << 10],
        None => vec![4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20],
    };

    let native = dir.join("native");
    let driver = compile_c(&source, &native)?;
    let generated = dir.join("generated");
    build_generated(&source.join("benchlib.lapis"), &generated, &root.join("Cargo.lock"), args)?;

    let transports: &[&str] = match args.transport {
        TransportChoice::Unix => &["unix"],
        TransportChoice::Shm => &["shm"],
        TransportChoice::All => &["unix", "shm"],
    };
    let load_before = loadavg();
    let started = Instant::now();
    if args.pin && std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        bail!("--pin needs two CPUs");
    }
    let mut runs = vec![("native", run_driver(&driver, &native, None, &effort, &sizes, args.pin)?)];
    for transport in transports {
        let socket = dir.join(format!("server-{transport}.sock"));
        let log = dir.join(format!("server-{transport}.log"));
        let server = Server::start(&generated.join("bin/cavabench-server"), &socket, &native.join("libcavabench.so.1"), &log, args.pin)?;
        let result = run_driver(&driver, &generated.join("lib"), Some((transport, &socket)), &effort, &sizes, args.pin);
        drop(server);
        let run = result.with_context(|| format!("the {transport} run failed (server log: {})", log.display()))?;
        runs.push((transport, run));
    }
    let report = Report::new(&runs, &effort, &sizes);
    let meta = json!({
        "date_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "seconds": started.elapsed().as_secs_f64(),
        "commit": commit(&root),
        "profile": if args.debug { "debug" } else { "release" },
        "quick": args.quick,
        "pinned": args.pin,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "iterations": effort.iterations,
        "warmup": effort.warmup,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json(meta))?);
    } else {
        print!("{}", report.text(&meta));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `cava build SPEC -o OUT --compile` (this very binary), with its
/// output on standard error so that standard output carries only the report.
fn build_generated(spec: &Path, out: &Path, lockfile: &Path, args: &BenchArgs) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the running `cava`")?;
    let mut command = Command::new(exe);
    command.arg("build").arg(spec).arg("-o").arg(out).arg("--compile");
    if !args.debug {
        command.arg("--release");
    }
    if lockfile.exists() {
        command.arg("--lockfile").arg(lockfile);
    }
    if args.offline {
        command.arg("--offline");
    }
    let stderr = std::io::stderr().as_fd().try_clone_to_owned().context("cannot pass standard error on")?;
    let status = command.stdout(stderr).status().context("cannot run `cava build`")?;
    if !status.success() {
        bail!("`cava build {}` failed ({status})", spec.display());
    }
    Ok(())
}

/// Builds the real library and the driver with the C compiler into `out`.
fn compile_c(source: &Path, out: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let run = |args: &[&str]| -> Result<()> {
        let status = Command::new(&cc)
            .args(["-std=c99", "-O2", "-Wall", "-Wextra"])
            .args(args)
            .current_dir(out)
            .status()
            .with_context(|| format!("cannot run the C compiler `{cc}`"))?;
        if !status.success() {
            bail!("`{cc} {}` failed ({status})", args.join(" "));
        }
        Ok(())
    };
    let lib_c = source.join("benchlib.c");
    let driver_c = source.join("bench_driver.c");
    let lib_c = lib_c.to_str().context("non-UTF-8 path")?;
    let driver_c = driver_c.to_str().context("non-UTF-8 path")?;
    run(&["-shared", "-fPIC", "-Wl,-soname,libcavabench.so.1", "-o", "libcavabench.so.1", lib_c])?;
    // no rpath: the loader finds whichever library LD_LIBRARY_PATH names, as for an application
    run(&["-o", "bench_driver", driver_c, "-L.", "-l:libcavabench.so.1"])?;
    Ok(out.join("bench_driver"))
}

/// An API server, stopped when dropped.
struct Server(Child);

impl Server {
    fn start(binary: &Path, socket: &Path, library: &Path, log: &Path, pin: bool) -> Result<Server> {
        let _ = std::fs::remove_file(socket);
        let log_file = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = on_cpu(binary, pin.then_some(1))
            .arg("--socket")
            .arg(socket)
            .arg("--library")
            .arg(library)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Server(child);
        let start = Instant::now();
        while !socket.exists() {
            if let Some(status) = server.0.try_wait()? {
                bail!("the API server exited at start ({status}); its log: {}", log.display());
            }
            if start.elapsed() > Duration::from_secs(20) {
                bail!("the API server did not create {} within 20 s", socket.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The raw timings of one driver run, in nanoseconds.
#[derive(Debug, Default)]
struct Run {
    latency: BTreeMap<String, Vec<u64>>,
    /// By size: memcpy, then each of [`DIRECTIONS`], per repetition.
    copies: BTreeMap<u64, [Vec<u64>; 5]>,
}

/// A command for `program`, run on CPU `cpu` (through `taskset`) if given.
fn on_cpu(program: &Path, cpu: Option<u32>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn run_driver(driver: &Path, lib_dir: &Path, server: Option<(&str, &Path)>, effort: &Effort, sizes: &[u64], pin: bool) -> Result<Run> {
    let mut command = on_cpu(driver, pin.then_some(0));
    command
        .arg(effort.iterations.to_string())
        .arg(effort.warmup.to_string())
        .arg(effort.reps_bytes.to_string())
        .arg(effort.min_reps.to_string())
        .arg(effort.max_reps.to_string())
        .args(sizes.iter().map(u64::to_string))
        .env("LD_LIBRARY_PATH", lib_dir)
        .env_remove("CAVA_SERVER")
        .env_remove("CAVA_TRANSPORT");
    if let Some((transport, socket)) = server {
        command.env("CAVA_SERVER", socket).env("CAVA_TRANSPORT", transport);
    }
    let output = command.output().with_context(|| format!("cannot run {}", driver.display()))?;
    if !output.status.success() {
        bail!("the driver failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let mut run = Run::default();
    let numbers = |v: &Value, key: &str| -> Result<Vec<u64>> {
        let list = v.get(key).and_then(Value::as_array).with_context(|| format!("driver output without `{key}`"))?;
        list.iter().map(|n| n.as_u64().context("a timing is not a number")).collect()
    };
    for line in String::from_utf8(output.stdout).context("driver output is not UTF-8")?.lines() {
        let v: Value = serde_json::from_str(line).with_context(|| format!("driver output is not JSON: {line:.80}"))?;
        match v.get("kind").and_then(Value::as_str) {
            Some("latency") => {
                let name = v.get("name").and_then(Value::as_str).context("latency without a name")?;
                run.latency.insert(name.to_string(), numbers(&v, "ns")?);
            }
            Some("copy") => {
                let size = v.get("size").and_then(Value::as_u64).context("copy without a size")?;
                run.copies.insert(
                    size,
                    [
                        numbers(&v, "memcpy_ns")?,
                        numbers(&v, "in_ns")?,
                        numbers(&v, "out_ns")?,
                        numbers(&v, "in_zc_ns")?,
                        numbers(&v, "out_zc_ns")?,
                    ],
                );
            }
            _ => bail!("unknown driver output: {line:.80}"),
        }
    }
    Ok(run)
}

/// What the driver times per size besides `memcpy`, in its order: in and
/// out with the application's ordinary buffers, then with buffers from
/// `bl_alloc` (zero-copy memory through CAVA).
const DIRECTIONS: [(&str, &str); 4] = [
    ("in", "In buffers (application to library, bl_write)"),
    ("out", "Out buffers (library to application, bl_read)"),
    ("in_zc", "In buffers from bl_alloc (application-allocated zero-copy memory through CAVA; bl_write)"),
    ("out_zc", "Out buffers from bl_alloc (application-allocated zero-copy memory through CAVA; bl_read)"),
];

/// Percentile `q` (0..=1) of sorted samples, nearest rank.
fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

fn median(samples: &[u64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_unstable();
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2] as f64,
        n => (s[n / 2 - 1] + s[n / 2]) as f64 / 2.0,
    }
}

#[derive(Debug)]
struct Latency {
    function: String,
    path: String,
    iterations: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    mean: f64,
}

#[derive(Debug)]
struct Copy {
    direction: &'static str,
    size: u64,
    path: String,
    reps: usize,
    median_ns: f64,
    min_ns: f64,
    max_ns: f64,
    memcpy_ns: f64,
}

impl Copy {
    fn gbps(&self) -> f64 {
        self.size as f64 / self.median_ns
    }
    fn memcpy_gbps(&self) -> f64 {
        self.size as f64 / self.memcpy_ns
    }
    /// Forwarded bandwidth over the bandwidth of `memcpy` measured beside it.
    fn vs_memcpy(&self) -> f64 {
        self.memcpy_ns / self.median_ns
    }
}

#[derive(Debug)]
struct Report {
    latency: Vec<Latency>,
    copies: Vec<Copy>,
    paths: Vec<String>,
    sizes: Vec<u64>,
    effort: Effort,
}

impl Report {
    fn new(runs: &[(&str, Run)], effort: &Effort, sizes: &[u64]) -> Report {
        let mut latency = Vec::new();
        let mut copies = Vec::new();
        for function in ["timer", "bl_null", "bl_scalars", "bl_queue"] {
            for (path, run) in runs {
                let Some(samples) = run.latency.get(function) else { continue };
                let mut sorted = samples.clone();
                sorted.sort_unstable();
                let mean = sorted.iter().map(|&n| n as f64).sum::<f64>() / sorted.len().max(1) as f64;
                latency.push(Latency {
                    function: function.to_string(),
                    path: path.to_string(),
                    iterations: sorted.len(),
                    p50: percentile(&sorted, 0.5),
                    p90: percentile(&sorted, 0.9),
                    p99: percentile(&sorted, 0.99),
                    mean,
                });
            }
        }
        for (d, (direction, _)) in DIRECTIONS.into_iter().enumerate() {
            for &size in sizes {
                for (path, run) in runs {
                    let Some(samples) = run.copies.get(&size) else { continue };
                    let timed = &samples[d + 1];
                    copies.push(Copy {
                        direction,
                        size,
                        path: path.to_string(),
                        reps: timed.len(),
                        median_ns: median(timed),
                        min_ns: timed.iter().copied().min().unwrap_or(0) as f64,
                        max_ns: timed.iter().copied().max().unwrap_or(0) as f64,
                        memcpy_ns: median(&samples[0]),
                    });
                }
            }
        }
        Report { latency, copies, paths: runs.iter().map(|(p, _)| p.to_string()).collect(), sizes: sizes.to_vec(), effort: *effort }
    }

    fn copy(&self, direction: &str, size: u64, path: &str) -> Option<&Copy> {
        self.copies.iter().find(|c| c.direction == direction && c.size == size && c.path == path)
    }

    fn json(&self, meta: Value) -> Value {
        let us = |ns: f64| ns / 1000.0;
        let latency: Vec<Value> = self
            .latency
            .iter()
            .map(|l| {
                json!({
                    "function": l.function,
                    "path": l.path,
                    "iterations": l.iterations,
                    "p50_us": us(l.p50),
                    "p90_us": us(l.p90),
                    "p99_us": us(l.p99),
                    "mean_us": us(l.mean),
                })
            })
            .collect();
        let throughput: Vec<Value> = self
            .copies
            .iter()
            .map(|c| {
                let native = self.copy(c.direction, c.size, "native");
                json!({
                    "direction": c.direction,
                    "size_bytes": c.size,
                    "path": c.path,
                    "reps": c.reps,
                    "median_us": us(c.median_ns),
                    "min_us": us(c.min_ns),
                    "max_us": us(c.max_ns),
                    "gbps": c.gbps(),
                    "memcpy_median_us": us(c.memcpy_ns),
                    "memcpy_gbps": c.memcpy_gbps(),
                    "vs_native": native.map(|n| n.median_ns / c.median_ns),
                    "vs_memcpy": c.vs_memcpy(),
                })
            })
            .collect();
        json!({ "meta": meta, "latency": latency, "throughput": throughput })
    }

    fn text(&self, meta: &Value) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let e = &self.effort;
        let _ = writeln!(
            out,
            "cava bench (commit {}, {} build, {} CPUs{}, load average {} before, {} after, {:.1} s)\n",
            meta["commit"].as_str().unwrap_or("?"),
            meta["profile"].as_str().unwrap_or("?"),
            meta["cpus"],
            if meta["pinned"] == true { ", driver on CPU 0 and server on CPU 1" } else { "" },
            meta["loadavg_before"].as_str().unwrap_or("?"),
            meta["loadavg_after"].as_str().unwrap_or("?"),
            meta["seconds"].as_f64().unwrap_or(0.0),
        );
        let _ = writeln!(
            out,
            "Null-call round trip, µs per call ({} timed calls after {} untimed; `timer` is two clock reads around nothing; \
             `bl_queue`: per asynchronous call, 100 queued then one synchronous call that waits for them)",
            e.iterations, e.warmup
        );
        let _ = writeln!(out, "{:<12} {:<7} {:>9} {:>9} {:>9} {:>9}", "function", "path", "p50", "p90", "p99", "mean");
        let mut last = "";
        for l in &self.latency {
            let name = if l.function == last { "" } else { l.function.as_str() };
            last = &l.function;
            let _ = writeln!(
                out,
                "{name:<12} {:<7} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                l.path,
                l.p50 / 1000.0,
                l.p90 / 1000.0,
                l.p99 / 1000.0,
                l.mean / 1000.0
            );
        }
        for (direction, what) in DIRECTIONS {
            let _ = writeln!(out, "\n{what}: GB/s of the median call (×native, ×memcpy of the same process)");
            let _ = write!(out, "{:<8} {:>8}", "size", "memcpy");
            for p in &self.paths {
                let _ = write!(out, " {p:>22}");
            }
            let _ = writeln!(out);
            for &size in &self.sizes {
                let Some(base) = self.copy(direction, size, "native") else { continue };
                let _ = write!(out, "{:<8} {:>8}", human_size(size), gbps(base.memcpy_gbps()));
                for p in &self.paths {
                    let cell = match self.copy(direction, size, p) {
                        Some(c) if p == "native" => format!("{} (×{:.2})", gbps(c.gbps()), c.vs_memcpy()),
                        Some(c) => format!("{} ({:.2}, {:.2})", gbps(c.gbps()), base.median_ns / c.median_ns, c.vs_memcpy()),
                        None => "-".into(),
                    };
                    let _ = write!(out, " {cell:>22}");
                }
                let _ = writeln!(out);
            }
        }
        let reps: Vec<String> =
            self.sizes.iter().filter_map(|&s| self.copy("in", s, "native").map(|c| format!("{} {}", human_size(s), c.reps))).collect();
        let _ = writeln!(
            out,
            "\nRepetitions per size: {}. `memcpy`: the driver's own copy of the size, timed beside each call.",
            reps.join(", ")
        );
        out
    }
}

fn gbps(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn human_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// The checkout's commit, with `+` when it has uncommitted changes.
fn commit(root: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git").arg("-C").arg(root).args(args).stderr(Stdio::null()).output().ok().filter(|o| o.status.success())
    };
    let head = String::from_utf8(git(&["rev-parse", "--short=10", "HEAD"])?.stdout).ok()?.trim().to_string();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{head}+") } else { head })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("K").is_err());
    }

    #[test]
    fn the_table_has_a_row_per_function_and_path_and_a_cell_per_size_and_path() {
        let run = |scale: u64| {
            let mut run = Run::default();
            for name in ["timer", "bl_null", "bl_scalars"] {
                run.latency.insert(name.into(), (1..=100).map(|n| n * scale).collect());
            }
            run.copies.insert(
                4096,
                [vec![100, 120], vec![100 * scale, 110 * scale], vec![200 * scale; 2], vec![105 * scale; 2], vec![105 * scale; 2]],
            );
            run
        };
        let runs = [("native", run(1)), ("unix", run(50)), ("shm", run(10))];
        let report = Report::new(&runs, &QUICK, &[4096]);
        let meta =
            json!({ "commit": "abc", "profile": "release", "cpus": 2, "loadavg_before": "0.1", "loadavg_after": "0.2", "seconds": 1.0 });
        let text = report.text(&meta);
        assert!(text.contains("bl_null      native      0.050"), "{text}");
        assert!(text.contains("             shm         0.500"), "{text}");
        // 4096 bytes in 105 ns: 39.0 GB/s; memcpy 110 ns: 37.2 GB/s
        assert!(text.contains("4 KiB        37.2           39.0 (×1.05)"), "{text}");
        // unix in: 5,250 ns, 0.02 of native and of memcpy
        assert!(text.contains("0.78 (0.02, 0.02)"), "{text}");
        let json = report.json(meta);
        assert_eq!(json["latency"].as_array().unwrap().len(), 9);
        assert_eq!(json["throughput"].as_array().unwrap().len(), 12);
        assert!(text.contains("In buffers from bl_alloc"), "{text}");
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&s, 0.5), 50.0);
        assert_eq!(percentile(&s, 0.99), 99.0);
        assert_eq!(percentile(&[7], 0.9), 7.0);
        assert_eq!(median(&[3, 1, 2, 4]), 2.5);
    }
}
