//! No input may make the front end panic: random bytes, random token soup,
//! and the repository's real specs cut, spliced and mutated.

use proptest::prelude::*;

const SEED_SPEC: &str = include_str!("../../tests/specs/every_descriptor.lapis");
const FIGURE_SPEC: &str = include_str!("../../specs/cuda_figure_4_4.lapis");

const TOKENS: &[&str] = &[
    "api",
    "typedef",
    "struct",
    "union",
    "enum",
    "const",
    "callback",
    "utility",
    "type",
    "default",
    "argument",
    "element",
    "field",
    "return_value",
    "if",
    "else",
    "contextual_argument",
    "replace_guest",
    "replace_server",
    "in",
    "out",
    "buffer",
    "handle",
    "async",
    "success",
    "lifetime",
    "coupled",
    "todo",
    "metadata",
    "index",
    "this",
    "sizeof",
    "x",
    "cl_mem",
    "int",
    "void",
    "char",
    "*",
    "**",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ";",
    ",",
    "=",
    "->",
    ".",
    "...",
    "?",
    ":",
    "+",
    "-",
    "<<",
    "&&",
    "!",
    "0",
    "1",
    "0x10",
    "\"s\"",
    "'c'",
    "//c\n",
    "/*",
    "*/",
    "@",
    "\n",
];

/// Parses, checks, renders and (when there are no syntax errors) formats.
fn exercise(source: &str) {
    let (_, checked) = lapis_parser::check_source(source);
    let _ = lapis_parser::render::render_text("fuzz.lapis", source, &checked.diagnostics, false);
    let _ = lapis_parser::render::render_json("fuzz.lapis", source, &checked.diagnostics);
    if let Ok(formatted) = lapis_parser::fmt::format_source(source) {
        let _ = lapis_parser::check_source(&formatted);
    }
}

fn mutate(base: &str, cuts: &[(usize, usize, usize)]) -> String {
    let bytes = base.as_bytes();
    let mut out: Vec<u8> = bytes.to_vec();
    for &(a, b, c) in cuts {
        if out.is_empty() {
            break;
        }
        let (a, b, c) = (a % out.len(), b % out.len(), c % (out.len() + 1));
        let lo = a.min(b);
        let hi = a.max(b).min(lo + 64);
        let piece: Vec<u8> = out[lo..hi].to_vec();
        match c % 3 {
            0 => {
                out.drain(lo..hi);
            }
            1 => {
                let at = c.min(out.len());
                out.splice(at..at, piece);
            }
            _ => {
                let at = c.min(out.len());
                out.splice(at..at, b"}{;(".iter().copied().take(1 + c % 4));
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        exercise(&s);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(0..TOKENS.len(), 0..120)) {
        let source: Vec<&str> = tokens.iter().map(|&i| TOKENS[i]).collect();
        exercise(&source.join(" "));
    }

    #[test]
    fn mutated_specs_never_panic(cuts in proptest::collection::vec((0usize..100_000, 0usize..100_000, 0usize..100_000), 1..6), figure in any::<bool>()) {
        exercise(&mutate(if figure { FIGURE_SPEC } else { SEED_SPEC }, &cuts));
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep_expr = format!("api a {{ version = {}1{}; }}", "(".repeat(5000), ")".repeat(5000));
    exercise(&deep_expr);
    let deep_blocks = format!("int f(int *p) {{ {} }}", "argument(p) { element { ".repeat(3000));
    exercise(&deep_blocks);
    let deep_types = format!("typedef int {}x;", "*".repeat(10_000));
    exercise(&deep_types);
    let deep_unary = format!("const int X = {}1;", "-".repeat(10_000));
    exercise(&deep_unary);
}

#[test]
fn every_prefix_of_a_real_spec_is_handled() {
    // a spec being typed: every prefix, at a coarse step to keep the test fast
    for end in (0..SEED_SPEC.len()).step_by(97) {
        if SEED_SPEC.is_char_boundary(end) {
            exercise(&SEED_SPEC[..end]);
        }
    }
}
