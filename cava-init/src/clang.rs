//! A small safe wrapper over libclang (through `clang-sys`, loaded at run
//! time). This is the only module of the workspace with `unsafe` code: every
//! libclang call sits in a one-line `unsafe` block whose safety rests on the
//! same invariant, stated once here:
//!
//! * the library is loaded on the calling thread before any handle exists
//!   (`Index::new` makes sure of it, and handles are `!Send`, so they never
//!   reach a thread where it is not);
//! * `Cursor`s and `Type`s borrow their `TranslationUnit`, which borrows its
//!   `Index`, so libclang never sees a handle into a disposed unit.
#![allow(unsafe_code)]

use clang_sys as sys;
use std::ffi::{c_char, c_int, c_uint, CStr, CString};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Arc, OnceLock};

/// The library, loaded once per process. `clang-sys` keeps the loaded library
/// in a thread-local, so each thread that parses installs this shared copy.
static LIBRARY: OnceLock<Result<Arc<sys::SharedLibrary>, String>> = OnceLock::new();

/// Loads libclang (once) and makes it usable on the calling thread. The error
/// is the reason `clang-sys` gives (which paths it tried, or which is too old).
fn ensure_loaded() -> Result<(), String> {
    let library = LIBRARY.get_or_init(|| {
        let library = sys::load_manually()?;
        // `version()` probes for the newest symbol it knows; `None` means older
        // than 3.5. 9.0 is the oldest release every call below is known to work with.
        match library.version() {
            Some(v) if v >= sys::Version::V9_0 => Ok(Arc::new(library)),
            v => Err(format!(
                "{} is too old ({}); cava init needs libclang 9 or newer",
                library.path().display(),
                v.map_or("before 3.5".to_string(), |v| v.to_string())
            )),
        }
    });
    let library = library.clone()?;
    if !sys::is_loaded() {
        sys::set_library(Some(library));
    }
    Ok(())
}

/// Where the loaded libclang lives, for error messages.
pub fn library_path() -> Option<PathBuf> {
    match LIBRARY.get() {
        Some(Ok(library)) => Some(library.path().to_path_buf()),
        _ => None,
    }
}

/// Copies a libclang string and frees it.
fn take_string(s: sys::CXString) -> String {
    // SAFETY: `s` was just returned by libclang; clang_getCString gives a pointer
    // into it (or null) that stays valid until the dispose below.
    let text = unsafe {
        let p = sys::clang_getCString(s);
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    // SAFETY: `s` is owned by us and disposed exactly once.
    unsafe { sys::clang_disposeString(s) };
    text
}

/// Keeps the preprocessing record (macro definitions, `#include`s) in the unit.
pub const DETAILED_PREPROCESSING_RECORD: c_int = sys::CXTranslationUnit_DetailedPreprocessingRecord;
/// Declarations are all we read: function bodies (of `static inline`s) are skipped.
pub const SKIP_FUNCTION_BODIES: c_int = sys::CXTranslationUnit_SkipFunctionBodies;

/// A libclang index: the context translation units are parsed in.
#[derive(Debug)]
pub struct Index {
    raw: sys::CXIndex,
}

impl Index {
    /// Loads libclang if needed and creates an index (diagnostics are not
    /// printed: the caller reads them from the translation unit).
    pub fn new() -> Result<Index, String> {
        ensure_loaded()?;
        // SAFETY: the library is loaded on this thread (ensure_loaded).
        let raw = unsafe { sys::clang_createIndex(0, 0) };
        if raw.is_null() {
            return Err("libclang could not create an index".to_string());
        }
        Ok(Index { raw })
    }

    /// Parses `path` with command-line `args` and `CXTranslationUnit_*` `options`.
    /// The error is libclang's error code when no unit came back at all.
    pub fn parse(&self, path: &Path, args: &[String], options: c_int) -> Result<TranslationUnit<'_>, ParseFailure> {
        let path = CString::new(path.to_string_lossy().as_bytes()).map_err(|_| ParseFailure::InvalidArguments)?;
        let args: Vec<CString> =
            args.iter().map(|a| CString::new(a.as_bytes())).collect::<Result<_, _>>().map_err(|_| ParseFailure::InvalidArguments)?;
        let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let mut raw: sys::CXTranslationUnit = ptr::null_mut();
        // SAFETY: every pointer is valid for the call (the CStrings live until
        // the end of this function); no unsaved files; libclang writes `raw`.
        let code = unsafe {
            sys::clang_parseTranslationUnit2(
                self.raw,
                path.as_ptr(),
                argv.as_ptr(),
                argv.len() as c_int,
                ptr::null_mut(),
                0,
                options,
                &mut raw,
            )
        };
        match code {
            sys::CXError_Success if !raw.is_null() => Ok(TranslationUnit { raw, _index: PhantomData }),
            sys::CXError_Crashed => Err(ParseFailure::Crashed),
            sys::CXError_InvalidArguments => Err(ParseFailure::InvalidArguments),
            _ => Err(ParseFailure::Failed),
        }
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        // SAFETY: created by clang_createIndex; every unit borrowing it is gone.
        unsafe { sys::clang_disposeIndex(self.raw) }
    }
}

/// Why libclang returned no translation unit at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseFailure {
    Failed,
    Crashed,
    InvalidArguments,
}

/// A parsed file and everything it includes.
#[derive(Debug)]
pub struct TranslationUnit<'i> {
    raw: sys::CXTranslationUnit,
    _index: PhantomData<&'i Index>,
}

impl Drop for TranslationUnit<'_> {
    fn drop(&mut self) {
        // SAFETY: created by clang_parseTranslationUnit2; no cursor outlives `self`.
        unsafe { sys::clang_disposeTranslationUnit(self.raw) }
    }
}

impl TranslationUnit<'_> {
    pub fn cursor(&self) -> Cursor<'_> {
        // SAFETY: `self.raw` is a live unit.
        Cursor::wrap(unsafe { sys::clang_getTranslationUnitCursor(self.raw) })
    }

    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        // SAFETY: `self.raw` is a live unit.
        let n = unsafe { sys::clang_getNumDiagnostics(self.raw) };
        (0..n)
            .map(|i| {
                // SAFETY: `i` is in range; the diagnostic is disposed below.
                let d = unsafe { sys::clang_getDiagnostic(self.raw, i) };
                // SAFETY: `d` is a live diagnostic of a live unit.
                let (severity, message, location) = unsafe {
                    (sys::clang_getDiagnosticSeverity(d), sys::clang_getDiagnosticSpelling(d), sys::clang_getDiagnosticLocation(d))
                };
                let diagnostic = Diagnostic {
                    severity: match severity {
                        sys::CXDiagnostic_Fatal => Severity::Fatal,
                        sys::CXDiagnostic_Error => Severity::Error,
                        sys::CXDiagnostic_Warning => Severity::Warning,
                        _ => Severity::Note,
                    },
                    message: take_string(message),
                    position: Position::of(location),
                };
                // SAFETY: `d` came from clang_getDiagnostic and is disposed once.
                unsafe { sys::clang_disposeDiagnostic(d) };
                diagnostic
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Note,
    Warning,
    Error,
    Fatal,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub position: Position,
}

/// Identifies a file independently of the path it was reached by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId([u64; 3]);

/// A file libclang read, by name and identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub id: Option<FileId>,
}

impl File {
    fn wrap(raw: sys::CXFile) -> Option<File> {
        if raw.is_null() {
            return None;
        }
        // SAFETY: `raw` is a non-null file handle of a live unit.
        let path = take_string(unsafe { sys::clang_getFileName(raw) });
        let mut id = sys::CXFileUniqueID { data: [0; 3] };
        // SAFETY: as above; `id` is a valid out-parameter.
        let failed = unsafe { sys::clang_getFileUniqueID(raw, &mut id) };
        Some(File { path, id: (failed == 0).then_some(FileId(id.data)) })
    }
}

/// A source position, after macro expansion (a declaration written by a macro
/// is where the macro was used).
#[derive(Clone, Debug, Default)]
pub struct Position {
    pub file: Option<File>,
    pub line: u32,
}

impl Position {
    fn of(location: sys::CXSourceLocation) -> Position {
        let mut file: sys::CXFile = ptr::null_mut();
        let mut line: c_uint = 0;
        // SAFETY: `location` comes from a live unit; the out-parameters are
        // valid or null (libclang accepts null for those not wanted).
        unsafe { sys::clang_getExpansionLocation(location, &mut file, &mut line, ptr::null_mut(), ptr::null_mut()) };
        Position { file: File::wrap(file), line }
    }
}

/// The cursor kinds the reader handles; anything else is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorKind {
    Struct,
    Union,
    Enum,
    Field,
    EnumConstant,
    Function,
    Param,
    Typedef,
    /// Wrappers (`extern "C"` in C++, unexposed) whose children may be declarations.
    Container,
    MacroDefinition,
    InclusionDirective,
    Other,
}

/// A node of the syntax tree (a declaration, a preprocessing directive...).
#[derive(Clone, Copy)]
pub struct Cursor<'tu> {
    raw: sys::CXCursor,
    _tu: PhantomData<&'tu ()>,
}

impl std::fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cursor({:?} {:?})", self.kind(), self.spelling())
    }
}

extern "C" fn collect_child(cursor: sys::CXCursor, _parent: sys::CXCursor, data: sys::CXClientData) -> sys::CXChildVisitResult {
    // SAFETY: `data` is the `&mut Vec` passed by `Cursor::children`, alive and
    // not otherwise borrowed while libclang runs this callback.
    let children = unsafe { &mut *(data as *mut Vec<sys::CXCursor>) };
    children.push(cursor);
    sys::CXChildVisit_Continue
}

extern "C" fn collect_field(cursor: sys::CXCursor, data: sys::CXClientData) -> sys::CXVisitorResult {
    // SAFETY: as in `collect_child`, from `Type::fields`.
    let fields = unsafe { &mut *(data as *mut Vec<sys::CXCursor>) };
    fields.push(cursor);
    sys::CXVisit_Continue
}

impl<'tu> Cursor<'tu> {
    fn wrap(raw: sys::CXCursor) -> Cursor<'tu> {
        Cursor { raw, _tu: PhantomData }
    }

    /// `None` for the null cursor libclang returns for "nothing".
    fn non_null(raw: sys::CXCursor) -> Option<Cursor<'tu>> {
        // SAFETY: any cursor value may be tested.
        (unsafe { sys::clang_Cursor_isNull(raw) } == 0).then(|| Cursor::wrap(raw))
    }

    pub fn kind(&self) -> CursorKind {
        // SAFETY: see the module comment (applies to every call on `self.raw`).
        match unsafe { sys::clang_getCursorKind(self.raw) } {
            sys::CXCursor_StructDecl => CursorKind::Struct,
            sys::CXCursor_UnionDecl => CursorKind::Union,
            sys::CXCursor_EnumDecl => CursorKind::Enum,
            sys::CXCursor_FieldDecl => CursorKind::Field,
            sys::CXCursor_EnumConstantDecl => CursorKind::EnumConstant,
            sys::CXCursor_FunctionDecl => CursorKind::Function,
            sys::CXCursor_ParmDecl => CursorKind::Param,
            sys::CXCursor_TypedefDecl => CursorKind::Typedef,
            sys::CXCursor_UnexposedDecl | sys::CXCursor_LinkageSpec => CursorKind::Container,
            sys::CXCursor_MacroDefinition => CursorKind::MacroDefinition,
            sys::CXCursor_InclusionDirective => CursorKind::InclusionDirective,
            _ => CursorKind::Other,
        }
    }

    /// The name (empty for anonymous declarations on older libclang; newer
    /// ones say "struct (unnamed at ...)": use `is_anonymous`).
    pub fn spelling(&self) -> String {
        // SAFETY: module comment.
        take_string(unsafe { sys::clang_getCursorSpelling(self.raw) })
    }

    pub fn ty(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_getCursorType(self.raw) })
    }

    pub fn position(&self) -> Position {
        // SAFETY: module comment.
        Position::of(unsafe { sys::clang_getCursorLocation(self.raw) })
    }

    pub fn is_in_system_header(&self) -> bool {
        // SAFETY: module comment.
        unsafe { sys::clang_Location_isInSystemHeader(sys::clang_getCursorLocation(self.raw)) != 0 }
    }

    /// Whether the cursor is expanded in the main file. A declaration whose
    /// name comes from a macro (`#define cuMemAlloc cuMemAlloc_v2` before
    /// `CUresult cuMemAlloc(...)`) has a location inside the macro
    /// expansion, which libclang never counts as the main file: judge by the
    /// place the macro was expanded instead.
    pub fn is_in_main_file(&self) -> bool {
        // SAFETY: module comment.
        let location = unsafe { sys::clang_getCursorLocation(self.raw) };
        let mut file: sys::CXFile = ptr::null_mut();
        let mut offset: c_uint = 0;
        // SAFETY: module comment; the out-parameters are valid or null.
        unsafe { sys::clang_getExpansionLocation(location, &mut file, ptr::null_mut(), ptr::null_mut(), &mut offset) };
        if file.is_null() {
            return false;
        }
        // SAFETY: module comment; `file` belongs to the cursor's own unit.
        let expanded = unsafe { sys::clang_getLocationForOffset(sys::clang_Cursor_getTranslationUnit(self.raw), file, offset) };
        // SAFETY: module comment.
        unsafe { sys::clang_Location_isFromMainFile(expanded) != 0 }
    }

    /// Direct children, in source order.
    pub fn children(&self) -> Vec<Cursor<'tu>> {
        let mut raw: Vec<sys::CXCursor> = Vec::new();
        // SAFETY: the callback only pushes into `raw`, which outlives the call.
        unsafe { sys::clang_visitChildren(self.raw, collect_child, &mut raw as *mut Vec<sys::CXCursor> as sys::CXClientData) };
        raw.into_iter().map(Cursor::wrap).collect()
    }

    /// Whether this declaration has no name of its own nor a typedef name
    /// for linkage (`struct { int x; } v;`, `union { ... };` members).
    pub fn is_anonymous(&self) -> bool {
        // SAFETY: module comment.
        unsafe { sys::clang_Cursor_isAnonymous(self.raw) != 0 }
    }

    /// The defining declaration, if the unit has one.
    pub fn definition(&self) -> Option<Cursor<'tu>> {
        // SAFETY: module comment.
        Cursor::non_null(unsafe { sys::clang_getCursorDefinition(self.raw) })
    }

    /// Whether a function has internal linkage (`static`, usually `static inline`).
    pub fn is_static(&self) -> bool {
        // SAFETY: module comment.
        unsafe { sys::clang_getCursorLinkage(self.raw) == sys::CXLinkage_Internal }
    }

    pub fn typedef_underlying(&self) -> Type<'tu> {
        // SAFETY: module comment (libclang returns an invalid type for non-typedefs).
        Type::wrap(unsafe { sys::clang_getTypedefDeclUnderlyingType(self.raw) })
    }

    /// An enum's underlying integer type (for the signedness of its values).
    pub fn enum_integer_type(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_getEnumDeclIntegerType(self.raw) })
    }

    /// An enumerator's value, read as unsigned when the enum's type is
    /// (libclang's signed reading sign-extends `0xFFFFFFFF` to -1).
    pub fn enum_constant_value(&self, unsigned: bool) -> i64 {
        // SAFETY: module comment.
        unsafe {
            if unsigned {
                sys::clang_getEnumConstantDeclUnsignedValue(self.raw) as i64
            } else {
                sys::clang_getEnumConstantDeclValue(self.raw)
            }
        }
    }

    /// A function's parameter declarations (named as written, possibly empty).
    pub fn arguments(&self) -> Vec<Cursor<'tu>> {
        // SAFETY: module comment; -1 (not a function) gives an empty range.
        let n = unsafe { sys::clang_Cursor_getNumArguments(self.raw) };
        // SAFETY: `i` is in range.
        (0..n.max(0) as c_uint).map(|i| Cursor::wrap(unsafe { sys::clang_Cursor_getArgument(self.raw, i) })).collect()
    }

    pub fn result_type(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_getCursorResultType(self.raw) })
    }

    pub fn is_variadic(&self) -> bool {
        // SAFETY: module comment.
        unsafe { sys::clang_Cursor_isVariadic(self.raw) != 0 }
    }

    pub fn is_macro_function_like(&self) -> bool {
        // SAFETY: module comment.
        unsafe { sys::clang_Cursor_isMacroFunctionLike(self.raw) != 0 }
    }

    /// The file an `#include` directive brought in.
    pub fn included_file(&self) -> Option<File> {
        // SAFETY: module comment (null for other cursors).
        File::wrap(unsafe { sys::clang_getIncludedFile(self.raw) })
    }

    /// The tokens of this cursor's extent: for a macro definition, its name
    /// then its body.
    pub fn tokens(&self) -> Vec<Token> {
        // SAFETY: module comment.
        let (tu, range) = unsafe { (sys::clang_Cursor_getTranslationUnit(self.raw), sys::clang_getCursorExtent(self.raw)) };
        let mut raw: *mut sys::CXToken = ptr::null_mut();
        let mut n: c_uint = 0;
        // SAFETY: `tu` is the cursor's live unit; libclang fills both out-parameters.
        unsafe { sys::clang_tokenize(tu, range, &mut raw, &mut n) };
        if raw.is_null() {
            return Vec::new();
        }
        // SAFETY: libclang returned `n` tokens at `raw`, valid until disposed below.
        let slice = unsafe { std::slice::from_raw_parts(raw, n as usize) };
        let tokens = slice
            .iter()
            .map(|&t| {
                // SAFETY: `t` is a token of `tu`.
                let (kind, spelling) = unsafe { (sys::clang_getTokenKind(t), sys::clang_getTokenSpelling(tu, t)) };
                let kind = match kind {
                    sys::CXToken_Punctuation => TokenKind::Punctuation,
                    sys::CXToken_Keyword => TokenKind::Keyword,
                    sys::CXToken_Identifier => TokenKind::Identifier,
                    sys::CXToken_Literal => TokenKind::Literal,
                    _ => TokenKind::Comment,
                };
                Token { kind, text: take_string(spelling) }
            })
            .collect();
        // SAFETY: the array came from clang_tokenize on `tu` and is disposed once.
        unsafe { sys::clang_disposeTokens(tu, raw, n) };
        tokens
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Punctuation,
    Keyword,
    Identifier,
    Literal,
    Comment,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
}

/// The type kinds the reader handles; builtins come with their canonical C spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKind {
    Invalid,
    Void,
    Builtin(&'static str),
    Pointer,
    Record,
    Enum,
    Typedef,
    /// `struct X`, or (libclang 16 and newer) any type name as written.
    Elaborated,
    ConstantArray,
    IncompleteArray,
    VariableArray,
    FunctionProto,
    FunctionNoProto,
    Attributed,
    /// Anything else (vectors, complex numbers, decayed parameter types...).
    Other,
}

/// A C type as written at some place (typedef names are not resolved).
#[derive(Clone, Copy)]
pub struct Type<'tu> {
    raw: sys::CXType,
    _tu: PhantomData<&'tu ()>,
}

impl std::fmt::Debug for Type<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Type({:?} {:?})", self.kind(), self.spelling())
    }
}

impl<'tu> Type<'tu> {
    fn wrap(raw: sys::CXType) -> Type<'tu> {
        Type { raw, _tu: PhantomData }
    }

    pub fn kind(&self) -> TypeKind {
        use TypeKind::Builtin as B;
        match self.raw.kind {
            sys::CXType_Invalid => TypeKind::Invalid,
            sys::CXType_Void => TypeKind::Void,
            sys::CXType_Bool => B("_Bool"),
            sys::CXType_Char_U | sys::CXType_Char_S => B("char"),
            sys::CXType_UChar => B("unsigned char"),
            sys::CXType_SChar => B("signed char"),
            sys::CXType_Char16 => B("char16_t"),
            sys::CXType_Char32 => B("char32_t"),
            sys::CXType_WChar => B("wchar_t"),
            sys::CXType_UShort => B("unsigned short"),
            sys::CXType_UInt => B("unsigned int"),
            sys::CXType_ULong => B("unsigned long"),
            sys::CXType_ULongLong => B("unsigned long long"),
            sys::CXType_UInt128 => B("unsigned __int128"),
            sys::CXType_Short => B("short"),
            sys::CXType_Int => B("int"),
            sys::CXType_Long => B("long"),
            sys::CXType_LongLong => B("long long"),
            sys::CXType_Int128 => B("__int128"),
            sys::CXType_Float => B("float"),
            sys::CXType_Double => B("double"),
            sys::CXType_LongDouble => B("long double"),
            sys::CXType_Float128 => B("__float128"),
            sys::CXType_Half => B("__fp16"),
            sys::CXType_Float16 => B("_Float16"),
            sys::CXType_Pointer => TypeKind::Pointer,
            sys::CXType_Record => TypeKind::Record,
            sys::CXType_Enum => TypeKind::Enum,
            sys::CXType_Typedef => TypeKind::Typedef,
            sys::CXType_Elaborated => TypeKind::Elaborated,
            sys::CXType_ConstantArray => TypeKind::ConstantArray,
            sys::CXType_IncompleteArray => TypeKind::IncompleteArray,
            sys::CXType_VariableArray => TypeKind::VariableArray,
            sys::CXType_FunctionProto => TypeKind::FunctionProto,
            sys::CXType_FunctionNoProto => TypeKind::FunctionNoProto,
            sys::CXType_Attributed => TypeKind::Attributed,
            _ => TypeKind::Other,
        }
    }

    /// How clang prints it (with qualifiers).
    pub fn spelling(&self) -> String {
        // SAFETY: module comment.
        take_string(unsafe { sys::clang_getTypeSpelling(self.raw) })
    }

    pub fn pointee(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_getPointeeType(self.raw) })
    }

    pub fn canonical(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_getCanonicalType(self.raw) })
    }

    /// The type an `Elaborated` one names.
    pub fn named(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_Type_getNamedType(self.raw) })
    }

    /// The type an `Attributed` one modifies.
    pub fn modified(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_Type_getModifiedType(self.raw) })
    }

    /// The declaration of a typedef, record or enum type.
    pub fn declaration(&self) -> Option<Cursor<'tu>> {
        // SAFETY: module comment.
        Cursor::non_null(unsafe { sys::clang_getTypeDeclaration(self.raw) })
    }

    /// The length of a constant array.
    pub fn array_size(&self) -> Option<u64> {
        // SAFETY: module comment (-1 when not a constant array).
        u64::try_from(unsafe { sys::clang_getArraySize(self.raw) }).ok()
    }

    pub fn element(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_getArrayElementType(self.raw) })
    }

    pub fn result(&self) -> Type<'tu> {
        // SAFETY: module comment.
        Type::wrap(unsafe { sys::clang_getResultType(self.raw) })
    }

    pub fn arguments(&self) -> Vec<Type<'tu>> {
        // SAFETY: module comment (-1 when not a function type).
        let n = unsafe { sys::clang_getNumArgTypes(self.raw) };
        // SAFETY: `i` is in range.
        (0..n.max(0) as c_uint).map(|i| Type::wrap(unsafe { sys::clang_getArgType(self.raw, i) })).collect()
    }

    pub fn is_variadic(&self) -> bool {
        // SAFETY: module comment.
        unsafe { sys::clang_isFunctionTypeVariadic(self.raw) != 0 }
    }

    pub fn is_const(&self) -> bool {
        // SAFETY: module comment.
        unsafe { sys::clang_isConstQualifiedType(self.raw) != 0 }
    }

    /// Whether an integer type is unsigned (`_Bool` included).
    pub fn is_unsigned_integer(&self) -> bool {
        matches!(
            self.canonical().raw.kind,
            sys::CXType_Bool
                | sys::CXType_Char_U
                | sys::CXType_UChar
                | sys::CXType_UShort
                | sys::CXType_UInt
                | sys::CXType_ULong
                | sys::CXType_ULongLong
                | sys::CXType_UInt128
        )
    }

    /// The fields of a record type, including unnamed ones (an anonymous
    /// `union { ... };` member is an unnamed field of an anonymous record type).
    pub fn fields(&self) -> Vec<Cursor<'tu>> {
        let mut raw: Vec<sys::CXCursor> = Vec::new();
        // SAFETY: the callback only pushes into `raw`, which outlives the call.
        unsafe { sys::clang_Type_visitFields(self.raw, collect_field, &mut raw as *mut Vec<sys::CXCursor> as sys::CXClientData) };
        raw.into_iter().map(Cursor::wrap).collect()
    }
}
