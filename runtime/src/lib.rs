//! Runtime for generated guest libraries and API servers: the wire format
//! ([`wire`]), the transports that carry it ([`transport`]: a Unix socket
//! and WarpDrive-shaped shared-memory rings), per-guest handle tables
//! ([`handles`]), and the guest-side state kept between calls ([`calls`]:
//! deferred async errors, buffer registries, metadata). The book's "Wire format and transports" chapter describes
//! the first two.
//!
//! Unsafe code lives in one module only, `transport::shm::mem` (the shared
//! mapping and the fork guard, with their invariants written at its top);
//! every other module forbids it, and the workspace denies it.

pub mod calls;
pub mod handles;
pub mod marshal;
pub mod plan;
pub mod transport;
pub mod wire;
