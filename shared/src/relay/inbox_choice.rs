//! Which Help Desk inbox a handoff opens in: the one `startHitl`'s `hitlSession.inbox` names
//! (by id, or by name as HubSpot lists it), else the configured default.

use serde_json::Value;

use super::{Relay, RelayError};
use crate::model::{ChannelSetup, InboxAccount};

/// The `hitlSession` key a bot names the inbox with.
pub(crate) const INBOX_KEY: &str = "inbox";
/// How much of an unknown inbox's name the error repeats.
const ECHO_LIMIT: usize = 100;

impl Relay {
    /// The channel account of the inbox the handoff goes to. An inbox the bridge does not
    /// serve is the bot's mistake (400), said without listing what the deployment serves;
    /// a default inbox not connected is the operator's (`register` / `hitl setup` to run).
    pub(crate) fn inbox_account_for(
        &self,
        setup: &ChannelSetup,
        hitl_session: Option<&Value>,
    ) -> Result<InboxAccount, RelayError> {
        match requested_inbox(hitl_session)? {
            Some(wanted) => setup.account_for(&wanted).ok_or_else(|| {
                let shown: String = wanted.chars().take(ECHO_LIMIT).collect();
                RelayError::InvalidInput(format!(
                    "startHitl: the Help Desk inbox `{shown}` (hitlSession.{INBOX_KEY}) is not \
                     one this bridge hands off to; name a connected inbox by the id or name \
                     HubSpot shows, or leave hitlSession.{INBOX_KEY} out for the default inbox"
                ))
            }),
            None => setup
                .account_for(&self.settings.help_desk_inbox_id)
                .ok_or(RelayError::NotRegistered),
        }
    }
}

/// The inbox `hitlSession` names, if any: a non-empty string, or a number (HubSpot's ids are
/// numeric, and a bot may send one unquoted).
fn requested_inbox(hitl_session: Option<&Value>) -> Result<Option<String>, RelayError> {
    let Some(session) = hitl_session.filter(|session| !session.is_null()) else {
        return Ok(None);
    };
    let Some(session) = session.as_object() else {
        return Err(RelayError::InvalidInput(
            "startHitl: hitlSession must be an object".to_string(),
        ));
    };
    match session.get(INBOX_KEY) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(RelayError::InvalidInput(format!(
            "startHitl: hitlSession.{INBOX_KEY} must be a Help Desk inbox id or name (a string)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::requested_inbox;

    #[test]
    fn the_inbox_is_read_from_hitl_session() {
        let read = |value: serde_json::Value| requested_inbox(Some(&value));
        assert_eq!(
            read(json!({ "inbox": " Billing " })).unwrap().as_deref(),
            Some("Billing")
        );
        assert_eq!(
            read(json!({ "inbox": 2001 })).unwrap().as_deref(),
            Some("2001")
        );
        assert_eq!(read(json!({ "inbox": "" })).unwrap(), None);
        assert_eq!(
            read(json!({ "upstreamConversationId": "c" })).unwrap(),
            None
        );
        assert_eq!(requested_inbox(None).unwrap(), None);
        assert!(read(json!({ "inbox": ["a"] })).is_err());
        assert!(read(json!("Billing")).is_err());
    }
}
