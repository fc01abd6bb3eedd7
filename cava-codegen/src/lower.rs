//! Lowering the checked model to the runtime's call plan: typedefs resolved,
//! every struct and union given its C layout (x86-64 and AArch64 Linux,
//! LP64), handle kinds numbered.

use std::collections::HashMap;

use cava_runtime::plan;
use lapis_parser::ir::{self, BuiltinType, Spec, TypeDefKind, TypeId};

use crate::GenerateError;

/// The plan, and which record each struct or union of the spec became.
#[derive(Debug)]
pub struct Lowered {
    pub plan: plan::Plan,
    pub records: HashMap<TypeId, u32>,
}

/// Size and alignment of a builtin type under LP64.
pub fn builtin_layout(b: BuiltinType) -> Option<(u8, bool)> {
    use BuiltinType::*;
    // (size, signed); floats are handled by the caller
    Some(match b {
        Void => (0, false),
        Bool | UnsignedChar | Uint8 => (1, false),
        Char | SignedChar | Int8 => (1, true),
        Short | Int16 => (2, true),
        UnsignedShort | Uint16 => (2, false),
        Int | Int32 => (4, true),
        UnsignedInt | Uint32 => (4, false),
        Long | LongLong | Int64 | Ssize | Intptr | Ptrdiff => (8, true),
        UnsignedLong | UnsignedLongLong | Uint64 | Size | Uintptr => (8, false),
        Float | Double | LongDouble => return None,
    })
}

struct Lowerer<'s> {
    spec: &'s Spec,
    records: HashMap<TypeId, u32>,
    out: Vec<plan::Record>,
}

impl Lowerer<'_> {
    fn ty(&mut self, ty: &ir::Type) -> Result<plan::Ty, GenerateError> {
        Ok(match self.spec.resolve(ty) {
            ir::Type::Builtin(BuiltinType::Float) => plan::Ty::Float { size: 4 },
            ir::Type::Builtin(BuiltinType::Double) => plan::Ty::Float { size: 8 },
            ir::Type::Builtin(BuiltinType::LongDouble) => {
                return Err(GenerateError::new("`long double` is not supported by the marshaller"))
            }
            ir::Type::Builtin(BuiltinType::Void) => plan::Ty::Void,
            ir::Type::Builtin(b) => {
                let (size, signed) = builtin_layout(*b).unwrap_or((8, false));
                plan::Ty::Int { size, signed }
            }
            ir::Type::Pointer { pointee, .. } => plan::Ty::Ptr(Box::new(self.ty(pointee)?)),
            ir::Type::Array { element, len } => plan::Ty::Array(Box::new(self.ty(element)?), *len),
            ir::Type::Function(_) => plan::Ty::Function,
            ir::Type::Named(id) => match &self.spec.type_def(*id).kind {
                TypeDefKind::Enum { variants } => {
                    // gcc: `unsigned int` unless a value is negative
                    plan::Ty::Int { size: 4, signed: variants.iter().any(|(_, v)| *v < 0) }
                }
                TypeDefKind::Struct { .. } | TypeDefKind::Union { .. } => plan::Ty::Record(self.record(*id)?),
                TypeDefKind::Typedef(_) => unreachable!("resolve() follows typedefs"),
            },
        })
    }

    fn record(&mut self, id: TypeId) -> Result<u32, GenerateError> {
        if let Some(r) = self.records.get(&id) {
            return Ok(*r);
        }
        let index = self.out.len() as u32;
        self.records.insert(id, index);
        let def = self.spec.type_def(id);
        let (fields, union) = match &def.kind {
            TypeDefKind::Struct { fields } => (fields, false),
            TypeDefKind::Union { fields } => (fields, true),
            _ => unreachable!("only structs and unions are records"),
        };
        self.out.push(plan::Record { name: def.name.clone(), union, complete: fields.is_some(), size: 0, align: 1, fields: Vec::new() });
        let mut lowered = Vec::new();
        let (mut size, mut align) = (0u64, 1u64);
        for field in fields.iter().flatten() {
            let ty = self.ty(&field.ty)?;
            let (fsize, falign) = self.layout(&ty);
            let offset = if union { 0 } else { size.div_ceil(falign) * falign };
            size = if union { size.max(fsize) } else { offset + fsize };
            align = align.max(falign);
            lowered.push(plan::Field { name: field.name.clone(), ty, offset });
        }
        let size = size.div_ceil(align) * align;
        let record = &mut self.out[index as usize];
        record.fields = lowered;
        record.size = size;
        record.align = align;
        Ok(index)
    }

    fn layout(&self, ty: &plan::Ty) -> (u64, u64) {
        match ty {
            plan::Ty::Void | plan::Ty::Function => (0, 1),
            plan::Ty::Int { size, .. } | plan::Ty::Float { size } => (u64::from(*size), u64::from(*size).max(1)),
            plan::Ty::Ptr(_) => (8, 8),
            plan::Ty::Array(element, len) => {
                let (s, a) = self.layout(element);
                (s * len, a)
            }
            plan::Ty::Record(r) => {
                let r = &self.out[*r as usize];
                (r.size, r.align)
            }
        }
    }

    fn value(&mut self, value: &ir::Value) -> Result<plan::Value, GenerateError> {
        Ok(match value {
            ir::Value::If { cond, then, otherwise } => {
                plan::Value::If { cond: self.expr(cond)?, then: Box::new(self.value(then)?), otherwise: Box::new(self.value(otherwise)?) }
            }
            ir::Value::Leaf(spec) => {
                let ty = self.ty(&spec.ty)?;
                let kind = match &spec.kind {
                    ir::ValueKind::Opaque => plan::Kind::Opaque,
                    ir::ValueKind::Handle => plan::Kind::Handle { kind: self.handle_kind(&spec.ty) },
                    ir::ValueKind::Buffer { size, element } => {
                        plan::Kind::Buffer { size: self.expr(size)?, element: Box::new(self.value(element)?) }
                    }
                    ir::ValueKind::Struct { fields } => {
                        plan::Kind::Struct { fields: fields.iter().map(|f| self.value(f)).collect::<Result<_, _>>()? }
                    }
                    ir::ValueKind::Callback(ir::CallbackRef::Declared(id)) => plan::Kind::Callback { callback: Some(id.0) },
                    ir::ValueKind::Callback(ir::CallbackRef::Signature(_)) => plan::Kind::Callback { callback: None },
                    ir::ValueKind::Userdata { callback_param } => plan::Kind::Userdata { callback_param: callback_param.map(|p| p as u32) },
                };
                let lifetime = match &spec.lifetime {
                    ir::Lifetime::Call => plan::Lifetime::Call,
                    ir::Lifetime::Manual => plan::Lifetime::Manual,
                    ir::Lifetime::Static => plan::Lifetime::Static,
                    ir::Lifetime::Coupled(e) => plan::Lifetime::Coupled(self.expr(e)?),
                    ir::Lifetime::CoupledToReturn => plan::Lifetime::CoupledToReturn,
                    ir::Lifetime::Once => plan::Lifetime::Once,
                };
                plan::Value::Leaf(Box::new(plan::Leaf {
                    ty,
                    kind,
                    input: spec.input,
                    output: spec.output,
                    no_copy: spec.no_copy,
                    lifetime,
                    allocate: spec.allocate,
                    deallocate: spec.deallocate,
                    zerocopy: spec.zerocopy,
                    obj_record: spec.obj_record,
                }))
            }
        })
    }

    /// Handle types are told apart by the struct they point to.
    fn handle_kind(&mut self, ty: &ir::Type) -> u32 {
        match self.spec.resolve(ty) {
            ir::Type::Pointer { pointee, .. } => match self.spec.resolve(pointee) {
                ir::Type::Named(id) => self.record(*id).unwrap_or(u32::MAX),
                _ => u32::MAX,
            },
            _ => u32::MAX,
        }
    }

    fn expr(&mut self, e: &ir::Expr) -> Result<plan::Expr, GenerateError> {
        use ir::ExprKind as K;
        use plan::ExprKind as P;
        let b = |s: &mut Self, e: &ir::Expr| s.expr(e).map(Box::new);
        let kind = match &e.kind {
            K::Int(i) => P::Int(*i),
            K::Float(f) => P::Float(*f),
            K::Str(s) => P::Str(s.clone()),
            K::Param(i) => P::Param(*i as u32),
            K::Contextual(i) => P::Contextual(*i as u32),
            K::SiblingField(i) => P::SiblingField(*i as u32),
            K::Constant(c) => P::Constant(c.0),
            K::ElementIndex(d) => P::ElementIndex(*d),
            K::This => P::This,
            K::ReturnValue => P::ReturnValue,
            K::Unary(op, x) => P::Unary(unary(*op), b(self, x)?),
            K::Binary(op, l, r) => P::Binary(binary(*op), b(self, l)?, b(self, r)?),
            K::Assign(l, r) => P::Assign(b(self, l)?, b(self, r)?),
            K::Ternary(c, x, y) => P::Ternary(b(self, c)?, b(self, x)?, b(self, y)?),
            K::Member { base, field, arrow } => P::Member { base: b(self, base)?, field: *field as u32, arrow: *arrow },
            K::Index(x, i) => P::Index(b(self, x)?, b(self, i)?),
            K::SizeOf(t) => P::SizeOf(self.ty(t)?),
            K::Library(f, args) => P::Library(library(*f), args.iter().map(|a| self.expr(a)).collect::<Result<_, _>>()?),
            K::Registry(r) => P::Registry(r.0),
            K::Resource(r) => P::Resource(r.0),
            K::Utility(u, args) => P::Utility(u.0, args.iter().map(|a| self.expr(a)).collect::<Result<_, _>>()?),
        };
        Ok(plan::Expr::new(kind, self.ty(&e.ty)?))
    }
}

fn unary(op: ir::UnaryOp) -> plan::UnaryOp {
    match op {
        ir::UnaryOp::Neg => plan::UnaryOp::Neg,
        ir::UnaryOp::Not => plan::UnaryOp::Not,
        ir::UnaryOp::BitNot => plan::UnaryOp::BitNot,
        ir::UnaryOp::Deref => plan::UnaryOp::Deref,
        ir::UnaryOp::AddrOf => plan::UnaryOp::AddrOf,
    }
}

fn binary(op: ir::BinaryOp) -> plan::BinaryOp {
    use ir::BinaryOp as B;
    use plan::BinaryOp as P;
    match op {
        B::Mul => P::Mul,
        B::Div => P::Div,
        B::Rem => P::Rem,
        B::Add => P::Add,
        B::Sub => P::Sub,
        B::Shl => P::Shl,
        B::Shr => P::Shr,
        B::Lt => P::Lt,
        B::Le => P::Le,
        B::Gt => P::Gt,
        B::Ge => P::Ge,
        B::Eq => P::Eq,
        B::Ne => P::Ne,
        B::BitAnd => P::BitAnd,
        B::BitXor => P::BitXor,
        B::BitOr => P::BitOr,
        B::And => P::And,
        B::Or => P::Or,
    }
}

fn library(f: ir::LibraryFn) -> plan::LibraryFn {
    use ir::LibraryFn as L;
    use plan::LibraryFn as P;
    match f {
        L::Metadata => P::Metadata,
        L::RegisterBuf => P::RegisterBuf,
        L::RegisterBufsOf => P::RegisterBufsOf,
        L::GetBufs => P::GetBufs,
        L::GetNBufs => P::GetNBufs,
        L::GetBufSize => P::GetBufSize,
        L::ZerocopyAlloc => P::ZerocopyAlloc,
        L::ZerocopyFree => P::ZerocopyFree,
        L::Min => P::Min,
        L::Max => P::Max,
        L::Strlen => P::Strlen,
        L::TerminatedLen => P::TerminatedLen,
    }
}

/// Lowers a checked spec. Fails only on what the marshaller cannot carry
/// yet (the message names the function and argument).
pub fn lower(spec: &Spec) -> Result<Lowered, GenerateError> {
    let mut l = Lowerer { spec, records: HashMap::new(), out: Vec::new() };
    // every struct and union, so that types.rs and the plan agree on indexes
    for (i, def) in spec.types.iter().enumerate() {
        if matches!(def.kind, TypeDefKind::Struct { .. } | TypeDefKind::Union { .. }) {
            l.record(TypeId(i as u32))?;
        }
    }
    let api = plan::Api {
        name: spec.api.name.clone(),
        soname: spec.api.soname.clone(),
        library: spec.api.library.clone(),
        error_type: l.ty(&spec.api.error_type)?,
        success: spec.api.success,
        failure: spec.api.failure,
        invalid_handle: spec.api.invalid_handle,
        resolver: spec.api.resolver.clone(),
    };
    let mut functions = Vec::new();
    for f in &spec.functions {
        let context = |e: GenerateError| e.context(&f.name);
        let mut params = Vec::new();
        for p in &f.params {
            let ty = l.ty(&p.ty).map_err(context)?;
            // arrays are passed as pointers
            let ty = match ty {
                plan::Ty::Array(element, _) => plan::Ty::Ptr(element),
                other => other,
            };
            params.push(plan::Param { name: p.name.clone(), ty, value: l.value(&p.value).map_err(context)? });
        }
        let mut contextual = Vec::new();
        for c in &f.contextual {
            contextual.push(plan::Contextual {
                name: c.name.clone(),
                ty: l.ty(&c.ty).map_err(context)?,
                init: l.expr(&c.init).map_err(context)?,
                value: l.value(&c.value).map_err(context)?,
            });
        }
        let function = plan::Function {
            name: f.name.clone(),
            ret: l.ty(&f.ret).map_err(context)?,
            params,
            mode: match f.mode {
                ir::CallMode::Sync => plan::CallMode::Sync,
                ir::CallMode::Async { success } => plan::CallMode::Async { success },
            },
            unsupported: f.unsupported,
            replaced_in_guest: f.replace_guest.is_some(),
            in_guest: f.in_guest.as_ref().map(|e| l.expr(e)).transpose().map_err(context)?,
            variant_of: f.variant_of.map(|of| spec.functions[of.index()].name.clone()),
            contextual,
            return_value: l.value(&f.return_value).map_err(context)?,
            actions: f.actions.iter().map(|a| l.expr(a)).collect::<Result<_, _>>().map_err(context)?,
            release_at_exit: match &f.release_at_exit {
                Some(r) => Some(plan::ReleaseAtExit {
                    param: r.param as u32,
                    times: r.times.as_ref().map(|e| l.expr(e)).transpose().map_err(context)?,
                }),
                None => None,
            },
            abandon_at_exit: f.abandon_at_exit.map(|param| param as u32),
        };
        plan::call_slots(&function).map_err(GenerateError::new)?;
        plan::shape(&function.return_value).map_err(|e| GenerateError::new(format!("the result of `{}`: {e}", f.name)))?;
        functions.push(function);
    }
    let mut callbacks = Vec::new();
    for c in &spec.callbacks {
        let mut params = Vec::new();
        for p in &c.params {
            params.push(plan::Param { name: p.name.clone(), ty: l.ty(&p.ty)?, value: l.value(&p.value)? });
        }
        callbacks.push(plan::Callback { name: c.name.clone(), ret: l.ty(&c.ret)?, params, return_value: l.value(&c.return_value)? });
    }
    let mut utilities = Vec::new();
    for u in &spec.utilities {
        utilities.push(plan::Utility {
            name: u.name.clone(),
            params: u.params.iter().map(|(_, t)| l.ty(t)).collect::<Result<_, _>>()?,
            body: l.expr(&u.body)?,
        });
    }
    let constants = spec
        .constants
        .iter()
        .map(|c| match &c.value {
            ir::ConstValue::Int(i) => plan::Constant::Int(*i),
            ir::ConstValue::Float(f) => plan::Constant::Float(*f),
            ir::ConstValue::Str(s) => plan::Constant::Str(s.clone()),
        })
        .collect();
    let metadata = spec.metadata.as_ref().map(|t| l.ty(t)).transpose()?;
    let Lowerer { records, out, .. } = l;
    Ok(Lowered {
        plan: plan::Plan {
            api,
            records: out,
            functions,
            callbacks,
            utilities,
            constants,
            registries: spec.registries.len() as u32,
            metadata,
        },
        records,
    })
}
