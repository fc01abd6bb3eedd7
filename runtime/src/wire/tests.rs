//! Round trips, one test per error, and property tests that feed random and
//! mutated bytes to the reader.

use super::*;
use proptest::prelude::*;

fn call_header() -> Header {
    Header { kind: Kind::Call, flags: Flags::ASYNC, function: 7, call_id: 0x1122_3344_5566_7788, thread: 42, ..Header::new(Kind::Call) }
}

const SLOTS: [Slot; 12] = [
    Slot::U8,
    Slot::U16,
    Slot::U32,
    Slot::U64,
    Slot::U128,
    Slot::U64,
    Slot::Buffer,
    Slot::Buffer,
    Slot::Buffer,
    Slot::Buffer,
    Slot::Buffer,
    Slot::U8,
];

fn sample() -> Vec<u8> {
    let (_, scalar_len) = Layout::of(&SLOTS);
    let mut w = Writer::new(call_header(), scalar_len);
    w.u8(0xab).i16(-2).f32(1.5).f64(-0.25).u128(u128::MAX - 5).handle(HandleId(9));
    w.buffer(b"hello").null().str("").shared(4096, 1 << 20).out(77).bool(true);
    w.finish().unwrap()
}

#[test]
fn round_trip_in_order() {
    let bytes = sample();
    let m = Message::decode(&bytes).unwrap();
    assert_eq!(*m.header(), Header { payload_len: (bytes.len() - HEADER_LEN) as u32, scalar_len: Layout::of(&SLOTS).1, ..call_header() });
    let mut s = m.scalars();
    assert_eq!(s.u8().unwrap(), 0xab);
    assert_eq!(s.i16().unwrap(), -2);
    assert_eq!(s.f32().unwrap(), 1.5);
    assert_eq!(s.f64().unwrap(), -0.25);
    assert_eq!(s.u128().unwrap(), u128::MAX - 5);
    assert_eq!(s.handle().unwrap(), HandleId(9));
    assert_eq!(s.bytes().unwrap(), Some(&b"hello"[..]));
    assert_eq!(s.bytes().unwrap(), None);
    assert_eq!(s.str().unwrap(), "");
    assert_eq!(s.buffer().unwrap(), BufferRef::Shared { offset: 4096, len: 1 << 20 });
    assert_eq!(s.buffer().unwrap(), BufferRef::Out { len: 77 });
    assert!(s.bool().unwrap());
    s.finish().unwrap();
}

#[test]
fn layout_offsets_match_what_the_writer_wrote() {
    let bytes = sample();
    let m = Message::decode(&bytes).unwrap();
    let (offsets, _) = Layout::of(&SLOTS);
    assert_eq!(m.u8_at(offsets[0]).unwrap(), 0xab);
    assert_eq!(m.u16_at(offsets[1]).unwrap(), (-2i16) as u16);
    assert_eq!(m.u32_at(offsets[2]).unwrap(), 1.5f32.to_bits());
    assert_eq!(m.u64_at(offsets[3]).unwrap(), (-0.25f64).to_bits());
    assert_eq!(m.u128_at(offsets[4]).unwrap(), u128::MAX - 5);
    assert_eq!(m.u64_at(offsets[5]).unwrap(), 9);
    assert_eq!(m.buffer_at(offsets[6]).unwrap(), BufferRef::Inline(b"hello"));
    assert_eq!(m.buffer_at(offsets[9]).unwrap(), BufferRef::Shared { offset: 4096, len: 1 << 20 });
}

#[test]
fn inline_buffers_are_16_byte_aligned_from_the_message_start() {
    let (_, scalar_len) = Layout::of(&[Slot::Buffer, Slot::Buffer]);
    let mut w = Writer::new(call_header(), scalar_len);
    w.buffer(b"abc").buffer(&[7; 40]);
    let bytes = w.finish().unwrap();
    let m = Message::decode(&bytes).unwrap();
    let data_start = HEADER_LEN + scalar_len as usize;
    for at in [0, 32] {
        let BufferRef::Inline(b) = m.buffer_at(at).unwrap() else { panic!("inline expected") };
        let offset = b.as_ptr() as usize - bytes.as_ptr() as usize;
        assert_eq!(offset % 16, 0);
        assert!(offset >= data_start);
    }
}

#[test]
fn every_kind_and_flag_round_trips() {
    for kind in Kind::ALL {
        for flags in [Flags::NONE, Flags::ASYNC, Flags::REPLAY, Flags::ASYNC | Flags::REPLAY] {
            let header = Header { kind, flags, function: u32::MAX, call_id: u64::MAX, thread: 1, ..Header::new(kind) };
            let bytes = Writer::new(header, 0).finish().unwrap();
            assert_eq!(bytes.len(), HEADER_LEN);
            assert_eq!(*Message::decode(&bytes).unwrap().header(), header);
        }
    }
    assert!((Flags::ASYNC | Flags::REPLAY).contains(Flags::REPLAY));
    assert!(!Flags::ASYNC.contains(Flags::REPLAY));
}

#[test]
fn handshake_and_error_reply_round_trip() {
    let hello = Hello { contract: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210, next_call_id: 5, process: 7, channel: 0 };
    assert_eq!(Hello::decode(&Message::decode(&hello.encode()).unwrap()).unwrap(), hello);
    let welcome = Welcome { contract: 3, max_message: 1 << 20 };
    assert_eq!(Welcome::decode(&Message::decode(&welcome.encode()).unwrap()).unwrap(), welcome);
    assert_eq!(check_contract(1, 1), Ok(()));
    assert_eq!(check_contract(1, 2), Err(WireError::ContractMismatch { ours: 1, theirs: 2 }));

    let bytes = ErrorReply { code: ErrorCode::Denied, message: "over quota" }.encode(Some(&call_header()));
    let m = Message::decode(&bytes).unwrap();
    assert_eq!((m.header().call_id, m.header().function, m.header().thread), (call_header().call_id, 7, 42));
    assert_eq!(ErrorReply::decode(&m).unwrap(), ErrorReply { code: ErrorCode::Denied, message: "over quota" });
    for code in
        [ErrorCode::Malformed, ErrorCode::UnknownFunction, ErrorCode::ContractMismatch, ErrorCode::ServerFailure, ErrorCode::Other(99)]
    {
        assert_eq!(ErrorCode::from_u32(code.to_u32()), code);
    }
    // a long text is cut at a character boundary
    let long = "é".repeat(MAX_ERROR_TEXT);
    let bytes = ErrorReply { code: ErrorCode::ServerFailure, message: &long }.encode(None);
    let text = ErrorReply::decode(&Message::decode(&bytes).unwrap()).unwrap().message;
    assert!(text.len() <= MAX_ERROR_TEXT && text.chars().all(|c| c == 'é'));
    // the handshake is strict about kind and extra scalars
    assert_eq!(
        Hello::decode(&Message::decode(&welcome.encode()).unwrap()),
        Err(WireError::UnexpectedKind { expected: Kind::Hello, found: Kind::Welcome })
    );
}

#[test]
fn a_fence_round_trips_and_refuses_what_is_not_a_list_of_pairs() {
    let waits = vec![(1, 5), (3, u64::MAX)];
    let bytes = Fence::encode(&waits, 9, 4, Vec::new());
    let m = Message::decode(&bytes).unwrap();
    assert_eq!((m.kind(), m.header().call_id, m.header().thread), (Kind::Fence, 9, 4));
    assert_eq!(Fence::decode(&m).unwrap(), Fence { waits });
    let most = vec![(2, 2); MAX_FENCE];
    assert_eq!(Fence::decode(&Message::decode(&Fence::encode(&most, 1, 1, Vec::new())).unwrap()).unwrap().waits.len(), MAX_FENCE);
    let bad = |bytes: &[u8]| {
        let mut w = Writer::new(Header::new(Kind::Fence), 32);
        w.buffer(bytes);
        Fence::decode(&Message::decode(&w.finish().unwrap()).unwrap()).unwrap_err()
    };
    let max = MAX_FENCE as u64;
    assert_eq!(bad(&[]), WireError::BadFence { len: 0, max });
    assert_eq!(bad(&[0; 17]), WireError::BadFence { len: 17, max });
    assert_eq!(bad(&vec![0; 16 * (MAX_FENCE + 1)]), WireError::BadFence { len: 16 * max + 16, max });
    let mut w = Writer::new(Header::new(Kind::Fence), 32);
    w.null();
    let m = w.finish().unwrap();
    assert_eq!(
        Fence::decode(&Message::decode(&m).unwrap()).unwrap_err(),
        WireError::UnexpectedBuffer { expected: "inline buffer", found: "null buffer" }
    );
}

// ---- error cases: one per variant ----

fn decode_err(bytes: &[u8]) -> WireError {
    Message::decode(bytes).unwrap_err()
}

fn with(mut bytes: Vec<u8>, at: usize, patch: &[u8]) -> Vec<u8> {
    bytes[at..at + patch.len()].copy_from_slice(patch);
    bytes
}

#[test]
fn header_errors() {
    let ok = sample();
    assert_eq!(decode_err(&ok[..47]), WireError::Truncated { what: "header", needed: 48, available: 47 });
    assert_eq!(decode_err(&[]), WireError::Truncated { what: "header", needed: 48, available: 0 });
    assert_eq!(decode_err(&with(ok.clone(), 0, b"AVAC")), WireError::BadMagic { found: *b"AVAC" });
    assert_eq!(
        decode_err(&with(ok.clone(), 4, &(VERSION + 1).to_le_bytes())),
        WireError::UnsupportedVersion { found: VERSION + 1, supported: VERSION }
    );
    assert_eq!(decode_err(&with(ok.clone(), 6, &[0])), WireError::UnknownKind(0));
    assert_eq!(decode_err(&with(ok.clone(), 6, &[200])), WireError::UnknownKind(200));
    assert_eq!(decode_err(&with(ok.clone(), 7, &[1])), WireError::ReservedNotZero { offset: 7 });
    assert_eq!(decode_err(&with(ok.clone(), 8, &4u32.to_le_bytes())), WireError::UnknownFlags(4));
    assert_eq!(decode_err(&with(ok.clone(), 47, &[1])), WireError::ReservedNotZero { offset: 40 });
    let payload = (ok.len() - HEADER_LEN) as u64;
    assert_eq!(decode_err(&ok[..ok.len() - 1]), WireError::LengthMismatch { declared: payload, actual: payload - 1 });
    let mut longer = ok.clone();
    longer.push(0);
    assert_eq!(decode_err(&longer), WireError::LengthMismatch { declared: payload, actual: payload + 1 });
    assert_eq!(
        decode_err(&with(ok.clone(), 36, &(payload as u32 + 1).to_le_bytes())),
        WireError::ScalarAreaTooLong { scalar_len: payload + 1, payload_len: payload }
    );
    // a huge declared payload is just a mismatch: nothing is allocated for it
    assert_eq!(
        decode_err(&with(ok, 32, &u32::MAX.to_le_bytes())),
        WireError::LengthMismatch { declared: u32::MAX.into(), actual: payload }
    );
}

/// A call whose scalar area holds one buffer descriptor with these fields.
fn descriptor_message(kind: u32, reserved: u32, offset: u64, len: u64) -> Vec<u8> {
    let mut w = Writer::new(call_header(), 32);
    w.buffer(b"0123456789");
    let bytes = w.finish().unwrap();
    let at = HEADER_LEN;
    let bytes = with(bytes, at, &kind.to_le_bytes());
    let bytes = with(bytes, at + 4, &reserved.to_le_bytes());
    let bytes = with(bytes, at + 8, &offset.to_le_bytes());
    with(bytes, at + 16, &len.to_le_bytes())
}

fn buffer_err(bytes: &[u8]) -> WireError {
    let m = Message::decode(bytes).unwrap();
    let random_access = m.buffer_at(0).unwrap_err();
    assert_eq!(m.scalars().buffer().unwrap_err(), random_access);
    random_access
}

#[test]
fn buffer_descriptor_errors() {
    use crate::wire::{Fetch, Stage, StageAck};
    // the staging messages round-trip
    let mut w = Stage { index: 3, offset: 64, total: 100 }.writer(9, 2, Vec::new());
    w.buffer(b"chunk");
    let bytes = w.finish().unwrap();
    let m = Message::decode(&bytes).unwrap();
    assert_eq!(Stage::decode(&m).unwrap(), (Stage { index: 3, offset: 64, total: 100 }, BufferRef::Inline(b"chunk")));
    assert_eq!(m.header().call_id, 9);
    let bytes = Fetch { index: 1, offset: 2, len: 3 }.encode(9, 2, Some(4096));
    assert_eq!(
        Fetch::decode(&Message::decode(&bytes).unwrap()).unwrap(),
        (Fetch { index: 1, offset: 2, len: 3 }, BufferRef::Shared { offset: 4096, len: 3 })
    );
    let bytes = StageAck { index: 1, offset: 2, len: 3 }.encode(m.header(), Some(b"abc"), Vec::new()).unwrap();
    let ack = Message::decode(&bytes).unwrap();
    assert_eq!(StageAck::decode(&ack).unwrap(), (StageAck { index: 1, offset: 2, len: 3 }, BufferRef::Inline(b"abc")));
    assert_eq!(
        Stage::decode(&ack).unwrap_err(),
        WireError::UnexpectedKind { expected: crate::wire::Kind::Stage, found: crate::wire::Kind::StageAck }
    );

    assert_eq!(Message::decode(&descriptor_message(1, 0, 0, 10)).unwrap().buffer_at(0).unwrap(), BufferRef::Inline(b"0123456789"));
    assert_eq!(buffer_err(&descriptor_message(9, 0, 0, 10)), WireError::UnknownBufferKind(9));
    assert_eq!(buffer_err(&descriptor_message(1, 1, 0, 10)), WireError::ReservedNotZero { offset: 52 });
    assert_eq!(buffer_err(&descriptor_message(1, 0, 1, u64::MAX)), WireError::LengthOverflow { offset: 1, len: u64::MAX });
    assert_eq!(buffer_err(&descriptor_message(1, 0, 1, 10)), WireError::BufferOutOfBounds { offset: 1, len: 10, data_len: 10 });
    assert_eq!(buffer_err(&descriptor_message(1, 0, u64::MAX, 0)), WireError::BufferOutOfBounds { offset: u64::MAX, len: 0, data_len: 10 });
    assert_eq!(buffer_err(&descriptor_message(0, 0, 0, 1)), WireError::MalformedNull { offset: 0, len: 1 });
    assert_eq!(buffer_err(&descriptor_message(3, 0, 8, 1)), WireError::ReservedNotZero { offset: 56 });
    // a shared reference is not checked here: the region's owner checks it
    assert_eq!(
        Message::decode(&descriptor_message(2, 0, u64::MAX, u64::MAX)).unwrap().buffer_at(0).unwrap(),
        BufferRef::Shared { offset: u64::MAX, len: u64::MAX }
    );
    // nor a process-region reference: the server checks it against the
    // sending process's own region
    assert_eq!(
        Message::decode(&descriptor_message(4, 0, u64::MAX, 7)).unwrap().buffer_at(0).unwrap(),
        BufferRef::Process { offset: u64::MAX, len: 7 }
    );
    // staged buffers: the index must fit 32 bits; the staging area checks the rest
    assert_eq!(
        Message::decode(&descriptor_message(5, 0, 7, u64::MAX)).unwrap().buffer_at(0).unwrap(),
        BufferRef::Staged { index: 7, len: u64::MAX }
    );
    assert_eq!(buffer_err(&descriptor_message(5, 0, 1 << 32, 0)), WireError::BadStagingIndex(1 << 32));
    assert_eq!(Message::decode(&descriptor_message(6, 0, 0, 9)).unwrap().buffer_at(0).unwrap(), BufferRef::StagedOut { len: 9 });
    assert_eq!(buffer_err(&descriptor_message(6, 0, 8, 1)), WireError::ReservedNotZero { offset: 56 });
    assert_eq!(buffer_err(&descriptor_message(7, 0, 0, 0)), WireError::UnknownBufferKind(7));
    let shared = descriptor_message(2, 0, 0, 1);
    let m = Message::decode(&shared).unwrap();
    assert_eq!(m.scalars().bytes().unwrap_err(), WireError::UnexpectedBuffer { expected: "inline buffer", found: "shared buffer" });
    assert_eq!(m.scalars().str().unwrap_err(), WireError::UnexpectedBuffer { expected: "inline buffer", found: "shared buffer" });
}

#[test]
fn scalar_errors() {
    let mut w = Writer::new(call_header(), 16);
    w.u8(2).u32(7).buffer(&[0xff, 0xfe]);
    // the buffer descriptor did not fit: the writer says so at the end
    assert_eq!(w.finish().unwrap_err(), WriteError::ScalarAreaFull { offset: 8, size: 32, scalar_len: 16 });

    let mut w = Writer::new(call_header(), 32);
    w.u8(2).u32(7).u64(1);
    let bytes = w.finish().unwrap();
    let m = Message::decode(&bytes).unwrap();
    assert_eq!(m.scalars().bool().unwrap_err(), WireError::BadBool(2));
    assert_eq!(m.u64_at(28).unwrap_err(), WireError::ScalarOutOfBounds { offset: 28, size: 8, scalar_len: 32 });
    assert_eq!(m.u128_at(u32::MAX).unwrap_err(), WireError::ScalarOutOfBounds { offset: u32::MAX.into(), size: 16, scalar_len: 32 });
    let mut s = m.scalars();
    s.u8().unwrap();
    s.u32().unwrap();
    s.u64().unwrap();
    assert_eq!(s.u128().unwrap(), 0);
    assert_eq!(s.u8().unwrap_err(), WireError::ScalarOutOfBounds { offset: 32, size: 1, scalar_len: 32 });
    // reading less than the area holds is refused by finish
    let mut s = m.scalars();
    s.u8().unwrap();
    assert_eq!(s.finish().unwrap_err(), WireError::TrailingScalars { unread: 31 });

    let mut w = Writer::new(call_header(), 32);
    w.buffer(&[0xff, 0xfe]);
    let bytes = w.finish().unwrap();
    assert_eq!(Message::decode(&bytes).unwrap().scalars().str().unwrap_err(), WireError::BadUtf8);
}

#[test]
fn error_messages_are_lowercase_without_a_trailing_period() {
    let errors = [
        WireError::Truncated { what: "header", needed: 48, available: 0 },
        WireError::BadMagic { found: *b"ABCD" },
        WireError::UnsupportedVersion { found: VERSION + 1, supported: VERSION },
        WireError::UnknownKind(0),
        WireError::ContractMismatch { ours: 1, theirs: 2 },
        WireError::TrailingScalars { unread: 3 },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.starts_with(|c: char| c.is_uppercase()) && !text.ends_with('.'), "{text}");
    }
    let text = WriteError::TooLarge { len: 1, max: 0 }.to_string();
    assert!(text.starts_with(|c: char| c.is_lowercase()) && !text.ends_with('.'), "{text}");
}

// ---- property tests: no input makes the reader panic ----

/// Reads everything a server or router might read, ignoring errors: the
/// property is only that nothing panics.
fn read_everything(bytes: &[u8], slots: &[Slot]) {
    let Ok(m) = Message::decode(bytes) else { return };
    let len = m.scalar_bytes().len() as u32;
    for at in (0..len.saturating_add(32)).take(512) {
        let _ = (m.u8_at(at), m.u16_at(at), m.u32_at(at), m.u64_at(at), m.u128_at(at), m.buffer_at(at), m.buffer_key_at(at));
        let _ = (m.nested_buffer(at.into()), m.nested_key(at.into()));
    }
    let mut s = m.scalars();
    for slot in slots {
        let _ = match slot {
            Slot::U8 => s.bool().map(drop),
            Slot::U16 => s.u16().map(drop),
            Slot::U32 => s.u32().map(drop),
            Slot::U64 => s.u64().map(drop),
            Slot::U128 => s.u128().map(drop),
            Slot::Buffer => s.str().map(drop).or_else(|_| s.buffer().map(drop)),
        };
    }
    let _ = s.finish();
    let _ = (Hello::decode(&m), Welcome::decode(&m), ErrorReply::decode(&m), Fence::decode(&m));
}

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![Just(Slot::U8), Just(Slot::U16), Just(Slot::U32), Just(Slot::U64), Just(Slot::U128), Just(Slot::Buffer)]
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Word { at: usize, value: u64 },
    Truncate { len: usize },
    Append { bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<usize>(), prop_oneof![Just(0u64), Just(u64::MAX), Just(u32::MAX as u64), any::<u64>()])
            .prop_map(|(at, value)| Mutation::Word { at, value }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        proptest::collection::vec(any::<u8>(), 0..32).prop_map(|bytes| Mutation::Append { bytes }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Flip { at, bit } => {
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        Mutation::Set { at, byte } => {
            let i = at % bytes.len();
            bytes[i] = *byte;
        }
        Mutation::Word { at, value } => {
            // aligned to 4 so that length and descriptor fields get hit often
            let i = (at % bytes.len()) & !3;
            for (k, b) in value.to_le_bytes().iter().enumerate() {
                if let Some(slot) = bytes.get_mut(i + k) {
                    *slot = *b;
                }
            }
        }
        Mutation::Truncate { len } => bytes.truncate(len % (bytes.len() + 1)),
        Mutation::Append { bytes: more } => bytes.extend_from_slice(more),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), slots in proptest::collection::vec(slot(), 0..12)) {
        read_everything(&bytes, &slots);
        // and with a valid header in front, so the payload is reached too
        let mut framed = Writer::new(call_header(), 0).finish().unwrap();
        framed.extend_from_slice(&bytes);
        let payload = (framed.len() - HEADER_LEN) as u32;
        framed[32..36].copy_from_slice(&payload.to_le_bytes());
        let scalar = bytes.first().map_or(0, |b| u32::from(*b)).min(payload);
        framed[36..40].copy_from_slice(&scalar.to_le_bytes());
        read_everything(&framed, &slots);
    }

    #[test]
    fn mutated_messages_never_panic(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut bytes = sample();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        read_everything(&bytes, &SLOTS);
        let mut hello = Hello { contract: 1, next_call_id: 2, process: 3, channel: 0 }.encode();
        for m in &mutations {
            apply(&mut hello, m);
        }
        read_everything(&hello, &[Slot::U128, Slot::U64]);
    }

    #[test]
    fn any_scalars_round_trip(values in proptest::collection::vec((slot(), any::<u128>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..16)) {
        let slots: Vec<Slot> = values.iter().map(|v| v.0).collect();
        let (offsets, scalar_len) = Layout::of(&slots);
        let mut w = Writer::new(call_header(), scalar_len);
        for (slot, v, bytes) in &values {
            match slot {
                Slot::U8 => w.u8(*v as u8),
                Slot::U16 => w.u16(*v as u16),
                Slot::U32 => w.u32(*v as u32),
                Slot::U64 => w.u64(*v as u64),
                Slot::U128 => w.u128(*v),
                Slot::Buffer => w.buffer(bytes),
            };
        }
        let encoded = w.finish().unwrap();
        let m = Message::decode(&encoded).unwrap();
        let mut s = m.scalars();
        for ((slot, v, bytes), at) in values.iter().zip(&offsets) {
            match slot {
                Slot::U8 => { prop_assert_eq!(s.u8().unwrap(), *v as u8); prop_assert_eq!(m.u8_at(*at).unwrap(), *v as u8); }
                Slot::U16 => { prop_assert_eq!(s.u16().unwrap(), *v as u16); prop_assert_eq!(m.u16_at(*at).unwrap(), *v as u16); }
                Slot::U32 => { prop_assert_eq!(s.u32().unwrap(), *v as u32); prop_assert_eq!(m.u32_at(*at).unwrap(), *v as u32); }
                Slot::U64 => { prop_assert_eq!(s.u64().unwrap(), *v as u64); prop_assert_eq!(m.u64_at(*at).unwrap(), *v as u64); }
                Slot::U128 => { prop_assert_eq!(s.u128().unwrap(), *v); prop_assert_eq!(m.u128_at(*at).unwrap(), *v); }
                Slot::Buffer => {
                    prop_assert_eq!(s.bytes().unwrap(), Some(&bytes[..]));
                    prop_assert_eq!(m.buffer_at(*at).unwrap(), BufferRef::Inline(bytes));
                }
            }
        }
        prop_assert!(s.finish().is_ok());
    }
}
