//! Every spec in the repository checks cleanly, and the spec that is meant
//! to use every descriptor really does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lapis_parser::ast::{ItemKind, Stmt, StmtKind};
use lapis_parser::descriptors::{CATEGORIES, DESCRIPTORS, SCOPE_KEYWORDS};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn specs_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(specs_in(&path));
        } else if path.extension().is_some_and(|e| e == "lapis") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_spec_checks_without_diagnostics() {
    let specs: Vec<PathBuf> = specs_in(&root().join("specs")).into_iter().chain(specs_in(&root().join("tests/specs"))).collect();
    assert!(specs.len() >= 2, "expected the repository's specs, found {specs:?}");
    for path in specs {
        let source = std::fs::read_to_string(&path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        let rendered = lapis_parser::render::render_text(&path.display().to_string(), &source, &checked.diagnostics, false);
        assert!(checked.diagnostics.is_empty(), "{} has diagnostics:\n{rendered}", path.display());
    }
}

/// The repository's own specs are in `cava fmt`'s canonical form, so that a
/// user who formats one sees no change, and the formatter keeps what makes
/// them readable (hex masks, long conditionals one alternative per line).
#[test]
fn every_spec_is_formatted() {
    let specs: Vec<PathBuf> = specs_in(&root().join("specs"))
        .into_iter()
        .chain(specs_in(&root().join("tests/specs")))
        .chain([root().join("tests/testlib/testlib.lapis")])
        .collect();
    for path in specs {
        let source = std::fs::read_to_string(&path).unwrap();
        let formatted = lapis_parser::fmt::format_source(&source).unwrap_or_else(|_| panic!("{} does not parse", path.display()));
        assert!(formatted == source, "{} is not formatted: run `cava fmt --write {}`", path.display(), path.display());
    }
}

fn collect(stmts: &[Stmt], words: &mut BTreeSet<String>) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Descriptor(d) => {
                words.insert(d.name.node.clone());
            }
            StmtKind::Argument { body, .. } => {
                words.insert("argument".into());
                collect(&body.stmts, words);
            }
            StmtKind::Element(body) => {
                words.insert("element".into());
                collect(&body.stmts, words);
            }
            StmtKind::ReturnValue(body) => {
                words.insert("return_value".into());
                collect(&body.stmts, words);
            }
            StmtKind::Field { body, .. } => {
                words.insert("field".into());
                collect(&body.stmts, words);
            }
            StmtKind::If { then, otherwise, .. } => {
                words.insert("if".into());
                collect(&then.stmts, words);
                if let Some(b) = otherwise {
                    collect(&b.stmts, words);
                }
            }
            StmtKind::ContextualArgument { .. } => {
                words.insert("contextual_argument".into());
            }
            StmtKind::Replace { side, .. } => {
                words.insert(format!("{side:?}"));
            }
            StmtKind::Expr(_) | StmtKind::Error => {}
        }
    }
}

#[test]
fn the_every_descriptor_spec_uses_every_descriptor() {
    let source = std::fs::read_to_string(root().join("tests/specs/every_descriptor.lapis")).unwrap();
    let (file, checked) = lapis_parser::check_source(&source);
    assert!(!checked.has_errors());
    let mut words = BTreeSet::new();
    let mut items = BTreeSet::new();
    for item in &file.items {
        items.insert(format!("{:?}", std::mem::discriminant(&item.kind)));
        match &item.kind {
            ItemKind::Function(f) | ItemKind::Callback(f) => collect(f.body.as_ref().map_or(&[][..], |b| &b.stmts), &mut words),
            ItemKind::TypeScope { body, .. } => collect(&body.stmts, &mut words),
            ItemKind::Default { body, category } => {
                words.insert(format!("default({})", category.node));
                collect(&body.stmts, &mut words);
            }
            _ => {}
        }
    }
    // `todo` is the one descriptor a finished spec must not contain
    for d in DESCRIPTORS.iter().filter(|d| d.name != "todo") {
        assert!(words.contains(d.name), "every_descriptor.lapis does not use `{}`", d.name);
    }
    for scope in SCOPE_KEYWORDS.iter().filter(|s| !s.starts_with("replace")) {
        assert!(words.contains(*scope), "every_descriptor.lapis does not use `{scope}`");
    }
    assert!(words.contains("Guest") && words.contains("Server"), "both replacements are used");
    assert!(CATEGORIES.iter().any(|(c, _)| words.contains(&format!("default({c})"))));
    assert_eq!(items.len(), 14, "every item kind but `Error` is used");
    let spec = &checked.spec;
    assert!(spec.metadata.is_some() && !spec.policies.is_empty() && !spec.registries.is_empty());
    assert_eq!(spec.api.invalid_handle, -1);
}

#[test]
fn the_figure_4_4_model() {
    let source = std::fs::read_to_string(root().join("specs/cuda_figure_4_4.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    assert!(!checked.has_errors());
    insta::assert_snapshot!("cuda_figure_4_4_ir", serde_json::to_string_pretty(&checked.spec).unwrap());
}
