//! Simulated HubSpot and Botpress.
//!
//! Neither service is reachable from where this project is built and tested, so these simulators
//! stand in for them: in the whole-flow tests, in `hitl serve --sandbox`, and for a person who wants
//! to watch a handoff before touching a real account. They answer as the official OpenAPI documents
//! (`../shared/specs`) say, and they share no code with the bridge on purpose: they play the other
//! side of every call, so a bug in the bridge cannot hide behind the same bug in its simulator.

pub mod botpress;
pub mod contract;
pub mod faults;
pub mod handoff;
pub mod hubspot;
pub mod lambda;
pub mod moto;
pub mod ports;
pub mod recorder;

pub use recorder::{RecordedCall, Recorder};
