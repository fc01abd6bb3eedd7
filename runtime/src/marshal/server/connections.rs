//! The API server's connections: a new connection's first byte says what
//! it is for (a call channel over the socket or over shared memory, a
//! process's callback route, its zero-copy region); each starts with a
//! hello that admits it to its guest process's state, and a call channel
//! then serves calls until the guest closes it.

use super::*;

pub(super) fn serve_channel(shared: &Shared, mut stream: UnixStream) {
    let mut selector = [0u8; 1];
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    if stream.read_exact(&mut selector).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(None);
    let peer = peer_pid(&stream);
    let transport: Result<Box<dyn Transport>, TransportError> = match &selector {
        b"U" => Ok(Box::new(
            UnixTransport::new(stream).with_max_message(shared.max_message).with_send_buffer(crate::transport::unix::CHANNEL_SEND_BUFFER),
        )),
        b"S" => ShmTransport::serve(stream, ShmConfig { max_message: shared.max_message, ..ShmConfig::default() })
            .map(|t| Box::new(t) as Box<dyn Transport>),
        b"C" => {
            serve_route(shared, stream, peer);
            return;
        }
        b"Z" => {
            serve_process_region(shared, stream, peer);
            return;
        }
        other => {
            shared.log(format_args!("a guest asked for transport {:?}; closing", other[0] as char));
            return;
        }
    };
    let mut transport = match transport {
        Ok(t) => t,
        Err(e) => {
            shared.log(format_args!("channel setup failed: {e}"));
            return;
        }
    };
    if let Err(e) = serve_calls(shared, transport.as_mut(), peer) {
        if !matches!(e, TransportError::Closed) {
            shared.log(format_args!("channel closed: {e}"));
        }
    }
}

pub(super) fn error_reply(code: ErrorCode, message: &str, to: Option<&Header>) -> Vec<u8> {
    ErrorReply { code, message }.encode(to)
}

/// A channel let in: its hold on its process's state, and its call counter.
pub(super) type Admitted = (Lease<Tenant>, Option<Counter>);

/// Receives a channel's hello and answers it: the channel's hold on its
/// process's state and its call counter (see [`fences`](crate::marshal::fences);
/// `None` for a hello without a channel number) when it may go on, `None`
/// when it was refused.
pub(super) fn handshake(
    shared: &Shared,
    transport: &mut dyn Transport,
    buf: &mut Vec<u8>,
    peer: u32,
) -> Result<Option<Admitted>, TransportError> {
    let Some(hello) = receive_hello(shared, transport, buf)? else { return Ok(None) };
    let admitted = admit(shared, &hello, peer).and_then(|lease| {
        // counted from before the welcome: the guest's other channels may
        // name this one as soon as it has sent a call
        let counter = lease.state().fences.open(hello.channel);
        if hello.channel != 0 && counter.is_none() {
            shared.log(format_args!("refused a guest channel: its process already had a channel numbered {}", hello.channel));
            return Err(format!("channel number {} is taken", hello.channel));
        }
        Ok((lease, counter))
    });
    match admitted {
        Ok(admitted) => {
            transport.send(&welcome(shared, transport.max_message()))?;
            Ok(Some(admitted))
        }
        Err(text) => {
            transport.send(&error_reply(ErrorCode::Denied, &text, None))?;
            Ok(None)
        }
    }
}

/// Lets a connection of the process its hello names in, if its socket's
/// peer is that process (see [`Tenants::claim`]); the refusal is logged.
pub(super) fn admit(shared: &Shared, hello: &Hello, peer: u32) -> Result<Lease<Tenant>, String> {
    shared
        .tenants
        .claim(hello.process, peer, || Tenant::new(shared.library.name, hello.process, peer).on_departure(departure::depart))
        .map_err(|e| {
            match e {
                Refused::Taken { process, owner, pid } => {
                    shared.log(format_args!("refused a guest: process {pid} claimed process {owner}'s number {process:#x}"))
                }
                Refused::UnknownPid => shared.log(format_args!("refused a guest: {e}")),
            }
            e.to_string()
        })
}

/// The server's answer to an accepted hello.
pub(super) fn welcome(shared: &Shared, max_message: usize) -> Vec<u8> {
    Welcome { contract: shared.library.contract, max_message: u32::try_from(max_message).unwrap_or(u32::MAX) }.encode()
}

/// Receives a channel's hello and checks it; a refused one is answered with
/// an error reply here and gives `None`.
pub(super) fn receive_hello(shared: &Shared, transport: &mut dyn Transport, buf: &mut Vec<u8>) -> Result<Option<Hello>, TransportError> {
    transport.recv(buf, Some(Duration::from_secs(30)))?;
    let hello = match Message::decode(buf).and_then(|m| Hello::decode(&m)) {
        Ok(hello) => hello,
        Err(e) => {
            shared.log(format_args!("refused a guest: bad hello: {e}"));
            transport.send(&error_reply(ErrorCode::Malformed, &e.to_string(), None))?;
            return Ok(None);
        }
    };
    if let Err(e) = check_contract(shared.library.contract, hello.contract) {
        shared.log(format_args!("refused a guest: {e}"));
        transport.send(&error_reply(ErrorCode::ContractMismatch, &e.to_string(), None))?;
        return Ok(None);
    }
    Ok(Some(hello))
}

/// Serves a guest process's callback route: registers it for the process
/// its hello names, then hands each callback reply to the trampoline
/// waiting for it, until the guest closes the route.
pub(super) fn serve_route(shared: &Shared, stream: UnixStream, peer: u32) {
    let writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            shared.log(format_args!("callback route setup failed: {e}"));
            return;
        }
    };
    let mut reader = UnixTransport::new(stream);
    let mut writer = UnixTransport::new(writer);
    let mut buf = Vec::new();
    let hello = match receive_hello(shared, &mut writer, &mut buf) {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(e) => {
            shared.log(format_args!("callback route setup failed: {e}"));
            return;
        }
    };
    let _lease = match admit(shared, &hello, peer) {
        Ok(lease) => lease,
        Err(text) => {
            let _ = writer.send(&error_reply(ErrorCode::Denied, &text, None));
            return;
        }
    };
    // the hello came through the writer's descriptor; both read the same socket
    let welcome = welcome(shared, writer.max_message());
    let route = Arc::new(Route::new(writer));
    // registered before the guest hears back: its next call, which registers
    // a callback, must find the route
    lock(&shared.registrations).add_route(hello.process, Arc::clone(&route));
    if let Err(e) = route.send(&welcome) {
        shared.log(format_args!("callback route setup failed: {e}"));
        lock(&shared.registrations).remove_process(hello.process, &route);
        return;
    }
    loop {
        if let Err(e) = reader.recv(&mut buf, None) {
            if !matches!(e, TransportError::Closed) {
                shared.log(format_args!("callback route closed: {e}"));
            }
            break;
        }
        let delivered = match Message::decode(&buf) {
            Ok(m) if m.kind() == MsgKind::CallbackReply => route.deliver(m.header().call_id, buf.clone()),
            Ok(m) => {
                shared.log(format_args!("unexpected {:?} message on a callback route", m.kind()));
                true
            }
            Err(e) => {
                shared.log(format_args!("undecodable callback reply: {e}"));
                true
            }
        };
        if !delivered {
            shared.log(format_args!("a callback reply nobody waits for"));
        }
    }
    let left = {
        let mut registrations = lock(&shared.registrations);
        let left = registrations.count(hello.process);
        registrations.remove_process(hello.process, &route);
        left
    };
    if left > 0 {
        shared.log(format_args!("guest process {peer} left {left} callback registrations, now forgotten"));
    }
}

/// How large each guest process's zero-copy region is. Pages exist only
/// once touched, so this bounds the application's `zerocopy_alloc`s, not
/// the memory they cost.
pub const PROCESS_REGION_BYTES: u64 = 1 << 30;

/// Serves a guest process's request for its zero-copy region: checks the
/// hello, creates the region, registers it under the process (one region
/// per process), sends it, and forgets it when the guest closes the socket.
pub(super) fn serve_process_region(shared: &Shared, stream: UnixStream, peer: u32) {
    let mut transport = match stream.try_clone() {
        Ok(s) => UnixTransport::new(s),
        Err(e) => {
            shared.log(format_args!("zero-copy region setup failed: {e}"));
            return;
        }
    };
    let mut buf = Vec::new();
    let hello = match receive_hello(shared, &mut transport, &mut buf) {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(e) => {
            shared.log(format_args!("zero-copy region setup failed: {e}"));
            return;
        }
    };
    // the region belongs to the process's state, which only connections
    // from the process id that first used its number reach
    let Ok(lease) = admit(shared, &hello, peer) else { return };
    let tenant = lease.state();
    let region = {
        let mut slot = lock(&tenant.region);
        if slot.is_some() {
            // one per process: a second would let two allocators hand out the same bytes
            shared.log(format_args!("refused a second zero-copy region for one guest process"));
            return;
        }
        match ProcessRegion::serve(&stream, PROCESS_REGION_BYTES) {
            Ok(region) => Arc::clone(slot.insert(Arc::new(region))),
            Err(e) => {
                shared.log(format_args!("zero-copy region setup failed: {e}"));
                return;
            }
        }
    };
    // the guest sends nothing more: the socket closes when the process goes
    let mut byte = [0u8; 1];
    while matches!((&stream).read(&mut byte), Ok(n) if n > 0) {}
    let mut slot = lock(&tenant.region);
    if slot.as_ref().is_some_and(|r| Arc::ptr_eq(r, &region)) {
        *slot = None;
    }
}

/// The process id at the other end of a Unix socket; 0 when unknown.
pub(super) fn peer_pid(stream: &UnixStream) -> u32 {
    rustix::net::sockopt::socket_peercred(stream).map_or(0, |c| c.pid.as_raw_nonzero().get() as u32)
}

pub(super) fn serve_calls(shared: &Shared, transport: &mut dyn Transport, peer: u32) -> Result<(), TransportError> {
    let mut buf = Vec::new();
    let Some((lease, counter)) = handshake(shared, transport, &mut buf, peer)? else { return Ok(()) };
    let tenant = Arc::clone(lease.state());
    // (the counter closes the channel however this thread leaves)
    let _serving = counter.as_ref().map(Counter::serve_here);
    let mut channel = ChannelState::new(Arc::clone(&tenant), shared.max_staged);
    // why the next call may not run: its fence was not met
    let mut unfenced: Option<String> = None;
    let left_unreported = |channel: &ChannelState| {
        if let Some(code) = channel.deferred {
            shared.log(format_args!("a guest thread left with an unreported error of an asynchronous call ({code})"));
        }
    };
    loop {
        if let Err(e) = transport.recv(&mut buf, None) {
            left_unreported(&channel);
            return Err(e);
        }
        let message = match Message::decode(&buf) {
            Ok(m) => m,
            Err(e) => {
                shared.log(format_args!("undecodable message: {e}"));
                transport.send(&error_reply(ErrorCode::Malformed, &e.to_string(), None))?;
                continue;
            }
        };
        match message.kind() {
            MsgKind::Call => {
                let header = *message.header();
                let arrival = Arrival { raw: &buf, region: transport.region(), rebind: None };
                let handled = match unfenced.take() {
                    Some(text) => Err((ErrorCode::ServerFailure, text)),
                    None => handle_call(shared, &mut channel, &message, transport.max_message() as u64, arrival),
                };
                // counted before its reply: the guest's other threads may
                // name it in a fence as soon as the reply is back
                if let Some(counter) = &counter {
                    counter.handled();
                }
                match handled {
                    Ok(Some(reply)) => {
                        transport.send(&reply)?;
                        channel.reply_buf = reply;
                    }
                    Ok(None) => {}
                    Err((code, text)) => {
                        let name = shared.plan.functions.get(header.function as usize).map_or("?", |f| f.name.as_str());
                        shared.log(format_args!("call {} ({name}) refused: {text}", header.call_id));
                        if !header.flags.contains(crate::wire::Flags::ASYNC) {
                            transport.send(&error_reply(code, &text, Some(&header)))?;
                        } else if code == ErrorCode::InvalidHandle {
                            channel.deferred.get_or_insert(shared.plan.api.invalid_handle);
                        } else {
                            channel.deferred.get_or_insert(shared.plan.api.failure);
                        }
                    }
                }
            }
            MsgKind::Stage | MsgKind::Fetch => {
                let header = *message.header();
                let buf = std::mem::take(&mut channel.reply_buf);
                let answer = if message.kind() == MsgKind::Stage {
                    stage(&mut channel, &message, transport.region(), buf)
                } else {
                    fetch(&mut channel, &message, transport.region(), transport.max_message() as u64, buf)
                };
                match answer {
                    Ok(ack) => {
                        transport.send(&ack)?;
                        channel.reply_buf = ack;
                    }
                    Err(text) => {
                        shared.log(format_args!("{:?} for call {} refused: {text}", header.kind, header.call_id));
                        transport.send(&error_reply(ErrorCode::Malformed, &text, Some(&header)))?;
                    }
                }
            }
            MsgKind::Fence => {
                let header = *message.header();
                let checked = match (Fence::decode(&message), &counter) {
                    (Ok(fence), Some(counter)) => Ok((fence, counter)),
                    (Err(e), _) => Err(e.to_string()),
                    (Ok(_), None) => Err("a fence on a channel whose hello gave it no number".to_string()),
                };
                match checked {
                    Ok((fence, counter)) => unfenced = wait_fence(shared, &tenant, counter, &fence, &header),
                    Err(text) => {
                        shared.log(format_args!("fence before call {} refused: {text}", header.call_id));
                        transport.send(&error_reply(ErrorCode::Malformed, &text, Some(&header)))?;
                    }
                }
            }
            // the guest's thread leaves: every message before this one is
            // handled, which the answering goodbye tells it (a close alone
            // is seen late on shared memory, where a sleeping peer learns of
            // it from the setup socket)
            MsgKind::Goodbye => {
                left_unreported(&channel);
                let _ = transport.send(&crate::wire::Header::new(MsgKind::Goodbye).encode());
                return Ok(());
            }
            other => {
                shared.log(format_args!("unexpected {other:?} message"));
                transport.send(&error_reply(ErrorCode::Malformed, &format!("unexpected {other:?} message"), Some(message.header())))?;
            }
        }
    }
}

/// Waits until the calls a fence names have been handled; why the call
/// it precedes may not run when they were not (logged, unless the guest
/// process left).
fn wait_fence(shared: &Shared, tenant: &Tenant, counter: &Counter, fence: &Fence, header: &Header) -> Option<String> {
    let pid = rustix::process::Pid::from_raw(tenant.pid as i32);
    // (a zombie still counts as there; its channels closing ends the wait)
    let gone = || pid.is_some_and(|pid| rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH));
    let unmet = tenant.fences.wait(Some(counter), &fence.waits, shared.fence_patience, gone).err()?;
    let text = format!("the calls it must follow were not handled: {unmet}");
    match unmet {
        Unmet::Gone => {}
        _ => shared.log(format_args!("call {} of guest process {} refused: {text}", header.call_id, tenant.pid)),
    }
    Some(text)
}

/// State of one channel (one guest thread).
pub(super) struct ChannelState {
    /// The error of an earlier asynchronous call, not yet reported.
    pub(super) deferred: Option<i128>,
    /// The guest process the channel belongs to: its objects, kept buffers
    /// and zero-copy region, and its callbacks' route.
    pub(super) tenant: Arc<Tenant>,
    /// The last reply's buffer, reused for the next.
    pub(super) reply_buf: Vec<u8>,
    /// Shadow buffers of earlier calls, reused (see `Decoder::spare`).
    pub(super) spare: Vec<Vec<u8>>,
    /// Buffers too large for a message: uploads for the next call, results
    /// of the last one (see [`crate::marshal::staging`]).
    pub(super) staging: Staging,
    /// The handles its call has in hand (see `in_use`).
    pub(super) in_hand: Arc<InHand>,
}

impl ChannelState {
    pub(super) fn new(tenant: Arc<Tenant>, max_staged: u64) -> ChannelState {
        let in_hand = tenant.holdings.join();
        ChannelState { deferred: None, tenant, reply_buf: Vec::new(), spare: Vec::new(), staging: Staging::new(max_staged), in_hand }
    }
}

impl Drop for ChannelState {
    fn drop(&mut self) {
        self.tenant.holdings.leave(&self.in_hand);
    }
}

/// Bytes of a stage acknowledgement or fetch answer besides the chunk.
const ACK_ROOM: u64 = 4096;

/// Takes one chunk of a staged upload ([`Stage`]); the acknowledgement.
fn stage(channel: &mut ChannelState, message: &Message<'_>, region: Option<&dyn SharedRegion>, buf: Vec<u8>) -> Result<Vec<u8>, String> {
    let (stage, chunk) = Stage::decode(message).map_err(|e| e.to_string())?;
    let call = message.header().call_id;
    let (len, source) = match chunk {
        BufferRef::Inline(bytes) => (bytes.len() as u64, Ok(bytes)),
        BufferRef::Shared { offset, len } => {
            let region = region.ok_or("a staged chunk in a zero-copy region on a channel without one")?;
            region.check_shared(offset, len).map_err(|e| e.to_string())?;
            (len, Err((region, offset)))
        }
        other => return Err(format!("a staged chunk as a {}", other.name())),
    };
    let received = channel
        .staging
        .stage_with(call, stage.index, stage.offset, stage.total, len, |dst| match source {
            Ok(bytes) => {
                dst.copy_from_slice(bytes);
                Ok(())
            }
            Err((region, offset)) => region.read_region(offset, dst).map_err(|e| e.to_string()),
        })
        .map_err(|e| e.to_string())?;
    let ack = StageAck { index: stage.index, offset: stage.offset, len: received - stage.offset };
    ack.encode(message.header(), None, buf).map_err(|e| e.to_string())
}

/// Sends one chunk of a staged result ([`Fetch`]), inline in the answer
/// or into the zero-copy region block the guest named.
fn fetch(
    channel: &mut ChannelState,
    message: &Message<'_>,
    region: Option<&dyn SharedRegion>,
    max: u64,
    buf: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let (fetch, into) = Fetch::decode(message).map_err(|e| e.to_string())?;
    let header = message.header();
    let ack = StageAck { index: fetch.index, offset: fetch.offset, len: fetch.len };
    let staging = &mut channel.staging;
    match into {
        BufferRef::Out { len } if len == fetch.len => {
            if len > max.saturating_sub(ACK_ROOM) {
                return Err(format!("a fetch of {len} bytes is over the {max}-byte message limit"));
            }
            let encoded = staging.fetch(header.call_id, fetch.index, fetch.offset, len, |bytes| ack.encode(header, Some(bytes), buf));
            encoded.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
        }
        BufferRef::Shared { offset, len } if len == fetch.len => {
            let region = region.ok_or("a fetch into a zero-copy region on a channel without one")?;
            region.check_shared(offset, len).map_err(|e| e.to_string())?;
            let written = staging.fetch(header.call_id, fetch.index, fetch.offset, len, |bytes| region.write_region(offset, bytes));
            written.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
            ack.encode(header, None, buf).map_err(|e| e.to_string())
        }
        other => Err(format!("a fetch of {} bytes into a {} of another length", fetch.len, other.name())),
    }
}
