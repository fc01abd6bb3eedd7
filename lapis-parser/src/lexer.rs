//! Turns spec text into tokens. Never fails: bad characters become diagnostics
//! and are skipped, so the parser always sees a complete token stream ending in
//! `Eof`. Comments are kept aside (as trivia) for `cava fmt`.

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    Ident(String),
    /// An integer literal; the text keeps any C suffix (`u`, `ul`, `ll`).
    Int(u64),
    Float(f64),
    Str(String),
    Char(u32),
    /// The text between the braces of `replace_guest { ... }` / `replace_server { ... }`.
    RawBlock(String),
    Punct(Punct),
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Punct {
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Semi,
    Comma,
    Dot,
    Arrow,
    Ellipsis,
    Question,
    Colon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    AmpAmp,
    Pipe,
    PipePipe,
    Caret,
    Tilde,
    Bang,
    Eq,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Shl,
    Shr,
}

impl Punct {
    pub fn as_str(self) -> &'static str {
        use Punct::*;
        match self {
            LParen => "(",
            RParen => ")",
            LBrace => "{",
            RBrace => "}",
            LBracket => "[",
            RBracket => "]",
            Semi => ";",
            Comma => ",",
            Dot => ".",
            Arrow => "->",
            Ellipsis => "...",
            Question => "?",
            Colon => ":",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Amp => "&",
            AmpAmp => "&&",
            Pipe => "|",
            PipePipe => "||",
            Caret => "^",
            Tilde => "~",
            Bang => "!",
            Eq => "=",
            EqEq => "==",
            NotEq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Shl => "<<",
            Shr => ">>",
        }
    }
}

impl TokenKind {
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) => format!("`{name}`"),
            TokenKind::Int(_) | TokenKind::Float(_) => "a number".into(),
            TokenKind::Str(_) => "a string".into(),
            TokenKind::Char(_) => "a character literal".into(),
            TokenKind::RawBlock(_) => "a code block".into(),
            TokenKind::Punct(p) => format!("`{}`", p.as_str()),
            TokenKind::Eof => "the end of the file".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
    /// The token starts a line with no indentation: where top-level items
    /// start in a formatted spec, so the parser resumes there after an error.
    pub at_column_one: bool,
}

/// A comment, kept so that the formatter can put it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub comments: Vec<Comment>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Identifiers after which a brace-delimited block is raw Rust, not LAPIS.
pub const RAW_BLOCK_KEYWORDS: [&str; 2] = ["replace_guest", "replace_server"];

pub fn lex(source: &str) -> Lexed {
    let mut lexer = Lexer { src: source.as_bytes(), text: source, pos: 0, out: Lexed::default() };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    out: Lexed,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let at_column_one = start == 0 || self.src[start - 1] == b'\n';
        self.out.tokens.push(Token { kind, span: Span::new(start, self.pos), at_column_one });
    }

    fn error(&mut self, code: Code, message: String, span: Span, label: &str) {
        self.out.diagnostics.push(Diagnostic::error(code, message).with_primary(span, label));
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            let start = self.pos;
            let c = self.src[self.pos];
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => self.pos += 1,
                b'/' if self.peek(1) == b'/' => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                    self.comment(start);
                }
                b'/' if self.peek(1) == b'*' => {
                    self.pos += 2;
                    while self.pos < self.src.len() && !(self.peek(0) == b'*' && self.peek(1) == b'/') {
                        self.pos += 1;
                    }
                    if self.pos >= self.src.len() {
                        self.error(
                            Code::UnterminatedLiteral,
                            "unterminated block comment".into(),
                            Span::new(start, start + 2),
                            "comment starts here and never ends",
                        );
                    } else {
                        self.pos += 2;
                    }
                    self.comment(start);
                }
                b'#' if self.at_line_start(start) => self.preprocessor_line(start),
                b'"' => self.string(start),
                b'\'' => self.char_literal(start),
                b'0'..=b'9' => self.number(start),
                b'.' if self.peek(1).is_ascii_digit() => self.number(start),
                c if c == b'_' || c.is_ascii_alphabetic() => self.ident(start),
                _ => {
                    if let Some((punct, len)) = self.punct() {
                        self.pos += len;
                        self.push(TokenKind::Punct(punct), start);
                    } else {
                        let ch = self.text[start..].chars().next().unwrap_or('?');
                        self.pos += ch.len_utf8();
                        let what = match ch {
                            '\u{a0}' => "a non-breaking space (U+00A0)".to_string(),
                            c if c.is_whitespace() => format!("an unusual space (U+{:04X})", c as u32),
                            c if c.is_control() => format!("a control character (U+{:04X})", c as u32),
                            c => format!("`{c}`"),
                        };
                        self.error(
                            Code::UnexpectedCharacter,
                            format!("unexpected character: {what}"),
                            Span::new(start, self.pos),
                            "not part of LAPIS",
                        );
                    }
                }
            }
        }
        let end = self.src.len();
        self.out.tokens.push(Token { kind: TokenKind::Eof, span: Span::new(end, end), at_column_one: true });
    }

    fn at_line_start(&self, at: usize) -> bool {
        self.text[..at].chars().rev().take_while(|c| *c != '\n').all(|c| c == ' ' || c == '\t')
    }

    /// `#include`, `#define`...: C preprocessor lines, reported once and skipped
    /// whole so that the next item parses.
    fn preprocessor_line(&mut self, start: usize) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            // a backslash at the end of a line continues the directive
            if self.src[self.pos] == b'\\' && self.peek(1) == b'\n' {
                self.pos += 1;
            }
            self.pos += 1;
        }
        let end = self.text[start..self.pos].trim_end().len() + start;
        self.out.diagnostics.push(
            Diagnostic::error(Code::UnexpectedCharacter, "preprocessor lines are not part of LAPIS")
                .with_primary(Span::new(start, end), "a C preprocessor line")
                .with_help("name headers in the `api` block (`headers = [\"...\"]`) and write constants as `const int NAME = value;`"),
        );
    }

    fn comment(&mut self, start: usize) {
        self.out.comments.push(Comment { text: self.text[start..self.pos].to_string(), span: Span::new(start, self.pos) });
    }

    fn punct(&self) -> Option<(Punct, usize)> {
        use Punct::*;
        let three = [self.peek(0), self.peek(1), self.peek(2)];
        if &three == b"..." {
            return Some((Ellipsis, 3));
        }
        let two = match [self.peek(0), self.peek(1)] {
            [b'-', b'>'] => Some(Arrow),
            [b'&', b'&'] => Some(AmpAmp),
            [b'|', b'|'] => Some(PipePipe),
            [b'=', b'='] => Some(EqEq),
            [b'!', b'='] => Some(NotEq),
            [b'<', b'='] => Some(Le),
            [b'>', b'='] => Some(Ge),
            [b'<', b'<'] => Some(Shl),
            [b'>', b'>'] => Some(Shr),
            _ => None,
        };
        if let Some(p) = two {
            return Some((p, 2));
        }
        let one = match self.peek(0) {
            b'(' => LParen,
            b')' => RParen,
            b'{' => LBrace,
            b'}' => RBrace,
            b'[' => LBracket,
            b']' => RBracket,
            b';' => Semi,
            b',' => Comma,
            b'.' => Dot,
            b'?' => Question,
            b':' => Colon,
            b'+' => Plus,
            b'-' => Minus,
            b'*' => Star,
            b'/' => Slash,
            b'%' => Percent,
            b'&' => Amp,
            b'|' => Pipe,
            b'^' => Caret,
            b'~' => Tilde,
            b'!' => Bang,
            b'=' => Eq,
            b'<' => Lt,
            b'>' => Gt,
            _ => return None,
        };
        Some((one, 1))
    }

    fn ident(&mut self, start: usize) {
        while self.peek(0) == b'_' || self.peek(0).is_ascii_alphanumeric() {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        self.push(TokenKind::Ident(name.to_string()), start);
        if RAW_BLOCK_KEYWORDS.contains(&name) {
            self.raw_block();
        }
    }

    /// After `replace_guest`/`replace_server`: capture a balanced `{ ... }`
    /// without tokenizing it (it is Rust, not LAPIS). Comments before the
    /// brace are ordinary comments.
    fn raw_block(&mut self) {
        let mut look = self.pos;
        loop {
            while look < self.src.len() && self.src[look].is_ascii_whitespace() {
                look += 1;
            }
            let comment_end = match (self.src.get(look), self.src.get(look + 1)) {
                (Some(b'/'), Some(b'/')) => Some(self.src[look..].iter().position(|&c| c == b'\n').map_or(self.src.len(), |n| look + n)),
                (Some(b'/'), Some(b'*')) => self.text[look + 2..].find("*/").map(|n| look + 2 + n + 2),
                _ => None,
            };
            let Some(end) = comment_end else { break };
            self.out.comments.push(Comment { text: self.text[look..end].to_string(), span: Span::new(look, end) });
            look = end;
        }
        if self.src.get(look) != Some(&b'{') {
            return;
        }
        let start = look;
        match rust_block_end(self.text, start) {
            Some(close) => {
                self.pos = close + 1;
                self.push(TokenKind::RawBlock(self.text[start + 1..close].to_string()), start);
            }
            None => {
                self.pos = self.src.len();
                self.error(
                    Code::UnterminatedLiteral,
                    "unterminated code block".into(),
                    Span::new(start, start + 1),
                    "this `{` is never closed",
                );
                self.push(TokenKind::RawBlock(self.text[start + 1..].to_string()), start);
            }
        }
    }

    fn escape(&mut self) -> Option<u32> {
        // self.pos is at the character after the backslash
        if self.pos >= self.src.len() {
            return None;
        }
        let c = self.peek(0);
        if !c.is_ascii() {
            // skip the whole character so that positions stay on char boundaries
            self.pos += self.text[self.pos..].chars().next().map_or(1, char::len_utf8);
            return None;
        }
        self.pos += 1;
        Some(match c {
            b'n' => '\n' as u32,
            b't' => '\t' as u32,
            b'r' => '\r' as u32,
            b'0' => 0,
            b'\\' => '\\' as u32,
            b'\'' => '\'' as u32,
            b'"' => '"' as u32,
            _ => return None,
        })
    }

    fn string(&mut self, start: usize) {
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek(0) {
                0 if self.pos >= self.src.len() => {
                    self.error(
                        Code::UnterminatedLiteral,
                        "unterminated string".into(),
                        Span::new(start, start + 1),
                        "string starts here and never ends",
                    );
                    break;
                }
                b'\n' => {
                    self.error(
                        Code::UnterminatedLiteral,
                        "unterminated string".into(),
                        Span::new(start, self.pos),
                        "strings end on the line they start",
                    );
                    break;
                }
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let at = self.pos;
                    self.pos += 1;
                    match self.escape().and_then(char::from_u32) {
                        Some(ch) => value.push(ch),
                        None => self.error(
                            Code::UnterminatedLiteral,
                            "unknown escape in string".into(),
                            Span::new(at, self.pos.min(self.src.len())),
                            "supported escapes: \\n \\t \\r \\0 \\\\ \\' \\\"",
                        ),
                    }
                }
                _ => {
                    let ch = self.text[self.pos..].chars().next().unwrap_or('?');
                    value.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
        self.push(TokenKind::Str(value), start);
    }

    fn char_literal(&mut self, start: usize) {
        self.pos += 1;
        let value = if self.peek(0) == b'\\' {
            self.pos += 1;
            self.escape()
        } else if self.pos < self.src.len() {
            let ch = self.text[self.pos..].chars().next().unwrap_or('?');
            self.pos += ch.len_utf8();
            Some(ch as u32)
        } else {
            None
        };
        if self.peek(0) == b'\'' && value.is_some() {
            self.pos += 1;
            self.push(TokenKind::Char(value.unwrap_or(0)), start);
        } else {
            self.error(
                Code::UnterminatedLiteral,
                "malformed character literal".into(),
                Span::new(start, self.pos.min(self.src.len())),
                "expected one character between single quotes",
            );
        }
    }

    fn number(&mut self, start: usize) {
        let hex = self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X');
        if hex {
            self.pos += 2;
        }
        let mut is_float = false;
        loop {
            let c = self.peek(0);
            let more = if hex {
                c.is_ascii_hexdigit()
            } else if c == b'.' || ((c == b'e' || c == b'E') && !hex) {
                is_float = true;
                if matches!(self.peek(1), b'+' | b'-') && c != b'.' {
                    self.pos += 1;
                }
                true
            } else {
                c.is_ascii_digit()
            };
            if !more {
                break;
            }
            self.pos += 1;
        }
        let digits_end = self.pos;
        while matches!(self.peek(0), b'u' | b'U' | b'l' | b'L' | b'f' | b'F') {
            if matches!(self.peek(0), b'f' | b'F') && !is_float && !hex {
                is_float = true;
            }
            self.pos += 1;
        }
        let text = &self.text[start..digits_end];
        let kind = if is_float {
            text.parse::<f64>().ok().map(TokenKind::Float)
        } else if hex {
            u64::from_str_radix(&text[2..], 16).ok().map(TokenKind::Int)
        } else if text.len() > 1 && text.starts_with('0') {
            u64::from_str_radix(&text[1..], 8).ok().map(TokenKind::Int)
        } else {
            text.parse::<u64>().ok().map(TokenKind::Int)
        };
        match kind {
            Some(kind) => self.push(kind, start),
            None => {
                let label = if !is_float && !hex && text.len() > 1 && text.starts_with('0') && text.bytes().any(|b| b > b'7') {
                    "a leading 0 makes an octal number, which has no digits 8 or 9"
                } else if !is_float && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'x' || b == b'X') {
                    "does not fit in 64 bits"
                } else {
                    "not a valid integer or floating literal"
                };
                self.error(
                    Code::InvalidNumber,
                    format!("invalid number `{}`", &self.text[start..self.pos]),
                    Span::new(start, self.pos),
                    label,
                );
                self.push(TokenKind::Int(0), start);
            }
        }
    }
}

/// The index of the `}` that closes the Rust block opening at `open`,
/// skipping Rust strings (plain, byte and raw), character literals (but not
/// lifetimes) and comments (line, and nested block comments).
fn rust_block_end(text: &str, open: usize) -> Option<usize> {
    let src = text.as_bytes();
    let at = |i: usize| src.get(i).copied().unwrap_or(0);
    let mut depth = 0usize;
    let mut i = open;
    while i < src.len() {
        match src[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'/' if at(i + 1) == b'/' => {
                while i < src.len() && src[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if at(i + 1) == b'*' => {
                let mut nested = 1;
                i += 2;
                while i < src.len() && nested > 0 {
                    if src[i] == b'/' && at(i + 1) == b'*' {
                        nested += 1;
                        i += 1;
                    } else if src[i] == b'*' && at(i + 1) == b'/' {
                        nested -= 1;
                        i += 1;
                    }
                    i += 1;
                }
                continue;
            }
            b'r' if (at(i + 1) == b'"' || at(i + 1) == b'#') && (i == 0 || !is_ident_byte(src[i - 1])) => {
                let mut hashes = 0;
                let mut j = i + 1;
                while at(j) == b'#' {
                    hashes += 1;
                    j += 1;
                }
                if at(j) == b'"' {
                    j += 1;
                    while j < src.len() && !(src[j] == b'"' && (1..=hashes).all(|k| at(j + k) == b'#')) {
                        j += 1;
                    }
                    i = j + hashes + 1;
                    continue;
                }
            }
            b'"' => {
                i += 1;
                while i < src.len() && src[i] != b'"' {
                    if src[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                // 'x' or '\n' is a character; 'a (no closing quote) is a lifetime
                if at(i + 1) == b'\\' {
                    i += 2;
                    while i < src.len() && src[i] != b'\'' {
                        i += 1;
                    }
                } else if let Some(c) = text[i + 1..].chars().next() {
                    if at(i + 1 + c.len_utf8()) == b'\'' {
                        i += 1 + c.len_utf8();
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ident_byte(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        lex(src).tokens.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexes_punctuation_and_numbers() {
        assert_eq!(
            kinds("a->b 0x10 010 1.5 3u ..."),
            vec![
                TokenKind::Ident("a".into()),
                TokenKind::Punct(Punct::Arrow),
                TokenKind::Ident("b".into()),
                TokenKind::Int(16),
                TokenKind::Int(8),
                TokenKind::Float(1.5),
                TokenKind::Int(3),
                TokenKind::Punct(Punct::Ellipsis),
                TokenKind::Eof,
            ]
        );
    }

    #[test]
    fn keeps_comments_aside() {
        let lexed = lex("a // one\n/* two */ b");
        assert_eq!(lexed.tokens.len(), 3);
        assert_eq!(lexed.comments.len(), 2);
    }

    #[test]
    fn raw_blocks_are_balanced() {
        let lexed = lex("replace_guest { if x { \"}\" } } ;");
        assert_eq!(lexed.tokens[1].kind, TokenKind::RawBlock(" if x { \"}\" } ".into()));
        assert_eq!(lexed.tokens[2].kind, TokenKind::Punct(Punct::Semi));
    }

    #[test]
    fn raw_blocks_skip_rust_literals_and_comments() {
        for body in [" '}' ", " /* } /* } */ } */ ", " r#\"}\"# ", " b\"}\" ", " '\\'' ", " fn f<'a>(x: &'a str) {} ", " // }\n "] {
            let lexed = lex(&format!("replace_server /* c */ {{{body}}} ;"));
            assert_eq!(lexed.tokens[1].kind, TokenKind::RawBlock(body.into()), "{body}");
            assert!(lexed.diagnostics.is_empty(), "{body}: {:?}", lexed.diagnostics);
            assert_eq!(lexed.comments.len(), 1);
        }
    }

    #[test]
    fn reports_bad_input_and_continues() {
        let lexed = lex("a @ \"unterminated\nb");
        assert_eq!(lexed.diagnostics.len(), 2);
        assert!(matches!(lexed.tokens.last().unwrap().kind, TokenKind::Eof));
    }
}
