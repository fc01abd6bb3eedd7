//! Go to definition: from a name to where the spec declares it.
//!
//! Resources, registries, utilities, callbacks, functions, types (typedef,
//! struct, union, enum), constants and enum values go to their declaration;
//! `argument(x)` and a parameter named in an expression go to the parameter
//! in the prototype (or the `contextual_argument`); a field goes to its
//! member in the struct; `metadata(...)` goes to `declare_metadata`.

use lsp_types::{GotoDefinitionResponse, Location, Uri};

use crate::document::Snapshot;
use crate::index::DeclKind;
use crate::resolve::{Env, Target};

pub fn definition(doc: Snapshot<'_>, uri: &Uri, offset: usize) -> Option<GotoDefinitionResponse> {
    let env = Env::new(doc.analysis, offset);
    let spans = match env.target()?.1 {
        Target::Decls(decls) => decls.into_iter().map(|d| d.name_span).collect(),
        Target::Library("metadata", _) => env.index.decls.iter().filter(|d| d.kind == DeclKind::Metadata).map(|d| d.name_span).collect(),
        _ => Vec::new(),
    };
    let mut locations: Vec<Location> = spans.into_iter().map(|span| Location::new(uri.clone(), doc.range(span))).collect();
    match locations.len() {
        0 => None,
        1 => locations.pop().map(GotoDefinitionResponse::Scalar),
        _ => Some(GotoDefinitionResponse::Array(locations)),
    }
}
