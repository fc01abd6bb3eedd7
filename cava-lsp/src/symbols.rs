//! Document symbols: the outline of a spec.
//!
//! The `api` block with its settings; types with their fields or values;
//! constants, resources, registries, utilities; functions and callbacks
//! with their scopes as children (`argument(x)` with its `element` and
//! `field` scopes inside; the scopes of an `if` count as the function's);
//! `type(T)` and `default(C)` scopes. Built from the recovered items, so the
//! outline keeps what follows a half-typed statement.

use lapis_parser::ast::{Block, ItemKind, ResourceKind, StmtKind, TagBody, TagKind, TypeExprKind};
use lapis_parser::span::Span;
use lsp_types::{DocumentSymbol, SymbolKind};

use crate::document::Snapshot;

pub fn document_symbols(doc: Snapshot<'_>) -> Vec<DocumentSymbol> {
    let source = doc.text;
    let text = |span: Span| source.get(span.range()).unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    for item in &doc.analysis.index().items {
        let at = item.span;
        let symbol = match &item.kind {
            ItemKind::Api(api) => {
                let children =
                    api.entries.iter().map(|e| symbol(doc, &e.key.node, SymbolKind::PROPERTY, None, e.span, e.key.span, Vec::new()));
                symbol(doc, &api.name.node, SymbolKind::MODULE, Some("api"), at, api.name.span, children.collect())
            }
            ItemKind::Typedef(decl) => {
                let Some(name) = &decl.name else { continue };
                let children = match &decl.ty.kind {
                    TypeExprKind::Tag { body: Some(body), .. } => tag_body(doc, body),
                    _ => Vec::new(),
                };
                symbol(doc, &name.node, SymbolKind::TYPE_PARAMETER, Some("typedef"), at, name.span, children)
            }
            ItemKind::TagDefinition(tag) => {
                let kind = if tag.kind == TagKind::Enum { SymbolKind::ENUM } else { SymbolKind::STRUCT };
                let name = format!("{} {}", tag.kind.keyword(), tag.name.node);
                symbol(doc, &name, kind, None, at, tag.name.span, tag_body(doc, &tag.body))
            }
            ItemKind::TagDeclaration { kind, name } => {
                symbol(doc, &format!("{} {}", kind.keyword(), name.node), SymbolKind::STRUCT, Some("opaque"), at, name.span, Vec::new())
            }
            ItemKind::Function(f) | ItemKind::Callback(f) => {
                let Some(name) = &f.decl.name else { continue };
                let detail = if matches!(item.kind, ItemKind::Callback(_)) { "callback" } else { "function" };
                let children = f.body.as_ref().map(|b| scopes(doc, b)).unwrap_or_default();
                symbol(doc, &name.node, SymbolKind::FUNCTION, Some(detail), at, name.span, children)
            }
            ItemKind::Utility(u) => {
                let Some(name) = &u.decl.name else { continue };
                symbol(doc, &name.node, SymbolKind::FUNCTION, Some("utility"), at, name.span, Vec::new())
            }
            ItemKind::Constant(c) => {
                let Some(name) = &c.decl.name else { continue };
                symbol(doc, &name.node, SymbolKind::CONSTANT, Some("const"), at, name.span, Vec::new())
            }
            ItemKind::TypeScope { ty, body } => {
                symbol(doc, &format!("type({})", text(ty.span)), SymbolKind::NAMESPACE, None, at, ty.span, scopes(doc, body))
            }
            ItemKind::Default { category, body } => {
                let name = format!("default({})", category.node);
                symbol(doc, &name, SymbolKind::NAMESPACE, None, at, category.span, scopes(doc, body))
            }
            ItemKind::Resource { kind, name } => {
                let detail = match kind {
                    ResourceKind::Continuous => "continuous resource",
                    ResourceKind::Instantaneous => "instantaneous resource",
                };
                symbol(doc, &name.node, SymbolKind::EVENT, Some(detail), at, name.span, Vec::new())
            }
            ItemKind::BufRegistry(name) => symbol(doc, &name.node, SymbolKind::ARRAY, Some("buffer registry"), at, name.span, Vec::new()),
            ItemKind::Policy(file) => symbol(doc, &format!("policy({:?})", file.node), SymbolKind::FILE, None, at, file.span, Vec::new()),
            ItemKind::DeclareMetadata(ty) => {
                symbol(doc, &format!("declare_metadata({})", text(ty.span)), SymbolKind::INTERFACE, None, at, ty.span, Vec::new())
            }
            ItemKind::Error => continue,
        };
        out.push(symbol);
    }
    out
}

fn tag_body(doc: Snapshot<'_>, body: &TagBody) -> Vec<DocumentSymbol> {
    match body {
        TagBody::Fields(fields) => fields
            .iter()
            .filter_map(|f| {
                let name = f.name.as_ref()?;
                Some(symbol(doc, &name.node, SymbolKind::FIELD, None, f.span, name.span, Vec::new()))
            })
            .collect(),
        TagBody::Enumerators(list) => {
            list.iter().map(|e| symbol(doc, &e.name.node, SymbolKind::ENUM_MEMBER, None, e.name.span, e.name.span, Vec::new())).collect()
        }
    }
}

/// The scopes in a block, as nested symbols; `if` branches are flattened
/// into the block that holds them.
fn scopes(doc: Snapshot<'_>, block: &Block) -> Vec<DocumentSymbol> {
    let mut out = Vec::new();
    for stmt in &block.stmts {
        let at = stmt.span;
        match &stmt.kind {
            StmtKind::Argument { name, body } => {
                out.push(symbol(doc, &format!("argument({})", name.node), SymbolKind::VARIABLE, None, at, name.span, scopes(doc, body)));
            }
            StmtKind::Field { name, body } => {
                out.push(symbol(doc, &format!("field({})", name.node), SymbolKind::FIELD, None, at, name.span, scopes(doc, body)));
            }
            StmtKind::Element(body) => out.push(symbol(doc, "element", SymbolKind::ARRAY, None, at, at, scopes(doc, body))),
            StmtKind::ReturnValue(body) => out.push(symbol(doc, "return_value", SymbolKind::VARIABLE, None, at, at, scopes(doc, body))),
            StmtKind::ContextualArgument { decl, .. } => {
                if let Some(name) = &decl.name {
                    out.push(symbol(doc, &name.node, SymbolKind::VARIABLE, Some("contextual argument"), at, name.span, Vec::new()));
                }
            }
            StmtKind::If { then, otherwise, .. } => {
                out.extend(scopes(doc, then));
                if let Some(b) = otherwise {
                    out.extend(scopes(doc, b));
                }
            }
            StmtKind::Descriptor(_) | StmtKind::Replace { .. } | StmtKind::Expr(_) | StmtKind::Error => {}
        }
    }
    out
}

fn symbol(
    doc: Snapshot<'_>,
    name: &str,
    kind: SymbolKind,
    detail: Option<&str>,
    span: Span,
    selection: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    // the protocol requires the selection inside the range, and a non-empty name
    let selection = if span.start <= selection.start && selection.end <= span.end { selection } else { span };
    #[allow(deprecated)] // `deprecated` is a required field of the struct, replaced by `tags`
    DocumentSymbol {
        name: if name.is_empty() { "?".to_string() } else { name.to_string() },
        detail: detail.map(str::to_string),
        kind,
        tags: None,
        deprecated: None,
        range: doc.range(span),
        selection_range: doc.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}
