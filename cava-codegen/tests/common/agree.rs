//! Evaluating a plan's expressions two ways and comparing: the
//! interpreter against code attached to them (the runtime's compiled
//! closures, or the generator's Rust).

use std::path::Path;

use super::Rng;
use cava_runtime::marshal::eval::{eval, Env, EvalError, Host, V};
use cava_runtime::plan::{Expr, LibraryFn, Plan};

/// Every expression of a plan, in a fixed order.
pub fn expressions(plan: &Plan) -> Vec<&Expr> {
    cava_runtime::plan::walk::expressions(plan)
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

/// Evaluates every expression of `interpreted` (which has no code) and
/// of `compiled` (the same plan with code attached) over many random calls,
/// and asserts that both give the same value or error and make the same
/// host calls and writes.
pub fn compare(path: &Path, interpreted: &Plan, compiled: &Plan) {
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
