//! Decoding a call's arguments: every buffer descriptor, handle and nested
//! pointer the guest sent is checked against the plan and turned into what
//! the vendor library is given.

use super::*;

/// Decodes, checks and runs one call.
pub(super) struct Decoder<'a, 'p> {
    pub(super) plan: &'p Plan,
    pub(super) frame: Frame<'a>,
    pub(super) outs: Vec<OutEntry<'p>>,
    /// Retained buffers to free after the call (`deallocate`): their keys,
    /// and the marks they bore when the call was decoded.
    pub(super) release: Vec<(u64, u64)>,
    /// The registry entry the slot being decoded takes its buffers from
    /// (`get_bufs(registry, key)`): the only kept buffers it may free.
    pub(super) claim: Option<(u32, u64)>,
    pub(super) max: u64,
    /// Shadows of earlier calls of the channel, to reuse: a fresh large
    /// allocation costs a page fault per page on every call.
    pub(super) spare: Vec<Vec<u8>>,
    /// The channel's staging area for the call (uploads to take, results
    /// to keep), and the bytes of it the call's shadows hold.
    pub(super) staging: Staging,
    pub(super) staged_bytes: u64,
    /// The handles the call translated, in use until it ends (see
    /// `in_use`; after the frame, which lets go of the kept buffers' pins).
    pub(super) uses: Uses<'a>,
}

impl<'a, 'p> Decoder<'a, 'p> {
    pub(super) fn shadow(&mut self, len: u64) -> (usize, u64) {
        let len = len as usize;
        let bytes = match self.spare.iter().position(|b| b.capacity() >= len) {
            Some(i) => {
                let mut bytes = self.spare.swap_remove(i);
                // zeroed, as a fresh one: what the vendor does not write goes back as zeros
                bytes.clear();
                bytes.resize(len, 0);
                bytes
            }
            None => vec![0u8; len],
        };
        let addr = bytes.as_ptr() as u64;
        self.frame.shadows.push(bytes);
        (self.frame.shadows.len() - 1, addr)
    }

    /// The object behind handle `id`, in use until the call ends.
    pub(super) fn handle(&mut self, id: u64, kind: u32) -> Result<u64, Refusal> {
        if id == 0 {
            return Ok(0);
        }
        self.uses.take(&lock(&self.frame.tenant.handles), id, kind).map_err(handle_error)
    }

    /// Prepares the buffer a guest's descriptor names; returns the address
    /// the vendor library gets.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn buffer(
        &mut self,
        env: &Env<'_>,
        leaf: &'p Leaf,
        descriptor: BufferRef<'a>,
        key: u64,
        size: &'p crate::plan::Expr,
        element_ty: &'p Ty,
        element: &'p Value,
    ) -> Result<u64, Refusal> {
        let plan = self.plan;
        if descriptor == BufferRef::Null {
            return Ok(0);
        }
        let stride = stride(plan, &leaf.ty);
        let this = provisional(descriptor);
        let env = Env { this: Some((this, None)), ..*env };
        let retained_len = (key != 0).then(|| lock(&self.frame.tenant.retained).get(&key).map(|r| r.bytes.len() as u64)).flatten();
        // staged buffers are bounded by the staging limit, the process
        // region's by the region; the others travel in one message
        let limit = match descriptor {
            BufferRef::Staged { .. } | BufferRef::StagedOut { .. } => self.staging.max(),
            BufferRef::Process { .. } => u64::MAX,
            _ => self.max,
        };
        let expected = match eval(plan, size, &env, &mut self.frame) {
            Ok(count) => byte_len(count.as_int(), stride, limit)
                .ok_or_else(|| malformed(format!("a buffer of {} elements is over the limit", count.as_int())))?,
            // sizes kept by the guest (registries): the buffer the server kept decides
            Err(EvalError::Unavailable(_)) => match (descriptor, retained_len) {
                // data the guest sends from its own registries: its length is the guest's word
                (BufferRef::Inline(bytes), _) if (bytes.len() as u64).is_multiple_of(stride) => bytes.len() as u64,
                (_, Some(len)) => len,
                (BufferRef::Out { .. }, None) if leaf.output => {
                    // the guest registered a buffer whose asynchronous call the
                    // server refused (its error is deferred): nothing to bring back
                    self.outs.push(OutEntry { place: Place::Missing, len: 0, walk: None, pointers: Vec::new() });
                    return Ok(0);
                }
                _ => return Err(malformed("a buffer whose size only the guest knows, and that the server does not hold")),
            },
            Err(e) => return Err(malformed(e)),
        };
        let copy_in = leaf.input && !leaf.no_copy;
        let keep = leaf.lifetime != Lifetime::Call;
        let (place, addr) = match descriptor {
            BufferRef::Inline(bytes) if copy_in => {
                if bytes.len() as u64 != expected {
                    return Err(malformed(format!("an in buffer of {} bytes where the spec gives {expected}", bytes.len())));
                }
                if keep {
                    let addr = self.retain(env, leaf, key, expected, Some(bytes))?;
                    (Place::Retained(key), addr)
                } else if needs_walk(element) || leaf.output {
                    let (index, addr) = self.shadow(expected);
                    self.frame.shadows[index].copy_from_slice(bytes);
                    (Place::Shadow(index), addr)
                } else {
                    // read in place from the message: no staging copy
                    (Place::Shadow(usize::MAX), bytes.as_ptr() as u64)
                }
            }
            BufferRef::Out { len } if !copy_in => {
                if len != expected {
                    return Err(malformed(format!("an out buffer of {len} bytes where the spec gives {expected}")));
                }
                match retained_len {
                    Some(have) if have >= expected => {
                        // a call that keeps it hands it to the vendor again
                        // and takes it over; one that brings it back does not
                        // pin it (a callback's call may bring it back first)
                        let addr = if keep {
                            self.frame.take_over(key)
                        } else {
                            lock(&self.frame.tenant.retained).get(&key).map_or(0, |r| r.bytes.as_ptr() as u64)
                        };
                        self.frame.kept.push((addr, key));
                        (Place::Retained(key), addr)
                    }
                    _ if keep => (Place::Retained(key), self.retain(env, leaf, key, expected, None)?),
                    _ => {
                        let (index, addr) = self.shadow(expected);
                        (Place::Shadow(index), addr)
                    }
                }
            }
            BufferRef::Shared { offset, len } => {
                let region = self.frame.region.ok_or_else(|| malformed("a shared buffer on a channel without a zero-copy region"))?;
                if len != expected {
                    return Err(malformed(format!("a shared buffer of {len} bytes where the spec gives {expected}")));
                }
                if keep || leaf.deallocate || leaf.no_copy || needs_walk(element) {
                    return Err(malformed("a shared buffer where the server must keep or translate the bytes"));
                }
                // the vendor reads and writes the region in place
                self.frame.used_region = true;
                (Place::Shared, region.region_ptr(offset, len).map_err(malformed)?.as_ptr() as u64)
            }
            BufferRef::Staged { index, len } if copy_in => {
                self.staged(&descriptor, len, expected, keep, leaf, element)?;
                let call = self.frame.message.header().call_id;
                let bytes = self.staging.take_upload(call, index, len).map_err(malformed)?;
                // (by capacity: a reused spare may be larger than the upload)
                self.staged_bytes += bytes.capacity() as u64;
                let addr = bytes.as_ptr() as u64;
                self.frame.shadows.push(bytes);
                let index = self.frame.shadows.len() - 1;
                (if leaf.output { Place::Staged(index) } else { Place::Shadow(index) }, addr)
            }
            BufferRef::StagedOut { len } if !copy_in => {
                self.staged(&descriptor, len, expected, keep, leaf, element)?;
                if self.frame.message.header().flags.contains(crate::wire::Flags::ASYNC) {
                    return Err(malformed("a staged out buffer of an asynchronous call, whose reply never comes"));
                }
                let bytes = self.staging.allocate(len, self.staged_bytes).map_err(malformed)?;
                self.staged_bytes += bytes.capacity() as u64;
                let addr = bytes.as_ptr() as u64;
                self.frame.shadows.push(bytes);
                (Place::Staged(self.frame.shadows.len() - 1), addr)
            }
            BufferRef::Process { offset, len } => {
                // the application's own memory, allocated with zerocopy_alloc
                if len != expected {
                    return Err(malformed(format!("a process-region buffer of {len} bytes where the spec gives {expected}")));
                }
                if keep || leaf.deallocate || leaf.no_copy || needs_walk(element) {
                    return Err(malformed("a process-region buffer where the server must keep or translate the bytes"));
                }
                self.frame.used_region = true;
                let region = self.frame.process_region()?;
                (Place::Shared, region.region_ptr(offset, len).map_err(malformed)?.as_ptr() as u64)
            }
            other => {
                return Err(malformed(format!(
                    "{} where the spec expects {}",
                    other.name(),
                    if copy_in { "an in buffer" } else { "an out buffer" }
                )))
            }
        };
        if leaf.deallocate && key != 0 {
            let held = match self.claim {
                Some((registry, claimed)) if retained_len.is_some() => {
                    lock(&self.frame.tenant.kept_registries).holds(registry, claimed, key)
                }
                _ => true,
            };
            if !held {
                // the vendor may still be writing it: it stays
                self.frame.shared.log(format_args!("a call named a kept buffer that its registry entry does not hold; it is not freed"));
            } else if let Some(serial) = lock(&self.frame.tenant.retained).get(&key).map(|r| r.serial) {
                // (with nothing kept there, nothing is this call's to free: a
                // buffer another thread's call makes there meanwhile is that call's)
                self.release.push((key, serial));
            }
        }
        let out_index = (leaf.output && !leaf.no_copy).then(|| {
            let walk = needs_walk(element).then_some((element_ty, stride, element));
            self.outs.push(OutEntry { place, len: expected, walk, pointers: Vec::new() });
            self.outs.len() - 1
        });
        if copy_in && needs_walk(element) {
            let Place::Shadow(index) = place else { return Err(malformed("kept buffers holding pointers are not served yet")) };
            if let (Value::Leaf(leaf), Ty::Ptr(_)) = (element, element_ty) {
                if let Kind::Handle { kind } = leaf.kind {
                    // an array of handle ids (a kernel's memory object):
                    // translated in place, as `element` would one by one
                    for at in (0..expected as usize).step_by(8) {
                        let word = |s: &[u8]| s.get(at..at + 8).map_or(0, |w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
                        let object = self.handle(word(&self.frame.shadows[index]), kind)?;
                        if let Some(slot) = self.frame.shadows[index].get_mut(at..at + 8) {
                            slot.copy_from_slice(&object.to_le_bytes());
                        }
                    }
                    return Ok(addr);
                }
            }
            let mut indices: SmallVec<[u64; 4]> = SmallVec::from_slice(env.indices);
            for i in 0..expected / stride {
                indices.push(i);
                let env = Env { indices: &indices, ..env };
                self.element(&env, index, i * stride, element_ty, element, out_index)?;
                indices.pop();
            }
        }
        Ok(addr)
    }

    /// Checks a staged buffer: its length, and that it is a plain buffer of
    /// the call (the server neither keeps nor translates staged bytes).
    fn staged(
        &mut self,
        descriptor: &BufferRef<'_>,
        len: u64,
        expected: u64,
        keep: bool,
        leaf: &Leaf,
        element: &Value,
    ) -> Result<(), Refusal> {
        if len != expected {
            return Err(malformed(format!("a {} of {len} bytes where the spec gives {expected}", descriptor.name())));
        }
        if keep || leaf.deallocate || leaf.no_copy || needs_walk(element) {
            return Err(malformed(format!("a {} where the server must keep or translate the bytes", descriptor.name())));
        }
        // the bytes are not in the message: such a call cannot be replayed
        self.frame.used_region = true;
        Ok(())
    }

    pub(super) fn retain(&mut self, env: Env<'_>, leaf: &Leaf, key: u64, len: u64, bytes: Option<&[u8]>) -> Result<u64, Refusal> {
        if key == 0 {
            return Err(malformed("a kept buffer without its key"));
        }
        let coupled = match &leaf.lifetime {
            Lifetime::Coupled(owner) => Some(eval(self.plan, owner, &env, &mut self.frame).map_err(malformed)?.as_u64()),
            _ => None,
        };
        let mut retained = lock(&self.frame.tenant.retained);
        if let Some(held) = retained.get(&key) {
            if held.bytes.len() as u64 != len {
                // the vendor may still hold the old bytes (an asynchronous
                // call's destination): they are never freed under it
                return Err(malformed(format!(
                    "a kept buffer of {len} bytes at a key that holds one of {} bytes not yet freed",
                    held.bytes.len()
                )));
            }
        }
        let mut made = false;
        let entry = retained.entry(key).or_insert_with(|| {
            made = true;
            Retained::new(vec![0u8; len as usize].into_boxed_slice(), coupled)
        });
        if made {
            entry.pins += 1;
            self.frame.created.push((key, entry.serial));
        } else {
            // a call that found the old owner's frees it no more
            entry.take_over();
        }
        if let Some(bytes) = bytes {
            entry.bytes.copy_from_slice(bytes);
        }
        entry.coupled = coupled;
        let addr = entry.bytes.as_ptr() as u64;
        drop(retained);
        self.frame.pinned(addr, key);
        self.frame.kept.push((addr, key));
        Ok(addr)
    }

    /// Translates one element of shadow `index` at offset `at`.
    pub(super) fn element(
        &mut self,
        env: &Env<'_>,
        index: usize,
        at: u64,
        ty: &'p Ty,
        value: &'p Value,
        out: Option<usize>,
    ) -> Result<(), Refusal> {
        let plan = self.plan;
        let addr = self.frame.shadows[index].as_ptr() as u64 + at;
        let this = load(plan, addr, ty, &self.frame).map_err(malformed)?;
        let env = Env { this: Some((this, Some(addr))), ..*env };
        let leaf = select(plan, value, &env, &mut self.frame).map_err(malformed)?;
        let word = |at: u64, w: u64, frame: &mut Frame<'_>| {
            if let Some(slot) = frame.shadows[index].get_mut(at as usize..at as usize + 8) {
                slot.copy_from_slice(&w.to_le_bytes());
            }
        };
        match &leaf.kind {
            Kind::Buffer { element, .. } if matches!(ty, Ty::Array(..)) => {
                // an array inside a struct: its elements are right here
                if let Ty::Array(element_ty, len) = ty {
                    if needs_walk(element) {
                        let stride = plan.size_of(element_ty).max(1);
                        let mut indices: SmallVec<[u64; 4]> = SmallVec::from_slice(env.indices);
                        for i in 0..*len {
                            indices.push(i);
                            let env = Env { indices: &indices, ..env };
                            self.element(&env, index, at + i * stride, element_ty, element, out)?;
                            indices.pop();
                        }
                    }
                }
            }
            Kind::Handle { kind } => {
                let object = self.handle(this.as_u64(), *kind)?;
                word(at, object, &mut self.frame);
            }
            Kind::Buffer { size, element } => {
                let token = this.as_u64();
                let pointer = if token == 0 {
                    0
                } else {
                    let offset = token - 1;
                    let descriptor = self.frame.message.nested_buffer(offset).map_err(malformed)?;
                    let key = self.frame.message.nested_key(offset).map_err(malformed)?;
                    // sibling fields that size this buffer must see a pointer, not the token
                    word(at, provisional(descriptor).as_u64(), &mut self.frame);
                    self.buffer(&env, leaf, descriptor, key, size, pointee(&leaf.ty), element)?
                };
                word(at, pointer, &mut self.frame);
                if let Some(out) = out {
                    self.outs[out].pointers.push(at);
                }
            }
            Kind::Struct { fields } => {
                let Ty::Record(r) = leaf.ty else { return Err(malformed("struct description of a non-struct")) };
                let record = plan.records.get(r as usize).ok_or_else(|| malformed("unknown record"))?;
                for (field, value) in record.fields.iter().zip(fields) {
                    let env = Env { sibling: Some((addr, r)), ..env };
                    self.element(&env, index, at + field.offset, &field.ty, value, out)?;
                }
            }
            Kind::Callback { .. } if this.as_u64() != 0 => return Err(malformed("callbacks inside buffers are not forwarded yet")),
            _ => {}
        }
        Ok(())
    }
}
