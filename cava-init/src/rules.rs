//! The inference rules: what `cava init` can say about each argument from
//! its type, its name and its neighbours. Where no rule decides safely, the
//! result is a `todo` with the reason, never a guess. Each rule is listed,
//! with an example, in the book's "Lifting a header" chapter.

use crate::ctypes::{declare, param_names, Kind, Types};
use crate::model::{CType, Signature};

/// What inference says about one function.
#[derive(Debug, Default)]
pub struct Described {
    /// Lines of the descriptor block, without indentation.
    pub lines: Vec<String>,
    /// How many `todo`s the lines hold.
    pub todos: usize,
    /// `callback` declarations the function needs (for inline function-pointer types).
    pub callbacks: Vec<String>,
}

impl Described {
    fn todo(&mut self, line: String) {
        self.todos += 1;
        self.lines.push(line);
    }
}

/// Facts about the API as a whole that rules use.
#[derive(Debug)]
pub struct ApiFacts<'a> {
    pub error_type: Option<&'a CType>,
    pub success: Option<String>,
}

const COUNT_EXACT: &[&str] = &["n", "count", "num", "len", "length", "size", "cb", "nmemb", "nelems", "bytes"];
const COUNT_PREFIX: &[&str] = &["num_", "n_", "num"];
const COUNT_SUFFIX: &[&str] = &["_count", "_size", "_len", "_length", "count", "size", "len", "_bytes", "_num", "_dim", "_dims", "ndim"];
const BYTES_HINT: &[&str] = &["size", "cb", "bytes", "len", "length"];
const OUT_HINT: &[&str] = &["_ret", "ret", "out", "result", "dst", "dest", "output"];
const DESTROY_HINT: &[&str] = &["release", "destroy", "free", "delete", "dealloc", "unload", "close"];
const CREATE_HINT: &[&str] =
    &["create", "alloc", "new", "open", "clone", "link", "compile", "build", "load", "get", "init", "acquire", "register"];

fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Names that read as a count of something: `num_entries`, `count`, `cb`, `param_value_size`.
pub fn is_count_name(name: &str) -> bool {
    let n = lower(name);
    COUNT_EXACT.contains(&n.as_str())
        || COUNT_PREFIX.iter().any(|p| n.starts_with(p) && n.len() > p.len())
        || COUNT_SUFFIX.iter().any(|s| n.ends_with(s) && n.len() > s.len())
}

fn is_status_name(name: &str) -> bool {
    let n = lower(name);
    ["status", "err", "error", "errcode", "errcode_ret", "error_code", "result"].contains(&n.as_str())
        || n.ends_with("_status")
        || n.starts_with("err")
}

fn counts_bytes(name: &str) -> bool {
    let n = lower(name);
    BYTES_HINT.iter().any(|h| n.contains(h))
}

fn reads_as_output(name: &str) -> bool {
    let n = lower(name);
    OUT_HINT.iter().any(|h| n.ends_with(h) || n.starts_with(h))
}

/// Words of a C function name: `clReleaseMemObject` → release, mem, object; `z_stream_free` → z, stream, free.
fn words(function: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in function.chars() {
        if c == '_' {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else if c.is_ascii_uppercase() && !current.is_empty() && !current.chars().last().is_some_and(|l| l.is_ascii_uppercase()) {
            out.push(std::mem::take(&mut current).to_ascii_lowercase());
            current.push(c);
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter().map(|w| w.to_ascii_lowercase()).collect()
}

/// Calls whose point is to wait (or to answer): never worth making asynchronous.
fn synchronizes(function: &str) -> bool {
    words(function).iter().any(|w| ["wait", "finish", "synchronize", "sync", "query", "get"].contains(&w.as_str()))
}

pub fn destroys(function: &str) -> bool {
    words(function).iter().any(|w| DESTROY_HINT.contains(&w.as_str()))
}

fn creates(function: &str) -> bool {
    words(function).iter().any(|w| CREATE_HINT.contains(&w.as_str()))
}

/// Infers the descriptors of one function.
pub fn describe(types: &Types, function: &str, sig: &Signature, api: &ApiFacts) -> Described {
    let mut out = Described::default();
    let names = param_names(&sig.params);
    let mut handled = vec![false; sig.params.len()];
    let kinds: Vec<Kind> = sig.params.iter().map(|p| types.kind(&p.ty)).collect();

    if sig.variadic {
        out.todo(
            "todo(\"variadic: the arguments after `...` cannot be forwarded; write `unsupported(v);` or `replace_guest { ... }`\");".into(),
        );
    }
    query_triples(types, sig, &names, &mut handled, &mut out);
    callbacks(types, function, sig, &names, &mut handled, &mut out);

    let mut deallocated = false;
    for (i, param) in sig.params.iter().enumerate() {
        if handled[i] {
            continue;
        }
        let name = &names[i];
        if types.is_va_list(&param.ty) {
            out.todo(format!(
                "argument({name}) {{ todo(\"a `va_list` cannot be forwarded: write `unsupported(v);` or `replace_guest {{ ... }}`\"); }}"
            ));
            continue;
        }
        let count = adjacent_count(types, sig, &names, i);
        match kinds[i] {
            // the first object of a release/destroy/free function is the one released
            Kind::Handle if destroys(function) && !deallocated => {
                deallocated = true;
                out.lines.push(format!("argument({name}) {{ deallocate; }}"));
            }
            Kind::Pointer => pointer(types, param, name, count.map(|c| names[c].as_str()), &mut out),
            Kind::Array => {
                // an array parameter is a pointer: it needs a direction (its length is known)
                let dir = if matches!(types.resolve(&param.ty), CType::Array { element, .. } if is_const_element(element)) {
                    "in"
                } else {
                    "in; out"
                };
                out.lines.push(format!("argument({name}) {{ {dir}; }}"));
            }
            Kind::Function => {
                out.todo(format!("argument({name}) {{ todo(\"a function pointer with no `void *` user data next to it: describe it with `callback(T)` or `opaque`\"); }}"));
            }
            _ => {}
        }
    }
    return_value(types, function, sig, &mut out);
    if out.todos == 0 && !sig.variadic && returns_error_type(types, sig, api) && !copies_back(&out.lines) && !synchronizes(function) {
        if let Some(success) = &api.success {
            out.lines.insert(0, format!("// may be `async; success({success});`: it returns the error type and copies nothing back"));
        }
    }
    out
}

fn is_const_element(element: &CType) -> bool {
    matches!(element, CType::Pointer { pointee_const: true, .. })
}

fn returns_error_type(types: &Types, sig: &Signature, api: &ApiFacts) -> bool {
    api.error_type.is_some_and(|e| types.resolve(e) == types.resolve(&sig.ret) && e == &sig.ret)
}

fn copies_back(lines: &[String]) -> bool {
    lines.iter().any(|l| l.contains("out;") || l.contains("out ") || l.contains("allocate"))
}

/// The count for parameter `i`: the count right before or after it, or the
/// count that starts a run of const pointers it belongs to
/// (`cl_uint count, const char **strings, const size_t *lengths`:
/// `lengths` has `count` elements too).
fn adjacent_count(types: &Types, sig: &Signature, names: &[String], i: usize) -> Option<usize> {
    let is_count = |j: usize| types.kind(&sig.params[j].ty) == Kind::Integer && is_count_name(&names[j]);
    if i > 0 && is_count(i - 1) {
        return Some(i - 1);
    }
    if i + 1 < sig.params.len() && is_count(i + 1) {
        return Some(i + 1);
    }
    let is_const_pointer = |j: usize| types.pointee(&sig.params[j].ty).is_some_and(|(_, c)| c) && !types.is_string(&sig.params[j].ty);
    if !is_const_pointer(i) {
        return None;
    }
    let mut j = i;
    while j > 0 && is_const_pointer(j - 1) {
        j -= 1;
    }
    (j > 0 && is_count(j - 1) && !counts_bytes(&names[j - 1])).then(|| j - 1)
}

/// `(size_t param_value_size, void *param_value, size_t *param_value_size_ret)`:
/// an out buffer sized by the size argument, plus an out element for the size returned.
fn query_triples(types: &Types, sig: &Signature, names: &[String], handled: &mut [bool], out: &mut Described) {
    for i in 1..sig.params.len().saturating_sub(1) {
        let (size, value, ret) = (&sig.params[i - 1], &sig.params[i], &sig.params[i + 1]);
        let value_is_out_void = types.pointee(&value.ty).is_some_and(|(_, c)| !c) && types.is_void_pointer(&value.ty);
        let ret_is_size_ptr = types.pointee(&ret.ty).is_some_and(|(p, c)| !c && types.kind(p) == Kind::Integer);
        if types.kind(&size.ty) == Kind::Integer
            && lower(&names[i - 1]).ends_with("size")
            && value_is_out_void
            && ret_is_size_ptr
            && lower(&names[i + 1]).ends_with("_ret")
        {
            out.lines.push(format!("argument({}) {{ out; buffer({}); }}", names[i], names[i - 1]));
            out.lines.push(format!("argument({}) {{ out; buffer(1); }}", names[i + 1]));
            handled[i] = true;
            handled[i + 1] = true;
        }
    }
}

/// A function pointer next to a `void *`: a callback with its user data.
fn callbacks(types: &Types, function: &str, sig: &Signature, names: &[String], handled: &mut [bool], out: &mut Described) {
    for i in 0..sig.params.len() {
        if !types.is_function_pointer(&sig.params[i].ty) {
            continue;
        }
        let userdata = [i + 1, i.wrapping_sub(1)].into_iter().find(|&j| {
            j < sig.params.len()
                && !handled[j]
                && types.is_void_pointer(&sig.params[j].ty)
                && types.pointee(&sig.params[j].ty).is_some_and(|(_, c)| !c)
        });
        let Some(j) = userdata else { continue };
        let callback = match &sig.params[i].ty {
            CType::Typedef(name) => name.clone(),
            inline => {
                // an inline function-pointer type gets a `callback` declaration of its own
                let name = format!("{function}_{}", names[i]);
                let Some((pointee, _)) = types.pointee(inline) else { continue };
                let CType::Function(signature) = types.resolve(pointee) else { continue };
                out.callbacks.push(callback_declaration(types, &name, signature));
                name
            }
        };
        out.lines.push(format!("argument({}) {{ callback({callback}); }}", names[i]));
        out.lines.push(format!("argument({}) {{ userdata; }}", names[j]));
        handled[i] = true;
        handled[j] = true;
    }
}

/// `callback ret name(params) { ... }` for a function type, its parameters
/// described by the same rules as a function's.
pub fn callback_declaration(types: &Types, name: &str, sig: &Signature) -> String {
    let mut sig = sig.clone();
    let names = param_names(&sig.params);
    for (p, n) in sig.params.iter_mut().zip(&names) {
        p.name = Some(n.clone());
    }
    let mut described = describe(types, name, &sig, &ApiFacts { error_type: None, success: None });
    // the pointer the API hands back is the user data the guest registered
    if let Some(last_void) = (0..sig.params.len()).rev().find(|&k| types.is_void_pointer(&sig.params[k].ty)) {
        let prefix = format!("argument({}) ", names[last_void]);
        described.lines.retain(|l| !l.starts_with(&prefix));
        described.lines.push(format!("argument({}) {{ userdata; }}", names[last_void]));
    }
    let header = declare(&CType::Function(Box::new(sig.clone())), name);
    if described.lines.is_empty() {
        format!("callback {header};")
    } else {
        format!("callback {header} {{\n{}\n}}", described.lines.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"))
    }
}

fn pointer(types: &Types, param: &crate::model::Param, name: &str, count: Option<&str>, out: &mut Described) {
    let Some((pointee, pointee_const)) = types.pointee(&param.ty) else { return };
    if types.is_function_pointer(&param.ty) {
        out.todo(format!(
            "argument({name}) {{ todo(\"a function pointer with no `void *` user data next to it: describe it with `callback(T)`, or `opaque` if the API never calls it\"); }}"
        ));
        return;
    }
    let pointee_kind = types.kind(pointee);
    if types.is_string(&param.ty) {
        return; // `default(string)` describes it
    }
    if pointee_kind == Kind::Handle {
        // a pointer to handles: read when const, filled (new objects) when not
        // a list of handles is counted in handles, not bytes (`size_t size, cl_mem *mem` is one handle)
        let size = count.filter(|c| !counts_bytes(c)).unwrap_or("1");
        if pointee_const {
            out.lines.push(format!("argument({name}) {{ in; buffer({size}); }}"));
        } else {
            // the function fills it: each element is a new entry in the handle table
            out.lines.push(format!("argument({name}) {{ out; buffer({size}); element {{ allocate; }} }}"));
        }
        return;
    }
    // `cl_int *errcode_ret`, `acc_status *status`: one status value the call writes
    if !pointee_const && pointee_kind == Kind::Integer && is_status_name(name) {
        out.lines.push(format!("argument({name}) {{ out; buffer(1); }}"));
        return;
    }
    let direction = if pointee_const {
        "in"
    } else if reads_as_output(name) {
        "out"
    } else {
        "in; out"
    };
    match count {
        Some(count) => {
            if counts_bytes(count) && !types.is_byte_sized(pointee) {
                out.todo(format!(
                    "argument({name}) {{ {direction}; todo(\"`{count}` may count bytes, not elements of `{}`: write `buffer({count} / sizeof(...))` or `buffer({count})`\"); }}",
                    declare(pointee, "")
                ));
            } else if needs_element_description(types, pointee) {
                out.todo(format!(
                    "argument({name}) {{ {direction}; buffer({count}); element {{ todo(\"each element is a `{}`: what does it point to?\"); }} }}",
                    declare(pointee, "")
                ));
            } else {
                out.lines.push(format!("argument({name}) {{ {direction}; buffer({count}); }}"));
            }
        }
        // `const cl_context_properties *properties`: a zero-terminated list of key/value pairs
        None if pointee_const && pointee_kind == Kind::Integer && lower(name).ends_with("properties") => {
            out.lines.push(format!("argument({name}) {{ in; buffer({name} == 0 ? 0 : terminated_len({name})); }}"));
        }
        None => match pointee_kind {
            // one struct, or one scalar the function writes (`cl_int *errcode_ret`)
            Kind::Record => out.lines.push(format!("argument({name}) {{ {direction}; buffer(1); }}")),
            Kind::Integer | Kind::Float if !pointee_const => out.lines.push(format!("argument({name}) {{ {direction}; buffer(1); }}")),
            _ => out.todo(format!(
                "argument({name}) {{ todo(\"direction and size of `{}`: one value, or an array of how many?\"); }}",
                declare(&param.ty, name)
            )),
        },
    }
}

/// An element that is itself a pointer must be described too (strings,
/// handles and function pointers describe themselves).
fn needs_element_description(types: &Types, element: &CType) -> bool {
    types.kind(element) == Kind::Pointer && !types.is_string(element) && !types.is_function_pointer(element)
}

fn return_value(types: &Types, function: &str, sig: &Signature, out: &mut Described) {
    match types.kind(&sig.ret) {
        Kind::Handle if creates(function) => out.lines.push("return_value { allocate; }".into()),
        Kind::Pointer if types.is_string(&sig.ret) => {}
        Kind::Pointer => {
            out.todo(format!("return_value {{ todo(\"`{function}` returns a `{}`: what does it point to?\"); }}", declare(&sig.ret, "")))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_count_name("num_entries") && is_count_name("cb") && is_count_name("param_value_size") && is_count_name("count"));
        assert!(is_count_name("work_dim"));
        assert!(!is_count_name("context") && !is_count_name("platform"));
        assert!(destroys("clReleaseMemObject") && destroys("cuMemFree") && !destroys("deflateEnd"));
        assert!(creates("clCreateBuffer") && creates("cuMemAlloc") && !creates("clFinish"));
        assert_eq!(words("clGetPlatformIDs"), ["cl", "get", "platform", "ids"]);
        assert_eq!(words("z_stream_free"), ["z", "stream", "free"]);
    }
}
