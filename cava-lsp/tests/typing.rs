//! Text being typed: every prefix of a real spec, a function typed into the
//! middle of another, and requests at every position, including positions
//! past the end and inside multi-byte characters. The server must answer
//! all of it and end cleanly: a panic in a handler would come back as an
//! `InternalError`, which these tests treat as a failure.

mod support;

use serde_json::{json, Value};
use support::{at, repo_file, uri, Client};

/// Asks everything an editor asks while the user types, at `(line, character)`.
fn ask_everything(client: &mut Client, uri: &str, line: u32, character: u32) {
    for method in ["textDocument/hover", "textDocument/definition", "textDocument/completion"] {
        client.call(method, at(uri, line, character));
    }
    client.call("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
    let here = support::range((line, character), (line, character));
    client.call("textDocument/codeAction", json!({ "textDocument": { "uri": uri }, "range": here, "context": { "diagnostics": [] } }));
}

/// The (line, character) of the end of `text`, in UTF-16 units.
fn end_of(text: &str) -> (u32, u32) {
    let line = text.matches('\n').count() as u32;
    let last = text.rsplit('\n').next().unwrap_or_default();
    (line, last.chars().map(char::len_utf16).sum::<usize>() as u32)
}

/// Types `typed` into `client`'s document `uri` (whose text is `text`) at
/// byte offset `at`, one character per change, asking everything every
/// `every` characters. Returns the new text.
fn type_in(client: &mut Client, uri: &str, text: &str, at: usize, typed: &str, every: usize, version: &mut i32) -> String {
    let mut text = text.to_string();
    let mut offset = at;
    for (i, c) in typed.chars().enumerate() {
        let (line, character) = end_of(&text[..offset]);
        *version += 1;
        client.edit(uri, *version, (line, character), (line, character), &c.to_string());
        text.insert(offset, c);
        offset += c.len_utf8();
        if i % every == 0 {
            let (line, character) = end_of(&text[..offset]);
            ask_everything(client, uri, line, character);
        }
    }
    text
}

#[test]
fn every_prefix_of_a_real_spec_is_answered() {
    let (mut client, _) = Client::start();
    let spec = repo_file("specs/cuda_figure_4_4.lapis");
    let uri = uri("typed.lapis");
    client.open(&uri, "");
    let mut version = 1;
    let typed = type_in(&mut client, &uri, "", 0, &spec, 1, &mut version);
    assert_eq!(typed, spec);
    // the last diagnostics are those of the whole spec: none
    loop {
        let params = client.notification("textDocument/publishDiagnostics");
        if params["version"] == version {
            assert_eq!(params["diagnostics"], json!([]));
            break;
        }
    }
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn a_function_typed_into_the_middle_of_a_spec_is_answered() {
    let (mut client, _) = Client::start();
    let spec = repo_file("tests/specs/every_descriptor.lapis");
    let uri = uri("middle.lapis");
    client.open(&uri, &spec);
    let middle = spec.find("acc_status accStreamCreate").expect("a function to type before");
    // with non-ASCII text in a comment, so positions after it are in UTF-16 units
    let function =
        "// é😀 ünïcödé\nacc_status accNew(acc_device device, void *data, size_t n) {\n    argument(data) { in; buffer(n); }\n}\n\n";
    let mut version = 1;
    let typed = type_in(&mut client, &uri, &spec, middle, function, 1, &mut version);
    let (_, checked) = lapis_parser::check_source(&typed);
    loop {
        let params = client.notification("textDocument/publishDiagnostics");
        if params["version"] == version {
            let codes: Vec<&str> = params["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
            let expected: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
            assert_eq!(codes, expected);
            break;
        }
    }
    // the whole spec is typed over again, in steps, with requests along the way
    client.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 100 }, "contentChanges": [{ "text": "" }] }));
    let mut version = 100;
    type_in(&mut client, &uri, "", 0, &spec, 7, &mut version);
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn every_position_is_answered_even_out_of_range() {
    let (mut client, _) = Client::start();
    let text = "/* é😀 */ api x { version = todo(\"v\"); }\nint f(int *p) {\n    argument(p) { in; bufer(\n}\n\tstruct 😀 {";
    let uri = uri("positions.lapis");
    client.open(&uri, text);
    let lines = text.lines().count() as u32;
    for line in 0..lines + 2 {
        for character in 0..50 {
            ask_everything(&mut client, &uri, line, character);
        }
    }
    ask_everything(&mut client, &uri, u32::MAX, u32::MAX);
    let formatting = client
        .call("textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } }));
    assert_eq!(formatting, Value::Null, "refused: the text has syntax errors");
    // a change whose range is past the end, or reversed, is clamped, not refused
    client.edit(&uri, 2, (99, 0), (99, 5), "x");
    client.edit(&uri, 3, (1, 9), (0, 2), "y");
    ask_everything(&mut client, &uri, 0, 0);
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn mutated_specs_are_answered() {
    // a fixed pseudo-random sequence (no dependency, same run every time)
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound.max(1) as u64) as usize
    };
    let (mut client, _) = Client::start();
    let spec = repo_file("tests/specs/every_descriptor.lapis");
    let uri = uri("mutated.lapis");
    client.open(&uri, &spec);
    let lines = spec.lines().count();
    let pieces = ["{", "}", "(", ")", ";", "->", "argument(", "buffer(", "é", "😀", "\n", "\"", "/*", "todo(\"x\");", ""];
    for version in 2..300 {
        // replace a random short range with a random piece of LAPIS (or nothing)
        let (line, character) = (next(lines + 2) as u32, next(60) as u32);
        let end = (line + next(2) as u32, character + next(8) as u32);
        client.edit(&uri, version, (line, character), end, pieces[next(pieces.len())]);
        ask_everything(&mut client, &uri, next(lines + 2) as u32, next(60) as u32);
    }
    client.shutdown().expect("a clean shutdown");
}
