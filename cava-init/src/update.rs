//! `cava init --update`: bring the functions and types of a newer header
//! into an existing spec without touching anything already written.

use std::collections::HashSet;

use lapis_parser::ast::{ItemKind, TagBody, TypeExprKind};
use lapis_parser::Diagnostic;

use crate::emit::{Lifted, PieceKind};

/// What an update changed, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateReport {
    pub added_functions: Vec<String>,
    pub added_other: usize,
    /// Functions the spec describes that the new header no longer declares:
    /// kept, but reported.
    pub missing_from_header: Vec<String>,
}

/// Appends to `existing` what `lifted` declares and `existing` does not.
/// Fails (with the parser's diagnostics) when `existing` has syntax errors.
pub fn update(existing: &str, lifted: &Lifted, header: &str) -> Result<(String, UpdateReport), Vec<Diagnostic>> {
    let (file, diagnostics) = lapis_parser::parse(existing);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let known = declared_names(&file);
    let mut report = UpdateReport::default();
    let mut added = String::new();
    let mut last_kind = None;
    for piece in &lifted.pieces {
        if piece.names.iter().any(|n| known.contains(n)) {
            continue;
        }
        if piece.kind == PieceKind::Function {
            report.added_functions.push(piece.names[0].clone());
        } else {
            report.added_other += 1;
        }
        if last_kind != Some(piece.kind) {
            added.push('\n');
            last_kind = Some(piece.kind);
        }
        added.push_str(&piece.text);
        added.push('\n');
    }
    let lifted_functions: HashSet<&str> =
        lifted.pieces.iter().filter(|p| p.kind == PieceKind::Function).flat_map(|p| p.names.iter().map(String::as_str)).collect();
    for item in &file.items {
        if let ItemKind::Function(f) = &item.kind {
            // a variant describes a header function under a name of its own
            let variant = f.body.as_ref().is_some_and(|b| {
                b.stmts.iter().any(|s| matches!(&s.kind, lapis_parser::ast::StmtKind::Descriptor(d) if d.name.node == "variant_of"))
            });
            if let Some(name) = f.decl.name.as_ref().filter(|_| !variant) {
                if !lifted_functions.contains(name.node.as_str()) {
                    report.missing_from_header.push(name.node.clone());
                }
            }
        }
    }
    if added.trim().is_empty() {
        return Ok((existing.to_string(), report));
    }
    // only the new text is formatted: what the person wrote stays byte for byte
    let added = lapis_parser::fmt::format_source(&added).unwrap_or(added);
    let mut out = existing.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("\n// Added by `cava init --update` from `{header}`.\n"));
    out.push_str(&added);
    Ok((out, report))
}

/// Every name a spec declares, spelled as `Piece::names` spells them.
fn declared_names(file: &lapis_parser::ast::SourceFile) -> HashSet<String> {
    let mut names = HashSet::new();
    let tag = |ty: &lapis_parser::ast::TypeExpr, names: &mut HashSet<String>| {
        if let TypeExprKind::Tag { kind, name: Some(n), body } = &ty.kind {
            names.insert(format!("{} {n}", kind.keyword()));
            if let Some(TagBody::Enumerators(list)) = body.as_deref() {
                names.extend(list.iter().map(|e| e.name.node.clone()));
            }
        }
    };
    for item in &file.items {
        match &item.kind {
            ItemKind::Function(f) | ItemKind::Callback(f) => names.extend(f.decl.name.as_ref().map(|n| n.node.clone())),
            ItemKind::Typedef(d) => {
                names.extend(d.name.as_ref().map(|n| n.node.clone()));
                tag(&d.ty, &mut names);
            }
            ItemKind::TagDefinition(def) => {
                names.insert(format!("{} {}", def.kind.keyword(), def.name.node));
                if let TagBody::Enumerators(list) = &def.body {
                    names.extend(list.iter().map(|e| e.name.node.clone()));
                }
            }
            ItemKind::Constant(c) => names.extend(c.decl.name.as_ref().map(|n| n.node.clone())),
            ItemKind::TagDeclaration { kind, name } => {
                names.insert(format!("{} {}", kind.keyword(), name.node));
            }
            ItemKind::Utility(u) => names.extend(u.decl.name.as_ref().map(|n| n.node.clone())),
            _ => {}
        }
    }
    names
}
