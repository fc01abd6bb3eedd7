//! Hover, go to definition, completion and document symbols on the
//! repository's real specs, asked for exactly as an editor asks.

mod support;

use lapis_parser::descriptors;
use serde_json::{json, Value};
use support::{at, find, repo_file, uri, Client};

const CUDA: &str = "specs/cuda_figure_4_4.lapis";
const EVERY: &str = "tests/specs/every_descriptor.lapis";

/// A server with one spec open, its diagnostics read.
fn open(path: &str) -> (Client, String, String) {
    let (mut client, _) = Client::start();
    let text = repo_file(path);
    let uri = uri(path);
    client.open(&uri, &text);
    assert!(client.diagnostics(&uri).is_empty(), "{path} checks clean");
    (client, text, uri)
}

fn hover_text(client: &mut Client, uri: &str, (line, character): (u32, u32)) -> String {
    let hover = client.call("textDocument/hover", at(uri, line, character));
    assert_eq!(hover["contents"]["kind"], "markdown", "{hover}");
    hover["contents"]["value"].as_str().expect("hover text").to_string()
}

/// The (line, character) a definition request lands on.
fn definition(client: &mut Client, uri: &str, (line, character): (u32, u32)) -> (u32, u32) {
    let location = client.call("textDocument/definition", at(uri, line, character));
    assert_eq!(location["uri"], uri, "{location}");
    let start = &location["range"]["start"];
    (start["line"].as_u64().unwrap() as u32, start["character"].as_u64().unwrap() as u32)
}

#[test]
fn hover_shows_the_catalog_for_language_words() {
    let (mut client, text, uri) = open(CUDA);
    let buffer = descriptors::lookup("buffer").unwrap();
    let shown = hover_text(&mut client, &uri, find(&text, "buffer(size)", 0, 2));
    assert_eq!(
        shown,
        format!(
            "```lapis\n{}\n```\n{}\n\n*Stands in a value scope: `argument`, `element`, `return_value`, `field`, `type`, `default`.*",
            buffer.syntax, buffer.summary
        )
    );
    let shown = hover_text(&mut client, &uri, find(&text, "async;", 0, 0));
    assert!(shown.contains(descriptors::lookup("async").unwrap().summary) && shown.contains("Stands in a function's body."), "{shown}");
    let shown = hover_text(&mut client, &uri, find(&text, "argument(src)", 0, 3));
    assert!(shown.starts_with("```lapis\nargument(x) { ... }\n```\nDescribes the argument `x`"), "{shown}");
    let shown = hover_text(&mut client, &uri, find(&text, "element {", 0, 1));
    assert!(shown.contains("`index` is the element's position"), "{shown}");
    let shown = hover_text(&mut client, &uri, find(&text, "register_buf(", 0, 0));
    assert_eq!(
        shown,
        "```lapis\nregister_buf(registry, key, buf, size)\n```\nremember `buf` of `size` elements under `key` (library function)"
    );
    let shown = hover_text(&mut client, &uri, find(&text, "index]", 0, 0));
    assert!(shown.contains("position of the element"), "{shown}");
    let shown = hover_text(&mut client, &uri, find(&text, "continuous_rc", 0, 0));
    assert!(shown.contains("continuous_rc name;"), "{shown}");
    // nothing to say about punctuation or blank space
    assert_eq!(client.call("textDocument/hover", at(&uri, 0, 0)), Value::Null, "inside a comment");
    assert_eq!(client.call("textDocument/hover", at(&uri, 5, 9)), Value::Null, "after `api cuda`");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn hover_shows_the_declaration_of_user_names() {
    let (mut client, text, uri) = open(CUDA);
    let shown = hover_text(&mut client, &uri, find(&text, "CUresult cuMemAlloc", 0, 1));
    assert_eq!(shown, "```lapis\ntypedef enum cudaError_enum CUresult;\n```\ntype");
    let shown = hover_text(&mut client, &uri, find(&text, "buffer(size)", 0, 8));
    assert_eq!(shown, "```lapis\nsize_t size\n```\nparameter of `cuMemcpyHtoDAsync`");
    let shown = hover_text(&mut client, &uri, find(&text, "success(CUDA_SUCCESS)", 0, 10));
    assert_eq!(shown, "```lapis\nCUDA_SUCCESS = 0\n```\nenum value in `enum cudaError_enum`");
    let shown = hover_text(&mut client, &uri, find(&text, "->fn_argc", 0, 3));
    assert_eq!(shown, "```lapis\nint fn_argc\n```\nfield in `struct fn_arg_info`");
    let shown = hover_text(&mut client, &uri, find(&text, "consumes_rc(kernel_invocations", 0, 14));
    assert_eq!(shown, "```lapis\ninstantaneous_rc kernel_invocations;\n```\ninstantaneous resource");
    // the comment right above a declaration documents it
    let shown = hover_text(&mut client, &uri, find(&text, "declare_metadata(struct fn_arg_info)", 0, 25));
    assert!(shown.starts_with("```lapis\nstruct fn_arg_info {\n    int fn_argc;"), "{shown}");
    assert!(shown.ends_with("struct\n\nCUfunction type information, filled when kernels are looked up"), "{shown}");
    // the hover range is the word
    let hover = client.call("textDocument/hover", at(&uri, find(&text, "CUstream stream)", 0, 0).0, 80));
    assert!(hover.is_null() || hover["range"].is_object());
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn hover_explains_a_diagnostic_where_nothing_else_applies() {
    let (mut client, _) = Client::start();
    let uri = uri("broken.lapis");
    client.open(&uri, "int f(void) { 42; }\n");
    client.diagnostics(&uri);
    let shown = hover_text(&mut client, &uri, (0, 14));
    assert!(shown.starts_with("**L0"), "{shown}");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn definition_goes_to_every_kind_of_declaration() {
    let (mut client, text, uri) = open(CUDA);
    let cases = [
        // (where the cursor is, where the declaration's name is)
        (find(&text, "register_buf(async_DtoH", 0, 14), find(&text, "buf_registry async_DtoH", 0, 13)),
        (find(&text, "consumes_rc(kernel_invocations", 0, 12), find(&text, "instantaneous_rc kernel_invocations", 0, 17)),
        (find(&text, "CUstream stream)", 0, 2), find(&text, "*CUstream;", 0, 1)),
        (find(&text, "CUresult cuMemFree", 0, 0), find(&text, "enum cudaError_enum CUresult;", 0, 20)),
        (find(&text, "type(CUdeviceptr)", 0, 6), find(&text, "CUdeviceptr;", 0, 0)),
        (find(&text, "success(CUDA_SUCCESS)", 0, 8), find(&text, "CUDA_SUCCESS = 0", 0, 0)),
        (find(&text, "failure = CUDA_ERROR_UNKNOWN", 0, 10), find(&text, "CUDA_ERROR_UNKNOWN = 999", 0, 0)),
        (find(&text, "enum cudaError_enum CUresult", 0, 6), find(&text, "enum cudaError_enum {", 0, 5)),
        // `argument(dst)` in cuMemcpyDtoHAsync is its own `dst`, not cuMemcpyHtoDAsync's
        (find(&text, "argument(dst)", 0, 9), find(&text, "void *dst", 0, 6)),
        (
            find(&text, "buffer(size);\n        lifetime", 0, 7),
            find(&text, "size_t size, CUstream stream) {\n    async;\n    success(CUDA_SUCCESS);\n    argument(dst)", 0, 7),
        ),
        (find(&text, "argument(bufs)", 0, 9), find(&text, "**bufs =", 0, 2)),
        (find(&text, "metadata(f)->fn_argc", 0, 0), find(&text, "declare_metadata(struct", 0, 17)),
        (find(&text, "metadata(f)->fn_argc", 0, 9), find(&text, "CUfunction f,", 0, 11)),
        (find(&text, "->fn_arg_is_handle", 0, 2), find(&text, "fn_arg_is_handle[64]", 0, 0)),
        (find(&text, "->fn_arg_size[index]", 0, 2), find(&text, "fn_arg_size[64]", 0, 0)),
        (find(&text, "get_n_bufs(async_DtoH, stream)", 0, 24), find(&text, "cuStreamSynchronize(CUstream stream)", 0, 29)),
    ];
    for (from, to) in cases {
        assert_eq!(definition(&mut client, &uri, from), to, "from {from:?}");
    }
    // language words have no declaration
    assert_eq!(client.call("textDocument/definition", at(&uri, find(&text, "async;", 0, 1).0, 6)), Value::Null);
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn definition_finds_callbacks_utilities_fields_and_tags() {
    let (mut client, text, uri) = open(EVERY);
    let cases = [
        (find(&text, "callback(acc_event_notify)", 0, 10), find(&text, "void acc_event_notify(", 0, 5)),
        (find(&text, "callback(acc_log_fn)", 0, 10), find(&text, "(*acc_log_fn)", 0, 2)),
        (find(&text, "obj_state_cbs(save_buffer", 0, 15), find(&text, "int save_buffer(", 0, 4)),
        (find(&text, "bytes_of(metadata", 0, 1), find(&text, "size_t bytes_of(", 0, 7)),
        (find(&text, "field(label)", 0, 7), find(&text, "const char *label;", 0, 12)),
        (find(&text, "strlen(label)", 0, 8), find(&text, "const char *label;", 0, 12)),
        (find(&text, "config->grid[0]", 0, 8), find(&text, "unsigned int grid[3]", 0, 13)),
        (find(&text, "type(struct acc_launch_config)", 0, 14), find(&text, "struct acc_launch_config {", 0, 7)),
        (find(&text, "allocates_rc(device_memory", 0, 14), find(&text, "continuous_rc device_memory", 0, 14)),
        (find(&text, "userdata(log)", 0, 9), find(&text, "acc_log_fn log,", 0, 11)),
    ];
    for (from, to) in cases {
        assert_eq!(definition(&mut client, &uri, from), to, "from {from:?}");
    }
    client.shutdown().expect("a clean shutdown");
}

fn completion_labels(client: &mut Client, uri: &str, (line, character): (u32, u32)) -> Vec<String> {
    let items = client.call("textDocument/completion", at(uri, line, character));
    items.as_array().expect("a list").iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
}

#[test]
fn completion_offers_what_may_stand_there() {
    let (mut client, text, uri) = open(CUDA);
    // a new line in cuLaunchKernel's body, typed bit by bit
    let body = find(&text, "    consumes_rc(kernel_invocations, 1);", 0, 0);
    client.edit(&uri, 2, body, body, "    \n");
    let line = (body.0, 4);
    let labels = completion_labels(&mut client, &uri, line);
    for expected in ["async", "success", "consumes_rc", "argument", "return_value", "contextual_argument", "register_buf"] {
        assert!(labels.contains(&expected.to_string()), "{expected} missing from {labels:?}");
    }
    for value_only in ["buffer", "in", "element"] {
        assert!(!labels.contains(&value_only.to_string()), "{value_only} offered in a function's body");
    }
    let typed = |client: &mut Client, version: i32, text: &str| {
        client.edit(&uri, version, (line.0, 4), (line.0, 40), text);
        completion_labels(client, &uri, (line.0, 4 + text.len() as u32))
    };
    assert_eq!(typed(&mut client, 3, "consumes_rc("), ["kernel_invocations"]);
    assert_eq!(typed(&mut client, 4, "allocates_rc(dev"), ["device_memory"]);
    assert_eq!(typed(&mut client, 5, "register_buf("), ["async_DtoH"]);
    let arguments = typed(&mut client, 6, "argument(");
    assert_eq!(arguments[..3], ["f", "gridDimX", "gridDimY"]);
    assert_eq!(arguments.len(), 11);
    let fields = typed(&mut client, 7, "success(metadata(f)->");
    assert_eq!(fields, ["fn_argc", "fn_arg_is_handle", "fn_arg_size"]);
    let value = typed(&mut client, 8, "argument(extra) { ");
    assert!(value.contains(&"buffer".to_string()) && value.contains(&"element".to_string()) && !value.contains(&"async".to_string()));
    let expression = typed(&mut client, 9, "argument(extra) { buffer(");
    for expected in ["gridDimX", "CUDA_SUCCESS", "strlen", "metadata"] {
        assert!(expression.contains(&expected.to_string()), "{expected} missing from {expression:?}");
    }
    let types = typed(&mut client, 10, "argument(extra) { type_cast(");
    assert!(types.contains(&"CUstream".to_string()) && types.contains(&"struct fn_arg_info".to_string()), "{types:?}");
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn completion_offers_api_settings_in_the_api_block() {
    let (mut client, text, uri) = open(CUDA);
    let at_line = find(&text, "    version = ", 0, 0);
    client.edit(&uri, 2, at_line, at_line, "    \n");
    let labels = completion_labels(&mut client, &uri, (at_line.0, 4));
    for key in ["version", "headers", "soname", "library", "error_type", "success", "failure", "invalid_handle"] {
        assert!(labels.contains(&key.to_string()), "{key} missing from {labels:?}");
    }
    client.shutdown().expect("a clean shutdown");
}

#[test]
fn document_symbols_outline_the_spec() {
    let (mut client, _, uri) = open(CUDA);
    let symbols = client.call("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
    let names: Vec<&str> = symbols.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "cuda",
            "enum cudaError_enum",
            "CUresult",
            "CUdeviceptr_v2",
            "CUdeviceptr",
            "CUstream",
            "CUfunction",
            "device_memory",
            "kernel_invocations",
            "policy(\"policy_kern.c\")",
            "struct fn_arg_info",
            "declare_metadata(struct fn_arg_info)",
            "async_DtoH",
            "type(CUdeviceptr)",
            "cuMemAlloc",
            "cuMemFree",
            "cuMemcpyHtoDAsync",
            "cuMemcpyDtoHAsync",
            "cuLaunchKernel",
            "cuStreamSynchronize",
        ]
    );
    let find = |name: &str| symbols.as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let api = find("cuda");
    assert_eq!(api["children"].as_array().unwrap().len(), 8, "the api settings");
    assert_eq!(find("enum cudaError_enum")["children"][0]["name"], "CUDA_SUCCESS");
    let launch = find("cuLaunchKernel");
    assert_eq!(launch["kind"], 12, "a function");
    let scopes: Vec<&Value> = launch["children"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
    assert_eq!(scopes, [&json!("argument(kernelParams)"), &json!("argument(extra)")]);
    assert_eq!(launch["children"][0]["children"][0]["name"], "element");
    let sync = find("cuStreamSynchronize");
    assert_eq!(sync["children"][0]["name"], "bufs");
    assert_eq!(sync["children"][0]["detail"], "contextual argument");
    // every selection range lies inside its range, as the protocol requires
    fn check(symbol: &Value) {
        let (r, s) = (&symbol["range"], &symbol["selectionRange"]);
        let key = |p: &Value| (p["line"].as_u64().unwrap(), p["character"].as_u64().unwrap());
        assert!(key(&r["start"]) <= key(&s["start"]) && key(&s["end"]) <= key(&r["end"]), "{symbol}");
        symbol["children"].as_array().into_iter().flatten().for_each(check);
    }
    symbols.as_array().unwrap().iter().for_each(check);
    client.shutdown().expect("a clean shutdown");
}
