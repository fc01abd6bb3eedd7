//! Everything that can be wrong with a message, as values.
//!
//! The reader returns one of these for every malformed input instead of
//! panicking: the bytes come from an untrusted guest, and a bad message must
//! cost that guest an error reply, nobody else anything.

#![forbid(unsafe_code)]

use super::header::Kind;

/// Why a message could not be decoded. Every variant is something a peer can
/// cause, so the server turns it into an error reply and keeps going.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message truncated: {what} needs {needed} bytes, {available} left")]
    Truncated { what: &'static str, needed: u64, available: u64 },
    #[error("bad magic {found:02x?}: not a CAVA message")]
    BadMagic { found: [u8; 4] },
    #[error(
        "unsupported protocol version {found} (this side speaks {supported}): \
         build the guest library and the API server from the same CAVA release"
    )]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("unknown flag bits {0:#x}")]
    UnknownFlags(u32),
    #[error("reserved field at byte {offset} is not zero")]
    ReservedNotZero { offset: u64 },
    #[error("header declares a {declared}-byte payload but {actual} bytes follow it")]
    LengthMismatch { declared: u64, actual: u64 },
    #[error("scalar area of {scalar_len} bytes is longer than the {payload_len}-byte payload")]
    ScalarAreaTooLong { scalar_len: u64, payload_len: u64 },
    #[error("scalar of {size} bytes at offset {offset} lies outside the {scalar_len}-byte scalar area")]
    ScalarOutOfBounds { offset: u64, size: u64, scalar_len: u64 },
    #[error("unknown buffer kind {0}")]
    UnknownBufferKind(u32),
    #[error("buffer at data offset {offset} with length {len} overflows a 64-bit length")]
    LengthOverflow { offset: u64, len: u64 },
    #[error("buffer at data offset {offset} with length {len} lies outside the {data_len}-byte data area")]
    BufferOutOfBounds { offset: u64, len: u64, data_len: u64 },
    #[error("a null buffer carries offset {offset} and length {len}; both must be zero")]
    MalformedNull { offset: u64, len: u64 },
    #[error("staging index {0} is over 32 bits")]
    BadStagingIndex(u64),
    #[error("boolean byte is {0}, not 0 or 1")]
    BadBool(u8),
    #[error("string is not valid UTF-8")]
    BadUtf8,
    #[error("expected a {expected:?} message, got {found:?}")]
    UnexpectedKind { expected: Kind, found: Kind },
    #[error("{unread} bytes of the scalar area were left unread: the peer was probably generated from a different spec")]
    TrailingScalars { unread: u64 },
    #[error("expected a {expected}, got a {found}")]
    UnexpectedBuffer { expected: &'static str, found: &'static str },
    #[error("a fence of {len} bytes is not a list of 1 to {max} (channel, count) pairs of 16 bytes")]
    BadFence { len: u64, max: u64 },
    #[error("contract hash {theirs:032x} differs from ours {ours:032x}: regenerate both halves from the same spec")]
    ContractMismatch { ours: u128, theirs: u128 },
}

/// Why a message could not be built. These are bugs in the (trusted) code
/// that builds the message, or a buffer too large for one message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("scalar area of {scalar_len} bytes is full: {size} more bytes at offset {offset} do not fit")]
    ScalarAreaFull { offset: u64, size: u64, scalar_len: u64 },
    #[error("payload of {len} bytes is larger than one message can hold ({max} bytes): place the buffer in the zero-copy region")]
    TooLarge { len: u64, max: u64 },
}
