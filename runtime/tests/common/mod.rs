//! A tiny API server and guest stubs for a made-up API, shared by the
//! integration tests and the benchmarks (`#[path]`-included there). It plays
//! the part the generated code will play: decode with the one reader, answer
//! every malformed message with an error reply, resolve shared buffers
//! through the transport's region.

#![allow(dead_code)]

use cava_runtime::transport::{Transport, TransportError};
use cava_runtime::wire::{check_contract, BufferRef, ErrorCode, ErrorReply, Header, Hello, Kind, Layout, Message, Slot, Welcome, Writer};

pub const CONTRACT: u128 = 0x00c0_ffee_0000_0000_0000_0000_0000_0001;

/// `void null(void)`
pub const NULL: u32 = 0;
/// `size_t consume(const void *in)`: returns the length it was given.
pub const CONSUME: u32 = 1;
/// `void produce(void *out)`: fills the out buffer (inline) or leaves the
/// shared block as the "vendor" wrote it (zero copy).
pub const PRODUCE: u32 = 2;
/// `uint64_t checksum(const void *in)`: sum of the bytes.
pub const CHECKSUM: u32 = 3;
/// `void fill(void *out, uint8_t byte)`: out[i] = byte + i.
pub const FILL: u32 = 4;

pub fn one_buffer() -> u32 {
    Layout::of(&[Slot::Buffer]).1
}

fn reply_header(call: &Header) -> Header {
    Header { function: call.function, call_id: call.call_id, thread: call.thread, ..Header::new(Kind::Reply) }
}

/// What the server loop did with one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    Replied,
    Refused,
    Goodbye,
}

/// The server's side of one message: decode, run, reply. `source` is the
/// "vendor" output copied into inline out buffers.
pub fn serve_one(t: &mut dyn Transport, request: &[u8], out: &mut Vec<u8>, source: &[u8]) -> Result<Served, TransportError> {
    let message = match Message::decode(request) {
        Ok(m) => m,
        Err(e) => {
            let to = Header::decode(request).ok();
            t.send(&ErrorReply { code: ErrorCode::Malformed, message: &e.to_string() }.encode(to.as_ref()))?;
            return Ok(Served::Refused);
        }
    };
    match run(t, &message, out, source) {
        Ok(Some(reply)) => {
            let sent = t.send(&reply);
            // keep the allocation for the next reply
            *out = reply;
            sent.map(|()| Served::Replied)
        }
        Ok(None) => Ok(Served::Goodbye),
        Err((code, text)) => {
            t.send(&ErrorReply { code, message: &text }.encode(Some(message.header())))?;
            Ok(Served::Refused)
        }
    }
}

type Refusal = (ErrorCode, String);

fn malformed(e: impl ToString) -> Refusal {
    (ErrorCode::Malformed, e.to_string())
}

fn run(t: &mut dyn Transport, m: &Message<'_>, out: &mut Vec<u8>, source: &[u8]) -> Result<Option<Vec<u8>>, Refusal> {
    let h = *m.header();
    match h.kind {
        Kind::Hello => {
            let hello = Hello::decode(m).map_err(malformed)?;
            check_contract(CONTRACT, hello.contract).map_err(|e| (ErrorCode::ContractMismatch, e.to_string()))?;
            Ok(Some(Welcome { contract: CONTRACT, max_message: t.max_message() as u32 }.encode()))
        }
        Kind::Goodbye => Ok(None),
        Kind::Call => {
            let mut s = m.scalars();
            let reply = match h.function {
                NULL => {
                    s.finish().map_err(malformed)?;
                    Writer::reuse(std::mem::take(out), reply_header(&h), 0)
                }
                CONSUME | CHECKSUM => {
                    let input = s.buffer().map_err(malformed)?;
                    s.finish().map_err(malformed)?;
                    let (len, sum) = match input {
                        BufferRef::Inline(bytes) => (bytes.len() as u64, checksum(h.function, bytes)),
                        BufferRef::Shared { offset, len } => {
                            let region = t.region().ok_or_else(|| malformed("no shared region on this transport"))?;
                            region.check_shared(offset, len).map_err(malformed)?;
                            let sum = if h.function == CHECKSUM {
                                let mut copy = vec![0; len as usize];
                                region.read_region(offset, &mut copy).map_err(malformed)?;
                                checksum(CHECKSUM, &copy)
                            } else {
                                0
                            };
                            (len, sum)
                        }
                        other => return Err(malformed(format!("unexpected {}", other.name()))),
                    };
                    let mut w = Writer::reuse(std::mem::take(out), reply_header(&h), 16);
                    w.u64(len).u64(sum);
                    w
                }
                PRODUCE | FILL => {
                    let target = s.buffer().map_err(malformed)?;
                    let byte = if h.function == FILL { s.u8().map_err(malformed)? } else { 0 };
                    s.finish().map_err(malformed)?;
                    let mut w = Writer::reuse(std::mem::take(out), reply_header(&h), one_buffer());
                    match target {
                        BufferRef::Out { len } if len <= source.len() as u64 && h.function == PRODUCE => {
                            w.reserve(len as usize).buffer(&source[..len as usize]);
                        }
                        BufferRef::Out { len } if len <= 64 << 20 => {
                            let data: Vec<u8> = (0..len).map(|i| byte.wrapping_add(i as u8)).collect();
                            w.buffer(&data);
                        }
                        BufferRef::Shared { offset, len } => {
                            let region = t.region().ok_or_else(|| malformed("no shared region on this transport"))?;
                            region.check_shared(offset, len).map_err(malformed)?;
                            if h.function == FILL {
                                let data: Vec<u8> = (0..len).map(|i| byte.wrapping_add(i as u8)).collect();
                                region.write_region(offset, &data).map_err(malformed)?;
                            }
                            w.null();
                        }
                        other => return Err(malformed(format!("unexpected {}", other.name()))),
                    }
                    w
                }
                f => return Err((ErrorCode::UnknownFunction, format!("no function {f}"))),
            };
            reply.finish().map(Some).map_err(|e| (ErrorCode::ServerFailure, e.to_string()))
        }
        k => Err(malformed(format!("unexpected {k:?} message"))),
    }
}

fn checksum(function: u32, bytes: &[u8]) -> u64 {
    if function == CHECKSUM {
        bytes.iter().map(|b| u64::from(*b)).sum()
    } else {
        0
    }
}

/// Serves until goodbye or until the guest goes away; returns how many
/// messages were refused.
pub fn serve(t: &mut dyn Transport) -> Result<usize, TransportError> {
    let source = vec![0x5a; 64 << 20];
    let (mut request, mut out) = (Vec::new(), Vec::new());
    let mut refused = 0;
    loop {
        match t.recv(&mut request, None) {
            Ok(()) => {}
            Err(TransportError::Closed) => return Ok(refused),
            Err(e) => return Err(e),
        }
        match serve_one(t, &request, &mut out, &source)? {
            Served::Replied => {}
            Served::Refused => refused += 1,
            Served::Goodbye => return Ok(refused),
        }
    }
}

// ---- guest side ----

/// Sends `request` and waits for the reply into `reply`.
pub fn round_trip(t: &mut dyn Transport, request: &[u8], reply: &mut Vec<u8>) -> Result<(), TransportError> {
    t.send(request)?;
    t.recv(reply, Some(std::time::Duration::from_secs(20)))
}

pub fn call(function: u32, call_id: u64, scalar_len: u32) -> Writer {
    Writer::new(Header { function, call_id, thread: 1, ..Header::new(Kind::Call) }, scalar_len)
}

pub fn hello(t: &mut dyn Transport, contract: u128) -> Result<Welcome, String> {
    let mut reply = Vec::new();
    round_trip(t, &Hello { contract, next_call_id: 1, process: 1, channel: 0 }.encode(), &mut reply).map_err(|e| e.to_string())?;
    let m = Message::decode(&reply).map_err(|e| e.to_string())?;
    if let Ok(e) = ErrorReply::decode(&m) {
        return Err(e.message.to_string());
    }
    Welcome::decode(&m).map_err(|e| e.to_string())
}

pub fn goodbye(t: &mut dyn Transport) -> Result<(), TransportError> {
    t.send(&Writer::new(Header::new(Kind::Goodbye), 0).finish().unwrap())
}
