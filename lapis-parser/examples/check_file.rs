//! Checks one spec and prints its diagnostics; a debugging aid for developers.
fn main() {
    let path = std::env::args().nth(1).expect("usage: check_file SPEC");
    let source = std::fs::read_to_string(&path).expect("readable file");
    let (_, checked) = lapis_parser::check_source(&source);
    eprint!("{}", lapis_parser::render::render_text(&path, &source, &checked.diagnostics, false));
    println!("{} diagnostics", checked.diagnostics.len());
}
