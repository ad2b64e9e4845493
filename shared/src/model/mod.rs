//! The bridge's vocabulary: who is talking, through which thread, in which state. No I/O here.

mod botpress_context;
mod channel;
mod customer;
mod delivery_identifier;
mod session;

pub use botpress_context::BotpressContext;
pub use channel::ChannelSetup;
pub use customer::{AgentUser, Customer};
pub use delivery_identifier::{DeliveryIdentifier, IdentifierError};
pub use session::{HandoffSession, SessionStatus};
