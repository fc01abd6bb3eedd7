//! The book's diagnostics index is generated from the code catalog.

use std::path::Path;

#[test]
fn book_index_matches_the_catalog() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/diagnostics.md");
    let expected = lapis_parser::codes::markdown_index();
    if std::env::var_os("CAVA_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "book/src/diagnostics.md is out of date: run `CAVA_BLESS=1 cargo test -p lapis-parser --test diagnostics_index`"
    );
}
