//! The server's lean code that `cava build` generates per function
//! (`cava_codegen::lean`) reads a call's arguments exactly as the runtime's
//! lean path interprets them (`LeanCall::decode`): for every lean function
//! of every spec in the repository, over many random messages (well formed
//! and not, handle ids valid and forged, buffers of the right size and
//! not), both give up on the same calls, translate the same handles in the
//! same order, read the same memory, and hand the vendor the same words.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;

use common::{root, specs, Rng};

use cava_runtime::marshal::eval::{EvalError, Host, V};
use cava_runtime::marshal::generated::install;
use cava_runtime::marshal::server::{LeanArgs, LeanCall, LeanCx};
use cava_runtime::plan::{call_slots, Function, Kind, LibraryFn, Plan, SlotShape, Value};
use cava_runtime::wire::{encode_descriptor, inline_descriptor, BufferRef, Header, Kind as MsgKind, Layout, Message, HEADER_LEN};

/// Where the fake metadata blocks are: one per key modulo `BLOCKS`.
const META: u64 = 0x7000_0000;
const BLOCK: u64 = 1024;
const BLOCKS: u64 = 8;

/// The server as a lean reading sees it: a handle table that takes an id
/// `(kind + 1) << 16 | n` with `n < 4` as the object `0x1000 + id`, and
/// refuses anything else; memory that is the message's data and the
/// metadata blocks. Every handle taken and every host call is logged.
struct FakeCx<'m> {
    data: &'m [u8],
    metadata: Vec<u8>,
    max: u64,
    log: Vec<String>,
}

impl LeanCx for FakeCx<'_> {
    fn handle(&mut self, id: u64, kind: u32) -> Option<u64> {
        self.log.push(format!("handle {id:#x} {kind}"));
        if id == 0 {
            return Some(0);
        }
        (id >> 16 == u64::from(kind) + 1 && id & 0xffff < 4).then_some(0x1000 + id)
    }

    fn host(&mut self) -> &mut dyn Host {
        self
    }

    fn max(&self) -> u64 {
        self.max
    }
}

impl Host for FakeCx<'_> {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        let base = self.data.as_ptr() as u64;
        let len = dst.len() as u64;
        if let Some(o) = addr.checked_sub(base).filter(|o| o + len <= self.data.len() as u64) {
            dst.copy_from_slice(&self.data[o as usize..(o + len) as usize]);
            return Ok(());
        }
        if let Some(o) = addr.checked_sub(META).filter(|o| o + len <= self.metadata.len() as u64) {
            dst.copy_from_slice(&self.metadata[o as usize..(o + len) as usize]);
            return Ok(());
        }
        Err(EvalError::Unavailable("memory the lean path does not read"))
    }

    fn write(&mut self, addr: u64, _src: &[u8]) -> Result<(), EvalError> {
        self.log.push(format!("write {addr:#x}"));
        Err(EvalError::Unavailable("a write on the lean path"))
    }

    fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
        self.log.push(format!("metadata {key:#x}"));
        Ok(META + (key % BLOCKS) * BLOCK)
    }

    fn library(&mut self, function: LibraryFn, _args: &[V]) -> Result<V, EvalError> {
        self.log.push(format!("library {function:?}"));
        Err(EvalError::Unavailable("a library function on the lean path"))
    }
}

/// The handle kinds a plan's leaves name.
fn kinds(plan: &Plan) -> Vec<u32> {
    fn add(value: &Value, kinds: &mut BTreeSet<u32>) {
        match value {
            Value::If { then, otherwise, .. } => {
                add(then, kinds);
                add(otherwise, kinds);
            }
            Value::Leaf(leaf) => match &leaf.kind {
                Kind::Handle { kind } => _ = kinds.insert(*kind),
                Kind::Buffer { element, .. } => add(element, kinds),
                _ => {}
            },
        }
    }
    let mut kinds = BTreeSet::new();
    for p in plan.functions.iter().flat_map(|f| &f.params) {
        add(&p.value, &mut kinds);
    }
    kinds.into_iter().collect()
}

/// A word for a handle or pointer slot: mostly a valid id, often of the
/// kind the argument takes (`expected`), which the random kind seldom is.
fn word(rng: &mut Rng, kinds: &[u32], expected: Option<u32>) -> u64 {
    match rng.below(8) {
        0 => 0,
        1 => rng.next(),
        2 => rng.pick(&[1, 8, 16]),
        3 => (u64::from(rng.pick(kinds)) + 1) << 16 | rng.below(5),
        _ => (u64::from(expected.unwrap_or_else(|| rng.pick(kinds))) + 1) << 16 | rng.below(5),
    }
}

/// The first handle kind in a value's descriptions (its own, or its
/// elements').
fn handle_kind(value: &Value) -> Option<u32> {
    match value {
        Value::If { then, otherwise, .. } => handle_kind(then).or_else(|| handle_kind(otherwise)),
        Value::Leaf(leaf) => match &leaf.kind {
            Kind::Handle { kind } => Some(*kind),
            Kind::Buffer { element, .. } => handle_kind(element),
            _ => None,
        },
    }
}

/// A random call message of function `id` whose arguments have `shapes`:
/// scalars from small sets, buffers null, inline (of handle ids or of small
/// bytes, of sizes around the usual ones) or elsewhere, and now and then a
/// scalar area of the wrong length.
fn message(rng: &mut Rng, id: u32, f: &Function, shapes: &[SlotShape], kinds: &[u32]) -> Vec<u8> {
    let slots: Vec<_> = shapes.iter().filter_map(|s| s.slot()).collect();
    let (offsets, padded) = Layout::of(&slots);
    let mut scalars = vec![0u8; padded as usize];
    let mut data = Vec::new();
    let slotted = f.params.iter().zip(shapes).filter(|(_, s)| s.slot().is_some());
    for ((p, shape), at) in slotted.zip(offsets) {
        let at = at as usize;
        let expected = handle_kind(&p.value);
        match shape {
            SlotShape::Int { size, .. } | SlotShape::Float { size } => {
                let v = match rng.below(8) {
                    0 => rng.next(),
                    1 | 2 => rng.pick(&[4, 8, 16, 24, 32]),
                    _ => rng.pick(&[0, 1, 1, 2, 3]),
                };
                let n = usize::from(*size).min(8);
                scalars[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
            }
            SlotShape::Word | SlotShape::Handle => scalars[at..at + 8].copy_from_slice(&word(rng, kinds, expected).to_le_bytes()),
            SlotShape::Buffer => {
                let key = if rng.below(8) == 0 { word(rng, kinds, expected) } else { 0 };
                let d = match rng.below(8) {
                    0..=3 => encode_descriptor(&BufferRef::Null, 0, key),
                    4 => encode_descriptor(&BufferRef::Shared { offset: 0, len: 8 }, 0, key),
                    _ => {
                        let len = rng.pick(&[0, 1, 2, 4, 8, 8, 8, 16, 16, 24, 32]);
                        let start = data.len() as u64;
                        for _ in 0..len / 8 {
                            let w = if rng.below(2) == 0 { word(rng, kinds, expected) } else { rng.pick(&[0, 1, 2, 3]) };
                            data.extend_from_slice(&w.to_le_bytes());
                        }
                        data.extend((0..len % 8).map(|_| rng.below(3) as u8));
                        inline_descriptor(start, len, key)
                    }
                };
                scalars[at..at + 32].copy_from_slice(&d);
            }
            SlotShape::Void => {}
        }
    }
    match rng.below(16) {
        0 => _ = scalars.pop(),
        1 => scalars.extend([0; 16]),
        _ => {}
    }
    let mut header = Header::new(MsgKind::Call);
    header.function = id;
    header.scalar_len = scalars.len() as u32;
    header.payload_len = (scalars.len() + data.len()) as u32;
    let mut bytes = header.encode().to_vec();
    bytes.extend(scalars);
    bytes.extend(data);
    bytes
}

/// The words handed to the vendor, with addresses into `args`' objects
/// made relative (each reading has its own `LeanArgs`).
fn words(args: &LeanArgs, n: usize) -> Vec<String> {
    let objects = args.objects();
    let base = objects.as_ptr() as u64;
    args.raws[..n]
        .iter()
        .map(|&raw| match raw.checked_sub(base) {
            Some(o) if o < 16 * 8 => format!("objects+{o}"),
            _ => format!("{raw:#x}"),
        })
        .collect()
}

fn metadata_blocks(rng: &mut Rng) -> Vec<u8> {
    // mostly the small values conditions compare with (`arg_kind`)
    (0..BLOCK * BLOCKS).map(|_| rng.pick(&[0, 0, 1, 2, 3, 0xff])).collect()
}

#[test]
fn generated_lean_code_reads_calls_as_the_interpreter_does_on_every_spec() {
    let paths = specs();
    assert_eq!(paths.len(), cava_expr_check::SPECS.len(), "the build script saw the same specs");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut generated_functions, mut lean_functions) = (0, 0);
    let mut never_served = Vec::new();
    for path in paths {
        let key = path.strip_prefix(root()).unwrap().to_string_lossy().to_string();
        let spec = cava_expr_check::SPECS.iter().find(|s| s.path == key).unwrap_or_else(|| panic!("{key}: not generated"));
        let source = std::fs::read_to_string(&path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        let interpreted = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
        let mut generated = interpreted.clone();
        install(&mut generated, spec.expressions).unwrap();
        assert_eq!(spec.lean.len(), interpreted.functions.len(), "{key}");
        let kinds = kinds(&interpreted);
        for (id, f) in interpreted.functions.iter().enumerate() {
            let shapes = call_slots(f).unwrap();
            let lean = LeanCall::of(&interpreted, f, &shapes);
            lean_functions += usize::from(lean.is_some());
            let Some(code) = spec.lean[id] else { continue };
            let lean = lean.unwrap_or_else(|| panic!("{key}: {} has lean code but is not lean", f.name));
            generated_functions += 1;
            let mut served = 0;
            for round in 0..1000 {
                let bytes = message(&mut rng, id as u32, f, &shapes, &kinds);
                // (a scalar area of a length no writer makes may not decode)
                let Ok(message) = Message::decode(&bytes) else { continue };
                let metadata = metadata_blocks(&mut rng);
                let max = if rng.below(8) == 0 { 8 } else { 1 << 20 };
                let data = &bytes[HEADER_LEN + message.header().scalar_len as usize..];
                let mut a = FakeCx { data, metadata: metadata.clone(), max, log: Vec::new() };
                let mut b = FakeCx { data, metadata, max, log: Vec::new() };
                let (mut args_a, mut args_b) = (LeanArgs::default(), LeanArgs::default());
                let ra = lean.decode(&interpreted, f, &message, &mut a, &mut args_a);
                let rb = code(&generated, &message, &mut b, &mut args_b);
                let what = || format!("{key}: {} round {round}, message {bytes:02x?}", f.name);
                assert_eq!(ra, rb, "{}", what());
                assert_eq!(a.log, b.log, "{}", what());
                if ra.is_some() {
                    served += 1;
                    let n = f.params.len();
                    assert_eq!(words(&args_a, n), words(&args_b, n), "{}", what());
                    assert_eq!(args_a.objects(), args_b.objects(), "{}", what());
                }
            }
            if served == 0 {
                never_served.push(format!("{key}: {}", f.name));
            }
        }
    }
    // the random messages reach the vendor call, not only the early refusals
    eprintln!("never served: {never_served:?}");
    assert!(never_served.len() * 10 <= generated_functions, "no random call served of {never_served:?}");
    // every lean function but those whose conditions are left to the closures
    assert!(generated_functions * 10 >= lean_functions * 9, "lean code for {generated_functions} of {lean_functions} lean functions");
}

#[test]
fn the_server_generates_lean_code_for_the_launch_path() {
    // clSetKernelArg and clEnqueueNDRangeKernel, the calls of a
    // call-intensive program: if they lost their lean code, the
    // benchmarks would show it only as noise
    let spec = cava_expr_check::SPECS.iter().find(|s| s.path.ends_with("specs/opencl.lapis")).unwrap();
    let source = std::fs::read_to_string(root().join(spec.path)).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    for name in ["clSetKernelArg", "clEnqueueNDRangeKernel"] {
        let id = plan.functions.iter().position(|f| f.name == name).unwrap();
        assert!(spec.lean[id].is_some(), "{name} has no generated lean code");
    }
}
