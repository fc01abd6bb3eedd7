//! Writes the benchmark's generated spec to stdout (for profiling by hand).
include!("../benches/gen.rs");
fn main() {
    let n = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    print!("{}", generated_spec(n));
}
