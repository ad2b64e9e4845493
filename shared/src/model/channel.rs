use serde::{Deserialize, Serialize};

/// The HubSpot custom channel the bridge publishes through, and the channel account that
/// connects it to the Help Desk inbox. Found or created once by `register`, then reused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSetup {
    pub channel_id: String,
    pub channel_account_id: String,
    pub inbox_id: String,
    pub webhook_url: String,
}
