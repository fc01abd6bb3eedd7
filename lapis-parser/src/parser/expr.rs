//! C-like expressions with C precedence, used in sizes, conditions,
//! resource amounts and constants.

use super::{PResult, Parser};
use crate::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::lexer::{Punct, TokenKind};
use crate::span::Spanned;

const TYPE_WORDS: &[&str] =
    &["void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool", "bool", "struct", "union", "enum", "const"];

impl Parser {
    /// An expression, without assignment.
    pub(crate) fn expr(&mut self, depth: usize) -> PResult<Expr> {
        self.check_depth(depth)?;
        let cond = self.binary(0, depth + 1)?;
        if self.eat_punct(Punct::Question) {
            let then = self.expr(depth + 1)?;
            self.expect_punct(Punct::Colon, "in the conditional expression")?;
            let otherwise = self.expr(depth + 1)?;
            let span = cond.span.to(otherwise.span);
            return Ok(Expr { kind: ExprKind::Ternary(Box::new(cond), Box::new(then), Box::new(otherwise)), span });
        }
        Ok(cond)
    }

    /// An expression statement's expression: an expression or an assignment.
    pub(crate) fn assignment(&mut self, depth: usize) -> PResult<Expr> {
        let target = self.expr(depth)?;
        if self.eat_punct(Punct::Eq) {
            let value = self.expr(depth)?;
            let span = target.span.to(value.span);
            return Ok(Expr { kind: ExprKind::Assign(Box::new(target), Box::new(value)), span });
        }
        Ok(target)
    }

    fn binary_op(&self) -> Option<BinaryOp> {
        use BinaryOp::*;
        let TokenKind::Punct(p) = self.peek() else { return None };
        Some(match p {
            Punct::Star => Mul,
            Punct::Slash => Div,
            Punct::Percent => Rem,
            Punct::Plus => Add,
            Punct::Minus => Sub,
            Punct::Shl => Shl,
            Punct::Shr => Shr,
            Punct::Lt => Lt,
            Punct::Le => Le,
            Punct::Gt => Gt,
            Punct::Ge => Ge,
            Punct::EqEq => Eq,
            Punct::NotEq => Ne,
            Punct::Amp => BitAnd,
            Punct::Caret => BitXor,
            Punct::Pipe => BitOr,
            Punct::AmpAmp => And,
            Punct::PipePipe => Or,
            _ => return None,
        })
    }

    fn binary(&mut self, min_prec: u8, depth: usize) -> PResult<Expr> {
        self.check_depth(depth)?;
        let mut lhs = self.unary(depth + 1)?;
        while let Some(op) = self.binary_op() {
            if op.precedence() <= min_prec {
                break;
            }
            self.bump();
            let rhs = self.binary(op.precedence(), depth + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span };
        }
        Ok(lhs)
    }

    fn unary(&mut self, depth: usize) -> PResult<Expr> {
        self.check_depth(depth)?;
        let op = match self.peek() {
            TokenKind::Punct(Punct::Minus) => Some(UnaryOp::Neg),
            TokenKind::Punct(Punct::Bang) => Some(UnaryOp::Not),
            TokenKind::Punct(Punct::Tilde) => Some(UnaryOp::BitNot),
            TokenKind::Punct(Punct::Star) => Some(UnaryOp::Deref),
            TokenKind::Punct(Punct::Amp) => Some(UnaryOp::AddrOf),
            TokenKind::Punct(Punct::Plus) => {
                self.bump();
                return self.unary(depth + 1);
            }
            _ => None,
        };
        if let Some(op) = op {
            let start = self.bump();
            let operand = self.unary(depth + 1)?;
            let span = start.to(operand.span);
            return Ok(Expr { kind: ExprKind::Unary(op, Box::new(operand)), span });
        }
        let base = self.primary(depth + 1)?;
        self.postfix(base, depth + 1)
    }

    fn postfix(&mut self, mut expr: Expr, depth: usize) -> PResult<Expr> {
        loop {
            if self.at_punct(Punct::Dot) || self.at_punct(Punct::Arrow) {
                let arrow = self.at_punct(Punct::Arrow);
                self.bump();
                let field = self.expect_ident("a field name")?;
                let span = expr.span.to(field.span);
                expr = Expr { kind: ExprKind::Member { base: Box::new(expr), field, arrow }, span };
            } else if self.eat_punct(Punct::LBracket) {
                let index = self.expr(depth + 1)?;
                let close = self.expect_punct(Punct::RBracket, "to close the index")?;
                let span = expr.span.to(close);
                expr = Expr { kind: ExprKind::Index(Box::new(expr), Box::new(index)), span };
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self, depth: usize) -> PResult<Expr> {
        let token = self.peek().clone();
        let start = self.span();
        let kind = match token {
            TokenKind::Int(v) => {
                self.bump();
                ExprKind::Int(v)
            }
            TokenKind::Float(v) => {
                self.bump();
                ExprKind::Float(v)
            }
            TokenKind::Str(s) => {
                self.bump();
                ExprKind::Str(s)
            }
            TokenKind::Char(c) => {
                self.bump();
                ExprKind::Char(c)
            }
            TokenKind::Punct(Punct::LParen) => {
                self.bump();
                let inner = self.expr(depth + 1)?;
                let close = self.expect_punct(Punct::RParen, "to close the parenthesis")?;
                return Ok(Expr { kind: inner.kind, span: start.to(close) });
            }
            TokenKind::Ident(name) if name == "sizeof" => return self.sizeof(depth),
            TokenKind::Ident(name) => {
                self.bump();
                if self.at_punct(Punct::LParen) {
                    let args = self.call_args(depth)?;
                    return Ok(Expr { kind: ExprKind::Call(Spanned::new(name, start), args), span: start.to(self.prev_span()) });
                }
                ExprKind::Name(name)
            }
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(Expr { kind, span: start })
    }

    /// `( args )`, the parenthesis not yet consumed.
    pub(crate) fn call_args(&mut self, depth: usize) -> PResult<Vec<Expr>> {
        self.expect_punct(Punct::LParen, "to start the arguments")?;
        let mut args = Vec::new();
        while !self.at_punct(Punct::RParen) {
            args.push(self.expr(depth + 1)?);
            if !self.eat_punct(Punct::Comma) {
                break;
            }
        }
        self.expect_punct(Punct::RParen, "to close the arguments")?;
        Ok(args)
    }

    /// `sizeof(T)` or `sizeof(expr)`. A lone name is read as a type; the
    /// checker falls back to a value of that name if no such type exists.
    fn sizeof(&mut self, depth: usize) -> PResult<Expr> {
        let start = self.bump();
        self.expect_punct(Punct::LParen, "after `sizeof`")?;
        let is_type = match self.peek() {
            TokenKind::Ident(word) => {
                TYPE_WORDS.contains(&word.as_str()) || self.punct_at(1, Punct::RParen) || self.punct_at(1, Punct::Star)
            }
            _ => false,
        };
        let kind = if is_type {
            ExprKind::SizeofType(self.type_name(depth + 1)?)
        } else {
            let operand = self.expr(depth + 1)?;
            ExprKind::Call(Spanned::new("sizeof".into(), start), vec![operand])
        };
        let close = self.expect_punct(Punct::RParen, "to close `sizeof`")?;
        Ok(Expr { kind, span: start.to(close) })
    }
}
