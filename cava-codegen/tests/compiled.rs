//! The code compiled for a plan's expressions when it loads
//! (`cava_runtime::marshal::compile`) computes what the interpreter does:
//! every expression of every spec in the repository, evaluated both ways
//! over many random calls, gives the same value or error, and makes the
//! same reads, writes and library calls in the same order.

mod common;

use common::{specs, Rng};
use std::path::Path;

use cava_runtime::marshal::compile::compile;
use cava_runtime::marshal::eval::{eval, Env, EvalError, Host, V};
use cava_runtime::plan::{Expr, Kind, Leaf, LibraryFn, Lifetime, Plan, Value};

/// Every expression of a plan, in a fixed order.
fn expressions(plan: &Plan) -> Vec<&Expr> {
    fn value<'p>(v: &'p Value, out: &mut Vec<&'p Expr>) {
        match v {
            Value::Leaf(l) => leaf(l, out),
            Value::If { cond, then, otherwise } => {
                out.push(cond);
                value(then, out);
                value(otherwise, out);
            }
        }
    }
    fn leaf<'p>(l: &'p Leaf, out: &mut Vec<&'p Expr>) {
        match &l.kind {
            Kind::Buffer { size, element } => {
                out.push(size);
                value(element, out);
            }
            Kind::Struct { fields } => fields.iter().for_each(|f| value(f, out)),
            _ => {}
        }
        if let Lifetime::Coupled(owner) = &l.lifetime {
            out.push(owner);
        }
    }
    let mut out = Vec::new();
    for u in &plan.utilities {
        out.push(&u.body);
    }
    for f in &plan.functions {
        out.extend(&f.in_guest);
        for p in &f.params {
            value(&p.value, &mut out);
        }
        for c in &f.contextual {
            out.push(&c.init);
            value(&c.value, &mut out);
        }
        value(&f.return_value, &mut out);
        out.extend(&f.actions);
        out.extend(f.release_at_exit.as_ref().and_then(|r| r.times.as_ref()));
    }
    for c in &plan.callbacks {
        for p in &c.params {
            value(&p.value, &mut out);
        }
        value(&c.return_value, &mut out);
    }
    out
}

const BASE: u64 = 0x10_0000;
const LEN: usize = 8192;

/// A call's memory: one block at `BASE`, mostly zeros (lists end soon),
/// with metadata blocks in its second half; every access is logged.
#[derive(Clone)]
struct Memory {
    bytes: Vec<u8>,
    log: Vec<String>,
}

impl Host for Memory {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        let off = addr.checked_sub(BASE).filter(|o| o + dst.len() as u64 <= LEN as u64);
        match off {
            Some(o) => {
                dst.copy_from_slice(&self.bytes[o as usize..o as usize + dst.len()]);
                Ok(())
            }
            None => Err(EvalError::OutOfBounds { addr, len: dst.len() as u64 }),
        }
    }

    fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), EvalError> {
        self.log.push(format!("write {addr:#x} {src:?}"));
        let off = addr.checked_sub(BASE).filter(|o| o + src.len() as u64 <= LEN as u64);
        match off {
            Some(o) => {
                self.bytes[o as usize..o as usize + src.len()].copy_from_slice(src);
                Ok(())
            }
            None => Err(EvalError::OutOfBounds { addr, len: src.len() as u64 }),
        }
    }

    fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
        self.log.push(format!("metadata {key:#x}"));
        if key == 7 {
            return Err(EvalError::Unavailable("metadata of 7"));
        }
        Ok(BASE + LEN as u64 / 2 + (key % 4) * 1024)
    }

    fn library(&mut self, function: LibraryFn, args: &[V]) -> Result<V, EvalError> {
        self.log.push(format!("library {function:?} {args:?}"));
        Ok(match function {
            LibraryFn::GetBufs => V::Ptr(BASE + 64),
            _ => V::Int(args.iter().map(|a| a.as_int() & 0xff).sum()),
        })
    }
}

fn random_value(rng: &mut Rng) -> V {
    match rng.below(8) {
        0 => V::Int(0),
        1 => V::Int(rng.below(300) as i128 - 3),
        2 => V::Int(i128::from(rng.next() as i64)),
        3 => V::Ptr(0),
        4 | 5 => V::Ptr(BASE + rng.below(LEN as u64)),
        6 => V::Ptr(rng.next()),
        _ => V::Float((rng.next() % 1000) as f64 / 7.0 - 20.0),
    }
}

fn memory(rng: &mut Rng) -> Memory {
    let mut bytes = vec![0u8; LEN];
    for b in bytes.iter_mut() {
        if rng.below(4) == 0 {
            *b = rng.next() as u8;
        }
    }
    Memory { bytes, log: Vec::new() }
}

fn compare(path: &Path, interpreted: &Plan, compiled: &Plan) {
    let (a, b) = (expressions(interpreted), expressions(compiled));
    assert_eq!(a.len(), b.len());
    assert!(b.iter().any(|e| e.code.get().is_some()), "{}: nothing compiled", path.display());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x.code.get().is_none());
        for _ in 0..48 {
            // now and then fewer parameters than the expression reads
            let count = if rng.below(8) == 0 { rng.below(4) } else { 12 };
            let params: Vec<V> = (0..count).map(|_| random_value(&mut rng)).collect();
            let contextual: Vec<V> = (0..4).map(|_| random_value(&mut rng)).collect();
            let indices: Vec<u64> = (0..rng.below(3)).map(|_| rng.below(5)).collect();
            let this = match rng.below(3) {
                0 => None,
                1 => Some((random_value(&mut rng), None)),
                _ => Some((random_value(&mut rng), Some(BASE + rng.below(LEN as u64)))),
            };
            let sibling = (!interpreted.records.is_empty() && rng.below(2) == 0)
                .then(|| (BASE + rng.below(LEN as u64 / 2), rng.below(interpreted.records.len() as u64) as u32));
            // (`return_value` reads `this`, which statements leave to it)
            let env = Env { params: &params, contextual: &contextual, this, sibling, indices: &indices };
            let mut m1 = memory(&mut rng);
            let mut m2 = m1.clone();
            let r1 = eval(interpreted, x, &env, &mut m1);
            let r2 = eval(compiled, y, &env, &mut m2);
            let what = || format!("{}: expression {i} {:?} in {env:?}", path.display(), x.kind);
            assert_eq!(format!("{r1:?}"), format!("{r2:?}"), "{}", what());
            assert_eq!(m1.log, m2.log, "{}", what());
            assert!(m1.bytes == m2.bytes, "{}", what());
        }
    }
}

#[test]
fn compiled_expressions_agree_with_the_interpreter_on_every_spec() {
    // recursive utilities over random lists recurse deeply in the interpreter
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            for path in specs() {
                let source = std::fs::read_to_string(&path).unwrap();
                let (_, checked) = lapis_parser::check_source(&source);
                assert!(!checked.has_errors(), "{}", path.display());
                let interpreted = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
                let mut compiled = interpreted.clone();
                compile(&mut compiled);
                compare(&path, &interpreted, &compiled);
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_loaded_plan_is_compiled_and_serializes_as_before() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/opencl.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    let json = serde_json::to_string(&plan).unwrap();
    let loaded = Plan::from_json(&json).unwrap();
    assert!(expressions(&loaded).iter().filter(|e| e.code.get().is_some()).count() > expressions(&loaded).len() / 2);
    assert_eq!(serde_json::to_string(&loaded).unwrap(), json);
}
