//! Recursive-descent parser. It never fails: it always returns a syntax tree
//! plus diagnostics. A syntax error abandons the current statement (inside a
//! block) or item (at top level) and resumes after it, so one broken function
//! does not hide errors in the next.

mod decl;
mod expr;
mod items;
mod stmt;

use crate::ast::SourceFile;
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{lex, Punct, Token, TokenKind};
use crate::span::{Span, Spanned};

/// Parses a whole spec.
pub fn parse(source: &str) -> (SourceFile, Vec<Diagnostic>) {
    let lexed = lex(source);
    let mut parser = Parser { tokens: lexed.tokens, pos: 0, diagnostics: lexed.diagnostics };
    let items = parser.items();
    (SourceFile { items, comments: lexed.comments }, parser.diagnostics)
}

/// Marks that a diagnostic has been reported and the caller must recover.
#[derive(Debug)]
pub(crate) struct Recover;

pub(crate) type PResult<T> = Result<T, Recover>;

/// Nesting deeper than this is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 128;

pub(crate) struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    diagnostics: Vec<Diagnostic>,
}

impl Parser {
    fn peek(&self) -> &TokenKind {
        &self.tokens[self.pos].kind
    }

    fn peek_at(&self, ahead: usize) -> &TokenKind {
        let i = (self.pos + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].kind
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    /// The span of the last consumed token.
    fn prev_span(&self) -> Span {
        if self.pos == 0 {
            Span::default()
        } else {
            self.tokens[self.pos - 1].span
        }
    }

    /// Consumes the current token (never `Eof`) and returns its span.
    fn bump(&mut self) -> Span {
        let span = self.tokens[self.pos].span;
        if !matches!(self.tokens[self.pos].kind, TokenKind::Eof) {
            self.pos += 1;
        }
        span
    }

    fn at_eof(&self) -> bool {
        matches!(self.peek(), TokenKind::Eof)
    }

    fn at_punct(&self, p: Punct) -> bool {
        matches!(self.peek(), TokenKind::Punct(q) if *q == p)
    }

    fn punct_at(&self, ahead: usize, p: Punct) -> bool {
        matches!(self.peek_at(ahead), TokenKind::Punct(q) if *q == p)
    }

    fn at_keyword(&self, word: &str) -> bool {
        self.keyword_at(0, word)
    }

    fn keyword_at(&self, ahead: usize, word: &str) -> bool {
        matches!(self.peek_at(ahead), TokenKind::Ident(name) if name == word)
    }

    fn eat_punct(&mut self, p: Punct) -> bool {
        if self.at_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.at_keyword(word) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: Punct, context: &str) -> PResult<Span> {
        if self.at_punct(p) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("`{}` {context}", p.as_str())))
        }
    }

    fn expect_ident(&mut self, what: &str) -> PResult<Spanned<String>> {
        match self.peek().clone() {
            TokenKind::Ident(name) => {
                let span = self.bump();
                Ok(Spanned::new(name, span))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn expect_string(&mut self, what: &str) -> PResult<Spanned<String>> {
        match self.peek().clone() {
            TokenKind::Str(value) => {
                let span = self.bump();
                Ok(Spanned::new(value, span))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// Reports "expected X, found Y" at the current token.
    fn unexpected(&mut self, expected: &str) -> Recover {
        let found = self.peek().describe();
        let span = self.span();
        let mut diagnostic = Diagnostic::error(Code::UnexpectedToken, format!("expected {expected}, found {found}"))
            .with_primary(span, format!("expected {expected}"));
        if expected.starts_with("`;`") && self.pos > 0 {
            // a missing `;` belongs where the statement ended, not on the next line
            let after = self.prev_span();
            let at_end = Span::new(after.end as usize, after.end as usize);
            diagnostic = Diagnostic::error(Code::UnexpectedToken, format!("expected {expected}, found {found}"))
                .with_primary(at_end, "`;` missing here")
                .with_secondary(span, format!("{found} comes next"))
                .with_help("add `;` at the end of the statement")
                .with_fix(at_end, ";", "add `;`");
        }
        self.diagnostics.push(diagnostic);
        Recover
    }

    fn error(&mut self, diagnostic: Diagnostic) -> Recover {
        self.diagnostics.push(diagnostic);
        Recover
    }

    fn check_depth(&mut self, depth: usize) -> PResult<()> {
        if depth > MAX_DEPTH {
            let span = self.span();
            return Err(self.error(
                Diagnostic::error(Code::UnexpectedToken, "nesting too deep")
                    .with_primary(span, format!("more than {MAX_DEPTH} levels of nesting"))
                    .with_help("split the expression or scope into smaller pieces"),
            ));
        }
        Ok(())
    }

    /// Skips to just after the next `;` or balanced `}` at the current
    /// nesting level. With `stop_at_close`, an unbalanced `}` ends the skip
    /// without being consumed (it closes the enclosing block).
    fn recover(&mut self, stop_at_close: bool) {
        let mut depth = 0usize;
        let start = self.pos;
        loop {
            // at top level, a token in column one after the broken part starts the next item
            let token = &self.tokens[self.pos];
            if !stop_at_close && self.pos > start && token.at_column_one && !matches!(token.kind, TokenKind::Punct(Punct::RBrace)) {
                return;
            }
            match self.peek() {
                TokenKind::Eof => return,
                TokenKind::Punct(Punct::LBrace | Punct::LParen | Punct::LBracket) => {
                    depth += 1;
                    self.bump();
                }
                TokenKind::Punct(Punct::RParen | Punct::RBracket) => {
                    depth = depth.saturating_sub(1);
                    self.bump();
                }
                TokenKind::Punct(Punct::RBrace) => {
                    if depth == 0 {
                        if stop_at_close {
                            return;
                        }
                        self.bump();
                        return;
                    }
                    depth -= 1;
                    self.bump();
                    if depth == 0 {
                        // a block closed at our level: the broken thing ends here,
                        // unless a `;` or `else` follows it
                        if !self.at_punct(Punct::Semi) && !self.at_keyword("else") {
                            return;
                        }
                    }
                }
                TokenKind::Punct(Punct::Semi) if depth == 0 => {
                    self.bump();
                    return;
                }
                _ => {
                    self.bump();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
