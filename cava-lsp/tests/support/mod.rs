//! An editor, in the tests: it drives `cava_lsp::serve` over an in-memory
//! connection with the JSON-RPC messages a real editor sends, and reads the
//! answers back as JSON.

#![allow(dead_code)] // each test file uses a different part of the client

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId, ResponseError};
use serde_json::{json, Value};

/// Long enough for a debug build on a loaded machine, short enough that a hung server fails the test.
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Client {
    connection: Connection,
    server: Option<JoinHandle<Result<(), cava_lsp::Error>>>,
    next_id: i32,
    /// Notifications that arrived while waiting for a response.
    notifications: VecDeque<Notification>,
}

pub fn repo_file(path: &str) -> String {
    let full: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

pub fn uri(name: &str) -> String {
    format!("file:///work/{name}")
}

impl Client {
    /// A server, before `initialize`.
    pub fn connect() -> Client {
        let (server, client) = Connection::memory();
        let handle = std::thread::spawn(move || cava_lsp::serve(server));
        Client { connection: client, server: Some(handle), next_id: 0, notifications: VecDeque::new() }
    }

    /// A server after the handshake; returns the `initialize` result too.
    pub fn start() -> (Client, Value) {
        let mut client = Client::connect();
        let result = client.request("initialize", json!({ "capabilities": {}, "processId": null, "rootUri": null }));
        let result = result.expect("initialize succeeds");
        client.notify("initialized", json!({}));
        (client, result)
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.connection.sender.send(Notification::new(method.to_string(), params).into()).expect("server is listening");
    }

    /// Sends a request and waits for its response, keeping notifications for later.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, ResponseError> {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let request = Request { id: id.clone(), method: method.to_string(), params };
        self.connection.sender.send(request.into()).expect("server is listening");
        loop {
            match self.connection.receiver.recv_timeout(TIMEOUT).unwrap_or_else(|e| panic!("no answer to `{method}`: {e}")) {
                Message::Response(response) if response.id == id => return response.response_result,
                Message::Response(other) => panic!("response to another request: {other:?}"),
                Message::Notification(n) => self.notifications.push_back(n),
                Message::Request(r) => panic!("the server sent a request: {r:?}"),
            }
        }
    }

    /// The result of a request that must succeed.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.request(method, params).unwrap_or_else(|error| panic!("`{method}` failed: {error:?}"))
    }

    /// The next notification with this method.
    pub fn notification(&mut self, method: &str) -> Value {
        if let Some(i) = self.notifications.iter().position(|n| n.method == method) {
            return self.notifications.remove(i).expect("found").params;
        }
        loop {
            match self.connection.receiver.recv_timeout(TIMEOUT).unwrap_or_else(|e| panic!("no `{method}` notification: {e}")) {
                Message::Notification(n) if n.method == method => return n.params,
                Message::Notification(n) => self.notifications.push_back(n),
                other => panic!("unexpected message while waiting for `{method}`: {other:?}"),
            }
        }
    }

    /// The next diagnostics published for `uri`.
    pub fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let params = self.notification("textDocument/publishDiagnostics");
            if params["uri"] == uri {
                return params["diagnostics"].as_array().cloned().unwrap_or_default();
            }
        }
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "lapis", "version": 1, "text": text } }));
    }

    /// Replaces `range` ((line, character) to (line, character)) with `text`.
    pub fn edit(&mut self, uri: &str, version: i32, start: (u32, u32), end: (u32, u32), text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{ "range": range(start, end), "text": text }],
            }),
        );
    }

    /// Sends `shutdown` and `exit`, and returns how the server ended.
    pub fn shutdown(mut self) -> Result<(), cava_lsp::Error> {
        self.call("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.join()
    }

    /// Drops the connection, as a crashed editor does, and returns how the server ended.
    pub fn disconnect(self) -> Result<(), cava_lsp::Error> {
        let Client { connection, server, .. } = self;
        drop(connection);
        server.expect("running").join().expect("the server thread does not panic")
    }

    /// Waits for the server thread to end.
    pub fn join(mut self) -> Result<(), cava_lsp::Error> {
        self.server.take().expect("running").join().expect("the server thread does not panic")
    }
}

pub fn range(start: (u32, u32), end: (u32, u32)) -> Value {
    json!({ "start": { "line": start.0, "character": start.1 }, "end": { "line": end.0, "character": end.1 } })
}

pub fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } })
}

/// The (line, character) of the `n`th occurrence (from 0) of `needle` in
/// `text`, plus `skip` characters, in UTF-16 units as LSP counts them.
pub fn find(text: &str, needle: &str, n: usize, skip: usize) -> (u32, u32) {
    let offset = text.match_indices(needle).nth(n).unwrap_or_else(|| panic!("`{needle}` #{n} not in the text")).0;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..offset].matches('\n').count();
    let character: usize = text[line_start..offset].chars().map(char::len_utf16).sum::<usize>() + skip;
    (line as u32, character as u32)
}
