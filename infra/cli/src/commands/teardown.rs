//! `hitl teardown`: undoes `hitl setup`. Only channels whose webhookUrl is this bridge's are
//! touched: their channel accounts are deauthorized, then the channels deleted.

use clap::Args;

use super::Outcome;
use super::context::{self, Deployment, NOT_FOR_SETUP};

#[derive(Args)]
pub struct TeardownArgs {
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: TeardownArgs) -> Outcome {
    let connected = context::connect(&args.deployment, NOT_FOR_SETUP).await?;
    let webhook_url = connected.settings.hubspot_webhook_url();
    let channels = connected.admin.channels_with_webhook(&webhook_url).await?;
    if channels.is_empty() {
        println!("Nothing to remove: no custom channel has webhookUrl {webhook_url}.");
        return Ok(());
    }
    for channel in &channels {
        for account in connected.admin.list_channel_accounts(&channel.id).await? {
            if account.authorized {
                connected
                    .admin
                    .deauthorize_channel_account(&channel.id, &account.id)
                    .await?;
            }
            println!(
                "Channel account {} (inbox {}): disconnected",
                account.id, account.inbox_id
            );
        }
        connected.admin.delete_channel(&channel.id).await?;
        println!(
            "Custom channel {} (webhookUrl {webhook_url}): deleted",
            channel.id
        );
    }
    println!(
        "HubSpot is disconnected; handoffs fail until `hitl setup` (or saving the integration's \
         configuration in Botpress) connects it again."
    );
    Ok(())
}
