use serde::{Deserialize, Serialize};

/// Which bot, and which installation of our integration in it, a session belongs to.
///
/// Botpress sends these as headers on every call to the integration; calls back into Botpress
/// must carry the same ones, so they are kept with each session. One deployment can serve
/// several bots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotpressContext {
    pub bot_id: String,
    pub integration_id: String,
    pub integration_alias: String,
}
