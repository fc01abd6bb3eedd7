//! Reading a C header with libclang into a [`Header`].
//!
//! "System header" here means "not part of the API being read": clang calls
//! everything under `/usr/include` a system header, which would make
//! `/usr/include/CL/cl_platform.h` (where `cl_int` lives) a system header of
//! `/usr/include/CL/cl.h`. So a file the API's own headers include from their
//! own folder, by a quoted name (`"zconf.h"`) or a path (`<CL/cl_platform.h>`),
//! is part of the API too; `<limits.h>` next to `/usr/include/zlib.h` is not.

use crate::clang::{self, Cursor, CursorKind, Diagnostic, FileId, Index, ParseFailure, Severity, Token, TokenKind, Type, TypeKind};
use crate::model::{CType, Enum, Field, Function, Header, Location, Macro, Param, Record, RecordKind, Signature, Typedef};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// How to preprocess the header (the `-I` and `-D` of a compiler).
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    pub include_dirs: Vec<PathBuf>,
    /// `(NAME, None)` is `-DNAME`; `(NAME, Some(VALUE))` is `-DNAME=VALUE`.
    pub defines: Vec<(String, Option<String>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("header not found: {}", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error(
        "libclang not found: install it (Debian: `apt-get install libclang-dev`) or set LIBCLANG_PATH to the folder holding \
         libclang.so (for example /usr/lib/llvm-14/lib)\n({detail})"
    )]
    LibclangMissing { detail: String },
    #[error("`{name}` not found (included from {from}): pass its folder with -I")]
    MissingInclude { name: String, from: String },
    /// Clang's own headers (`stddef.h`, `stdarg.h`...) sit next to libclang; a
    /// libclang installed without them (PoCL's, say) cannot parse much.
    #[error(
        "`{name}` not found (included from {from}): it is one of clang's builtin headers, which the libclang in use ({library}) \
         lacks; set LIBCLANG_PATH to the folder of a complete libclang (for example /usr/lib/llvm-14/lib, from \
         `apt-get install libclang-dev`)"
    )]
    MissingBuiltinHeader { name: String, from: String, library: String },
    #[error("{} does not parse as C:\n{}", path.display(), errors.join("\n"))]
    Parse { path: PathBuf, errors: Vec<String> },
    #[error("libclang could not parse {}: {reason}", path.display())]
    Libclang { path: PathBuf, reason: &'static str },
}

/// How many errors a parse failure lists.
const SHOWN_ERRORS: usize = 5;
/// How deep a type may nest before the reader gives up on it.
const MAX_DEPTH: usize = 64;

/// Reads `path` (as C11) and everything it includes.
pub fn read_header(path: &Path, options: &ReadOptions) -> Result<Header, ReadError> {
    // Checked here because libclang only says "failure" for a missing file.
    if let Err(source) = std::fs::read(path) {
        return Err(match source.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound { path: path.to_path_buf() },
            _ => ReadError::Unreadable { path: path.to_path_buf(), source },
        });
    }
    let index = Index::new().map_err(|detail| ReadError::LibclangMissing { detail })?;
    let mut args: Vec<String> = ["-x", "c", "-std=c11"].map(String::from).to_vec();
    args.extend(options.include_dirs.iter().map(|d| format!("-I{}", d.display())));
    args.extend(options.defines.iter().map(|(name, value)| match value {
        Some(value) => format!("-D{name}={value}"),
        None => format!("-D{name}"),
    }));
    let tu = index.parse(path, &args, clang::DETAILED_PREPROCESSING_RECORD | clang::SKIP_FUNCTION_BODIES).map_err(|failure| {
        let reason = match failure {
            ParseFailure::Crashed => "libclang crashed",
            ParseFailure::InvalidArguments => "invalid arguments (check the -I and -D values)",
            ParseFailure::Failed => "it gave no reason",
        };
        ReadError::Libclang { path: path.to_path_buf(), reason }
    })?;
    check(path, &tu.diagnostics())?;
    let mut reader = Reader::new();
    reader.walk(tu.cursor().children(), 0);
    Ok(reader.finish())
}

/// Turns the unit's errors into a `ReadError`: a missing include first, since
/// everything after it is noise.
fn check(path: &Path, diagnostics: &[Diagnostic]) -> Result<(), ReadError> {
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.severity >= Severity::Error).collect();
    let place = |d: &Diagnostic| match &d.position.file {
        Some(file) => format!("{}:{}", file.path, d.position.line),
        None => "the command line".to_string(),
    };
    for d in &errors {
        // clang says `'CL/cl_platform.h' file not found` (sometimes with more after it).
        if let Some(name) = d.message.strip_prefix('\'').and_then(|m| m.split_once("' file not found")).map(|(name, _)| name) {
            let (name, from) = (name.to_string(), place(d));
            if is_builtin_header(&name) {
                let library = clang::library_path().map_or("unknown".to_string(), |p| p.display().to_string());
                return Err(ReadError::MissingBuiltinHeader { name, from, library });
            }
            return Err(ReadError::MissingInclude { name, from });
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let mut shown: Vec<String> = errors.iter().take(SHOWN_ERRORS).map(|d| format!("{}: {}", place(d), d.message)).collect();
    if errors.len() > SHOWN_ERRORS {
        shown.push(format!("... and {} more", errors.len() - SHOWN_ERRORS));
    }
    Err(ReadError::Parse { path: path.to_path_buf(), errors: shown })
}

/// Headers only clang's resource folder provides (libc has no copy).
fn is_builtin_header(name: &str) -> bool {
    const BUILTIN: &[&str] = &[
        "stddef.h",
        "stdarg.h",
        "stdbool.h",
        "stdalign.h",
        "stdatomic.h",
        "stdnoreturn.h",
        "float.h",
        "iso646.h",
        "varargs.h",
        "mm_malloc.h",
        "cpuid.h",
        "unwind.h",
    ];
    BUILTIN.contains(&name) || name.ends_with("intrin.h")
}

/// Collects declarations while walking the unit's top level in order.
struct Reader {
    /// Non-system files that clang nonetheless calls system headers (see the module comment).
    own_files: HashSet<FileId>,
    header: Header,
    functions: HashSet<String>,
    /// Names already listed, for deduplication.
    typedefs: HashSet<String>,
    records: HashSet<String>,
    enums: HashSet<String>,
    enum_constants: HashMap<String, i64>,
    /// Every object-like macro body (any file), for macros that use others.
    macro_bodies: HashMap<String, Vec<Token>>,
    /// The macros to output, if they evaluate: in order, from the API's files.
    macro_candidates: Vec<(String, Location)>,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            own_files: HashSet::new(),
            header: Header::default(),
            functions: HashSet::new(),
            typedefs: HashSet::new(),
            records: HashSet::new(),
            enums: HashSet::new(),
            enum_constants: HashMap::new(),
            macro_bodies: HashMap::new(),
            macro_candidates: Vec::new(),
        }
    }

    fn is_own(&self, c: &Cursor) -> bool {
        if c.is_in_main_file() || !c.is_in_system_header() {
            return c.position().file.is_some();
        }
        c.position().file.and_then(|f| f.id).is_some_and(|id| self.own_files.contains(&id))
    }

    fn walk(&mut self, cursors: Vec<Cursor>, depth: usize) {
        for c in cursors {
            match c.kind() {
                CursorKind::InclusionDirective => self.include(c),
                CursorKind::MacroDefinition => self.macro_definition(c),
                CursorKind::Function => self.function(c),
                CursorKind::Typedef => self.typedef(c),
                CursorKind::Struct | CursorKind::Union if self.is_own(&c) => {
                    if let Some(name) = tag_name(&c) {
                        self.note_record(c, &name, 0);
                    }
                }
                CursorKind::Enum => {
                    let variants = self.variants(c);
                    self.enum_constants.extend(variants);
                    if self.is_own(&c) {
                        if let Some(name) = tag_name(&c) {
                            self.note_enum(c, &name);
                        }
                    }
                }
                CursorKind::Container if depth < MAX_DEPTH => self.walk(c.children(), depth + 1),
                _ => {}
            }
        }
    }

    /// Marks an included file as the API's own (see the module comment).
    fn include(&mut self, c: Cursor) {
        let (Some(file), Some(includer)) = (c.included_file(), c.position().file) else { return };
        let Some(id) = file.id else { return };
        if !self.is_own(&c) || self.own_files.contains(&id) {
            return;
        }
        let quoted = c.tokens().iter().any(|t| t.kind == TokenKind::Literal && t.text.starts_with('"'));
        if (quoted || c.spelling().contains('/')) && folder(&file.path) == folder(&includer.path) {
            self.own_files.insert(id);
        }
    }

    fn macro_definition(&mut self, c: Cursor) {
        if c.is_macro_function_like() {
            return;
        }
        let mut tokens = c.tokens();
        if tokens.is_empty() {
            return;
        }
        let name = tokens.remove(0).text;
        tokens.retain(|t| t.kind != TokenKind::Comment);
        if tokens.is_empty() {
            return; // include guards, feature flags
        }
        // Predefined and `-D` macros have no file: usable by others, not output.
        if let Some(file) = c.position().file.filter(|_| self.is_own(&c) && !self.macro_bodies.contains_key(&name)) {
            self.macro_candidates.push((name.clone(), Location { file: file.path, line: c.position().line }));
        }
        self.macro_bodies.insert(name, tokens);
    }

    fn function(&mut self, c: Cursor) {
        // `static inline` helpers are not entry points of the library.
        if !self.is_own(&c) || c.is_static() {
            return;
        }
        let name = c.spelling();
        if !self.functions.insert(name.clone()) {
            return;
        }
        let params =
            c.arguments().into_iter().map(|a| Param { name: non_empty(a.spelling()), ty: self.decl_type(a, a.ty(), true, 0) }).collect();
        let signature = Signature { ret: self.convert(c.result_type(), true, 0), params, variadic: c.is_variadic() };
        self.header.functions.push(Function { name, signature, location: location(&c), in_main_file: c.is_in_main_file() });
    }

    fn typedef(&mut self, c: Cursor) {
        let name = c.spelling();
        if self.typedefs.contains(&name) {
            return;
        }
        let own = self.is_own(&c);
        let target = self.decl_type(c, c.typedef_underlying(), own, 0);
        self.typedefs.insert(name.clone());
        self.header.typedefs.push(Typedef { name, target, location: location(&c), in_system_header: !own });
    }

    /// The type of a declaration; a function type written in it gets the
    /// parameter names written there (`void (*pfn)(cl_event event, void *user_data)`).
    fn decl_type(&mut self, c: Cursor, ty: Type, note: bool, depth: usize) -> CType {
        let mut converted = self.convert(ty, note, depth);
        let signature = match &mut converted {
            CType::Function(signature) => Some(signature),
            CType::Pointer { pointee, .. } => match pointee.as_mut() {
                CType::Function(signature) => Some(signature),
                _ => None,
            },
            _ => None,
        };
        if let Some(signature) = signature {
            let names: Vec<String> = c.children().iter().filter(|p| p.kind() == CursorKind::Param).map(Cursor::spelling).collect();
            if names.len() == signature.params.len() {
                for (param, name) in signature.params.iter_mut().zip(names) {
                    param.name = non_empty(name);
                }
            }
        }
        converted
    }

    /// `note`: record the named structs and enums met (only for the API's own
    /// declarations, so that `<stdio.h>` does not bring `struct _IO_FILE`).
    fn convert(&mut self, ty: Type, note: bool, depth: usize) -> CType {
        if depth > MAX_DEPTH {
            return CType::Builtin(ty.spelling());
        }
        let depth = depth + 1;
        match ty.kind() {
            TypeKind::Void => CType::Void,
            TypeKind::Builtin(name) => CType::Builtin(name.to_string()),
            TypeKind::Typedef => match ty.declaration() {
                Some(decl) => CType::Typedef(decl.spelling()),
                None => CType::Typedef(ty.spelling().trim_start_matches("const ").to_string()),
            },
            TypeKind::Elaborated => self.convert(ty.named(), note, depth),
            TypeKind::Attributed => self.convert(ty.modified(), note, depth),
            TypeKind::Pointer => {
                let pointee = ty.pointee();
                CType::Pointer { pointee_const: pointee.is_const(), pointee: Box::new(self.convert(pointee, note, depth)) }
            }
            TypeKind::ConstantArray => CType::Array { element: Box::new(self.convert(ty.element(), note, depth)), len: ty.array_size() },
            TypeKind::IncompleteArray | TypeKind::VariableArray => {
                CType::Array { element: Box::new(self.convert(ty.element(), note, depth)), len: None }
            }
            TypeKind::FunctionProto | TypeKind::FunctionNoProto => {
                let params = ty.arguments().into_iter().map(|a| Param { name: None, ty: self.convert(a, note, depth) }).collect();
                CType::Function(Box::new(Signature { ret: self.convert(ty.result(), note, depth), params, variadic: ty.is_variadic() }))
            }
            TypeKind::Record => self.record_type(ty, note, depth),
            TypeKind::Enum => self.enum_type(ty, note),
            // Sugar libclang does not expose (a decayed `int a[4]` parameter...):
            // the canonical type is right, if less faithful to the spelling.
            TypeKind::Other | TypeKind::Invalid => {
                let canonical = ty.canonical();
                match canonical.kind() {
                    TypeKind::Other | TypeKind::Invalid => CType::Builtin(ty.spelling().trim_start_matches("const ").to_string()),
                    _ => self.convert(canonical, note, depth),
                }
            }
        }
    }

    fn record_type(&mut self, ty: Type, note: bool, depth: usize) -> CType {
        let Some(decl) = ty.declaration() else { return CType::Builtin(ty.spelling()) };
        let kind = record_kind(&decl);
        match tag_name(&decl) {
            Some(name) => {
                if note {
                    self.note_record(decl, &name, depth);
                }
                CType::Record { kind, name: Some(name), fields: None }
            }
            None => CType::Record { kind, name: None, fields: Some(self.fields(ty, note, depth)) },
        }
    }

    /// Adds a named record once, its fields (if defined) read after it is in
    /// the list so that self-references stop.
    fn note_record(&mut self, decl: Cursor, name: &str, depth: usize) {
        if !self.records.insert(name.to_string()) {
            return;
        }
        let definition = decl.definition();
        let at = definition.unwrap_or(decl);
        let index = self.header.records.len();
        self.header.records.push(Record { kind: record_kind(&decl), name: name.to_string(), fields: None, location: location(&at) });
        if let Some(definition) = definition {
            let fields = self.fields(definition.ty(), true, depth);
            self.header.records[index].fields = Some(fields);
        }
    }

    fn fields(&mut self, record: Type, note: bool, depth: usize) -> Vec<Field> {
        record.fields().into_iter().map(|f| Field { name: f.spelling(), ty: self.decl_type(f, f.ty(), note, depth) }).collect()
    }

    fn enum_type(&mut self, ty: Type, note: bool) -> CType {
        let Some(decl) = ty.declaration() else { return CType::Builtin(ty.spelling()) };
        match tag_name(&decl) {
            Some(name) => {
                if note {
                    self.note_enum(decl, &name);
                }
                CType::Enum { name: Some(name), variants: None }
            }
            None => CType::Enum { name: None, variants: Some(self.variants(decl)) },
        }
    }

    fn note_enum(&mut self, decl: Cursor, name: &str) {
        if !self.enums.insert(name.to_string()) {
            return;
        }
        let at = decl.definition().unwrap_or(decl);
        let variants = self.variants(at);
        self.header.enums.push(Enum { name: name.to_string(), variants, location: location(&at) });
    }

    fn variants(&mut self, decl: Cursor) -> Vec<(String, i64)> {
        let definition = decl.definition().unwrap_or(decl);
        let unsigned = definition.enum_integer_type().is_unsigned_integer();
        definition
            .children()
            .into_iter()
            .filter(|c| c.kind() == CursorKind::EnumConstant)
            .map(|c| (c.spelling(), c.enum_constant_value(unsigned)))
            .collect()
    }

    fn finish(mut self) -> Header {
        let typedef_targets: HashMap<&str, &CType> = self.header.typedefs.iter().map(|t| (t.name.as_str(), &t.target)).collect();
        let mut env = MacroEnv {
            bodies: &self.macro_bodies,
            enum_constants: &self.enum_constants,
            typedefs: typedef_targets,
            cache: HashMap::new(),
            active: Vec::new(),
            cut: false,
        };
        let macros: Vec<Macro> = self
            .macro_candidates
            .iter()
            .filter_map(|(name, location)| {
                eval::Env::value_of(&mut env, name).map(|v| Macro { name: name.clone(), value: v.to_i64(), location: location.clone() })
            })
            .collect();
        self.header.macros = macros;
        self.header
    }
}

fn record_kind(decl: &Cursor) -> RecordKind {
    if decl.kind() == CursorKind::Union {
        RecordKind::Union
    } else {
        RecordKind::Struct
    }
}

/// A struct, union or enum's own name: `None` when anonymous, including
/// `typedef struct { ... } name;` (libclang 16 and newer spell those
/// "struct (unnamed at ...)", older ones leave them empty).
fn tag_name(decl: &Cursor) -> Option<String> {
    if decl.is_anonymous() {
        return None;
    }
    let name = decl.spelling();
    (!name.is_empty() && !name.contains(' ')).then_some(name)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn location(c: &Cursor) -> Location {
    let position = c.position();
    Location { file: position.file.map(|f| f.path).unwrap_or_default(), line: position.line }
}

/// The real folder of a file, so that `a/../CL/x.h` and `CL/y.h` compare equal.
fn folder(path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    real.parent().map(Path::to_path_buf)
}

/// Macro values for the evaluator: other macros (evaluated on demand, as the
/// preprocessor expands them at use), enum constants, and typedef names for casts.
struct MacroEnv<'a> {
    bodies: &'a HashMap<String, Vec<Token>>,
    enum_constants: &'a HashMap<String, i64>,
    typedefs: HashMap<&'a str, &'a CType>,
    cache: HashMap<String, Option<eval::Val>>,
    /// Macros being expanded: a macro never expands inside itself.
    active: Vec<String>,
    /// Set when the depth limit cut an expansion short: failures are then not
    /// cached, since the same macro may evaluate from a shallower start.
    cut: bool,
}

impl eval::Env for MacroEnv<'_> {
    fn value_of(&mut self, name: &str) -> Option<eval::Val> {
        if let Some(v) = self.cache.get(name) {
            return *v;
        }
        if self.active.is_empty() {
            self.cut = false;
        }
        if self.active.len() > MAX_DEPTH {
            self.cut = true;
            return None;
        }
        if self.active.iter().any(|a| a == name) {
            return None;
        }
        let value = match self.bodies.get(name) {
            Some(body) => {
                self.active.push(name.to_string());
                let v = eval::evaluate(body, self);
                self.active.pop();
                v
            }
            None => self.enum_constants.get(name).map(|&v| eval::Val::from_i64(v)),
        };
        if value.is_some() || !self.cut {
            self.cache.insert(name.to_string(), value);
        }
        value
    }

    fn type_named(&self, name: &str) -> Option<Option<eval::IntTy>> {
        let mut ty = *self.typedefs.get(name)?;
        for _ in 0..MAX_DEPTH {
            match ty {
                CType::Typedef(next) => match self.typedefs.get(next.as_str()) {
                    Some(next) => ty = next,
                    None => return Some(None),
                },
                CType::Builtin(builtin) => return Some(eval::IntTy::of_builtin(builtin)),
                _ => return Some(None),
            }
        }
        Some(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clang::{File, Position};

    fn error_at(message: &str) -> Diagnostic {
        let file = File { path: "/usr/include/x86_64-linux-gnu/sys/types.h".into(), id: None };
        Diagnostic { severity: Severity::Fatal, message: message.into(), position: Position { file: Some(file), line: 144 } }
    }

    /// What a libclang without its resource folder (PoCL's libclang 15, say) gives.
    #[test]
    fn missing_builtin_header_points_at_libclang_path() {
        let error = check(Path::new("x.h"), &[error_at("'stddef.h' file not found")]).unwrap_err().to_string();
        assert!(error.starts_with("`stddef.h` not found (included from /usr/include/x86_64-linux-gnu/sys/types.h:144)"), "{error}");
        assert!(error.contains("set LIBCLANG_PATH"), "{error}");
    }

    #[test]
    fn missing_include_and_other_errors() {
        let error = check(Path::new("x.h"), &[error_at("'foo/bar.h' file not found")]).unwrap_err().to_string();
        assert!(error.ends_with("types.h:144): pass its folder with -I"), "{error}");
        let many: Vec<Diagnostic> = (0..7).map(|i| error_at(&format!("error {i}"))).collect();
        let ReadError::Parse { errors, .. } = check(Path::new("x.h"), &many).unwrap_err() else { panic!() };
        assert_eq!(errors.len(), SHOWN_ERRORS + 1);
        assert_eq!(errors.last().map(String::as_str), Some("... and 2 more"));
        let warning = Diagnostic { severity: Severity::Warning, ..error_at("unused") };
        assert!(check(Path::new("x.h"), &[warning]).is_ok());
    }
}

/// A small evaluator for integer constant expressions in macro bodies, with
/// C's types (`int`, `unsigned long`...) so that `~0u` or `1 << 31` give what
/// a compiler gives. LP64: `long` is 64 bits.
mod eval {
    use crate::clang::{Token, TokenKind};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IntTy {
        bits: u32,
        unsigned: bool,
    }

    const INT: IntTy = IntTy { bits: 32, unsigned: false };
    const UINT: IntTy = IntTy { bits: 32, unsigned: true };
    const LONG: IntTy = IntTy { bits: 64, unsigned: false };
    const ULONG: IntTy = IntTy { bits: 64, unsigned: true };

    impl IntTy {
        /// The integer type a builtin spelling names (as the reader spells them).
        pub fn of_builtin(name: &str) -> Option<IntTy> {
            let words: Vec<&str> = name.split_whitespace().collect();
            type_of_words(&words)
        }
    }

    /// `unsigned long`, `signed char`, `int`...; `None` for other types.
    fn type_of_words(words: &[&str]) -> Option<IntTy> {
        let mut unsigned = false;
        let mut bits = 32;
        let mut integer = false;
        for w in words {
            match *w {
                "const" | "volatile" => {}
                "signed" | "int" => integer = true,
                "unsigned" => (unsigned, integer) = (true, true),
                "char" => (bits, integer) = (8, true),
                "short" => (bits, integer) = (16, true),
                "long" => (bits, integer) = (64, true),
                _ => return None,
            }
        }
        integer.then_some(IntTy { bits, unsigned })
    }

    /// A value of some C integer type, kept in that type's range.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Val {
        v: i128,
        ty: IntTy,
    }

    impl Val {
        fn new(v: i128, ty: IntTy) -> Val {
            let modulus = 1i128 << ty.bits;
            let mut v = v.rem_euclid(modulus);
            if !ty.unsigned && v >= modulus / 2 {
                v -= modulus;
            }
            Val { v, ty }
        }

        pub fn from_i64(v: i64) -> Val {
            let ty = if i32::try_from(v).is_ok() { INT } else { LONG };
            Val::new(v.into(), ty)
        }

        /// The value; an `unsigned long` above `i64::MAX` keeps its bits.
        pub fn to_i64(self) -> i64 {
            self.v as i64
        }

        /// C's integer promotion: anything narrower than `int` becomes `int`.
        fn promoted(self) -> Val {
            if self.ty.bits < 32 {
                Val::new(self.v, INT)
            } else {
                self
            }
        }
    }

    pub trait Env {
        fn value_of(&mut self, name: &str) -> Option<Val>;
        /// `Some(ty)` when `name` is a type name, `ty` being its integer type if it has one.
        fn type_named(&self, name: &str) -> Option<Option<IntTy>>;
    }

    /// Evaluates a whole macro body; `None` unless it is an integer constant expression.
    pub fn evaluate(tokens: &[Token], env: &mut dyn Env) -> Option<Val> {
        let mut parser = Parser { tokens, pos: 0, env, depth: 0 };
        let value = parser.binary(0)?;
        (parser.pos == tokens.len()).then_some(value)
    }

    struct Parser<'t, 'e> {
        tokens: &'t [Token],
        pos: usize,
        env: &'e mut dyn Env,
        /// Nesting so far: `((((...))))` and `- - - -` are bounded.
        depth: usize,
    }

    fn precedence(op: &str) -> Option<u8> {
        Some(match op {
            "*" | "/" | "%" => 10,
            "+" | "-" => 9,
            "<<" | ">>" => 8,
            "&" => 5,
            "^" => 4,
            "|" => 3,
            _ => return None,
        })
    }

    impl Parser<'_, '_> {
        fn peek(&self) -> Option<&Token> {
            self.tokens.get(self.pos)
        }

        fn is_punct(&self, at: usize, text: &str) -> bool {
            self.tokens.get(at).is_some_and(|t| t.kind == TokenKind::Punctuation && t.text == text)
        }

        /// Precedence climbing over left-associative binary operators.
        fn binary(&mut self, min: u8) -> Option<Val> {
            let mut lhs = self.unary()?;
            while let Some(prec) = self.peek().filter(|t| t.kind == TokenKind::Punctuation).and_then(|t| precedence(&t.text)) {
                if prec < min {
                    break;
                }
                let op = self.tokens[self.pos].text.clone();
                self.pos += 1;
                let rhs = self.binary(prec + 1)?;
                lhs = apply(&op, lhs, rhs)?;
            }
            Some(lhs)
        }

        fn unary(&mut self) -> Option<Val> {
            self.depth += 1;
            if self.depth > 256 {
                return None;
            }
            let value = self.unary_inner();
            self.depth -= 1;
            value
        }

        fn unary_inner(&mut self) -> Option<Val> {
            let token = self.peek()?.clone();
            self.pos += 1;
            match (token.kind, token.text.as_str()) {
                (TokenKind::Punctuation, "-") => self.unary().map(|a| {
                    let a = a.promoted();
                    Val::new(-a.v, a.ty)
                }),
                (TokenKind::Punctuation, "+") => self.unary().map(Val::promoted),
                (TokenKind::Punctuation, "~") => self.unary().map(|a| {
                    let a = a.promoted();
                    Val::new(!a.v, a.ty)
                }),
                (TokenKind::Punctuation, "!") => self.unary().map(|a| Val::new((a.v == 0).into(), INT)),
                (TokenKind::Punctuation, "(") => {
                    if let Some((len, ty)) = self.cast() {
                        self.pos += len;
                        let value = self.unary()?;
                        // A cast to a non-integer typedef (a pointer, say) is ignored.
                        return Some(ty.map_or(value, |ty| Val::new(value.v, ty)));
                    }
                    let value = self.binary(0)?;
                    self.is_punct(self.pos, ")").then(|| self.pos += 1)?;
                    Some(value)
                }
                (TokenKind::Literal, text) => literal(text),
                (TokenKind::Identifier, name) => self.env.value_of(name),
                _ => None,
            }
        }

        /// After a `(`: `(type)` as (tokens up to and with the `)`, its
        /// integer type if known). Types are keywords (`unsigned int`) or typedef names.
        fn cast(&self) -> Option<(usize, Option<IntTy>)> {
            let start = self.pos;
            let mut end = start;
            while self.tokens.get(end).is_some_and(|t| t.kind != TokenKind::Punctuation) {
                end += 1;
            }
            if end == start || !self.is_punct(end, ")") {
                return None;
            }
            let words: Vec<&str> = self.tokens[start..end].iter().map(|t| t.text.as_str()).collect();
            let ty = match &self.tokens[start..end] {
                [t] | [_, t] if t.kind == TokenKind::Identifier => {
                    if words.len() == 2 && words[0] != "const" {
                        return None;
                    }
                    self.env.type_named(&t.text)?
                }
                tokens if tokens.iter().all(|t| t.kind == TokenKind::Keyword) => Some(type_of_words(&words)?),
                _ => return None,
            };
            Some((end + 1 - start, ty))
        }
    }

    fn apply(op: &str, a: Val, b: Val) -> Option<Val> {
        let (a, b) = (a.promoted(), b.promoted());
        if op == "<<" || op == ">>" {
            // The result has the left operand's type; out-of-range counts are undefined.
            let n = u32::try_from(b.v).ok().filter(|&n| n < a.ty.bits)?;
            return Some(Val::new(if op == "<<" { a.v.wrapping_shl(n) } else { a.v >> n }, a.ty));
        }
        let ty = common(a.ty, b.ty);
        let (x, y) = (Val::new(a.v, ty).v, Val::new(b.v, ty).v);
        let v = match op {
            "+" => x + y,
            "-" => x - y,
            "*" => x.wrapping_mul(y),
            "/" => x.checked_div(y)?,
            "%" => x.checked_rem(y)?,
            "&" => x & y,
            "^" => x ^ y,
            "|" => x | y,
            _ => return None,
        };
        Some(Val::new(v, ty))
    }

    /// C's usual arithmetic conversions, for promoted operands.
    fn common(a: IntTy, b: IntTy) -> IntTy {
        if a.bits != b.bits {
            // The wider type holds every value of the narrower one (64 > 32).
            return if a.bits > b.bits { a } else { b };
        }
        IntTy { bits: a.bits, unsigned: a.unsigned || b.unsigned }
    }

    /// An integer or character literal, typed as C types it.
    fn literal(text: &str) -> Option<Val> {
        if let Some(body) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
            return char_literal(body);
        }
        let lower = text.to_ascii_lowercase().replace('\'', "");
        let digits_end = lower.trim_end_matches(['u', 'l']).len();
        let (number, suffix) = lower.split_at(digits_end);
        let (radix, digits) = if let Some(hex) = number.strip_prefix("0x") {
            (16, hex)
        } else if let Some(binary) = number.strip_prefix("0b") {
            (2, binary)
        } else if number.len() > 1 && number.starts_with('0') {
            (8, &number[1..])
        } else {
            (10, number)
        };
        let value = u64::from_str_radix(digits, radix).ok()?;
        let unsigned = suffix.contains('u');
        let long = suffix.contains('l');
        if suffix.matches('u').count() > 1 || suffix.matches('l').count() > 2 {
            return None;
        }
        // The first type of C11 6.4.4.1's list that holds the value.
        let candidates: &[IntTy] = match (unsigned, long, radix == 10) {
            (false, false, true) => &[INT, LONG],
            (false, false, false) => &[INT, UINT, LONG, ULONG],
            (false, true, true) => &[LONG],
            (false, true, false) => &[LONG, ULONG],
            (true, false, _) => &[UINT, ULONG],
            (true, true, _) => &[ULONG],
        };
        let fits = |ty: &IntTy| Val::new(value.into(), *ty).v == i128::from(value);
        // A decimal too big for `long` is `unsigned long` in practice (clang warns).
        let ty = candidates.iter().copied().find(fits).unwrap_or(ULONG);
        Some(Val::new(value.into(), ty))
    }

    fn char_literal(body: &str) -> Option<Val> {
        let value = match body.as_bytes() {
            [c] if *c != b'\\' => i128::from(*c as i8),
            [b'\\', rest @ ..] => match rest {
                [b'n'] => 10,
                [b't'] => 9,
                [b'r'] => 13,
                [b'0'] => 0,
                [b'\\'] => 92,
                [b'\''] => 39,
                [b'x', hex @ ..] => i128::from(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()? as i8),
                _ => return None,
            },
            _ => return None,
        };
        Some(Val::new(value, INT))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        struct NoEnv;
        impl Env for NoEnv {
            fn value_of(&mut self, name: &str) -> Option<Val> {
                (name == "A").then(|| Val::new(4, INT))
            }
            fn type_named(&self, name: &str) -> Option<Option<IntTy>> {
                match name {
                    "cl_int" => Some(Some(INT)),
                    "cl_uchar" => Some(Some(IntTy { bits: 8, unsigned: true })),
                    "handle" => Some(None),
                    _ => None,
                }
            }
        }

        /// A rough tokenizer, enough for these tests (libclang does the real one).
        fn tokens(src: &str) -> Vec<Token> {
            let mut out = Vec::new();
            let chars: Vec<char> = src.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                let start = i;
                let kind = if c.is_whitespace() {
                    i += 1;
                    continue;
                } else if c.is_ascii_digit() || c == '\'' {
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '\'' || chars[i] == '\\') {
                        i += 1;
                    }
                    TokenKind::Literal
                } else if c.is_alphabetic() || c == '_' {
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    let word: String = chars[start..i].iter().collect();
                    if ["unsigned", "int", "long", "char", "short", "signed", "const"].contains(&word.as_str()) {
                        TokenKind::Keyword
                    } else {
                        TokenKind::Identifier
                    }
                } else {
                    i += if chars.get(i + 1) == Some(&c) && (c == '<' || c == '>') { 2 } else { 1 };
                    TokenKind::Punctuation
                };
                out.push(Token { kind, text: chars[start..i].iter().collect() });
            }
            out
        }

        fn eval(src: &str) -> Option<i64> {
            evaluate(&tokens(src), &mut NoEnv).map(Val::to_i64)
        }

        #[test]
        fn literals_and_operators() {
            assert_eq!(eval("-30"), Some(-30));
            assert_eq!(eval("(1 << 3)"), Some(8));
            assert_eq!(eval("0x10u"), Some(16));
            assert_eq!(eval("((cl_int)-5)"), Some(-5));
            assert_eq!(eval("0xFFFFFFFF"), Some(0xFFFF_FFFF));
            assert_eq!(eval("~0u"), Some(0xFFFF_FFFF));
            assert_eq!(eval("~0ULL"), Some(-1));
            assert_eq!(eval("(1 << 31)"), Some(i64::from(i32::MIN)));
            assert_eq!(eval("(1UL << 63)"), Some(i64::MIN));
            assert_eq!(eval("010"), Some(8));
            assert_eq!(eval("(-2147483647-1)"), Some(i64::from(i32::MIN)));
            assert_eq!(eval("A | 0x1 & 3 + 1"), Some(4));
            assert_eq!(eval("(A + 1) * 2"), Some(10));
            assert_eq!(eval("((cl_uchar)300)"), Some(44));
            assert_eq!(eval("((unsigned int)-1)"), Some(0xFFFF_FFFF));
            assert_eq!(eval("((handle)7)"), Some(7));
            assert_eq!(eval("'a'"), Some(97));
            assert_eq!(eval("'\\n'"), Some(10));
            assert_eq!(eval("10 / 3 % 2"), Some(1));
        }

        #[test]
        fn not_integer_constants() {
            for src in ["1.5", "B", "(A", "A)", "1 / 0", "1 << 40", "\"s\"", "(void *)0", "f(1)", "", "1 2"] {
                assert_eq!(eval(src), None, "{src}");
            }
            let deep = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
            assert_eq!(eval(&deep), None);
        }
    }
}
