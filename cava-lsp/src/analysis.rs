//! What the server knows about one version of a spec's text.
//!
//! Every change re-checks the whole file with `lapis_parser::check_source`,
//! the same call `cava check` makes, so the editor shows exactly the CLI's
//! diagnostics. Re-checking only the items an edit touched was considered
//! and measured against first (`cargo bench -p cava-lsp --bench
//! diagnostics`; the figures and their ranges are in the book chapter
//! "Editors"): from a one-character edit in a 2,000-line spec to its
//! diagnostics takes about 12 ms in a release build, far under the 50 ms an
//! editor can hide, and 50 to 65 ms in an unoptimised debug build, where
//! the checker itself dominates. The checker resolves names across the
//! whole file in passes (types, constants, scopes, then functions), so an
//! edit to one `typedef` can change diagnostics anywhere; an incremental
//! checker would have to track those dependencies inside `lapis-parser`, for
//! a gain only a debug build would feel (building `lapis-parser` at
//! `opt-level = 1` in the dev profile brings it to about 16 ms). Instead the
//! server coalesces: a burst of edits is checked once, when no further
//! message is waiting.
//!
//! Tokens and the declaration index are built only when a request needs
//! them, so typing pays for the check and nothing else.

use std::cell::OnceCell;

use lapis_parser::ast::SourceFile;
use lapis_parser::lexer::{self, Token};
use lapis_parser::Diagnostic;

use crate::index::Index;

#[derive(Debug)]
pub struct Analysis {
    pub file: SourceFile,
    /// The diagnostics `cava check` reports for this text, in its order.
    pub diagnostics: Vec<Diagnostic>,
    source: String,
    tokens: OnceCell<Vec<Token>>,
    index: OnceCell<Index>,
}

impl Analysis {
    pub fn new(source: &str) -> Analysis {
        let (file, checked) = lapis_parser::check_source(source);
        Analysis { file, diagnostics: checked.diagnostics, source: source.to_string(), tokens: OnceCell::new(), index: OnceCell::new() }
    }

    /// The tokens of the text, ending with `Eof`.
    pub fn tokens(&self) -> &[Token] {
        self.tokens.get_or_init(|| lexer::lex(&self.source).tokens)
    }

    /// Every declaration in the file, for hover, definition, completion and symbols.
    pub fn index(&self) -> &Index {
        self.index.get_or_init(|| Index::new(&self.file, &self.source, self.tokens()))
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}
