use serde::{Deserialize, Serialize};

/// The HubSpot custom channel the bridge publishes through and its channel accounts, one per
/// Help Desk inbox the deployment serves. Found or created by `register` / `hitl setup`, then
/// reused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSetup {
    pub channel_id: String,
    /// The account on the inbox `register` connected last (the configured default then).
    /// Kept beside `accounts` so a store written before several inboxes existed still reads,
    /// and a bridge that knows only one account reads what a newer one wrote.
    pub channel_account_id: String,
    pub inbox_id: String,
    pub webhook_url: String,
    /// Every inbox the channel is connected to. Empty in data written by a bridge that served
    /// one inbox: [`ChannelSetup::inbox_accounts`] then answers that one.
    #[serde(default)]
    pub accounts: Vec<InboxAccount>,
}

/// One Help Desk inbox the bridge serves and the channel account that connects our channel
/// to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxAccount {
    pub inbox_id: String,
    /// The inbox's name as HubSpot listed it when the account was connected, so a bot may name
    /// the inbox by name. `None` when it was not known.
    pub inbox_name: Option<String>,
    pub channel_account_id: String,
}

impl ChannelSetup {
    /// Every inbox the channel serves, the primary one included even in data that predates
    /// the list.
    pub fn inbox_accounts(&self) -> Vec<InboxAccount> {
        let mut accounts = self.accounts.clone();
        if !accounts
            .iter()
            .any(|account| account.inbox_id == self.inbox_id)
        {
            accounts.insert(
                0,
                InboxAccount {
                    inbox_id: self.inbox_id.clone(),
                    inbox_name: None,
                    channel_account_id: self.channel_account_id.clone(),
                },
            );
        }
        accounts
    }

    /// The account of the inbox `wanted` names: its id, else its name as HubSpot lists it
    /// (case and surrounding spaces aside). A name two inboxes share names neither.
    pub fn account_for(&self, wanted: &str) -> Option<InboxAccount> {
        let wanted = wanted.trim();
        let accounts = self.inbox_accounts();
        if let Some(by_id) = accounts.iter().find(|account| account.inbox_id == wanted) {
            return Some(by_id.clone());
        }
        let mut by_name = accounts.into_iter().filter(|account| {
            account
                .inbox_name
                .as_deref()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case(wanted))
        });
        match (by_name.next(), by_name.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(inbox_id: &str, name: Option<&str>, account: &str) -> InboxAccount {
        InboxAccount {
            inbox_id: inbox_id.into(),
            inbox_name: name.map(str::to_string),
            channel_account_id: account.into(),
        }
    }

    fn setup(accounts: Vec<InboxAccount>) -> ChannelSetup {
        ChannelSetup {
            channel_id: "c".into(),
            channel_account_id: "a1".into(),
            inbox_id: "1001".into(),
            webhook_url: "https://bridge.example/hubspot/webhook".into(),
            accounts,
        }
    }

    #[test]
    fn single_account_data_still_answers_its_inbox() {
        let legacy = setup(Vec::new());
        assert_eq!(
            legacy.inbox_accounts(),
            vec![account("1001", None, "a1")],
            "the one account written before the list existed"
        );
        assert_eq!(legacy.account_for("1001").unwrap().channel_account_id, "a1");
        assert!(legacy.account_for("1002").is_none());
    }

    #[test]
    fn inboxes_are_found_by_id_then_by_name() {
        let both = setup(vec![
            account("1001", Some("Help Desk"), "a1"),
            account("2001", Some("Billing"), "a2"),
            account("3001", Some("2001"), "a3"),
        ]);
        assert_eq!(both.account_for("2001").unwrap().channel_account_id, "a2");
        assert_eq!(
            both.account_for(" billing ").unwrap().channel_account_id,
            "a2"
        );
        assert!(both.account_for("Sales").is_none());
        assert_eq!(both.inbox_accounts().len(), 3);
    }

    #[test]
    fn a_name_two_inboxes_share_names_neither() {
        let twins = setup(vec![
            account("1001", Some("Support"), "a1"),
            account("2001", Some("support"), "a2"),
        ]);
        assert!(twins.account_for("Support").is_none());
        assert_eq!(twins.account_for("2001").unwrap().channel_account_id, "a2");
    }
}
