//! The partition keys of the single table: one item kind per prefix.
//!
//! Ids are escaped (`%` → `%25`, `#` → `%23`) before they are joined with `#`, so two different
//! id pairs can never produce the same key.

pub(super) fn session(session_id: &str) -> String {
    format!("SESSION#{}", part(session_id))
}

/// Maps a HubSpot thread to its session.
pub(super) fn thread(thread_id: &str) -> String {
    format!("THREAD#{}", part(thread_id))
}

/// Maps a Botpress conversation to its session.
pub(super) fn conversation(conversation_id: &str) -> String {
    format!("CONVERSATION#{}", part(conversation_id))
}

/// Exists while the customer has an active (opening or open) session; names it.
pub(super) fn active(bot_id: &str, customer_user_id: &str) -> String {
    format!("ACTIVE#{}#{}", part(bot_id), part(customer_user_id))
}

pub(super) const CHANNEL: &str = "CHANNEL";

/// What every customer item's key starts with.
pub(super) const CUSTOMER_PREFIX: &str = "CUSTOMER#";

pub(super) fn customer(bot_id: &str, botpress_user_id: &str) -> String {
    format!(
        "{CUSTOMER_PREFIX}{}#{}",
        part(bot_id),
        part(botpress_user_id)
    )
}

pub(super) fn agent(bot_id: &str, actor_id: &str) -> String {
    format!("AGENT#{}#{}", part(bot_id), part(actor_id))
}

pub(super) fn idempotency(key: &str) -> String {
    format!("IDEMPOTENCY#{}", part(key))
}

/// The threads left for the scheduled run to close (`pending_closes.rs`).
pub(super) const CLOSES_PENDING: &str = "CLOSES_PENDING";

/// The message statuses left for the scheduled run to set (`statuses_owed.rs`).
pub(super) const STATUSES_OWED: &str = "STATUSES_OWED";

/// The one lock the bridge takes: around HubSpot token refreshes.
pub(super) const REFRESH_LOCK: &str = "LOCK#hubspot-token-refresh";

pub(super) fn part(id: &str) -> String {
    if id.contains(['%', '#']) {
        id.replace('%', "%25").replace('#', "%23")
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_containing_the_separator_cannot_collide() {
        assert_ne!(active("a#b", "c"), active("a", "b#c"));
        assert_ne!(customer("a%23b", "c"), customer("a#b", "c"));
        assert_eq!(active("bot", "user"), "ACTIVE#bot#user");
    }

    /// The token-refresher's IAM policy reaches the lock item, and the closes and statuses
    /// left for it, by their keys and nothing else: an item under another key would be refused on AWS, which
    /// no local test would see.
    #[test]
    fn the_token_refreshers_policy_names_its_items() {
        let template = include_str!("../../../../template.yaml");
        for (sid, key) in [
            ("RefreshLock", REFRESH_LOCK),
            ("ClosesPending", CLOSES_PENDING),
            ("StatusesOwed", STATUSES_OWED),
        ] {
            let policy = template
                .split_once(&format!("Sid: {sid}"))
                .unwrap_or_else(|| panic!("template.yaml has the {sid} statement"))
                .1;
            let statement = policy.split("- Sid:").next().unwrap_or(policy);
            assert!(
                statement.contains("dynamodb:LeadingKeys:")
                    && statement.contains(&format!("- \"{key}\"")),
                "{sid} limits dynamodb:LeadingKeys to {key}"
            );
        }
    }
}
