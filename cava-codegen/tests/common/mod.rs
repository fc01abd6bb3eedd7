//! What the integration tests of this crate share.

use std::path::{Path, PathBuf};

/// Every spec in the repository: `specs/`, `tests/specs/` and the test
/// library's, sorted.
pub fn specs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["specs", "tests/specs", "tests/testlib"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "lapis") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
