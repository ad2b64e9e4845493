use super::{Relay, RelayError};
use crate::model::channel_limits::{capabilities_match, channel_capabilities};
use crate::model::{ChannelSetup, InboxAccount};
use crate::ports::{ChannelSpec, InboxSummary};

/// What connecting the channel did: the setup now stored, and what had to be created.
#[derive(Clone, Debug)]
pub struct Connection {
    pub setup: ChannelSetup,
    pub channel_created: bool,
    /// The inbox ids whose channel account was created now (the others were found).
    pub accounts_created: Vec<String>,
}

impl Relay {
    /// Botpress's `register`: connects the channel to the configured default inbox, keeping
    /// the other inboxes `hitl setup` connected.
    pub async fn register(&self) -> Result<ChannelSetup, RelayError> {
        Ok(self.connect_inboxes(&[]).await?.setup)
    }

    /// Connects the bridge to HubSpot, idempotently: reuses a custom channel whose
    /// `webhookUrl` is ours (else creates it) and, on the default inbox and on each inbox of
    /// `wanted` (ids or names as HubSpot lists them), a channel account (else connects one),
    /// and remembers them all. Running it again creates nothing new; naming one more inbox
    /// adds one account.
    pub async fn connect_inboxes(&self, wanted: &[String]) -> Result<Connection, RelayError> {
        // Read first, before HubSpot is called (a token refresh takes a lock in the store) and
        // before anything is created there: a table that cannot be read (a wrong name, no
        // read permission) stops the connection with the store's own error and nothing made.
        let stored = self.store.channel_setup().await?;
        let listed = self.hubspot.list_inboxes().await?;
        let targets = self.inboxes_to_connect(&listed, wanted)?;
        let (channel_id, channel_created) = self.find_or_create_channel().await?;
        // Accounts of a channel we no longer use (a teardown, then a new channel) are dropped.
        let mut accounts = stored
            .filter(|stored| stored.channel_id == channel_id)
            .map(|stored| stored.inbox_accounts())
            .unwrap_or_default();
        let mut accounts_created = Vec::new();
        for inbox in &targets {
            let account = match self
                .hubspot
                .find_channel_account(&channel_id, &inbox.id)
                .await?
            {
                Some(found) if found.authorized => found.id,
                Some(disabled) => {
                    // Disabled by an admin or by a teardown that stopped short of deleting
                    // the channel: connecting is what the operator (or Botpress saving the
                    // configuration) asks for now, and a disabled account takes no messages.
                    self.hubspot
                        .authorize_channel_account(&channel_id, &disabled.id)
                        .await?;
                    tracing::info!(
                        account_id = disabled.id,
                        inbox_id = inbox.id,
                        "enabled the channel's disabled account on a Help Desk inbox again"
                    );
                    disabled.id
                }
                None => {
                    let name = format!("{} handoff", self.settings.channel_name);
                    let account_id = self
                        .hubspot
                        .create_channel_account(&channel_id, &inbox.id, &name)
                        .await?;
                    tracing::info!(
                        account_id,
                        inbox_id = inbox.id,
                        "connected the channel to a Help Desk inbox"
                    );
                    accounts_created.push(inbox.id.clone());
                    account_id
                }
            };
            remember(&mut accounts, inbox, account);
        }
        let default = &self.settings.help_desk_inbox_id;
        let primary = accounts
            .iter()
            .find(|account| &account.inbox_id == default)
            .map(|account| account.channel_account_id.clone())
            .expect("the default inbox is always among the targets");
        let setup = ChannelSetup {
            channel_id,
            channel_account_id: primary,
            inbox_id: default.clone(),
            webhook_url: self.settings.webhook_url.clone(),
            accounts,
        };
        self.store.save_channel_setup(&setup).await?;
        Ok(Connection {
            setup,
            channel_created,
            accounts_created,
        })
    }

    pub(crate) async fn channel_setup(&self) -> Result<ChannelSetup, RelayError> {
        self.store
            .channel_setup()
            .await?
            .ok_or(RelayError::NotRegistered)
    }

    /// The configured default inbox first, then each inbox `wanted` names, resolved against
    /// HubSpot's listing; duplicates once. An unknown name or a non-Help-Desk inbox is refused
    /// with the Help Desk inboxes the account has.
    fn inboxes_to_connect(
        &self,
        listed: &[InboxSummary],
        wanted: &[String],
    ) -> Result<Vec<InboxSummary>, RelayError> {
        let default = &self.settings.help_desk_inbox_id;
        // The default is connected as configured even if the listing misses it, as before
        // inboxes were listed: HubSpot itself refuses an inbox that does not exist.
        let mut targets = vec![
            listed
                .iter()
                .find(|inbox| &inbox.id == default)
                .cloned()
                .unwrap_or_else(|| InboxSummary {
                    id: default.clone(),
                    name: String::new(),
                    help_desk: true,
                }),
        ];
        for name in wanted {
            let inbox = resolve_inbox(listed, name)?;
            if !targets.iter().any(|target| target.id == inbox.id) {
                targets.push(inbox);
            }
        }
        Ok(targets)
    }

    /// Our custom channel, found by its `webhookUrl` or created; whether it was created now.
    /// A found channel declaring other capabilities than ours (created by an older bridge,
    /// before the attachment limits were declared) is updated to ours, so HubSpot and the
    /// relay agree on what a customer may send.
    async fn find_or_create_channel(&self) -> Result<(String, bool), RelayError> {
        let webhook_url = &self.settings.webhook_url;
        if let Some(found) = self.hubspot.find_channel(webhook_url).await? {
            tracing::info!(
                channel_id = found.id,
                "reusing the custom channel with our webhook URL"
            );
            let wanted = channel_capabilities();
            if !capabilities_match(&found.capabilities, &wanted) {
                self.hubspot
                    .update_channel_capabilities(&found.id, &wanted)
                    .await?;
                tracing::info!(
                    channel_id = found.id,
                    "updated the custom channel's capabilities to this version's"
                );
            }
            return Ok((found.id, false));
        }
        let spec = ChannelSpec {
            name: self.settings.channel_name.clone(),
            description: "Live-agent handoff from Botpress bots".to_string(),
            webhook_url: webhook_url.clone(),
        };
        let channel_id = self.hubspot.create_channel(&spec).await?;
        tracing::info!(channel_id, "created the custom channel");
        Ok((channel_id, true))
    }
}

/// Records `inbox`'s account, replacing what was known of that inbox.
fn remember(accounts: &mut Vec<InboxAccount>, inbox: &InboxSummary, channel_account_id: String) {
    let known_name = accounts
        .iter()
        .find(|account| account.inbox_id == inbox.id)
        .and_then(|account| account.inbox_name.clone());
    let entry = InboxAccount {
        inbox_id: inbox.id.clone(),
        inbox_name: Some(inbox.name.clone())
            .filter(|name| !name.is_empty())
            .or(known_name),
        channel_account_id,
    };
    match accounts
        .iter_mut()
        .find(|account| account.inbox_id == inbox.id)
    {
        Some(existing) => *existing = entry,
        None => accounts.push(entry),
    }
}

/// The Help Desk inbox `wanted` names: its id, else its name (case aside), unique.
fn resolve_inbox(listed: &[InboxSummary], wanted: &str) -> Result<InboxSummary, RelayError> {
    let wanted = wanted.trim();
    let by_id = listed.iter().find(|inbox| inbox.id == wanted);
    let by_name: Vec<&InboxSummary> = listed
        .iter()
        .filter(|inbox| inbox.name.trim().eq_ignore_ascii_case(wanted))
        .collect();
    let found = match (by_id, by_name.as_slice()) {
        (Some(inbox), _) => inbox,
        (None, [inbox]) => *inbox,
        (None, []) => {
            return Err(unknown_inbox(
                listed,
                wanted,
                "no inbox has that id or name",
            ));
        }
        (None, _) => {
            return Err(unknown_inbox(
                listed,
                wanted,
                "several inboxes have that name; give the id",
            ));
        }
    };
    if !found.help_desk {
        return Err(unknown_inbox(
            listed,
            wanted,
            "it is not a Help Desk inbox (the channel connects to Help Desk inboxes)",
        ));
    }
    Ok(found.clone())
}

/// The operator's error: what is wrong, and the Help Desk inboxes there are to choose from.
fn unknown_inbox(listed: &[InboxSummary], wanted: &str, why: &str) -> RelayError {
    let help_desks: Vec<String> = listed
        .iter()
        .filter(|inbox| inbox.help_desk)
        .map(|inbox| format!("{} ({})", inbox.id, inbox.name))
        .collect();
    let choices = if help_desks.is_empty() {
        "the account has no Help Desk inbox".to_string()
    } else {
        format!("Help Desk inboxes: {}", help_desks.join(", "))
    };
    RelayError::InvalidInput(format!("inbox `{wanted}`: {why}; {choices}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox(id: &str, name: &str, help_desk: bool) -> InboxSummary {
        InboxSummary {
            id: id.into(),
            name: name.into(),
            help_desk,
        }
    }

    #[test]
    fn inboxes_resolve_by_id_or_unique_name_and_must_be_help_desks() {
        let listed = [
            inbox("1001", "Help Desk", true),
            inbox("1002", "Chat inbox", false),
            inbox("2001", "Billing", true),
            inbox("3001", "Twins", true),
            inbox("3002", "twins", true),
        ];
        assert_eq!(resolve_inbox(&listed, "2001").unwrap().id, "2001");
        assert_eq!(resolve_inbox(&listed, " billing ").unwrap().id, "2001");
        let unknown = resolve_inbox(&listed, "Sales").unwrap_err().to_string();
        assert!(unknown.contains("`Sales`"), "{unknown}");
        assert!(unknown.contains("2001 (Billing)"), "{unknown}");
        assert!(!unknown.contains("Chat inbox"), "{unknown}");
        let chat = resolve_inbox(&listed, "1002").unwrap_err().to_string();
        assert!(chat.contains("not a Help Desk inbox"), "{chat}");
        let twins = resolve_inbox(&listed, "TWINS").unwrap_err().to_string();
        assert!(twins.contains("give the id"), "{twins}");
    }

    #[test]
    fn remembering_an_inbox_again_replaces_its_account_and_keeps_its_name() {
        let mut accounts = Vec::new();
        remember(&mut accounts, &inbox("2001", "Billing", true), "a2".into());
        remember(&mut accounts, &inbox("2001", "", true), "a3".into());
        assert_eq!(
            accounts,
            vec![InboxAccount {
                inbox_id: "2001".into(),
                inbox_name: Some("Billing".into()),
                channel_account_id: "a3".into(),
            }]
        );
    }
}
