//! The narrow traits the relay needs. Each has one concern; adapters implement them for SQLite
//! (local), DynamoDB and Secrets Manager (AWS), and the two services over HTTP.

mod botpress;
mod clock;
mod files;
mod hubspot;
mod idempotency;
mod store;
mod tokens;
mod upstream_error;

pub use botpress::{BotpressGateway, BotpressMessage, BotpressUser, FoundUser};
pub use clock::{Clock, SystemClock};
pub use files::{FetchError, FetchedFile, FileSource};
pub use hubspot::{
    AgentProfile, ChannelSpec, ContactAddress, CreatedContact, DeliveryStatus, ExistingChannel,
    FileAttachment, FoundChannelAccount, HistoryBound, HubSpotGateway, InboxSummary,
    IncomingMessage, NewContact, PublishedMessage, ThreadStatus,
};
pub use idempotency::{Claim, FinishingWrite, IdempotencyLedger};
pub use store::{
    AgentStore, BridgeStore, ChannelStore, CustomerStore, ExpiringStore, OwedStatus,
    OwedStatusStore, PendingClose, PendingCloseStore, SessionStore, StoreError,
};
pub use tokens::{AccessTokens, RefreshLock, RefreshedGrant, StoredTokens, TokenError, TokenVault};
pub use upstream_error::{Service, UpstreamError};
