//! `cava`: the command-line front end. It reads files, calls the pure
//! library code, and prints; nothing else lives here.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use lapis_parser::{codes::Code, render};

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
