//! `hitl setup`: what Botpress's `register` does (the same code, `Relay::connect_inboxes`),
//! for the default inbox and every inbox `--inbox` names, saying what it found and created.

use clap::Args;

use super::Outcome;
use super::context::{self, Deployment, NOT_FOR_SETUP};

#[derive(Args)]
pub struct SetupArgs {
    #[command(flatten)]
    deployment: Deployment,
    /// One more Help Desk inbox to hand off to, by id or by name as `hitl inboxes` lists it;
    /// repeat for several. HUBSPOT_HELP_DESK_ID, the default inbox, is always connected, and
    /// inboxes connected earlier stay connected.
    #[arg(long = "inbox", value_name = "ID_OR_NAME")]
    inboxes: Vec<String>,
}

pub async fn run(args: SetupArgs) -> Outcome {
    let connected = context::connect(&args.deployment, NOT_FOR_SETUP).await?;
    let connection = connected
        .bridge
        .relay
        .connect_inboxes(&args.inboxes)
        .await?;
    let setup = &connection.setup;
    println!(
        "Custom channel {} (webhookUrl {}): {}",
        setup.channel_id,
        setup.webhook_url,
        if connection.channel_created {
            "created"
        } else {
            "found, reused"
        }
    );
    for account in setup.inbox_accounts() {
        let created = connection.accounts_created.contains(&account.inbox_id);
        let name = account
            .inbox_name
            .as_deref()
            .map(|name| format!(" ({name})"))
            .unwrap_or_default();
        let default = if account.inbox_id == setup.inbox_id {
            ", the default"
        } else {
            ""
        };
        println!(
            "Channel account {} on Help Desk inbox {}{name}{default}: {}",
            account.channel_account_id,
            account.inbox_id,
            if created {
                "created and authorized"
            } else {
                "found, reused"
            }
        );
    }
    println!("Saved in {}.", connected.where_);
    let expired = connected
        .bridge
        .relay
        .store()
        .expire_untimed()
        .await
        .map_err(hitl_bridge::relay::RelayError::from)?;
    if expired > 0 {
        let records = if expired == 1 { "record" } else { "records" };
        println!(
            "Gave {expired} customer {records} an older version kept without an expiry one: \
             they go in 30 days unless their customer hands off again."
        );
    }
    if !connection.channel_created && connection.accounts_created.is_empty() {
        println!("Nothing to do: HubSpot was already connected.");
    } else {
        println!("HubSpot is connected. Next: `hitl doctor`.");
    }
    Ok(())
}
