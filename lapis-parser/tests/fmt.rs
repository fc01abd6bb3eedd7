//! `cava fmt`: the formatter is idempotent, keeps the model and every
//! comment, refuses broken input, and prints declarators the C way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lapis_parser::ast::{
    ApiValue, Constant, Declaration, DescriptorArg, Expr, ExprKind, Function, Item, ItemKind, SourceFile, Stmt, StmtKind, TagBody,
    TypeExpr, TypeExprKind,
};
use lapis_parser::fmt::{format_file, format_source};
use lapis_parser::span::{Span, Spanned};
use proptest::prelude::*;
use serde_json::Value;

// ----- helpers -----

fn format(source: &str) -> String {
    match format_source(source) {
        Ok(text) => text,
        Err(diagnostics) => panic!("refused to format:\n{source}\n{diagnostics:#?}"),
    }
}

fn parse_clean(source: &str) -> SourceFile {
    let (file, diagnostics) = lapis_parser::parse(source);
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "syntax errors in:\n{source}\n{errors:#?}");
    file
}

fn erase_spans(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("span");
            map.values_mut().for_each(erase_spans);
        }
        Value::Array(values) => values.iter_mut().for_each(erase_spans),
        _ => {}
    }
}

/// The syntax tree without positions: what the spec means.
fn model(file: &SourceFile) -> Value {
    let mut value = serde_json::to_value(file).expect("the syntax tree serializes");
    erase_spans(&mut value);
    value
}

/// Comment texts, with the trailing whitespace the formatter drops.
fn comments(file: &SourceFile) -> Vec<String> {
    file.comments.iter().map(|c| c.text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n")).collect()
}

/// Properties 1-3: idempotence, same model, same comments.
fn assert_properties(name: &str, source: &str) -> String {
    let original = parse_clean(source);
    let formatted = format(source);
    let reparsed = parse_clean(&formatted);
    assert_eq!(model(&original), model(&reparsed), "{name}: formatting changed the model:\n{formatted}");
    assert_eq!(comments(&original), comments(&reparsed), "{name}: comments not kept:\n{formatted}");
    assert_eq!(format(&formatted), formatted, "{name}: formatting is not idempotent");
    if !formatted.is_empty() {
        assert!(formatted.ends_with('\n') && !formatted.ends_with("\n\n"), "{name}: must end with one newline");
    }
    assert!(!formatted.contains("\n\n\n"), "{name}: at most one blank line in a row:\n{formatted}");
    formatted
}

// ----- rich specs: together they use every item, statement and expression kind -----

const CUDA: &str = r#"// CUDA driver API, a small part.
api cuda {
    version = "12.0";
    headers = ["cuda.h"];
    soname = "libcuda.so.1";
    library = "libcuda.so.1";
    error_type = CUresult;
    success = CUDA_SUCCESS;
    failure = CUDA_ERROR_UNKNOWN;
}
typedef int CUresult;
enum cudaError_enum { CUDA_SUCCESS = 0, CUDA_ERROR_UNKNOWN = 999 };
struct CUstream_st;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;
continuous_rc device_memory;
instantaneous_rc kernel_invocations;
policy("policy_kern.c");
struct fn_arg_info { int fn_argc; char fn_arg_is_handle[64]; size_t fn_arg_size[64]; };
declare_metadata(struct fn_arg_info);
buf_registry async_DtoH;
const int MAX_ARGS = 64;
utility size_t twice(size_t n) { return n * 2; }
default(const_pointer) { in; buffer(1); }
type(CUstream) { handle; }
CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t size, CUstream stream) {
    async; success(CUDA_SUCCESS);
    argument(dst) { no_copy; buffer(size); lifetime(manual); }
    register_buf(async_DtoH, stream, dst, size);
}
CUresult cuStreamSynchronize(CUstream stream) {
    contextual_argument void **bufs = get_bufs(async_DtoH, stream);
    argument(bufs) { in; buffer(get_n_bufs(async_DtoH, stream)); element { buffer(get_buf_size(async_DtoH, stream, index)); out; deallocate; } }
    if (stream == 0) { sync; } else if (stream != 0) { todo("x"); } else { consumes_rc(kernel_invocations, 1); }
    replace_guest { let x = "}"; x }
}
callback void notify(void *user_data) { argument(user_data) { userdata; } }
"#;

const OPENCL: &str = r#"/* OpenCL, a small part.
   A block comment over two lines. */
api opencl {
    version = "3.0";
    headers = ["CL/cl.h", "CL/cl_ext.h",];
    soname = "libOpenCL.so.1";
    prefix = todo("decide");
    max = 1 << 20;
    empty = [];
}

typedef int cl_int;
typedef unsigned int cl_uint;
typedef struct _cl_context *cl_context;
typedef struct _cl_program *cl_program;
typedef const char * const *string_table;
typedef void (*pfn_notify)(cl_program program, void *user_data);
typedef int (*handlers[4])(int, ...);
typedef char name_buf[256];
typedef int (*row_ptr)[8];
typedef struct { int x; float y; } point;
typedef union value { long long i; double d; char bytes[8]; } value;
typedef enum { RED, GREEN = 2, BLUE, } color;

union cl_arg { int i; void *p; };
enum cl_mode { CL_MODE_A = 0x10, CL_MODE_B = 'b', CL_MODE_C = -1 };
struct nested { struct { int inner; } part; int arr[2][3]; void (*cb)(void); };

const double PI = 3.14159;
const float HUGE_F = 1e30;
const char SEP = '\n';
const char *const GREETING = "hi \"there\"\t\\";
const unsigned long MASK = ~0 & (1 << 3 | 4) ^ 2;
const int PICK = MASK > 2 ? (MASK - 1) * 2 : -(MASK + 1);

callback void notify_cb(const char *errinfo, const void *private_info, size_t cb, void *user_data);

cl_int clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms, cl_uint *num_platforms);
cl_int clFinish(cl_command_queue command_queue);
int printf_like(const char *fmt, ...);
void no_args(void);

cl_program clCreateProgramWithSource(cl_context context, cl_uint count, const char **strings, const size_t *lengths, cl_int *errcode_ret) {
    argument(strings) {
        in;
        buffer(count);
        element { in; buffer(lengths ? lengths[index] : strlen(strings[index]) + 1); }
    }
    argument(errcode_ret) { out; buffer(1); }
    return_value { handle; allocate; }
    allocates_rc(device_memory, sizeof(struct _cl_program) * count);
}

cl_int clBuildProgram(cl_program program, void (*pfn)(cl_program, void *), void *user_data) {
    argument(pfn) { callback(pfn_notify); }
    argument(user_data) { userdata(pfn); }
    argument(program) { type_cast(const struct _cl_program *); obj_record; obj_depends_on(program); obj_state_cbs(save, restore); }
    if (!program || *user_data == 0) { unsupported(-1); }
    if (pfn != 0 && (count > 2 || count <= -3)) { lifetime(coupled(program)); } else {}
    metadata(program)->argc = sizeof(int) + sizeof(x + 1);
    (*user_data).size = metadata(program)->args[0].size % 4 - (2 - 1) / &program[1];
    replace_server {
        // server side
        let v = vec![1, 2];
        v.len()
    }
}

type(point) {
    field(x) { opaque; }
    field(y) { zerocopy; }
}
"#;

const COMMENTS: &str = r#"// leading comment of the file
// second line

api x { // after open
    // before entry
    a = 1; // trailing entry
    /* block before close */
}


typedef int A; /* after A */
// between A and B
typedef int B;

typedef int C;
continuous_rc r1; // r1
instantaneous_rc r2;

int f(int a, // inside params
      int b);

int g(void) {
    // only a comment
}

int h(int x) {
    in; /* one */ out; // two
    argument(x) /* before brace */ {
    }
    if (x) { // then
        sync;
    } // after then
    else { // else open
        if (x > 1) { async; } else { sync; }
        // end of else
    } // after if
    element {}
    return_value {


        // after blanks
        out;

    }
    replace_guest {
        // raw comments stay in the code
        call()
    }; // after the raw block
}
struct S {
    int a; // a
    // before b
    int b;
};
enum E {
    A, // a
    B = 2 /* b */,
    C
};
/* multi
   line */ typedef int D;
// final
"#;

const RICH: &[(&str, &str)] = &[("cuda", CUDA), ("opencl", OPENCL), ("comments", COMMENTS)];

#[test]
fn rich_specs_keep_their_model_and_comments() {
    for (name, source) in RICH {
        let formatted = assert_properties(name, source);
        assert!(formatted.lines().all(|line| line == line.trim_end()), "{name}: trailing whitespace:\n{formatted}");
    }
}

#[test]
fn rich_specs_with_crlf_line_endings() {
    for (name, source) in RICH {
        let crlf = source.replace('\n', "\r\n");
        let formatted = assert_properties(name, &crlf);
        // only the Rust of `replace_*` blocks keeps its `\r`: it is verbatim
        assert_eq!(formatted.replace('\r', ""), format(source), "{name}: line endings changed the output");
    }
}

/// A comment before any token, of either kind, must survive formatting.
#[test]
fn comments_between_any_two_tokens() {
    for (name, source) in RICH {
        let expected_model = model(&parse_clean(source));
        let tokens = lapis_parser::lexer::lex(source).tokens;
        for (i, token) in tokens.iter().enumerate() {
            let at = token.span.start as usize;
            for comment in [format!("/* c{i} */"), format!("// c{i}\n")] {
                let edited = format!("{}{comment}{}", &source[..at], &source[at..]);
                let case = format!("{name} with {comment:?} at {at}");
                let Ok(formatted) = format_source(&edited) else {
                    // between `replace_guest` and its `{` a comment is a syntax error
                    let before = source[..at].trim_end();
                    assert!(before.ends_with("replace_guest") || before.ends_with("replace_server"), "{case}");
                    continue;
                };
                let reparsed = parse_clean(&formatted);
                assert_eq!(model(&reparsed), expected_model, "{case}:\n{formatted}");
                let written = lapis_parser::lexer::lex(&edited).comments;
                let written: Vec<&str> = written.iter().map(|c| c.text.trim_end()).collect();
                let kept: Vec<&str> = reparsed.comments.iter().map(|c| c.text.as_str()).collect();
                assert_eq!(kept, written, "{case}:\n{formatted}");
                assert_eq!(format_file(&reparsed, &formatted), formatted, "{case}: not idempotent");
            }
        }
    }
}

/// Walks the tree and names every kind of item, statement and expression used.
#[derive(Default)]
struct Kinds(BTreeSet<&'static str>);

impl Kinds {
    fn item(&mut self, item: &Item) {
        let name = match &item.kind {
            ItemKind::Api(api) => {
                for entry in &api.entries {
                    match &entry.value {
                        ApiValue::Expr(e) => self.expr(e),
                        ApiValue::List(list) => list.iter().for_each(|e| self.expr(e)),
                        ApiValue::Todo(_) => {}
                    }
                }
                "Api"
            }
            ItemKind::Typedef(decl) => {
                self.decl(decl);
                "Typedef"
            }
            ItemKind::TagDefinition(def) => {
                self.tag_body(&def.body);
                "TagDefinition"
            }
            ItemKind::Function(f) => {
                self.function(f);
                "Function"
            }
            ItemKind::Callback(f) => {
                self.function(f);
                "Callback"
            }
            ItemKind::Utility(u) => {
                self.decl(&u.decl);
                self.expr(&u.body);
                "Utility"
            }
            ItemKind::Constant(c) => {
                self.decl(&c.decl);
                self.expr(&c.value);
                "Constant"
            }
            ItemKind::TypeScope { ty, body } => {
                self.ty(ty);
                body.stmts.iter().for_each(|s| self.stmt(s));
                "TypeScope"
            }
            ItemKind::Default { body, .. } => {
                body.stmts.iter().for_each(|s| self.stmt(s));
                "Default"
            }
            ItemKind::Resource { .. } => "Resource",
            ItemKind::Policy(_) => "Policy",
            ItemKind::DeclareMetadata(ty) => {
                self.ty(ty);
                "DeclareMetadata"
            }
            ItemKind::BufRegistry(_) => "BufRegistry",
            ItemKind::TagDeclaration { .. } => "TagDeclaration",
            ItemKind::Error => "item Error",
        };
        self.0.insert(name);
    }

    fn function(&mut self, f: &Function) {
        self.decl(&f.decl);
        if let Some(body) = &f.body {
            body.stmts.iter().for_each(|s| self.stmt(s));
        }
    }

    fn decl(&mut self, decl: &Declaration) {
        self.ty(&decl.ty);
    }

    fn tag_body(&mut self, body: &TagBody) {
        match body {
            TagBody::Fields(fields) => fields.iter().for_each(|f| self.decl(f)),
            TagBody::Enumerators(list) => list.iter().filter_map(|e| e.value.as_ref()).for_each(|e| self.expr(e)),
        }
    }

    fn ty(&mut self, ty: &TypeExpr) {
        match &ty.kind {
            TypeExprKind::Builtin(_) | TypeExprKind::Named(_) => {}
            TypeExprKind::Tag { body, .. } => {
                if let Some(body) = body {
                    self.tag_body(body);
                }
            }
            TypeExprKind::Pointer(inner) | TypeExprKind::Const(inner) => self.ty(inner),
            TypeExprKind::Array { element, len } => {
                self.ty(element);
                if let Some(len) = len {
                    self.expr(len);
                }
            }
            TypeExprKind::Function { ret, params, .. } => {
                self.ty(ret);
                params.iter().for_each(|p| self.decl(p));
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        let name = match &stmt.kind {
            StmtKind::Descriptor(d) => {
                for arg in d.args.iter().flatten() {
                    match arg {
                        DescriptorArg::Expr(e) => self.expr(e),
                        DescriptorArg::Type(t) => self.ty(t),
                    }
                }
                "Descriptor"
            }
            StmtKind::Argument { body, .. } => {
                body.stmts.iter().for_each(|s| self.stmt(s));
                "Argument"
            }
            StmtKind::Element(body) => {
                body.stmts.iter().for_each(|s| self.stmt(s));
                "Element"
            }
            StmtKind::ReturnValue(body) => {
                body.stmts.iter().for_each(|s| self.stmt(s));
                "ReturnValue"
            }
            StmtKind::Field { body, .. } => {
                body.stmts.iter().for_each(|s| self.stmt(s));
                "Field"
            }
            StmtKind::If { cond, then, otherwise } => {
                self.expr(cond);
                then.stmts.iter().chain(otherwise.iter().flat_map(|b| &b.stmts)).for_each(|s| self.stmt(s));
                "If"
            }
            StmtKind::ContextualArgument { decl, value } => {
                self.decl(decl);
                self.expr(value);
                "ContextualArgument"
            }
            StmtKind::Replace { .. } => "Replace",
            StmtKind::Expr(e) => {
                self.expr(e);
                "Expr"
            }
            StmtKind::Error => "stmt Error",
        };
        self.0.insert(name);
    }

    fn expr(&mut self, expr: &Expr) {
        let name = match &expr.kind {
            ExprKind::Int(_) => "Int",
            ExprKind::Float(_) => "Float",
            ExprKind::Str(_) => "Str",
            ExprKind::Char(_) => "Char",
            ExprKind::Name(_) => "Name",
            ExprKind::Unary(_, e) => {
                self.expr(e);
                "Unary"
            }
            ExprKind::Binary(_, a, b) | ExprKind::Assign(a, b) | ExprKind::Index(a, b) => {
                self.expr(a);
                self.expr(b);
                match &expr.kind {
                    ExprKind::Binary(..) => "Binary",
                    ExprKind::Assign(..) => "Assign",
                    _ => "Index",
                }
            }
            ExprKind::Ternary(a, b, c) => {
                [a, b, c].into_iter().for_each(|e| self.expr(e));
                "Ternary"
            }
            ExprKind::Call(_, args) => {
                args.iter().for_each(|e| self.expr(e));
                "Call"
            }
            ExprKind::SizeofType(ty) => {
                self.ty(ty);
                "SizeofType"
            }
            ExprKind::Member { base, .. } => {
                self.expr(base);
                "Member"
            }
            ExprKind::Error => "expr Error",
        };
        self.0.insert(name);
    }
}

#[test]
fn rich_specs_cover_every_kind() {
    let mut kinds = Kinds::default();
    for (_, source) in RICH {
        parse_clean(source).items.iter().for_each(|item| kinds.item(item));
    }
    let expected: BTreeSet<&str> = [
        // items
        "Api",
        "Typedef",
        "TagDefinition",
        "Function",
        "Callback",
        "Utility",
        "Constant",
        "TypeScope",
        "Default",
        "Resource",
        "Policy",
        "DeclareMetadata",
        "BufRegistry",
        "TagDeclaration",
        // statements
        "Descriptor",
        "Argument",
        "Element",
        "ReturnValue",
        "Field",
        "If",
        "ContextualArgument",
        "Replace",
        "Expr",
        // expressions
        "Int",
        "Float",
        "Str",
        "Char",
        "Name",
        "Unary",
        "Binary",
        "Assign",
        "Ternary",
        "Call",
        "SizeofType",
        "Member",
        "Index",
    ]
    .into_iter()
    .collect();
    assert_eq!(kinds.0, expected);
}

// ----- every spec in the repository -----

fn lapis_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            lapis_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "lapis") {
            out.push(path);
        }
    }
}

#[test]
fn repository_specs_keep_their_model_and_comments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["specs", "tests"] {
        lapis_files(&root.join(dir), &mut files);
    }
    files.sort();
    for path in files {
        let source = std::fs::read_to_string(&path).expect("spec is readable");
        let name = path.display().to_string();
        let (_, diagnostics) = lapis_parser::parse(&source);
        if diagnostics.iter().any(|d| d.is_error()) {
            // a UI test of a syntax error: the formatter must leave it alone
            assert!(format_source(&source).is_err(), "{name}: formatted despite syntax errors");
            continue;
        }
        assert_properties(&name, &source);
    }
}

// ----- refusal -----

#[test]
fn syntax_errors_are_refused() {
    for source in [
        "typedef int;",
        "int f(int a { in; }",
        "int f(void) { argument(x) { in } }",
        "api x { a = ; }",
        "const char *s = \"unterminated;\n",
        "int f(void) { replace_guest { never closed }",
        "@",
        "int f(void) { in; } }",
    ] {
        let diagnostics = format_source(source).expect_err(source);
        assert!(diagnostics.iter().any(|d| d.is_error()), "{source}: refused without an error");
    }
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(format(""), "");
    assert_eq!(format("  \n\n"), "");
    assert_eq!(format("// a\n\n\n/* b */  // c\n"), "// a\n\n/* b */\n// c\n");
}

// ----- exact output -----

fn assert_formats(source: &str, expected: &str) {
    assert_eq!(format(source), expected, "formatting:\n{source}");
    assert_properties("expected output", source);
}

#[test]
fn a_long_conditional_takes_one_line_per_alternative() {
    assert_formats(
        "utility int kind(const unsigned int *w) { return w[0] == 0xBA55ED50 ? 1 + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] : w[0] == 0x464C457F ? 2 + w[7] + w[8] + w[9] + w[10] : 3; }",
        "utility int kind(const unsigned int *w) {\n    return w[0] == 0xBA55ED50 ? 1 + w[1] + w[2] + w[3] + w[4] + w[5] + w[6]\n        : w[0] == 0x464C457F ? 2 + w[7] + w[8] + w[9] + w[10]\n        : 3;\n}\n",
    );
    // a short one stays on its line
    assert_formats("utility int k(int a) { return a ? 1 : 2; }", "utility int k(int a) {\n    return a ? 1 : 2;\n}\n");
}

#[test]
fn pointers_attach_to_the_name() {
    assert_formats(
        "typedef char*a; typedef char * * b; typedef const char*c; typedef char const*d; typedef struct T*e;",
        "typedef char *a;\ntypedef char **b;\ntypedef const char *c;\ntypedef const char *d;\ntypedef struct T *e;\n",
    );
}

#[test]
fn const_pointers() {
    assert_formats(
        "typedef int *const a; typedef const char*const*b; typedef int**const c; typedef int *const *const d;",
        "typedef int * const a;\ntypedef const char * const *b;\ntypedef int ** const c;\ntypedef int * const * const d;\n",
    );
}

#[test]
fn function_pointers() {
    assert_formats(
        "typedef void(*pfn_notify)(cl_program,void*); typedef int (*(*f)(int))(char); \
         typedef int(*handlers[4])(int,...); void set(void (*cb)(void *user), void *user);",
        "typedef void (*pfn_notify)(cl_program, void *);\n\
         typedef int (*(*f)(int))(char);\n\
         typedef int (*handlers[4])(int, ...);\n\
         \n\
         void set(void (*cb)(void *user), void *user);\n",
    );
}

#[test]
fn arrays() {
    assert_formats(
        "struct s { int a[64]; char *names[N+1]; int (*rows)[8]; int m[2][3]; unsigned char raw[]; };",
        "struct s {\n    int a[64];\n    char *names[N + 1];\n    int (*rows)[8];\n    int m[2][3];\n    unsigned char raw[];\n};\n",
    );
}

#[test]
fn empty_and_variadic_parameter_lists() {
    assert_formats(
        "int a(); int b(void); int c(const char *fmt, ...); int d(...);",
        "int a(void);\nint b(void);\nint c(const char *fmt, ...);\nint d(...);\n",
    );
}

#[test]
fn long_prototypes_put_one_parameter_per_line() {
    assert_formats(
        "CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, void **kernelParams, void **extra);\n\
         const char **long_function_name_returning_strings(const char *first_argument, size_t second_argument) { in; }\n\
         int variadic_function_with_a_long_name(const char *format_string, int first_value, int second_value, ...);\n",
        "CUresult cuLaunchKernel(\n    CUfunction f,\n    unsigned int gridDimX,\n    unsigned int gridDimY,\n    void **kernelParams,\n    void **extra\n);\n\
         \n\
         const char **long_function_name_returning_strings(\n    const char *first_argument,\n    size_t second_argument\n) {\n    in;\n}\n\
         \n\
         int variadic_function_with_a_long_name(\n    const char *format_string,\n    int first_value,\n    int second_value,\n    ...\n);\n",
    );
    // exactly 100 columns stays on one line
    let name = "f".repeat(100 - "int (int a);".len());
    let source = format!("int {name}(int a);\n");
    assert_eq!(format(&source), source);
}

#[test]
fn tag_definitions_and_inline_bodies() {
    assert_formats(
        "enum e { A, B = 1 << 2, C }; struct empty {}; typedef struct { int x; struct { char c; } in; } point; \
         typedef enum { RED } *color_ptr;",
        "enum e {\n    A,\n    B = 1 << 2,\n    C,\n};\n\nstruct empty {};\n\n\
         typedef struct {\n    int x;\n    struct {\n        char c;\n    } in;\n} point;\n\n\
         typedef enum {\n    RED,\n} *color_ptr;\n",
    );
}

#[test]
fn descriptor_blocks() {
    assert_formats(
        "int f(int x) { argument(x) {} element { in; } return_value { field(a) { out; } } }\nint g(void) {}\nint h(void);",
        "int f(int x) {\n    argument(x) {}\n    element {\n        in;\n    }\n    return_value {\n        field(a) {\n            out;\n        }\n    }\n}\n\
         \n\
         int g(void) {}\n\
         \n\
         int h(void);\n",
    );
}

#[test]
fn if_else_chains() {
    assert_formats(
        "int f(int x) { if (x) { in; } else { if (x > 1) { out; } } if (x) {} else if (!x) { sync; } else {} }",
        "int f(int x) {\n    if (x) {\n        in;\n    } else if (x > 1) {\n        out;\n    }\n    \
         if (x) {} else if (!x) {\n        sync;\n    } else {}\n}\n",
    );
}

#[test]
fn api_block_and_one_liner_items() {
    assert_formats(
        "api  cl{headers=[\"a.h\",\"b.h\",];version=\"1\";x=todo(\"why\");}\ntypedef int a;\n\n\n\ntypedef int b;\ncontinuous_rc r;\n\
         buf_registry q;buf_registry p;\nconst int N=1;const int M = 2;policy(\"p.c\");declare_metadata(struct m);",
        "api cl {\n    headers = [\"a.h\", \"b.h\"];\n    version = \"1\";\n    x = todo(\"why\");\n}\n\n\
         typedef int a;\n\ntypedef int b;\n\ncontinuous_rc r;\n\nbuf_registry q;\nbuf_registry p;\n\n\
         const int N = 1;\nconst int M = 2;\n\npolicy(\"p.c\");\n\ndeclare_metadata(struct m);\n",
    );
}

#[test]
fn expressions_get_minimal_parentheses() {
    assert_formats(
        "const int A = (a + b) * c - (d - e) - f / (g * h);\n\
         const int B = a < b == (c < d) && (e || f) || !(g && h);\n\
         const int C = (a ? b : c) ? (d ? e : f) : f ? g : h;\n\
         const int D = -(-x) + (*p).x + (*p)[1] + p->q[2].r + &(&x) + ~(a | b) + sizeof(int *) + sizeof((n)) + sizeof((a * b));\n",
        "const int A = (a + b) * c - (d - e) - f / (g * h);\n\
         const int B = a < b == c < d && (e || f) || !(g && h);\n\
         const int C = (a ? b : c) ? d ? e : f : f ? g : h;\n\
         const int D = --x + (*p).x + (*p)[1] + p->q[2].r + & &x + ~(a | b) + sizeof(int *) + sizeof((n)) + sizeof((a * b));\n",
    );
}

#[test]
fn literals() {
    assert_formats(
        "const char *S = \"a\\\"b\\\\c\\n\\t\\r\\0\"; const char C = '\\''; const char Q = '\"'; const int H = 0x1F; \
         const int O = 010; const double F = 1.; const double G = 2.5e-3; const double E = 1e100; const double Z = 0.0;",
        "const char *S = \"a\\\"b\\\\c\\n\\t\\r\\0\";\nconst char C = '\\'';\nconst char Q = '\"';\nconst int H = 0x1F;\n\
         const int O = 8;\nconst double F = 1.0;\nconst double G = 0.0025;\nconst double E = 1e100;\nconst double Z = 0.0;\n",
    );
}

#[test]
fn statements() {
    assert_formats(
        "int f(int *p) { contextual_argument const char*s=name(p); metadata(p)->n=1; (*p).x=2; *p=3; min(a, b); \
         (g(1)); (x); type_cast(const struct s*); todo(\"later\"); replace_guest {  keep   this  }; }",
        "int f(int *p) {\n    contextual_argument const char *s = name(p);\n    metadata(p)->n = 1;\n    (*p).x = 2;\n    *p = 3;\n    \
         min(a, b);\n    (g(1));\n    (x);\n    type_cast(const struct s *);\n    todo(\"later\");\n    replace_guest {  keep   this  }\n}\n",
    );
}

#[test]
fn comments_stay_in_place() {
    assert_formats(
        "// top\ntypedef int a; // a\n/* before b */ typedef int b;\nint f(int x /* in decl */) { // open\n\
         in; // in\n\n// before out\nout;\n// last\n} // after\n",
        "// top\ntypedef int a; // a\n/* before b */\ntypedef int b;\n\n/* in decl */\nint f(int x) { // open\n    in; // in\n\n    \
         // before out\n    out;\n    // last\n} // after\n",
    );
}

#[test]
fn comments_around_else_and_empty_blocks() {
    assert_formats(
        "int f(int x) { if (x) { in; } // then\n else { out; } argument(x) { /* keep me inside */ } element { } }",
        "int f(int x) {\n    if (x) {\n        in;\n        // then\n    } else {\n        out;\n    }\n    \
         argument(x) { /* keep me inside */\n    }\n    element {}\n}\n",
    );
}

// ----- generated trees -----

fn sp<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn ty(kind: TypeExprKind) -> TypeExpr {
    TypeExpr { kind, span: Span::default() }
}

fn ex(kind: ExprKind) -> Expr {
    Expr { kind, span: Span::default() }
}

fn item(kind: ItemKind) -> Item {
    Item { kind, span: Span::default() }
}

fn base_type() -> impl Strategy<Value = TypeExpr> {
    use lapis_parser::ast::{BuiltinType, TagKind};
    prop_oneof![
        Just(ty(TypeExprKind::Builtin(BuiltinType::Int))),
        Just(ty(TypeExprKind::Builtin(BuiltinType::UnsignedLongLong))),
        Just(ty(TypeExprKind::Named("cl_mem".into()))),
        Just(ty(TypeExprKind::Tag { kind: TagKind::Struct, name: Some("s".into()), body: None })),
    ]
    .prop_flat_map(|base| prop_oneof![Just(base.clone()), Just(ty(TypeExprKind::Const(Box::new(base))))])
}

fn declarator_type() -> impl Strategy<Value = TypeExpr> {
    base_type().prop_recursive(4, 16, 3, |inner| {
        let param = (inner.clone(), prop::option::of(prop_oneof![Just("a"), Just("b")])).prop_map(|(ty, name)| Declaration {
            ty,
            name: name.map(|n| sp(n.to_string())),
            span: Span::default(),
        });
        prop_oneof![
            inner.clone().prop_map(|t| ty(TypeExprKind::Pointer(Box::new(t)))),
            inner.clone().prop_map(|t| ty(TypeExprKind::Const(Box::new(ty(TypeExprKind::Pointer(Box::new(t))))))),
            (inner.clone(), prop::option::of(0u64..100))
                .prop_map(|(t, len)| ty(TypeExprKind::Array { element: Box::new(t), len: len.map(|n| Box::new(ex(ExprKind::Int(n)))) })),
            (inner, prop::collection::vec(param, 0..3), any::<bool>())
                .prop_map(|(ret, params, variadic)| { ty(TypeExprKind::Function { ret: Box::new(ret), params, variadic }) }),
        ]
    })
}

fn expression() -> impl Strategy<Value = Expr> {
    use lapis_parser::ast::{BinaryOp::*, UnaryOp::*};
    let name = prop_oneof![Just("a"), Just("n"), Just("x1")].prop_map(|n| n.to_string());
    let leaf = prop_oneof![
        any::<u64>().prop_map(|v| ex(ExprKind::Int(v))),
        any::<f64>()
            .prop_filter("a literal is finite and positive", |v| v.is_finite() && v.is_sign_positive())
            .prop_map(|v| ex(ExprKind::Float(v))),
        any::<String>().prop_map(|s| ex(ExprKind::Str(s))),
        any::<char>().prop_map(|c| ex(ExprKind::Char(c as u32))),
        name.clone().prop_map(|n| ex(ExprKind::Name(n))),
        Just(ex(ExprKind::SizeofType(ty(TypeExprKind::Pointer(Box::new(ty(TypeExprKind::Named("T".into())))))))),
    ];
    leaf.prop_recursive(5, 32, 3, move |inner| {
        let unary = prop_oneof![Just(Neg), Just(Not), Just(BitNot), Just(Deref), Just(AddrOf)];
        let binary = prop_oneof![
            Just(Mul),
            Just(Div),
            Just(Rem),
            Just(Add),
            Just(Sub),
            Just(Shl),
            Just(Shr),
            Just(Lt),
            Just(Le),
            Just(Gt),
            Just(Ge),
            Just(Eq),
            Just(Ne),
            Just(BitAnd),
            Just(BitXor),
            Just(BitOr),
            Just(And),
            Just(Or),
        ];
        let b = |e: Expr| Box::new(e);
        prop_oneof![
            (unary, inner.clone()).prop_map(move |(op, e)| ex(ExprKind::Unary(op, b(e)))),
            (binary, inner.clone(), inner.clone()).prop_map(move |(op, l, r)| ex(ExprKind::Binary(op, b(l), b(r)))),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(move |(c, t, o)| ex(ExprKind::Ternary(b(c), b(t), b(o)))),
            (prop_oneof![Just("f"), Just("min"), Just("sizeof")], prop::collection::vec(inner.clone(), 0..3)).prop_map(|(f, args)| {
                // the parser only makes one-operand `sizeof` calls
                let args = if f == "sizeof" { args.into_iter().take(1).collect::<Vec<_>>() } else { args };
                let f = if f == "sizeof" && args.is_empty() { "f" } else { f };
                ex(ExprKind::Call(sp(f.to_string()), args))
            }),
            (inner.clone(), name.clone(), any::<bool>()).prop_map(move |(base, field, arrow)| ex(ExprKind::Member {
                base: b(base),
                field: sp(field),
                arrow,
            })),
            (inner.clone(), inner).prop_map(move |(base, index)| ex(ExprKind::Index(b(base), b(index)))),
        ]
    })
}

/// Formats a tree built by hand (no source text) and checks that the text
/// parses back to the same tree.
fn assert_round_trip(items: Vec<Item>) -> Result<(), TestCaseError> {
    let file = SourceFile { items, comments: Vec::new() };
    let text = format_file(&file, "");
    let (reparsed, diagnostics) = lapis_parser::parse(&text);
    prop_assert!(diagnostics.iter().all(|d| !d.is_error()), "{text}\n{diagnostics:#?}");
    prop_assert_eq!(model(&file), model(&reparsed), "{}", text);
    prop_assert_eq!(format_file(&reparsed, &text), text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_declarators_round_trip(t in declarator_type()) {
        let decl = Declaration { ty: t, name: Some(sp("X".to_string())), span: Span::default() };
        assert_round_trip(vec![item(ItemKind::Typedef(decl))])?;
    }

    #[test]
    fn generated_expressions_round_trip(value in expression(), target in expression()) {
        let constant = Constant {
            decl: Declaration {
                ty: ty(TypeExprKind::Named("T".into())),
                name: Some(sp("X".to_string())),
                span: Span::default(),
            },
            value: value.clone(),
        };
        let stmt = |kind| Stmt { kind, span: Span::default() };
        let body = lapis_parser::ast::Block {
            stmts: vec![
                stmt(StmtKind::Expr(value.clone())),
                stmt(StmtKind::Expr(ex(ExprKind::Assign(Box::new(target), Box::new(value))))),
            ],
            span: Span::default(),
        };
        let function = Function {
            decl: Declaration {
                ty: ty(TypeExprKind::Function {
                    ret: Box::new(ty(TypeExprKind::Named("T".into()))),
                    params: Vec::new(),
                    variadic: false,
                }),
                name: Some(sp("f".to_string())),
                span: Span::default(),
            },
            body: Some(body),
        };
        assert_round_trip(vec![item(ItemKind::Constant(constant)), item(ItemKind::Function(function))])?;
    }
}
