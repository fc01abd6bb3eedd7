//! Lifts a header and prints the spec (a debugging aid; users run `cava init`).
fn main() {
    let path = std::env::args().nth(1).expect("usage: lift HEADER [PREFIX]");
    let prefix = std::env::args().nth(2);
    let header =
        cava_init::read::read_header(std::path::Path::new(&path), &cava_init::read::ReadOptions::default()).expect("readable header");
    let options =
        cava_init::LiftOptions { prefix, header: path.rsplit("include/").next().unwrap_or(&path).to_string(), ..Default::default() };
    let lifted = cava_init::lift(&header, &options);
    print!("{}", cava_init::formatted(&lifted));
    eprintln!("{:?}", lifted.stats);
}
