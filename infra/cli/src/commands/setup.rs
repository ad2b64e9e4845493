//! `hitl setup`: what Botpress's `register` does (the same code, `Relay::register`), saying
//! what it found and what it created.

use clap::Args;

use super::Outcome;
use super::context::{self, Deployment, NOT_FOR_SETUP};

#[derive(Args)]
pub struct SetupArgs {
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: SetupArgs) -> Outcome {
    let connected = context::connect(&args.deployment, NOT_FOR_SETUP).await?;
    let webhook_url = connected.settings.hubspot_webhook_url();
    let inbox_id = &connected.settings.hubspot_help_desk_id;
    let before = connected.admin.channels_with_webhook(&webhook_url).await?;
    let mut accounts_before = Vec::new();
    if let Some(channel) = before.first() {
        accounts_before = connected.admin.list_channel_accounts(&channel.id).await?;
    }
    let setup = connected
        .bridge
        .relay
        .register()
        .await
        .map_err(|error| super::Failure::failed(anyhow::Error::new(error)))?;
    let channel_found = before.iter().any(|channel| channel.id == setup.channel_id);
    let account_found = accounts_before
        .iter()
        .any(|account| account.id == setup.channel_account_id);
    println!(
        "Custom channel {} (webhookUrl {}): {}",
        setup.channel_id,
        setup.webhook_url,
        if channel_found {
            "found, reused"
        } else {
            "created"
        }
    );
    println!(
        "Channel account {} on Help Desk inbox {inbox_id}: {}",
        setup.channel_account_id,
        if account_found {
            "found, reused"
        } else {
            "created and authorized"
        }
    );
    println!("Saved in {}.", connected.where_);
    if channel_found && account_found {
        println!("Nothing to do: HubSpot was already connected.");
    } else {
        println!("HubSpot is connected. Next: `hitl doctor`.");
    }
    Ok(())
}
