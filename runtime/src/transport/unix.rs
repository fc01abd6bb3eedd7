//! Unix-domain stream socket transport: each message is a frame of a u32
//! little-endian length and the message bytes.
//!
//! - Sockets are close-on-exec (std opens them with `SOCK_CLOEXEC`).
//! - Sends use `MSG_NOSIGNAL`: a guest library lives inside someone else's
//!   program, where `SIGPIPE` still kills the process; a dead server must be
//!   an error, never the end of the application.
//! - The channel remembers the process that created it and refuses any
//!   other, so a forked child cannot interleave its frames with its parent's.
//! - A frame over the size limit, or a peer that stops in the middle of a
//!   frame, closes the channel (both directions are shut down, so the peer
//!   sees it); a timeout before a frame starts does not.
//! - A receiver polls the socket with non-blocking reads for a while (at
//!   most [`DEFAULT_SPIN`], adapted like the shared-memory receiver's) before
//!   it blocks. On a virtual machine a blocked reader is woken through an
//!   idle virtual CPU, which costs 60–100 µs; a polling one is not asleep.

#![forbid(unsafe_code)]

use std::io::{self, IoSlice, Read};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags};

use super::shm::ForkEpoch;
use super::spin::SpinBudget;
use super::{Transport, TransportError, DEFAULT_MAX_MESSAGE};

const PREFIX: usize = 4;
/// Read buffer: one `read` usually brings in a whole small frame, and
/// sometimes the next one too.
const READ_BUFFER: usize = 64 << 10;

/// The send buffer of a channel's socket (see
/// [`UnixTransport::with_send_buffer`]): large messages (staged chunks of
/// 2 MiB) then cross in a few wake-ups instead of one per 208 KiB, the
/// usual default, which roughly doubled staged transfers' throughput.
pub const CHANNEL_SEND_BUFFER: usize = 4 << 20;
/// Longest a receiver polls before blocking.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// One end of a Unix-socket channel.
#[derive(Debug)]
pub struct UnixTransport {
    stream: UnixStream,
    max_message: usize,
    owner: u32,
    /// The owner's fork epoch: checked on every operation, where a `getpid`
    /// system call would cost about as much as a queued call.
    epoch: ForkEpoch,
    /// Bytes read from the socket but not yet consumed: `rbuf[rpos..rend]`.
    rbuf: Box<[u8]>,
    rpos: usize,
    rend: usize,
    /// How reads wait: poll, then block.
    waiter: ReadWaiter,
    /// How long a send polls a full socket buffer before blocking.
    send_budget: SpinBudget,
    poisoned: bool,
}

/// Polling and blocking state of the reading side.
#[derive(Debug)]
struct ReadWaiter {
    spin: Duration,
    budget: SpinBudget,
    /// The socket's receive timeout as last set, to skip redundant syscalls.
    timeout: Option<Duration>,
}

impl UnixTransport {
    /// Wraps a connected stream.
    pub fn new(stream: UnixStream) -> UnixTransport {
        UnixTransport {
            stream,
            max_message: DEFAULT_MAX_MESSAGE,
            owner: current_pid(),
            epoch: ForkEpoch::current(),
            rbuf: vec![0; READ_BUFFER].into_boxed_slice(),
            rpos: 0,
            rend: 0,
            waiter: ReadWaiter { spin: DEFAULT_SPIN, budget: SpinBudget::new(), timeout: None },
            send_budget: SpinBudget::new(),
            poisoned: false,
        }
    }

    /// Connects to a server listening at `path`.
    pub fn connect(path: impl AsRef<Path>) -> Result<UnixTransport, TransportError> {
        Ok(UnixTransport::new(UnixStream::connect(path)?))
    }

    /// Two connected ends (a socket pair), for a server in this process or a
    /// child that inherits one end explicitly.
    pub fn pair() -> Result<(UnixTransport, UnixTransport), TransportError> {
        let (a, b) = UnixStream::pair()?;
        Ok((UnixTransport::new(a), UnixTransport::new(b)))
    }

    /// Sets the largest message sent or accepted (at most `u32::MAX`).
    pub fn with_max_message(mut self, max: usize) -> UnixTransport {
        self.max_message = max.min(u32::MAX as usize);
        self
    }

    /// Asks for a send buffer (`SO_SNDBUF`) of `bytes`, which on a Unix
    /// socket bounds what this side may have queued for the other; best
    /// effort (the system caps it at `net.core.wmem_max`). Only bytes
    /// actually queued take memory.
    pub fn with_send_buffer(self, bytes: usize) -> UnixTransport {
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(&self.stream, bytes);
        self
    }

    /// Sets the longest a receiver polls before blocking (zero: never poll).
    pub fn with_spin(mut self, spin: Duration) -> UnixTransport {
        self.waiter.spin = spin;
        self
    }

    /// The underlying socket (the shared-memory transport passes its
    /// mapping over it and watches it to learn when the peer dies).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    fn check_usable(&self) -> Result<(), TransportError> {
        if self.poisoned {
            return Err(TransportError::Poisoned);
        }
        if self.epoch != ForkEpoch::current() {
            return Err(TransportError::ForeignProcess { owner: self.owner, caller: current_pid() });
        }
        Ok(())
    }

    /// Closes the channel after a framing error and returns the error.
    fn poison(&mut self, error: TransportError) -> TransportError {
        self.poisoned = true;
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        error
    }

    /// Reads more bytes into the read buffer, waiting until `deadline`.
    /// `Ok(false)` means the deadline passed with nothing read.
    fn fill(&mut self, deadline: Option<Instant>) -> Result<bool, TransportError> {
        if self.rpos == self.rend {
            (self.rpos, self.rend) = (0, 0);
        } else if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            (self.rpos, self.rend) = (0, self.rend - self.rpos);
        }
        match self.waiter.read(&self.stream, &mut self.rbuf[self.rend..], deadline)? {
            Some(n) => {
                self.rend += n;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn read_frame(&mut self, buf: &mut Vec<u8>, timeout: Option<Duration>) -> Result<(), TransportError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        while self.rend - self.rpos < PREFIX {
            let started = self.rend > self.rpos;
            if !self.fill(deadline)? {
                return Err(if started {
                    self.poison(TransportError::Stalled)
                } else {
                    TransportError::TimedOut(timeout.unwrap_or_default())
                });
            }
        }
        let mut prefix = [0u8; PREFIX];
        prefix.copy_from_slice(&self.rbuf[self.rpos..self.rpos + PREFIX]);
        self.rpos += PREFIX;
        let len = u32::from_le_bytes(prefix) as usize;
        if len > self.max_message {
            return Err(self.poison(TransportError::FrameTooLarge { len: len as u64, max: self.max_message as u64 }));
        }
        // Reuse the caller's allocation without zeroing it again: only
        // growth is zero-filled, and growth is bounded by bytes actually
        // received (see read_body), not by the announced length.
        let buffered = (self.rend - self.rpos).min(len);
        buf.truncate(len);
        if buf.len() < buffered {
            buf.resize(buffered, 0);
        }
        buf[..buffered].copy_from_slice(&self.rbuf[self.rpos..self.rpos + buffered]);
        self.rpos += buffered;
        self.read_body(buf, buffered, len, deadline)
    }

    /// Reads bytes `got..len` of a frame straight from the socket into `buf`.
    fn read_body(&mut self, buf: &mut Vec<u8>, mut got: usize, len: usize, deadline: Option<Instant>) -> Result<(), TransportError> {
        while got < len {
            if buf.len() == got {
                // grow by at most what we already hold (doubling), so a
                // lying length prefix costs memory only as bytes arrive
                let grow = (len - got).min(got.max(READ_BUFFER));
                buf.resize(got + grow, 0);
            }
            let end = buf.len().min(len);
            match self.waiter.read(&self.stream, &mut buf[got..end], deadline)? {
                Some(n) => got += n,
                None => return Err(self.poison(TransportError::Stalled)),
            }
        }
        buf.truncate(len);
        Ok(())
    }
}

impl Transport for UnixTransport {
    fn send(&mut self, message: &[u8]) -> Result<(), TransportError> {
        self.check_usable()?;
        if message.len() > self.max_message {
            return Err(TransportError::TooLarge { len: message.len() as u64, max: self.max_message as u64 });
        }
        let prefix = (message.len() as u32).to_le_bytes();
        let total = PREFIX + message.len();
        let mut sent = 0;
        // When the socket buffer is full (large messages), poll for room
        // before blocking, for the same reason the reader polls.
        let mut full_since: Option<(Instant, Duration)> = None;
        while sent < total {
            // one sendmsg for prefix and body; after a partial send, the rest
            let slices = if sent < PREFIX {
                [IoSlice::new(&prefix[sent..]), IoSlice::new(message)]
            } else {
                [IoSlice::new(&message[sent - PREFIX..]), IoSlice::new(&[])]
            };
            let polling = full_since.is_none_or(|(since, spin)| since.elapsed() < spin);
            let flags = if polling { SendFlags::NOSIGNAL | SendFlags::DONTWAIT } else { SendFlags::NOSIGNAL };
            match rustix::net::sendmsg(&self.stream, &slices, &mut SendAncillaryBuffer::default(), flags) {
                Ok(n) => {
                    sent += n;
                    if let Some((since, spin)) = full_since.take() {
                        if since.elapsed() < spin {
                            self.send_budget.succeeded(self.waiter.spin);
                        } else {
                            self.send_budget.failed(self.waiter.spin);
                        }
                    }
                }
                Err(rustix::io::Errno::AGAIN) => {
                    if full_since.is_none() {
                        full_since = Some((Instant::now(), self.send_budget.get(self.waiter.spin)));
                    }
                    std::hint::spin_loop();
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(closed_or(e.into())),
            }
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Option<Duration>) -> Result<(), TransportError> {
        self.check_usable()?;
        self.read_frame(buf, timeout)
    }

    fn accept_up_to(&mut self, max: usize) {
        self.max_message = max.min(u32::MAX as usize);
    }

    fn max_message(&self) -> usize {
        self.max_message
    }
}

impl ReadWaiter {
    /// Reads at least one byte into `dst`: polls with non-blocking reads for
    /// the current spin budget, then blocks until `deadline`. `None`: the
    /// deadline passed.
    fn read(&mut self, stream: &UnixStream, dst: &mut [u8], deadline: Option<Instant>) -> Result<Option<usize>, TransportError> {
        let spin = self.budget.get(self.spin);
        if !spin.is_zero() {
            let start = Instant::now();
            loop {
                match rustix::net::recv(stream, &mut *dst, RecvFlags::DONTWAIT) {
                    Ok((0, _)) => return Err(TransportError::Closed),
                    Ok((n, _)) => {
                        self.budget.succeeded(self.spin);
                        return Ok(Some(n));
                    }
                    Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(closed_or(e.into())),
                }
                let now = Instant::now();
                if now.duration_since(start) >= spin || deadline.is_some_and(|d| now >= d) {
                    break;
                }
                std::hint::spin_loop();
            }
            self.budget.failed(self.spin);
        }
        loop {
            let remaining = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(r) if !r.is_zero() => Some(r),
                    _ => return Ok(None),
                },
            };
            self.set_timeout(stream, remaining)?;
            match (&*stream).read(dst) {
                Ok(0) => return Err(TransportError::Closed),
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(closed_or(e)),
            }
        }
    }

    fn set_timeout(&mut self, stream: &UnixStream, timeout: Option<Duration>) -> io::Result<()> {
        // SO_RCVTIMEO of zero means "forever"; the smallest real wait is 1 µs
        let timeout = timeout.map(|t| t.max(Duration::from_micros(1)));
        if timeout != self.timeout {
            stream.set_read_timeout(timeout)?;
            self.timeout = timeout;
        }
        Ok(())
    }
}

fn current_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// Maps the ways a socket reports a vanished peer to `Closed`.
fn closed_or(e: io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::NotConnected => {
            TransportError::Closed
        }
        _ => TransportError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn short() -> Option<Duration> {
        Some(Duration::from_millis(50))
    }

    #[test]
    fn messages_round_trip_in_order_and_large_ones_too() {
        let (mut a, mut b) = UnixTransport::pair().unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        let sender = std::thread::spawn(move || {
            a.send(b"one").unwrap();
            a.send(b"").unwrap();
            a.send(&big).unwrap();
            a.send(b"two").unwrap();
            big
        });
        let mut buf = Vec::new();
        b.recv(&mut buf, None).unwrap();
        assert_eq!(buf, b"one");
        b.recv(&mut buf, None).unwrap();
        assert_eq!(buf, b"");
        b.recv(&mut buf, None).unwrap();
        let big = sender.join().unwrap();
        assert!(buf == big);
        b.recv(&mut buf, None).unwrap();
        assert_eq!(buf, b"two");
    }

    #[test]
    fn a_timeout_before_a_frame_leaves_the_channel_usable() {
        let (mut a, mut b) = UnixTransport::pair().unwrap();
        let mut buf = Vec::new();
        assert!(matches!(b.recv(&mut buf, short()), Err(TransportError::TimedOut(_))));
        a.send(b"late").unwrap();
        b.recv(&mut buf, short()).unwrap();
        assert_eq!(buf, b"late");
    }

    #[test]
    fn an_oversized_frame_closes_the_channel_on_both_sides() {
        let (a, b) = UnixTransport::pair().unwrap();
        let mut b = b.with_max_message(1024);
        a.stream().write_all(&2048u32.to_le_bytes()).unwrap();
        let mut buf = Vec::new();
        assert!(matches!(b.recv(&mut buf, short()), Err(TransportError::FrameTooLarge { len: 2048, max: 1024 })));
        assert!(matches!(b.recv(&mut buf, short()), Err(TransportError::Poisoned)));
        assert!(matches!(b.send(b"x"), Err(TransportError::Poisoned)));
        let mut a = a;
        assert!(matches!(a.recv(&mut buf, short()), Err(TransportError::Closed)));
    }

    #[test]
    fn sending_over_the_limit_is_refused_before_anything_is_written() {
        let (a, mut b) = UnixTransport::pair().unwrap();
        let mut a = a.with_max_message(8);
        assert!(matches!(a.send(&[0; 9]), Err(TransportError::TooLarge { len: 9, max: 8 })));
        a.send(&[1; 8]).unwrap();
        let mut buf = Vec::new();
        b.recv(&mut buf, short()).unwrap();
        assert_eq!(buf, [1; 8]);
    }

    #[test]
    fn a_peer_that_stops_mid_frame_stalls_then_a_dead_peer_is_closed() {
        let (a, mut b) = UnixTransport::pair().unwrap();
        a.stream().write_all(&[10, 0, 0, 0, 1, 2]).unwrap();
        let mut buf = Vec::new();
        assert!(matches!(b.recv(&mut buf, short()), Err(TransportError::Stalled)));

        let (a, mut b) = UnixTransport::pair().unwrap();
        a.stream().write_all(&[10, 0, 0, 0, 1, 2]).unwrap();
        drop(a);
        assert!(matches!(b.recv(&mut buf, None), Err(TransportError::Closed)));
        // a dead peer is an error on send too (MSG_NOSIGNAL: no SIGPIPE)
        assert!(matches!(b.send(b"anyone?"), Err(TransportError::Closed)));
    }

    #[test]
    fn a_half_prefix_then_silence_stalls() {
        let (a, mut b) = UnixTransport::pair().unwrap();
        a.stream().write_all(&[10, 0]).unwrap();
        let mut buf = Vec::new();
        assert!(matches!(b.recv(&mut buf, short()), Err(TransportError::Stalled)));
    }
}
