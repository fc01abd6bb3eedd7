//! Code generators: a checked [`lapis_parser::ir::Spec`] in, generated
//! crates out. The generators themselves (guest library, API server, replay,
//! accounting) are being built (issue 6); what is here is what both
//! generated halves must agree on.

#![forbid(unsafe_code)]

pub mod contract;
