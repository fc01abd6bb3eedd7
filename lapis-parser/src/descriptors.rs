//! The catalog of descriptors: what each takes, where it may stand, and its
//! one-line documentation. The parser (argument kinds), the checker
//! (placement, "did you mean"), `cava lsp` (hover, completion) and the book's
//! reference all read this one table.

/// What a descriptor's parentheses hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Args {
    /// Written bare: `in;`
    None,
    /// One expression: `buffer(n)`.
    Expr,
    /// Optionally one expression: `userdata` or `userdata(cb)`.
    OptionalExpr,
    /// Two expressions: `obj_state_cbs(write, read)`, `consumes_rc(r, n)`.
    TwoExprs,
    /// One expression, optionally a second: `release_at_exit(obj, times)`.
    OneOrTwoExprs,
    /// One type: `type_cast(T)`, `callback(T)`.
    Type,
    /// One string: `todo("reason")`.
    Str,
}

/// Where a descriptor may stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In a function's body (including its `if` blocks).
    Function,
    /// In a value scope: `argument`, `element`, `return_value`, `field`, `type`, `default`.
    Value,
    /// Anywhere a descriptor may stand.
    Anywhere,
}

#[derive(Clone, Copy, Debug)]
pub struct DescriptorInfo {
    pub name: &'static str,
    pub args: Args,
    pub place: Place,
    /// How it is written, for help text and completion.
    pub syntax: &'static str,
    pub summary: &'static str,
}

macro_rules! descriptors {
    ($( $name:literal, $args:ident, $place:ident, $syntax:literal, $summary:literal; )*) => {
        pub const DESCRIPTORS: &[DescriptorInfo] = &[
            $( DescriptorInfo { name: $name, args: Args::$args, place: Place::$place, syntax: $syntax, summary: $summary }, )*
        ];
    };
}

descriptors! {
    "sync", None, Function, "sync;", "The application waits until the API server has run the call (the default).";
    "async", None, Function, "async;", "The call returns at once with its `success` value and runs in order on the API server; an error it returns surfaces on a later call of the same thread.";
    "success", Expr, Function, "success(v);", "The value an `async` call returns to the application at once.";
    "allocates_rc", TwoExprs, Function, "allocates_rc(resource, amount);", "The call takes `amount` units of the continuous resource, held until a call deallocates them.";
    "deallocates_rc", TwoExprs, Function, "deallocates_rc(resource, amount);", "The call gives back `amount` units of the continuous resource.";
    "consumes_rc", TwoExprs, Function, "consumes_rc(resource, amount);", "The call uses `amount` units of the instantaneous resource (a rate, such as kernel launches).";
    "unsupported", Expr, Function, "unsupported(error);", "The guest returns `error` without forwarding the call, and logs once.";
    "in_guest", Expr, Function, "in_guest(expr);", "The guest answers the call itself: its result is `expr` (such as `zerocopy_alloc(n)`, to give the application memory shared with the API server), and it is never forwarded.";
    "release_at_exit", OneOrTwoExprs, Function, "release_at_exit(obj); | release_at_exit(obj, times);", "When a guest process leaves, the API server calls this function on each live object of `obj`'s handle type that the process still holds (`times` calls each, 1 by default), newest first.";
    "abandon_at_exit", Expr, Function, "abandon_at_exit(obj);", "When a guest process leaves, before the API server brings back the reads it left pending, it calls this function once on each live object of `obj`'s handle type that the process still holds: what would keep them pending forever is settled (OpenCL's user events, set to an error status).";
    "variant_of", Expr, Function, "variant_of(f);", "Another description of the vendor function `f` (same signature): the API server calls `f` for it, and the guest does not export it; `replace_guest` code forwards to it through `function_ids`.";
    "type_cast", Type, Value, "type_cast(T);", "Treat the value as type `T` when marshalling it (e.g. a `void **` whose elements are handles).";
    "handle", None, Value, "handle;", "An API object reference: the guest sees an opaque id that the API server translates back; a forged or stale id gets the invalid-handle error.";
    "opaque", None, Value, "opaque;", "A plain value copied as it is (the default for numbers).";
    "buffer", Expr, Value, "buffer(n);", "A pointer to `n` elements of its pointee type (bytes for `void *`).";
    "in", None, Value, "in;", "Copied from the application to the API server before the call.";
    "out", None, Value, "out;", "Copied from the API server back to the application after the call.";
    "no_copy", None, Value, "no_copy;", "Not copied by this call; used with a lifetime, when a later call copies the data.";
    "lifetime", Expr, Value, "lifetime(call | manual | static | coupled(obj) | once);", "How long the API server keeps its copy of the buffer: for the call (the default), until a `deallocate`, forever, or as long as the object `obj`; for a callback, how long its registration lives: until the process leaves (`static`, the default), its first call (`once`), or as long as the handle `obj` (`coupled(obj)`; `coupled(return_value)` for the handle the function returns).";
    "allocate", None, Value, "allocate;", "This call creates the described object or buffer (an out handle becomes a new entry in the handle table).";
    "deallocate", None, Value, "deallocate;", "This call destroys the described object or buffer; its handle becomes stale.";
    "zerocopy", None, Value, "zerocopy;", "The buffer lives in memory shared between guest and API server and is never copied.";
    "callback", Type, Value, "callback(T);", "A function pointer the API server calls back; `T` is a `callback` declaration or a function-pointer typedef.";
    "userdata", OptionalExpr, Value, "userdata; | userdata(callback_argument);", "The pointer the API hands back to a callback unchanged; it never leaves the guest.";
    "obj_record", None, Value, "obj_record;", "Record this call with the described object, to re-create its implicit state on migration.";
    "obj_depends_on", Expr, Value, "obj_depends_on(obj);", "The described object needs `obj` to be re-created first on migration.";
    "obj_state_cbs", TwoExprs, Value, "obj_state_cbs(write, read);", "Utility functions that save and restore the object's explicit state on migration.";
    "todo", Str, Anywhere, "todo(\"reason\");", "Left by `cava init` where a person must decide; the checker reports it as an error.";
}

/// Words people write by habit (from other tools or papers), with what LAPIS
/// says instead.
pub const ALIASES: &[(&str, &str)] = &[
    ("inout", "in; out;"),
    ("in_out", "in; out;"),
    ("input", "in;"),
    ("output", "out;"),
    ("nocopy", "no_copy;"),
    ("size", "buffer(n);"),
    ("length", "buffer(n);"),
    ("count", "buffer(n);"),
    ("array", "buffer(n);"),
    ("forever", "lifetime(static);"),
    ("persistent", "lifetime(static);"),
    ("synchronous", "sync;"),
    ("asynchronous", "async;"),
    ("object", "handle;"),
    ("value", "opaque;"),
];

pub fn lookup(name: &str) -> Option<&'static DescriptorInfo> {
    DESCRIPTORS.iter().find(|d| d.name == name)
}

/// Standard-library functions that may be called in expressions (Table 4.4
/// of the AvA dissertation, plus `min`, `max`, `strlen`, `sizeof`).
pub const STDLIB_FUNCTIONS: &[(&str, &str)] = &[
    ("metadata", "metadata(key): the metadata record of the object `key`, created on first use"),
    ("register_buf", "register_buf(registry, key, buf, size): remember `buf` of `size` elements under `key`"),
    ("register_bufs_of", "register_bufs_of(registry, key, from, from_key): remember under `key` every buffer registered under `from_key` of registry `from` (nothing when `key` is 0)"),
    ("get_bufs", "get_bufs(registry, key): the buffers registered under `key`"),
    ("get_n_bufs", "get_n_bufs(registry, key): how many buffers are registered under `key`"),
    ("get_buf_size", "get_buf_size(registry, key, i): the size of the `i`th buffer under `key`"),
    ("zerocopy_alloc", "zerocopy_alloc(n): `n` bytes of memory shared by guest and API server"),
    ("zerocopy_free", "zerocopy_free(p): free memory from `zerocopy_alloc`"),
    ("min", "min(a, b): the smaller integer"),
    ("max", "max(a, b): the larger integer"),
    ("strlen", "strlen(s): the length of a NUL-terminated string, without the NUL"),
    ("terminated_len", "terminated_len(p): the number of elements of `p` up to and including the first zero element (for zero-terminated lists such as property lists)"),
];

pub fn is_stdlib_function(name: &str) -> bool {
    STDLIB_FUNCTIONS.iter().any(|(n, _)| *n == name)
}

/// Keywords that open a scope inside a block.
pub const SCOPE_KEYWORDS: &[&str] =
    &["argument", "element", "return_value", "field", "if", "contextual_argument", "replace_guest", "replace_server"];

/// The type categories `default(C)` accepts.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("pointer", "every non-const pointer that is not a handle, string or function pointer"),
    ("const_pointer", "every pointer to const that is not a string"),
    ("string", "every `const char *`"),
    ("function_pointer", "every function pointer"),
    ("integer", "every integer or enum value"),
    ("float", "every floating-point value"),
    ("struct", "every struct or union value"),
];
