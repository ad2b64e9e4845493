//! How a simulated HubSpot account is set up: the app's credentials, the portal, and the inbox the
//! bridge connects its channel accounts to.

use std::time::Duration;

/// Everything a test may want to vary about the simulated account. The defaults are stable,
/// obviously fake values so a test can build the bridge's configuration from them.
#[derive(Clone, Debug)]
pub struct HubSpotSimConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Checked on the channel-level custom-channel operations (`?hapikey=`), as HubSpot does.
    pub developer_api_key: String,
    pub app_id: u64,
    /// The HubSpot account id (`hub_id` in token answers, `portalId` in webhooks).
    pub portal_id: u64,
    /// The refresh token the simulator accepts when it starts.
    pub refresh_token: String,
    /// How long an access token lives; HubSpot's are 30 minutes.
    pub access_token_ttl: Duration,
    /// When true each refresh answers a new refresh token and the old one stops working, so a
    /// bridge that forgets to store the new one fails the way it would in production.
    pub rotate_refresh_tokens: bool,
    /// The id of the HELP_DESK inbox that exists from the start.
    pub help_desk_inbox_id: String,
}

impl Default for HubSpotSimConfig {
    fn default() -> Self {
        Self {
            client_id: "sandbox-client-id".to_string(),
            client_secret: "sandbox-client-secret".to_string(),
            developer_api_key: "sandbox-developer-api-key".to_string(),
            app_id: 1_098_266,
            portal_id: 243_842_089,
            refresh_token: "na1-sandbox-refresh-token".to_string(),
            access_token_ttl: Duration::from_secs(30 * 60),
            rotate_refresh_tokens: false,
            help_desk_inbox_id: "1001".to_string(),
        }
    }
}
