//! Log lines of the runtime. The guest library lives inside someone else's
//! program, so it never prints on stdout; everything goes to stderr with a
//! prefix that says who speaks. `CAVA_LOG=quiet` silences it.

use std::sync::OnceLock;

fn quiet() -> bool {
    static QUIET: OnceLock<bool> = OnceLock::new();
    *QUIET.get_or_init(|| std::env::var("CAVA_LOG").is_ok_and(|v| v == "quiet"))
}

/// Writes one log line `cava[who]: message` to stderr.
pub fn log(who: &str, message: std::fmt::Arguments<'_>) {
    if !quiet() {
        eprintln!("cava[{who}]: {message}");
    }
}
