//! Where the cursor stands, read from the tokens rather than the syntax tree.
//!
//! Hover, definition and completion run mostly on text being typed, where
//! the tree is at its worst: one unclosed `(` turns the rest of the file
//! into an error item. The lexer never gives up, so the blocks open at the
//! cursor are found by walking the tokens and classifying each `{` by what
//! precedes it (`argument(x) {`, `element {`, a prototype's `) {`, ...).
//! An identifier in column one closes every open block: that is where
//! top-level items start in a formatted spec, and the parser resumes there
//! after an error too.

use lapis_parser::lexer::{Punct, Token, TokenKind};
use lapis_parser::span::Span;

/// What a `{` opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Api,
    /// The body of a struct, union or enum.
    TypeBody,
    Function,
    Callback,
    Utility,
    Argument(String),
    Field(String),
    Element,
    ReturnValue,
    If,
    /// `type(T) {`, with the span of `T`.
    Type(Span),
    Default,
    Other,
}

/// The kind of place the cursor is in, which decides what may be written there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    TopLevel,
    Api,
    TypeBody,
    /// A function's body: function descriptors and scopes.
    Function,
    /// A callback's body: only `argument` scopes.
    Callback,
    Utility,
    /// A value scope: `argument`, `element`, `return_value`, `field`, `type`, `default`.
    Value,
    Other,
}

/// A call whose parentheses are open at the cursor.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub name: &'a str,
    /// Which argument the cursor is in, from 0.
    pub arg: usize,
}

#[derive(Debug)]
pub struct Context<'a> {
    pub source: &'a str,
    pub tokens: &'a [Token],
    pub offset: usize,
    /// Blocks open at the cursor, outermost first.
    pub stack: Vec<Scope>,
    /// The first token of the top-level item around the cursor.
    pub item_start: usize,
}

/// The identifier a token holds, if it is one.
pub fn ident(token: &Token) -> Option<&str> {
    match &token.kind {
        TokenKind::Ident(name) => Some(name),
        _ => None,
    }
}

pub fn is_punct(token: Option<&Token>, punct: Punct) -> bool {
    token.is_some_and(|t| t.kind == TokenKind::Punct(punct))
}

impl<'a> Context<'a> {
    pub fn new(source: &'a str, tokens: &'a [Token], offset: usize) -> Context<'a> {
        let mut ctx = Context { source, tokens, offset, stack: Vec::new(), item_start: 0 };
        for (i, token) in tokens.iter().enumerate() {
            if token.span.start as usize >= offset || token.kind == TokenKind::Eof {
                break;
            }
            match &token.kind {
                TokenKind::Ident(_) if token.at_column_one => {
                    ctx.stack.clear();
                    ctx.item_start = i;
                }
                TokenKind::Punct(Punct::LBrace) => {
                    let scope = ctx.classify(i);
                    ctx.stack.push(scope);
                }
                TokenKind::Punct(Punct::RBrace) => {
                    ctx.stack.pop();
                    if ctx.stack.is_empty() {
                        ctx.item_start = i + 1;
                    }
                }
                TokenKind::Punct(Punct::Semi) if ctx.stack.is_empty() => ctx.item_start = i + 1,
                _ => {}
            }
        }
        ctx
    }

    /// The identifier at token `i`, if any.
    pub fn ident(&self, i: usize) -> Option<&'a str> {
        self.tokens.get(i).and_then(ident)
    }

    /// The identifier token under the cursor (touching it on either side).
    pub fn word(&self) -> Option<usize> {
        let at = self.tokens.partition_point(|t| (t.span.end as usize) < self.offset);
        (at..self.tokens.len()).take(2).find(|&i| {
            let t = &self.tokens[i];
            t.span.start as usize <= self.offset && self.offset <= t.span.end as usize && ident(t).is_some()
        })
    }

    /// How many tokens end at or before `offset`: the tokens before a word
    /// typed there, for `call_before`.
    pub fn count_before(&self, offset: usize) -> usize {
        self.tokens.partition_point(|t| t.span.end as usize <= offset && t.kind != TokenKind::Eof)
    }

    pub fn place(&self) -> Where {
        for scope in self.stack.iter().rev() {
            return match scope {
                Scope::If | Scope::Other => continue,
                Scope::Api => Where::Api,
                Scope::TypeBody => Where::TypeBody,
                Scope::Function => Where::Function,
                Scope::Callback => Where::Callback,
                Scope::Utility => Where::Utility,
                Scope::Argument(_) | Scope::Field(_) | Scope::Element | Scope::ReturnValue | Scope::Type(_) | Scope::Default => {
                    Where::Value
                }
            };
        }
        if self.stack.is_empty() {
            Where::TopLevel
        } else {
            Where::Other
        }
    }

    /// Whether token `i` begins a statement or an item.
    pub fn starts_statement(&self, i: usize) -> bool {
        if i == self.item_start {
            return true;
        }
        match i.checked_sub(1).and_then(|p| self.tokens.get(p)) {
            None => true,
            Some(prev) => matches!(prev.kind, TokenKind::Punct(Punct::LBrace | Punct::RBrace | Punct::Semi) | TokenKind::RawBlock(_)),
        }
    }

    /// The innermost call whose `(` is open before token `end` (exclusive),
    /// within the current statement.
    pub fn call_before(&self, end: usize) -> Option<Call<'a>> {
        let mut depth = 0usize;
        let mut arg = 0;
        // statements are short; the bound keeps a pathological line cheap
        for j in (0..end.min(self.tokens.len())).rev().take(512) {
            match self.tokens[j].kind {
                TokenKind::Punct(Punct::RParen | Punct::RBracket) => depth += 1,
                TokenKind::Punct(Punct::LParen | Punct::LBracket) if depth > 0 => depth -= 1,
                TokenKind::Punct(Punct::LParen) => return Some(Call { name: self.ident(j.checked_sub(1)?)?, arg }),
                TokenKind::Punct(Punct::LBracket) => return None,
                TokenKind::Punct(Punct::Comma) if depth == 0 => arg += 1,
                TokenKind::Punct(Punct::Semi | Punct::LBrace | Punct::RBrace) => return None,
                _ => {}
            }
        }
        None
    }

    /// The index of the `(` or `[` matching the closing token at `close`.
    pub fn matching_open(&self, close: usize) -> Option<usize> {
        let mut depth = 0usize;
        for j in (0..=close.min(self.tokens.len().checked_sub(1)?)).rev().take(4096) {
            match self.tokens[j].kind {
                TokenKind::Punct(Punct::RParen | Punct::RBracket) => depth += 1,
                TokenKind::Punct(Punct::LParen | Punct::LBracket) => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(j);
                    }
                }
                TokenKind::Punct(Punct::LBrace | Punct::RBrace | Punct::Semi) => return None,
                _ => {}
            }
        }
        None
    }

    /// What the `{` at token `i` opens, from the tokens before it.
    fn classify(&self, i: usize) -> Scope {
        let top_level = self.stack.is_empty();
        let Some(prev) = i.checked_sub(1).and_then(|p| self.tokens.get(p)) else { return Scope::Other };
        match &prev.kind {
            TokenKind::Ident(word) if word == "element" => return Scope::Element,
            TokenKind::Ident(word) if word == "return_value" => return Scope::ReturnValue,
            TokenKind::Ident(word) if word == "else" => return Scope::If,
            TokenKind::Punct(Punct::RParen) => {
                if let Some(open) = self.matching_open(i - 1) {
                    let keyword = open.checked_sub(1).and_then(|k| self.ident(k));
                    let inner = self.ident(open + 1).unwrap_or_default().to_string();
                    match keyword {
                        Some("argument") if !top_level => return Scope::Argument(inner),
                        Some("field") if !top_level => return Scope::Field(inner),
                        Some("if") if !top_level => return Scope::If,
                        Some("type") if top_level => {
                            let start = self.tokens.get(open + 1).map_or(0, |t| t.span.start);
                            return Scope::Type(Span { start, end: self.tokens[i - 1].span.start.max(start) });
                        }
                        Some("default") if top_level => return Scope::Default,
                        _ => {}
                    }
                }
                if top_level {
                    return match self.ident(self.item_start) {
                        Some("callback") => Scope::Callback,
                        Some("utility") => Scope::Utility,
                        _ => Scope::Function,
                    };
                }
            }
            _ => {}
        }
        if top_level {
            return match self.ident(self.item_start) {
                Some("api") => Scope::Api,
                _ => Scope::TypeBody,
            };
        }
        match self.stack.last() {
            Some(Scope::TypeBody) => Scope::TypeBody,
            _ => Scope::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &str, marker: &str) -> (Vec<Token>, usize) {
        (lapis_parser::lexer::lex(source).tokens, source.find(marker).expect("marker"))
    }

    #[test]
    fn finds_the_scopes_around_the_cursor() {
        let source = "T f(T a, T *b) {\n    argument(b) { out; buffer(a + \n}\nT g(T c) {\n    in\n}\n";
        let (tokens, offset) = at(source, " \n}\nT g");
        let ctx = Context::new(source, &tokens, offset);
        assert_eq!(ctx.stack, [Scope::Function, Scope::Argument("b".into())]);
        assert_eq!(ctx.place(), Where::Value);
        let call = ctx.call_before(ctx.count_before(offset)).expect("in buffer(");
        assert_eq!((call.name, call.arg), ("buffer", 0));
        // the unclosed block does not swallow the next function
        let (_, offset) = at(source, "in\n}");
        let ctx = Context::new(source, &tokens, offset);
        assert_eq!(ctx.stack, [Scope::Function]);
        assert_eq!(ctx.ident(ctx.item_start), Some("T"));
        assert!(ctx.starts_statement(ctx.word().unwrap()));
    }

    #[test]
    fn classifies_top_level_blocks() {
        for (source, scope) in [
            ("type(struct s) { x", Scope::Type(Span::new(5, 13))),
            ("default(string) { x", Scope::Default),
            ("callback void f(int a) { x", Scope::Callback),
            ("utility int f(int a) { x", Scope::Utility),
            ("api x { x", Scope::Api),
            ("struct s { x", Scope::TypeBody),
        ] {
            let tokens = lapis_parser::lexer::lex(source).tokens;
            let ctx = Context::new(source, &tokens, source.len());
            assert_eq!(ctx.stack.last(), Some(&scope), "{source}");
        }
    }
}
