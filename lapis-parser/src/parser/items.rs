//! Top-level items: the `api` block, C declarations, functions, and the
//! declarations LAPIS adds (resources, policies, metadata, registries...).

use super::{PResult, Parser};
use crate::ast::{
    ApiBlock, ApiEntry, ApiValue, Constant, Function, Item, ItemKind, ResourceKind, TagDefinition, TagKind, TypeExprKind, Utility,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{Punct, TokenKind};

impl Parser {
    pub(crate) fn items(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        while !self.at_eof() {
            let start = self.span();
            let before = self.pos;
            let kind = match self.item() {
                Ok(kind) => kind,
                Err(_) => {
                    self.recover(false);
                    if self.pos == before {
                        self.bump();
                    }
                    ItemKind::Error
                }
            };
            items.push(Item { kind, span: start.to(self.prev_span()) });
        }
        items
    }

    fn item(&mut self) -> PResult<ItemKind> {
        let TokenKind::Ident(word) = self.peek().clone() else {
            if self.at_punct(Punct::Semi) {
                let span = self.bump();
                return Err(self.error(
                    Diagnostic::error(Code::UnexpectedToken, "stray `;`").with_primary(span, "nothing to end here").with_fix(
                        span,
                        "",
                        "remove the `;`",
                    ),
                ));
            }
            return Err(self.unexpected("a declaration"));
        };
        match word.as_str() {
            "api" if matches!(self.peek_at(1), TokenKind::Ident(_)) => self.api_block(),
            "typedef" => {
                self.bump();
                let decl = self.declaration(0)?;
                if decl.name.is_none() {
                    return Err(self.unexpected("the typedef's name"));
                }
                self.expect_punct(Punct::Semi, "after the typedef")?;
                Ok(ItemKind::Typedef(decl))
            }
            "struct" | "union" | "enum" if matches!(self.peek_at(1), TokenKind::Ident(_)) && self.punct_at(2, Punct::LBrace) => {
                self.tag_definition()
            }
            "struct" | "union" if matches!(self.peek_at(1), TokenKind::Ident(_)) && self.punct_at(2, Punct::Semi) => {
                let kind = if word == "struct" { TagKind::Struct } else { TagKind::Union };
                self.bump();
                let name = self.expect_ident("the type's name")?;
                self.bump();
                Ok(ItemKind::TagDeclaration { kind, name })
            }
            "callback" => {
                self.bump();
                Ok(ItemKind::Callback(self.function()?))
            }
            "utility" => {
                self.bump();
                self.utility()
            }
            "type" if self.punct_at(1, Punct::LParen) => {
                self.bump();
                self.bump();
                let ty = self.type_name(0)?;
                self.expect_punct(Punct::RParen, "to close `type(...)`")?;
                let body = self.block(0)?;
                Ok(ItemKind::TypeScope { ty, body })
            }
            "default" if self.punct_at(1, Punct::LParen) => {
                self.bump();
                self.bump();
                let category = self.expect_ident("a type category")?;
                self.expect_punct(Punct::RParen, "to close `default(...)`")?;
                let body = self.block(0)?;
                Ok(ItemKind::Default { category, body })
            }
            "continuous_rc" | "instantaneous_rc" => {
                self.bump();
                let kind = if word == "continuous_rc" { ResourceKind::Continuous } else { ResourceKind::Instantaneous };
                let name = self.expect_ident("the resource's name")?;
                self.expect_punct(Punct::Semi, "after the resource")?;
                Ok(ItemKind::Resource { kind, name })
            }
            "policy" => {
                self.bump();
                self.expect_punct(Punct::LParen, "after `policy`")?;
                let file = self.expect_string("the policy file as a string")?;
                self.expect_punct(Punct::RParen, "to close `policy(...)`")?;
                self.expect_punct(Punct::Semi, "after `policy(...)`")?;
                Ok(ItemKind::Policy(file))
            }
            "declare_metadata" => {
                self.bump();
                self.expect_punct(Punct::LParen, "after `declare_metadata`")?;
                let ty = self.type_name(0)?;
                self.expect_punct(Punct::RParen, "to close `declare_metadata(...)`")?;
                self.expect_punct(Punct::Semi, "after `declare_metadata(...)`")?;
                Ok(ItemKind::DeclareMetadata(ty))
            }
            "buf_registry" => {
                self.bump();
                let name = self.expect_ident("the registry's name")?;
                self.expect_punct(Punct::Semi, "after the registry")?;
                Ok(ItemKind::BufRegistry(name))
            }
            _ => self.function_or_constant(),
        }
    }

    fn api_block(&mut self) -> PResult<ItemKind> {
        self.bump();
        let name = self.expect_ident("the API's name")?;
        self.expect_punct(Punct::LBrace, "to open the `api` block")?;
        let mut entries = Vec::new();
        while !self.at_punct(Punct::RBrace) && !self.at_eof() {
            match self.api_entry() {
                Ok(entry) => entries.push(entry),
                Err(_) => self.recover(true),
            }
        }
        self.expect_punct(Punct::RBrace, "to close the `api` block")?;
        Ok(ItemKind::Api(ApiBlock { name, entries }))
    }

    fn api_entry(&mut self) -> PResult<ApiEntry> {
        let key = self.expect_ident("a setting such as `soname`")?;
        self.expect_punct(Punct::Eq, "after the setting's name")?;
        let value = if self.eat_punct(Punct::LBracket) {
            let mut list = Vec::new();
            while !self.at_punct(Punct::RBracket) {
                list.push(self.expr(0)?);
                if !self.eat_punct(Punct::Comma) {
                    break;
                }
            }
            self.expect_punct(Punct::RBracket, "to close the list")?;
            ApiValue::List(list)
        } else if self.at_keyword("todo") && self.punct_at(1, Punct::LParen) {
            self.bump();
            self.bump();
            let reason = self.expect_string("the reason as a string")?;
            self.expect_punct(Punct::RParen, "to close `todo(...)`")?;
            ApiValue::Todo(reason)
        } else {
            ApiValue::Expr(self.expr(0)?)
        };
        self.expect_punct(Punct::Semi, "after the setting")?;
        Ok(ApiEntry { span: key.span.to(self.prev_span()), key, value })
    }

    fn tag_definition(&mut self) -> PResult<ItemKind> {
        let kind = match self.peek() {
            TokenKind::Ident(w) if w == "struct" => TagKind::Struct,
            TokenKind::Ident(w) if w == "union" => TagKind::Union,
            _ => TagKind::Enum,
        };
        self.bump();
        let name = self.expect_ident("the type's name")?;
        let body = self.tag_body(kind, 0)?;
        self.expect_punct(Punct::Semi, "after the type definition")?;
        Ok(ItemKind::TagDefinition(TagDefinition { kind, name, body }))
    }

    /// A prototype with a descriptor block or `;`.
    fn function(&mut self) -> PResult<Function> {
        let decl = self.declaration(0)?;
        if !matches!(decl.ty.kind, TypeExprKind::Function { .. }) || decl.name.is_none() {
            return Err(self.error(
                Diagnostic::error(Code::UnexpectedToken, "expected a function prototype")
                    .with_primary(decl.span, "this is not a function prototype"),
            ));
        }
        let body = if self.eat_punct(Punct::Semi) { None } else { Some(self.block(0)?) };
        Ok(Function { decl, body })
    }

    fn function_or_constant(&mut self) -> PResult<ItemKind> {
        let decl = self.declaration(0)?;
        let Some(name) = &decl.name else {
            return Err(self.unexpected("a name in the declaration"));
        };
        if matches!(decl.ty.kind, TypeExprKind::Function { .. }) {
            let body = if self.eat_punct(Punct::Semi) { None } else { Some(self.block(0)?) };
            return Ok(ItemKind::Function(Function { decl, body }));
        }
        if self.eat_punct(Punct::Eq) {
            let value = self.expr(0)?;
            self.expect_punct(Punct::Semi, "after the constant")?;
            return Ok(ItemKind::Constant(Constant { decl, value }));
        }
        let span = name.span;
        Err(self.error(
            Diagnostic::error(Code::UnexpectedToken, format!("`{}` is neither a function nor a constant", name.node))
                .with_primary(span, "expected a prototype `T name(params)` or a constant `const T name = value;`")
                .with_help("LAPIS has no global variables; write constants with `const` and a value"),
        ))
    }

    fn utility(&mut self) -> PResult<ItemKind> {
        let decl = self.declaration(0)?;
        if !matches!(decl.ty.kind, TypeExprKind::Function { .. }) || decl.name.is_none() {
            return Err(self.error(
                Diagnostic::error(Code::UnexpectedToken, "expected a utility function prototype")
                    .with_primary(decl.span, "a utility is written `utility T name(params) { return expr; }`"),
            ));
        }
        self.expect_punct(Punct::LBrace, "to open the utility's body")?;
        if !self.eat_keyword("return") {
            return Err(self.unexpected("`return`"));
        }
        let body = self.expr(0)?;
        self.expect_punct(Punct::Semi, "after the returned expression")?;
        self.expect_punct(Punct::RBrace, "to close the utility's body")?;
        Ok(ItemKind::Utility(Utility { decl, body }))
    }
}
