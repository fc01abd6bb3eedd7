//! `cava build`: check a spec, generate the guest library and API server
//! crates, and (with `--compile`) build them with cargo and put the results
//! where programs find them: `DIR/lib/<soname>` and `DIR/bin/<api>-server`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use clap::Args;
use lapis_parser::render;

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The spec to generate from.
    spec: PathBuf,
    /// Folder for the generated crates (created; files are only rewritten when they change).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Use this checkout of the runtime crate (default: the one this `cava` was built from, if present).
    #[arg(long, value_name = "PATH", conflicts_with = "runtime_version")]
    runtime_path: Option<PathBuf>,
    /// Depend on this crates.io version of `cava-runtime` instead of a path.
    #[arg(long, value_name = "VERSION")]
    runtime_version: Option<String>,
    /// Also build the crates with cargo and install the library and server under DIR/lib and DIR/bin.
    #[arg(long)]
    compile: bool,
    /// Build optimized code (with --compile).
    #[arg(long, requires = "compile")]
    release: bool,
    /// Start from this Cargo.lock (copied into DIR when DIR has none), e.g. CAVA's own, to build offline with known versions.
    #[arg(long, value_name = "PATH", requires = "compile")]
    lockfile: Option<PathBuf>,
    /// Pass --offline to cargo (with --compile).
    #[arg(long, requires = "compile")]
    offline: bool,
    /// A folder to search for the spec's headers and what they include.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Do not read the spec's headers: export only the spec's functions
    /// (by default the header's other functions are exported too, failing).
    #[arg(long)]
    no_header: bool,
    /// Copy the symbol versions of this library (default: the spec's `library`, when installed here).
    #[arg(long, value_name = "LIB")]
    versions_from: Option<PathBuf>,
}

impl BuildArgs {
    /// `cava build SPEC -o OUTPUT --compile`, for commands that build a spec
    /// on the user's behalf (`cava run`).
    pub fn compile_into(spec: PathBuf, output: PathBuf, release: bool, offline: bool, lockfile: Option<PathBuf>) -> BuildArgs {
        BuildArgs {
            spec,
            output,
            runtime_path: None,
            runtime_version: None,
            compile: true,
            release,
            lockfile,
            offline,
            include: Vec::new(),
            no_header: false,
            versions_from: None,
        }
    }
}

fn runtime(args: &BuildArgs) -> Result<cava_codegen::Runtime> {
    if let Some(v) = &args.runtime_version {
        return Ok(cava_codegen::Runtime::Version(v.clone()));
    }
    let path = match &args.runtime_path {
        Some(p) => p.clone(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime"),
    };
    match path.canonicalize() {
        Ok(p) => Ok(cava_codegen::Runtime::Path(p.display().to_string())),
        Err(_) if args.runtime_path.is_none() => Ok(cava_codegen::Runtime::Version(env!("CARGO_PKG_VERSION").into())),
        Err(e) => Err(e).with_context(|| format!("runtime checkout {} not found", path.display())),
    }
}

pub fn build(args: &BuildArgs) -> Result<ExitCode> {
    let source = std::fs::read_to_string(&args.spec).with_context(|| format!("cannot read {}", args.spec.display()))?;
    let name = args.spec.display().to_string();
    let (_, checked) = lapis_parser::check_source(&source);
    if checked.has_errors() {
        eprint!("{}", render::render_text(&name, &source, &checked.diagnostics, false));
        if let Some(summary) = render::summary(&name, &checked.diagnostics) {
            eprintln!("{summary}");
        }
        bail!("`{name}` has errors; nothing was generated");
    }
    let missing =
        if args.no_header { Vec::new() } else { crate::header_functions::missing_functions(&args.spec, &checked.spec, &args.include)? };
    if !missing.is_empty() {
        eprintln!("{} functions of the header are not in the spec: the guest exports them, failing", missing.len());
    }
    let symbol_versions = symbol_versions(args, &checked.spec)?;
    let options = cava_codegen::Options { runtime: runtime(args)?, missing, symbol_versions };
    let files = cava_codegen::generate(&checked.spec, &options).map_err(|e| anyhow::anyhow!("cannot generate from `{name}`: {e}"))?;
    let mut written = 0;
    for (path, content) in &files.files {
        let target = args.output.join(path);
        let content = content.as_bytes();
        if std::fs::read(&target).is_ok_and(|old| old == content) {
            continue;
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&target, content).with_context(|| format!("cannot write {}", target.display()))?;
        written += 1;
    }
    eprintln!("generated {} files in {} ({written} changed)", files.files.len(), args.output.display());
    if args.compile {
        compile(args, &checked.spec)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The vendor library's symbol versions, for the guest to carry the same.
fn symbol_versions(args: &BuildArgs, spec: &lapis_parser::ir::Spec) -> Result<Vec<cava_codegen::VersionNode>> {
    let library = match &args.versions_from {
        Some(path) => Some(path.clone()),
        None => crate::symbol_versions::locate_library(&spec.api.library),
    };
    let Some(library) = library else { return Ok(Vec::new()) };
    match crate::symbol_versions::read(&library) {
        Ok(nodes) => {
            if !nodes.is_empty() {
                eprintln!(
                    "symbol versions of {}: {}",
                    library.display(),
                    nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
            Ok(nodes)
        }
        Err(e) if args.versions_from.is_none() => {
            eprintln!("warning: {e}; the guest's symbols are unversioned");
            Ok(Vec::new())
        }
        Err(e) => bail!(e),
    }
}

fn compile(args: &BuildArgs, spec: &lapis_parser::ir::Spec) -> Result<()> {
    let manifest = args.output.join("Cargo.toml");
    if let Some(lock) = &args.lockfile {
        let target = args.output.join("Cargo.lock");
        if !target.exists() {
            std::fs::copy(lock, &target).with_context(|| format!("cannot copy {}", lock.display()))?;
        }
    }
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.arg("build").arg("--manifest-path").arg(&manifest);
    if args.release {
        cargo.arg("--release");
    }
    if args.offline {
        cargo.arg("--offline");
    }
    let status = cargo.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo could not build the generated crates ({status})");
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => args.output.join("target"),
    };
    let profile = target.join(if args.release { "release" } else { "debug" });
    let lib = format!("lib{}.so", cava_codegen::library_name(&spec.api.soname));
    let server = format!("{}-server", cava_codegen::crate_prefix(spec));
    let installed = args.output.join("lib").join(&spec.api.soname);
    let script = args.output.join("guest").join("versions.map");
    if script.exists() {
        link_versioned(
            &profile.join(format!("lib{}.a", cava_codegen::library_name(&spec.api.soname))),
            &script,
            &spec.api.soname,
            &installed,
        )?;
    } else {
        install(&profile.join(&lib), &installed)?;
    }
    install(&profile.join(&server), &args.output.join("bin").join(&server))?;
    // programs that `dlopen("libOpenCL.so")` find the guest under the bare name too
    let bare = args.output.join("lib").join(&lib);
    if bare.file_name() != Path::new(&spec.api.soname).file_name() {
        let _ = std::fs::remove_file(&bare);
        std::os::unix::fs::symlink(&spec.api.soname, &bare).with_context(|| format!("cannot link {}", bare.display()))?;
    }
    eprintln!("guest library: {}", args.output.join("lib").join(&spec.api.soname).display());
    eprintln!("API server: {}", args.output.join("bin").join(&server).display());
    Ok(())
}

/// Links the guest's static library into the shared library with the
/// vendor's version script (see `cava_codegen::manifest::guest`).
fn link_versioned(archive: &Path, script: &Path, soname: &str, to: &Path) -> Result<()> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(linked), Some(a), Some(s)) = (modified(to), modified(archive), modified(script)) {
        if linked >= a && linked >= s {
            // up to date: relinking would only churn a file programs may have mapped
            return Ok(());
        }
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(to);
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let status = Command::new(&cc)
        .arg("-shared")
        .arg("-o")
        .arg(to)
        .arg(format!("-Wl,-soname,{soname}"))
        .arg(format!("-Wl,--version-script={}", script.display()))
        .arg("-Wl,--whole-archive")
        .arg(archive)
        .arg("-Wl,--no-whole-archive")
        // what Rust's standard library needs from the system (`rustc --print native-static-libs`)
        .args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"])
        .status()
        .with_context(|| format!("cannot run the C compiler ({})", cc.to_string_lossy()))?;
    if !status.success() {
        bail!("linking the versioned guest library failed ({status})");
    }
    Ok(())
}

fn install(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // replace rather than overwrite: a running program may have the old file mapped
    let _ = std::fs::remove_file(to);
    std::fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}
