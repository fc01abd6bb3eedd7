//! The one place diagnostics become text: the terminal (via
//! codespan-reporting) and JSON for tools.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::Buffer, Config};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use crate::span::line_col;

/// Renders diagnostics as rustc-style text. `color` adds ANSI colours.
pub fn render_text(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let mut buffer = if color { Buffer::ansi() } else { Buffer::no_color() };
    let config = Config::default();
    for diagnostic in diagnostics {
        let cs = to_codespan(diagnostic, source.len());
        // writing to an in-memory buffer cannot fail except on a bad span,
        // which to_codespan already clamps
        let _ = term::emit_to_write_style(&mut buffer, &config, &file, &cs);
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

/// A one-line summary such as `error: could not check `x.lapis` (2 errors, 1 warning)`.
pub fn summary(file_name: &str, diagnostics: &[Diagnostic]) -> Option<String> {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors > 0 {
        let mut counts = plural(errors, "error");
        if warnings > 0 {
            counts = format!("{counts}, {}", plural(warnings, "warning"));
        }
        Some(format!("error: could not check `{file_name}` ({counts})"))
    } else if warnings > 0 {
        Some(format!("warning: `{file_name}` has {}", plural(warnings, "warning")))
    } else {
        None
    }
}

fn to_codespan(d: &Diagnostic, len: usize) -> CsDiagnostic<()> {
    let clamp = |r: std::ops::Range<usize>| r.start.min(len)..r.end.min(len).max(r.start.min(len));
    let severity = match d.severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
    };
    let mut labels = vec![CsLabel::primary((), clamp(d.primary.span.range())).with_message(&d.primary.message)];
    for label in &d.secondary {
        labels.push(CsLabel::secondary((), clamp(label.span.range())).with_message(&label.message));
    }
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    CsDiagnostic::new(severity).with_code(d.code.as_str()).with_message(&d.message).with_labels(labels).with_notes(notes)
}

#[derive(Serialize)]
struct JsonPosition {
    line: usize,
    column: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    start: u32,
    end: u32,
    begin: JsonPosition,
    finish: JsonPosition,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    severity: Severity,
    code: &'a str,
    message: &'a str,
    primary: JsonLabel<'a>,
    secondary: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
    fix: Option<&'a crate::diagnostic::Fix>,
    rendered: String,
}

/// One JSON object per line, one line per diagnostic (like cargo's
/// `--message-format json`). Positions are 1-based lines and columns.
pub fn render_json(file_name: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    fn label<'a>(source: &str, span: crate::span::Span, message: &'a str) -> JsonLabel<'a> {
        let (line, column) = line_col(source, span.start as usize);
        let (end_line, end_column) = line_col(source, span.end as usize);
        JsonLabel {
            start: span.start,
            end: span.end,
            begin: JsonPosition { line, column },
            finish: JsonPosition { line: end_line, column: end_column },
            message,
        }
    }
    let mut out = String::new();
    for d in diagnostics {
        let json = JsonDiagnostic {
            file: file_name,
            severity: d.severity,
            code: d.code.as_str(),
            message: &d.message,
            primary: label(source, d.primary.span, &d.primary.message),
            secondary: d.secondary.iter().map(|l| label(source, l.span, &l.message)).collect(),
            help: d.help.as_deref(),
            notes: &d.notes,
            fix: d.fix.as_ref(),
            rendered: render_text(file_name, source, std::slice::from_ref(d), false),
        };
        out.push_str(&serde_json::to_string(&json).unwrap_or_default());
        out.push('\n');
    }
    out
}
