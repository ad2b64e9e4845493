use std::collections::BTreeMap;

use super::{Relay, RelayError};
use crate::model::{AgentUser, BotpressContext};

/// The Botpress user tag that ties an agent's Botpress user to their HubSpot actor.
pub(crate) const ACTOR_TAG: &str = "hubspotActorId";

impl Relay {
    /// The Botpress user that stands for a HubSpot agent in this bot, named after the agent.
    /// Cached in the store: a busy thread costs one lookup, not one per message.
    pub(crate) async fn agent_user(
        &self,
        bot: &BotpressContext,
        actor_id: &str,
        known_name: Option<&str>,
    ) -> Result<String, RelayError> {
        if let Some(agent) = self.store.agent_user(&bot.bot_id, actor_id).await? {
            return Ok(agent.botpress_user_id);
        }
        let profile = self.hubspot.agent_profile(actor_id).await?;
        let name = profile
            .as_ref()
            .and_then(|profile| profile.name.clone())
            .or_else(|| known_name.map(str::to_string));
        let avatar = profile.and_then(|profile| profile.avatar_url);
        let tags = BTreeMap::from([(ACTOR_TAG.to_string(), actor_id.to_string())]);
        let user_id = self
            .botpress
            .get_or_create_user(bot, tags, name.as_deref(), avatar.as_deref())
            .await?;
        self.store
            .save_agent_user(&AgentUser {
                bot_id: bot.bot_id.clone(),
                actor_id: actor_id.to_string(),
                botpress_user_id: user_id.clone(),
                name,
            })
            .await?;
        Ok(user_id)
    }
}

/// HubSpot names agents `A-<userId>` in the actors API but sends a bare user id in some
/// `assignedTo` values; both mean the same agent.
pub(crate) fn normalise_actor_id(value: &str) -> String {
    let value = value.trim();
    if value.chars().all(|c| c.is_ascii_digit()) {
        format!("A-{value}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bare_user_ids_become_agent_actor_ids() {
        assert_eq!(super::normalise_actor_id("12345"), "A-12345");
        assert_eq!(super::normalise_actor_id("A-12345"), "A-12345");
    }
}
