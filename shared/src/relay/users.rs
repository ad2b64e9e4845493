use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Relay, RelayError};
use crate::model::{BotpressContext, Customer, DeliveryIdentifier};
use crate::redact::redacted;

/// `createUser`'s input, as the HITL plugin sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserInput {
    /// Optional in the `hitl` interface: an anonymous visitor hands off too, and the agent
    /// then sees their email address or phone number as the sender's name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub picture_url: Option<String>,
    /// An email address or a phone number.
    #[serde(default)]
    pub email: Option<String>,
}

/// Botpress's limits on a user (`getOrCreateUser`: `name` 200 characters, `pictureUrl`
/// 40,000).
const MAX_NAME_CHARS: usize = 200;
const MAX_PICTURE_URL_CHARS: usize = 40_000;

impl CreateUserInput {
    /// What Botpress would refuse, said before anything is created: a refusal after the
    /// HubSpot contact was made would leave it behind and reach the bot as a 502.
    pub fn check(&self) -> Result<(), String> {
        let too_long = |field: &str, value: &str, limit: usize| {
            let length = value.chars().count();
            (length > limit).then(|| {
                format!(
                    "createUser: `{field}` is {length} characters; Botpress takes at most {limit}"
                )
            })
        };
        match self
            .name
            .as_deref()
            .and_then(|name| too_long("name", name, MAX_NAME_CHARS))
            .or_else(|| {
                self.picture_url
                    .as_deref()
                    .and_then(|url| too_long("pictureUrl", url, MAX_PICTURE_URL_CHARS))
            }) {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }
}

/// The Botpress user tag that ties a customer's Botpress user to their HubSpot contact.
pub(crate) const CONTACT_TAG: &str = "hubspotContactId";

impl Relay {
    /// Checks the customer is a HubSpot contact (the help desk addresses them by email or
    /// phone), creating the contact when the deployment allows it, and gets or creates the
    /// Botpress user that stands for them.
    pub async fn create_user(
        &self,
        bot: &BotpressContext,
        input: CreateUserInput,
    ) -> Result<String, RelayError> {
        let raw = input.email.as_deref().unwrap_or_default();
        let name = input
            .name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty());
        let identifier =
            DeliveryIdentifier::parse(raw, self.settings.default_phone_region.as_deref())
                .map_err(|error| RelayError::InvalidInput(format!("createUser: {error}")))?;
        let contact_id = match self.hubspot.find_contact(&identifier).await? {
            Some(contact_id) => contact_id,
            None if self.settings.create_missing_contacts => {
                self.create_missing_contact(&identifier, name.unwrap_or_default())
                    .await?
            }
            None => return Err(missing_contact(&identifier)),
        };
        let tags = BTreeMap::from([(CONTACT_TAG.to_string(), contact_id.clone())]);
        let user_id = self
            .botpress
            .get_or_create_user(bot, tags, name, input.picture_url.as_deref())
            .await?;
        self.store
            .save_customer(&Customer {
                bot_id: bot.bot_id.clone(),
                botpress_user_id: user_id.clone(),
                name: name.unwrap_or(identifier.value()).to_string(),
                identifier: identifier.clone(),
                hubspot_contact_id: contact_id,
            })
            .await?;
        tracing::info!(user_id, customer = %redacted(identifier.value()), "customer ready for handoff");
        Ok(user_id)
    }
}

/// The message a bot developer needs: which contact to create, and where.
fn missing_contact(identifier: &DeliveryIdentifier) -> RelayError {
    let (what, property) = match identifier {
        DeliveryIdentifier::Email(_) => ("email address", "Email"),
        DeliveryIdentifier::Phone(_) => ("phone number", "Phone number"),
    };
    RelayError::InvalidInput(format!(
        "createUser: HubSpot has no contact with the {what} {value}; create a contact with {property} = {value} in HubSpot CRM (Contacts), then hand off again",
        value = identifier.value()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, picture_url: Option<String>) -> CreateUserInput {
        CreateUserInput {
            name: Some(name.to_string()),
            picture_url,
            email: Some("jane@example.com".to_string()),
        }
    }

    #[test]
    fn what_botpress_would_refuse_is_said_first_counting_characters() {
        assert!(
            input(&"é".repeat(200), Some("x".repeat(40_000)))
                .check()
                .is_ok()
        );
        assert_eq!(
            input(&"é".repeat(201), None).check().unwrap_err(),
            "createUser: `name` is 201 characters; Botpress takes at most 200"
        );
        assert!(
            input("Jane", Some("x".repeat(40_001)))
                .check()
                .unwrap_err()
                .contains("`pictureUrl` is 40001 characters")
        );
    }
}
