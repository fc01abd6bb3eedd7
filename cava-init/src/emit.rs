//! Turns a header model into provisional LAPIS text: the `api` block, the
//! types and constants the functions need, callbacks, and each function with
//! the descriptors inference found. The text is then put in canonical form
//! by `lapis_parser::fmt`.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::ctypes::{declare, param_names, Types, LAPIS_BUILTIN_TYPEDEFS};
use crate::model::{CType, Function, Header, RecordKind};
use crate::rules::{self, ApiFacts};

/// What the person running `cava init` said on the command line.
#[derive(Clone, Debug, Default)]
pub struct LiftOptions {
    /// Only functions whose names start with this (e.g. `cl`).
    pub prefix: Option<String>,
    /// The API's name in the `api` block; derived from the header's name if absent.
    pub name: Option<String>,
    /// How the header is included (`CL/cl.h`).
    pub header: String,
    pub version: Option<String>,
    pub soname: Option<String>,
    pub library: Option<String>,
}

/// One top-level piece of the output, named so `--update` can tell what is new.
#[derive(Clone, Debug)]
pub struct Piece {
    pub kind: PieceKind,
    /// The names the piece declares (a type, its enumerators, a function...).
    pub names: Vec<String>,
    pub text: String,
    pub todos: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PieceKind {
    Type,
    Constant,
    Callback,
    Function,
}

/// Counts for the summary `cava init` prints and the book reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub functions: usize,
    pub functions_without_todo: usize,
    pub todos: usize,
    pub types: usize,
    pub constants: usize,
}

#[derive(Debug)]
pub struct Lifted {
    /// The `api` block and the defaults every lifted spec starts with.
    pub preamble: String,
    pub pieces: Vec<Piece>,
    pub stats: Stats,
}

impl Lifted {
    pub fn text(&self) -> String {
        let mut out = self.preamble.clone();
        let mut last = None;
        for piece in &self.pieces {
            if last != Some(piece.kind) {
                out.push_str(match piece.kind {
                    PieceKind::Type => "\n// Types\n",
                    PieceKind::Constant => "\n// Constants\n",
                    PieceKind::Callback => "\n// Callbacks\n",
                    PieceKind::Function => "\n// Functions\n",
                });
                last = Some(piece.kind);
            }
            out.push_str(&piece.text);
            out.push('\n');
        }
        out
    }
}

/// Lifts the functions of `header` (filtered by prefix) and everything they need.
pub fn lift(header: &Header, options: &LiftOptions) -> Lifted {
    let types = Types::new(header);
    let functions: Vec<&Function> = header
        .functions
        .iter()
        .filter(|f| f.in_main_file)
        .filter(|f| options.prefix.as_deref().is_none_or(|p| f.name.starts_with(p)))
        .collect();
    let error_type = most_common_error_type(&types, &functions);
    let constants = constants(header, options);
    // status values come from the error type's own enum when it has one
    let status_values: Vec<(String, i64)> = match error_type.as_ref().map(|t| types.resolve(t)) {
        Some(CType::Enum { name: Some(name), .. }) => {
            header.enums.iter().filter(|e| &e.name == name).flat_map(|e| e.variants.clone()).collect()
        }
        _ => constants.clone(),
    };
    let success = error_type.as_ref().and_then(|_| pick_constant(&status_values, &["SUCCESS", "_OK"], |v| v == 0));
    let failure = error_type
        .as_ref()
        .and_then(|_| pick_constant(&status_values, &["OUT_OF_HOST_MEMORY", "ERROR_UNKNOWN", "OUT_OF_RESOURCES"], |v| v != 0));
    let api = ApiFacts { error_type: error_type.as_ref(), success: success.clone() };

    let mut pieces = Vec::new();
    let mut stats = Stats::default();
    let mut needed = Needed::default();
    for f in &functions {
        needed.signature(&types, header, &f.signature);
    }
    if let Some(t) = &error_type {
        needed.ty(&types, header, t);
    }
    pieces.extend(type_pieces(header, &needed));
    stats.types = pieces.len();
    for scope in field_scopes(&types, header, &needed) {
        stats.todos += scope.todos;
        pieces.push(scope);
    }
    let enumerators: HashSet<&str> = header.enums.iter().flat_map(|e| e.variants.iter().map(|(n, _)| n.as_str())).collect();
    for (name, value) in &constants {
        if enumerators.contains(name.as_str()) || needed.typedefs.contains(name) {
            continue;
        }
        let ty = if i32::try_from(*value).is_ok() { "int" } else { "long long" };
        pieces.push(Piece {
            kind: PieceKind::Constant,
            names: vec![name.clone()],
            text: format!("const {ty} {name} = {value};"),
            todos: 0,
        });
        stats.constants += 1;
    }
    let mut function_pieces = Vec::new();
    let mut callback_names = HashSet::new();
    for f in &functions {
        let described = rules::describe(&types, &f.name, &f.signature, &api);
        for callback in &described.callbacks {
            let name = callback_name(callback);
            if callback_names.insert(name.clone()) {
                pieces.push(Piece {
                    kind: PieceKind::Callback,
                    names: vec![name],
                    text: callback.clone(),
                    todos: callback.matches("todo(").count(),
                });
            }
        }
        stats.functions += 1;
        stats.todos += described.todos;
        if described.todos == 0 {
            stats.functions_without_todo += 1;
        }
        function_pieces.push(Piece {
            kind: PieceKind::Function,
            names: vec![f.name.clone()],
            text: function_text(f, &described.lines),
            todos: described.todos,
        });
    }
    stats.todos += pieces.iter().filter(|p| p.kind == PieceKind::Callback).map(|p| p.todos).sum::<usize>();
    pieces.extend(function_pieces);
    pieces.sort_by_key(|p| p.kind);
    Lifted { preamble: preamble(options, error_type.as_ref(), success, failure), pieces, stats }
}

fn callback_name(text: &str) -> String {
    // `callback void name(...)`: the identifier before the first `(`
    let head = text.split('(').next().unwrap_or_default();
    head.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or_default().to_string()
}

fn function_text(f: &Function, lines: &[String]) -> String {
    let mut sig = f.signature.clone();
    for (p, name) in sig.params.iter_mut().zip(param_names(&f.signature.params)) {
        p.name = Some(name);
    }
    let prototype = declare(&CType::Function(Box::new(sig)), &f.name);
    if lines.is_empty() {
        return format!("{prototype};");
    }
    let body: Vec<String> = lines.iter().map(|l| format!("    {l}")).collect();
    format!("{prototype} {{\n{}\n}}", body.join("\n"))
}

fn preamble(options: &LiftOptions, error_type: Option<&CType>, success: Option<String>, failure: Option<String>) -> String {
    let name = options.name.clone().unwrap_or_else(|| api_name(&options.header));
    let todo = |what: &str| format!("todo(\"{what}\")");
    let string = |v: &Option<String>, what: &str| v.as_ref().map_or_else(|| todo(what), |s| format!("{s:?}"));
    let error_type = error_type.map_or_else(|| todo("the type the API returns its status in"), |t| declare(t, ""));
    let success = success.unwrap_or_else(|| todo("the status value that means success"));
    let failure = failure.unwrap_or_else(|| todo("a status value the guest returns when the API server cannot be reached"));
    format!(
        "// Lifted from `{header}` by `cava init`. Every `todo` marks a decision a person\n\
         // must make; `cava check` lists them. The other descriptors follow the rules in\n\
         // the book's \"Lifting a header\" chapter: review them too.\n\n\
         api {name} {{\n    version = {version};\n    headers = [{header:?}];\n    soname = {soname};\n    library = {library};\n    \
         error_type = {error_type};\n    success = {success};\n    failure = {failure};\n}}\n\n\
         // a `const char *` is a NUL-terminated input string (or NULL)\n\
         default(string) {{ in; buffer(this == 0 ? 0 : strlen(this) + 1); }}\n",
        header = options.header,
        version = string(&options.version, "the API version this spec describes"),
        soname = string(&options.soname, "the soname of the library the guest replaces, e.g. libfoo.so.1"),
        library = string(&options.library, "the library the API server loads, e.g. libfoo.so.1"),
    )
}

/// `CL/cl.h` → `cl`, `cuda.h` → `cuda`.
fn api_name(header: &str) -> String {
    let stem = header.rsplit('/').next().unwrap_or(header).split('.').next().unwrap_or("api");
    let name: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("api_{name}")
    } else {
        name
    }
}

/// The integer type most functions return, if it is a named type (`cl_int`,
/// `CUresult`) or `int` returned by most functions.
fn most_common_error_type(types: &Types, functions: &[&Function]) -> Option<CType> {
    let mut counts: HashMap<&CType, usize> = HashMap::new();
    for f in functions {
        if types.kind(&f.signature.ret) == crate::ctypes::Kind::Integer {
            *counts.entry(&f.signature.ret).or_default() += 1;
        }
    }
    let (ty, count) = counts.into_iter().max_by_key(|(t, c)| (*c, format!("{t:?}")))?;
    (count * 3 >= functions.len()).then(|| ty.clone())
}

/// Integer constants: enumerators and macros (macros filtered by the prefix, upper-cased).
fn constants(header: &Header, options: &LiftOptions) -> Vec<(String, i64)> {
    let prefix = options.prefix.as_ref().map(|p| p.to_ascii_uppercase());
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in &header.enums {
        for (name, value) in &e.variants {
            if seen.insert(name.clone()) {
                out.push((name.clone(), *value));
            }
        }
    }
    for m in &header.macros {
        if prefix.as_ref().is_some_and(|p| !m.name.starts_with(p.as_str())) {
            continue;
        }
        if seen.insert(m.name.clone()) {
            out.push((m.name.clone(), m.value));
        }
    }
    out
}

fn pick_constant(constants: &[(String, i64)], suffixes: &[&str], accept: impl Fn(i64) -> bool) -> Option<String> {
    suffixes.iter().find_map(|suffix| constants.iter().find(|(n, v)| n.ends_with(suffix) && accept(*v)).map(|(n, _)| n.clone()))
}

/// Types reachable from the lifted functions.
#[derive(Default)]
struct Needed {
    typedefs: BTreeSet<String>,
    records: BTreeSet<String>,
    enums: BTreeSet<String>,
}

impl Needed {
    fn signature(&mut self, types: &Types, header: &Header, sig: &crate::model::Signature) {
        self.ty(types, header, &sig.ret);
        for p in &sig.params {
            self.ty(types, header, &p.ty);
        }
    }

    fn ty(&mut self, types: &Types, header: &Header, ty: &CType) {
        match ty {
            CType::Typedef(name) => {
                if LAPIS_BUILTIN_TYPEDEFS.contains(&name.as_str()) || !self.typedefs.insert(name.clone()) {
                    return;
                }
                if let Some(t) = header.typedefs.iter().find(|t| &t.name == name) {
                    self.ty(types, header, &t.target);
                }
            }
            CType::Record { name: Some(name), .. } => {
                if !self.records.insert(name.clone()) {
                    return;
                }
                if let Some(fields) = header.records.iter().find(|r| &r.name == name).and_then(|r| r.fields.as_ref()) {
                    for f in fields {
                        self.ty(types, header, &f.ty);
                    }
                }
            }
            CType::Record { name: None, fields: Some(fields), .. } => {
                for f in fields {
                    self.ty(types, header, &f.ty);
                }
            }
            CType::Enum { name: Some(name), .. } => {
                self.enums.insert(name.clone());
            }
            CType::Pointer { pointee, .. } => self.ty(types, header, pointee),
            CType::Array { element, .. } => self.ty(types, header, element),
            CType::Function(sig) => self.signature(types, header, sig),
            _ => {}
        }
    }
}

/// Declarations of the needed types, in header order.
fn type_pieces(header: &Header, needed: &Needed) -> Vec<Piece> {
    let mut located: Vec<(&crate::model::Location, Piece)> = Vec::new();
    for e in header.enums.iter().filter(|e| needed.enums.contains(&e.name)) {
        let body: Vec<String> = e.variants.iter().map(|(n, v)| format!("    {n} = {v},")).collect();
        let mut names = vec![format!("enum {}", e.name)];
        names.extend(e.variants.iter().map(|(n, _)| n.clone()));
        located.push((
            &e.location,
            Piece { kind: PieceKind::Type, names, text: format!("enum {} {{\n{}\n}};", e.name, body.join("\n")), todos: 0 },
        ));
    }
    for r in header.records.iter().filter(|r| needed.records.contains(&r.name)) {
        let Some(fields) = &r.fields else { continue };
        let keyword = match r.kind {
            RecordKind::Struct => "struct",
            RecordKind::Union => "union",
        };
        let body: Vec<String> = fields.iter().map(|f| format!("    {};", declare(&f.ty, &f.name))).collect();
        let text = format!("{keyword} {} {{\n{}\n}};", r.name, body.join("\n"));
        located.push((&r.location, Piece { kind: PieceKind::Type, names: vec![format!("{keyword} {}", r.name)], text, todos: 0 }));
    }
    for t in header.typedefs.iter().filter(|t| needed.typedefs.contains(&t.name)) {
        // a compiler builtin (`__builtin_va_list`) has no C spelling: declare it as an opaque object
        let text = match &t.target {
            CType::Builtin(b) | CType::Typedef(b) if b.starts_with("__builtin") => {
                format!("// `{}` is the compiler's `{b}`\ntypedef struct {}_builtin *{};", t.name, t.name, t.name)
            }
            target => format!("typedef {};", declare(target, &t.name)),
        };
        located.push((&t.location, Piece { kind: PieceKind::Type, names: vec![t.name.clone()], text, todos: 0 }));
    }
    located.sort_by(|a, b| a.0.cmp(b.0));
    located.into_iter().map(|(_, p)| p).collect()
}

/// `type(struct T) { field(p) { todo(...); } }` for every pointer field that
/// no default describes: copying a struct means copying what its pointers
/// point to, and only a person knows how much that is.
fn field_scopes(types: &Types, header: &Header, needed: &Needed) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for r in header.records.iter().filter(|r| needed.records.contains(&r.name)) {
        let Some(fields) = &r.fields else { continue };
        let mut lines = Vec::new();
        let todos = undescribed_fields(types, fields, &mut lines, 1, 0);
        if todos == 0 {
            continue;
        }
        let keyword = match r.kind {
            RecordKind::Struct => "struct",
            RecordKind::Union => "union",
        };
        let text = format!("type({keyword} {}) {{\n{}\n}}", r.name, lines.join("\n"));
        pieces.push(Piece { kind: PieceKind::Type, names: vec![format!("type({keyword} {})", r.name)], text, todos });
    }
    pieces
}

/// Field scopes with a `todo` for each undescribed pointer, descending into
/// anonymous inline structs and unions (named ones get their own scope).
fn undescribed_fields(types: &Types, fields: &[crate::model::Field], lines: &mut Vec<String>, indent: usize, depth: usize) -> usize {
    let pad = "    ".repeat(indent);
    let mut todos = 0;
    for (i, f) in fields.iter().enumerate() {
        let name = if f.name.is_empty() { format!("__anonymous{i}") } else { f.name.clone() };
        match types.resolve(&f.ty) {
            CType::Record { name: None, fields: Some(inner), .. } if depth < 8 => {
                let mut inner_lines = Vec::new();
                let n = undescribed_fields(types, inner, &mut inner_lines, indent + 1, depth + 1);
                if n > 0 {
                    lines.push(format!("{pad}field({name}) {{"));
                    lines.extend(inner_lines);
                    lines.push(format!("{pad}}}"));
                    todos += n;
                }
            }
            _ if types.is_function_pointer(&f.ty) => {
                lines.push(format!(
                    "{pad}field({name}) {{ todo(\"a function pointer in a struct: `callback(T)` (and `userdata` on its user data), or `opaque`\"); }}"
                ));
                todos += 1;
            }
            _ if types.kind(&f.ty) == crate::ctypes::Kind::Pointer && !types.is_string(&f.ty) => {
                lines.push(format!(
                    "{pad}field({name}) {{ todo(\"`{}` in a struct: what does it point to, and how many?\"); }}",
                    declare(&f.ty, &f.name)
                ));
                todos += 1;
            }
            _ => {}
        }
    }
    todos
}
