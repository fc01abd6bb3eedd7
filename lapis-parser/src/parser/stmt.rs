//! Descriptor blocks: `{ descriptor; scope { ... } ... }`. A broken statement
//! is skipped up to its `;` or its block, and the rest of the block is parsed.

use super::{PResult, Parser};
use crate::ast::{Block, Descriptor, DescriptorArg, ReplaceSide, Stmt, StmtKind};
use crate::descriptors::{self, Args};
use crate::lexer::{Punct, TokenKind};
use crate::span::Spanned;

impl Parser {
    pub(crate) fn block(&mut self, depth: usize) -> PResult<Block> {
        self.check_depth(depth)?;
        let open = self.expect_punct(Punct::LBrace, "to open a descriptor block")?;
        let mut stmts = Vec::new();
        while !self.at_punct(Punct::RBrace) && !self.at_eof() {
            let start = self.span();
            let before = self.pos;
            let kind = match self.stmt(depth) {
                Ok(kind) => kind,
                Err(_) => {
                    self.recover(true);
                    if self.pos == before {
                        self.bump();
                    }
                    StmtKind::Error
                }
            };
            stmts.push(Stmt { kind, span: start.to(self.prev_span()) });
        }
        let close = match self.expect_punct(Punct::RBrace, "to close the block") {
            Ok(close) => close,
            Err(recover) => {
                if let Some(d) = self.diagnostics.last_mut() {
                    d.secondary.push(crate::diagnostic::Label { span: open, message: "the block opened here".into() });
                }
                return Err(recover);
            }
        };
        Ok(Block { stmts, span: open.to(close) })
    }

    fn stmt(&mut self, depth: usize) -> PResult<StmtKind> {
        let TokenKind::Ident(word) = self.peek().clone() else {
            if self.at_punct(Punct::Star) || self.at_punct(Punct::LParen) {
                let expr = self.assignment(depth + 1)?;
                self.expect_punct(Punct::Semi, "after the statement")?;
                return Ok(StmtKind::Expr(expr));
            }
            return Err(self.unexpected("a descriptor"));
        };
        let scope_name = |p: &mut Self| -> PResult<Spanned<String>> {
            p.bump();
            p.expect_punct(Punct::LParen, &format!("after `{word}`"))?;
            let name = p.expect_ident("a name")?;
            p.expect_punct(Punct::RParen, &format!("to close `{word}(...)`"))?;
            Ok(name)
        };
        match word.as_str() {
            "argument" if self.punct_at(1, Punct::LParen) => {
                let name = scope_name(self)?;
                let body = self.block(depth + 1)?;
                Ok(StmtKind::Argument { name, body })
            }
            "field" if self.punct_at(1, Punct::LParen) => {
                let name = scope_name(self)?;
                let body = self.block(depth + 1)?;
                Ok(StmtKind::Field { name, body })
            }
            "element" if self.punct_at(1, Punct::LBrace) => {
                self.bump();
                Ok(StmtKind::Element(self.block(depth + 1)?))
            }
            "return_value" if self.punct_at(1, Punct::LBrace) => {
                self.bump();
                Ok(StmtKind::ReturnValue(self.block(depth + 1)?))
            }
            "if" => self.if_stmt(depth),
            "contextual_argument" => {
                self.bump();
                let decl = self.declaration(depth + 1)?;
                if decl.name.is_none() {
                    return Err(self.unexpected("the contextual argument's name"));
                }
                self.expect_punct(Punct::Eq, "and the value of the contextual argument")?;
                let value = self.expr(depth + 1)?;
                self.expect_punct(Punct::Semi, "after the contextual argument")?;
                Ok(StmtKind::ContextualArgument { decl, value })
            }
            "replace_guest" | "replace_server" => {
                self.bump();
                let side = if word == "replace_guest" { ReplaceSide::Guest } else { ReplaceSide::Server };
                let TokenKind::RawBlock(code) = self.peek().clone() else {
                    return Err(self.unexpected("`{` and the Rust code of the replacement"));
                };
                let span = self.bump();
                self.eat_punct(Punct::Semi);
                Ok(StmtKind::Replace { side, code: Spanned::new(code, span) })
            }
            w if descriptors::is_stdlib_function(w) || !matches!(self.peek_at(1), TokenKind::Punct(Punct::LParen | Punct::Semi)) => {
                let expr = self.assignment(depth + 1)?;
                self.expect_punct(Punct::Semi, "after the statement")?;
                Ok(StmtKind::Expr(expr))
            }
            _ => self.descriptor(depth),
        }
    }

    fn if_stmt(&mut self, depth: usize) -> PResult<StmtKind> {
        self.check_depth(depth)?;
        self.bump();
        self.expect_punct(Punct::LParen, "after `if`")?;
        let cond = self.expr(depth + 1)?;
        self.expect_punct(Punct::RParen, "to close the condition")?;
        let then = self.block(depth + 1)?;
        let otherwise = if self.eat_keyword("else") {
            if self.at_keyword("if") {
                let start = self.span();
                let nested = self.if_stmt(depth + 1)?;
                let span = start.to(self.prev_span());
                Some(Block { stmts: vec![Stmt { kind: nested, span }], span })
            } else {
                Some(self.block(depth + 1)?)
            }
        } else {
            None
        };
        Ok(StmtKind::If { cond, then, otherwise })
    }

    /// `name;` or `name(args);`. The arguments are read as the catalog says;
    /// unknown descriptors take expressions, so that the checker can still
    /// suggest the right name.
    fn descriptor(&mut self, depth: usize) -> PResult<StmtKind> {
        let name = self.expect_ident("a descriptor")?;
        let kind = descriptors::lookup(&name.node).map(|d| d.args);
        let args = if self.eat_punct(Punct::LParen) {
            let mut args = Vec::new();
            while !self.at_punct(Punct::RParen) {
                let arg = if kind == Some(Args::Type) {
                    DescriptorArg::Type(self.type_name(depth + 1)?)
                } else {
                    DescriptorArg::Expr(self.expr(depth + 1)?)
                };
                args.push(arg);
                if !self.eat_punct(Punct::Comma) {
                    break;
                }
            }
            self.expect_punct(Punct::RParen, &format!("to close `{}(...)`", name.node))?;
            Some(args)
        } else {
            None
        };
        self.expect_punct(Punct::Semi, "after the descriptor")?;
        Ok(StmtKind::Descriptor(Descriptor { name, args }))
    }
}
