//! The fixed 48-byte message header (layout table in the module docs of
//! [`crate::wire`]).

#![forbid(unsafe_code)]

use super::error::WireError;

/// The first four bytes of every message.
pub const MAGIC: [u8; 4] = *b"CAVA";
/// The protocol version this build speaks. Any change to the layout bumps it;
/// a peer with another version is refused at the first message.
pub const VERSION: u16 = 5;
/// Length of the header in bytes. A multiple of 16, so that the scalar area
/// and the data area start 16-byte aligned relative to the message start.
pub const HEADER_LEN: usize = 48;

// Byte offsets of the header fields; the router reads these without decoding
// anything else.
const MAGIC_AT: usize = 0;
const VERSION_AT: usize = 4;
const KIND_AT: usize = 6;
const RESERVED8_AT: usize = 7;
const FLAGS_AT: usize = 8;
const FUNCTION_AT: usize = 12;
const CALL_ID_AT: usize = 16;
const THREAD_AT: usize = 24;
const PAYLOAD_LEN_AT: usize = 32;
const SCALAR_LEN_AT: usize = 36;
const RESERVED64_AT: usize = 40;

/// What a message is. The numbers are part of the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Guest to server, first message: carries the contract hash.
    Hello = 1,
    /// Server to guest, answer to `Hello`: carries the server's contract hash.
    Welcome = 2,
    /// Guest to server: call function `function`.
    Call = 3,
    /// Server to guest: the return value and out buffers of call `call_id`.
    Reply = 4,
    /// Server to guest: invoke callback `function` on thread `thread`.
    Callback = 5,
    /// Guest to server: the result of a callback.
    CallbackReply = 6,
    /// Either way: call `call_id` (or the message) failed; body is an error code and text.
    Error = 7,
    /// Either way: orderly close. A guest thread's channel closing sends
    /// one when calls of it may still be queued; the server answers with
    /// one once it has handled every message before it, and closes.
    Goodbye = 8,
    /// Server to guest, on the callback route: forget registration (a u64)
    /// that was to end after one call; the call that made it failed, so
    /// the library will never call it. No reply.
    CallbackRelease = 9,
    /// Guest to server, before call `call_id`: one chunk of a buffer too
    /// large for the call's message, appended to the channel's staging area
    /// (see [`Stage`](super::Stage)). Answered by [`Kind::StageAck`] or an error.
    Stage = 10,
    /// Guest to server, after the reply to call `call_id`: a chunk of an out
    /// buffer the reply left staged on the server (see [`Fetch`](super::Fetch)).
    /// Answered by [`Kind::StageAck`] (carrying the bytes) or an error.
    Fetch = 11,
    /// Server to guest: the answer to a [`Kind::Stage`] or [`Kind::Fetch`].
    StageAck = 12,
    /// Guest to server, before a call: wait until other channels of the
    /// guest process have handled the calls it names (see
    /// [`Fence`](super::Fence)). No reply.
    Fence = 13,
}

impl Kind {
    /// Every kind, in wire order.
    pub const ALL: [Kind; 13] = [
        Kind::Hello,
        Kind::Welcome,
        Kind::Call,
        Kind::Reply,
        Kind::Callback,
        Kind::CallbackReply,
        Kind::Error,
        Kind::Goodbye,
        Kind::CallbackRelease,
        Kind::Stage,
        Kind::Fetch,
        Kind::StageAck,
        Kind::Fence,
    ];

    /// The kind with wire number `byte`, if there is one.
    pub fn from_u8(byte: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u8 == byte)
    }
}

/// Header flag bits. Unknown bits are rejected rather than ignored: a flag
/// this side does not understand may change what the message means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u32);

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// The guest does not wait for a reply; an error is reported on the
    /// thread's next call.
    pub const ASYNC: Flags = Flags(1 << 0);
    /// Replayed from a recorded log into a fresh server (migration, crash
    /// recovery): the router must not account it a second time.
    pub const REPLAY: Flags = Flags(1 << 1);
    const KNOWN: u32 = Flags::ASYNC.0 | Flags::REPLAY.0;

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The flags for `bits`, or `None` if a bit is unknown.
    pub fn from_bits(bits: u32) -> Option<Flags> {
        (bits & !Flags::KNOWN == 0).then_some(Flags(bits))
    }

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The decoded header. `payload_len` and `scalar_len` are filled in by the
/// [`Writer`](super::Writer); set the other fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    pub kind: Kind,
    pub flags: Flags,
    /// Function id (the spec's function index) for calls and replies,
    /// callback id for callbacks, 0 otherwise.
    pub function: u32,
    /// Chosen by the sender of a call or callback, echoed by its reply or
    /// error. Increasing per guest, so that a fresh server can tell which
    /// recorded calls it has already seen.
    pub call_id: u64,
    /// The guest thread that made the call (or must run the callback).
    pub thread: u64,
    /// Bytes after the header.
    pub payload_len: u32,
    /// Bytes at the start of the payload that form the scalar area.
    pub scalar_len: u32,
}

impl Header {
    /// A header of `kind` with every other field zero.
    pub fn new(kind: Kind) -> Header {
        Header { kind, flags: Flags::NONE, function: 0, call_id: 0, thread: 0, payload_len: 0, scalar_len: 0 }
    }

    /// The header's 48 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[MAGIC_AT..MAGIC_AT + 4].copy_from_slice(&MAGIC);
        out[VERSION_AT..VERSION_AT + 2].copy_from_slice(&VERSION.to_le_bytes());
        out[KIND_AT] = self.kind as u8;
        out[FLAGS_AT..FLAGS_AT + 4].copy_from_slice(&self.flags.bits().to_le_bytes());
        out[FUNCTION_AT..FUNCTION_AT + 4].copy_from_slice(&self.function.to_le_bytes());
        out[CALL_ID_AT..CALL_ID_AT + 8].copy_from_slice(&self.call_id.to_le_bytes());
        out[THREAD_AT..THREAD_AT + 8].copy_from_slice(&self.thread.to_le_bytes());
        out[PAYLOAD_LEN_AT..PAYLOAD_LEN_AT + 4].copy_from_slice(&self.payload_len.to_le_bytes());
        out[SCALAR_LEN_AT..SCALAR_LEN_AT + 4].copy_from_slice(&self.scalar_len.to_le_bytes());
        out
    }

    /// Decodes and validates the header at the start of `bytes` (which may be
    /// longer: the payload is not looked at). Checks the magic first and the
    /// version second, so that a peer of another version gets the version
    /// error and not a confusing one about a field that moved.
    pub fn decode(bytes: &[u8]) -> Result<Header, WireError> {
        let Some(head) = bytes.get(..HEADER_LEN) else {
            return Err(WireError::Truncated { what: "header", needed: HEADER_LEN as u64, available: bytes.len() as u64 });
        };
        let magic = [head[0], head[1], head[2], head[3]];
        if magic != MAGIC {
            return Err(WireError::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes([head[VERSION_AT], head[VERSION_AT + 1]]);
        if version != VERSION {
            return Err(WireError::UnsupportedVersion { found: version, supported: VERSION });
        }
        let kind = Kind::from_u8(head[KIND_AT]).ok_or(WireError::UnknownKind(head[KIND_AT]))?;
        if head[RESERVED8_AT] != 0 {
            return Err(WireError::ReservedNotZero { offset: RESERVED8_AT as u64 });
        }
        let flag_bits = u32_at(head, FLAGS_AT);
        let flags = Flags::from_bits(flag_bits).ok_or(WireError::UnknownFlags(flag_bits))?;
        if head[RESERVED64_AT..HEADER_LEN].iter().any(|b| *b != 0) {
            return Err(WireError::ReservedNotZero { offset: RESERVED64_AT as u64 });
        }
        let header = Header {
            kind,
            flags,
            function: u32_at(head, FUNCTION_AT),
            call_id: u64_at(head, CALL_ID_AT),
            thread: u64_at(head, THREAD_AT),
            payload_len: u32_at(head, PAYLOAD_LEN_AT),
            scalar_len: u32_at(head, SCALAR_LEN_AT),
        };
        if header.scalar_len > header.payload_len {
            return Err(WireError::ScalarAreaTooLong { scalar_len: header.scalar_len.into(), payload_len: header.payload_len.into() });
        }
        Ok(header)
    }

    /// Total length of the message this header starts: header plus payload.
    pub fn message_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }
}

// Callers pass a 48-byte slice and constant offsets, so these never go out
// of bounds; they exist to keep the field reads one line each.
fn u32_at(head: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&head[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(head: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&head[at..at + 8]);
    u64::from_le_bytes(b)
}
