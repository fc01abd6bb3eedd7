//! Test support, not part of the runtime's interface: the message one call
//! encodes to, the lean way and the general way, so that a test can hold
//! the lean encoding to the general encoder over many random calls of
//! every spec (`cava-codegen/tests/lean_encoding.rs`).

use super::*;

/// A call's message, or why it could not be written.
pub type Written = Result<Vec<u8>, String>;

/// A plan prepared as a guest library prepares it, without a server.
#[derive(Debug)]
pub struct Encodings {
    state: State,
}

impl Encodings {
    /// `plan`: a plan's binary form (`Plan::to_bytes`).
    pub fn new(plan: &[u8]) -> Result<Encodings, String> {
        Ok(Encodings { state: State::load(plan, &[], &[], "test", 0)? })
    }

    /// Whether the function's calls may be encoded the lean way.
    pub fn is_lean(&self, function: u32) -> bool {
        self.state.lean.get(function as usize).copied().unwrap_or(false)
    }

    /// The message of a call of a lean function with raw arguments `args`
    /// on a channel that carries at most `max` bytes, as the lean encoding
    /// writes it: interpreted (`code` `None`) or by the code the generator
    /// wrote for the function; `None` where it gives up.
    pub fn lean(&self, function: u32, args: &[u64], max: u64, code: Option<LeanEncode>) -> Option<Written> {
        let state = &self.state;
        let f = &state.plan.functions[function as usize];
        let params: Vec<V> = f.params.iter().zip(args).map(|(p, raw)| V::from_raw(*raw, &p.ty)).collect();
        let mut writer = Writer::reuse(Vec::new(), self.header(function), state.scalar_len[function as usize]);
        let mut host = GuestHost::new(state);
        let encoded = match code {
            Some(code) => code(&state.plan, &mut writer, &params, &mut host, max),
            None => lean::encode(&mut writer, &state.plan, f, &state.slots[function as usize], &params, &mut host, max),
        };
        encoded.then(|| writer.finish().map_err(|e| e.to_string()))
    }

    /// The header of a call of `function` in these tests.
    fn header(&self, function: u32) -> Header {
        let f = &self.state.plan.functions[function as usize];
        let is_async = matches!(f.mode, CallMode::Async { .. });
        Header { function, call_id: 1, thread: 1, flags: if is_async { Flags::ASYNC } else { Flags::NONE }, ..Header::new(MsgKind::Call) }
    }

    /// The message of a call of a lean function with raw arguments `args`
    /// (pointers into the caller's memory, which the encoders read) on a
    /// channel that carries at most `max` bytes, written by the lean
    /// encoding and by the general encoder (which has no zero-copy region,
    /// and whose staging fails here); `None` where the lean encoding gives
    /// up. (The general encoder then reads what the spec says, which
    /// random arguments need not provide.)
    pub fn both(&self, function: u32, args: &[u64], max: u64) -> Option<(Written, Written)> {
        let state = &self.state;
        let f = &state.plan.functions[function as usize];
        let params: Vec<V> = f.params.iter().zip(args).map(|(p, raw)| V::from_raw(*raw, &p.ty)).collect();
        let is_async = matches!(f.mode, CallMode::Async { .. });
        let header = self.header(function);
        let scalar_len = state.scalar_len[function as usize];
        let shapes = &state.slots[function as usize];
        let mut writer = Writer::reuse(Vec::new(), header, scalar_len);
        if !lean::encode(&mut writer, &state.plan, f, shapes, &params, &mut GuestHost::new(state), max) {
            return None;
        }
        let lean = writer.finish().map_err(|e| e.to_string());
        let mut host = GuestHost::new(state);
        let mut transport = Refusing;
        let mut encoder = Encoder {
            plan: &state.plan,
            writer: Writer::reuse(Vec::new(), header, scalar_len),
            transport: &mut transport,
            blocks: Vec::new(),
            is_async,
            outs: Vec::new(),
            restore: Vec::new(),
            released: Vec::new(),
            host: &mut host,
            max,
            call_id: 1,
            thread: 1,
            next_stage: 0,
        };
        let general = encode(&mut encoder, state, f, function, &params, &[], &params)
            .map_err(|e| e.to_string())
            .and_then(|()| encoder.writer.finish().map_err(|e| e.to_string()));
        Some((lean, general))
    }
}

/// A channel with nothing behind it: what the general encoder would send
/// ahead of a call (staged buffers) fails.
struct Refusing;

impl Transport for Refusing {
    fn send(&mut self, _: &[u8]) -> Result<(), TransportError> {
        Err(TransportError::Closed)
    }

    fn recv(&mut self, _: &mut Vec<u8>, _: Option<Duration>) -> Result<(), TransportError> {
        Err(TransportError::Closed)
    }

    fn max_message(&self) -> usize {
        usize::MAX
    }
}
