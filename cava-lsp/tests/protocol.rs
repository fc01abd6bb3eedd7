//! The protocol around the features: the handshake, errors for what the
//! server does not do, and the end of a session.

mod support;

use serde_json::{json, Value};
use support::{at, uri, Client};

#[test]
fn initialize_announces_what_the_server_does() {
    let (client, result) = Client::start();
    let caps = &result["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(caps["textDocumentSync"]["openClose"], true);
    assert_eq!(caps["textDocumentSync"]["save"]["includeText"], false);
    for provider in ["hoverProvider", "definitionProvider", "documentSymbolProvider", "documentFormattingProvider"] {
        assert_eq!(caps[provider], true, "{provider}");
    }
    assert_eq!(caps["completionProvider"]["triggerCharacters"], json!(["(", ".", ">"]));
    assert_eq!(caps["codeActionProvider"]["codeActionKinds"], json!(["quickfix"]));
    assert_eq!(result["serverInfo"]["name"], "cava-lsp");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn requests_before_initialize_are_refused() {
    let mut client = Client::connect();
    let response = client.request("textDocument/hover", at(&uri("a.lapis"), 0, 0));
    assert_eq!(response.expect_err("an error").code, -32002, "ServerNotInitialized");
    // notifications before initialize are dropped, and the handshake still works
    client.open(&uri("a.lapis"), "api x {}");
    let response = client.request("initialize", json!({ "capabilities": {} }));
    assert!(response.is_ok());
    client.notify("initialized", json!({}));
    assert_eq!(client.call("textDocument/hover", at(&uri("a.lapis"), 0, 0)), Value::Null, "the early didOpen was dropped");
    let again = client.request("initialize", json!({ "capabilities": {} }));
    assert_eq!(again.expect_err("an error").code, -32600, "InvalidRequest");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn unknown_methods_and_bad_parameters_get_errors() {
    let (mut client, _) = Client::start();
    let response = client.request("textDocument/references", at(&uri("a.lapis"), 0, 0));
    assert_eq!(response.expect_err("an error").code, -32601, "MethodNotFound");
    let response = client.request("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(response.expect_err("an error").code, -32602, "InvalidParams");
    // a document the editor never opened: no answer, no error
    assert_eq!(client.call("textDocument/hover", at(&uri("never-opened.lapis"), 0, 0)), Value::Null);
    // notifications the server does not know are ignored
    client.notify("$/setTrace", json!({ "value": "off" }));
    client.notify("workspace/didChangeConfiguration", json!({ "settings": {} }));
    client.notify("textDocument/didChange", json!({ "garbage": 1 }));
    let log = client.notification("window/logMessage");
    assert!(log["message"].as_str().unwrap().contains("textDocument/didChange"), "{log}");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn after_shutdown_only_exit_is_accepted() {
    let (mut client, _) = Client::start();
    client.call("shutdown", Value::Null);
    let response = client.request("textDocument/hover", at(&uri("a.lapis"), 0, 0));
    assert_eq!(response.expect_err("an error").code, -32600, "InvalidRequest");
    client.notify("exit", Value::Null);
    client.join().expect("exit after shutdown ends the server cleanly");
}

#[test]
fn exit_without_shutdown_is_an_error() {
    let (mut client, _) = Client::start();
    client.notify("exit", Value::Null);
    assert!(matches!(client.join(), Err(cava_lsp::Error::ExitWithoutShutdown)));
}

#[test]
fn a_vanished_editor_ends_the_server() {
    let (client, _) = Client::start();
    assert!(matches!(client.disconnect(), Err(cava_lsp::Error::Disconnected)));
}
