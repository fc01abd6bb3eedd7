//! The call plan: what a generated guest library and API server know about
//! the API, as data. The code generator lowers the checked LAPIS model to a
//! [`Plan`] (types with exact C layouts, how every value is marshalled, the
//! expressions that size buffers) and embeds it in both generated halves;
//! the runtime's marshaller ([`crate::marshal`]) interprets it.
//!
//! Generated code is limited to what must be compiled: C types, functions
//! with the exact C ABI, and trampolines. Everything that decides what
//! crosses the boundary, and every check the API server makes on what a
//! guest sent, is in one audited interpreter instead of being repeated in
//! each generated function.
//!
//! A plan has two forms: JSON (serde) for people, tests and tools, and the
//! binary form of [`binary`], which generated code embeds. A field added to
//! a type here goes into `binary.rs` too (the compiler insists).

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::marshal::compile::Code;

pub mod binary;
mod slots;
pub mod walk;

pub use slots::{call_slots, reply_slot, shape, SlotShape};

/// Everything the marshaller needs about one API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub api: Api,
    /// Structs and unions with their C layout; `Ty::Record` indexes this.
    pub records: Vec<Record>,
    pub functions: Vec<Function>,
    pub callbacks: Vec<Callback>,
    pub utilities: Vec<Utility>,
    pub constants: Vec<Constant>,
    pub registries: u32,
    /// The type of per-object metadata (`declare_metadata`).
    pub metadata: Option<Ty>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Api {
    pub name: String,
    pub soname: String,
    pub library: String,
    pub error_type: Ty,
    pub success: i128,
    pub failure: i128,
    pub invalid_handle: i128,
    /// The vendor function `void *F(const char *name)` that finds a
    /// function the library does not export (an extension function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
}

/// A C type, with typedefs resolved away.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ty {
    Void,
    Int {
        size: u8,
        signed: bool,
    },
    Float {
        size: u8,
    },
    Ptr(Box<Ty>),
    Array(Box<Ty>, u64),
    /// Index into [`Plan::records`].
    Record(u32),
    /// A function type (what a function pointer points to).
    Function,
}

/// A struct or union. Incomplete ones (API objects) have no fields and size 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub union: bool,
    pub complete: bool,
    pub size: u64,
    pub align: u64,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub offset: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub ret: Ty,
    pub params: Vec<Param>,
    pub mode: CallMode,
    /// Not forwarded: the guest returns this value (and logs once).
    pub unsupported: Option<i128>,
    /// The spec replaces the guest side with hand-written code.
    pub replaced_in_guest: bool,
    /// Not forwarded: the guest evaluates this (`in_guest(expr)`, such as
    /// `zerocopy_alloc(n)`) and returns its value. Absent from the JSON
    /// when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_guest: Option<Expr>,
    /// `variant_of(f)`: the vendor function the API server calls for this
    /// one (`None`: the function's own name).
    #[serde(default)]
    pub variant_of: Option<String>,
    pub contextual: Vec<Contextual>,
    pub return_value: Value,
    /// Statements run on both sides after the call (registries, metadata).
    pub actions: Vec<Expr>,
    /// `release_at_exit`: the API server calls this function on each object
    /// a departed guest process still holds of parameter `param`'s handle
    /// type. Absent from the JSON when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_at_exit: Option<ReleaseAtExit>,
    /// `abandon_at_exit`: before it brings back a departed guest process's
    /// pending reads, the API server calls this function once on each
    /// object the process still holds of parameter `param`'s handle type
    /// (0 for the other arguments). Absent from the JSON when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandon_at_exit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseAtExit {
    pub param: u32,
    /// Calls per object (1 when absent), evaluated with the object's id as
    /// the parameter and the departed process's metadata.
    pub times: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallMode {
    Sync,
    Async { success: i128 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub ty: Ty,
    pub value: Value,
}

/// A value the guest computes (`contextual_argument`) and sends after the
/// arguments; the vendor library never sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contextual {
    pub name: String,
    pub ty: Ty,
    pub init: Expr,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    pub name: String,
    pub ret: Ty,
    pub params: Vec<Param>,
    pub return_value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Utility {
    pub name: String,
    pub params: Vec<Ty>,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Constant {
    Int(i128),
    Float(f64),
    Str(String),
}

/// How one value is marshalled; `if` conditions stay a decision tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Leaf(Box<Leaf>),
    If { cond: Expr, then: Box<Value>, otherwise: Box<Value> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    /// The type the value is marshalled as (after `type_cast`).
    pub ty: Ty,
    pub kind: Kind,
    pub input: bool,
    pub output: bool,
    pub no_copy: bool,
    pub lifetime: Lifetime,
    pub allocate: bool,
    pub deallocate: bool,
    pub zerocopy: bool,
    pub obj_record: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    Opaque,
    /// `kind` tells handle types apart (a `cl_mem` id is refused where a
    /// `cl_kernel` is expected).
    Handle {
        kind: u32,
    },
    /// `size` elements of the pointee type, each described by `element`.
    Buffer {
        size: Expr,
        element: Box<Value>,
    },
    /// A struct copied field by field (one value per field, in order).
    Struct {
        fields: Vec<Value>,
    },
    Callback {
        callback: Option<u32>,
    },
    Userdata {
        callback_param: Option<u32>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Lifetime {
    Call,
    Manual,
    Static,
    /// As long as the object the expression names (a handle id): a kept
    /// buffer, or a callback registration, which ends when a successful
    /// call deallocates the handle (or with a call that fails).
    Coupled(Expr),
    /// A callback registration that lasts as long as the handle the call
    /// returns (`coupled(return_value)`), or ends with the call when it
    /// fails or returns no object.
    CoupledToReturn,
    /// A callback registration that ends after its first call (or with a
    /// call that fails, which registers nothing the library will call).
    Once,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    /// Code compiled for the expression when the plan loads (see
    /// [`crate::marshal::compile`]); not part of the plan's data.
    #[serde(skip)]
    pub code: Code,
}

impl Expr {
    pub fn new(kind: ExprKind, ty: Ty) -> Expr {
        Expr { kind, ty, code: Code::default() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExprKind {
    Int(i128),
    Float(f64),
    Str(String),
    Param(u32),
    Contextual(u32),
    /// A field of the struct whose field is being described.
    SiblingField(u32),
    Constant(u32),
    /// The index of an enclosing element; 0 is the innermost.
    ElementIndex(u32),
    This,
    /// `return_value` in a function's statements: the call's result as the
    /// guest sees it (a handle's id), given by [`crate::marshal::eval::Env::returned`].
    ReturnValue,
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Assign(Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `base.field` or `base->field`; `field` indexes the record's fields.
    Member {
        base: Box<Expr>,
        field: u32,
        arrow: bool,
    },
    Index(Box<Expr>, Box<Expr>),
    SizeOf(Ty),
    Library(LibraryFn, Vec<Expr>),
    Registry(u32),
    Resource(u32),
    Utility(u32, Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    Neg,
    Not,
    BitNot,
    Deref,
    AddrOf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitOr,
    BitXor,
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LibraryFn {
    Metadata,
    RegisterBuf,
    RegisterBufsOf,
    GetBufs,
    GetNBufs,
    GetBufSize,
    ZerocopyAlloc,
    ZerocopyFree,
    Min,
    Max,
    Strlen,
    TerminatedLen,
}

impl Value {
    /// Whether `pred` holds for a leaf of this value's `if` tree (either
    /// branch: what a value may be, before any condition is known).
    pub fn any_leaf(&self, pred: &dyn Fn(&Leaf) -> bool) -> bool {
        match self {
            Value::Leaf(leaf) => pred(leaf),
            Value::If { then, otherwise, .. } => then.any_leaf(pred) || otherwise.any_leaf(pred),
        }
    }
}

impl Plan {
    /// Reads a plan's JSON form and compiles its expressions (see
    /// [`crate::marshal::compile`]).
    pub fn from_json(text: &str) -> Result<Plan, serde_json::Error> {
        let mut plan: Plan = serde_json::from_str(text)?;
        crate::marshal::compile::compile(&mut plan);
        Ok(plan)
    }

    /// Reads a plan embedded by the generator in its binary form
    /// ([`binary`]) and compiles its expressions: what generated code does
    /// when a process starts.
    pub fn from_bytes(bytes: &[u8]) -> Result<Plan, binary::DecodeError> {
        let mut plan = binary::decode(bytes)?;
        crate::marshal::compile::compile(&mut plan);
        Ok(plan)
    }

    /// The binary form that [`Plan::from_bytes`] reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        binary::encode(self)
    }

    /// Bytes of one object's metadata (`declare_metadata`): at least 1, so
    /// that every object's block has an address of its own.
    pub fn metadata_size(&self) -> usize {
        self.metadata.as_ref().map_or(0, |t| self.size_of(t)).max(1) as usize
    }

    /// Size of a type in bytes (0 for `void`, functions and incomplete records).
    pub fn size_of(&self, ty: &Ty) -> u64 {
        size_of(&self.records, ty)
    }

    /// Size of one element a pointer of type `ty` points to; `void *`
    /// buffers count bytes.
    pub fn element_size(&self, pointer: &Ty) -> u64 {
        element_size(&self.records, pointer)
    }

    /// For each `buf_registry` (by its number), the function that brings
    /// back everything the registry holds under one key, which the API
    /// server calls for a departed guest process's pending reads before it
    /// frees their buffers (OpenCL's `clFinish` for `pending_reads`): the
    /// first function of the spec that
    /// - takes one argument, a handle (every branch of its description),
    ///   which it does not `deallocate`;
    /// - takes a contextual argument `get_bufs(registry, that argument)`
    ///   whose elements it `deallocate`s (it brings the buffers back);
    /// - is synchronous, forwarded, and not answered in the guest.
    ///
    /// The spec's word that such a call brings the buffers back is what the
    /// server relies on when a live guest makes it: after it returns
    /// success, the vendor no longer writes into them. `None` for a registry
    /// no function brings back by one handle (OpenCL's `event_reads`, whose
    /// buffers its `pending_reads` holds too).
    pub fn drainers(&self) -> Vec<Option<u32>> {
        let mut drainers = vec![None; self.registries as usize];
        for (id, f) in self.functions.iter().enumerate() {
            let [key] = f.params.as_slice() else { continue };
            let forwarded = f.mode == CallMode::Sync && f.unsupported.is_none() && f.in_guest.is_none();
            let handle = !key.value.any_leaf(&|l| !matches!(l.kind, Kind::Handle { .. }) || l.deallocate);
            if !forwarded || !handle {
                continue;
            }
            for c in &f.contextual {
                let ExprKind::Library(LibraryFn::GetBufs, args) = &c.init.kind else { continue };
                let [Expr { kind: ExprKind::Registry(registry), .. }, Expr { kind: ExprKind::Param(0), .. }] = args.as_slice() else {
                    continue;
                };
                let frees = c.value.any_leaf(&|l| matches!(&l.kind, Kind::Buffer { element, .. } if element.any_leaf(&|e| e.deallocate)));
                if let (true, Some(slot)) = (frees, drainers.get_mut(*registry as usize)) {
                    slot.get_or_insert(id as u32);
                }
            }
        }
        drainers
    }
}

/// [`Plan::size_of`] over a plan's records alone (for code that rewrites the
/// plan's expressions while it reads its tables).
pub fn size_of(records: &[Record], ty: &Ty) -> u64 {
    match ty {
        Ty::Void | Ty::Function => 0,
        Ty::Int { size, .. } | Ty::Float { size } => u64::from(*size),
        Ty::Ptr(_) => 8,
        Ty::Array(element, len) => size_of(records, element).saturating_mul(*len),
        Ty::Record(r) => records.get(*r as usize).map_or(0, |r| r.size),
    }
}

/// [`Plan::element_size`] over a plan's records alone.
pub fn element_size(records: &[Record], pointer: &Ty) -> u64 {
    match pointer {
        Ty::Ptr(pointee) | Ty::Array(pointee, _) => match size_of(records, pointee) {
            0 => 1,
            n => n,
        },
        _ => 1,
    }
}
