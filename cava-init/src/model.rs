//! What a C header declares, as plain data: the output of the libclang
//! module and the input of inference. Nothing here knows about libclang.

/// A C type as the header spells it (typedef names are kept, not resolved).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    Void,
    /// A builtin C type in its canonical spelling: `int`, `unsigned long long`,
    /// `char`, `double`, `_Bool`...
    Builtin(String),
    /// A typedef name (including standard ones such as `size_t` or `uint32_t`).
    Typedef(String),
    /// `struct T` / `union T`; `fields` is `Some` only for an anonymous
    /// record defined inline (its name is then `None`).
    Record {
        kind: RecordKind,
        name: Option<String>,
        fields: Option<Vec<Field>>,
    },
    /// `enum T`; anonymous inline enums carry their variants.
    Enum {
        name: Option<String>,
        variants: Option<Vec<(String, i64)>>,
    },
    Pointer {
        pointee: Box<CType>,
        pointee_const: bool,
    },
    /// `len` is `None` for `T x[]`.
    Array {
        element: Box<CType>,
        len: Option<u64>,
    },
    /// A function type (a function pointer is a `Pointer` to this).
    Function(Box<Signature>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Struct,
    Union,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    pub ret: CType,
    pub params: Vec<Param>,
    pub variadic: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// `None` when the prototype leaves it unnamed.
    pub name: Option<String>,
    pub ty: CType,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    pub name: String,
    pub ty: CType,
}

/// Where a declaration is, for ordering output and for comments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: String,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub signature: Signature,
    pub location: Location,
    /// True when declared in the header given to `cava init` itself, not in a
    /// header it includes.
    pub in_main_file: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typedef {
    pub name: String,
    pub target: CType,
    pub location: Location,
    /// Declared in a system header (`/usr/include/stdint.h`...).
    pub in_system_header: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordKind,
    pub name: String,
    /// `None` for an incomplete type (`struct _cl_mem;`, or only ever used
    /// through pointers), which is how APIs declare their objects.
    pub fields: Option<Vec<Field>>,
    pub location: Location,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enum {
    pub name: String,
    pub variants: Vec<(String, i64)>,
    pub location: Location,
}

/// An object-like macro whose body is an integer constant expression
/// (`#define CL_SUCCESS 0`, `#define CL_INVALID_VALUE -30`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Macro {
    pub name: String,
    pub value: i64,
    pub location: Location,
}

/// Everything `cava init` lifts from one header and what it includes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub functions: Vec<Function>,
    /// Every typedef visible from the header, in declaration order.
    pub typedefs: Vec<Typedef>,
    /// Every named struct and union, complete or not.
    pub records: Vec<Record>,
    /// Every named enum.
    pub enums: Vec<Enum>,
    /// Integer macros from the header and the headers it includes (not system headers).
    pub macros: Vec<Macro>,
}
