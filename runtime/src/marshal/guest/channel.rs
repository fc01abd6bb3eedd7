//! Opening a thread's channel to the API server (and the process's
//! callback route and zero-copy region socket): the hello, the welcome,
//! the message limit both halves keep.

use super::*;

pub(super) fn thread_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Opens a stream to the server named by `CAVA_SERVER` and sends the
/// one-byte selector of what the channel is for.
pub(super) fn open_stream(selector: u8) -> Result<UnixStream, CallError> {
    let path = std::env::var_os("CAVA_SERVER")
        .ok_or_else(|| CallError::Other("CAVA_SERVER is not set: it must name the API server's socket (see `cava run`)".into()))?;
    let mut stream = UnixStream::connect(&path)
        .map_err(|e| CallError::Other(format!("cannot reach the API server at {}: {e}", std::path::Path::new(&path).display())))?;
    std::io::Write::write_all(&mut stream, &[selector]).map_err(TransportError::from)?;
    Ok(stream)
}

/// Sends the hello and checks the server's answer; the largest message
/// the server accepts. `channel` is the channel's number among the
/// process's channels (0: a connection that carries no calls).
pub(super) fn shake_hands(
    library: &GuestLibrary,
    transport: &mut dyn Transport,
    buf: &mut Vec<u8>,
    channel: u64,
) -> Result<u64, CallError> {
    transport.send(&Hello { contract: library.contract, next_call_id: 1, process: process(), channel }.encode())?;
    transport.recv(buf, Some(Duration::from_secs(30)))?;
    let message = Message::decode(buf)?;
    if message.kind() == MsgKind::Error {
        let reply = ErrorReply::decode(&message)?;
        return Err(CallError::Refused(reply.code, reply.message.to_string()));
    }
    let welcome = Welcome::decode(&message)?;
    crate::wire::check_contract(library.contract, welcome.contract)
        .map_err(|e| CallError::Refused(ErrorCode::ContractMismatch, e.to_string()))?;
    Ok(u64::from(welcome.max_message))
}

/// Connects a channel over the transport named by `CAVA_TRANSPORT` (`unix`,
/// the default, or `shm`).
pub(super) fn connect(library: &GuestLibrary, fences: &Fences) -> Result<Channel, CallError> {
    let kind = std::env::var("CAVA_TRANSPORT").unwrap_or_else(|_| "unix".into());
    let mut transport: Box<dyn Transport> = match kind.as_str() {
        "unix" => Box::new(
            UnixTransport::new(open_stream(b'U')?)
                .with_max_message(crate::transport::configured_max_message())
                .with_send_buffer(crate::transport::unix::CHANNEL_SEND_BUFFER),
        ),
        "shm" => Box::new(ShmTransport::connect(open_stream(b'S')?, Duration::from_secs(10), crate::transport::unix::DEFAULT_SPIN)?),
        other => return Err(CallError::Other(format!("CAVA_TRANSPORT={other} is not a transport (use `unix` or `shm`)"))),
    };
    let mut buf = Vec::new();
    // a number of its own on every connection: a reconnected channel may
    // reach another server, which never saw the old number's calls
    let view = fences.join();
    let theirs = shake_hands(library, transport.as_mut(), &mut buf, view.number())?;
    // this side sends at most the smaller limit (larger buffers are
    // staged), but takes whatever the server may send, which stages by its
    // own limit: a guest configured smaller than its server still gets
    // the server's replies
    let max = theirs.min(transport.max_message() as u64);
    let accept = (transport.max_message() as u64).max(theirs);
    transport.accept_up_to(usize::try_from(accept).unwrap_or(usize::MAX));
    // a new channel may reach a new server, which does not know the process region
    zerocopy::check_server();
    Ok(Channel {
        transport,
        in_flight: Vec::new(),
        next_call: 1,
        thread: thread_number(),
        epoch: ForkEpoch::current(),
        buf,
        max,
        fences: view,
    })
}

/// Opens the process's callback route (see [`super::guest_callbacks`]).
pub(super) fn open_route(library: &'static GuestLibrary, state: &'static State) -> Result<(), CallError> {
    let info = RouteInfo { name: library.name, plan: &state.plan, invoke: library.invoke, callbacks: &state.callbacks };
    state
        .callbacks
        .ensure_route(info, || {
            let stream = open_stream(b'C').map_err(|e| e.to_string())?;
            let mut transport = UnixTransport::new(stream.try_clone().map_err(|e| e.to_string())?);
            shake_hands(library, &mut transport, &mut Vec::new(), 0).map_err(|e| e.to_string())?;
            Ok(stream)
        })
        .map_err(CallError::Other)
}

/// Opens the connection the process region comes over: selector `Z`, then
/// the hello with this process's number, which the server registers the
/// region under. The server answers with the region itself (no welcome).
pub(super) fn open_process_region(state: &State) -> Result<UnixStream, String> {
    let stream = open_stream(b'Z').map_err(|e| e.to_string())?;
    let mut hello = UnixTransport::new(stream.try_clone().map_err(|e| e.to_string())?);
    hello.send(&Hello { contract: state.contract, next_call_id: 1, process: process(), channel: 0 }.encode()).map_err(|e| e.to_string())?;
    Ok(stream)
}
