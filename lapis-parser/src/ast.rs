//! The syntax tree: what was written, with spans. The parser produces it even
//! for broken input (with `Item::Error` / `Stmt::Error` where it recovered);
//! the checker turns it into the span-free IR.

use serde::Serialize;

use crate::lexer::Comment;
use crate::span::{Span, Spanned};

pub type Ident = Spanned<String>;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceFile {
    pub items: Vec<Item>,
    #[serde(skip)]
    pub comments: Vec<Comment>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ItemKind {
    /// `api NAME { key = value; ... }`
    Api(ApiBlock),
    /// `typedef <declaration>;`
    Typedef(Declaration),
    /// `struct T { ... };`, `union T { ... };`, `enum T { ... };`
    TagDefinition(TagDefinition),
    /// `struct T;`: a type whose contents the API does not show (an object).
    TagDeclaration { kind: TagKind, name: Ident },
    /// A prototype followed by a descriptor block or `;`.
    Function(Function),
    /// `callback <prototype> { ... }`: the signature of a function the API calls back.
    Callback(Function),
    /// `utility <prototype> { return expr; }`
    Utility(Utility),
    /// `const T NAME = expr;`
    Constant(Constant),
    /// `type(T) { ... }`: descriptors for every value of type `T`.
    TypeScope { ty: TypeExpr, body: Block },
    /// `default(category) { ... }`: descriptors for every value of a family of types.
    Default { category: Ident, body: Block },
    /// `continuous_rc r;` or `instantaneous_rc r;`
    Resource { kind: ResourceKind, name: Ident },
    /// `policy("file");`
    Policy(Spanned<String>),
    /// `declare_metadata(T);`
    DeclareMetadata(TypeExpr),
    /// `buf_registry r;`
    BufRegistry(Ident),
    /// Something the parser could not read; diagnostics were reported.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ResourceKind {
    Continuous,
    Instantaneous,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiBlock {
    pub name: Ident,
    pub entries: Vec<ApiEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiEntry {
    pub key: Ident,
    pub value: ApiValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ApiValue {
    Expr(Expr),
    List(Vec<Expr>),
    /// `todo("reason")` in place of a value.
    Todo(Spanned<String>),
}

/// A C declaration: specifiers plus one declarator, e.g. `const char *name`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Declaration {
    pub ty: TypeExpr,
    pub name: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TypeExprKind {
    /// `void`, `int`, `unsigned long long`, ... (the words, normalized).
    Builtin(BuiltinType),
    /// A typedef name.
    Named(String),
    /// `struct T`, `union T`, `enum T`, possibly with an inline body.
    Tag {
        kind: TagKind,
        name: Option<String>,
        body: Option<Box<TagBody>>,
    },
    Pointer(Box<TypeExpr>),
    Const(Box<TypeExpr>),
    Array {
        element: Box<TypeExpr>,
        len: Option<Box<Expr>>,
    },
    Function {
        ret: Box<TypeExpr>,
        params: Vec<Declaration>,
        variadic: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum BuiltinType {
    Void,
    Bool,
    Char,
    SignedChar,
    UnsignedChar,
    Short,
    UnsignedShort,
    Int,
    UnsignedInt,
    Long,
    UnsignedLong,
    LongLong,
    UnsignedLongLong,
    Float,
    Double,
    LongDouble,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Size,
    Ssize,
    Intptr,
    Uintptr,
    Ptrdiff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TagKind {
    Struct,
    Union,
    Enum,
}

impl TagKind {
    pub fn keyword(self) -> &'static str {
        match self {
            TagKind::Struct => "struct",
            TagKind::Union => "union",
            TagKind::Enum => "enum",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TagBody {
    Fields(Vec<Declaration>),
    Enumerators(Vec<Enumerator>),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Enumerator {
    pub name: Ident,
    pub value: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TagDefinition {
    pub kind: TagKind,
    pub name: Ident,
    pub body: TagBody,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Function {
    /// The declaration; its type is a `TypeExprKind::Function`.
    pub decl: Declaration,
    /// `None` for a bare prototype ending in `;`.
    pub body: Option<Block>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Utility {
    pub decl: Declaration,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Constant {
    pub decl: Declaration,
    pub value: Expr,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StmtKind {
    /// `name;` or `name(args);` where `name` is a descriptor (or a misspelt one).
    Descriptor(Descriptor),
    /// `argument(x) { ... }`
    Argument {
        name: Ident,
        body: Block,
    },
    /// `element { ... }`
    Element(Block),
    /// `return_value { ... }`
    ReturnValue(Block),
    /// `field(name) { ... }`
    Field {
        name: Ident,
        body: Block,
    },
    /// `if (cond) { ... } else { ... }`; `else if` nests in `otherwise`.
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    /// `contextual_argument T name = expr;`
    ContextualArgument {
        decl: Declaration,
        value: Expr,
    },
    /// `replace_guest { rust }` / `replace_server { rust }`
    Replace {
        side: ReplaceSide,
        code: Spanned<String>,
    },
    /// An expression statement: a library call (`register_buf(...)`) or an
    /// assignment to metadata (`metadata(k)->argc = n;`).
    Expr(Expr),
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReplaceSide {
    Guest,
    Server,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Descriptor {
    pub name: Ident,
    /// `None` when written without parentheses.
    pub args: Option<Vec<DescriptorArg>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum DescriptorArg {
    Expr(Expr),
    Type(TypeExpr),
}

impl DescriptorArg {
    pub fn span(&self) -> Span {
        match self {
            DescriptorArg::Expr(e) => e.span,
            DescriptorArg::Type(t) => t.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    Int(u64),
    Float(f64),
    Str(String),
    Char(u32),
    Name(String),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Assign(Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(Ident, Vec<Expr>),
    /// `sizeof(T)` with a type operand.
    SizeofType(TypeExpr),
    Member {
        base: Box<Expr>,
        field: Ident,
        arrow: bool,
    },
    Index(Box<Expr>, Box<Expr>),
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    Neg,
    Not,
    BitNot,
    Deref,
    AddrOf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Mul => "*",
            Div => "/",
            Rem => "%",
            Add => "+",
            Sub => "-",
            Shl => "<<",
            Shr => ">>",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Eq => "==",
            Ne => "!=",
            BitAnd => "&",
            BitXor => "^",
            BitOr => "|",
            And => "&&",
            Or => "||",
        }
    }

    /// C precedence, higher binds tighter.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Mul | Div | Rem => 10,
            Add | Sub => 9,
            Shl | Shr => 8,
            Lt | Le | Gt | Ge => 7,
            Eq | Ne => 6,
            BitAnd => 5,
            BitXor => 4,
            BitOr => 3,
            And => 2,
            Or => 1,
        }
    }

    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Lt | Le | Gt | Ge | Eq | Ne | And | Or)
    }
}

impl UnaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
            UnaryOp::BitNot => "~",
            UnaryOp::Deref => "*",
            UnaryOp::AddrOf => "&",
        }
    }
}

impl BuiltinType {
    /// The canonical C spelling.
    pub fn c_name(self) -> &'static str {
        use BuiltinType::*;
        match self {
            Void => "void",
            Bool => "bool",
            Char => "char",
            SignedChar => "signed char",
            UnsignedChar => "unsigned char",
            Short => "short",
            UnsignedShort => "unsigned short",
            Int => "int",
            UnsignedInt => "unsigned int",
            Long => "long",
            UnsignedLong => "unsigned long",
            LongLong => "long long",
            UnsignedLongLong => "unsigned long long",
            Float => "float",
            Double => "double",
            LongDouble => "long double",
            Int8 => "int8_t",
            Int16 => "int16_t",
            Int32 => "int32_t",
            Int64 => "int64_t",
            Uint8 => "uint8_t",
            Uint16 => "uint16_t",
            Uint32 => "uint32_t",
            Uint64 => "uint64_t",
            Size => "size_t",
            Ssize => "ssize_t",
            Intptr => "intptr_t",
            Uintptr => "uintptr_t",
            Ptrdiff => "ptrdiff_t",
        }
    }

    /// Names that are types by themselves (no typedef needed).
    pub fn from_name(name: &str) -> Option<BuiltinType> {
        use BuiltinType::*;
        Some(match name {
            "void" => Void,
            "bool" | "_Bool" => Bool,
            "float" => Float,
            "double" => Double,
            "int8_t" => Int8,
            "int16_t" => Int16,
            "int32_t" => Int32,
            "int64_t" => Int64,
            "uint8_t" => Uint8,
            "uint16_t" => Uint16,
            "uint32_t" => Uint32,
            "uint64_t" => Uint64,
            "size_t" => Size,
            "ssize_t" => Ssize,
            "intptr_t" => Intptr,
            "uintptr_t" => Uintptr,
            "ptrdiff_t" => Ptrdiff,
            _ => return None,
        })
    }
}
