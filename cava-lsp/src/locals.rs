//! The names local to the function around the cursor: its parameters and
//! `contextual_argument`s.
//!
//! They are read from the text of that one function, not from the whole
//! file's syntax tree, because the function around the cursor is the one
//! most likely to be half typed: its prototype (up to the `{`) is parsed on
//! its own, and each `contextual_argument` declaration too, so a broken
//! statement elsewhere in the body hides nothing.

use lapis_parser::ast::{Declaration, ItemKind, TypeExpr, TypeExprKind};
use lapis_parser::lexer::{Punct, TokenKind};

use crate::context::{ident, Context};
use crate::index::{Decl, DeclKind};
use crate::recover::shift_decl;

/// Tokens looked at from an item's start for its `{`: prototypes are short.
const MAX_HEADER_TOKENS: usize = 4096;

#[derive(Debug, Default)]
pub struct Locals {
    /// The declaration of the function, callback or utility around the cursor.
    pub function: Option<Declaration>,
    pub names: Vec<Decl>,
}

impl Locals {
    pub fn new(ctx: &Context<'_>) -> Locals {
        let mut locals = Locals::default();
        let Some((decl, body)) = prototype(ctx) else { return locals };
        let name = decl.name.as_ref().map(|n| n.node.clone());
        if let TypeExprKind::Function { params, .. } = &decl.ty.kind {
            for param in params {
                if let Some(p) = &param.name {
                    locals.names.push(local(p.node.clone(), DeclKind::Parameter, param, name.clone()));
                }
            }
        }
        if let Some(brace) = body {
            for decl in contextual_arguments(ctx, brace) {
                if let Some(p) = &decl.name {
                    locals.names.push(local(p.node.clone(), DeclKind::ContextualArgument, &decl, name.clone()));
                }
            }
        }
        locals.function = Some(decl);
        locals
    }

    pub fn get(&self, name: &str) -> Option<&Decl> {
        // a contextual argument declared later in the body wins, as in the checker: names are unique anyway
        self.names.iter().rev().find(|d| d.name == name)
    }

    /// The function's return type.
    pub fn ret(&self) -> Option<&TypeExpr> {
        match &self.function.as_ref()?.ty.kind {
            TypeExprKind::Function { ret, .. } => Some(ret),
            _ => None,
        }
    }
}

fn local(name: String, kind: DeclKind, decl: &Declaration, function: Option<String>) -> Decl {
    let name_span = decl.name.as_ref().map_or(decl.span, |n| n.span);
    Decl { name, kind, name_span, sig_span: decl.span, container: function, ty: Some(decl.ty.clone()) }
}

/// The prototype of the item around the cursor, if it is a function,
/// callback or utility, and the index of the `{` that opens its body.
fn prototype(ctx: &Context<'_>) -> Option<(Declaration, Option<usize>)> {
    let tokens = ctx.tokens;
    let mut start = ctx.item_start;
    if matches!(ctx.ident(start), Some("callback" | "utility")) {
        start += 1;
    }
    let first = tokens.get(start)?;
    let mut depth = 0usize;
    let mut end = None;
    for (i, token) in tokens.iter().enumerate().skip(start).take(MAX_HEADER_TOKENS) {
        if i > start && token.at_column_one && ident(token).is_some() {
            break;
        }
        match token.kind {
            TokenKind::Punct(Punct::LParen) => depth += 1,
            TokenKind::Punct(Punct::RParen) => depth = depth.saturating_sub(1),
            TokenKind::Punct(Punct::LBrace | Punct::Semi) if depth == 0 => {
                end = Some(i);
                break;
            }
            TokenKind::Eof => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = end?;
    let from = first.span.start as usize;
    let header = ctx.source.get(from..tokens[end].span.start as usize)?;
    let (file, _) = lapis_parser::parse(&format!("{header};"));
    let ItemKind::Function(function) = file.items.into_iter().next()?.kind else { return None };
    let mut decl = function.decl;
    shift_decl(&mut decl, from as i64);
    let body = (tokens[end].kind == TokenKind::Punct(Punct::LBrace)).then_some(end);
    Some((decl, body))
}

/// The `contextual_argument` declarations in the body opened at token `brace`.
fn contextual_arguments(ctx: &Context<'_>, brace: usize) -> Vec<Declaration> {
    const PREFIX: &str = "void __cava_lsp(";
    let tokens = ctx.tokens;
    let mut out = Vec::new();
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(brace) {
        if i > brace && token.at_column_one && ident(token).is_some() {
            break;
        }
        match &token.kind {
            TokenKind::Punct(Punct::LBrace) => depth += 1,
            TokenKind::Punct(Punct::RBrace) => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            TokenKind::Eof => break,
            TokenKind::Ident(word) if word == "contextual_argument" => {
                // the declaration runs to the `=` (or, half typed, to the `;`)
                let end = tokens[i + 1..].iter().take(64).position(|t| {
                    matches!(t.kind, TokenKind::Punct(Punct::Eq | Punct::Semi | Punct::LBrace | Punct::RBrace) | TokenKind::Eof)
                });
                let (Some(first), Some(end)) = (tokens.get(i + 1), end) else { continue };
                let from = first.span.start as usize;
                let Some(text) = ctx.source.get(from..tokens[i + 1 + end].span.start as usize) else { continue };
                // parsed as the only parameter of a made-up prototype
                let (file, _) = lapis_parser::parse(&format!("{PREFIX}{text});"));
                let Some(ItemKind::Function(f)) = file.items.into_iter().next().map(|item| item.kind) else { continue };
                if let TypeExprKind::Function { params, .. } = f.decl.ty.kind {
                    if let Some(mut decl) = params.into_iter().next() {
                        shift_decl(&mut decl, from as i64 - PREFIX.len() as i64);
                        out.push(decl);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parameters_and_contextual_arguments_of_a_broken_function() {
        let source = "callback void f(int a,\n    const char *b) {\n    contextual_argument void **bufs = get(a);\n    argument(bufs) { buffer(\n}\n";
        let tokens = lapis_parser::lexer::lex(source).tokens;
        let ctx = Context::new(source, &tokens, source.find("buffer(").unwrap() + 7);
        let locals = Locals::new(&ctx);
        assert_eq!(locals.function.as_ref().and_then(|f| f.name.as_ref()).map(|n| n.node.as_str()), Some("f"));
        let names: Vec<&str> = locals.names.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "bufs"]);
        for d in &locals.names {
            assert_eq!(&source[d.name_span.range()], d.name);
        }
        assert_eq!(&source[locals.get("b").unwrap().sig_span.range()], "const char *b");
        assert_eq!(locals.get("bufs").unwrap().kind, DeclKind::ContextualArgument);
    }
}
