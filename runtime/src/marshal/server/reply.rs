//! The reply to a call: out buffers with the library's objects turned into
//! the guest's handle ids, and the data of pointers the library returned.

use super::*;

/// Offset in the scalar area of each value's slot (0 for `void`), computed
/// once per function so a call does not recompute the layout.
pub(super) fn slot_offsets(shapes: &[SlotShape]) -> Vec<u32> {
    let slots: Vec<Slot> = shapes.iter().filter_map(|s| s.slot()).collect();
    let mut offsets = Layout::of(&slots).0.into_iter();
    shapes.iter().map(|s| if s.slot().is_some() { offsets.next().unwrap_or(0) } else { 0 }).collect()
}

/// Turns the object pointers in an out buffer's elements into handle ids.
/// What the walk of one out buffer's elements needs and finds.
pub(super) struct OutWalk<'o> {
    /// Offsets of the guest's own nested pointers (sent in, restored by it).
    pub(super) pointers: &'o [u64],
    /// The most bytes one buffer may take.
    pub(super) max: u64,
    /// Data the library's pointers in the buffer point to, by the pointer's
    /// offset: a `const char **` answered with one of the library's constant
    /// strings travels as a copy, never as the server's address.
    pub(super) pointed: Vec<(u64, Vec<u8>)>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn translate_out(
    shared: &Shared,
    env: &Env<'_>,
    frame: &mut Frame<'_>,
    bytes: &mut [u8],
    ty: &Ty,
    stride: u64,
    element: &Value,
    walk: &mut OutWalk<'_>,
) -> Result<(), Refusal> {
    let count = bytes.len() as u64 / stride.max(1);
    // `index` in the element's description (a property list's values,
    // whose kind the name before them says), as for in buffers
    let mut indices: smallvec::SmallVec<[u64; 4]> = smallvec::SmallVec::from_slice(env.indices);
    for i in 0..count {
        indices.push(i);
        let env = Env { indices: &indices, ..*env };
        translate_value(shared, &env, frame, bytes, (i * stride) as usize, ty, element, walk)?;
        indices.pop();
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn translate_value(
    shared: &Shared,
    env: &Env<'_>,
    frame: &mut Frame<'_>,
    bytes: &mut [u8],
    at: usize,
    ty: &Ty,
    value: &Value,
    walk: &mut OutWalk<'_>,
) -> Result<(), Refusal> {
    let plan = &shared.plan;
    let word = |bytes: &[u8]| bytes.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).unwrap_or(0);
    let this = match ty {
        Ty::Ptr(_) => V::Ptr(word(bytes)),
        _ => V::Int(0),
    };
    let env = Env { this: Some((this, None)), ..*env };
    let leaf = select(plan, value, &env, frame).map_err(malformed)?;
    match &leaf.kind {
        Kind::Handle { kind } => {
            let object = word(bytes);
            let id = frame.issue(object, *kind, leaf.allocate)?;
            if let Some(slot) = bytes.get_mut(at..at + 8) {
                slot.copy_from_slice(&id.to_le_bytes());
            }
        }
        Kind::Struct { fields } => {
            if let Ty::Record(r) = leaf.ty {
                if let Some(record) = plan.records.get(r as usize) {
                    for (field, value) in record.fields.iter().zip(fields) {
                        translate_value(shared, &env, frame, bytes, at + field.offset as usize, &field.ty, value, walk)?;
                    }
                }
            }
        }
        Kind::Buffer { size, .. } if matches!(ty, Ty::Ptr(_)) && !walk.pointers.contains(&(at as u64)) => {
            // a pointer the library wrote, into its own memory
            let pointer = word(bytes);
            if pointer != 0 {
                let env = Env { this: Some((V::Ptr(pointer), None)), ..env };
                frame.vendor_reads = true;
                let count = eval(plan, size, &env, frame);
                frame.vendor_reads = false;
                let len = byte_len(count.map_err(malformed)?.as_int(), stride(plan, &leaf.ty), walk.max)
                    .ok_or_else(|| malformed("a buffer the library points to over the limit"))?;
                let mut data = vec![0u8; len as usize];
                native::read_vendor(pointer, &mut data);
                walk.pointed.push((at as u64, data));
            }
            if let Some(slot) = bytes.get_mut(at..at + 8) {
                slot.fill(0);
            }
        }
        _ => {}
    }
    Ok(())
}

/// One out buffer of a reply.
pub(super) enum ReplyOut<'a> {
    Null,
    Bytes(&'a [u8]),
    Owned(Vec<u8>),
    /// Held in the channel's staging area as result `index`.
    Staged {
        index: u32,
        len: u64,
    },
}

/// What a reply carries back (see the wire chapter).
pub(super) struct Answer<'a> {
    pub(super) ret: V,
    pub(super) ret_bytes: Option<&'a [u8]>,
    pub(super) outs: &'a [ReplyOut<'a>],
    /// Copies of what the library's pointers in out buffers point to: the
    /// out buffer's index, the pointer's offset, the bytes.
    pub(super) pointed: &'a [(u32, u64, Vec<u8>)],
}

pub(super) fn reply(shared: &Shared, id: u32, to: &Header, answer: Answer<'_>, buf: Vec<u8>) -> Result<Vec<u8>, crate::wire::WriteError> {
    let Answer { ret, ret_bytes, outs, pointed } = answer;
    let shape = shared.ret[id as usize];
    let mut slots: Vec<Slot> = shape.slot().into_iter().collect();
    slots.push(Slot::U32);
    slots.extend(std::iter::repeat_n(Slot::Buffer, outs.len()));
    slots.push(Slot::U32);
    for _ in pointed {
        slots.extend([Slot::U32, Slot::U64, Slot::Buffer]);
    }
    let (_, scalar_len) = Layout::of(&slots);
    let header = Header { function: id, call_id: to.call_id, thread: to.thread, ..Header::new(MsgKind::Reply) };
    let mut w = Writer::reuse(buf, header, scalar_len);
    let raw = shared.plan.functions.get(id as usize).map_or(0, |f| ret.to_raw(&f.ret));
    match shape {
        SlotShape::Void => {}
        SlotShape::Buffer => match ret_bytes {
            Some(bytes) => _ = w.buffer(bytes),
            None => _ = w.null(),
        },
        SlotShape::Int { size: 1, .. } => _ = w.u8(raw as u8),
        SlotShape::Int { size: 2, .. } => _ = w.u16(raw as u16),
        SlotShape::Int { size: 4, .. } | SlotShape::Float { size: 4 } => _ = w.u32(raw as u32),
        _ => _ = w.u64(raw),
    }
    w.u32(outs.len() as u32);
    for out in outs {
        match out {
            ReplyOut::Bytes(bytes) => _ = w.buffer(bytes),
            ReplyOut::Owned(bytes) => _ = w.buffer(bytes),
            ReplyOut::Null => _ = w.null(),
            ReplyOut::Staged { index, len } => {
                _ = w.descriptor_slot(crate::wire::encode_descriptor(&BufferRef::Staged { index: *index, len: *len }, 0, 0))
            }
        }
    }
    w.u32(pointed.len() as u32);
    for (out, at, data) in pointed {
        w.u32(*out).u64(*at).buffer(data);
    }
    w.finish()
}
