//! Completion: what may be written at the cursor.
//!
//! The place decides: where a statement starts in a function's body, the
//! function descriptors and scopes; in a value scope, the value descriptors
//! (both from the catalog's `Place`); inside `argument(`, the function's
//! parameters; after `->` or `.`, the fields of the struct; in the first
//! argument of `consumes_rc(` or `allocates_rc(`, resources of the right
//! kind; of `register_buf(` and friends, registries; in `callback(`,
//! callbacks; in `type_cast(`, types; elsewhere in an expression, the names
//! an expression may use there. The editor filters by what has been typed,
//! so every candidate is returned.

use std::collections::HashSet;

use lapis_parser::ast::{ResourceKind, TypeExpr, TypeExprKind};
use lapis_parser::descriptors::{self, Place, DESCRIPTORS, STDLIB_FUNCTIONS};
use lapis_parser::lexer::Punct;
use lsp_types::{CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind};

use crate::context::{ident, is_punct, Scope, Where};
use crate::document::Snapshot;
use crate::index::{Decl, DeclKind};
use crate::keywords;
use crate::position::floor_char_boundary;
use crate::resolve::Env;

const FUNCTION_SCOPES: &[&str] = &["argument", "return_value", "if", "contextual_argument", "replace_guest", "replace_server"];
const VALUE_SCOPES: &[&str] = &["element", "field", "if"];
const LIFETIMES: &[(&str, &str)] = &[
    ("call", "the API server keeps its copy for the call (the default)"),
    ("manual", "until a call `deallocate`s the buffer"),
    ("static", "forever"),
    ("coupled", "`coupled(obj)`: as long as the object `obj` (for a callback: a handle argument, or `return_value`)"),
    ("once", "a callback's registration ends after its first call"),
];
const REGISTRY_FUNCTIONS: &[&str] = &["register_buf", "register_bufs_of", "get_bufs", "get_n_bufs", "get_buf_size"];

pub fn completion(doc: Snapshot<'_>, offset: usize) -> Vec<CompletionItem> {
    let source = doc.text;
    let offset = floor_char_boundary(source, offset);
    let word_start = source[..offset].trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
    let env = Env::new(doc.analysis, offset);
    let mut out = Items::default();
    let before = env.ctx.count_before(word_start);
    let last = before.checked_sub(1).and_then(|i| env.ctx.tokens.get(i));
    let place = env.ctx.place();

    if is_punct(last, Punct::Arrow) || is_punct(last, Punct::Dot) {
        out.decls(&env.member_fields(before - 1, None));
        return out.items;
    }
    if let Some(tag @ ("struct" | "union" | "enum")) = last.and_then(ident) {
        let prefix = format!("{tag} ");
        for d in env.index.decls.iter().filter(|d| d.kind.is_type()) {
            if let Some(name) = d.name.strip_prefix(&prefix) {
                out.push(name, kind_of(d.kind), Some(d.kind.describe().to_string()), None);
            }
        }
        return out.items;
    }
    if let Some(call) = env.ctx.call_before(before) {
        match (place, call.name, call.arg) {
            (Where::TopLevel, "default", _) => {
                for (name, doc) in descriptors::CATEGORIES {
                    out.push(name, CompletionItemKind::ENUM_MEMBER, Some("type category".into()), Some(doc));
                }
            }
            (Where::TopLevel, "declare_metadata", _) => out.types(&env, |d| matches!(d.kind, DeclKind::Tag(_))),
            (Where::TopLevel, "policy", _) | (_, "todo", _) => {}
            (Where::TopLevel, ..) => out.types(&env, |_| true),
            (_, "argument", 0) => out.decls(&env.locals.names),
            (_, "field", 0) => {
                let parent = env.subjects().into_iter().last().and_then(|(_, ty)| ty);
                out.decls(&env.fields_of(parent.as_ref(), None));
            }
            (_, "consumes_rc", 0) => out.globals(&env, |d| d.kind == DeclKind::Resource(ResourceKind::Instantaneous)),
            (_, "allocates_rc" | "deallocates_rc", 0) => out.globals(&env, |d| d.kind == DeclKind::Resource(ResourceKind::Continuous)),
            (_, name, 0) if REGISTRY_FUNCTIONS.contains(&name) => out.globals(&env, |d| d.kind == DeclKind::Registry),
            (_, "callback", _) => out.globals(&env, |d| d.kind == DeclKind::Callback || is_function_pointer_typedef(d)),
            (_, "type_cast", _) => out.types(&env, |_| true),
            (_, "obj_state_cbs", _) => out.globals(&env, |d| d.kind == DeclKind::Utility),
            (_, "lifetime", 0) => {
                for (name, doc) in LIFETIMES {
                    out.push(name, CompletionItemKind::ENUM_MEMBER, Some("lifetime".into()), Some(doc));
                }
            }
            (Where::Function, "metadata" | "register_buf" | "register_bufs_of", _) => {
                out.return_value(&env);
                out.expression(&env);
            }
            (_, "coupled", 0) => {
                out.push(
                    "return_value",
                    CompletionItemKind::KEYWORD,
                    Some("coupled(return_value)".into()),
                    Some("a callback's registration lasts as long as the handle the function returns"),
                );
                out.expression(&env);
            }
            _ => out.expression(&env),
        }
        return out.items;
    }
    let statement = env.ctx.starts_statement(before);
    match place {
        Where::Function if statement => {
            out.descriptors(Place::Function);
            out.keywords(FUNCTION_SCOPES);
            out.library(|name| matches!(name, "register_buf" | "register_bufs_of" | "metadata"));
        }
        Where::Callback if statement => out.keywords(&["argument", "replace_guest"]),
        Where::Value if statement => {
            out.descriptors(Place::Value);
            out.keywords(VALUE_SCOPES);
        }
        Where::TopLevel if statement => {
            out.keywords(keywords::TOP_LEVEL);
            out.types(&env, |_| true);
        }
        Where::TopLevel | Where::TypeBody => out.types(&env, |_| true),
        Where::Function => {
            out.return_value(&env);
            out.expression(&env);
        }
        Where::Callback | Where::Value | Where::Utility => out.expression(&env),
        Where::Api if statement => {
            for key in lapis_parser::check::api::KEYS {
                out.push(key, CompletionItemKind::PROPERTY, Some("api setting".into()), None);
            }
        }
        Where::Api => out.expression(&env),
        Where::Other => {}
    }
    out.items
}

fn is_function_pointer_typedef(d: &Decl) -> bool {
    fn points_to_function(ty: &TypeExpr) -> bool {
        match &ty.kind {
            TypeExprKind::Pointer(inner) => matches!(inner.kind, TypeExprKind::Function { .. }) || points_to_function(inner),
            TypeExprKind::Const(inner) => points_to_function(inner),
            _ => false,
        }
    }
    d.kind == DeclKind::Typedef && d.ty.as_ref().is_some_and(points_to_function)
}

fn kind_of(kind: DeclKind) -> CompletionItemKind {
    match kind {
        DeclKind::Api => CompletionItemKind::MODULE,
        DeclKind::Typedef => CompletionItemKind::CLASS,
        DeclKind::Tag(lapis_parser::ast::TagKind::Enum) => CompletionItemKind::ENUM,
        DeclKind::Tag(_) | DeclKind::Metadata => CompletionItemKind::STRUCT,
        DeclKind::Field => CompletionItemKind::FIELD,
        DeclKind::Enumerator => CompletionItemKind::ENUM_MEMBER,
        DeclKind::Constant => CompletionItemKind::CONSTANT,
        DeclKind::Function | DeclKind::Callback | DeclKind::Utility => CompletionItemKind::FUNCTION,
        DeclKind::Parameter | DeclKind::ContextualArgument | DeclKind::Registry => CompletionItemKind::VARIABLE,
        DeclKind::Resource(_) => CompletionItemKind::VALUE,
    }
}

/// Completion items without repeats.
#[derive(Default)]
struct Items {
    items: Vec<CompletionItem>,
    seen: HashSet<String>,
}

impl Items {
    fn push(&mut self, label: &str, kind: CompletionItemKind, detail: Option<String>, doc: Option<&str>) {
        if !self.seen.insert(label.to_string()) {
            return;
        }
        self.items.push(CompletionItem {
            label: label.to_string(),
            kind: Some(kind),
            detail,
            documentation: doc.map(|d| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: d.to_string() })),
            ..CompletionItem::default()
        });
    }

    fn decls(&mut self, decls: &[Decl]) {
        for d in decls {
            self.push(&d.name, kind_of(d.kind), Some(d.kind.describe().to_string()), None);
        }
    }

    fn globals(&mut self, env: &Env<'_>, keep: impl Fn(&Decl) -> bool) {
        let found: Vec<Decl> = env.index.decls.iter().filter(|d| d.kind != DeclKind::Field && keep(d)).cloned().collect();
        self.decls(&found);
    }

    fn types(&mut self, env: &Env<'_>, keep: impl Fn(&Decl) -> bool) {
        self.globals(env, |d| d.kind.is_type() && keep(d));
    }

    fn descriptors(&mut self, place: Place) {
        for info in DESCRIPTORS.iter().filter(|d| d.place == place || d.place == Place::Anywhere) {
            self.push(info.name, CompletionItemKind::KEYWORD, Some(info.syntax.to_string()), Some(info.summary));
        }
    }

    fn keywords(&mut self, words: &[&str]) {
        for word in words {
            match keywords::lookup(word) {
                Some(k) => self.push(word, CompletionItemKind::KEYWORD, Some(k.syntax.to_string()), Some(k.summary)),
                None => self.push(word, CompletionItemKind::KEYWORD, None, None),
            }
        }
    }

    fn library(&mut self, keep: impl Fn(&str) -> bool) {
        for (name, doc) in STDLIB_FUNCTIONS.iter().filter(|(n, _)| keep(n)) {
            let (call, text) = doc.split_once(": ").unwrap_or((name, doc));
            self.push(name, CompletionItemKind::FUNCTION, Some(call.to_string()), Some(text));
        }
    }

    /// `return_value` in a statement of a function that returns something:
    /// the call's result.
    fn return_value(&mut self, env: &Env<'_>) {
        let void = matches!(env.locals.ret().map(|t| &t.kind), Some(TypeExprKind::Builtin(lapis_parser::ast::BuiltinType::Void)) | None);
        if !void {
            self.keywords(&["return_value"]);
        }
    }

    /// The names an expression may use at the cursor.
    fn expression(&mut self, env: &Env<'_>) {
        if env.sees_arguments() {
            self.decls(&env.locals.names);
        }
        self.decls(&env.visible_fields());
        if env.ctx.stack.contains(&Scope::Element) {
            self.keywords(&["index"]);
        }
        if !env.sees_arguments() {
            self.keywords(&["this"]);
        }
        self.globals(env, |d| matches!(d.kind, DeclKind::Constant | DeclKind::Enumerator | DeclKind::Utility));
        self.library(|_| true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;

    const SPEC: &str = "typedef int st;\ncontinuous_rc mem;\ninstantaneous_rc launches;\nbuf_registry reads;\nconst int LIMIT = 4;\n\
        st f(st count, void *data) {\n    @\n}\n";

    fn labels(fill: &str) -> Vec<String> {
        let text = SPEC.replace('@', fill);
        let offset = SPEC.find('@').unwrap() + fill.find('|').unwrap();
        let text = text.replace('|', "");
        let mut doc = Document::new(text, 1);
        completion(doc.snapshot(), offset).into_iter().map(|i| i.label).collect()
    }

    #[test]
    fn offers_what_may_stand_at_the_cursor() {
        let body = labels("|");
        assert!(body.contains(&"async".to_string()) && body.contains(&"argument".to_string()), "{body:?}");
        assert!(!body.contains(&"buffer".to_string()));
        let value = labels("argument(data) { bu| }");
        assert!(value.contains(&"buffer".to_string()) && value.contains(&"element".to_string()), "{value:?}");
        assert!(!value.contains(&"async".to_string()));
        assert_eq!(labels("argument(|"), ["count", "data"]);
        assert_eq!(labels("consumes_rc(|"), ["launches"]);
        assert_eq!(labels("allocates_rc(m|, 1);"), ["mem"]);
        assert_eq!(labels("register_buf(|"), ["reads"]);
        let expr = labels("argument(data) { in; buffer(|); }");
        assert!(
            expr.contains(&"count".to_string()) && expr.contains(&"LIMIT".to_string()) && expr.contains(&"strlen".to_string()),
            "{expr:?}"
        );
        assert_eq!(labels("argument(data) { lifetime(|"), ["call", "manual", "static", "coupled", "once"]);
        let coupled = labels("argument(data) { lifetime(coupled(|");
        assert!(coupled.contains(&"return_value".to_string()) && coupled.contains(&"count".to_string()), "{coupled:?}");
    }

    #[test]
    fn return_value_is_offered_in_statements_of_a_function_that_returns_something() {
        let in_statement = labels("metadata(count)->argc = ret|");
        assert!(in_statement.contains(&"return_value".to_string()), "{in_statement:?}");
        assert!(labels("metadata(|").contains(&"return_value".to_string()));
        // not before the call
        assert!(!labels("argument(data) { buffer(|").contains(&"return_value".to_string()));
        // nor in a function that returns nothing
        let void = "void g(int n) {\n    metadata(n)->argc = |\n}\n";
        let mut doc = Document::new(void.replace('|', ""), 1);
        let items: Vec<String> = completion(doc.snapshot(), void.find('|').unwrap()).into_iter().map(|i| i.label).collect();
        assert!(items.contains(&"n".to_string()) && !items.contains(&"return_value".to_string()), "{items:?}");
    }
}
