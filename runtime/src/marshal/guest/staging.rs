//! Buffers too large for one message: uploaded in chunks before the call
//! (`Stage`), fetched in chunks after the reply (`Fetch`); see the wire
//! chapter's *Staged buffers*.

use super::*;

impl Encoder<'_, '_> {
    /// A buffer too large for one message. An in buffer is uploaded now,
    /// before the call, in chunks ([`Stage`]) that the server acknowledges
    /// one by one, each through a block of the zero-copy region when the
    /// transport has one free, inline otherwise; the descriptor names the
    /// staged bytes. An out buffer is staged by the server, and the guest
    /// fetches it after the reply (see [`fetch_staged`]).
    pub(super) fn stage(&mut self, ptr: u64, len: u64, input: bool, output: bool) -> Result<[u8; 32], CallError> {
        if output {
            self.outs.push(OutDest { addr: ptr, len, shared: None, staged: true });
        }
        if !input {
            return Ok(encode_descriptor(&BufferRef::StagedOut { len }, 0, 0));
        }
        let index = self.next_stage;
        self.next_stage += 1;
        let chunk = stage_chunk(self.max);
        let mut buf = Vec::new();
        let mut offset = 0;
        while offset < len {
            let n = chunk.min(len - offset);
            let first = index == 0 && offset == 0;
            let mut w = Stage { index, offset, total: len }.writer(self.call_id, self.thread, std::mem::take(&mut buf));
            let block = if n >= SHARED_MIN { self.transport.alloc_shared(n) } else { None };
            let sent = self.stage_chunk(&mut w, block.as_ref().map(RegionBlock::offset), ptr + offset, n).and_then(|()| {
                let message = w.finish()?;
                let sent = self.transport.send(&message);
                buf = message;
                // nothing of the call reached the server yet: a fresh channel may do
                sent.map_err(|e| if first { CallError::NotSent(e) } else { CallError::Transport(e) })?;
                self.transport.recv(&mut buf, None)?;
                let (ack, _) = acknowledged(&buf)?;
                if (ack.index, ack.offset, ack.len) != (index, offset, n) {
                    return Err(CallError::Other(format!(
                        "the server acknowledged staged chunk {ack:?} for {index} at {offset} of {n} bytes"
                    )));
                }
                Ok(())
            });
            if let Some(block) = block {
                free_blocks(self.transport, vec![block]);
            }
            sent?;
            offset += n;
        }
        Ok(encode_descriptor(&BufferRef::Staged { index, len }, 0, 0))
    }

    /// Puts `n` bytes of the application's memory at `addr` into a staging
    /// chunk: into the region block at `block`, or inline.
    fn stage_chunk(&mut self, w: &mut Writer, block: Option<u64>, addr: u64, n: u64) -> Result<(), CallError> {
        match block {
            Some(at) => {
                let region = self.transport.region().ok_or_else(|| CallError::Other("a region block without a region".into()))?;
                app_memory::copy_to_region(addr, region.region_ptr(at, n)?, n as usize)?;
                w.shared(at, n);
            }
            None => {
                let at = w.reserve(n as usize).data_with(n as usize, |dst| app_memory::read(addr, dst))?;
                w.descriptor_slot(inline_descriptor(at, n, 0));
            }
        }
        Ok(())
    }
}

/// Bytes of one staging chunk on a channel whose messages carry `max`.
pub(super) fn stage_chunk(max: u64) -> u64 {
    STAGE_CHUNK.min(max.saturating_sub(STAGE_HEADROOM)).max(1)
}

/// Decodes the answer to a [`Stage`] or [`Fetch`].
pub(super) fn acknowledged(buf: &[u8]) -> Result<(StageAck, BufferRef<'_>), CallError> {
    let message = Message::decode(buf)?;
    if message.kind() == MsgKind::Error {
        let reply = ErrorReply::decode(&message)?;
        return Err(CallError::Refused(reply.code, reply.message.to_string()));
    }
    Ok(StageAck::decode(&message)?)
}

/// Brings back the out buffers the reply to call `call_id` left staged on
/// the server, `(address, index, length)`, in chunks ([`Fetch`]) written
/// straight into the application's memory, each through a block of the
/// zero-copy region when the transport has one free, inline otherwise.
pub(super) fn fetch_staged(
    transport: &mut dyn Transport,
    call_id: u64,
    thread: u64,
    max: u64,
    staged: &[(u64, u32, u64)],
) -> Result<(), CallError> {
    let chunk = stage_chunk(max);
    let mut buf = Vec::new();
    for &(addr, index, len) in staged {
        let mut offset = 0;
        while offset < len {
            let n = chunk.min(len - offset);
            let block = if n >= SHARED_MIN { transport.alloc_shared(n) } else { None };
            let at = block.as_ref().map(RegionBlock::offset);
            let fetched = (|| {
                transport.send(&Fetch { index, offset, len: n }.encode(call_id, thread, at))?;
                transport.recv(&mut buf, None)?;
                let (ack, bytes) = acknowledged(&buf)?;
                if (ack.index, ack.offset, ack.len) != (index, offset, n) {
                    return Err(CallError::Other(format!("the server answered fetch {index} at {offset} of {n} bytes with {ack:?}")));
                }
                match (at, bytes) {
                    (Some(at), BufferRef::Null) => {
                        let region = transport.region().ok_or_else(|| CallError::Other("a region block without a region".into()))?;
                        app_memory::copy_from_region(region.region_ptr(at, n)?, addr + offset, n as usize)?;
                    }
                    (None, BufferRef::Inline(bytes)) if bytes.len() as u64 == n => app_memory::write(addr + offset, bytes)?,
                    (_, other) => return Err(CallError::Other(format!("a fetched chunk of {n} bytes came back as a {}", other.name()))),
                }
                Ok(())
            })();
            if let Some(block) = block {
                free_blocks(transport, vec![block]);
            }
            fetched?;
            offset += n;
        }
    }
    Ok(())
}
