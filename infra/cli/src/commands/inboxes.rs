//! `hitl inboxes`: the account's inboxes, Help Desk ones marked, those the bridge is connected
//! to with their channel account, and what to set.

use clap::Args;

use super::context::{self, Deployment, NOT_FOR_INBOXES};
use super::{Failure, Outcome};

#[derive(Args)]
pub struct InboxesArgs {
    #[command(flatten)]
    deployment: Deployment,
}

pub async fn run(args: InboxesArgs) -> Outcome {
    let connected = context::connect(&args.deployment, NOT_FOR_INBOXES).await?;
    let inboxes = connected.admin.list_inboxes().await?;
    let configured = std::env::var("HUBSPOT_HELP_DESK_ID").ok();
    // What `hitl setup` connected: inbox → channel account (none before the first setup).
    let connected_accounts = connected
        .bridge
        .relay
        .store()
        .channel_setup()
        .await
        .map_err(Failure::failed)?
        .map(|setup| setup.inbox_accounts())
        .unwrap_or_default();
    let width = inboxes
        .iter()
        .map(|inbox| inbox.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    println!("{:<width$}  {:<9}  NAME", "ID", "TYPE");
    for inbox in &inboxes {
        let mark = if configured.as_deref() == Some(inbox.id.as_str()) {
            "   ← HUBSPOT_HELP_DESK_ID"
        } else if inbox.is_help_desk() {
            "   ← Help Desk"
        } else {
            ""
        };
        let account = connected_accounts
            .iter()
            .find(|account| account.inbox_id == inbox.id)
            .map(|account| {
                format!(
                    "   (connected: channel account {})",
                    account.channel_account_id
                )
            })
            .unwrap_or_default();
        println!(
            "{:<width$}  {:<9}  {}{mark}{account}",
            inbox.id, inbox.kind, inbox.name
        );
    }
    let help_desks: Vec<_> = inboxes
        .iter()
        .filter(|inbox| inbox.is_help_desk())
        .collect();
    match help_desks.as_slice() {
        [] => Err(Failure::failed(anyhow::anyhow!(
            "the account has no Help Desk inbox: create one in HubSpot (Customer Service → Help \
             Desk) and run `hitl inboxes` again"
        ))),
        [only] if configured.as_deref() != Some(only.id.as_str()) => {
            println!("\nexport HUBSPOT_HELP_DESK_ID={}", only.id);
            println!("Next: `hitl setup`.");
            Ok(())
        }
        [_] => {
            println!("\nHUBSPOT_HELP_DESK_ID is set to the Help Desk. Next: `hitl setup`.");
            Ok(())
        }
        _ => {
            if !help_desks
                .iter()
                .any(|inbox| configured.as_deref() == Some(inbox.id.as_str()))
            {
                println!(
                    "\nSet HUBSPOT_HELP_DESK_ID to the Help Desk inbox the bot hands over to."
                );
            }
            Ok(())
        }
    }
}
