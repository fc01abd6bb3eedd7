//! One open spec: its text as the editor has it, and the analysis of that
//! text, computed when first needed after a change.
//!
//! The server asks for incremental sync: the editor sends only the changed
//! range and its new text, and `apply_change` splices it in. With full sync
//! a 2,000-line spec (about 80 KB) would cross the pipe as JSON on every
//! keystroke; the splice needs the position conversion the server has
//! anyway, and the line index is rebuilt in one pass over the text, which
//! takes microseconds.
//!
//! The analysis is always of the whole file (`analysis.rs` says why), and it
//! is lazy: a burst of changes is spliced in one after another and checked
//! once, when the server next publishes diagnostics or answers a request.

use lapis_parser::span::Span;
use lsp_types::{Position, Range, TextDocumentContentChangeEvent};

use crate::analysis::Analysis;
use crate::position::LineIndex;

#[derive(Debug)]
pub struct Document {
    pub text: String,
    pub version: i32,
    pub lines: LineIndex,
    analysis: Option<Analysis>,
}

impl Document {
    pub fn new(text: String, version: i32) -> Document {
        let lines = LineIndex::new(&text);
        Document { text, version, lines, analysis: None }
    }

    /// Applies one change event: a range replaced by new text, or (without a
    /// range) the whole text replaced. Ranges are clamped into the text.
    pub fn apply_change(&mut self, change: TextDocumentContentChangeEvent) {
        match change.range {
            Some(range) => {
                let span = self.lines.span(&self.text, range);
                self.text.replace_range(span.range(), &change.text);
            }
            None => self.text = change.text,
        }
        self.lines = LineIndex::new(&self.text);
        self.analysis = None;
    }

    /// The current text with its analysis, computing it if a change made it stale.
    pub fn snapshot(&mut self) -> Snapshot<'_> {
        if self.analysis.is_none() {
            self.analysis = Some(Analysis::new(&self.text));
        }
        let analysis = self.analysis.as_ref().expect("analysed above");
        Snapshot { text: &self.text, lines: &self.lines, analysis }
    }
}

/// One version of a document, analysed: what every request handler reads.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot<'a> {
    pub text: &'a str,
    pub lines: &'a LineIndex,
    pub analysis: &'a Analysis,
}

impl Snapshot<'_> {
    pub fn offset(&self, position: Position) -> usize {
        self.lines.offset(self.text, position)
    }

    pub fn position(&self, offset: usize) -> Position {
        self.lines.position(self.text, offset)
    }

    pub fn range(&self, span: Span) -> Range {
        self.lines.range(self.text, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(range: Option<((u32, u32), (u32, u32))>, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|((l1, c1), (l2, c2))| Range::new(Position::new(l1, c1), Position::new(l2, c2))),
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn splices_changes_in_utf16_positions() {
        let mut doc = Document::new("// é😀\nin;\n".into(), 1);
        // after `é😀` (three UTF-16 units after `// `)
        doc.apply_change(change(Some(((0, 6), (0, 6))), "!"));
        assert_eq!(doc.text, "// é😀!\nin;\n");
        doc.apply_change(change(Some(((1, 0), (1, 2))), "out"));
        assert_eq!(doc.text, "// é😀!\nout;\n");
        // out of range: clamped to the end
        doc.apply_change(change(Some(((9, 0), (12, 4))), "x"));
        assert_eq!(doc.text, "// é😀!\nout;\nx");
        doc.apply_change(change(None, "all new"));
        assert_eq!(doc.text, "all new");
        let text_len = doc.text.len();
        assert_eq!(doc.snapshot().position(text_len), Position::new(0, 7));
    }
}
