//! The plan's binary form: what both generated halves embed (`plan.bin`,
//! with `include_bytes!`) and decode when the process starts, because
//! parsing the JSON form took most of a guest process's start (2.5–3.2 ms
//! for the OpenCL plan; see the book's Benchmarks, "Process start").
//!
//! The layout is written out below, one line per type, in the order of the
//! fields: no names, no padding, integers as LEB128 varints (`i128` zigzag
//! first), `f64` as 8 little-endian bytes, `bool` and `u8` as one byte,
//! strings and vectors as a length then their elements, `Option` and enum
//! variants as a tag byte then their fields. A plan is
//!
//! ```text
//! "CAVAPLAN"  schema (u64, little-endian)  Plan
//! ```
//!
//! and nothing after it. `schema` is a hash of the layout's own description
//! (every type's fields with their types, every variant with its tag), so a
//! plan written by a generator whose plan types differ from this runtime's
//! is refused with a clear error instead of being misread.
//!
//! The decoder is safe on any input: every read is bounds-checked, tags,
//! booleans, UTF-8 and integer ranges are checked, a length is refused when
//! it exceeds the bytes left (so a corrupt one allocates nothing large),
//! nesting is limited as `serde_json`'s is (128), and each problem is a
//! [`DecodeError`] naming the byte where it was found, never a panic.
//!
//! The codecs are written with the two macros below, which destructure and
//! build each type without `..`: a field added to a plan type that is not
//! added here too is a compile error, and the types spelled here are checked
//! against the real ones by the compiler.

#![forbid(unsafe_code)]

use super::{
    Api, BinaryOp, CallMode, Callback, Constant, Contextual, Expr, ExprKind, Field, Function, Kind, Leaf, LibraryFn, Lifetime, Param, Plan,
    Record, ReleaseAtExit, Ty, UnaryOp, Utility, Value,
};

/// What every binary plan starts with.
pub const MAGIC: &[u8; 8] = b"CAVAPLAN";

/// Nesting allowed (vectors and boxes inside each other), as deep as
/// `serde_json` allows for the JSON form, whose every vector and box is an
/// array or object of its own: a plan that loads from JSON loads from bytes.
const MAX_DEPTH: u32 = 128;

/// Why a binary plan does not load.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a CAVA plan (it does not start with \"CAVAPLAN\")")]
    NotAPlan,
    #[error(
        "the plan was written for other plan types (layout {found:016x}, this runtime reads {expected:016x}): \
         regenerate it with the `cava` of this runtime"
    )]
    Schema { found: u64, expected: u64 },
    #[error("the plan is corrupt at byte {offset} of {len}: {problem}")]
    Corrupt { offset: usize, len: usize, problem: String },
}

/// Encodes a plan (its expressions' compiled code is not part of it).
pub fn encode(plan: &Plan) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(1 << 16));
    w.0.extend_from_slice(MAGIC);
    w.0.extend_from_slice(&schema().to_le_bytes());
    plan.put(&mut w);
    w.0
}

/// Decodes a plan written by [`encode`], without compiling its
/// expressions ([`Plan::from_bytes`] does both).
pub fn decode(bytes: &[u8]) -> Result<Plan, DecodeError> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else { return Err(DecodeError::NotAPlan) };
    let mut r = Reader { bytes, pos: bytes.len() - rest.len(), depth: 0 };
    let mut schema_bytes = [0; 8];
    schema_bytes.copy_from_slice(r.take(8)?);
    let found = u64::from_le_bytes(schema_bytes);
    if found != schema() {
        return Err(DecodeError::Schema { found, expected: schema() });
    }
    let plan = Plan::get(&mut r)?;
    if r.pos != bytes.len() {
        return Err(r.corrupt(r.pos, format!("{} bytes after the end of the plan", bytes.len() - r.pos)));
    }
    Ok(plan)
}

/// The hash of the layout's description (FNV-1a over every codec's
/// [`Bin::LAYOUT`], whitespace aside), computed at compile time.
pub const fn schema() -> u64 {
    const HASH: u64 = {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut t = 0;
        while t < LAYOUT.len() {
            let bytes = LAYOUT[t].as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                // whitespace left out: `stringify!` spaces and breaks lines
                // as the compiler's version likes, and the generator and the
                // generated crates may be built by different ones
                if !bytes[i].is_ascii_whitespace() {
                    hash ^= bytes[i] as u64;
                    hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
                }
                i += 1;
            }
            // a separator, so that two descriptions cannot run together
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            t += 1;
        }
        hash
    };
    HASH
}

/// Every type's layout, in the order of the table in this module's
/// documentation. A type with a codec of its own must be listed.
const LAYOUT: &[&str] = &[
    "v1: u32 u64 LEB128; i128 zigzag LEB128; f64 8 bytes LE; u8 bool 1 byte; String Vec length then elements; \
     Option tag byte then value; Box its value",
    Plan::LAYOUT,
    Api::LAYOUT,
    Ty::LAYOUT,
    Record::LAYOUT,
    Field::LAYOUT,
    Function::LAYOUT,
    ReleaseAtExit::LAYOUT,
    CallMode::LAYOUT,
    Param::LAYOUT,
    Contextual::LAYOUT,
    Callback::LAYOUT,
    Utility::LAYOUT,
    Constant::LAYOUT,
    Value::LAYOUT,
    Leaf::LAYOUT,
    Kind::LAYOUT,
    Lifetime::LAYOUT,
    Expr::LAYOUT,
    ExprKind::LAYOUT,
    UnaryOp::LAYOUT,
    BinaryOp::LAYOUT,
    LibraryFn::LAYOUT,
];

struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn varint(&mut self, mut v: u128) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn len(&mut self, n: usize) {
        self.varint(n as u128);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, offset: usize, problem: String) -> DecodeError {
        DecodeError::Corrupt { offset, len: self.bytes.len(), problem }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.bytes.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(taken) => {
                self.pos += n;
                Ok(taken)
            }
            None => Err(self.corrupt(self.bytes.len(), format!("it ends inside a value ({n} more bytes expected at byte {})", self.pos))),
        }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.corrupt(self.pos, "it ends inside a value".into())),
        }
    }

    /// A LEB128 varint of at most `bits` bits.
    fn varint(&mut self, bits: u32, what: &str) -> Result<u128, DecodeError> {
        let at = self.pos;
        let mut v: u128 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            let low = u128::from(b & 0x7f);
            // the bits this byte adds must fit
            if shift >= bits || (bits - shift < 7 && low >> (bits - shift) != 0) {
                return Err(self.corrupt(at, format!("an integer too large for {what}")));
            }
            v |= low << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    /// A length of elements that take at least one byte each: never more
    /// than the bytes left, so a corrupt length allocates nothing large.
    fn len(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.varint(64, "a length")?;
        let left = self.bytes.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => Err(self.corrupt(at, format!("a length of {n}, more than the {left} bytes left"))),
        }
    }

    fn enter(&mut self) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.corrupt(self.pos, format!("values nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }
}

/// One type's place in the binary form.
trait Bin: Sized {
    /// The layout's description, hashed into [`schema`].
    const LAYOUT: &'static str;
    fn put(&self, w: &mut Writer);
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl Bin for u8 {
    const LAYOUT: &'static str = "u8";
    fn put(&self, w: &mut Writer) {
        w.byte(*self);
    }
    fn get(r: &mut Reader<'_>) -> Result<u8, DecodeError> {
        r.byte()
    }
}

impl Bin for bool {
    const LAYOUT: &'static str = "bool";
    fn put(&self, w: &mut Writer) {
        w.byte(u8::from(*self));
    }
    fn get(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
        match r.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(r.corrupt(r.pos - 1, format!("a boolean of {b}"))),
        }
    }
}

impl Bin for u32 {
    const LAYOUT: &'static str = "u32";
    fn put(&self, w: &mut Writer) {
        w.varint(u128::from(*self));
    }
    fn get(r: &mut Reader<'_>) -> Result<u32, DecodeError> {
        // fits: the varint is checked for 32 bits
        r.varint(32, "u32").map(|v| v as u32)
    }
}

impl Bin for u64 {
    const LAYOUT: &'static str = "u64";
    fn put(&self, w: &mut Writer) {
        w.varint(u128::from(*self));
    }
    fn get(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
        r.varint(64, "u64").map(|v| v as u64)
    }
}

impl Bin for i128 {
    const LAYOUT: &'static str = "i128";
    fn put(&self, w: &mut Writer) {
        w.varint(((*self << 1) ^ (*self >> 127)) as u128);
    }
    fn get(r: &mut Reader<'_>) -> Result<i128, DecodeError> {
        let z = r.varint(128, "i128")?;
        Ok((z >> 1) as i128 ^ -((z & 1) as i128))
    }
}

impl Bin for f64 {
    const LAYOUT: &'static str = "f64";
    fn put(&self, w: &mut Writer) {
        w.0.extend_from_slice(&self.to_le_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<f64, DecodeError> {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(r.take(8)?);
        Ok(f64::from_le_bytes(bytes))
    }
}

impl Bin for String {
    const LAYOUT: &'static str = "String";
    fn put(&self, w: &mut Writer) {
        w.len(self.len());
        w.0.extend_from_slice(self.as_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<String, DecodeError> {
        let n = r.len()?;
        let at = r.pos;
        let bytes = r.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(r.corrupt(at, "a string that is not UTF-8".into())),
        }
    }
}

impl<T: Bin> Bin for Option<T> {
    const LAYOUT: &'static str = "Option";
    fn put(&self, w: &mut Writer) {
        match self {
            None => w.byte(0),
            Some(v) => {
                w.byte(1);
                v.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Option<T>, DecodeError> {
        match r.byte()? {
            0 => Ok(None),
            1 => T::get(r).map(Some),
            tag => Err(r.corrupt(r.pos - 1, format!("an option tag of {tag}"))),
        }
    }
}

impl<T: Bin> Bin for Box<T> {
    const LAYOUT: &'static str = "Box";
    fn put(&self, w: &mut Writer) {
        (**self).put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Box<T>, DecodeError> {
        r.enter()?;
        let v = T::get(r)?;
        r.leave();
        Ok(Box::new(v))
    }
}

impl<T: Bin> Bin for Vec<T> {
    const LAYOUT: &'static str = "Vec";
    fn put(&self, w: &mut Writer) {
        w.len(self.len());
        for v in self {
            v.put(w);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Vec<T>, DecodeError> {
        // every element takes at least one byte: `len` is bounded by the input
        let n = r.len()?;
        r.enter()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(T::get(r)?);
        }
        r.leave();
        Ok(out)
    }
}

/// A struct: its fields in order.
macro_rules! record {
    ($t:ident { $($f:ident: $ft:ty),* $(,)? }) => {
        impl Bin for $t {
            const LAYOUT: &'static str = stringify!($t { $($f: $ft),* });
            fn put(&self, w: &mut Writer) {
                let $t { $($f),* } = self;
                $(<$ft as Bin>::put($f, w);)*
            }
            fn get(r: &mut Reader<'_>) -> Result<$t, DecodeError> {
                Ok($t { $($f: <$ft as Bin>::get(r)?),* })
            }
        }
    };
}

/// An enum: a tag byte, then the variant's fields in order.
macro_rules! tagged {
    ($t:ident { $($tag:literal $v:ident $(($($p:ident: $pt:ty),*))? $({$($f:ident: $ft:ty),*})?),* $(,)? }) => {
        impl Bin for $t {
            const LAYOUT: &'static str = stringify!($t { $($tag $v $(($($p: $pt),*))? $({$($f: $ft),*})?),* });
            fn put(&self, w: &mut Writer) {
                match self {
                    $($t::$v $(($($p),*))? $({$($f),*})? => {
                        w.byte($tag);
                        $($(<$pt as Bin>::put($p, w);)*)?
                        $($(<$ft as Bin>::put($f, w);)*)?
                    })*
                }
            }
            fn get(r: &mut Reader<'_>) -> Result<$t, DecodeError> {
                Ok(match r.byte()? {
                    $($tag => $t::$v $(($(<$pt as Bin>::get(r)?),*))? $({$($f: <$ft as Bin>::get(r)?),*})?,)*
                    tag => return Err(r.corrupt(r.pos - 1, format!("a {} tag of {tag}", stringify!($t)))),
                })
            }
        }
    };
}

record!(Plan {
    api: Api,
    records: Vec<Record>,
    functions: Vec<Function>,
    callbacks: Vec<Callback>,
    utilities: Vec<Utility>,
    constants: Vec<Constant>,
    registries: u32,
    metadata: Option<Ty>,
});

record!(Api {
    name: String,
    soname: String,
    library: String,
    error_type: Ty,
    success: i128,
    failure: i128,
    invalid_handle: i128,
    resolver: Option<String>,
});

tagged!(Ty {
    0 Void,
    1 Int { size: u8, signed: bool },
    2 Float { size: u8 },
    3 Ptr(pointee: Box<Ty>),
    4 Array(element: Box<Ty>, len: u64),
    5 Record(index: u32),
    6 Function,
});

record!(Record { name: String, union: bool, complete: bool, size: u64, align: u64, fields: Vec<Field> });

record!(Field { name: String, ty: Ty, offset: u64 });

record!(Function {
    name: String,
    ret: Ty,
    params: Vec<Param>,
    mode: CallMode,
    unsupported: Option<i128>,
    replaced_in_guest: bool,
    in_guest: Option<Expr>,
    variant_of: Option<String>,
    contextual: Vec<Contextual>,
    return_value: Value,
    actions: Vec<Expr>,
    release_at_exit: Option<ReleaseAtExit>,
    abandon_at_exit: Option<u32>,
});

record!(ReleaseAtExit { param: u32, times: Option<Expr> });

tagged!(CallMode {
    0 Sync,
    1 Async { success: i128 },
});

record!(Param { name: String, ty: Ty, value: Value });

record!(Contextual { name: String, ty: Ty, init: Expr, value: Value });

record!(Callback { name: String, ret: Ty, params: Vec<Param>, return_value: Value });

record!(Utility { name: String, params: Vec<Ty>, body: Expr });

tagged!(Constant {
    0 Int(value: i128),
    1 Float(value: f64),
    2 Str(value: String),
});

tagged!(Value {
    0 Leaf(leaf: Box<Leaf>),
    1 If { cond: Expr, then: Box<Value>, otherwise: Box<Value> },
});

record!(Leaf {
    ty: Ty,
    kind: Kind,
    input: bool,
    output: bool,
    no_copy: bool,
    lifetime: Lifetime,
    allocate: bool,
    deallocate: bool,
    zerocopy: bool,
    obj_record: bool,
});

tagged!(Kind {
    0 Opaque,
    1 Handle { kind: u32 },
    2 Buffer { size: Expr, element: Box<Value> },
    3 Struct { fields: Vec<Value> },
    4 Callback { callback: Option<u32> },
    5 Userdata { callback_param: Option<u32> },
});

tagged!(Lifetime {
    0 Call,
    1 Manual,
    2 Static,
    3 Coupled(object: Expr),
    4 Once,
    5 CoupledToReturn,
});

// by hand: `code` is compiled when the plan loads, not stored
impl Bin for Expr {
    const LAYOUT: &'static str = "Expr { kind: ExprKind, ty: Ty }";
    fn put(&self, w: &mut Writer) {
        let Expr { kind, ty, code: _ } = self;
        kind.put(w);
        ty.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Expr, DecodeError> {
        let kind = ExprKind::get(r)?;
        Ok(Expr::new(kind, Ty::get(r)?))
    }
}

tagged!(ExprKind {
    0 Int(value: i128),
    1 Float(value: f64),
    2 Str(value: String),
    3 Param(index: u32),
    4 Contextual(index: u32),
    5 SiblingField(index: u32),
    6 Constant(index: u32),
    7 ElementIndex(index: u32),
    8 This,
    9 Unary(op: UnaryOp, operand: Box<Expr>),
    10 Binary(op: BinaryOp, left: Box<Expr>, right: Box<Expr>),
    11 Assign(target: Box<Expr>, value: Box<Expr>),
    12 Ternary(cond: Box<Expr>, then: Box<Expr>, otherwise: Box<Expr>),
    13 Member { base: Box<Expr>, field: u32, arrow: bool },
    14 Index(base: Box<Expr>, index: Box<Expr>),
    15 SizeOf(ty: Ty),
    16 Library(function: LibraryFn, args: Vec<Expr>),
    17 Registry(index: u32),
    18 Resource(index: u32),
    19 Utility(index: u32, args: Vec<Expr>),
    20 ReturnValue,
});

tagged!(UnaryOp {
    0 Neg,
    1 Not,
    2 BitNot,
    3 Deref,
    4 AddrOf,
});

tagged!(BinaryOp {
    0 Add,
    1 Sub,
    2 Mul,
    3 Div,
    4 Rem,
    5 Shl,
    6 Shr,
    7 Lt,
    8 Le,
    9 Gt,
    10 Ge,
    11 Eq,
    12 Ne,
    13 BitAnd,
    14 BitOr,
    15 BitXor,
    16 And,
    17 Or,
});

tagged!(LibraryFn {
    0 Metadata,
    1 RegisterBuf,
    2 GetBufs,
    3 GetNBufs,
    4 GetBufSize,
    5 ZerocopyAlloc,
    6 ZerocopyFree,
    7 Min,
    8 Max,
    9 Strlen,
    10 TerminatedLen,
    11 RegisterBufsOf,
});

#[cfg(test)]
mod tests {
    use super::*;

    const INT: Ty = Ty::Int { size: 4, signed: true };

    fn expr(kind: ExprKind) -> Expr {
        Expr::new(kind, INT)
    }

    fn leaf(ty: Ty, kind: Kind, lifetime: Lifetime) -> Value {
        Value::Leaf(Box::new(Leaf {
            ty,
            kind,
            input: true,
            output: false,
            no_copy: false,
            lifetime,
            allocate: false,
            deallocate: true,
            zerocopy: false,
            obj_record: true,
        }))
    }

    /// A plan with every kind of value the format has, and the extremes of
    /// its integers.
    fn sample() -> Plan {
        let pointer = Ty::Ptr(Box::new(Ty::Array(Box::new(Ty::Record(0)), u64::MAX)));
        let size = expr(ExprKind::Binary(
            BinaryOp::Mul,
            Box::new(expr(ExprKind::Param(1))),
            Box::new(expr(ExprKind::Library(LibraryFn::Max, vec![expr(ExprKind::Int(i128::MIN)), expr(ExprKind::Float(-0.5))]))),
        ));
        let buffer = leaf(
            pointer.clone(),
            Kind::Buffer { size, element: Box::new(leaf(INT, Kind::Handle { kind: u32::MAX }, Lifetime::Call)) },
            Lifetime::Coupled(expr(ExprKind::Member { base: Box::new(expr(ExprKind::This)), field: 2, arrow: true })),
        );
        let value = Value::If {
            cond: expr(ExprKind::Ternary(
                Box::new(expr(ExprKind::Unary(UnaryOp::Not, Box::new(expr(ExprKind::Str("é\0\"".into())))))),
                Box::new(expr(ExprKind::SizeOf(Ty::Float { size: 8 }))),
                Box::new(expr(ExprKind::Utility(0, vec![expr(ExprKind::ElementIndex(3))]))),
            )),
            then: Box::new(buffer),
            otherwise: Box::new(leaf(Ty::Void, Kind::Struct { fields: vec![leaf(INT, Kind::Opaque, Lifetime::Once)] }, Lifetime::Static)),
        };
        let function = Function {
            name: "f".into(),
            ret: INT,
            params: vec![Param { name: "p".into(), ty: pointer, value }],
            mode: CallMode::Async { success: i128::MAX },
            unsupported: Some(-1),
            replaced_in_guest: true,
            in_guest: Some(expr(ExprKind::Assign(Box::new(expr(ExprKind::Contextual(0))), Box::new(expr(ExprKind::Constant(0)))))),
            variant_of: Some("g".into()),
            contextual: vec![Contextual {
                name: "c".into(),
                ty: Ty::Function,
                init: expr(ExprKind::Index(Box::new(expr(ExprKind::Registry(1))), Box::new(expr(ExprKind::Resource(2))))),
                value: leaf(INT, Kind::Callback { callback: Some(0) }, Lifetime::Manual),
            }],
            return_value: leaf(INT, Kind::Userdata { callback_param: None }, Lifetime::CoupledToReturn),
            actions: vec![expr(ExprKind::SiblingField(7)), expr(ExprKind::ReturnValue)],
            release_at_exit: Some(ReleaseAtExit { param: 0, times: None }),
            abandon_at_exit: Some(0),
        };
        Plan {
            api: Api {
                name: "t".into(),
                soname: "libt.so.1".into(),
                library: "libt.so.1".into(),
                error_type: INT,
                success: 0,
                failure: -1,
                invalid_handle: -2,
                resolver: Some("t_resolve".into()),
            },
            records: vec![Record {
                name: "struct s".into(),
                union: false,
                complete: true,
                size: 16,
                align: 8,
                fields: vec![Field { name: "x".into(), ty: INT, offset: 8 }],
            }],
            functions: vec![function],
            callbacks: vec![Callback {
                name: "cb".into(),
                ret: Ty::Void,
                params: Vec::new(),
                return_value: leaf(Ty::Void, Kind::Opaque, Lifetime::Call),
            }],
            utilities: vec![Utility { name: "u".into(), params: vec![INT], body: expr(ExprKind::Param(0)) }],
            constants: vec![Constant::Int(-300), Constant::Float(f64::MIN_POSITIVE), Constant::Str(String::new())],
            registries: 2,
            metadata: Some(Ty::Record(0)),
        }
    }

    #[test]
    fn a_plan_round_trips() {
        let plan = sample();
        let bytes = encode(&plan);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded, plan);
        // everything, the compiled code aside, is the same: so is the JSON form
        assert_eq!(serde_json::to_string(&decoded).unwrap(), serde_json::to_string(&plan).unwrap());
        assert_eq!(encode(&decoded), bytes);
    }

    #[test]
    fn integers_round_trip_at_their_extremes() {
        for v in [0, 1, -1, 63, -64, 64, 127, 128, i128::from(i64::MIN), i128::from(u64::MAX), i128::MIN, i128::MAX] {
            let mut w = Writer(Vec::new());
            v.put(&mut w);
            let mut r = Reader { bytes: &w.0, pos: 0, depth: 0 };
            assert_eq!(i128::get(&mut r), Ok(v));
            assert_eq!(r.pos, w.0.len());
        }
        for v in [0, 127, 128, u64::MAX] {
            let mut w = Writer(Vec::new());
            v.put(&mut w);
            assert_eq!(u64::get(&mut Reader { bytes: &w.0, pos: 0, depth: 0 }), Ok(v));
            // and a u32 refuses what does not fit
            let as_u32 = u32::get(&mut Reader { bytes: &w.0, pos: 0, depth: 0 });
            assert_eq!(as_u32.is_ok(), v <= u64::from(u32::MAX), "{v}: {as_u32:?}");
        }
    }

    #[test]
    fn a_truncated_plan_is_an_error() {
        let bytes = encode(&sample());
        for end in 0..bytes.len() {
            let error = decode(&bytes[..end]).unwrap_err();
            match end {
                0..=7 => assert_eq!(error, DecodeError::NotAPlan),
                // the end, or a length past it
                _ => assert!(matches!(error, DecodeError::Corrupt { len, .. } if len == end), "{end}: {error}"),
            }
        }
    }

    #[test]
    fn a_corrupted_plan_is_an_error_or_another_plan_never_a_panic() {
        // (the test fails if any decode panics)
        let bytes = encode(&sample());
        let mut refused = 0;
        for at in 16..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut corrupt = bytes.clone();
                corrupt[at] ^= flip;
                if decode(&corrupt).is_err() {
                    refused += 1;
                }
            }
        }
        // a flip inside a number or a string's bytes can make another valid
        // plan (as a changed digit does in JSON); tags, lengths, booleans
        // and the end are checked
        assert!(refused > 0);
    }

    #[test]
    fn each_problem_has_its_error() {
        let bytes = encode(&sample());
        let corrupt = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = bytes.clone();
            f(&mut b);
            decode(&b).unwrap_err().to_string()
        };
        assert_eq!(corrupt(&|b| b[0] = b'X'), "not a CAVA plan (it does not start with \"CAVAPLAN\")");
        assert!(corrupt(&|b| b[8] ^= 1).starts_with("the plan was written for other plan types"));
        assert_eq!(
            corrupt(&|b| b.push(0)),
            format!("the plan is corrupt at byte {} of {}: 1 bytes after the end of the plan", bytes.len(), bytes.len() + 1)
        );
        // the api's name: a length, then "t"
        assert_eq!(bytes[16..18], [1, b't']);
        assert_eq!(corrupt(&|b| b[17] = 0xff), format!("the plan is corrupt at byte 17 of {}: a string that is not UTF-8", bytes.len()));
        let long = corrupt(&|b| {
            b.splice(16..17, [0xff, 0x7f]);
        });
        assert!(long.contains("a length of 16383, more than the"), "{long}");
        // a length that no usize holds
        let huge = corrupt(&|b| {
            b.splice(16..17, [0xff; 10]);
        });
        assert!(huge.contains("an integer too large for a length"), "{huge}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // a pointer to a pointer to ... (a million times)
        let mut bytes = vec![3; 1_000_000];
        bytes.push(0);
        let error = Ty::get(&mut Reader { bytes: &bytes, pos: 0, depth: 0 }).unwrap_err();
        assert!(error.to_string().contains("values nested deeper than 128"), "{error}");
        // what JSON allows is allowed
        let mut ty = Ty::Void;
        for _ in 0..MAX_DEPTH {
            ty = Ty::Ptr(Box::new(ty));
        }
        let mut w = Writer(Vec::new());
        ty.put(&mut w);
        assert_eq!(Ty::get(&mut Reader { bytes: &w.0, pos: 0, depth: 0 }), Ok(ty));
    }

    #[test]
    fn the_schema_follows_the_layout() {
        let layout: Vec<String> = LAYOUT.iter().map(|l| l.split_whitespace().collect()).collect();
        assert!(layout.iter().any(|l| l.starts_with("Leaf{ty:Ty,kind:Kind,input:bool")), "{layout:?}");
        assert!(layout.iter().any(|l| l.contains("3Ptr(pointee:Box<Ty>)")), "{layout:?}");
    }
}
