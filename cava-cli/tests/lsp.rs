//! `cava lsp` as an editor starts it: JSON-RPC over standard input and
//! output, with `Content-Length` framing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Reads one framed message.
fn read(reader: &mut impl BufRead) -> Value {
    let mut length = None;
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).expect("readable") > 0, "the server closed its output");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = Some(n.parse::<usize>().expect("a length"));
        }
    }
    let mut body = vec![0; length.expect("a Content-Length header")];
    reader.read_exact(&mut body).expect("the whole body");
    serde_json::from_slice(&body).expect("JSON")
}

#[test]
fn lsp_serves_an_editor_over_stdio() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cava"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cava runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));

    let uri = "file:///tmp/broken.lapis";
    for message in [
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } }),
        json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }),
        json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": { "textDocument": {
            "uri": uri, "languageId": "lapis", "version": 1, "text": "int f(void) { asynch; }\n" } } }),
    ] {
        stdin.write_all(&frame(&message)).expect("writable");
    }
    stdin.flush().expect("flushed");
    let initialized = read(&mut stdout);
    assert_eq!(initialized["id"], 1);
    assert_eq!(initialized["result"]["serverInfo"]["name"], "cava-lsp");
    let published = read(&mut stdout);
    assert_eq!(published["method"], "textDocument/publishDiagnostics");
    let codes: Vec<&Value> = published["params"]["diagnostics"].as_array().unwrap().iter().map(|d| &d["code"]).collect();
    assert_eq!(codes, [&json!("L0508"), &json!("L0301")]);

    stdin.write_all(&frame(&json!({ "jsonrpc": "2.0", "id": 2, "method": "shutdown" }))).expect("writable");
    stdin.write_all(&frame(&json!({ "jsonrpc": "2.0", "method": "exit" }))).expect("writable");
    stdin.flush().expect("flushed");
    let shutdown = read(&mut stdout);
    assert_eq!(shutdown["id"], 2);
    assert_eq!(shutdown["result"], Value::Null);
    let status = child.wait().expect("cava exits");
    assert!(status.success(), "exit after shutdown is a clean exit: {status}");
}

#[test]
fn lsp_exit_without_shutdown_fails_as_the_protocol_asks() {
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_cava")).arg("lsp").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("cava runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(&frame(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } })))
        .expect("writable");
    stdin.write_all(&frame(&json!({ "jsonrpc": "2.0", "method": "exit" }))).expect("writable");
    drop(stdin);
    assert_eq!(child.wait().expect("cava exits").code(), Some(1));
}
