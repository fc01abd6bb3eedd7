//! `cava init`: lift a C header into a provisional LAPIS spec.
//!
//! `read` turns the header into a plain [`model::Header`] with libclang (all
//! unsafe libclang code is in the private `clang` module); `rules` infers
//! descriptors from types and names; `emit` writes the spec; `update` merges
//! a newer header into an existing spec. Only `read` does I/O.

mod clang;
mod ctypes;
mod emit;
pub mod model;
pub mod read;
mod rules;
mod update;

pub use emit::{lift, LiftOptions, Lifted, Stats};
pub use update::{update, UpdateReport};

/// Formats lifted text canonically. Lifted text always parses; should it
/// not (a bug), the unformatted text is returned so that nothing is lost.
pub fn formatted(lifted: &Lifted) -> String {
    let text = lifted.text();
    lapis_parser::fmt::format_source(&text).unwrap_or(text)
}
