//! Diagnostics as the editor receives them: the same codes and text as
//! `cava check`, at the right UTF-16 positions, kept up to date as the text
//! changes, and cleared when the file is closed.

mod support;

use lapis_parser::span::line_col;
use serde_json::{json, Value};
use support::{find, repo_file, uri, Client};

fn ui_files() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ui");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/ui exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".lapis"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_ui_test_reports_what_cava_check_reports() {
    let (mut client, _) = Client::start();
    for name in ui_files() {
        let text = repo_file(&format!("tests/ui/{name}"));
        let uri = uri(&name);
        client.open(&uri, &text);
        let published = client.diagnostics(&uri);
        let (_, checked) = lapis_parser::check_source(&text);
        assert_eq!(published.len(), checked.diagnostics.len(), "{name}");
        for (lsp, d) in published.iter().zip(&checked.diagnostics) {
            assert_eq!(lsp["code"], d.code.as_str(), "{name}");
            assert_eq!(lsp["source"], "cava");
            assert_eq!(lsp["severity"], if d.is_error() { 1 } else { 2 }, "{name}");
            let message = lsp["message"].as_str().unwrap();
            assert!(message.starts_with(&d.message), "{name}: {message}");
            if let Some(help) = &d.help {
                assert!(message.ends_with(&format!("help: {help}")), "{name}: {message}");
            }
            // the UI files are ASCII, so 1-based byte columns are UTF-16 columns plus one
            let (line, column) = line_col(&text, d.primary.span.start as usize);
            assert_eq!(lsp["range"]["start"], json!({ "line": line - 1, "character": column - 1 }), "{name}");
            assert_eq!(lsp["relatedInformation"].as_array().map_or(0, Vec::len), d.secondary.len(), "{name}");
            assert_eq!(lsp["data"].is_object(), d.fix.is_some(), "{name}");
            // editors grey out what is unused
            assert_eq!(lsp["tags"] == json!([1]), d.code.as_str() == "L0514", "{name}");
        }
        client.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri } }));
        assert!(client.diagnostics(&uri).is_empty(), "closing clears the file's diagnostics");
    }
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn secondary_labels_and_fixes_travel_with_the_diagnostic() {
    let (mut client, _) = Client::start();
    let text = repo_file("tests/ui/L0104_missing_semicolon.lapis");
    let uri = uri("semicolon.lapis");
    client.open(&uri, &text);
    let published = client.diagnostics(&uri);
    let missing = &published[0];
    assert_eq!(
        missing["message"],
        "expected `;` after the statement, found `buffer`\n`;` missing here\nhelp: add `;` at the end of the statement"
    );
    let related = &missing["relatedInformation"][0];
    assert_eq!(related["message"], "`buffer` comes next");
    assert_eq!(related["location"]["uri"], uri.as_str());
    assert_eq!(related["location"]["range"]["start"], json!({ "line": 27, "character": 8 }));
    let fix = &missing["data"];
    assert_eq!(fix["edit"]["newText"], ";");
    assert_eq!(fix["edit"]["range"]["start"], json!({ "line": 26, "character": 10 }));
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn positions_count_utf16_units_after_non_ascii_text() {
    let (mut client, _) = Client::start();
    // `é` is two bytes and one UTF-16 unit; `😀` is four bytes and two units
    let text = "/* é😀 */ continuous_rc mém; /* 😀 */ buf_registry r\u{e9}g;\nint f(void) { /* ünïcödé 😀 */ asynch; }\n";
    let uri = uri("unicode.lapis");
    client.open(&uri, text);
    let published = client.diagnostics(&uri);
    let unknown = published.iter().find(|d| d["code"] == "L0301").expect("the misspelt descriptor");
    let start = find(text, "asynch", 0, 0);
    assert_eq!(start, (1, 31), "14 units of code, then 17 of comment (`😀` counts two) and space");
    assert_eq!(unknown["range"], support::range(start, (start.0, start.1 + 6)));
    // the fix replaces exactly the word, in UTF-16 units too
    assert_eq!(unknown["data"]["edit"]["range"], unknown["range"]);
    assert_eq!(unknown["data"]["edit"]["newText"], "async");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn edits_saves_and_closes_keep_diagnostics_current() {
    let (mut client, _) = Client::start();
    let text = repo_file("tests/ui/did_you_mean_suggestions.lapis");
    let uri = uri("suggestions.lapis");
    client.open(&uri, &text);
    let before = client.diagnostics(&uri);
    assert!(before.iter().any(|d| d["message"].as_str().unwrap().starts_with("unknown descriptor `bufer`")));
    // an incremental edit: insert the missing `f` in `bufer`
    let at = find(&text, "bufer", 0, 3);
    client.edit(&uri, 2, at, at, "f");
    let after = client.diagnostics(&uri);
    assert_eq!(after.len(), before.len() - 1);
    assert!(!after.iter().any(|d| d["message"].as_str().unwrap().contains("bufer")));
    // saving re-publishes the same diagnostics
    client.notify("textDocument/didSave", json!({ "textDocument": { "uri": uri } }));
    assert_eq!(client.diagnostics(&uri), after);
    // a change without a range replaces the whole text
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [{ "text": "continuous_rc mem;\n" }] }),
    );
    let whole = client.diagnostics(&uri);
    let codes: Vec<&Value> = whole.iter().map(|d| &d["code"]).collect();
    assert_eq!(codes, [&json!("L0508")], "no api block");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn the_published_version_is_the_last_edit() {
    let (mut client, _) = Client::start();
    let uri = uri("burst.lapis");
    client.open(&uri, "");
    client.diagnostics(&uri);
    let word = "continuous_rc mem;";
    for (i, c) in word.chars().enumerate() {
        client.edit(&uri, i as i32 + 2, (0, i as u32), (0, i as u32), &c.to_string());
    }
    // whichever versions were checked on the way, the last one is published last
    let last = word.len() as i32 + 1;
    loop {
        let params = client.notification("textDocument/publishDiagnostics");
        if params["version"] == last {
            let codes: Vec<&Value> = params["diagnostics"].as_array().unwrap().iter().map(|d| &d["code"]).collect();
            assert_eq!(codes, [&json!("L0508")]);
            break;
        }
    }
    client.shutdown().expect("a clean shutdown");
}
