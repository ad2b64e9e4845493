//! Opening a handoff the way Botpress does (`createUser`, then `startHitl` through the bridge's
//! `/botpress`), and finding the HubSpot thread it opened: the first step of the whole-flow
//! tests, the load run and the benchmark alike.

use serde_json::{Value, json};

use crate::botpress::BotpressCaller;
use crate::hubspot::HubSpotSim;

/// One open handoff: the customer's Botpress user and conversation, and the HubSpot thread.
#[derive(Clone, Debug)]
pub struct OpenedHandoff {
    pub user_id: String,
    pub conversation_id: String,
    pub thread_id: String,
}

/// Creates the customer `name` (known to the simulated HubSpot by `email`) and starts a
/// handoff for them; the error says which step the bridge refused and how.
pub async fn open_handoff(
    caller: &BotpressCaller,
    hubspot: &HubSpotSim,
    (name, email): (&str, &str),
    title: Option<&str>,
    description: Option<&str>,
) -> Result<OpenedHandoff, String> {
    let created = caller.create_user(name, Some(email)).await;
    if created.status != 200 {
        return Err(format!("createUser: {} {}", created.status, created.text));
    }
    let user_id = output(&created.body, "userId")?;
    let started = caller
        .start_hitl(&user_id, title, description, json!([]))
        .await;
    if started.status != 200 {
        return Err(format!("startHitl: {} {}", started.status, started.text));
    }
    let conversation_id = output(&started.body, "conversationId")?;
    let thread_id = hubspot
        .thread_opened_by(email)
        .ok_or_else(|| format!("startHitl opened no HubSpot thread for {email}"))?
        .id;
    Ok(OpenedHandoff {
        user_id,
        conversation_id,
        thread_id,
    })
}

fn output(body: &Value, field: &str) -> Result<String, String> {
    body["output"][field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no output.{field} in {body}"))
}
