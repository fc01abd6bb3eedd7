//! Where every name in a spec is declared, from the syntax tree.
//!
//! The checker resolves names too, but it keeps no spans in its model (the
//! IR is span-free on purpose), so the server walks the syntax tree once
//! more and records each declaration with the span of its name and of the
//! text to show on hover. Names local to one function (its parameters and
//! `contextual_argument`s) are not here: `locals.rs` reads them from the
//! function around the cursor, which works even while its body is broken.
//! Parameters of function-pointer typedefs are not declarations at all.

use lapis_parser::ast::{Declaration, Item, ItemKind, ResourceKind, SourceFile, TagBody, TagKind, TypeExpr, TypeExprKind};
use lapis_parser::lexer::Token;
use lapis_parser::span::Span;

use crate::recover;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclKind {
    Api,
    Typedef,
    Tag(TagKind),
    Field,
    Enumerator,
    Constant,
    Function,
    Callback,
    Utility,
    Parameter,
    ContextualArgument,
    Resource(ResourceKind),
    Registry,
    Metadata,
}

impl DeclKind {
    /// How hover and completion name the kind.
    pub fn describe(self) -> &'static str {
        match self {
            DeclKind::Api => "api",
            DeclKind::Typedef => "type",
            DeclKind::Tag(TagKind::Struct) => "struct",
            DeclKind::Tag(TagKind::Union) => "union",
            DeclKind::Tag(TagKind::Enum) => "enum",
            DeclKind::Field => "field",
            DeclKind::Enumerator => "enum value",
            DeclKind::Constant => "constant",
            DeclKind::Function => "function",
            DeclKind::Callback => "callback",
            DeclKind::Utility => "utility",
            DeclKind::Parameter => "parameter",
            DeclKind::ContextualArgument => "contextual argument",
            DeclKind::Resource(ResourceKind::Continuous) => "continuous resource",
            DeclKind::Resource(ResourceKind::Instantaneous) => "instantaneous resource",
            DeclKind::Registry => "buffer registry",
            DeclKind::Metadata => "metadata type",
        }
    }

    pub fn is_type(self) -> bool {
        matches!(self, DeclKind::Typedef | DeclKind::Tag(_))
    }
}

/// One declared name.
#[derive(Clone, Debug)]
pub struct Decl {
    /// The name as other code refers to it; tags include their keyword (`struct T`).
    pub name: String,
    pub kind: DeclKind,
    /// The name where it is declared: the target of go-to-definition.
    pub name_span: Span,
    /// The text hover shows: the declaration, without a function's body.
    pub sig_span: Span,
    /// The enum of an enumerator, the struct of a field, the function of a parameter.
    pub container: Option<String>,
    /// The declared type of fields, parameters and typedefs, for `a->b` and `field(b)`.
    pub ty: Option<TypeExpr>,
}

#[derive(Debug, Default)]
pub struct Index {
    pub decls: Vec<Decl>,
    /// The top-level items, with broken stretches recovered (see `recover.rs`).
    pub items: Vec<Item>,
    /// The type `declare_metadata` names.
    pub metadata: Option<TypeExpr>,
}

impl Index {
    pub fn new(file: &SourceFile, source: &str, tokens: &[Token]) -> Index {
        let mut index = Index { items: recover::items(file, source, tokens), ..Index::default() };
        let items = std::mem::take(&mut index.items);
        for item in &items {
            index.add_item(item, source);
        }
        index.items = items;
        index
    }

    /// Declarations visible everywhere with this name (not fields, not locals).
    pub fn globals<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Decl> + 'a {
        self.decls.iter().filter(move |d| d.name == name && d.kind != DeclKind::Field)
    }

    /// The fields of a struct or union, by the key `struct_key` gives.
    pub fn fields<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Decl> + 'a {
        self.decls.iter().filter(move |d| d.kind == DeclKind::Field && d.container.as_deref() == Some(key))
    }

    /// The struct or union a value of this type is (or points to), by the
    /// name its fields are filed under, following typedefs.
    pub fn struct_key(&self, ty: &TypeExpr) -> Option<String> {
        self.struct_key_at(ty, 0)
    }

    fn struct_key_at(&self, ty: &TypeExpr, depth: usize) -> Option<String> {
        // typedef chains are short; the bound only guards against `typedef A B; typedef B A;`
        if depth > 32 {
            return None;
        }
        match &ty.kind {
            TypeExprKind::Pointer(inner) | TypeExprKind::Const(inner) => self.struct_key_at(inner, depth + 1),
            TypeExprKind::Array { element, .. } => self.struct_key_at(element, depth + 1),
            TypeExprKind::Tag { kind: kind @ (TagKind::Struct | TagKind::Union), name: Some(name), .. } => {
                Some(format!("{} {name}", kind.keyword()))
            }
            TypeExprKind::Named(name) => {
                let typedef = self.decls.iter().find(|d| d.kind == DeclKind::Typedef && &d.name == name)?;
                match &typedef.ty {
                    // an anonymous struct in a typedef files its fields under the typedef's name
                    Some(TypeExpr { kind: TypeExprKind::Tag { name: None, body: Some(_), .. }, .. }) => Some(name.clone()),
                    Some(target) => self.struct_key_at(target, depth + 1),
                    None => None,
                }
            }
            _ => None,
        }
    }

    fn push(&mut self, name: &str, kind: DeclKind, name_span: Span, sig_span: Span) -> &mut Decl {
        self.decls.push(Decl { name: name.to_string(), kind, name_span, sig_span, container: None, ty: None });
        self.decls.last_mut().expect("just pushed")
    }

    fn add_item(&mut self, item: &Item, source: &str) {
        let at = item.span;
        match &item.kind {
            ItemKind::Api(api) => {
                let head = Span { start: at.start, end: api.name.span.end };
                self.push(&api.name.node, DeclKind::Api, api.name.span, head);
            }
            ItemKind::Typedef(decl) => {
                self.add_inline_tags(&decl.ty, source, at);
                if let Some(name) = &decl.name {
                    self.push(&name.node, DeclKind::Typedef, name.span, at).ty = Some(decl.ty.clone());
                    if let TypeExprKind::Tag { name: None, body: Some(body), .. } = &decl.ty.kind {
                        self.add_body(body, &name.node);
                    }
                }
            }
            ItemKind::TagDefinition(tag) => {
                let key = format!("{} {}", tag.kind.keyword(), tag.name.node);
                self.push(&key, DeclKind::Tag(tag.kind), tag.name.span, at);
                self.add_body(&tag.body, &key);
            }
            ItemKind::TagDeclaration { kind, name } => {
                self.push(&format!("{} {}", kind.keyword(), name.node), DeclKind::Tag(*kind), name.span, at);
            }
            ItemKind::Function(f) => self.add_function(&f.decl, DeclKind::Function, at),
            ItemKind::Callback(f) => self.add_function(&f.decl, DeclKind::Callback, at),
            ItemKind::Utility(u) => self.add_function(&u.decl, DeclKind::Utility, at),
            ItemKind::Constant(c) => {
                if let Some(name) = &c.decl.name {
                    self.push(&name.node, DeclKind::Constant, name.span, at).ty = Some(c.decl.ty.clone());
                }
            }
            ItemKind::Resource { kind, name } => {
                self.push(&name.node, DeclKind::Resource(*kind), name.span, at);
            }
            ItemKind::BufRegistry(name) => {
                self.push(&name.node, DeclKind::Registry, name.span, at);
            }
            ItemKind::DeclareMetadata(ty) => {
                self.push("metadata", DeclKind::Metadata, ty.span, at).ty = Some(ty.clone());
                self.metadata = Some(ty.clone());
            }
            ItemKind::TypeScope { .. } | ItemKind::Default { .. } | ItemKind::Policy(_) | ItemKind::Error => {}
        }
    }

    fn add_function(&mut self, decl: &Declaration, kind: DeclKind, item_span: Span) {
        let Some(name) = &decl.name else { return };
        // a utility is short: show it whole; a function's body is not part of its signature
        let sig = if kind == DeclKind::Utility { item_span } else { decl.span };
        self.push(&name.node, kind, name.span, sig).ty = Some(decl.ty.clone());
    }

    fn add_body(&mut self, body: &TagBody, key: &str) {
        match body {
            TagBody::Fields(fields) => {
                for field in fields {
                    if let Some(name) = &field.name {
                        let d = self.push(&name.node, DeclKind::Field, name.span, field.span);
                        d.container = Some(key.to_string());
                        d.ty = Some(field.ty.clone());
                    }
                }
            }
            TagBody::Enumerators(list) => {
                for e in list {
                    let end = e.value.as_ref().map_or(e.name.span.end, |v| v.span.end);
                    let sig = Span { start: e.name.span.start, end };
                    self.push(&e.name.node, DeclKind::Enumerator, e.name.span, sig).container = Some(key.to_string());
                }
            }
        }
    }

    /// `typedef struct T { ... } U;` declares `struct T` too. The tree keeps
    /// no span for the tag's name, so it is found in the type's text.
    fn add_inline_tags(&mut self, ty: &TypeExpr, source: &str, item_span: Span) {
        match &ty.kind {
            TypeExprKind::Tag { kind, name: Some(name), body: Some(body) } => {
                let key = format!("{} {name}", kind.keyword());
                let name_span = find_word(source, ty.span, name).unwrap_or(ty.span);
                self.push(&key, DeclKind::Tag(*kind), name_span, item_span);
                self.add_body(body, &key);
            }
            TypeExprKind::Tag { kind: TagKind::Enum, body: Some(body), name: None } => {
                // an anonymous enum's values are still constants
                self.add_body(body, "enum");
            }
            TypeExprKind::Pointer(inner) | TypeExprKind::Const(inner) => self.add_inline_tags(inner, source, item_span),
            _ => {}
        }
    }
}

/// The first whole-word occurrence of `word` inside `within`.
fn find_word(source: &str, within: Span, word: &str) -> Option<Span> {
    let text = source.get(within.range())?;
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).map(|(i, _)| i).find_map(|i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let whole = !before.is_some_and(is_word) && !after.is_some_and(is_word);
        whole.then(|| Span::new(within.start as usize + i, within.start as usize + i + word.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(source: &str) -> Index {
        let (file, _) = lapis_parser::parse(source);
        Index::new(&file, source, &lapis_parser::lexer::lex(source).tokens)
    }

    #[test]
    fn records_names_with_their_spans() {
        let source = "typedef struct _r { size_t origin; } region;\nenum e { A = 1, B };\ncontinuous_rc mem;\nint f(region *r, int n);\n";
        let index = index(source);
        let names: Vec<(&str, DeclKind)> = index.decls.iter().map(|d| (d.name.as_str(), d.kind)).collect();
        assert!(names.contains(&("struct _r", DeclKind::Tag(TagKind::Struct))), "{names:?}");
        assert!(names.contains(&("region", DeclKind::Typedef)));
        assert!(names.contains(&("origin", DeclKind::Field)));
        assert!(names.contains(&("A", DeclKind::Enumerator)));
        assert!(names.contains(&("mem", DeclKind::Resource(ResourceKind::Continuous))));
        for d in &index.decls {
            let text = &source[d.name_span.range()];
            assert!(d.name.ends_with(text), "{} at {text}", d.name);
        }
        let region = index.globals("region").next().unwrap();
        assert_eq!(index.struct_key(region.ty.as_ref().unwrap()).as_deref(), Some("struct _r"));
        assert_eq!(&source[index.globals("A").next().unwrap().sig_span.range()], "A = 1");
    }
}
