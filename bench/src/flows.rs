//! The bridge's work, driven as HubSpot and Botpress drive it: open a handoff, relay a user
//! message, relay an agent reply, assign, close. Each checks the bridge answered 200.

use anyhow::{Context, ensure};
use hitl_cli::sandbox_stack::SandboxStack;
use serde_json::json;

/// One open handoff: the customer's Botpress user and conversation, and the HubSpot thread.
#[derive(Clone, Debug)]
pub struct Handoff {
    pub user_id: String,
    pub conversation_id: String,
    pub thread_id: String,
}

/// Adds a contact for `email` to the simulated HubSpot and opens a handoff for them.
pub async fn open_handoff(stack: &SandboxStack, email: &str) -> anyhow::Result<Handoff> {
    stack.hubspot.add_contact(Some(email), None, "Bench");
    let created = stack
        .caller
        .create_user("Bench Customer", Some(email))
        .await;
    ensure!(created.status == 200, "createUser: {}", created.text);
    let user_id = created.body["output"]["userId"]
        .as_str()
        .context("createUser returned no userId")?
        .to_string();
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Benchmark"), None, json!([]))
        .await;
    ensure!(started.status == 200, "startHitl: {}", started.text);
    let conversation_id = started.body["output"]["conversationId"]
        .as_str()
        .context("startHitl returned no conversationId")?
        .to_string();
    let thread_id = stack
        .hubspot
        .threads()
        .into_iter()
        .find(|thread| {
            thread
                .messages
                .iter()
                .any(|message| message.senders.to_string().contains(email))
        })
        .context("startHitl opened no HubSpot thread")?
        .id;
    Ok(Handoff {
        user_id,
        conversation_id,
        thread_id,
    })
}

pub async fn user_message(
    stack: &SandboxStack,
    handoff: &Handoff,
    text: &str,
) -> anyhow::Result<()> {
    let (_, answer) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, text)
        .await;
    ensure!(
        answer.status == 200,
        "message_created: {} {}",
        answer.status,
        answer.text
    );
    Ok(())
}

pub async fn agent_reply(
    stack: &SandboxStack,
    handoff: &Handoff,
    actor_id: &str,
    text: &str,
) -> anyhow::Result<()> {
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, actor_id, text)
        .await?;
    ensure!(
        delivery.status == 200,
        "agent reply webhook: {} {}",
        delivery.status,
        delivery.response_body
    );
    Ok(())
}

pub async fn assign(stack: &SandboxStack, handoff: &Handoff, actor_id: &str) -> anyhow::Result<()> {
    let delivery = stack.hubspot.assign(&handoff.thread_id, actor_id).await?;
    ensure!(
        delivery.status == 200,
        "assignment webhook: {} {}",
        delivery.status,
        delivery.response_body
    );
    Ok(())
}

pub async fn close_by_agent(stack: &SandboxStack, handoff: &Handoff) -> anyhow::Result<()> {
    let delivery = stack.hubspot.close(&handoff.thread_id).await?;
    ensure!(
        delivery.status == 200,
        "close webhook: {} {}",
        delivery.status,
        delivery.response_body
    );
    Ok(())
}

pub async fn stop_by_bot(stack: &SandboxStack, handoff: &Handoff) -> anyhow::Result<()> {
    let answer = stack.caller.stop_hitl(&handoff.conversation_id).await;
    ensure!(
        answer.status == 200,
        "stopHitl: {} {}",
        answer.status,
        answer.text
    );
    Ok(())
}
