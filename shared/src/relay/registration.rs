use super::{Relay, RelayError};
use crate::model::ChannelSetup;
use crate::ports::ChannelSpec;

impl Relay {
    /// Connects the bridge to HubSpot, idempotently: reuses a custom channel whose
    /// `webhookUrl` is ours (else creates it) and a channel account on the Help Desk inbox
    /// (else connects one), and remembers both. Running it again creates nothing new.
    pub async fn register(&self) -> Result<ChannelSetup, RelayError> {
        let webhook_url = &self.settings.webhook_url;
        let inbox_id = &self.settings.help_desk_inbox_id;
        let channel_id = match self.hubspot.find_channel(webhook_url).await? {
            Some(channel_id) => {
                tracing::info!(
                    channel_id,
                    "reusing the custom channel with our webhook URL"
                );
                channel_id
            }
            None => {
                let spec = ChannelSpec {
                    name: self.settings.channel_name.clone(),
                    description: "Live-agent handoff from Botpress bots".to_string(),
                    webhook_url: webhook_url.clone(),
                };
                let channel_id = self.hubspot.create_channel(&spec).await?;
                tracing::info!(channel_id, "created the custom channel");
                channel_id
            }
        };
        let channel_account_id = match self
            .hubspot
            .find_channel_account(&channel_id, inbox_id)
            .await?
        {
            Some(account_id) => account_id,
            None => {
                let name = format!("{} handoff", self.settings.channel_name);
                let account_id = self
                    .hubspot
                    .create_channel_account(&channel_id, inbox_id, &name)
                    .await?;
                tracing::info!(
                    account_id,
                    inbox_id,
                    "connected the channel to the Help Desk inbox"
                );
                account_id
            }
        };
        let setup = ChannelSetup {
            channel_id,
            channel_account_id,
            inbox_id: inbox_id.clone(),
            webhook_url: webhook_url.clone(),
        };
        self.store.save_channel_setup(&setup).await?;
        Ok(setup)
    }

    pub(crate) async fn channel_setup(&self) -> Result<ChannelSetup, RelayError> {
        self.store
            .channel_setup()
            .await?
            .ok_or(RelayError::NotRegistered)
    }
}
