//! The messages the runtime itself sends: the handshake and error replies.

#![forbid(unsafe_code)]

use super::error::WireError;
use super::header::{Header, Kind};
use super::layout::{Layout, Slot};
use super::reader::Message;
use super::writer::Writer;

/// First message of a channel, guest to server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Hash of the spec the guest library was generated from.
    pub contract: u128,
    /// The call id the guest will use next. A guest moved to a fresh server
    /// (or reconnecting after a crash) says where its numbering stands, so
    /// the server knows which recorded calls it has replayed already.
    pub next_call_id: u64,
    /// A number the guest process picks at random and sends on each of its
    /// channels: the server finds the process's own state (handle table,
    /// kept buffers, zero-copy region) by it, tells a process's channels
    /// apart from another process's (a forked child draws its own), and
    /// sends callbacks to the process whose call registered them. Not a
    /// secret: the server binds it to the process id of the first socket
    /// that sent it and refuses it from any other.
    pub process: u64,
    /// The channel's number among its process's channels (1, 2, ...;
    /// never reused while the process lives), which [`Fence`]s of the
    /// process's other channels name; 0 for a connection that carries no
    /// calls (the callback route, the zero-copy region's socket).
    pub channel: u64,
}

/// The server's answer to [`Hello`] when the contracts match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// Hash of the spec the server was generated from.
    pub contract: u128,
    /// Largest message the server accepts, in bytes.
    pub max_message: u32,
}

const HELLO_SLOTS: [Slot; 4] = [Slot::U128, Slot::U64, Slot::U64, Slot::U64];
const WELCOME_SLOTS: [Slot; 2] = [Slot::U128, Slot::U32];
const ERROR_SLOTS: [Slot; 2] = [Slot::U32, Slot::Buffer];

fn scalar_len(slots: &[Slot]) -> u32 {
    Layout::of(slots).1
}

impl Hello {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Header::new(Kind::Hello), scalar_len(&HELLO_SLOTS));
        w.u128(self.contract).u64(self.next_call_id).u64(self.process).u64(self.channel);
        w.finish().expect("hello fits its scalar area")
    }

    pub fn decode(message: &Message<'_>) -> Result<Hello, WireError> {
        message.expect(Kind::Hello)?;
        let mut s = message.scalars();
        let hello = Hello { contract: s.u128()?, next_call_id: s.u64()?, process: s.u64()?, channel: s.u64()? };
        s.finish()?;
        Ok(hello)
    }
}

impl Welcome {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Header::new(Kind::Welcome), scalar_len(&WELCOME_SLOTS));
        w.u128(self.contract).u32(self.max_message);
        w.finish().expect("welcome fits its scalar area")
    }

    pub fn decode(message: &Message<'_>) -> Result<Welcome, WireError> {
        message.expect(Kind::Welcome)?;
        let mut s = message.scalars();
        let welcome = Welcome { contract: s.u128()?, max_message: s.u32()? };
        s.finish()?;
        Ok(welcome)
    }
}

/// Fails with a message that says what to do when two halves were generated
/// from different specs.
pub fn check_contract(ours: u128, theirs: u128) -> Result<(), WireError> {
    if ours == theirs {
        Ok(())
    } else {
        Err(WireError::ContractMismatch { ours, theirs })
    }
}

/// Why a call failed without reaching the vendor library (API errors are
/// ordinary replies). The numbers are part of the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The message could not be decoded.
    Malformed,
    /// No function with that id in the server's spec.
    UnknownFunction,
    /// The two halves were generated from different specs.
    ContractMismatch,
    /// The tenant's policy denied the call.
    Denied,
    /// The server failed while running the call.
    ServerFailure,
    /// A handle the guest sent is forged, stale or of the wrong type; the
    /// guest returns the API's invalid-handle error.
    InvalidHandle,
    /// A code this build does not know (from a newer peer).
    Other(u32),
}

impl ErrorCode {
    pub fn to_u32(self) -> u32 {
        match self {
            ErrorCode::Malformed => 1,
            ErrorCode::UnknownFunction => 2,
            ErrorCode::ContractMismatch => 3,
            ErrorCode::Denied => 4,
            ErrorCode::ServerFailure => 5,
            ErrorCode::InvalidHandle => 6,
            ErrorCode::Other(code) => code,
        }
    }

    pub fn from_u32(code: u32) -> ErrorCode {
        match code {
            1 => ErrorCode::Malformed,
            2 => ErrorCode::UnknownFunction,
            3 => ErrorCode::ContractMismatch,
            4 => ErrorCode::Denied,
            5 => ErrorCode::ServerFailure,
            6 => ErrorCode::InvalidHandle,
            other => ErrorCode::Other(other),
        }
    }
}

/// Longest error text sent; longer texts are cut at a character boundary,
/// so that an error reply always fits in a message.
pub const MAX_ERROR_TEXT: usize = 4096;

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The body of an [`Kind::Error`] message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorReply<'a> {
    pub code: ErrorCode,
    pub message: &'a str,
}

impl<'a> ErrorReply<'a> {
    /// An error message answering `to` (function, call id and thread echoed),
    /// or answering a message whose header could not be read (`None`: all
    /// zero).
    pub fn encode(&self, to: Option<&Header>) -> Vec<u8> {
        let mut header = Header::new(Kind::Error);
        if let Some(to) = to {
            header.function = to.function;
            header.call_id = to.call_id;
            header.thread = to.thread;
        }
        let mut w = Writer::new(header, scalar_len(&ERROR_SLOTS));
        w.u32(self.code.to_u32()).str(truncate(self.message, MAX_ERROR_TEXT));
        w.finish().expect("error reply fits its scalar area")
    }

    pub fn decode(message: &Message<'a>) -> Result<ErrorReply<'a>, WireError> {
        message.expect(Kind::Error)?;
        let mut s = message.scalars();
        let reply = ErrorReply { code: ErrorCode::from_u32(s.u32()?), message: s.str()? };
        s.finish()?;
        Ok(reply)
    }
}

/// One chunk of a staged buffer, guest to server ([`Kind::Stage`]): a
/// buffer argument too large for its call's message travels before the
/// call, in chunks appended in order to entry `index` of the channel's
/// staging area. The header's call id names the call the buffer is for.
///
/// Scalar area: index (u32), offset (u64: where the chunk goes, which must
/// be where the previous chunk ended), total (u64: the whole buffer's
/// length, the same in every chunk), then a buffer descriptor for the
/// chunk's bytes (inline, or in the shared-memory transport's region).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    pub index: u32,
    pub offset: u64,
    pub total: u64,
}

const STAGE_SLOTS: [Slot; 4] = [Slot::U32, Slot::U64, Slot::U64, Slot::Buffer];

impl Stage {
    /// A writer for this chunk's message with the three scalars written;
    /// the caller adds the chunk's descriptor (and its bytes, inline).
    pub fn writer(&self, call_id: u64, thread: u64, buf: Vec<u8>) -> Writer {
        let header = Header { call_id, thread, ..Header::new(Kind::Stage) };
        let mut w = Writer::reuse(buf, header, scalar_len(&STAGE_SLOTS));
        w.u32(self.index).u64(self.offset).u64(self.total);
        w
    }

    /// The chunk's description and its bytes' descriptor.
    pub fn decode<'a>(message: &Message<'a>) -> Result<(Stage, super::BufferRef<'a>), WireError> {
        message.expect(Kind::Stage)?;
        let mut s = message.scalars();
        let stage = Stage { index: s.u32()?, offset: s.u64()?, total: s.u64()? };
        let chunk = s.buffer()?;
        s.finish()?;
        Ok((stage, chunk))
    }
}

/// A chunk of a staged out buffer, guest to server ([`Kind::Fetch`]):
/// `len` bytes at `offset` of entry `index`, which the reply to call
/// `call_id` (the header's) said the server holds. Scalar area: index
/// (u32), offset (u64), length (u64), then where the bytes go: an out
/// descriptor (in the answer's data area) or a shared descriptor (a block
/// of the zero-copy region the guest allocated, which the server fills).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetch {
    pub index: u32,
    pub offset: u64,
    pub len: u64,
}

const FETCH_SLOTS: [Slot; 4] = [Slot::U32, Slot::U64, Slot::U64, Slot::Buffer];

impl Fetch {
    /// The message; `region` is the offset of a zero-copy region block of
    /// `len` bytes the server writes the chunk into, `None` for inline.
    pub fn encode(&self, call_id: u64, thread: u64, region: Option<u64>) -> Vec<u8> {
        let header = Header { call_id, thread, ..Header::new(Kind::Fetch) };
        let mut w = Writer::new(header, scalar_len(&FETCH_SLOTS));
        w.u32(self.index).u64(self.offset).u64(self.len);
        match region {
            Some(at) => w.shared(at, self.len),
            None => w.out(self.len),
        };
        w.finish().expect("fetch fits its scalar area")
    }

    /// The request and where the bytes go.
    pub fn decode<'a>(message: &Message<'a>) -> Result<(Fetch, super::BufferRef<'a>), WireError> {
        message.expect(Kind::Fetch)?;
        let mut s = message.scalars();
        let fetch = Fetch { index: s.u32()?, offset: s.u64()?, len: s.u64()? };
        let into = s.buffer()?;
        s.finish()?;
        Ok((fetch, into))
    }
}

/// The server's answer to a [`Stage`] (index, offset and length of the
/// chunk taken, a null buffer) or a [`Fetch`] (the same for the chunk
/// sent, and its bytes inline, or a null buffer when they were written
/// into the zero-copy region). Kind [`Kind::StageAck`]; same call id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageAck {
    pub index: u32,
    pub offset: u64,
    pub len: u64,
}

const STAGE_ACK_SLOTS: [Slot; 4] = [Slot::U32, Slot::U64, Slot::U64, Slot::Buffer];

impl StageAck {
    /// The answer to the stage or fetch `to`, with `bytes` inline if given.
    pub fn encode(&self, to: &Header, bytes: Option<&[u8]>, buf: Vec<u8>) -> Result<Vec<u8>, super::WriteError> {
        let header = Header { call_id: to.call_id, thread: to.thread, ..Header::new(Kind::StageAck) };
        let mut w = Writer::reuse(buf, header, scalar_len(&STAGE_ACK_SLOTS));
        w.u32(self.index).u64(self.offset).u64(self.len);
        match bytes {
            Some(bytes) => w.reserve(bytes.len()).buffer(bytes),
            None => w.null(),
        };
        w.finish()
    }

    pub fn decode<'a>(message: &Message<'a>) -> Result<(StageAck, super::BufferRef<'a>), WireError> {
        message.expect(Kind::StageAck)?;
        let mut s = message.scalars();
        let ack = StageAck { index: s.u32()?, offset: s.u64()?, len: s.u64()? };
        let bytes = s.buffer()?;
        s.finish()?;
        Ok((ack, bytes))
    }
}

/// The most (channel, count) pairs one [`Fence`] message carries: a guest
/// with more channels to name sends several fences in a row.
pub const MAX_FENCE: usize = 256;

const FENCE_SLOTS: [Slot; 1] = [Slot::Buffer];

/// Guest to server, just before a call on the same channel
/// ([`Kind::Fence`]): the call may run only once each named channel of the
/// same guest process has handled at least `count` call messages. The
/// guest sends one when another of its threads has sent asynchronous calls
/// since this channel last looked, so that calls ordered in the
/// application stay ordered on the server (book: Architecture,
/// Invariants). Scalar area: one inline buffer of (channel u64, count
/// u64) pairs. No reply; the header's call id is the call it precedes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub waits: Vec<(u64, u64)>,
}

impl Fence {
    /// The message; `waits` holds 1 to [`MAX_FENCE`] pairs.
    pub fn encode(waits: &[(u64, u64)], call_id: u64, thread: u64, buf: Vec<u8>) -> Vec<u8> {
        let header = Header { call_id, thread, ..Header::new(Kind::Fence) };
        let mut w = Writer::reuse(buf, header, scalar_len(&FENCE_SLOTS));
        let mut bytes = Vec::with_capacity(waits.len() * 16);
        for (channel, count) in waits {
            bytes.extend_from_slice(&channel.to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
        }
        w.buffer(&bytes);
        w.finish().expect("a fence of at most MAX_FENCE pairs fits any message")
    }

    pub fn decode(message: &Message<'_>) -> Result<Fence, WireError> {
        message.expect(Kind::Fence)?;
        let mut s = message.scalars();
        let bytes = match s.buffer()? {
            super::BufferRef::Inline(bytes) => bytes,
            other => return Err(WireError::UnexpectedBuffer { expected: "inline buffer", found: other.name() }),
        };
        s.finish()?;
        let max = MAX_FENCE as u64;
        if bytes.is_empty() || bytes.len() % 16 != 0 || bytes.len() / 16 > MAX_FENCE {
            return Err(WireError::BadFence { len: bytes.len() as u64, max });
        }
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        Ok(Fence { waits: bytes.chunks_exact(16).map(|pair| (word(&pair[..8]), word(&pair[8..]))).collect() })
    }
}
