//! The bridge's work, driven as HubSpot and Botpress drive it: open a handoff, relay a user
//! message, relay an agent reply, assign, close. Each checks the bridge answered 200.

use anyhow::ensure;
use hitl_cli::sandbox_stack::SandboxStack;
use hitl_sandbox::handoff::open_handoff as open_handoff_through;

pub use hitl_sandbox::handoff::OpenedHandoff as Handoff;

/// Adds a contact for `email` to the simulated HubSpot and opens a handoff for them.
pub async fn open_handoff(stack: &SandboxStack, email: &str) -> anyhow::Result<Handoff> {
    stack.hubspot.add_contact(Some(email), None, "Bench");
    open_handoff_through(
        &stack.caller,
        &stack.hubspot,
        ("Bench Customer", email),
        Some("Benchmark"),
        None,
    )
    .await
    .map_err(anyhow::Error::msg)
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
