//! Who an agent is, for the bot: the Botpress user that stands for a HubSpot agent, named and
//! pictured from the actors API.
//!
//! Three layers, cheapest first: a bounded in-memory cache per process (a warm Lambda and a
//! busy thread cost no store read and no HubSpot call per message), the store (shared by every
//! process, so a cold one still makes no HubSpot call for an agent kept before), and HubSpot's
//! actors API with Botpress's get-or-create by tag. An agent is kept once named from a
//! readable profile or a message; until then (the profile unreadable, or no name anywhere)
//! each event about them looks them up again, as does an agent an older version kept without
//! a name. A delivery naming several agents this process
//! does not know reads their profiles in one batch call first.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use super::{HelpDeskEvent, Relay, RelayError, ThreadChange};
use crate::model::botpress_user_limits::{fitted_user_name, picture_url_fits};
use crate::model::{AgentUser, BotpressContext};
use crate::ports::{AgentProfile, FoundUser};

/// The Botpress user tag that ties an agent's Botpress user to their HubSpot actor.
pub(crate) const ACTOR_TAG: &str = "hubspotActorId";

/// Entries per cache: far more agents than a help desk has, and a few hundred kilobytes at most.
const CACHE_ENTRIES: NonZeroUsize = NonZeroUsize::new(1_024).expect("non-zero");

/// A name and a picture given to a Botpress user (`None`: left as it was).
type NameAndPicture = (Option<String>, Option<String>);

/// The process's memory of agents. Locks are held for a map operation only, never across an
/// `.await`.
pub(crate) struct AgentCache {
    /// (bot id, actor id) → the agent's Botpress user id in that bot.
    users: Mutex<LruCache<(String, String), String>>,
    /// Actor id → the agent's HubSpot profile (`None`: HubSpot does not know the actor).
    profiles: Mutex<LruCache<String, Option<AgentProfile>>>,
    /// Botpress user id → the name and picture this process last sent it with `updateUser`,
    /// so an agent not kept yet (the profile unreadable, or no name) is not sent the same
    /// again on every message, should Botpress keep something else (normalised, or refused).
    names_given: Mutex<LruCache<String, NameAndPicture>>,
}

impl Default for AgentCache {
    fn default() -> Self {
        Self {
            users: Mutex::new(LruCache::new(CACHE_ENTRIES)),
            profiles: Mutex::new(LruCache::new(CACHE_ENTRIES)),
            names_given: Mutex::new(LruCache::new(CACHE_ENTRIES)),
        }
    }
}

impl AgentCache {
    fn user(&self, bot_id: &str, actor_id: &str) -> Option<String> {
        lock(&self.users)
            .get(&(bot_id.to_string(), actor_id.to_string()))
            .cloned()
    }

    fn remember_user(&self, bot_id: &str, actor_id: &str, user_id: &str) {
        lock(&self.users).put(
            (bot_id.to_string(), actor_id.to_string()),
            user_id.to_string(),
        );
    }

    fn profile(&self, actor_id: &str) -> Option<Option<AgentProfile>> {
        lock(&self.profiles).get(actor_id).cloned()
    }

    fn remember_profile(&self, actor_id: &str, profile: Option<AgentProfile>) {
        lock(&self.profiles).put(actor_id.to_string(), profile);
    }

    fn name_given(&self, user_id: &str) -> Option<NameAndPicture> {
        lock(&self.names_given).get(user_id).cloned()
    }

    fn remember_name_given(&self, user_id: &str, given: NameAndPicture) {
        lock(&self.names_given).put(user_id.to_string(), given);
    }

    /// Whether this process knows anything of the agent (in any bot).
    fn knows(&self, actor_id: &str) -> bool {
        lock(&self.profiles).contains(actor_id)
            || lock(&self.users)
                .iter()
                .any(|((_, actor), _)| actor == actor_id)
    }
}

/// A poisoned lock only means another request panicked mid-update of a cache entry; the cache
/// is still a valid map, so it is taken over.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Relay {
    /// The Botpress user that stands for a HubSpot agent in this bot, named after the agent.
    pub(crate) async fn agent_user(
        &self,
        bot: &BotpressContext,
        actor_id: &str,
        known_name: Option<&str>,
    ) -> Result<String, RelayError> {
        if let Some(user_id) = self.agents.user(&bot.bot_id, actor_id) {
            return Ok(user_id);
        }
        // An agent an older version kept without a name is looked up as one not kept, so the
        // name known now is given and kept in its place.
        if let Some(agent) = self.store.agent_user(&bot.bot_id, actor_id).await?
            && agent.name.is_some()
        {
            self.agents
                .remember_user(&bot.bot_id, actor_id, &agent.botpress_user_id);
            return Ok(agent.botpress_user_id);
        }
        let (profile, profile_read) = match self.agents.profile(actor_id) {
            Some(profile) => (profile, true),
            None => match self.hubspot.agent_profile(actor_id).await {
                Ok(profile) => {
                    self.agents.remember_profile(actor_id, profile.clone());
                    (profile, true)
                }
                Err(error) if error.retryable => return Err(error.into()),
                // The profile only names the agent (a scope the install lacks, say): the agent
                // still reaches the customer, under the name the message gave if any.
                Err(error) => {
                    tracing::error!(%error, actor_id, "the agent's HubSpot profile could not be read; the agent goes without it until it can be");
                    (None, false)
                }
            },
        };
        let name = profile
            .as_ref()
            .and_then(|profile| profile.name.as_deref())
            .or(known_name)
            .map(|name| fitted_user_name(name).to_string());
        let avatar = profile
            .and_then(|profile| profile.avatar_url)
            .filter(|url| picture_url_fits(url));
        let tags = BTreeMap::from([(ACTOR_TAG.to_string(), actor_id.to_string())]);
        let user = match self
            .botpress
            .get_or_create_user(bot, tags.clone(), name.as_deref(), avatar.as_deref())
            .await
        {
            Ok(user) => user,
            // A name or picture Botpress will not take must not keep the agent from the
            // customer: the user is found or made by the tag alone, and `name_the_agent`
            // then gives the name and picture with `updateUser` (the name alone, should
            // Botpress refuse both).
            Err(error) if !error.retryable && (name.is_some() || avatar.is_some()) => {
                tracing::warn!(%error, actor_id, "Botpress refused the agent's user with their name or picture; looking it up by the tag alone");
                self.botpress
                    .get_or_create_user(bot, tags, None, None)
                    .await?
            }
            Err(error) => return Err(error.into()),
        };
        let user_id = user.id.clone();
        let named = self
            .name_the_agent(bot, user, name.as_deref(), avatar.as_deref())
            .await;
        if !profile_read || !named || name.is_none() {
            // Not kept: the next event about the agent looks them up again (the profile, if
            // it could not be read; the name, from it or from a message). The agent is kept
            // once the profile is read and a name found and given.
            return Ok(user_id);
        }
        self.store
            .save_agent_user(&AgentUser {
                bot_id: bot.bot_id.clone(),
                actor_id: actor_id.to_string(),
                botpress_user_id: user_id.clone(),
                name,
            })
            .await?;
        self.agents.remember_user(&bot.bot_id, actor_id, &user_id);
        Ok(user_id)
    }

    /// Gives the agent's Botpress user the name and picture the bridge knows, where
    /// `getOrCreateUser` answered it with another name or picture: a user it found may keep
    /// what it had (an agent first seen in an assignment, before any message or readable
    /// profile named them, was created nameless). The same name and picture are not sent to
    /// a user again by this process, whatever Botpress then keeps; where Botpress refuses the
    /// two together, the name is given alone. Says whether the agent
    /// may be kept as they are: a failure that may pass is logged and leaves the agent
    /// unkept, so the next event tries again; a refusal is logged and kept, as trying again
    /// would not change it.
    async fn name_the_agent(
        &self,
        bot: &BotpressContext,
        user: FoundUser,
        name: Option<&str>,
        avatar: Option<&str>,
    ) -> bool {
        let rename = name.filter(|name| user.name.as_deref() != Some(*name));
        let repicture = avatar.filter(|avatar| user.picture_url.as_deref() != Some(*avatar));
        if rename.is_none() && repicture.is_none() {
            return true;
        }
        let given = (rename.map(str::to_string), repicture.map(str::to_string));
        if self.agents.name_given(&user.id).as_ref() == Some(&given) {
            // Given once already: Botpress keeps something else, and would again.
            return true;
        }
        let mut given_now = self
            .botpress
            .update_user(bot, &user.id, rename, repicture)
            .await;
        if let Err(error) = &given_now
            && !error.retryable
            && rename.is_some()
            && repicture.is_some()
        {
            // The picture may be what Botpress refused: the name alone still names the agent.
            tracing::warn!(%error, user_id = user.id, "Botpress refused the agent's name and picture; giving the name alone");
            given_now = self.botpress.update_user(bot, &user.id, rename, None).await;
        }
        match given_now {
            Ok(()) => {
                self.agents.remember_name_given(&user.id, given);
                true
            }
            Err(error) if error.retryable => {
                tracing::warn!(%error, user_id = user.id, "could not name the agent's Botpress user; their next message tries again");
                false
            }
            Err(error) => {
                tracing::error!(%error, user_id = user.id, "Botpress refused the agent's name or picture; the agent goes on without them");
                self.agents.remember_name_given(&user.id, given);
                true
            }
        }
    }

    /// Before a delivery is relayed: when it names two or more agents this process knows
    /// nothing of, their profiles are read in one batch call instead of one call each. A
    /// failure here costs nothing but the saving: each agent is then read on its own.
    pub(crate) async fn prefetch_agent_profiles(&self, events: &[HelpDeskEvent]) {
        let unknown: BTreeSet<String> = events
            .iter()
            .filter_map(|event| match event {
                HelpDeskEvent::AgentReply(reply) => Some(reply.actor_id.clone()),
                HelpDeskEvent::ThreadChanged {
                    change: ThreadChange::Assigned(Some(actor)),
                    ..
                } => Some(normalise_actor_id(actor)),
                HelpDeskEvent::ThreadChanged { .. } => None,
            })
            .filter(|actor| !self.agents.knows(actor))
            .collect();
        if unknown.len() < 2 {
            return;
        }
        let actor_ids: Vec<String> = unknown.into_iter().collect();
        match self.hubspot.agent_profiles(&actor_ids).await {
            Ok(profiles) => {
                for actor_id in &actor_ids {
                    let profile = profiles
                        .iter()
                        .find(|profile| &profile.actor_id == actor_id)
                        .cloned();
                    self.agents.remember_profile(actor_id, profile);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the delivery's agents in one call; reading them one by one");
            }
        }
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
    use super::*;

    #[test]
    fn bare_user_ids_become_agent_actor_ids() {
        assert_eq!(normalise_actor_id("12345"), "A-12345");
        assert_eq!(normalise_actor_id("A-12345"), "A-12345");
    }

    #[test]
    fn the_cache_knows_an_agent_by_profile_or_by_user_and_stays_bounded() {
        let cache = AgentCache::default();
        assert!(!cache.knows("A-1"));
        cache.remember_user("bot", "A-1", "user_1");
        assert!(cache.knows("A-1"));
        assert_eq!(cache.user("bot", "A-1").as_deref(), Some("user_1"));
        assert_eq!(cache.user("other-bot", "A-1"), None);
        cache.remember_profile("A-2", None);
        assert!(cache.knows("A-2"));
        for n in 0..2_000 {
            cache.remember_user("bot", &format!("A-x{n}"), "u");
        }
        assert_eq!(lock(&cache.users).len(), CACHE_ENTRIES.get());
        for n in 0..2_000 {
            cache.remember_name_given(&format!("user_{n}"), (Some("A".to_string()), None));
        }
        assert_eq!(lock(&cache.names_given).len(), CACHE_ENTRIES.get());
    }
}
