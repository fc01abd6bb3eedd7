//! Hover text for the words of LAPIS that are not descriptors: scope
//! keywords, top-level keywords, and the builtin names `this` and `index`.
//! Descriptors and library functions are documented in the parser's
//! catalog (`lapis_parser::descriptors`); this table covers the rest, in the
//! words of the book's reference. A test keeps it in step with the
//! catalog's list of scope keywords.

#[derive(Clone, Copy, Debug)]
pub struct Keyword {
    pub word: &'static str,
    pub syntax: &'static str,
    pub summary: &'static str,
}

pub const KEYWORDS: &[Keyword] = &[
    Keyword {
        word: "argument",
        syntax: "argument(x) { ... }",
        summary: "Describes the argument `x` (a parameter of the function, or a `contextual_argument` of the same body). Stands in a function's or callback's body, or an `if` there.",
    },
    Keyword {
        word: "return_value",
        syntax: "return_value { ... }",
        summary: "Describes the function's result, which is always copied back to the application. Stands in a function's body. In the function's statements (`metadata(return_value)->f = v;`, `register_buf(...)`), which run after a successful call, it is the result itself as the guest sees it (a handle's id); it is not defined before the call (argument scopes, contextual arguments, resource amounts). In `lifetime(coupled(return_value))` on a callback argument, it names the handle the function returns: the callback's registration lasts as long as that object.",
    },
    Keyword {
        word: "element",
        syntax: "element { ... }",
        summary: "Describes each element a pointer or array points to. Inside it, `index` is the element's position. Stands in any value scope.",
    },
    Keyword {
        word: "field",
        syntax: "field(f) { ... }",
        summary: "Describes the member `f` of a struct or union value; the other fields are visible by name inside it. Stands in a value scope of a struct or union value.",
    },
    Keyword {
        word: "if",
        syntax: "if (c) { ... } else { ... }",
        summary: "Chooses between two descriptions when the call is made. In a function's body it may hold `argument` and `return_value` scopes; in a value scope, anything the scope may hold.",
    },
    Keyword { word: "else", syntax: "if (c) { ... } else { ... }", summary: "The description used when the `if` condition is false." },
    Keyword {
        word: "contextual_argument",
        syntax: "contextual_argument T name = expr;",
        summary: "A value computed when the call is made (for example the buffers registered for a stream) and marshalled like an argument: describe it with `argument(name)`. Stands in a function's body.",
    },
    Keyword {
        word: "replace_guest",
        syntax: "replace_guest { rust }",
        summary: "Rust code the generated guest runs instead of forwarding the call (in a callback: instead of calling the application's function, which it gets as `__application`).",
    },
    Keyword {
        word: "replace_server",
        syntax: "replace_server { rust }",
        summary: "Rust code the API server runs instead of calling the real library.",
    },
    Keyword {
        word: "api",
        syntax: "api NAME { version = \"...\"; headers = [...]; soname = \"...\"; library = \"...\"; error_type = T; success = V; failure = V; }",
        summary: "Names the API and says how the guest library stands in for the real one. One per spec.",
    },
    Keyword { word: "typedef", syntax: "typedef <declaration>;", summary: "A C type name, as in the vendor's header." },
    Keyword { word: "const", syntax: "const T NAME = expr;", summary: "A named constant, usable in expressions and array lengths." },
    Keyword {
        word: "type",
        syntax: "type(T) { ... }",
        summary: "Descriptors for every value of type `T`, wherever it appears. Sees `this`, constants and fields, not a function's arguments.",
    },
    Keyword {
        word: "default",
        syntax: "default(category) { ... }",
        summary: "Descriptors for every value of a family of types: pointer, const_pointer, string, function_pointer, integer, float, struct.",
    },
    Keyword {
        word: "callback",
        syntax: "callback <prototype> { argument(x) { ... } }",
        summary: "The signature of a function the API calls back, with descriptions of its arguments; name it in `callback(T)`.",
    },
    Keyword {
        word: "utility",
        syntax: "utility <prototype> { return expr; }",
        summary: "A helper function written in LAPIS, `{ return expr; }`, for sizes that need more than one expression and for `obj_state_cbs(write, read)`.",
    },
    Keyword {
        word: "continuous_rc",
        syntax: "continuous_rc name;",
        summary: "A resource held over time (such as device memory), taken with `allocates_rc` and given back with `deallocates_rc`.",
    },
    Keyword {
        word: "instantaneous_rc",
        syntax: "instantaneous_rc name;",
        summary: "A resource used at a rate (such as kernel launches), counted with `consumes_rc`.",
    },
    Keyword {
        word: "buf_registry",
        syntax: "buf_registry name;",
        summary: "A table of buffers kept by key across calls: `register_buf`, `get_bufs`, `get_n_bufs`, `get_buf_size`.",
    },
    Keyword {
        word: "declare_metadata",
        syntax: "declare_metadata(T);",
        summary: "The struct type of the per-object records that `metadata(key)` returns.",
    },
    Keyword {
        word: "policy",
        syntax: "policy(\"file\");",
        summary: "Names a scheduling policy file (an eBPF program), relative to the spec, that shares the resources between guests.",
    },
    Keyword {
        word: "this",
        syntax: "this",
        summary: "The value a `type(T)` or `default(C)` scope describes.",
    },
    Keyword {
        word: "index",
        syntax: "index",
        summary: "Inside `element`, the position of the element being described, counted in the innermost buffer.",
    },
];

pub fn lookup(word: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.word == word)
}

/// Keywords that begin a top-level item.
pub const TOP_LEVEL: &[&str] = &[
    "api",
    "typedef",
    "struct",
    "union",
    "enum",
    "const",
    "type",
    "default",
    "callback",
    "utility",
    "continuous_rc",
    "instantaneous_rc",
    "buf_registry",
    "declare_metadata",
    "policy",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_keyword_has_hover_text() {
        for word in lapis_parser::descriptors::SCOPE_KEYWORDS {
            assert!(lookup(word).is_some(), "no hover text for `{word}`");
        }
    }
}
