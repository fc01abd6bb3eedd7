//! Buffers too large for one message: uploaded in chunks before the call
//! (`Stage`), fetched in chunks after the reply (`Fetch`); see the wire
//! chapter's *Staged buffers*.

use std::collections::VecDeque;

use super::*;

impl Encoder<'_, '_> {
    /// A buffer too large for one message. An in buffer is uploaded now,
    /// before the call, in chunks ([`Stage`]), up to [`STAGE_WINDOW`] of
    /// them sent before the first acknowledgement is awaited (see
    /// [`pipeline`]), each through a block of the zero-copy region when the
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
        let mut upload = Upload {
            transport: &mut *self.transport,
            call_id: self.call_id,
            thread: self.thread,
            total: len,
            buf: Vec::new(),
            answer: Vec::new(),
        };
        pipeline(&mut upload, chunks(&[(ptr, index, len)], stage_chunk(self.max)), STAGE_WINDOW)?;
        Ok(encode_descriptor(&BufferRef::Staged { index, len }, 0, 0))
    }
}

/// One chunk of a staged transfer: `len` bytes at `offset` of entry
/// `index`, which are the application's at `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Chunk {
    pub index: u32,
    pub offset: u64,
    pub len: u64,
    pub addr: u64,
}

/// The chunks of `(address, index, length)` transfers, in order, of at
/// most `chunk` bytes each.
pub(super) fn chunks(transfers: &[(u64, u32, u64)], chunk: u64) -> impl Iterator<Item = Chunk> + '_ {
    let chunk = chunk.max(1);
    transfers.iter().flat_map(move |&(addr, index, len)| {
        (0..len.div_ceil(chunk)).map(move |i| {
            let offset = i * chunk;
            Chunk { index, offset, len: chunk.min(len - offset), addr: addr + offset }
        })
    })
}

/// A staged transfer seen as messages the server answers one by one, in
/// the order sent (see [`pipeline`]).
pub(super) trait Pipelined {
    /// What a chunk in flight holds until its answer (its region block).
    type Token;
    /// Sends the message for `chunk`. `Ok(None)` asks to wait for an
    /// answer first (a resource that the chunks in flight hold, such as
    /// region space, is short); it is allowed only when `busy` (something
    /// is in flight), and the chunk is offered again after the answer.
    fn send(&mut self, chunk: &Chunk, busy: bool) -> Result<Option<Self::Token>, CallError>;
    /// Receives the answer to `chunk`, the oldest in flight, checks it and
    /// uses it.
    fn answer(&mut self, chunk: &Chunk, token: &Self::Token) -> Result<(), CallError>;
    /// Gives back a chunk's token once its answer came or never will.
    fn release(&mut self, token: Self::Token);
    /// Receives one answer and ignores it.
    fn discard(&mut self) -> Result<(), CallError>;
}

/// Runs `chunks` through `p` with at most `window` sent and not yet
/// answered. After an error, the answers still due are received and
/// ignored (a refused chunk does not stop the server answering the ones
/// sent after it), so the channel's next message is the next call's
/// reply; a broken channel stops that at its first failed receive.
pub(super) fn pipeline<P: Pipelined>(p: &mut P, chunks: impl Iterator<Item = Chunk>, window: usize) -> Result<(), CallError> {
    let window = window.max(1);
    let mut chunks = chunks.peekable();
    let mut flight: VecDeque<(Chunk, P::Token)> = VecDeque::with_capacity(window);
    let result = loop {
        if flight.len() < window {
            if let Some(&chunk) = chunks.peek() {
                match p.send(&chunk, !flight.is_empty()) {
                    Ok(Some(token)) => {
                        flight.push_back((chunk, token));
                        chunks.next();
                        continue;
                    }
                    Ok(None) if !flight.is_empty() => {}
                    Ok(None) => break Err(CallError::Other("a staged chunk waits for an answer when none is due".into())),
                    Err(e) => break Err(e),
                }
            }
        }
        let Some((chunk, token)) = flight.pop_front() else { break Ok(()) };
        let answered = p.answer(&chunk, &token);
        p.release(token);
        if let Err(e) = answered {
            break Err(e);
        }
    };
    if result.is_err() {
        let mut alive = true;
        for (_, token) in flight {
            alive = alive && p.discard().is_ok();
            p.release(token);
        }
    }
    result
}

/// A block of the zero-copy region for a chunk of `len` bytes, when the
/// transport has one free; `Err(())` when the region is full for now and
/// chunks in flight hold part of it (`busy`): worth waiting for.
fn chunk_block(transport: &mut dyn Transport, len: u64, busy: bool) -> Result<Option<RegionBlock>, ()> {
    if len < SHARED_MIN {
        return Ok(None);
    }
    match transport.alloc_shared(len) {
        Some(block) => Ok(Some(block)),
        None if busy && transport.region().is_some() => Err(()),
        None => Ok(None),
    }
}

/// An upload ([`Stage`] messages) from the application's memory.
struct Upload<'t> {
    transport: &'t mut dyn Transport,
    call_id: u64,
    thread: u64,
    total: u64,
    /// The last message sent, and the last answer: buffers reused.
    buf: Vec<u8>,
    answer: Vec<u8>,
}

impl Upload<'_> {
    /// Puts `chunk`'s bytes into its message: into the region block at
    /// `block`, or inline; sends it.
    fn put(&mut self, chunk: &Chunk, block: Option<u64>) -> Result<(), CallError> {
        let Chunk { index, offset, len, addr } = *chunk;
        let mut w = Stage { index, offset, total: self.total }.writer(self.call_id, self.thread, std::mem::take(&mut self.buf));
        match block {
            Some(at) => {
                let region = self.transport.region().ok_or_else(|| CallError::Other("a region block without a region".into()))?;
                app_memory::copy_to_region(addr, region.region_ptr(at, len)?, len as usize)?;
                w.shared(at, len);
            }
            None => {
                let at = w.reserve(len as usize).data_with(len as usize, |dst| app_memory::read(addr, dst))?;
                w.descriptor_slot(inline_descriptor(at, len, 0));
            }
        }
        let message = w.finish()?;
        let sent = self.transport.send(&message);
        self.buf = message;
        // nothing of the call reached the server yet: a fresh channel may do
        let first = index == 0 && offset == 0;
        sent.map_err(|e| if first { CallError::NotSent(e) } else { CallError::Transport(e) })
    }
}

impl Pipelined for Upload<'_> {
    type Token = Option<RegionBlock>;

    fn send(&mut self, chunk: &Chunk, busy: bool) -> Result<Option<Self::Token>, CallError> {
        let Ok(block) = chunk_block(self.transport, chunk.len, busy) else { return Ok(None) };
        match self.put(chunk, block.as_ref().map(RegionBlock::offset)) {
            Ok(()) => Ok(Some(block)),
            Err(e) => {
                self.release(block);
                Err(e)
            }
        }
    }

    fn answer(&mut self, chunk: &Chunk, _: &Self::Token) -> Result<(), CallError> {
        self.transport.recv(&mut self.answer, None)?;
        let (ack, _) = acknowledged(&self.answer)?;
        let Chunk { index, offset, len, .. } = *chunk;
        if (ack.index, ack.offset, ack.len) != (index, offset, len) {
            return Err(CallError::Other(format!("the server acknowledged staged chunk {ack:?} for {index} at {offset} of {len} bytes")));
        }
        Ok(())
    }

    fn release(&mut self, token: Self::Token) {
        if let Some(block) = token {
            free_blocks(self.transport, vec![block]);
        }
    }

    fn discard(&mut self) -> Result<(), CallError> {
        Ok(self.transport.recv(&mut self.answer, None)?)
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
/// zero-copy region when the transport has one free, inline otherwise; up
/// to [`STAGE_WINDOW`] chunks are asked for ahead of the one being copied
/// (see [`pipeline`]).
pub(super) fn fetch_staged(
    transport: &mut dyn Transport,
    call_id: u64,
    thread: u64,
    max: u64,
    staged: &[(u64, u32, u64)],
) -> Result<(), CallError> {
    let mut download = Download { transport, call_id, thread, buf: Vec::new() };
    pipeline(&mut download, chunks(staged, stage_chunk(max)), STAGE_WINDOW)
}

/// A download ([`Fetch`] messages) into the application's memory.
struct Download<'t> {
    transport: &'t mut dyn Transport,
    call_id: u64,
    thread: u64,
    /// The last answer: a buffer reused.
    buf: Vec<u8>,
}

impl Pipelined for Download<'_> {
    type Token = Option<RegionBlock>;

    fn send(&mut self, chunk: &Chunk, busy: bool) -> Result<Option<Self::Token>, CallError> {
        let Ok(block) = chunk_block(self.transport, chunk.len, busy) else { return Ok(None) };
        let at = block.as_ref().map(RegionBlock::offset);
        let fetch = Fetch { index: chunk.index, offset: chunk.offset, len: chunk.len };
        match self.transport.send(&fetch.encode(self.call_id, self.thread, at)) {
            Ok(()) => Ok(Some(block)),
            Err(e) => {
                self.release(block);
                Err(e.into())
            }
        }
    }

    fn answer(&mut self, chunk: &Chunk, block: &Self::Token) -> Result<(), CallError> {
        let Chunk { index, offset, len: n, addr } = *chunk;
        self.transport.recv(&mut self.buf, None)?;
        let (ack, bytes) = acknowledged(&self.buf)?;
        if (ack.index, ack.offset, ack.len) != (index, offset, n) {
            return Err(CallError::Other(format!("the server answered fetch {index} at {offset} of {n} bytes with {ack:?}")));
        }
        match (block.as_ref().map(RegionBlock::offset), bytes) {
            (Some(at), BufferRef::Null) => {
                let region = self.transport.region().ok_or_else(|| CallError::Other("a region block without a region".into()))?;
                app_memory::copy_from_region(region.region_ptr(at, n)?, addr, n as usize)?;
            }
            (None, BufferRef::Inline(bytes)) if bytes.len() as u64 == n => app_memory::write(addr, bytes)?,
            (_, other) => return Err(CallError::Other(format!("a fetched chunk of {n} bytes came back as a {}", other.name()))),
        }
        Ok(())
    }

    fn release(&mut self, token: Self::Token) {
        if let Some(block) = token {
            free_blocks(self.transport, vec![block]);
        }
    }

    fn discard(&mut self) -> Result<(), CallError> {
        Ok(self.transport.recv(&mut self.buf, None)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_split_into_chunks_in_order() {
        let got: Vec<(u32, u64, u64, u64)> =
            chunks(&[(1000, 0, 5), (2000, 3, 4), (3000, 4, 0)], 2).map(|c| (c.index, c.offset, c.len, c.addr)).collect();
        assert_eq!(got, [(0, 0, 2, 1000), (0, 2, 2, 1002), (0, 4, 1, 1004), (3, 0, 2, 2000), (3, 2, 2, 2002)]);
        assert_eq!(chunks(&[(0, 0, 3)], 0).count(), 3, "a chunk carries at least a byte");
    }

    /// A channel that answers in order, with `blocks` tokens to lend.
    #[derive(Default)]
    struct Mock {
        blocks: usize,
        in_flight: VecDeque<u64>,
        most_in_flight: usize,
        sent: Vec<u64>,
        answered: Vec<u64>,
        released: usize,
        discarded: usize,
        fail_send_at: Option<u64>,
        refuse_at: Option<u64>,
        dead: bool,
    }

    impl Pipelined for Mock {
        type Token = u64;

        fn send(&mut self, chunk: &Chunk, busy: bool) -> Result<Option<u64>, CallError> {
            assert_eq!(busy, !self.in_flight.is_empty());
            if self.fail_send_at == Some(chunk.offset) {
                return Err(CallError::Other("send failed".into()));
            }
            if self.blocks == 0 {
                return Ok(None);
            }
            self.blocks -= 1;
            self.in_flight.push_back(chunk.offset);
            self.most_in_flight = self.most_in_flight.max(self.in_flight.len());
            self.sent.push(chunk.offset);
            Ok(Some(chunk.offset))
        }

        fn answer(&mut self, chunk: &Chunk, token: &u64) -> Result<(), CallError> {
            assert_eq!((self.in_flight.pop_front(), *token), (Some(chunk.offset), chunk.offset), "answers come in the order sent");
            self.answered.push(chunk.offset);
            if self.refuse_at == Some(chunk.offset) {
                return Err(CallError::Refused(ErrorCode::Malformed, "refused".into()));
            }
            Ok(())
        }

        fn release(&mut self, _: u64) {
            self.released += 1;
            self.blocks += 1;
        }

        fn discard(&mut self) -> Result<(), CallError> {
            if self.dead {
                return Err(CallError::Transport(TransportError::Closed));
            }
            self.in_flight.pop_front().expect("an answer is due");
            self.discarded += 1;
            Ok(())
        }
    }

    fn run(mock: &mut Mock, n: u64, window: usize) -> Result<(), CallError> {
        pipeline(mock, chunks(&[(0, 0, n)], 1), window)
    }

    #[test]
    fn at_most_a_window_of_chunks_is_in_flight_and_all_are_answered() {
        let mut m = Mock { blocks: 100, ..Mock::default() };
        run(&mut m, 10, 3).unwrap();
        assert_eq!(m.most_in_flight, 3);
        assert_eq!(m.answered, (0..10).collect::<Vec<_>>());
        assert_eq!((m.released, m.discarded), (10, 0));
        let mut m = Mock { blocks: 100, ..Mock::default() };
        run(&mut m, 5, 1).unwrap();
        assert_eq!(m.most_in_flight, 1, "a window of 1 waits for each answer");
        let mut m = Mock { blocks: 100, ..Mock::default() };
        run(&mut m, 0, 4).unwrap();
        assert!(m.sent.is_empty());
    }

    #[test]
    fn a_chunk_short_of_a_block_waits_for_an_answer() {
        let mut m = Mock { blocks: 2, ..Mock::default() };
        run(&mut m, 9, 4).unwrap();
        assert_eq!(m.most_in_flight, 2);
        assert_eq!(m.answered, (0..9).collect::<Vec<_>>());
        assert_eq!(m.blocks, 2, "every block comes back");
        // with nothing in flight, nothing would free one: an error, not a hang
        let mut m = Mock { blocks: 0, ..Mock::default() };
        assert!(matches!(run(&mut m, 3, 4), Err(CallError::Other(_))));
    }

    #[test]
    fn after_an_error_the_answers_still_due_are_taken_and_nothing_more_is_sent() {
        // refused at chunk 2 with chunks 3, 4 and 5 in flight
        let mut m = Mock { blocks: 100, refuse_at: Some(2), ..Mock::default() };
        assert!(matches!(run(&mut m, 10, 4), Err(CallError::Refused(..))));
        assert_eq!(m.sent, [0, 1, 2, 3, 4, 5]);
        assert_eq!((m.discarded, m.released), (3, 6));
        assert!(m.in_flight.is_empty(), "the channel is in step again");
        // a failed send: what is in flight is taken
        let mut m = Mock { blocks: 100, fail_send_at: Some(5), ..Mock::default() };
        assert!(run(&mut m, 10, 4).is_err());
        assert_eq!((m.answered.len(), m.discarded, m.released), (2, 3, 5));
        // a broken channel: no more receives, every token still released
        let mut m = Mock { blocks: 100, refuse_at: Some(0), dead: true, ..Mock::default() };
        assert!(run(&mut m, 10, 4).is_err());
        assert_eq!((m.discarded, m.released), (0, 4));
    }
}
