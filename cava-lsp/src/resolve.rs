//! What a word in the spec means: the shared core of hover and go-to-definition,
//! and of completion after `->` and in `field(`.
//!
//! Names are resolved the way the checker resolves them, approximately and
//! from tokens: a descriptor or scope keyword where a statement starts, a
//! parameter inside `argument(...)`, a field after `->` or `.` (of the
//! struct the expression before it has, when that can be told), and
//! otherwise the function's own names first, then the spec's declarations,
//! then the fields visible in a `field` scope.

use lapis_parser::ast::{TypeExpr, TypeExprKind};
use lapis_parser::descriptors::{self, DescriptorInfo, SCOPE_KEYWORDS};
use lapis_parser::lexer::{Punct, TokenKind};
use lapis_parser::span::Span;

use crate::analysis::Analysis;
use crate::context::{is_punct, Context, Scope, Where};
use crate::index::{Decl, DeclKind, Index};
use crate::keywords::{self, Keyword};
use crate::locals::Locals;

/// How deep `a->b->c` chains and typedef chains are followed.
const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug)]
pub enum Target {
    Descriptor(&'static DescriptorInfo),
    Keyword(&'static Keyword),
    /// A library function, with its documentation line.
    Library(&'static str, &'static str),
    /// A `default(...)` category, with what it covers.
    Category(&'static str, &'static str),
    /// Declarations the name may mean (more than one only for fields of an unknown struct).
    Decls(Vec<Decl>),
}

/// Everything needed to resolve names at one cursor position.
#[derive(Debug)]
pub struct Env<'a> {
    pub ctx: Context<'a>,
    pub locals: Locals,
    pub index: &'a Index,
}

impl<'a> Env<'a> {
    pub fn new(analysis: &'a Analysis, offset: usize) -> Env<'a> {
        let ctx = Context::new(analysis.source(), analysis.tokens(), offset);
        let locals = Locals::new(&ctx);
        Env { ctx, locals, index: analysis.index() }
    }

    /// The word under the cursor, its span and what it means.
    pub fn target(&self) -> Option<(Span, Target)> {
        let i = self.ctx.word()?;
        let name = self.ctx.ident(i)?;
        let span = self.ctx.tokens[i].span;
        Some((span, self.resolve(i, name)?))
    }

    fn resolve(&self, i: usize, name: &str) -> Option<Target> {
        let tokens = self.ctx.tokens;
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        let before_paren = i.checked_sub(2).and_then(|p| self.ctx.ident(p)).filter(|_| is_punct(prev, Punct::LParen));
        let place = self.ctx.place();
        if is_punct(prev, Punct::Arrow) || is_punct(prev, Punct::Dot) {
            return decls(self.member_fields(i - 1, Some(name)));
        }
        if let Some(kind @ ("struct" | "union" | "enum")) = prev.and_then(crate::context::ident) {
            return decls(self.index.globals(&format!("{kind} {name}")).cloned().collect());
        }
        match before_paren {
            Some("argument") if place != Where::TopLevel => return decls(self.locals.get(name).cloned().into_iter().collect()),
            Some("field") if place != Where::TopLevel => {
                let parent = self.subjects().into_iter().last().and_then(|(_, ty)| ty);
                return decls(self.fields_of(parent.as_ref(), Some(name)));
            }
            Some("default") if place == Where::TopLevel => {
                let (name, doc) = descriptors::CATEGORIES.iter().find(|(c, _)| *c == name)?;
                return Some(Target::Category(name, doc));
            }
            _ => {}
        }
        let statement = self.ctx.starts_statement(i);
        let in_body = matches!(place, Where::Function | Where::Callback | Where::Value | Where::Other);
        if statement && in_body {
            if SCOPE_KEYWORDS.contains(&name) {
                return keywords::lookup(name).map(Target::Keyword);
            }
            if let Some(info) = descriptors::lookup(name) {
                return Some(Target::Descriptor(info));
            }
        }
        if statement && place == Where::TopLevel && keywords::TOP_LEVEL.contains(&name) {
            return keywords::lookup(name).map(Target::Keyword);
        }
        if is_punct(tokens.get(i + 1), Punct::LParen) {
            if let Some((name, doc)) = descriptors::STDLIB_FUNCTIONS.iter().find(|(n, _)| *n == name) {
                return Some(Target::Library(name, doc));
            }
        }
        let found = self.lookup(name);
        if !found.is_empty() {
            return Some(Target::Decls(found));
        }
        // `return_value` inside `coupled(...)`: the result a callback is coupled to
        keywords::lookup(name).filter(|k| matches!(k.word, "this" | "index" | "else" | "if" | "return_value")).map(Target::Keyword)
    }

    /// What a plain name means here: the function's own names, then the
    /// spec's declarations, then the fields visible in a `field` scope.
    pub fn lookup(&self, name: &str) -> Vec<Decl> {
        if let Some(local) = self.locals.get(name).filter(|_| self.sees_arguments()) {
            return vec![local.clone()];
        }
        let globals: Vec<Decl> = self.index.globals(name).cloned().collect();
        if !globals.is_empty() {
            return globals;
        }
        self.visible_fields().into_iter().filter(|d| d.name == name).collect()
    }

    /// Whether the function's arguments are in scope (not in `type` and `default` scopes).
    pub fn sees_arguments(&self) -> bool {
        !self.ctx.stack.iter().any(|s| matches!(s, Scope::Type(_) | Scope::Default))
    }

    /// The fields visible by name: those of the struct around the innermost `field` scope.
    pub fn visible_fields(&self) -> Vec<Decl> {
        let subjects = self.subjects();
        let parent = subjects.iter().rposition(|(scope, _)| matches!(scope, Scope::Field(_))).and_then(|i| i.checked_sub(1));
        match parent {
            Some(p) => self.fields_of(subjects[p].1.as_ref(), None),
            None => Vec::new(),
        }
    }

    /// The fields of the struct a value of type `ty` is or points to,
    /// named `name` if given. When the struct cannot be told, every field
    /// of that name in the spec.
    pub fn fields_of(&self, ty: Option<&TypeExpr>, name: Option<&str>) -> Vec<Decl> {
        let key = ty.and_then(|t| self.index.struct_key(t));
        let matches = |d: &&Decl| name.is_none_or(|n| d.name == n);
        match key {
            Some(key) => self.index.fields(&key).filter(matches).cloned().collect(),
            None if name.is_some() => self.index.decls.iter().filter(|d| d.kind == DeclKind::Field).filter(matches).cloned().collect(),
            None => Vec::new(),
        }
    }

    /// The fields after the `->` or `.` at token `op`.
    pub fn member_fields(&self, op: usize, name: Option<&str>) -> Vec<Decl> {
        let base = op.checked_sub(1).and_then(|b| self.expr_type(b, 0));
        self.fields_of(base.as_ref(), name)
    }

    /// The type of the expression that ends at token `end`, when it can be told.
    fn expr_type(&self, end: usize, depth: usize) -> Option<TypeExpr> {
        if depth > MAX_DEPTH {
            return None;
        }
        let tokens = self.ctx.tokens;
        match &tokens.get(end)?.kind {
            TokenKind::Ident(name) => {
                let prev = end.checked_sub(1).and_then(|p| tokens.get(p));
                if is_punct(prev, Punct::Arrow) || is_punct(prev, Punct::Dot) {
                    let base = self.expr_type(end.checked_sub(2)?, depth + 1);
                    return self.fields_of(base.as_ref(), Some(name)).into_iter().next()?.ty;
                }
                if name == "this" {
                    return self.subjects().into_iter().next().and_then(|(_, ty)| ty);
                }
                if name == "return_value" && self.locals.get(name).is_none() {
                    return self.locals.ret().cloned();
                }
                self.lookup(name).into_iter().find_map(|d| d.ty)
            }
            TokenKind::Punct(Punct::RParen) => {
                let open = self.ctx.matching_open(end)?;
                match self.ctx.ident(open.checked_sub(1)?)? {
                    "metadata" => self.index.metadata.clone(),
                    utility => match self.index.globals(utility).find(|d| d.kind == DeclKind::Utility)?.ty.as_ref()?.kind {
                        TypeExprKind::Function { ref ret, .. } => Some((**ret).clone()),
                        _ => None,
                    },
                }
            }
            // `a[i]->f`: the struct is the same whether `a` or its element is looked at
            TokenKind::Punct(Punct::RBracket) => self.expr_type(self.ctx.matching_open(end)?.checked_sub(1)?, depth + 1),
            _ => None,
        }
    }

    /// The value scopes open at the cursor, outermost first, each with the
    /// type of the value it describes when that can be told.
    pub fn subjects(&self) -> Vec<(Scope, Option<TypeExpr>)> {
        let mut out: Vec<(Scope, Option<TypeExpr>)> = Vec::new();
        for scope in &self.ctx.stack {
            let current = out.last().and_then(|(_, ty)| ty.clone());
            let ty = match scope {
                Scope::Type(span) => parse_type(self.ctx.source.get(span.range()).unwrap_or_default()),
                Scope::Argument(name) => self.locals.get(name).and_then(|d| d.ty.clone()),
                Scope::ReturnValue => self.locals.ret().cloned(),
                Scope::Element => current.and_then(|t| self.pointee(&t, 0)),
                Scope::Field(name) => self.fields_of(current.as_ref(), Some(name)).into_iter().next().and_then(|d| d.ty),
                Scope::If | Scope::Other => continue,
                Scope::Default | Scope::Api | Scope::TypeBody | Scope::Function | Scope::Callback | Scope::Utility => None,
            };
            out.push((scope.clone(), ty));
        }
        out
    }

    /// What a pointer or array type points to, through typedefs.
    fn pointee(&self, ty: &TypeExpr, depth: usize) -> Option<TypeExpr> {
        if depth > MAX_DEPTH {
            return None;
        }
        match &ty.kind {
            TypeExprKind::Pointer(inner) => Some((**inner).clone()),
            TypeExprKind::Array { element, .. } => Some((**element).clone()),
            TypeExprKind::Const(inner) => self.pointee(inner, depth + 1),
            TypeExprKind::Named(name) => {
                let typedef = self.index.globals(name).find(|d| d.kind == DeclKind::Typedef)?;
                self.pointee(typedef.ty.as_ref()?, depth + 1)
            }
            _ => None,
        }
    }
}

fn decls(found: Vec<Decl>) -> Option<Target> {
    (!found.is_empty()).then_some(Target::Decls(found))
}

/// A type written on its own, as in `type(T)`.
fn parse_type(text: &str) -> Option<TypeExpr> {
    let (file, _) = lapis_parser::parse(&format!("typedef {text} __cava_lsp;"));
    match file.items.into_iter().next()?.kind {
        lapis_parser::ast::ItemKind::Typedef(decl) => Some(decl.ty),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "struct info { int argc; size_t size[4]; int n; };\n\
        struct desc { const char *name; size_t n; };\n\
        declare_metadata(struct info);\n\
        typedef struct k_st *kernel;\n\
        type(struct desc) {\n    field(name) { in; buffer(strlen(name) + n); }\n}\n\
        int f(kernel buffer, const struct desc *d, void **args) {\n    \
        argument(buffer) { in; buffer(metadata(buffer)->argc); }\n    \
        argument(args) { element { in; buffer(metadata(buffer)->size[index]); } }\n    \
        argument(d) { buffer(d->n); }\n}\n";

    fn target_at(marker: &str, skip: usize) -> Target {
        let analysis = Analysis::new(SPEC);
        let offset = SPEC.find(marker).expect("marker") + skip;
        let env = Env::new(&analysis, offset);
        env.target().expect("a target").1
    }

    fn decl_names(target: Target) -> Vec<(String, DeclKind)> {
        match target {
            Target::Decls(d) => d.into_iter().map(|d| (d.container.unwrap_or_default(), d.kind)).collect(),
            other => panic!("not a declaration: {other:?}"),
        }
    }

    #[test]
    fn tells_descriptors_from_names() {
        assert!(matches!(target_at("buffer(metadata", 0), Target::Descriptor(d) if d.name == "buffer"));
        assert_eq!(decl_names(target_at("argument(buffer)", 9)), [("f".to_string(), DeclKind::Parameter)]);
        assert_eq!(decl_names(target_at("metadata(buffer)", 9)), [("f".to_string(), DeclKind::Parameter)]);
        assert!(matches!(target_at("metadata(buffer)->argc", 0), Target::Library("metadata", _)));
        assert!(matches!(target_at("element {", 0), Target::Keyword(k) if k.word == "element"));
        assert!(matches!(target_at("index]", 0), Target::Keyword(k) if k.word == "index"));
    }

    #[test]
    fn return_value_inside_coupled_is_the_keyword() {
        let source = "typedef struct c_st *c;\ncallback void on(void *u) { argument(u) { userdata; } }\n\
            c make(void (*f)(void *), void *u) {\n    argument(f) { callback(on); lifetime(coupled(return_value)); }\n}\n";
        let analysis = Analysis::new(source);
        let env = Env::new(&analysis, source.find("return_value)").unwrap() + 3);
        assert!(matches!(env.target().expect("a target").1, Target::Keyword(k) if k.word == "return_value"));
    }

    #[test]
    fn finds_fields_by_the_type_before_the_arrow() {
        assert_eq!(decl_names(target_at("argc); }", 0)), [("struct info".to_string(), DeclKind::Field)]);
        assert_eq!(decl_names(target_at("size[index]", 0)), [("struct info".to_string(), DeclKind::Field)]);
        assert_eq!(decl_names(target_at("d->n)", 3)), [("struct desc".to_string(), DeclKind::Field)]);
        // sibling fields inside `field(...)`, and the field a `field` scope names
        assert_eq!(decl_names(target_at("+ n)", 2)), [("struct desc".to_string(), DeclKind::Field)]);
        assert_eq!(decl_names(target_at("name) { in", 0)), [("struct desc".to_string(), DeclKind::Field)]);
    }
}
