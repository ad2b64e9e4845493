//! Creating the HubSpot contact of a customer the CRM has not seen (`createUser` with
//! `HUBSPOT_CREATE_MISSING_CONTACTS=true`), once per email address or phone number.
//!
//! HubSpot keeps email addresses unique: a second create answers 409 with the existing id,
//! which is used. Phone numbers are not unique in HubSpot, and its search indexes a new
//! contact only after a few seconds, so a retried or racing `createUser` could create a second
//! contact; the idempotency ledger prevents that: one claim per identifier, completed with the
//! contact id, which a retry reads back while the search has not caught up.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Relay, RelayError};
use crate::model::CrmAddress;
use crate::ports::{Claim, CreatedContact, NewContact};
use crate::redact::redacted;

/// How long the id of a created contact is answered from the ledger: far longer than
/// HubSpot's search takes to index it, short enough that a contact deleted since is
/// created again.
const REMEMBER_CREATED: Duration = Duration::from_secs(60 * 60);

impl Relay {
    /// The id of the contact created for `address` (or found by HubSpot's conflict).
    pub(crate) async fn create_missing_contact(
        &self,
        address: &CrmAddress,
        name: &str,
    ) -> Result<String, RelayError> {
        let key = ledger_key(address);
        match self.store.claim(&key, super::once::claim_lease()).await? {
            Claim::Completed(Some(contact_id)) => return Ok(contact_id),
            Claim::InProgress => return Err(RelayError::InProgress),
            Claim::Completed(None) | Claim::Acquired => {}
        }
        let (firstname, lastname) = split_name(name);
        let draft = NewContact {
            address: address.clone(),
            firstname,
            lastname,
        };
        let contact_id = match self.hubspot.create_contact(&draft).await {
            Ok(CreatedContact::Created(contact_id)) => {
                tracing::info!(contact_id, customer = %redacted(address.value()), "created the HubSpot contact");
                contact_id
            }
            Ok(CreatedContact::AlreadyExisted(contact_id)) => {
                tracing::info!(contact_id, customer = %redacted(address.value()), "the HubSpot contact existed already");
                contact_id
            }
            // Refused before any work (a 429) or for good: a retry may create it.
            Err(error) if error.status == Some(429) || !error.retryable => {
                if let Err(release_error) = self.store.release(&key).await {
                    tracing::warn!(%release_error, "could not release the contact creation claim; its lease will expire");
                }
                return Err(error.into());
            }
            // A 5xx or a lost answer may follow the contact being created, which HubSpot's
            // search shows only seconds later: the claim is kept until its lease ends, so a
            // retry meanwhile waits ("in progress") and one after it finds the contact
            // rather than creating a second.
            Err(error) => {
                tracing::warn!(%error, "creating the HubSpot contact may have happened; retries wait for the claim's lease");
                return Err(error.into());
            }
        };
        self.store
            .complete(&key, Some(&contact_id), REMEMBER_CREATED)
            .await?;
        Ok(contact_id)
    }
}

/// The ledger key of an address: hashed, so the store holds no address or number in a key.
fn ledger_key(address: &CrmAddress) -> String {
    let digest = Sha256::new()
        .chain_update(address.hubspot_type())
        .chain_update([0])
        .chain_update(address.value())
        .finalize();
    format!("hubspot-contact:{}", hex::encode(digest))
}

/// `firstname` and `lastname` from a display name: the first word, and the rest.
fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let name = name.trim();
    if name.is_empty() {
        return (None, None);
    }
    match name.split_once(char::is_whitespace) {
        Some((first, rest)) => (Some(first.to_string()), Some(rest.trim().to_string())),
        None => (Some(name.to_string()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_first_and_last() {
        assert_eq!(
            split_name(" Cleo  van Ray "),
            (Some("Cleo".into()), Some("van Ray".into()))
        );
        assert_eq!(split_name("Sam"), (Some("Sam".into()), None));
        assert_eq!(split_name("  "), (None, None));
    }

    #[test]
    fn ledger_keys_hide_the_identifier_and_tell_kinds_apart() {
        let email = ledger_key(&CrmAddress::Email("cleo@example.com".into()));
        assert!(!email.contains("cleo"), "{email}");
        assert_ne!(
            ledger_key(&CrmAddress::Phone("+14155552671".into())),
            ledger_key(&CrmAddress::Email("+14155552671".into()))
        );
    }
}
