//! What the integration tests of this crate share.

use std::path::{Path, PathBuf};

use cava_runtime::plan::Ty;

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

/// Bytes behind each pointer argument: small enough sizes (arguments are
/// at most 16) stay inside, and most of it is zero, so that lists ended by
/// a zero end soon.
#[allow(dead_code)] // each test binary uses its own part
pub const ARENA: usize = 64 << 10;

/// Random raw arguments for `params`, pointers into `arenas` (refilled).
#[allow(dead_code)] // each test binary uses its own part
pub fn arguments(rng: &mut Rng, params: &[Ty], arenas: &mut [Vec<u8>]) -> Vec<u64> {
    params
        .iter()
        .zip(arenas.iter_mut())
        .map(|(ty, arena)| match ty {
            Ty::Ptr(_) | Ty::Array(..) | Ty::Record(_) | Ty::Function => {
                if rng.next().is_multiple_of(4) {
                    return 0;
                }
                arena.fill(0);
                for byte in arena.iter_mut().take(64) {
                    *byte = rng.pick(&[0, 1, 2, 3, 8, 0x42, 0xff]);
                }
                arena.as_ptr() as u64
            }
            Ty::Float { .. } => f64::to_bits(rng.pick(&[0.0, 1.5, -2.0])),
            _ => rng.pick(&[0, 1, 2, 3, 4, 8, 16]),
        })
        .collect()
}
