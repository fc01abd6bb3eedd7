//! Code actions: the checker's fixes as quick fixes, and skeletons for `todo`s.
//!
//! A diagnostic with a fix ("did you mean", a missing `;`) carries the edit
//! in its `data` (`diagnostics.rs`); the editor sends the diagnostics under
//! the cursor back with the request, and each fix becomes a preferred quick
//! fix. Editors that drop `data` get the same fixes from the server's own
//! diagnostics for the requested range.
//!
//! A `todo` (L0506) marks a decision `cava init` left to a person. Its
//! actions replace the `todo(...)` statement with a skeleton that still has
//! a hole where the decision goes, such as `in; buffer(/* size */);`. The
//! hole is an error until it is filled (`buffer()` without a size is L0305,
//! an `api` setting without a value L0104), so no placeholder can pass
//! `cava check` unreviewed, which is the point of a `todo`. Complete answers that need
//! nothing filled in (`handle;`, `opaque;`) are offered too, and when the
//! `todo`'s reason proposes descriptors in backquotes (as `cava init` often
//! does: "is it `out; buffer(param_value_size);`?"), that proposal is the
//! first action.

use std::collections::HashMap;

use lapis_parser::codes::Code;
use lsp_types::{CodeAction, CodeActionContext, CodeActionKind, CodeActionOrCommand, NumberOrString, Range, TextEdit, Uri, WorkspaceEdit};

use crate::context::{Context, Where};
use crate::diagnostics::{self, FixData, SOURCE};
use crate::document::Snapshot;

/// Skeletons for a `todo` in a value scope: (title, replacement).
const VALUE_SKELETONS: &[(&str, &str)] = &[
    ("Describe as an input buffer", "in; buffer(/* size */);"),
    ("Describe as an output buffer", "out; buffer(/* size */);"),
    ("Describe as a handle", "handle;"),
    ("Describe as a value copied as it is", "opaque;"),
];
const FUNCTION_SKELETONS: &[(&str, &str)] = &[("Mark as unsupported", "unsupported(/* error value */);")];

pub fn code_actions(doc: Snapshot<'_>, uri: &Uri, range: Range, context: &CodeActionContext) -> Vec<CodeActionOrCommand> {
    let mut ours: Vec<lsp_types::Diagnostic> =
        context.diagnostics.iter().filter(|d| d.source.as_deref() == Some(SOURCE)).cloned().collect();
    if ours.iter().all(|d| d.data.is_none() && !is_todo(d)) {
        // the editor sent none of ours with their data: use the server's own for the range
        ours = doc
            .analysis
            .diagnostics
            .iter()
            .map(|d| diagnostics::to_lsp(d, doc.text, doc.lines, uri))
            .filter(|d| overlaps(d.range, range))
            .collect();
    }
    let mut actions = Vec::new();
    for diagnostic in &ours {
        if let Some(fix) = diagnostic.data.clone().and_then(|data| serde_json::from_value::<FixData>(data).ok()) {
            actions.push(action(uri, fix.title, vec![fix.edit], diagnostic, true));
        }
        if is_todo(diagnostic) {
            for (title, replacement) in todo_replacements(doc, diagnostic.range) {
                actions.push(action(uri, title, vec![TextEdit::new(diagnostic.range, replacement)], diagnostic, false));
            }
        }
    }
    actions
}

fn is_todo(d: &lsp_types::Diagnostic) -> bool {
    d.code == Some(NumberOrString::String(Code::TodoLeft.as_str().to_string()))
}

fn overlaps(a: Range, b: Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

fn action(uri: &Uri, title: String, edits: Vec<TextEdit>, diagnostic: &lsp_types::Diagnostic, preferred: bool) -> CodeActionOrCommand {
    CodeActionOrCommand::CodeAction(CodeAction {
        title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), edits)])), ..WorkspaceEdit::default() }),
        is_preferred: preferred.then_some(true),
        ..CodeAction::default()
    })
}

/// What may replace the `todo` statement (or `api` setting) at `range`.
fn todo_replacements(doc: Snapshot<'_>, range: Range) -> Vec<(String, String)> {
    let span = doc.lines.span(doc.text, range);
    let text = doc.text.get(span.range()).unwrap_or_default();
    let Some(open) = text.find("todo") else { return Vec::new() };
    let reason = text[open..].split_once('(').map_or("", |(_, r)| r);
    let ctx = Context::new(doc.text, doc.analysis.tokens(), span.start as usize);
    let mut out: Vec<(String, String)> = Vec::new();
    match ctx.place() {
        Where::Api => {
            // `key = todo("...");`: keep the key, leave a hole for the value
            let key = text[..open].trim_end().trim_end_matches('=').trim_end();
            out.push(("Replace the `todo` with a value to fill in".into(), format!("{key} = /* value */;")));
        }
        place => {
            for proposal in proposals(reason) {
                out.push((format!("Replace the `todo` with `{proposal}`"), proposal));
            }
            let skeletons = if place == Where::Function { FUNCTION_SKELETONS } else { VALUE_SKELETONS };
            out.extend(skeletons.iter().map(|(title, text)| (title.to_string(), text.to_string())));
        }
    }
    out
}

/// Descriptors the reason proposes in backquotes: statements that parse.
fn proposals(reason: &str) -> Vec<String> {
    reason
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::trim)
        .filter(|s| s.ends_with(';'))
        .filter(|s| {
            let (_, errors) = lapis_parser::parse(&format!("void __cava_lsp(void) {{\n{s}\n}}"));
            errors.is_empty()
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_proposals_that_parse() {
        let reason = "void * output: is it `out; buffer(param_value_size);`? or `buffer(n / sizeof(...))`";
        assert_eq!(proposals(reason), ["out; buffer(param_value_size);"]);
        assert!(proposals("write `unsupported(v);` or `replace_guest { ... }`") == ["unsupported(v);"]);
    }
}
