//! C declarations: specifiers and declarators, including function pointers
//! and arrays, as they appear in prototypes, typedefs and struct fields.

use super::{PResult, Parser};
use crate::ast::{BuiltinType, Declaration, Enumerator, Expr, TagBody, TagKind, TypeExpr, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{Punct, TokenKind};
use crate::span::{Span, Spanned};

const BUILTIN_WORDS: &[&str] = &["void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool", "bool"];

/// C keywords: never a type name nor a declared name.
const C_KEYWORDS: &[&str] = &["typedef", "struct", "union", "enum", "const", "volatile", "return", "sizeof"];

/// Words that start LAPIS items. They cannot be type names (the parser
/// would not know an item from a declaration), but they can name
/// parameters and fields: `int type` is common in real headers.
const LAPIS_ITEM_WORDS: &[&str] =
    &["api", "callback", "utility", "type", "default", "continuous_rc", "instantaneous_rc", "policy", "declare_metadata", "buf_registry"];

/// Identifiers that can never be typedef names.
pub(crate) fn is_reserved(word: &str) -> bool {
    C_KEYWORDS.contains(&word) || LAPIS_ITEM_WORDS.contains(&word)
}

/// One step that turns the base type into the declared type.
enum Op {
    Pointer { is_const: bool, span: Span },
    Array { len: Option<Box<Expr>>, span: Span },
    Function { params: Vec<Declaration>, variadic: bool, span: Span },
}

impl Parser {
    /// A declaration: specifiers, then a declarator whose name is optional.
    pub(crate) fn declaration(&mut self, depth: usize) -> PResult<Declaration> {
        self.check_depth(depth)?;
        let start = self.span();
        let base = self.specifiers(depth)?;
        let (ty, name) = self.declarator(base, depth)?;
        Ok(Declaration { span: start.to(self.prev_span()), ty, name })
    }

    /// A type with an abstract declarator, as in `sizeof(T)` or `type_cast(T)`.
    pub(crate) fn type_name(&mut self, depth: usize) -> PResult<TypeExpr> {
        let decl = self.declaration(depth)?;
        if let Some(name) = decl.name {
            return Err(self.error(
                Diagnostic::error(Code::UnexpectedToken, "expected a type, found a declaration")
                    .with_primary(name.span, "a type here has no name"),
            ));
        }
        Ok(decl.ty)
    }

    fn specifiers(&mut self, depth: usize) -> PResult<TypeExpr> {
        let start = self.span();
        let mut is_const = false;
        let mut words: Vec<String> = Vec::new();
        let mut base: Option<TypeExprKind> = None;
        while let TokenKind::Ident(word) = self.peek().clone() {
            match word.as_str() {
                "const" => {
                    is_const = true;
                    self.bump();
                }
                "volatile" => {
                    self.bump();
                }
                "struct" | "union" | "enum" if base.is_none() && words.is_empty() => {
                    base = Some(self.tag_type(depth)?);
                }
                w if BUILTIN_WORDS.contains(&w) && base.is_none() => {
                    words.push(word);
                    self.bump();
                }
                w if base.is_none() && words.is_empty() && !is_reserved(w) => {
                    self.bump();
                    base = Some(match BuiltinType::from_name(w) {
                        Some(builtin) => TypeExprKind::Builtin(builtin),
                        None => TypeExprKind::Named(word),
                    });
                }
                _ => break,
            }
        }
        let kind = match (base, words.is_empty()) {
            (Some(kind), _) => kind,
            (None, false) => match builtin_from_words(&words) {
                Some(builtin) => TypeExprKind::Builtin(builtin),
                None => {
                    let span = start.to(self.prev_span());
                    return Err(self.error(
                        Diagnostic::error(Code::UnexpectedToken, format!("`{}` is not a C type", words.join(" ")))
                            .with_primary(span, "invalid combination of type words"),
                    ));
                }
            },
            (None, true) => return Err(self.unexpected("a type")),
        };
        let span = start.to(self.prev_span());
        let mut ty = TypeExpr { kind, span };
        if is_const {
            ty = TypeExpr { kind: TypeExprKind::Const(Box::new(ty)), span };
        }
        Ok(ty)
    }

    /// `struct T`, `union T`, `enum T`, each with an optional body.
    fn tag_type(&mut self, depth: usize) -> PResult<TypeExprKind> {
        let kind = match self.peek() {
            TokenKind::Ident(w) if w == "struct" => TagKind::Struct,
            TokenKind::Ident(w) if w == "union" => TagKind::Union,
            _ => TagKind::Enum,
        };
        self.bump();
        let name = match self.peek().clone() {
            TokenKind::Ident(name) if !C_KEYWORDS.contains(&name.as_str()) => {
                self.bump();
                Some(name)
            }
            _ => None,
        };
        let body = if self.at_punct(Punct::LBrace) { Some(Box::new(self.tag_body(kind, depth + 1)?)) } else { None };
        if name.is_none() && body.is_none() {
            return Err(self.unexpected(&format!("a name or `{{` after `{}`", kind.keyword())));
        }
        Ok(TypeExprKind::Tag { kind, name, body })
    }

    /// `{ fields }` or `{ enumerators }`, the opening brace not yet consumed.
    pub(crate) fn tag_body(&mut self, kind: TagKind, depth: usize) -> PResult<TagBody> {
        self.check_depth(depth)?;
        self.expect_punct(Punct::LBrace, "to open the body")?;
        if kind == TagKind::Enum {
            let mut enumerators = Vec::new();
            while !self.at_punct(Punct::RBrace) {
                let name = self.expect_ident("an enumerator name")?;
                let value = if self.eat_punct(Punct::Eq) { Some(self.expr(depth + 1)?) } else { None };
                enumerators.push(Enumerator { name, value });
                if !self.eat_punct(Punct::Comma) {
                    break;
                }
            }
            self.expect_punct(Punct::RBrace, "to close the enum")?;
            return Ok(TagBody::Enumerators(enumerators));
        }
        let mut fields = Vec::new();
        while !self.at_punct(Punct::RBrace) && !self.at_eof() {
            let field = self.declaration(depth + 1)?;
            if field.name.is_none() && !matches!(field.ty.kind, TypeExprKind::Tag { .. }) {
                return Err(self.unexpected("a field name"));
            }
            fields.push(field);
            self.expect_punct(Punct::Semi, "after the field")?;
        }
        self.expect_punct(Punct::RBrace, "to close the body")?;
        Ok(TagBody::Fields(fields))
    }

    fn declarator(&mut self, base: TypeExpr, depth: usize) -> PResult<(TypeExpr, Option<Spanned<String>>)> {
        let (ops, name) = self.declarator_ops(depth)?;
        let mut ty = base;
        for op in ops {
            let base_span = ty.span;
            ty = match op {
                Op::Pointer { is_const, span } => {
                    let pointer = TypeExpr { span: base_span.to(span), kind: TypeExprKind::Pointer(Box::new(ty)) };
                    if is_const {
                        TypeExpr { span: pointer.span, kind: TypeExprKind::Const(Box::new(pointer)) }
                    } else {
                        pointer
                    }
                }
                Op::Array { len, span } => TypeExpr { span: base_span.to(span), kind: TypeExprKind::Array { element: Box::new(ty), len } },
                Op::Function { params, variadic, span } => {
                    TypeExpr { span: base_span.to(span), kind: TypeExprKind::Function { ret: Box::new(ty), params, variadic } }
                }
            };
        }
        Ok((ty, name))
    }

    /// The declarator as operations to apply to the base type, innermost last.
    fn declarator_ops(&mut self, depth: usize) -> PResult<(Vec<Op>, Option<Spanned<String>>)> {
        self.check_depth(depth)?;
        let mut ops = Vec::new();
        while self.at_punct(Punct::Star) {
            self.check_depth(depth + ops.len())?;
            let star = self.bump();
            let mut is_const = false;
            while self.at_keyword("const") || self.at_keyword("volatile") {
                is_const |= self.at_keyword("const");
                self.bump();
            }
            ops.push(Op::Pointer { is_const, span: star.to(self.prev_span()) });
        }
        let mut inner = None;
        let mut name = None;
        if self.at_punct(Punct::LParen) && (self.punct_at(1, Punct::Star) || self.punct_at(1, Punct::LParen)) {
            self.bump();
            inner = Some(self.declarator_ops(depth + 1)?);
            self.expect_punct(Punct::RParen, "to close the declarator")?;
        } else if let TokenKind::Ident(word) = self.peek().clone() {
            if !C_KEYWORDS.contains(&word.as_str()) {
                let span = self.bump();
                name = Some(Spanned::new(word, span));
            }
        }
        let mut suffixes = Vec::new();
        loop {
            if self.at_punct(Punct::LBracket) {
                let open = self.bump();
                let len = if self.at_punct(Punct::RBracket) { None } else { Some(Box::new(self.expr(depth + 1)?)) };
                let close = self.expect_punct(Punct::RBracket, "to close the array length")?;
                suffixes.push(Op::Array { len, span: open.to(close) });
            } else if self.at_punct(Punct::LParen) {
                let open = self.bump();
                let (params, variadic) = self.params(depth + 1)?;
                let close = self.prev_span();
                suffixes.push(Op::Function { params, variadic, span: open.to(close) });
            } else {
                break;
            }
        }
        suffixes.reverse();
        ops.extend(suffixes);
        if let Some((inner_ops, inner_name)) = inner {
            ops.extend(inner_ops);
            name = inner_name;
        }
        Ok((ops, name))
    }

    /// Parameters after `(`, through `)`.
    fn params(&mut self, depth: usize) -> PResult<(Vec<Declaration>, bool)> {
        let mut params = Vec::new();
        let mut variadic = false;
        if self.at_keyword("void") && self.punct_at(1, Punct::RParen) {
            self.bump();
        }
        while !self.at_punct(Punct::RParen) {
            if self.eat_punct(Punct::Ellipsis) {
                variadic = true;
                break;
            }
            params.push(self.declaration(depth)?);
            if !self.eat_punct(Punct::Comma) {
                break;
            }
        }
        self.expect_punct(Punct::RParen, "to close the parameter list")?;
        Ok((params, variadic))
    }
}

fn builtin_from_words(words: &[String]) -> Option<BuiltinType> {
    use BuiltinType::*;
    let mut unsigned = false;
    let mut signed = false;
    let mut longs = 0;
    let mut base: Option<&str> = None;
    for word in words {
        match word.as_str() {
            "unsigned" if !signed && !unsigned => unsigned = true,
            "signed" if !signed && !unsigned => signed = true,
            "long" if longs < 2 => longs += 1,
            // `short int`, `long int`: `int` after `short` adds nothing
            "int" if base == Some("short") => {}
            "short" if base == Some("int") => base = Some("short"),
            w @ ("void" | "char" | "short" | "int" | "float" | "double" | "_Bool" | "bool") if base.is_none() => base = Some(w),
            _ => return None,
        }
    }
    Some(match (base, unsigned, longs) {
        (Some("void"), false, 0) if !signed => Void,
        (Some("_Bool" | "bool"), false, 0) if !signed => Bool,
        (Some("float"), false, 0) if !signed => Float,
        (Some("double"), false, 0) if !signed => Double,
        (Some("double"), false, 1) if !signed => LongDouble,
        (Some("char"), false, 0) if signed => SignedChar,
        (Some("char"), false, 0) => Char,
        (Some("char"), true, 0) => UnsignedChar,
        (Some("short"), false, 0) => Short,
        (Some("short"), true, 0) => UnsignedShort,
        (Some("int") | None, false, 0) => Int,
        (Some("int") | None, true, 0) => UnsignedInt,
        (Some("int") | None, false, 1) => Long,
        (Some("int") | None, true, 1) => UnsignedLong,
        (Some("int") | None, false, 2) => LongLong,
        (Some("int") | None, true, 2) => UnsignedLongLong,
        _ => return None,
    })
}
