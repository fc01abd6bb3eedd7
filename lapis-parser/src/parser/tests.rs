use crate::ast::{ItemKind, StmtKind, TypeExprKind};
use crate::parse;

fn items(src: &str) -> Vec<ItemKind> {
    let (file, diagnostics) = parse(src);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    file.items.into_iter().map(|i| i.kind).collect()
}

#[test]
fn function_pointer_parameters() {
    let items = items("int f(void (*cb)(int, void *), void *data);");
    let ItemKind::Function(f) = &items[0] else { panic!() };
    let TypeExprKind::Function { params, .. } = &f.decl.ty.kind else { panic!() };
    assert_eq!(params[0].name.as_ref().unwrap().node, "cb");
    let TypeExprKind::Pointer(inner) = &params[0].ty.kind else { panic!("{:?}", params[0].ty) };
    assert!(matches!(inner.kind, TypeExprKind::Function { .. }));
}

#[test]
fn arrays_of_pointers_and_pointers_to_arrays() {
    let items = items("typedef int *a[3];\ntypedef int (*b)[3];");
    let ItemKind::Typedef(a) = &items[0] else { panic!() };
    assert!(matches!(&a.ty.kind, TypeExprKind::Array { element, .. } if matches!(element.kind, TypeExprKind::Pointer(_))));
    let ItemKind::Typedef(b) = &items[1] else { panic!() };
    assert!(matches!(&b.ty.kind, TypeExprKind::Pointer(inner) if matches!(inner.kind, TypeExprKind::Array { .. })));
}

#[test]
fn constants_and_prototypes_share_the_declaration_syntax() {
    let items = items("const int N = 4;\nconst char *name(void);");
    assert!(matches!(items[0], ItemKind::Constant(_)));
    assert!(matches!(items[1], ItemKind::Function(_)));
}

#[test]
fn recovers_at_the_next_item_and_statement() {
    let (file, diagnostics) = parse("int f( { }\nint g(int *p) { argument(p) { in; buffer(; } out; }\nint h(void);");
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    assert!(matches!(file.items.last().unwrap().kind, ItemKind::Function(_)));
    let ItemKind::Function(g) = &file.items[1].kind else { panic!("{:?}", file.items[1]) };
    let body = g.body.as_ref().unwrap();
    assert!(matches!(body.stmts.last().unwrap().kind, StmtKind::Descriptor(_)), "the statement after the broken scope is kept");
}

#[test]
fn else_if_chains() {
    let items = items("int f(int a) { if (a) { sync; } else if (a > 1) { async; } else { sync; } }");
    let ItemKind::Function(f) = &items[0] else { panic!() };
    let StmtKind::If { otherwise: Some(otherwise), .. } = &f.body.as_ref().unwrap().stmts[0].kind else { panic!() };
    assert!(matches!(otherwise.stmts[0].kind, StmtKind::If { .. }));
}
