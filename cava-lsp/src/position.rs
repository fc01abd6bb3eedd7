//! Byte offsets (what the parser's spans hold) to LSP positions and back.
//!
//! LSP positions are a line and a character offset counted in UTF-16 code
//! units (the protocol's default encoding, and the one every client
//! supports), so a character outside the Basic Multilingual Plane such as
//! an emoji counts as two and `é` as one, while it is two bytes in the text.
//! Lines end at `\n`; a `\r` before it belongs to the line break, as in the
//! parser's own `line_col`.
//!
//! Every conversion clamps instead of failing: a position past the end of a
//! line means the end of that line, a line past the end of the text means
//! the end of the text, and an offset inside a multi-byte character means
//! the start of that character. Editors do send such positions (a request
//! racing an edit, a cursor after the last line), and none of them may crash
//! the server.

use lapis_parser::span::Span;
use lsp_types::{Position, Range};

/// Where each line starts, for one version of a text.
#[derive(Clone, Debug, Default)]
pub struct LineIndex {
    /// Byte offset of the first character of every line; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The LSP position of a byte offset into `text` (the text this index was built from).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        let character: usize = text[start..offset].chars().map(char::len_utf16).sum();
        Position { line: line as u32, character: character as u32 }
    }

    /// The byte offset of an LSP position, clamped into the text.
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return text.len();
        };
        let end = self.line_end(text, position.line as usize);
        let mut units = 0usize;
        for (i, c) in text[start..end].char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
            // a position between the two halves of a surrogate pair means the character itself
            if units > position.character as usize {
                return start + i;
            }
        }
        end
    }

    /// The LSP range of a span, clamped into the text.
    pub fn range(&self, text: &str, span: Span) -> Range {
        let start = self.position(text, span.start as usize);
        let end = self.position(text, (span.end as usize).max(span.start as usize));
        Range { start, end }
    }

    /// The byte span of an LSP range, clamped into the text and never reversed.
    pub fn span(&self, text: &str, range: Range) -> Span {
        let start = self.offset(text, range.start);
        let end = self.offset(text, range.end).max(start);
        Span::new(start, end)
    }

    /// The range of the whole text, for edits that replace all of it.
    pub fn full_range(&self, text: &str) -> Range {
        Range { start: Position::new(0, 0), end: self.position(text, text.len()) }
    }

    /// The end of a line's content: before its `\n` (or `\r\n`), or the end of the text.
    fn line_end(&self, text: &str, line: usize) -> usize {
        let end = self.starts.get(line + 1).map_or(text.len(), |next| next - 1);
        let start = self.starts[line];
        if end > start && text.as_bytes()[end - 1] == b'\r' && end < text.len() {
            end - 1
        } else {
            end
        }
    }
}

/// The largest char boundary at or before `i` (`str::floor_char_boundary` is not stable yet).
pub fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) {
        let index = LineIndex::new(text);
        for (offset, c) in text.char_indices().chain([(text.len(), ' ')]) {
            if c == '\n' && text[..offset].ends_with('\r') {
                // between `\r` and `\n`: inside the line break, no position of its own
                continue;
            }
            let position = index.position(text, offset);
            assert_eq!(index.offset(text, position), offset, "{text:?} at {offset}");
        }
    }

    #[test]
    fn counts_utf16_units() {
        let text = "é\n😀x\r\nend";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 2), Position::new(0, 1));
        assert_eq!(index.position(text, 3), Position::new(1, 0));
        // the emoji is four bytes and two UTF-16 units
        assert_eq!(index.position(text, 7), Position::new(1, 2));
        assert_eq!(index.position(text, 10), Position::new(2, 0));
        round_trip(text);
        round_trip("");
        round_trip("a\n\nb\n");
    }

    #[test]
    fn clamps_out_of_range() {
        let text = "ab\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, Position::new(0, 99)), 2);
        assert_eq!(index.offset(text, Position::new(99, 0)), text.len());
        assert_eq!(index.position(text, 999), Position::new(1, 2));
        // inside a multi-byte character: its start
        assert_eq!(LineIndex::new("é").position("é", 1), Position::new(0, 0));
        // between the halves of a surrogate pair: the character's start
        assert_eq!(LineIndex::new("😀").offset("😀", Position::new(0, 1)), 0);
        // the `\r` of a `\r\n` is not part of the line
        assert_eq!(LineIndex::new("ab\r\ncd").offset("ab\r\ncd", Position::new(0, 9)), 2);
        let reversed = Range { start: Position::new(1, 1), end: Position::new(0, 0) };
        assert_eq!(index.span(text, reversed), Span::new(4, 4));
    }
}
