use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Relay, RelayError};
use crate::model::botpress_user_limits::{fitted_user_name, picture_url_fits};
use crate::model::{
    BotpressContext, CUSTOMER_RETENTION, CrmAddress, Customer, DeliveryIdentifier, MadeUpAddress,
};
use crate::redact::redacted;

/// `createUser`'s input, as the HITL plugin sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserInput {
    /// Optional in the `hitl` interface: a customer without one hands off too, and the agent
    /// then sees their email address or phone number as the sender's name ("Visitor" for a
    /// visitor who gave neither).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub picture_url: Option<String>,
    /// An email address or a phone number.
    #[serde(default)]
    pub email: Option<String>,
}

impl CreateUserInput {
    /// The input cut to what Botpress takes, so no customer is kept from an agent by their
    /// profile: a name past the limit is shortened (the help desk still shows who it is), and
    /// a picture past it (a `data:` URL of a large avatar, say) is left out. Done before
    /// anything is created, so Botpress never refuses the user after the HubSpot contact exists.
    pub fn within_botpress_limits(mut self) -> Self {
        if let Some(name) = &mut self.name {
            let fitted = fitted_user_name(name).len();
            if fitted < name.len() {
                name.truncate(fitted);
                tracing::info!("createUser: the name is longer than Botpress takes; shortened");
            }
        }
        if self
            .picture_url
            .as_deref()
            .is_some_and(|url| !picture_url_fits(url))
        {
            self.picture_url = None;
            tracing::info!("createUser: the picture URL is longer than Botpress takes; left out");
        }
        self
    }
}

/// The Botpress user tag that ties a customer's Botpress user to their HubSpot contact.
pub(crate) const CONTACT_TAG: &str = "hubspotContactId";

/// The Botpress user tag that names a visitor (an end user who gave no email or phone) as the
/// help desk knows them, so their record can be rebuilt as the contact tag rebuilds others.
pub(crate) const VISITOR_TAG: &str = "hubspotVisitorId";

/// What the help desk shows as the sender: the name given, else the address; for a visitor
/// without a name, "Visitor" (their id means nothing to an agent).
fn display_name(name: Option<&str>, identifier: &DeliveryIdentifier) -> String {
    match (name, identifier) {
        (Some(name), _) => name.to_string(),
        (None, DeliveryIdentifier::Visitor(_)) => "Visitor".to_string(),
        (None, address) => address.value().to_string(),
    }
}

impl Relay {
    /// Checks the customer is a HubSpot contact (the help desk addresses them by email or
    /// phone), creating the contact when the deployment allows it, and creates the Botpress
    /// user that stands for them. An end user who gave neither (the HITL plugin then makes
    /// up an address) is a visitor instead: [`Relay::visitor_or_earlier_contact`].
    ///
    /// A new user on every call, not one per contact: the HITL plugin calls `createUser` once
    /// per end user and links the two, and a handoff is one per user. Two end users who gave
    /// the same address (a shared `info@` mailbox, a household's phone) would otherwise share
    /// one user and so one handoff: the second's `startHitl` would be handed the first's
    /// conversation, and the agent's replies to the first would reach the second. Each gets
    /// a thread of its own in the help desk (on the same contact). A retried call whose answer
    /// was lost leaves an unused user behind, which nothing reaches.
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
        let address = CrmAddress::parse(raw, self.settings.default_phone_region.as_deref())
            .map_err(|error| RelayError::InvalidInput(format!("createUser: {error}")))?;
        let (identifier, contact_id) = if let Some(form) = address.made_up_by_the_plugin() {
            self.visitor_or_earlier_contact(address, form).await?
        } else {
            let contact_id = match self.hubspot.find_contact(&address).await? {
                Some(contact_id) => contact_id,
                None if self.settings.create_missing_contacts => {
                    self.create_missing_contact(&address, name.unwrap_or_default())
                        .await?
                }
                None => return Err(missing_contact(&address)),
            };
            (address.into(), Some(contact_id))
        };
        let tags = BTreeMap::from([match &contact_id {
            Some(contact_id) => (CONTACT_TAG.to_string(), contact_id.clone()),
            None => (VISITOR_TAG.to_string(), identifier.value().to_string()),
        }]);
        let user_id = self
            .botpress
            .create_user(bot, tags, name, input.picture_url.as_deref())
            .await?;
        self.store
            .save_customer(&Customer {
                bot_id: bot.bot_id.clone(),
                botpress_user_id: user_id.clone(),
                name: display_name(name, &identifier),
                identifier: identifier.clone(),
                hubspot_contact_id: contact_id,
            })
            .await?;
        tracing::info!(user_id, customer = %redacted(identifier.value()), "customer ready for handoff");
        Ok(user_id)
    }
}

impl Relay {
    /// Who an end user with an address the HITL plugin made up (they gave no email or phone)
    /// is to the help desk: the contact an earlier version may have made at the older
    /// `no-reply.<bot>.botpress.com` form (a domain HubSpot takes), else the visitor the
    /// address stands for. Never a contact made now, whatever `HUBSPOT_CREATE_MISSING_CONTACTS`
    /// says: it would fill the CRM with addresses nobody reads. The current reserved form
    /// costs no HubSpot call: no contact has an address at a reserved domain.
    async fn visitor_or_earlier_contact(
        &self,
        placeholder: CrmAddress,
        form: MadeUpAddress,
    ) -> Result<(DeliveryIdentifier, Option<String>), RelayError> {
        if form == MadeUpAddress::NoReply
            && let Some(contact_id) = self.hubspot.find_contact(&placeholder).await?
        {
            return Ok((placeholder.into(), Some(contact_id)));
        }
        Ok((placeholder.visitor(), None))
    }

    /// The customer `startHitl` names, whose record is then kept [`CUSTOMER_RETENTION`] from
    /// now. A record that has expired while the HITL plugin still links its end user to the
    /// Botpress user (a customer back after a month) is rebuilt from that user's tags
    /// ([`Relay::rebuilt_customer`]), so they reach an agent without a new `createUser`.
    pub(crate) async fn customer_for_handoff(
        &self,
        bot: &BotpressContext,
        user_id: &str,
    ) -> Result<Customer, RelayError> {
        if user_id.trim().is_empty() {
            return Err(RelayError::InvalidInput(
                "startHitl: userId is empty; pass the id createUser answered".to_string(),
            ));
        }
        let customer = match self.store.customer(&bot.bot_id, user_id).await? {
            Some(customer) => customer,
            None => self.rebuilt_customer(bot, user_id).await?.ok_or_else(|| {
                RelayError::InvalidInput(format!(
                    "startHitl: unknown userId `{user_id}`; create it with the createUser action first"
                ))
            })?,
        };
        // Keeps it 30 days from now, and stores a rebuilt one: one write either way.
        self.store.save_customer(&customer).await?;
        Ok(customer)
    }

    /// The customer behind a Botpress user: their record, or one rebuilt (and saved) from the
    /// user once the record has expired; `None` when Botpress has no such user or it is not
    /// one this integration made.
    pub(crate) async fn known_customer(
        &self,
        bot: &BotpressContext,
        user_id: &str,
    ) -> Result<Option<Customer>, RelayError> {
        if let Some(customer) = self.store.customer(&bot.bot_id, user_id).await? {
            return Ok(Some(customer));
        }
        let Some(customer) = self.rebuilt_customer(bot, user_id).await? else {
            return Ok(None);
        };
        self.store.save_customer(&customer).await?;
        Ok(Some(customer))
    }

    /// The customer behind a Botpress user this integration made, from the user's contact tag
    /// and the contact's address (email first, then phone, then mobile phone: one address may
    /// differ from the one `createUser` was given, but it reaches the same contact), or for a
    /// visitor from their visitor tag alone. `None` when Botpress has no such user or it
    /// carries neither tag; a contact that is gone or cannot be addressed is refused, naming it.
    async fn rebuilt_customer(
        &self,
        bot: &BotpressContext,
        user_id: &str,
    ) -> Result<Option<Customer>, RelayError> {
        let Some(user) = self.botpress.user(bot, user_id).await? else {
            return Ok(None);
        };
        let given_name = user
            .name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty());
        let Some(contact_id) = user.tags.get(CONTACT_TAG).filter(|id| !id.is_empty()) else {
            let Some(visitor) = user.tags.get(VISITOR_TAG).filter(|id| !id.is_empty()) else {
                return Ok(None);
            };
            let identifier = DeliveryIdentifier::Visitor(visitor.clone());
            tracing::info!(
                user_id,
                retention_days = CUSTOMER_RETENTION.num_days(),
                "visitor record rebuilt from the Botpress user"
            );
            return Ok(Some(Customer {
                bot_id: bot.bot_id.clone(),
                botpress_user_id: user_id.to_string(),
                name: display_name(given_name, &identifier),
                identifier,
                hubspot_contact_id: None,
            }));
        };
        let gone = |why: &str| {
            RelayError::InvalidInput(format!(
                "the HubSpot contact {contact_id} of userId `{user_id}` {why}; call createUser again with the customer's email or phone"
            ))
        };
        let address = self
            .hubspot
            .contact_address(contact_id)
            .await?
            .ok_or_else(|| gone("no longer exists (deleted or merged)"))?;
        let region = self.settings.default_phone_region.as_deref();
        let identifier = [address.email, address.phone, address.mobile_phone]
            .into_iter()
            .flatten()
            .find_map(|raw| CrmAddress::parse(&raw, region).ok())
            .map(DeliveryIdentifier::from)
            .ok_or_else(|| gone("has no email address or phone number the help desk can use"))?;
        let name = display_name(given_name, &identifier);
        tracing::info!(
            user_id,
            retention_days = CUSTOMER_RETENTION.num_days(),
            "customer record rebuilt from the Botpress user and the HubSpot contact"
        );
        Ok(Some(Customer {
            bot_id: bot.bot_id.clone(),
            botpress_user_id: user_id.to_string(),
            name,
            identifier,
            hubspot_contact_id: Some(contact_id.clone()),
        }))
    }
}

/// The message a bot developer needs: which contact to create, and where.
fn missing_contact(address: &CrmAddress) -> RelayError {
    let (what, property) = match address {
        CrmAddress::Email(_) => ("email address", "Email"),
        CrmAddress::Phone(_) => ("phone number", "Phone number"),
    };
    RelayError::InvalidInput(format!(
        "createUser: HubSpot has no contact with the {what} {value}; create a contact with {property} = {value} in HubSpot CRM (Contacts), then hand off again",
        value = address.value()
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
    fn a_profile_past_botpress_limits_is_cut_to_them_not_refused() {
        let within = input(&"é".repeat(200), Some("x".repeat(40_000))).within_botpress_limits();
        assert_eq!(within.name.as_deref(), Some("é".repeat(200).as_str()));
        assert_eq!(within.picture_url.map(|url| url.len()), Some(40_000));

        let long = input(&"é".repeat(201), Some("x".repeat(40_001))).within_botpress_limits();
        assert_eq!(long.name.as_deref(), Some("é".repeat(200).as_str()));
        assert_eq!(long.picture_url, None, "left out");

        // 🙂 is two UTF-16 units, as Botpress counts: 100 of them fill the 200.
        let emoji = input(&"🙂".repeat(101), None).within_botpress_limits();
        assert_eq!(emoji.name.as_deref(), Some("🙂".repeat(100).as_str()));
    }
}
