//! The catalog of diagnostic codes. Each code is stable once published; its
//! explanation is what `cava explain CODE` prints and what the book's
//! diagnostics index shows (a test keeps the two identical).

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $title:literal, $explanation:literal; )*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as written in diagnostics, e.g. `L0301`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short title for indexes.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            /// The long explanation, in Markdown.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explanation,)* }
            }

            pub fn parse(code: &str) -> Option<Code> {
                let code = code.trim().to_ascii_uppercase();
                Code::ALL.iter().copied().find(|c| c.as_str() == code)
            }
        }
    };
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

codes! {
    UnexpectedCharacter = "L0101", "unexpected character",
"A character that is not part of LAPIS appears outside a string or comment.

```lapis
cl_int clFinish(cl_command_queue queue) @ { sync; }
```

Remove the character. LAPIS uses C's punctuation only; preprocessor lines (`#define`, `#include`) are not part of a spec: write constants as `const int NAME = value;` and name headers in the `api` block.";

    UnterminatedLiteral = "L0102", "unterminated string, comment, character or code block",
"A string, character literal, block comment or `replace_guest`/`replace_server` code block is opened but never closed.

```lapis
policy(\"fair_share.c);
```

Close it. Strings end on the line they start.";

    InvalidNumber = "L0103", "invalid number",
"A numeric literal cannot be read, or does not fit in 64 bits.

```lapis
const int BIG = 0x1_0000_0000_0000_0000;
```

Write integers in decimal, octal (`0` prefix) or hexadecimal (`0x` prefix), with optional C suffixes (`u`, `l`, `ll`).";

    UnexpectedToken = "L0104", "syntax error",
"The parser expected something else at this point. It skips to the end of the current statement or item and goes on, so later errors are still reported.

```lapis
cl_int clFinish(cl_command_queue queue { sync; }
```

The label says what was expected; the most common causes are a missing `;`, `)` or `}`.";

    UnknownName = "L0201", "unknown name in an expression",
"An expression names something that is neither an argument of the function, a field in scope, a constant, an enum value, nor the builtin `index`.

```lapis
cl_int clEnqueueWriteBuffer(..., size_t cb, const void *ptr, ...) {
    argument(ptr) { in; buffer(size); }   // the argument is called `cb`
}
```

Check the spelling; the help line suggests the closest name in scope.";

    UnknownType = "L0202", "unknown type",
"A type name is not declared in the spec. Every type a prototype uses must be declared (typedef, struct, union or enum), usually lifted from the header by `cava init`.

```lapis
cl_int clRetainMemObject(cl_memory memobj);   // the type is `cl_mem`
```";

    UnknownArgument = "L0203", "unknown argument",
"`argument(x)` names a parameter the function does not have.

```lapis
cl_int clFinish(cl_command_queue command_queue) {
    argument(queue) { handle; }
}
```

Use the parameter name from the prototype, or the name of a `contextual_argument` declared in the same function.";

    UnknownField = "L0204", "unknown field",
"A `field(name)` scope or a `.`/`->` access names a field the struct or union does not have.

```lapis
type(cl_image_desc) { field(image_widht) { opaque; } }
```";

    UnknownResource = "L0205", "unknown resource",
"`allocates_rc`, `deallocates_rc` or `consumes_rc` names a resource that is not declared, or is declared with the other kind. Continuous resources (declared with `continuous_rc`) are allocated and deallocated; instantaneous ones (`instantaneous_rc`) are consumed.

```lapis
instantaneous_rc kernel_launches;
cl_int clEnqueueNDRangeKernel(...) { consumes_rc(kernel_launch, 1); }
```";

    UnknownRegistry = "L0206", "unknown buffer registry",
"A registry function (`register_buf`, `get_bufs`, `get_n_bufs`, `get_buf_size`) names a registry that no `buf_registry` declares.

```lapis
buf_registry pending_reads;
... register_buf(pending_read, queue, ptr, cb);
```";

    UnknownFunction = "L0207", "unknown function",
"An expression calls a function that is neither in the LAPIS standard library (`metadata`, `register_buf`, `get_bufs`, `get_n_bufs`, `get_buf_size`, `zerocopy_alloc`, `zerocopy_free`, `min`, `max`, `strlen`, `sizeof`) nor a `utility` declared in the spec.

```lapis
argument(name) { in; buffer(strlength(name) + 1); }
```";

    DuplicateDefinition = "L0208", "defined more than once",
"A name is declared twice in the same namespace: two functions, two types, two resources, two parameters of one function, or a descriptor scope given twice for the same argument or field.

Rename or merge the two declarations. Descriptor scopes for one argument should be written in one `argument(x) { ... }` block.";

    NoMetadataType = "L0209", "metadata used without `declare_metadata`",
"`metadata(key)` returns the per-object metadata record, whose type is set once with `declare_metadata(T)`. The spec uses `metadata` but declares no type.

```lapis
struct kernel_info { int argc; };
declare_metadata(struct kernel_info);
```";

    UnknownCallbackType = "L0210", "unknown callback type",
"`callback(T)` names neither a `callback` declaration nor a function-pointer typedef.

```lapis
callback void build_notify(cl_program program, void *user_data) { argument(user_data) { userdata; } }
cl_int clBuildProgram(..., void (*pfn_notify)(cl_program, void *), void *user_data) {
    argument(pfn_notify) { callback(build_notify); }
}
```";

    UnknownDescriptor = "L0301", "unknown descriptor",
"A statement in a descriptor block is not a LAPIS descriptor. Unknown descriptors are errors, never silently ignored: a misspelt `async` must not turn into a synchronous call without anyone noticing.

```lapis
cl_int clFlush(cl_command_queue q) { asynch; }
```

The help line suggests the closest descriptor. See the LAPIS reference for the full list.";

    MisplacedDescriptor = "L0302", "descriptor not allowed here",
"A descriptor is valid LAPIS but not in this scope: for example `async` (a function descriptor) inside `argument(x)`, or `buffer(n)` directly in a function body.

```lapis
cl_int clFlush(cl_command_queue q) { argument(q) { async; } }
```

The LAPIS reference lists, for every descriptor, the scopes it may stand in.";

    ContradictoryDescriptors = "L0303", "contradictory descriptors",
"Two descriptors that cannot both hold apply to the same value or function: `sync` and `async`, `handle` and `buffer`, `handle` and `opaque`, two different lifetimes, `allocate` and `deallocate`, `no_copy` with `in` or `out`, `zerocopy` with `no_copy`, `unsupported` with a replacement, `in_guest` with `unsupported`, a replacement or `async`, or `variant_of` with `unsupported` or `replace_guest`.

```lapis
argument(dst) { handle; buffer(size); }
```

Keep the one that describes the API.";

    DuplicateDescriptor = "L0304", "descriptor repeated",
"The same descriptor is given twice in one scope. This is a warning: the second one has no effect, or, where it carries an argument (`buffer(a)` and `buffer(b)`), it is an error because the two disagree.";

    DescriptorArguments = "L0305", "wrong descriptor arguments",
"A descriptor is given the wrong number or kind of arguments.

```lapis
argument(ptr) { buffer; }            // buffer needs a size: buffer(n)
cl_int clFinish(cl_command_queue q) { success(); }
```";

    UnknownCategory = "L0306", "unknown type category",
"`default(C)` names a category LAPIS does not have. The categories are `pointer`, `const_pointer`, `string` (`const char *`), `function_pointer`, `integer`, `float` and `struct`.

```lapis
default(constant_pointer) { in; buffer(1); }
```";

    TypeMismatch = "L0401", "mismatched types",
"An expression has the wrong type where it is used: a buffer size, resource amount or `index` must be an integer; an `if` condition must be an integer, boolean or pointer; `success(v)` must have the function's return type.

```lapis
argument(ptr) { in; buffer(name); }   // `name` is a `const char *`
```

Use `strlen(name) + 1` for a string, or the count argument for an array.";

    InvalidOperand = "L0402", "invalid operand",
"An operator is applied to a value it does not work on: `->` to something that is not a pointer to a struct, `.` to something that is not a struct, `[i]` to something that is neither pointer nor array, or `*` to a non-pointer.

```lapis
if (props->count > 0) { ... }   // `props` is a `const cl_context_properties *` (an integer pointer)
```";

    WrongArgumentCount = "L0403", "wrong number of arguments",
"A call passes a different number of arguments than the function takes.

```lapis
buffer(max(a))     // max takes two arguments
```";

    NotConstant = "L0404", "not a constant",
"A value that must be known when the spec is compiled (a constant's initializer, an array length, an enum value, `success(v)`, `unsupported(v)`, an `api` error value) refers to an argument or calls a function that is only known at run time.

```lapis
const int LIMIT = strlen(\"abc\");
```";

    PointerWithoutDirection = "L0501", "pointer with no known direction",
"A pointer argument (or pointer field, element or return value) has neither `in`, `out`, `handle`, `opaque`, `callback`, `userdata` nor `no_copy`, and no category default gives it one. The generated code cannot know whether to copy the data to the API server, back to the application, or both.

```lapis
cl_int clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms, cl_uint *num_platforms);
```

Add `in`, `out` or both, and a `buffer(size)`:

```lapis
argument(platforms) { out; buffer(num_entries); element { handle; } }
```";

    PointerWithoutSize = "L0502", "pointer with no known size",
"A pointer that is copied (`in` or `out`) has no `buffer(size)` and no category default gives one, so the generated code cannot know how many elements to copy.

```lapis
argument(ptr) { in; }
```

Add `buffer(n)`, where `n` counts elements of the pointee type (bytes for `void *`).";

    AsyncCopiesBack = "L0503", "asynchronous function copies data back",
"An `async` function returns to the application before the API server has run it, so it cannot copy `out` data into the application's memory. Either make it `sync`, mark the data `no_copy` with a manual lifetime and copy it back from a later synchronizing call (with a `buf_registry` and a `contextual_argument`, as in Figure 4.4 of the AvA paper), or drop `out`.

```lapis
cl_int clEnqueueReadBuffer(..., void *ptr, ...) { async; argument(ptr) { out; buffer(cb); } }
```";

    HandleOnNonPointer = "L0504", "`handle` on a value that is not a pointer",
"`handle` makes the generated code replace a value with an opaque id that the API server translates back, which is only sound for pointer-typed object references (`cl_mem`, `CUstream`). Integers and other plain values must stay `opaque`.

```lapis
argument(size) { handle; }   // size_t
```";

    DeallocateNeverAllocated = "L0505", "`deallocate` on something never allocated",
"A value of handle type `T` is marked `deallocate`, but no function in the spec marks a value of type `T` with `allocate`, so the handle table never holds one to release. For buffers, `deallocate` only makes sense when some buffer has a `manual` lifetime.

```lapis
cl_int clReleaseSampler(cl_sampler sampler) { argument(sampler) { deallocate; } }
// but clCreateSampler's return value is not marked `allocate`
```";

    TodoLeft = "L0506", "`todo` left in the spec",
"`cava init` writes `todo(\"reason\")` where it could not decide safely how a value is marshalled. A spec with a `todo` cannot be generated: replace it with the descriptors that describe the API, as the reason says.";

    AsyncWithoutSuccess = "L0507", "asynchronous function whose result the guest cannot know",
"An `async` function returns to the application before the API server has run it, so the guest must return a value without knowing the real result. That works for functions that return nothing, and for functions that return the API's error type: they return the `api` block's `success` value, or the value given with `success(v)`. A function that returns anything else (a handle, a pointer, a count) cannot be asynchronous.

```lapis
cl_mem clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size, void *host_ptr, cl_int *errcode_ret) {
    async;
}
```

Make it `sync`.";

    ApiBlock = "L0508", "missing or incomplete `api` block",
"Every spec starts with an `api` block that names the API and says how the generated libraries are built: `version`, `headers`, `soname` (the library the guest replaces), `library` (what the server loads), `error_type`, `success` and `failure`.

```lapis
api opencl {
    version = \"3.0\";
    headers = [\"CL/cl.h\"];
    soname = \"libOpenCL.so.1\";
    library = \"libOpenCL.so.1\";
    error_type = cl_int;
    success = CL_SUCCESS;
    failure = CL_OUT_OF_HOST_MEMORY;
}
```

The optional `resolver` must name a function of the spec declared `void *F(const char *name)`, such as `clGetExtensionFunctionAddress`: the API server calls it with a name alone.";

    ElementOnNonPointer = "L0509", "`buffer` or `element` on a value that is not a pointer or array",
"`buffer(n)` and `element { ... }` describe the values a pointer or array refers to; the described value has no elements.

```lapis
argument(size) { buffer(1); element { opaque; } }   // size_t
```";

    FieldOnNonStruct = "L0510", "`field` on a value that is not a struct or union",
"`field(name) { ... }` describes a member of a struct or union. Use it inside `type(struct T)`, or inside `element` of a pointer to a struct.";

    UserdataWithoutCallback = "L0511", "`userdata` with no callback",
"`userdata` marks the pointer that the API passes back to a callback unchanged. The function has no argument described with `callback(T)`, or, when it has several, `userdata(cb)` does not name one of them.";

    CallbackOnNonFunctionPointer = "L0512", "`callback` on a value that is not a function pointer",
"`callback(T)` describes a function pointer that the API server calls back into the guest; the described value is not a function pointer.";

    VariadicFunction = "L0513", "variadic function",
"A function with `...` cannot be forwarded: the generated code cannot know what was passed. Mark it `unsupported(v)` or give it a hand-written replacement (`replace_guest { ... }`).";

    UnusedDeclaration = "L0514", "declared but never used",
"A resource, buffer registry, callback or utility is declared but nothing uses it. This is a warning: remove it, or add the descriptor that uses it.";

    ReturnValueOnVoid = "L0515", "`return_value` on a function that returns nothing",
"`return_value { ... }` describes a function's result, and this function returns `void`.";

    ConflictingAsync = "L0516", "`success` on a synchronous function",
"`success(v)` says what an `async` call returns at once, but the function is not `async`, so the value would never be used. This is a warning: add `async;` or remove `success(...)`.";

    UnsupportedValue = "L0517", "`unsupported` needs an error of the API's error type",
"`unsupported(v)` makes the guest return `v` without calling the API server. The function must return the spec's `error_type`, `v` must not be the `success` value (the application would believe the call worked), and, when the error type is an enum, `v` must be one of its values.

```lapis
cl_int clSetProgramReleaseCallback(...) { unsupported(CL_SUCCESS); }
```";

    InvalidCast = "L0518", "invalid `type_cast`",
"`type_cast(T)` reinterprets a value as another type. Both must be pointers, or both integers of the same size; a cast between a pointer and an integer, or to a type of another size, would corrupt the value on the wire.";

    RecursiveDescription = "L0519", "description of a recursive type never ends",
"Describing a value means describing everything it points to. A struct that points to its own type (a linked list, a tree) described with `buffer` or `element` at every level would never end, so the checker stops after 24 levels of `element`, `field` and `if`.

```lapis
struct node { int value; struct node *next; };
type(struct node) { field(next) { in; buffer(1); } }
```

Stop the recursion where the API does: describe the pointer as a `handle`, `opaque`, or `no_copy`, or give the list's length as a buffer of nodes.";

    BadVariant = "L0520", "`variant_of` a function it cannot stand for",
"`variant_of(f)` makes a function another description of the vendor function `f`: the API server calls `f` when the variant is forwarded, with the variant's arguments. So `f` must be a function of the spec (not a variant itself), and the variant must have the same return type and parameter types, in the same order.

```lapis
cl_int clEnqueueReadBuffer(cl_command_queue q, cl_mem b, cl_bool blocking, size_t offset, size_t size, void *ptr, cl_uint n, const cl_event *wait, cl_event *event) { ... }
cl_int read_blocking(cl_command_queue q, cl_mem b, size_t size, void *ptr) {
    variant_of(clEnqueueReadBuffer);   // four parameters, not nine
}
```

Copy the prototype of `f` and change only the names and the descriptions.";

    CallbackLifetime = "L0521", "lifetime that does not fit a callback",
"A callback's `lifetime` says how long the guest and the API server keep its registration: `static` (the default) until the application's process leaves; `once`, until the library has called it once (an event's completion callback, a build notification) or the call that registered it failed; or `coupled(obj)`, until the object `obj` is deallocated (a successful call that marks it `deallocate`, or the release of what a departed process left), or the call that registered it failed. `call` and `manual` are buffers' lifetimes, and `once` and `coupled(return_value)` are only callbacks'.

A callback is coupled to a handle: a handle argument of the same function (`coupled(queue)`), or the handle the function returns, written `coupled(return_value)` (`return_value` is reserved there; in a function's statements it is the result itself, see L0523). Coupling to anything else (an argument that is not a handle, an expression, a return value that is not a handle) is refused: no release would end the registration.

A `once` or `coupled` registration is told apart from the others by its userdata, so it must be a function's argument, its `callback` declaration must mark a `userdata` argument, and the function must have a `userdata` argument for it.

```lapis
cl_int clSetEventCallback(cl_event event, cl_int type, void (*pfn_notify)(cl_event, cl_int, void *), void *user_data) {
    argument(pfn_notify) { callback(cava_event_notify); lifetime(once); }
    argument(user_data) { userdata; }
}

cl_context clCreateContext(const cl_context_properties *properties, cl_uint num_devices, const cl_device_id *devices,
                           void (*pfn_notify)(const char *, const void *, size_t, void *), void *user_data, cl_int *errcode_ret) {
    argument(pfn_notify) { callback(cava_context_notify); lifetime(coupled(return_value)); }
    argument(user_data) { userdata; }
    return_value { allocate; }
}
```";

    BadRelease = "L0522", "`release_at_exit` on a function that cannot release",
"`release_at_exit(obj)` (or `release_at_exit(obj, times)`) names the function the API server calls on each object of `obj`'s handle type that a guest process still holds when it leaves. The server passes the object and 0 for every other argument, so `obj` must be an argument of the function described as a handle, a function with other arguments must have a `replace_server` that finds them itself, the function must be forwarded (not `unsupported` or `in_guest`), `times` must be an integer, and only one function may release each handle type. `abandon_at_exit(obj)`, called the same way before the process's pending reads are brought back, is checked the same (several may settle one type).

```lapis
cl_int clReleaseMemObject(cl_mem memobj) {
    release_at_exit(memobj, 1 + metadata(memobj)->retains);
}
```";

    ReturnValueUndefined = "L0523", "`return_value` where the call's result is not defined",
"In an expression, `return_value` names the function's result as the guest sees it (for a handle, its id, so `metadata(return_value)` is the same record on both halves). It is defined only in the function's statements (`register_buf(...)`, `register_bufs_of(...)`, `metadata(key)->field = value`), which run after a successful call, on both halves. It is refused where the call has not happened yet (argument scopes, contextual arguments, resource amounts; use `this` inside `return_value { ... }`), outside a function, in a function that returns `void`, and for a result that is not the same on both halves: a struct returned by value, or a pointer that is not a handle (each half holds its own copy of what it points to).

```lapis
cl_command_queue clCreateCommandQueue(cl_context context, cl_device_id device, cl_command_queue_properties properties, cl_int *errcode_ret) {
    return_value { allocate; }
    metadata(return_value)->in_order = (properties & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) == 0;
}
```";
}

/// The book's diagnostics index (`book/src/diagnostics.md`), generated from
/// this catalog so that the two cannot drift apart.
pub fn markdown_index() -> String {
    let mut out = String::from(
        "# Diagnostics index\n\n\
         Every diagnostic `cava check` can report, with its stable code.\n\
         `cava explain CODE` prints the same text in a terminal. Codes are grouped:\n\
         `L01xx` syntax, `L02xx` names, `L03xx` descriptors, `L04xx` types and constants,\n\
         `L05xx` rules that keep generated code safe.\n\n\
         This page is generated from `lapis-parser/src/codes.rs`; a test fails when they differ\n\
         (regenerate with `CAVA_BLESS=1 cargo test -p lapis-parser --test diagnostics_index`).\n\n\
         | code | title |\n|---|---|\n",
    );
    for code in Code::ALL {
        out.push_str(&format!("| [{0}](#{1}) | {2} |\n", code.as_str(), code.as_str().to_ascii_lowercase(), code.title()));
    }
    for code in Code::ALL {
        out.push_str(&format!("\n## {}\n\n**{}**\n\n{}\n", code.as_str(), code.title(), code.explanation()));
    }
    out
}
