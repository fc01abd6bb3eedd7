//! What the integration tests of this crate share.

use std::path::{Path, PathBuf};

#[allow(dead_code)] // each test binary uses its own part
pub mod agree;

/// The repository's root (this module serves crates at several depths).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().find(|p| p.join("Cargo.lock").is_file()).unwrap_or(here).to_path_buf()
}

/// Every spec in the repository: `specs/`, `tests/specs/` and the test
/// library's, sorted.
pub fn specs() -> Vec<PathBuf> {
    let root = root();
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

/// xorshift64*: deterministic random numbers, no dependency.
pub struct Rng(pub u64);

#[allow(dead_code)] // each test binary uses its own part
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `from`, each as likely.
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}
