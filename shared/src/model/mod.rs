//! The bridge's vocabulary: who is talking, through which thread, in which state. No I/O here.

mod agent_message;
mod botpress_context;
pub mod botpress_user_limits;
mod channel;
pub mod channel_limits;
mod customer;
mod delivery_identifier;
mod session;

pub use agent_message::{AgentMessage, Attachment, FileKind};
pub use botpress_context::BotpressContext;
pub use channel::{ChannelSetup, InboxAccount};
pub use customer::{AgentUser, CUSTOMER_RETENTION, Customer};
pub use delivery_identifier::{CrmAddress, DeliveryIdentifier, IdentifierError, MadeUpAddress};
pub use session::{AssignmentMark, HandoffSession, SessionCustomer, SessionStatus};
