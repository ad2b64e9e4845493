//! The `hitl` CLI's building blocks, as a library so the whole-flow tests run exactly the
//! stack `hitl serve --sandbox` runs.

pub mod demo;
pub mod load;
pub mod sandbox_stack;
pub mod web;
