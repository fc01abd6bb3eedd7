//! Hover: what the word under the cursor is.
//!
//! Descriptors and library functions show their entry in the parser's
//! catalog (syntax, summary, where they may stand); keywords show the
//! server's table; names the spec declares show their declaration as
//! written, what kind of name it is, and the comment just above it. Where
//! nothing else applies, a diagnostic's explanation (`cava explain`) is shown
//! for the code reported under the cursor.

use lapis_parser::descriptors::{DescriptorInfo, Place};
use lapis_parser::lexer::Comment;
use lapis_parser::span::Span;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::analysis::Analysis;
use crate::document::Snapshot;
use crate::index::{Decl, DeclKind};
use crate::resolve::{Env, Target};

/// Declarations longer than this are cut in hover text.
const MAX_LINES: usize = 16;

pub fn hover(doc: Snapshot<'_>, offset: usize) -> Option<Hover> {
    let analysis = doc.analysis;
    let env = Env::new(analysis, offset);
    let (span, text) = match env.target() {
        Some((span, target)) => (span, markdown(analysis, &target)),
        None => diagnostic_explanation(analysis, offset)?,
    };
    let range = doc.range(span);
    Some(Hover { contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }), range: Some(range) })
}

fn markdown(analysis: &Analysis, target: &Target) -> String {
    match target {
        Target::Descriptor(info) => descriptor(info),
        Target::Keyword(k) => format!("{}\n{}", code(k.syntax), k.summary),
        Target::Library(name, doc) => {
            let (call, text) = doc.split_once(": ").unwrap_or((name, doc));
            format!("{}\n{text} (library function)", code(call))
        }
        Target::Category(name, doc) => format!("{}\n{doc}", code(&format!("default({name})"))),
        Target::Decls(decls) => decls.iter().take(5).map(|d| declaration(analysis, d)).collect::<Vec<_>>().join("\n---\n"),
    }
}

fn descriptor(info: &DescriptorInfo) -> String {
    let place = match info.place {
        Place::Function => "Stands in a function's body.",
        Place::Value => "Stands in a value scope: `argument`, `element`, `return_value`, `field`, `type`, `default`.",
        Place::Anywhere => "Stands anywhere a descriptor may.",
    };
    format!("{}\n{}\n\n*{place}*", code(info.syntax), info.summary)
}

fn declaration(analysis: &Analysis, d: &Decl) -> String {
    let source = analysis.source();
    let text = source.get(d.sig_span.range()).unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        lines.push("...");
    }
    let mut out = code(&lines.join("\n"));
    out.push('\n');
    out.push_str(d.kind.describe());
    if let Some(container) = &d.container {
        let of = match d.kind {
            DeclKind::Parameter | DeclKind::ContextualArgument => format!(" of `{container}`"),
            _ => format!(" in `{container}`"),
        };
        out.push_str(&of);
    }
    if let Some(comment) = doc_comment(source, &analysis.file.comments, d.sig_span.start) {
        out.push_str("\n\n");
        out.push_str(&comment);
    }
    out
}

fn code(text: &str) -> String {
    format!("```lapis\n{text}\n```")
}

/// The comments right above a declaration (no blank line between), without their markers.
fn doc_comment(source: &str, comments: &[Comment], item_start: u32) -> Option<String> {
    let mut end = item_start as usize;
    let mut lines: Vec<String> = Vec::new();
    for comment in comments.iter().rev().filter(|c| (c.span.end as usize) <= item_start as usize) {
        let gap = source.get(comment.span.end as usize..end)?;
        if !gap.trim().is_empty() || gap.matches('\n').count() > 1 {
            break;
        }
        let text = comment.text.trim_start_matches("//").trim_start_matches("/*").trim_end_matches("*/").trim();
        lines.push(text.to_string());
        end = comment.span.start as usize;
    }
    lines.reverse();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The explanation of the code of a diagnostic under the cursor.
fn diagnostic_explanation(analysis: &Analysis, offset: usize) -> Option<(Span, String)> {
    let d = analysis.diagnostics.iter().find(|d| (d.primary.span.start as usize) <= offset && offset <= d.primary.span.end as usize)?;
    Some((d.primary.span, format!("**{}**: {}\n\n{}", d.code.as_str(), d.code.title(), d.code.explanation())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_comment_block_just_above() {
        let source = "// far\n\n// one\n// two\nconst int X = 1;";
        let comments = lapis_parser::lexer::lex(source).comments;
        let start = source.find("const").unwrap() as u32;
        assert_eq!(doc_comment(source, &comments, start).as_deref(), Some("one\ntwo"));
    }
}
