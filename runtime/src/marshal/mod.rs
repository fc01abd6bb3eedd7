//! The marshaller: interprets a [`Plan`](crate::plan::Plan) to forward
//! calls. [`guest`] turns a C call into a message and the reply back into
//! results in the application's memory; [`server`] turns a message into a
//! call of the real library, checking everything the guest sent.
//!
//! Both sides walk a call's values in the same order (arguments, then
//! contextual arguments; inside a buffer, elements in order and fields in
//! order, a buffer before what it contains). Out buffers are numbered in
//! that order, which is how a reply's out buffers find their destination.
//!
//! A pointer inside a buffer travels as a *token*: 0 for NULL, otherwise 1
//! plus the data-area offset of a descriptor for the buffer it points to.
//! Handles inside buffers travel as their ids, and callbacks and userdata as
//! the guest's own words.

mod app_memory;
mod callbacks;
pub mod compile;
pub mod eval;
mod fences;
pub mod generated;
pub mod guest;
mod guest_callbacks;
mod in_hand;
mod kept_registries;
mod keyed_blocks;
mod log;
mod native;
pub mod object_steps;
pub mod record;
pub mod server;
mod server_callbacks;
pub mod staging;
mod tenants;
mod walk;
mod zerocopy;

pub use log::log;
pub use native::Dispatch;
