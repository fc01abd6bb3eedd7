//! Formatting: `cava fmt` on the editor's text.
//!
//! `format_source` refuses a spec with syntax errors (formatting from a
//! broken tree could drop text), and so does the server: no edits, and a
//! message that says why, pointing at the first error.

use lapis_parser::fmt::format_source;
use lsp_types::TextEdit;

use crate::document::Snapshot;

#[derive(Debug, PartialEq, Eq)]
pub enum Formatted {
    /// Nothing to change, or one edit that replaces the whole text.
    Edits(Vec<TextEdit>),
    /// The text has syntax errors; the message says where.
    Refused(String),
}

pub fn format(doc: Snapshot<'_>) -> Formatted {
    match format_source(doc.text) {
        Ok(formatted) if formatted == doc.text => Formatted::Edits(Vec::new()),
        Ok(formatted) => Formatted::Edits(vec![TextEdit::new(doc.lines.full_range(doc.text), formatted)]),
        Err(errors) => {
            let first = errors.iter().find(|d| d.is_error()).or(errors.first());
            let at = first.map(|d| {
                let p = doc.position(d.primary.span.start as usize);
                format!(" (the first, line {}: {})", p.line + 1, d.message)
            });
            Formatted::Refused(format!("cava: not formatting: the spec has syntax errors{}; fix them first", at.unwrap_or_default()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;

    #[test]
    fn formats_or_refuses() {
        let mut doc = Document::new("continuous_rc   mem ;\n".into(), 1);
        let Formatted::Edits(edits) = format(doc.snapshot()) else { panic!("refused") };
        assert_eq!(edits[0].new_text, "continuous_rc mem;\n");
        let mut doc = Document::new("continuous_rc mem;\n".into(), 1);
        assert_eq!(format(doc.snapshot()), Formatted::Edits(Vec::new()));
        let mut doc = Document::new("\ncontinuous_rc mem\n".into(), 1);
        let Formatted::Refused(message) = format(doc.snapshot()) else { panic!("formatted a broken spec") };
        assert!(message.contains("line 2: expected `;`"), "{message}");
    }
}
