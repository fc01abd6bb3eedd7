//! Every LAPIS example in the book checks as the book says it does.
//!
//! The test reads every Markdown file under `book/src` (except the
//! diagnostics index, whose examples sit inside explanations of errors) and
//! takes the fenced code blocks whose info string is `lapis` or `lapis,fail`:
//!
//! - `lapis` with an `api` block is a complete spec: it must check with no
//!   errors and no warnings;
//! - `lapis` without an `api` block is a fragment: it must parse with no
//!   syntax errors;
//! - `lapis,fail` must produce at least one error (for a fragment, an error
//!   other than the missing `api` block).
//!
//! Any other attribute after `lapis` (such as a misspelt `lapis,fial`) is a
//! failure too, so that no example escapes the test by accident.

use std::path::{Path, PathBuf};

use lapis_parser::ast::ItemKind;
use lapis_parser::codes::Code;
use lapis_parser::render;

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src")
}

/// Files whose `lapis` blocks are not examples of valid specs.
const SKIPPED: &[&str] = &["diagnostics.md"];

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// A fenced code block: where it starts, its info string and its text.
#[derive(Debug)]
struct CodeBlock {
    /// 1-based line of the opening fence.
    line: usize,
    info: String,
    text: String,
}

/// The fenced code blocks of a Markdown file (CommonMark fences: three or
/// more backticks or tildes, indented at most three spaces; a block closes
/// at a fence of the same character at least as long).
fn code_blocks(markdown: &str) -> Vec<CodeBlock> {
    struct Open {
        line: usize,
        fence: char,
        len: usize,
        indent: usize,
        info: String,
        text: String,
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for (i, line) in markdown.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        let fence = rest.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = fence.map_or(0, |c| rest.len() - rest.trim_start_matches(c).len());
        match &mut open {
            None => {
                if let Some(c) = fence {
                    if indent <= 3 && run >= 3 {
                        let info = rest[run..].trim().to_string();
                        if !(c == '`' && info.contains('`')) {
                            open = Some(Open { line: i + 1, fence: c, len: run, indent, info, text: String::new() });
                        }
                    }
                }
            }
            Some(block) => {
                if fence == Some(block.fence) && indent <= 3 && run >= block.len && rest[run..].trim().is_empty() {
                    let block = open.take().expect("an open block");
                    blocks.push(CodeBlock { line: block.line, info: block.info, text: block.text });
                } else {
                    // content lines lose up to the opening fence's indentation
                    let strip = (line.len() - line.trim_start_matches(' ').len()).min(block.indent);
                    block.text.push_str(&line[strip..]);
                    block.text.push('\n');
                }
            }
        }
    }
    if let Some(block) = open {
        // an unclosed fence runs to the end of the document
        blocks.push(CodeBlock { line: block.line, info: block.info, text: block.text });
    }
    blocks
}

/// What a block's info string asks for; `None` for blocks that are not LAPIS.
#[derive(Debug, PartialEq)]
enum Expect {
    Valid,
    Fail,
    /// `lapis` followed by something this test does not know.
    Unknown(String),
}

fn expectation(info: &str) -> Option<Expect> {
    let mut words = info.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty());
    if words.next() != Some("lapis") {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    Some(match rest.as_slice() {
        [] => Expect::Valid,
        ["fail"] => Expect::Fail,
        _ => Expect::Unknown(info.to_string()),
    })
}

/// Checks one block; `Err` says what is wrong.
fn check_block(expect: &Expect, source: &str) -> Result<(), String> {
    let (file, parse_diagnostics) = lapis_parser::parse(source);
    let complete = file.items.iter().any(|item| matches!(item.kind, ItemKind::Api(_)));
    match expect {
        Expect::Unknown(info) => Err(format!("unknown info string `{info}`: use `lapis` or `lapis,fail`")),
        Expect::Valid if complete => {
            let (_, checked) = lapis_parser::check_source(source);
            if checked.diagnostics.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "a complete example (it has an `api` block) must check with no errors or warnings:\n{}",
                    render::render_text("example.lapis", source, &checked.diagnostics, false)
                ))
            }
        }
        Expect::Valid => {
            if parse_diagnostics.iter().any(|d| d.is_error()) {
                Err(format!(
                    "a fragment must parse with no syntax errors:\n{}",
                    render::render_text("example.lapis", source, &parse_diagnostics, false)
                ))
            } else {
                Ok(())
            }
        }
        Expect::Fail => {
            let (_, checked) = lapis_parser::check_source(source);
            let counts = |d: &&lapis_parser::Diagnostic| d.is_error() && (complete || d.code != Code::ApiBlock);
            if checked.diagnostics.iter().any(|d| counts(&d)) {
                Ok(())
            } else {
                Err("a `lapis,fail` example must produce at least one error, and it checks cleanly".to_string())
            }
        }
    }
}

#[test]
fn book_examples_check_as_marked() {
    let root = book_src();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    let mut failures = Vec::new();
    let mut counted = 0;
    for path in &files {
        let relative = path.strip_prefix(&root).unwrap_or(path);
        if SKIPPED.iter().any(|s| relative == Path::new(s)) {
            continue;
        }
        let markdown = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for block in code_blocks(&markdown) {
            let Some(expect) = expectation(&block.info) else { continue };
            counted += 1;
            if let Err(why) = check_block(&expect, &block.text) {
                failures.push(format!("book/src/{}:{}: {why}", relative.display(), block.line));
            }
        }
    }
    assert!(
        counted > 0 || !root.join("tutorial.md").exists(),
        "found no `lapis` blocks under {}, although the tutorial exists",
        root.display()
    );
    assert!(failures.is_empty(), "{} of {counted} book examples are wrong:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn fences_are_read_as_commonmark_does() {
    let markdown = "text\n```lapis\na;\n```\n\n````markdown\n```lapis,fail\nb\n```\n````\n  ```lapis\n  c;\n  ```\n~~~\nd\n~~~\n";
    let blocks = code_blocks(markdown);
    let summary: Vec<(usize, &str, &str)> = blocks.iter().map(|b| (b.line, b.info.as_str(), b.text.as_str())).collect();
    assert_eq!(summary, vec![(2, "lapis", "a;\n"), (6, "markdown", "```lapis,fail\nb\n```\n"), (11, "lapis", "c;\n"), (14, "", "d\n"),]);
}

#[test]
fn info_strings() {
    assert_eq!(expectation("lapis"), Some(Expect::Valid));
    assert_eq!(expectation("lapis,fail"), Some(Expect::Fail));
    assert_eq!(expectation("lapis, fail"), Some(Expect::Fail));
    assert_eq!(expectation("lapis,fial"), Some(Expect::Unknown("lapis,fial".into())));
    assert_eq!(expectation("console"), None);
    assert_eq!(expectation("c"), None);
    assert_eq!(expectation(""), None);
}
