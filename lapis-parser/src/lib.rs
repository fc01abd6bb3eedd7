//! LAPIS, the specification language of CAVA: text in, data out.
//!
//! The pipeline is `parse` (text → syntax tree + diagnostics), then `check`
//! (syntax tree → resolved [`ir::Spec`] + diagnostics). Nothing here touches
//! files or the network; the `cava` binary and the LSP live at the edges.

#![forbid(unsafe_code)]

pub mod ast;
pub mod check;
pub mod codes;
pub mod descriptors;
pub mod diagnostic;
pub mod fmt;
pub mod ir;
pub mod lexer;
mod parser;
pub mod render;
pub mod span;

pub use check::{check, check_source, Checked};
pub use diagnostic::{Diagnostic, Severity};
pub use parser::parse;
