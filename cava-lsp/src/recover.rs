//! Top-level items for navigation, recovered from broken text.
//!
//! When a statement inside a function is half typed (`buffer(` and nothing
//! yet), the parser cannot tell where that function ends, and everything up
//! to the end of the file becomes one `Item::Error`. That is right for
//! diagnostics, but an outline or go-to-definition that loses every item
//! after the cursor while the user types would be useless. So each error
//! item's text is cut where a line starts with a word in column one (where
//! items start in a formatted spec, the same rule the parser uses to resume
//! after an error at top level), and every piece is parsed on its own; only
//! the piece being typed stays an error. The pieces' spans are moved to
//! where the pieces stand in the whole text.

use lapis_parser::ast::{
    ApiValue, Block, Declaration, DescriptorArg, Expr, ExprKind, Item, ItemKind, SourceFile, Stmt, StmtKind, TagBody, TypeExpr,
    TypeExprKind,
};
use lapis_parser::lexer::{Token, TokenKind};
use lapis_parser::span::Span;

/// The file's items, with each error item replaced by what its pieces parse to.
pub fn items(file: &SourceFile, source: &str, tokens: &[Token]) -> Vec<Item> {
    let mut out = Vec::with_capacity(file.items.len());
    for item in &file.items {
        if !matches!(item.kind, ItemKind::Error) {
            out.push(item.clone());
            continue;
        }
        let span = item.span;
        let mut starts: Vec<usize> = vec![span.start as usize];
        starts.extend(
            tokens
                .iter()
                .filter(|t| t.at_column_one && matches!(t.kind, TokenKind::Ident(_)))
                .map(|t| t.span.start as usize)
                .filter(|&s| s > span.start as usize && s < span.end as usize),
        );
        starts.push((span.end as usize).min(source.len()));
        for piece in starts.windows(2) {
            let (start, end) = (piece[0], piece[1]);
            let Some(text) = source.get(start..end) else { continue };
            let (parsed, _) = lapis_parser::parse(text);
            for mut item in parsed.items {
                shift_item(&mut item, start as i64);
                out.push(item);
            }
        }
    }
    out
}

// Moving spans. The matches are exhaustive on purpose: a new kind of node in
// the syntax tree must be handled here, or its spans would point elsewhere.

fn shift(span: &mut Span, by: i64) {
    // spans of text parsed behind a made-up prefix move back; none moves before the file's start
    let moved = |at: u32| u32::try_from((i64::from(at) + by).max(0)).unwrap_or(u32::MAX);
    span.start = moved(span.start);
    span.end = moved(span.end);
}

pub fn shift_item(item: &mut Item, by: i64) {
    shift(&mut item.span, by);
    match &mut item.kind {
        ItemKind::Api(api) => {
            shift(&mut api.name.span, by);
            for entry in &mut api.entries {
                shift(&mut entry.key.span, by);
                shift(&mut entry.span, by);
                match &mut entry.value {
                    ApiValue::Expr(e) => shift_expr(e, by),
                    ApiValue::List(list) => list.iter_mut().for_each(|e| shift_expr(e, by)),
                    ApiValue::Todo(reason) => shift(&mut reason.span, by),
                }
            }
        }
        ItemKind::Typedef(decl) => shift_decl(decl, by),
        ItemKind::TagDefinition(tag) => {
            shift(&mut tag.name.span, by);
            shift_tag_body(&mut tag.body, by);
        }
        ItemKind::TagDeclaration { name, .. } | ItemKind::Resource { name, .. } | ItemKind::BufRegistry(name) => shift(&mut name.span, by),
        ItemKind::Function(f) | ItemKind::Callback(f) => {
            shift_decl(&mut f.decl, by);
            if let Some(body) = &mut f.body {
                shift_block(body, by);
            }
        }
        ItemKind::Utility(u) => {
            shift_decl(&mut u.decl, by);
            shift_expr(&mut u.body, by);
        }
        ItemKind::Constant(c) => {
            shift_decl(&mut c.decl, by);
            shift_expr(&mut c.value, by);
        }
        ItemKind::TypeScope { ty, body } => {
            shift_type(ty, by);
            shift_block(body, by);
        }
        ItemKind::Default { category, body } => {
            shift(&mut category.span, by);
            shift_block(body, by);
        }
        ItemKind::Policy(file) => shift(&mut file.span, by),
        ItemKind::DeclareMetadata(ty) => shift_type(ty, by),
        ItemKind::Error => {}
    }
}

pub fn shift_decl(decl: &mut Declaration, by: i64) {
    shift(&mut decl.span, by);
    shift_type(&mut decl.ty, by);
    if let Some(name) = &mut decl.name {
        shift(&mut name.span, by);
    }
}

fn shift_tag_body(body: &mut TagBody, by: i64) {
    match body {
        TagBody::Fields(fields) => fields.iter_mut().for_each(|d| shift_decl(d, by)),
        TagBody::Enumerators(list) => {
            for e in list {
                shift(&mut e.name.span, by);
                if let Some(v) = &mut e.value {
                    shift_expr(v, by);
                }
            }
        }
    }
}

fn shift_type(ty: &mut TypeExpr, by: i64) {
    shift(&mut ty.span, by);
    match &mut ty.kind {
        TypeExprKind::Builtin(_) | TypeExprKind::Named(_) => {}
        TypeExprKind::Tag { body, .. } => {
            if let Some(body) = body {
                shift_tag_body(body, by);
            }
        }
        TypeExprKind::Pointer(inner) | TypeExprKind::Const(inner) => shift_type(inner, by),
        TypeExprKind::Array { element, len } => {
            shift_type(element, by);
            if let Some(len) = len {
                shift_expr(len, by);
            }
        }
        TypeExprKind::Function { ret, params, .. } => {
            shift_type(ret, by);
            params.iter_mut().for_each(|p| shift_decl(p, by));
        }
    }
}

fn shift_block(block: &mut Block, by: i64) {
    shift(&mut block.span, by);
    block.stmts.iter_mut().for_each(|s| shift_stmt(s, by));
}

fn shift_stmt(stmt: &mut Stmt, by: i64) {
    shift(&mut stmt.span, by);
    match &mut stmt.kind {
        StmtKind::Descriptor(d) => {
            shift(&mut d.name.span, by);
            for arg in d.args.iter_mut().flatten() {
                match arg {
                    DescriptorArg::Expr(e) => shift_expr(e, by),
                    DescriptorArg::Type(t) => shift_type(t, by),
                }
            }
        }
        StmtKind::Argument { name, body } | StmtKind::Field { name, body } => {
            shift(&mut name.span, by);
            shift_block(body, by);
        }
        StmtKind::Element(body) | StmtKind::ReturnValue(body) => shift_block(body, by),
        StmtKind::If { cond, then, otherwise } => {
            shift_expr(cond, by);
            shift_block(then, by);
            if let Some(b) = otherwise {
                shift_block(b, by);
            }
        }
        StmtKind::ContextualArgument { decl, value } => {
            shift_decl(decl, by);
            shift_expr(value, by);
        }
        StmtKind::Replace { code, .. } => shift(&mut code.span, by),
        StmtKind::Expr(e) => shift_expr(e, by),
        StmtKind::Error => {}
    }
}

fn shift_expr(expr: &mut Expr, by: i64) {
    shift(&mut expr.span, by);
    match &mut expr.kind {
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Char(_) | ExprKind::Name(_) | ExprKind::Error => {}
        ExprKind::Unary(_, e) => shift_expr(e, by),
        ExprKind::Binary(_, a, b) | ExprKind::Assign(a, b) | ExprKind::Index(a, b) => {
            shift_expr(a, by);
            shift_expr(b, by);
        }
        ExprKind::Ternary(a, b, c) => {
            shift_expr(a, by);
            shift_expr(b, by);
            shift_expr(c, by);
        }
        ExprKind::Call(name, args) => {
            shift(&mut name.span, by);
            args.iter_mut().for_each(|a| shift_expr(a, by));
        }
        ExprKind::SizeofType(t) => shift_type(t, by),
        ExprKind::Member { base, field, .. } => {
            shift_expr(base, by);
            shift(&mut field.span, by);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_after_a_half_typed_statement_survive() {
        let source = "typedef int T;\nT f(T a, T *b) {\n    argument(b) { out; buffer(\n}\nT h(T d) {\n    sync;\n}\n";
        let (file, _) = lapis_parser::parse(source);
        assert!(file.items.iter().any(|i| matches!(i.kind, ItemKind::Error)), "the parser gives up on the rest");
        let tokens = lapis_parser::lexer::lex(source).tokens;
        let items = items(&file, source, &tokens);
        let h = items
            .iter()
            .find_map(|i| match &i.kind {
                ItemKind::Function(f) if f.decl.name.as_ref().is_some_and(|n| n.node == "h") => f.decl.name.clone(),
                _ => None,
            })
            .expect("h recovered");
        assert_eq!(&source[h.span.range()], "h");
    }
}
