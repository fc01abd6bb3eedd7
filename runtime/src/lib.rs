//! Runtime for generated guest libraries and API servers: the wire format
//! and the transports that carry it.
//!
//! Unsafe code lives in one module only, `transport::shm::mem` (the shared
//! mapping, its atomics and the futex doorbell); every other module forbids
//! it.

pub mod transport;
pub mod wire;
