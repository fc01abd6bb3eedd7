//! Formatting and code actions: requested, then applied the way an editor
//! applies them (as a `didChange`), then checked by the diagnostics that follow.

mod support;

use serde_json::{json, Value};
use support::{find, repo_file, uri, Client};

/// Sends the edits of an action's workspace edit for `uri` back as a change.
fn apply(client: &mut Client, uri: &str, version: i32, action: &Value) {
    let edits = action["edit"]["changes"][uri].as_array().expect("edits for the document").clone();
    let changes: Vec<Value> = edits.iter().rev().map(|e| json!({ "range": e["range"], "text": e["newText"] })).collect();
    client.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": changes }));
}

fn code_actions(client: &mut Client, uri: &str, diagnostic: &Value, context: Vec<Value>) -> Vec<Value> {
    let params = json!({
        "textDocument": { "uri": uri },
        "range": diagnostic["range"],
        "context": { "diagnostics": context },
    });
    client.call("textDocument/codeAction", params).as_array().expect("a list").clone()
}

#[test]
fn formatting_rewrites_the_whole_text_or_nothing() {
    let (mut client, _) = Client::start();
    let formatted = repo_file("specs/cuda_figure_4_4.lapis");
    let messy = formatted.replace("    ", "  ").replace("; ", ";   ");
    let uri = uri("messy.lapis");
    client.open(&uri, &messy);
    let edits = client
        .call("textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } }));
    let edits = edits.as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["newText"], lapis_parser::fmt::format_source(&messy).unwrap());
    assert_eq!(edits[0]["range"]["start"], json!({ "line": 0, "character": 0 }));
    let lines = messy.lines().count() as u32;
    assert_eq!(edits[0]["range"]["end"], json!({ "line": lines, "character": 0 }), "the end of the text");
    // once formatted, nothing to do
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": edits[0]["newText"] }] }),
    );
    let again = client
        .call("textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } }));
    assert_eq!(again, json!([]));
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn formatting_refuses_a_spec_with_syntax_errors_and_says_why() {
    let (mut client, _) = Client::start();
    let uri = uri("broken.lapis");
    client.open(&uri, "continuous_rc mem\nint f(void) { async; }\n");
    let result = client
        .call("textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } }));
    assert_eq!(result, Value::Null, "no edits");
    let message = client.notification("window/showMessage");
    assert_eq!(message["type"], 2, "a warning");
    let text = message["message"].as_str().unwrap();
    assert!(text.starts_with("cava: not formatting: the spec has syntax errors (the first, line 1: expected `;`"), "{text}");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn fixes_become_quick_fixes() {
    let (mut client, _) = Client::start();
    let text = repo_file("tests/ui/did_you_mean_suggestions.lapis");
    let uri = uri("suggestions.lapis");
    client.open(&uri, &text);
    let published = client.diagnostics(&uri);
    let bufer = published.iter().find(|d| d["code"] == "L0301").expect("the misspelt descriptor").clone();
    let actions = code_actions(&mut client, &uri, &bufer, vec![bufer.clone()]);
    assert_eq!(actions.len(), 1);
    let action = &actions[0];
    assert_eq!(action["title"], "use `buffer`");
    assert_eq!(action["kind"], "quickfix");
    assert_eq!(action["isPreferred"], true);
    assert_eq!(action["diagnostics"][0], bufer);
    apply(&mut client, &uri, 2, action);
    let after = client.diagnostics(&uri);
    assert_eq!(after.len(), published.len() - 1);
    assert!(!after.iter().any(|d| d["message"].as_str().unwrap().contains("bufer")));

    // an editor that sends no diagnostics back still gets the fixes in the range
    let evnt = after.iter().find(|d| d["code"] == "L0203").expect("the misspelt argument").clone();
    let actions = code_actions(&mut client, &uri, &evnt, Vec::new());
    let titles: Vec<&Value> = actions.iter().map(|a| &a["title"]).collect();
    assert_eq!(titles, [&json!("use `event`")]);
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn a_missing_semicolon_is_one_action_away() {
    let (mut client, _) = Client::start();
    let text = repo_file("tests/ui/L0104_missing_semicolon.lapis");
    let uri = uri("semicolon.lapis");
    client.open(&uri, &text);
    let published = client.diagnostics(&uri);
    let actions = code_actions(&mut client, &uri, &published[0], published.clone());
    assert_eq!(actions[0]["edit"]["changes"][&uri][0]["newText"], ";");
    apply(&mut client, &uri, 2, &actions[0]);
    assert!(client.diagnostics(&uri).is_empty(), "the spec checks clean once the `;` is in");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn a_todo_can_be_replaced_by_its_proposal_or_a_skeleton() {
    let (mut client, _) = Client::start();
    let text = repo_file("tests/ui/L0506_todo_left.lapis");
    let uri = uri("todo.lapis");
    client.open(&uri, &text);
    let published = client.diagnostics(&uri);
    assert_eq!(published.len(), 1);
    let todo = published[0].clone();
    assert_eq!(todo["code"], "L0506");
    let actions = code_actions(&mut client, &uri, &todo, vec![todo.clone()]);
    let titles: Vec<&str> = actions.iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Replace the `todo` with `out; buffer(param_value_size);`",
            "Describe as an input buffer",
            "Describe as an output buffer",
            "Describe as a handle",
            "Describe as a value copied as it is",
        ]
    );
    // the edits replace the whole `todo("...");` statement
    let start = find(&text, "todo(", 0, 0);
    assert_eq!(actions[0]["edit"]["changes"][&uri][0]["range"]["start"], json!({ "line": start.0, "character": start.1 }));
    // a skeleton keeps a hole, an error until it is filled
    apply(&mut client, &uri, 2, &actions[2]);
    let with_hole = client.diagnostics(&uri);
    assert_eq!(with_hole.len(), 1);
    assert_eq!(with_hole[0]["code"], "L0305", "{with_hole:?}");
    assert!(with_hole[0]["message"].as_str().unwrap().starts_with("wrong arguments for `buffer`"));
    // the proposal from the reason checks clean
    client.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [{ "text": text }] }));
    client.diagnostics(&uri);
    apply(&mut client, &uri, 4, &actions[0]);
    assert!(client.diagnostics(&uri).is_empty());
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn a_todo_in_the_api_block_or_a_function_body_gets_its_own_skeleton() {
    let (mut client, _) = Client::start();
    let text =
        "api x {\n    version = todo(\"which version?\");\n}\nint f(int a, ...) {\n    todo(\"variadic: write `unsupported(v);`\");\n}\n";
    let uri = uri("todos.lapis");
    client.open(&uri, text);
    let todos: Vec<Value> = client.diagnostics(&uri).into_iter().filter(|d| d["code"] == "L0506").collect();
    assert_eq!(todos.len(), 2);
    let api = code_actions(&mut client, &uri, &todos[0], vec![todos[0].clone()]);
    assert_eq!(api.len(), 1);
    assert_eq!(api[0]["edit"]["changes"][&uri][0]["newText"], "version = /* value */;");
    let body = code_actions(&mut client, &uri, &todos[1], vec![todos[1].clone()]);
    let replacements: Vec<&Value> = body.iter().map(|a| &a["edit"]["changes"][&uri][0]["newText"]).collect();
    assert_eq!(replacements, [&json!("unsupported(v);"), &json!("unsupported(/* error value */);")]);
    client.shutdown().expect("a clean shutdown");
}
