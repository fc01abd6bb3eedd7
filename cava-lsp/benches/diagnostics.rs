//! How long an editor waits for diagnostics after a one-character edit in a
//! 2,000-line spec: the whole round trip through the server over an
//! in-memory connection (the change as JSON, the splice, the full check,
//! the conversion, the published diagnostics as JSON), and for comparison
//! the check alone. The goal is under 50 ms; `analysis.rs` and the book's
//! "Editors" chapter record the figures and what they decided.
//!
//! Run: `cargo bench -p cava-lsp --bench diagnostics` (release), or with
//! `--profile dev` for a debug build.

use criterion::{criterion_group, criterion_main, Criterion};
use lsp_server::{Connection, Message, Notification};
use serde_json::{json, Value};

// the generator of `lapis-parser`'s checking benchmark: a spec in the shapes of a real API
include!("../../lapis-parser/benches/gen.rs");

const LINES: usize = 2000;

/// The generated spec with at least `LINES` lines.
fn spec() -> String {
    (400..).map(generated_spec).find(|s| s.lines().count() >= LINES).expect("some size has enough lines")
}

struct Editor {
    connection: Connection,
    version: i32,
}

impl Editor {
    fn send(&self, method: &str, params: Value) {
        self.connection.sender.send(Notification::new(method.to_string(), params).into()).expect("server is listening");
    }

    fn request(&self, id: i32, method: &str, params: Value) {
        let request = lsp_server::Request::new(id.into(), method.to_string(), params);
        self.connection.sender.send(request.into()).expect("server is listening");
        loop {
            if let Message::Response(_) = self.connection.receiver.recv().expect("server answers") {
                return;
            }
        }
    }

    /// Waits for the diagnostics of the current version; returns how many there are.
    fn diagnostics(&self) -> usize {
        loop {
            if let Message::Notification(n) = self.connection.receiver.recv().expect("server publishes") {
                if n.method == "textDocument/publishDiagnostics" && n.params["version"] == self.version {
                    return n.params["diagnostics"].as_array().map_or(0, Vec::len);
                }
            }
        }
    }

    /// One character typed at `(line, character)` or deleted after it, and its diagnostics.
    fn edit(&mut self, line: u32, character: u32, insert: bool) -> usize {
        self.version += 1;
        let end = if insert { character } else { character + 1 };
        let change = json!({
            "range": { "start": { "line": line, "character": character }, "end": { "line": line, "character": end } },
            "text": if insert { "x" } else { "" },
        });
        self.send(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": "file:///bench.lapis", "version": self.version }, "contentChanges": [change] }),
        );
        self.diagnostics()
    }
}

fn bench(c: &mut Criterion) {
    let spec = spec();
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || cava_lsp::serve(server));
    let mut editor = Editor { connection: client, version: 1 };
    editor.request(1, "initialize", json!({ "capabilities": {} }));
    editor.send("initialized", json!({}));
    editor.send(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": "file:///bench.lapis", "languageId": "lapis", "version": 1, "text": spec } }),
    );
    assert_eq!(editor.diagnostics(), 0, "the generated spec is valid");
    // in the middle of the spec, inside a descriptor's name: `buffer` becomes `bxuffer` and back
    let line = spec.lines().enumerate().skip(LINES / 2).find(|(_, l)| l.contains("buffer(")).map(|(i, _)| i).expect("a buffer") as u32;
    let character = spec.lines().nth(line as usize).unwrap().find("buffer(").unwrap() as u32 + 1;
    assert_eq!(editor.edit(line, character, true), 1, "the misspelt descriptor");
    assert_eq!(editor.edit(line, character, false), 0);

    let mut group = c.benchmark_group("lsp");
    group.sample_size(30);
    let mut insert = true;
    group.bench_function("diagnostics after a one-character edit, 2000 lines", |b| {
        b.iter(|| {
            editor.edit(line, character, insert);
            insert = !insert;
        })
    });
    group.bench_function("check_source alone, 2000 lines", |b| b.iter(|| lapis_parser::check_source(&spec)));
    group.finish();

    editor.request(2, "shutdown", Value::Null);
    editor.send("exit", Value::Null);
    thread.join().expect("server thread").expect("clean shutdown");
}

criterion_group!(benches, bench);
criterion_main!(benches);
