//! The contract hash: one number that both generated halves (guest library
//! and API server) embed and compare at the handshake, so that a guest built
//! from one version of a spec refuses to talk to a server built from
//! another, with a clear error, instead of misreading each other's messages.
//!
//! It covers exactly what the two halves must agree on: the resolved model
//! (function order and ids, types, every descriptor, constants). It does not
//! change when only formatting or comments change, because the model has no
//! spans and no comments.

use lapis_parser::ir::Spec;

/// Bumped when the generators change how they lay out messages for the same
/// model, so that halves from different CAVA versions also refuse each other.
pub const GENERATOR_VERSION: u32 = 1;

/// A 128-bit hash (the width of the handshake's field in `cava-runtime`) of
/// the canonical JSON form of the model, mixed with the generator version:
/// two FNV-1a passes from different offsets. Not a security measure (the
/// guest is untrusted anyway and every message is validated); it catches
/// honest mismatches.
pub fn contract_hash(spec: &Spec) -> u128 {
    // the model serializes deterministically: it holds vectors, not maps
    let canonical = serde_json::to_vec(spec).unwrap_or_default();
    let half = |offset: u64| fnv1a(fnv1a(offset, &GENERATOR_VERSION.to_le_bytes()), &canonical);
    (u128::from(half(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(half(0x6c62_272e_07bb_0142))
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "api a { version = \"1\"; headers = [\"a.h\"]; soname = \"liba.so.1\"; library = \"liba.so.1\"; \
                        error_type = int; success = 0; failure = -1; }\n\
                        int f(const void *p, size_t n) { argument(p) { in; buffer(n); } }\n";

    fn hash(source: &str) -> u128 {
        let (_, checked) = lapis_parser::check_source(source);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        contract_hash(&checked.spec)
    }

    #[test]
    fn formatting_and_comments_do_not_change_the_contract() {
        let reformatted = lapis_parser::fmt::format_source(SPEC).unwrap();
        let commented = format!("// a comment\n{SPEC}");
        assert_eq!(hash(SPEC), hash(&reformatted));
        assert_eq!(hash(SPEC), hash(&commented));
    }

    #[test]
    fn any_descriptor_change_changes_the_contract() {
        let base = hash(SPEC);
        assert_ne!(base, hash(&SPEC.replace("in; buffer(n)", "in; out; buffer(n)")));
        assert_ne!(base, hash(&SPEC.replace("buffer(n)", "buffer(n + 1)")));
        assert_ne!(base, hash(&SPEC.replace("int f(", "int g(")));
        assert_ne!(base, hash(&SPEC.replace("failure = -1", "failure = -2")));
        assert_ne!(base, hash(&format!("{SPEC}int g(void);\n")));
    }
}
