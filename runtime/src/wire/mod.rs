//! The wire format: versioned, explicitly little-endian, decoded by one
//! bounds-checked reader.
//!
//! # Layout
//!
//! A message is a 48-byte header, then the payload: a *scalar area* whose
//! length is fixed per function, then a *data area* holding inline buffer
//! bytes. Every integer is little-endian.
//!
//! | bytes | field | notes |
//! |---|---|---|
//! | 0..4 | magic | `b"CAVA"` |
//! | 4..6 | version (u16) | [`VERSION`]; any other is refused |
//! | 6 | kind (u8) | [`Kind`]: hello, welcome, call, reply, callback, callback reply, error, goodbye, callback release, stage, fetch, stage ack, fence |
//! | 7 | reserved (u8) | must be 0 |
//! | 8..12 | flags (u32) | [`Flags`]: async, replay; unknown bits are refused |
//! | 12..16 | function id (u32) | the spec's function index (callback id for callbacks) |
//! | 16..24 | call id (u64) | chosen by the caller, echoed by the reply |
//! | 24..32 | thread id (u64) | the guest thread that made the call |
//! | 32..36 | payload length (u32) | bytes after the header |
//! | 36..40 | scalar area length (u32) | at most the payload length |
//! | 40..48 | reserved (u64) | must be 0 |
//! | 48.. | scalar area | arguments in spec order, each aligned to its size (at most 8), padded to 16 |
//! | 48 + scalar length.. | data area | inline buffer bytes, each 16-byte aligned |
//!
//! A buffer argument's slot in the scalar area is a 32-byte descriptor:
//!
//! | bytes | field | notes |
//! |---|---|---|
//! | 0..4 | kind (u32) | 0 null, 1 inline, 2 shared region, 3 out (room for the reply), 4 process region, 5 staged, 6 staged out |
//! | 4..8 | reserved (u32) | must be 0 |
//! | 8..16 | offset (u64) | inline: from the data area's start; shared: from the region's start; staged: the staging index; null, out and staged out: 0 |
//! | 16..24 | length (u64) | bytes; null: 0 |
//! | 24..32 | key (u64) | the guest's address of a buffer the server keeps between calls (manual, static, coupled lifetimes); 0 otherwise |
//!
//! Because every argument, scalar or buffer, has a slot at an offset that
//! depends only on the spec ([`Layout`]), a router reads argument `n` of
//! function `f` with one bounds check ([`Message::u64_at`],
//! [`Message::buffer_at`]) and never decodes the rest.
//!
//! # Rules
//!
//! - [`Message::decode`] checks the header (magic, then version, kind,
//!   reserved bytes, flags, lengths) and that exactly `payload length`
//!   bytes follow; fields are then read on demand, each read bounds-checked.
//!   The reader never allocates: buffers are borrowed from the message.
//! - Null pointers and empty buffers are different things on the wire.
//! - Handles cross as opaque 64-bit ids ([`HandleId`]) that the server maps
//!   through the guest's own table, so a message means the same thing to
//!   any server that holds the guest's table (migration).

#![forbid(unsafe_code)]

mod control;
mod error;
mod header;
mod layout;
mod reader;
mod writer;

pub use control::{check_contract, ErrorCode, ErrorReply, Fence, Fetch, Hello, Stage, StageAck, Welcome, MAX_ERROR_TEXT, MAX_FENCE};
pub use error::{WireError, WriteError};
pub use header::{Flags, Header, Kind, HEADER_LEN, MAGIC, VERSION};
pub use layout::{align_up, Layout, Slot, BUFFER_DESCRIPTOR_LEN, SCALAR_AREA_ALIGN};
pub use reader::{BufferRef, Message, Scalars};
pub use writer::{encode_descriptor, inline_descriptor, Writer};

/// Alignment of each inline buffer in the data area (relative to the
/// message start).
pub const DATA_ALIGN: u32 = 16;

/// An object handle as it crosses the wire: an opaque id from the guest's
/// handle table, never a server address. 0 is the null handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandleId(pub u64);

impl HandleId {
    pub const NULL: HandleId = HandleId(0);
}

/// Buffer descriptor kinds; the numbers are part of the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
enum BufferKind {
    Null = 0,
    Inline = 1,
    Shared = 2,
    Out = 3,
    Process = 4,
    Staged = 5,
    StagedOut = 6,
}

impl BufferKind {
    fn from_u32(v: u32) -> Option<BufferKind> {
        match v {
            0 => Some(BufferKind::Null),
            1 => Some(BufferKind::Inline),
            2 => Some(BufferKind::Shared),
            3 => Some(BufferKind::Out),
            4 => Some(BufferKind::Process),
            5 => Some(BufferKind::Staged),
            6 => Some(BufferKind::StagedOut),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
