//! The one conversion from the checker's diagnostics to LSP diagnostics.
//!
//! The editor shows what `cava check` prints, in LSP's shape: the same code
//! and message; the primary label's text on the next line (in the terminal
//! it stands under the caret); then the notes and the help, prefixed as the
//! terminal prints them. Secondary labels become related information, which
//! editors show as links to the other place. A diagnostic with a
//! machine-applicable fix carries it in `data`, ready to be offered as a
//! quick fix (`code_actions.rs`).

use lapis_parser::codes::Code;
use lapis_parser::{Diagnostic, Severity};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location, NumberOrString, TextEdit, Uri};
use serde::{Deserialize, Serialize};

use crate::position::LineIndex;

/// The name editors show next to every diagnostic, and the filter for ours.
pub const SOURCE: &str = "cava";

/// What `data` holds for a diagnostic with a fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixData {
    pub title: String,
    pub edit: TextEdit,
}

/// Converts one diagnostic of the text `source` (indexed by `lines`) in the document `uri`.
pub fn to_lsp(d: &Diagnostic, source: &str, lines: &LineIndex, uri: &Uri) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    if !d.primary.message.is_empty() {
        message.push('\n');
        message.push_str(&d.primary.message);
    }
    for note in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .map(|label| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), lines.range(source, label.span)),
            message: if label.message.is_empty() { d.message.clone() } else { label.message.clone() },
        })
        .collect();
    let data = d.fix.as_ref().map(|fix| {
        let edit = TextEdit::new(lines.range(source, fix.span), fix.replacement.clone());
        serde_json::to_value(FixData { title: fix.title.clone(), edit }).unwrap_or_default()
    });
    lsp_types::Diagnostic {
        range: lines.range(source, d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        code_description: None,
        source: Some(SOURCE.to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        // editors grey out unused code
        tags: (d.code == Code::UnusedDeclaration).then(|| vec![DiagnosticTag::UNNECESSARY]),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapis_parser::span::Span;
    use lsp_types::{Position, Range};

    #[test]
    fn carries_everything_cava_check_prints() {
        let source = "// é😀\nin bufer;\n";
        let lines = LineIndex::new(source);
        let uri: Uri = "file:///x.lapis".parse().unwrap();
        let start = source.find("bufer").unwrap();
        let d = Diagnostic::error(Code::UnknownDescriptor, "unknown descriptor `bufer`")
            .with_primary(Span::new(start, start + 5), "not a LAPIS descriptor")
            .with_secondary(Span::new(0, 2), "")
            .with_note("a note")
            .with_help("did you mean `buffer`?")
            .with_fix(Span::new(start, start + 5), "buffer", "use `buffer`");
        let lsp = to_lsp(&d, source, &lines, &uri);
        assert_eq!(lsp.range, Range::new(Position::new(1, 3), Position::new(1, 8)));
        assert_eq!(lsp.code, Some(NumberOrString::String("L0301".into())));
        assert_eq!(lsp.source.as_deref(), Some("cava"));
        assert_eq!(lsp.message, "unknown descriptor `bufer`\nnot a LAPIS descriptor\nnote: a note\nhelp: did you mean `buffer`?");
        let related = lsp.related_information.unwrap();
        assert_eq!(related[0].message, "unknown descriptor `bufer`");
        let fix: FixData = serde_json::from_value(lsp.data.unwrap()).unwrap();
        assert_eq!(fix.edit.new_text, "buffer");
        assert_eq!(fix.edit.range, lsp.range);
    }
}
