//! The resolved model: the only thing code generators see. Names are
//! resolved to ids (indexes into the `Spec`'s tables), defaults and
//! `type(T)`/`default(C)` descriptors are merged into every value, and there
//! are no spans. Every `Spec` the checker returns without errors is safe to
//! generate from.

use serde::Serialize;

pub use crate::ast::{BinaryOp, BuiltinType, ResourceKind, UnaryOp};

macro_rules! id {
    ($name:ident) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(TypeId);
id!(FunctionId);
id!(CallbackId);
id!(ResourceId);
id!(RegistryId);
id!(UtilityId);
id!(ConstantId);

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spec {
    pub api: Api,
    pub types: Vec<TypeDef>,
    pub functions: Vec<Function>,
    pub callbacks: Vec<Callback>,
    pub resources: Vec<Resource>,
    pub registries: Vec<Registry>,
    pub utilities: Vec<Utility>,
    pub constants: Vec<Constant>,
    /// The type of per-object metadata (`declare_metadata`).
    pub metadata: Option<Type>,
    /// eBPF policy files, relative to the spec.
    pub policies: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Api {
    pub name: String,
    pub version: String,
    pub headers: Vec<String>,
    /// The soname the guest library carries (e.g. `libOpenCL.so.1`).
    pub soname: String,
    /// The library the API server `dlopen`s.
    pub library: String,
    pub error_type: Type,
    pub success: i128,
    pub failure: i128,
    /// Returned for forged or stale handles; `failure` when not given.
    pub invalid_handle: i128,
    /// `resolver`: the vendor function (`void *F(const char *name)`) the API
    /// server asks for the address of a spec function the library does not
    /// export, such as an extension function. Left out of the serialized
    /// model when absent, so that specs without it keep their contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
}

/// A C type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Type {
    Builtin(BuiltinType),
    Pointer {
        pointee: Box<Type>,
        pointee_const: bool,
    },
    Array {
        element: Box<Type>,
        len: u64,
    },
    /// A typedef, struct, union or enum declared in the spec.
    Named(TypeId),
    Function(Box<Signature>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Signature {
    pub ret: Type,
    pub params: Vec<Type>,
    pub variadic: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeDef {
    pub name: String,
    pub kind: TypeDefKind,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TypeDefKind {
    Typedef(Type),
    /// `fields` is `None` for an incomplete struct (`struct _cl_mem;`), the
    /// usual shape of an API object.
    Struct {
        fields: Option<Vec<FieldDef>>,
    },
    Union {
        fields: Option<Vec<FieldDef>>,
    },
    Enum {
        variants: Vec<(String, i128)>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDef {
    pub name: String,
    pub ty: Type,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Function {
    pub name: String,
    pub ret: Type,
    pub params: Vec<Param>,
    pub variadic: bool,
    /// True when the spec gave a descriptor block (false for a bare prototype).
    pub described: bool,
    pub mode: CallMode,
    /// The function is not forwarded: the guest returns this error value.
    pub unsupported: Option<i128>,
    /// The function is not forwarded: the guest evaluates this expression
    /// (`in_guest(expr)`) and returns its value. Left out of the serialized
    /// model when absent, so that specs without it keep their contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_guest: Option<Expr>,
    pub replace_guest: Option<String>,
    pub replace_server: Option<String>,
    /// `variant_of(f)`: another description of the vendor function `f`
    /// (same signature). The API server calls `f` for it; the guest library
    /// does not export it (only `replace_guest` code forwards to it).
    pub variant_of: Option<FunctionId>,
    /// `release_at_exit(obj, times)`: the API server calls this function on
    /// each live object of a departed guest process of `obj`'s handle type.
    /// Left out of the serialized model when absent, so that specs without
    /// it keep their contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_at_exit: Option<ReleaseAtExit>,
    /// `abandon_at_exit(obj)`: before it brings back a departed guest
    /// process's pending reads, the API server calls this function once on
    /// each of the process's live objects of `obj`'s handle type (the
    /// parameter's index). Left out of the serialized model when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandon_at_exit: Option<usize>,
    pub resources: Vec<ResourceUse>,
    /// Values the spec computes in the guest and sends along with the arguments.
    pub contextual: Vec<Contextual>,
    pub return_value: Value,
    /// Expression statements (library calls, metadata assignments) the guest
    /// runs after the call is dispatched, in order.
    pub actions: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CallMode {
    Sync,
    /// Returns `success` at once; errors surface on a later call.
    Async {
        success: i128,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    pub name: String,
    pub ty: Type,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Contextual {
    pub name: String,
    pub ty: Type,
    pub init: Expr,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReleaseAtExit {
    /// The parameter that takes the object.
    pub param: usize,
    /// How many calls release one object (1 when not given); it may read
    /// the object's metadata, as the server keeps it.
    pub times: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceUse {
    pub kind: ResourceUseKind,
    pub resource: ResourceId,
    pub amount: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ResourceUseKind {
    Allocates,
    Deallocates,
    Consumes,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Callback {
    pub name: String,
    pub ret: Type,
    pub params: Vec<Param>,
    /// What the guest's callback returns to the API server.
    pub return_value: Value,
    /// Rust code the guest runs in place of calling the application's
    /// function directly (`replace_guest` in the callback's body).
    pub replace_guest: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resource {
    pub name: String,
    pub kind: ResourceKind,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Registry {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Utility {
    pub name: String,
    pub ret: Type,
    pub params: Vec<(String, Type)>,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Constant {
    pub name: String,
    pub ty: Type,
    pub value: ConstValue,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ConstValue {
    Int(i128),
    Float(f64),
    Str(String),
}

/// How one value (argument, element, field, return value) is marshalled.
/// Conditions from `if` scopes are kept as a decision tree whose leaves are
/// complete descriptions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Value {
    Leaf(Box<ValueSpec>),
    If { cond: Expr, then: Box<Value>, otherwise: Box<Value> },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValueSpec {
    /// The type the value is marshalled as (after `type_cast`).
    pub ty: Type,
    pub kind: ValueKind,
    pub input: bool,
    pub output: bool,
    pub no_copy: bool,
    pub lifetime: Lifetime,
    pub allocate: bool,
    pub deallocate: bool,
    pub zerocopy: bool,
    pub obj_record: bool,
    pub depends_on: Vec<Expr>,
    pub state_callbacks: Option<(UtilityId, UtilityId)>,
}

impl ValueSpec {
    /// A value copied as it is, in one direction (a placeholder for `void`
    /// results and values whose description failed).
    pub fn opaque(ty: Type, input: bool) -> ValueSpec {
        ValueSpec {
            ty,
            kind: ValueKind::Opaque,
            input,
            output: false,
            no_copy: false,
            lifetime: Lifetime::Call,
            allocate: false,
            deallocate: false,
            zerocopy: false,
            obj_record: false,
            depends_on: Vec::new(),
            state_callbacks: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ValueKind {
    /// Copied as it is.
    Opaque,
    /// An API object reference, translated through the handle table.
    Handle,
    /// A pointer to `size` elements, each described by `element`.
    Buffer { size: Expr, element: Box<Value> },
    /// A struct or union copied field by field.
    Struct { fields: Vec<Value> },
    /// A function pointer the API server calls back.
    Callback(CallbackRef),
    /// The pointer handed back to the callback in parameter `callback_param`
    /// of the same function; `None` in a callback's own parameters, where it
    /// is the pointer the guest registered.
    Userdata { callback_param: Option<usize> },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CallbackRef {
    Declared(CallbackId),
    /// A function-pointer typedef with no `callback` declaration: default marshalling.
    Signature(Box<Signature>),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Lifetime {
    Call,
    Manual,
    Static,
    /// As long as the object the expression names: a buffer's kept copy,
    /// or a callback's registration (a handle argument only).
    Coupled(Expr),
    /// `coupled(return_value)`: a callback's registration that lasts as
    /// long as the handle the function returns (a context's notify).
    CoupledToReturn,
    /// A callback registration that ends after its first call.
    Once,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    Int(i128),
    Float(f64),
    Str(String),
    /// A parameter of the enclosing function, utility or callback.
    Param(usize),
    /// A contextual argument of the enclosing function.
    Contextual(usize),
    /// A field of the struct whose field is being described.
    SiblingField(usize),
    Constant(ConstantId),
    /// The index of the element being described; 0 is the innermost `element`.
    ElementIndex(u32),
    /// `this`: the value being described (in `type`, `default` and value scopes).
    This,
    /// `return_value` in a function's statements: the call's result as the
    /// guest sees it (a handle's id).
    ReturnValue,
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Assign(Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Member {
        base: Box<Expr>,
        field: usize,
        arrow: bool,
    },
    Index(Box<Expr>, Box<Expr>),
    SizeOf(Type),
    Library(LibraryFn, Vec<Expr>),
    Registry(RegistryId),
    Resource(ResourceId),
    Utility(UtilityId, Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LibraryFn {
    Metadata,
    RegisterBuf,
    /// `register_bufs_of(to, to_key, from, from_key)`: every buffer under
    /// `from_key` of registry `from` also under `to_key` of `to` (nothing
    /// when `to_key` is 0).
    RegisterBufsOf,
    GetBufs,
    GetNBufs,
    GetBufSize,
    ZerocopyAlloc,
    ZerocopyFree,
    Min,
    Max,
    Strlen,
    /// Elements up to and including the first zero (zero-terminated lists).
    TerminatedLen,
}

impl Spec {
    pub fn type_def(&self, id: TypeId) -> &TypeDef {
        &self.types[id.index()]
    }

    /// Follows typedefs to the underlying type.
    pub fn resolve<'a>(&'a self, mut ty: &'a Type) -> &'a Type {
        for _ in 0..64 {
            match ty {
                Type::Named(id) => match &self.types[id.index()].kind {
                    TypeDefKind::Typedef(inner) => ty = inner,
                    _ => return ty,
                },
                _ => return ty,
            }
        }
        ty
    }
}
