//! `cava`: the command-line front end. It reads files, calls the pure
//! library code, and prints; nothing else lives here.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use lapis_parser::{codes::Code, render};

mod bench;
mod build;
mod header_functions;
mod run;
mod symbol_versions;

#[derive(Parser, Debug)]
#[command(name = "cava", version, about = "Generate API remoting from LAPIS specs", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check specs and report every problem at once.
    Check(CheckArgs),
    /// Print specs in canonical form (or rewrite them with --write).
    Fmt(FmtArgs),
    /// Print the syntax tree or the resolved model of a spec, as JSON.
    Dump(DumpArgs),
    /// Explain a diagnostic code, e.g. `cava explain L0301`.
    Explain(ExplainArgs),
    /// Lift a C header into a provisional spec (or bring a spec up to a newer header).
    Init(Box<InitArgs>),
    /// Run the language server on standard input and output, for editors.
    Lsp,
    /// Generate the guest library and API server crates from a spec.
    Build(build::BuildArgs),
    /// Build a spec (cached), start its API server and run a program against the guest library.
    Run(Box<run::RunArgs>),
    /// Measure forwarded calls and buffer transfers per transport against native calls and memcpy.
    Bench(Box<bench::BenchArgs>),
}

#[derive(Args, Debug)]
struct InitArgs {
    /// The C header to lift, e.g. /usr/include/CL/cl.h.
    header: PathBuf,
    /// Add a folder to the include path (like the C compiler's -I).
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Define a macro, NAME or NAME=VALUE (like the C compiler's -D).
    #[arg(short = 'D', value_name = "NAME[=VALUE]")]
    define: Vec<String>,
    /// Lift only functions whose names start with this (and macros starting with it in capitals).
    #[arg(long)]
    prefix: Option<String>,
    /// Write the spec here instead of standard output.
    #[arg(short, long, value_name = "SPEC")]
    output: Option<PathBuf>,
    /// Add what the header declares and SPEC lacks to SPEC, leaving everything written untouched.
    #[arg(long, value_name = "SPEC", conflicts_with = "output")]
    update: Option<PathBuf>,
    /// The API's name in the `api` block (default: from the header's file name).
    #[arg(long)]
    name: Option<String>,
    /// How programs include the header, for the `api` block (default: its path under an include folder).
    #[arg(long, value_name = "PATH")]
    include_as: Option<String>,
    /// The API version, for the `api` block.
    #[arg(long)]
    api_version: Option<String>,
    /// The soname of the library the guest replaces, e.g. libOpenCL.so.1.
    #[arg(long)]
    soname: Option<String>,
    /// The library the API server loads (default: the soname).
    #[arg(long)]
    library: Option<String>,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Spec files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// `human` for rustc-style text, `json` for one JSON object per diagnostic per line.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Treat warnings as errors.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
struct FmtArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Rewrite the files in place.
    #[arg(long, conflicts_with = "check")]
    write: bool,
    /// Exit with an error, listing the files, if any file is not formatted.
    #[arg(long)]
    check: bool,
}

#[derive(Args, Debug)]
struct DumpArgs {
    /// Print the syntax tree.
    #[arg(long, conflicts_with = "ir", required_unless_present = "ir")]
    ast: bool,
    /// Print the resolved model the generators see.
    #[arg(long)]
    ir: bool,
    file: PathBuf,
}

#[derive(Args, Debug)]
struct ExplainArgs {
    /// A code such as L0301; omit it with --list.
    #[arg(required_unless_present = "list")]
    code: Option<String>,
    /// List every code with its title.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(&args),
        Command::Fmt(args) => fmt(&args),
        Command::Dump(args) => dump(&args),
        Command::Explain(args) => explain(&args),
        Command::Init(args) => init(&args),
        Command::Lsp => lsp(),
        Command::Build(args) => build::build(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Run(args) => run::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut failed = false;
    for path in &args.files {
        let source = read(path)?;
        let name = path.display().to_string();
        let (_, checked) = lapis_parser::check_source(&source);
        let diagnostics = &checked.diagnostics;
        failed |= checked.has_errors() || (args.deny_warnings && !diagnostics.is_empty());
        match args.message_format {
            MessageFormat::Json => print!("{}", render::render_json(&name, &source, diagnostics)),
            MessageFormat::Human => {
                eprint!("{}", render::render_text(&name, &source, diagnostics, color));
                match render::summary(&name, diagnostics) {
                    Some(summary) => eprintln!("{summary}"),
                    None => eprintln!("ok: `{name}` ({} functions)", checked.spec.functions.len()),
                }
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn fmt(args: &FmtArgs) -> Result<ExitCode> {
    let mut unformatted = Vec::new();
    for path in &args.files {
        let source = read(path)?;
        let formatted = match lapis_parser::fmt::format_source(&source) {
            Ok(formatted) => formatted,
            Err(diagnostics) => {
                let name = path.display().to_string();
                eprint!("{}", render::render_text(&name, &source, &diagnostics, false));
                bail!("`{name}` has syntax errors; fix them before formatting");
            }
        };
        if args.check {
            if formatted != source {
                unformatted.push(path.display().to_string());
            }
        } else if args.write {
            if formatted != source {
                std::fs::write(path, formatted).with_context(|| format!("cannot write `{}`", path.display()))?;
            }
        } else {
            print!("{formatted}");
        }
    }
    if !unformatted.is_empty() {
        for file in &unformatted {
            eprintln!("not formatted: {file}");
        }
        eprintln!("run `cava fmt --write` on these files");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn dump(args: &DumpArgs) -> Result<ExitCode> {
    let source = read(&args.file)?;
    let (ast, checked) = lapis_parser::check_source(&source);
    let json = if args.ast {
        serde_json::to_string_pretty(&ast)?
    } else {
        if checked.has_errors() {
            let name = args.file.display().to_string();
            eprint!("{}", render::render_text(&name, &source, &checked.diagnostics, false));
            bail!("`{name}` has errors: the model would be incomplete");
        }
        serde_json::to_string_pretty(&checked.spec)?
    };
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

/// The protocol asks for status 1 when the editor sends `exit` without `shutdown`.
fn lsp() -> Result<ExitCode> {
    match cava_lsp::run_stdio() {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(cava_lsp::Error::ExitWithoutShutdown) => Ok(ExitCode::FAILURE),
        Err(error) => Err(error).context("the language server stopped"),
    }
}

fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    if args.list {
        for code in Code::ALL {
            println!("{}  {}", code.as_str(), code.title());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let text = args.code.as_deref().unwrap_or_default();
    let Some(code) = Code::parse(text) else {
        bail!("`{text}` is not a LAPIS diagnostic code; `cava explain --list` lists them");
    };
    println!("{}: {}\n\n{}", code.as_str(), code.title(), code.explanation());
    Ok(ExitCode::SUCCESS)
}

/// How a header is spelled in `#include`: its path under the first include
/// folder that holds it (`/usr/include/CL/cl.h` → `CL/cl.h`).
fn include_spelling(header: &Path, include_dirs: &[PathBuf]) -> String {
    let standard = [PathBuf::from("/usr/include"), PathBuf::from("/usr/local/include")];
    for dir in include_dirs.iter().chain(&standard) {
        if let Ok(rest) = header.strip_prefix(dir) {
            return rest.display().to_string();
        }
    }
    header.file_name().map_or_else(|| header.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn init(args: &InitArgs) -> Result<ExitCode> {
    let defines = args
        .define
        .iter()
        .map(|d| match d.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (d.clone(), None),
        })
        .collect();
    let read_options = cava_init::read::ReadOptions { include_dirs: args.include.clone(), defines };
    let started = std::time::Instant::now();
    let header = cava_init::read::read_header(&args.header, &read_options)?;
    let options = cava_init::LiftOptions {
        prefix: args.prefix.clone(),
        name: args.name.clone(),
        header: args.include_as.clone().unwrap_or_else(|| include_spelling(&args.header, &args.include)),
        version: args.api_version.clone(),
        soname: args.soname.clone(),
        library: args.library.clone().or_else(|| args.soname.clone()),
    };
    let lifted = cava_init::lift(&header, &options);
    let stats = &lifted.stats;
    if let Some(spec) = &args.update {
        let existing = read(spec)?;
        let (text, report) = match cava_init::update(&existing, &lifted, &options.header) {
            Ok(result) => result,
            Err(diagnostics) => {
                let name = spec.display().to_string();
                eprint!("{}", render::render_text(&name, &existing, &diagnostics, false));
                bail!("`{name}` has syntax errors; fix them before updating it");
            }
        };
        if text != existing {
            std::fs::write(spec, &text).with_context(|| format!("cannot write `{}`", spec.display()))?;
        }
        eprintln!(
            "updated `{}`: {} new functions{}, {} new types, constants and callbacks",
            spec.display(),
            report.added_functions.len(),
            if report.added_functions.is_empty() { String::new() } else { format!(" ({})", report.added_functions.join(", ")) },
            report.added_other
        );
        if !report.missing_from_header.is_empty() {
            eprintln!("warning: the header no longer declares: {} (kept in the spec)", report.missing_from_header.join(", "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let text = cava_init::formatted(&lifted);
    match &args.output {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("cannot write `{}`", path.display()))?,
        None => print!("{text}"),
    }
    eprintln!(
        "lifted {} functions ({} with nothing left to decide), {} types, {} constants in {:.0?}; {} `todo`s to decide (`cava check` lists them)",
        stats.functions,
        stats.functions_without_todo,
        stats.types,
        stats.constants,
        started.elapsed(),
        stats.todos
    );
    Ok(ExitCode::SUCCESS)
}
