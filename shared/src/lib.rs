//! The core of the Botpress ⇄ HubSpot Help Desk handoff bridge.
//!
//! Layers, each knowing only the ones above it in this list:
//! - [`model`]: ids, the handoff session and its states, customer identifiers. No I/O.
//! - [`ports`]: the narrow traits the relay needs (stores, tokens, the two services).
//! - [`relay`]: the use cases, plain async functions over the ports.
//! - [`adapters`]: HTTP clients for HubSpot and Botpress, the SQLite store, OAuth, signatures.
//! - [`http`]: axum routers that turn requests into relay calls and relay errors into statuses.
//!
//! [`app`] wires them together; every binary (the three Lambda functions and the local CLI)
//! builds its router through it, so all of them run the same code.

pub mod adapters;
pub mod app;
pub mod config;
pub mod http;
mod lenient;
pub mod model;
pub mod ports;
pub mod redact;
pub mod relay;
