//! The scripted handoff `hitl serve --sandbox` plays at start: every step goes over real HTTP
//! through the bridge, exactly as Botpress and HubSpot would drive it, and each step prints
//! what the other side received.

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::sandbox_stack::{DEMO_AGENTS, DEMO_CUSTOMER_EMAIL, SandboxStack};

pub async fn run(stack: &SandboxStack) -> anyhow::Result<()> {
    println!("\nDemo handoff (Botpress → bridge → HubSpot Help Desk and back):");
    let (agent_id, agent_name, _) = DEMO_AGENTS[0];

    let created = stack
        .caller
        .create_user("Jane Doe", Some(DEMO_CUSTOMER_EMAIL))
        .await;
    ensure!(created.status == 200, "createUser failed: {}", created.text);
    let user_id = text_at(&created.body, "/output/userId")?;
    step(&format!(
        "createUser → Botpress user {user_id} (HubSpot contact found)"
    ));

    let started = stack
        .caller
        .start_hitl(
            &user_id,
            Some("Order did not arrive"),
            Some("Order #1234, placed last week"),
            json!([]),
        )
        .await;
    ensure!(started.status == 200, "startHitl failed: {}", started.text);
    let conversation_id = text_at(&started.body, "/output/conversationId")?;
    let thread = stack
        .hubspot
        .threads()
        .into_iter()
        .last()
        .context("startHitl opened no thread")?;
    step(&format!(
        "startHitl → HubSpot thread {} opened, Botpress conversation {conversation_id}",
        thread.id
    ));

    let (_, said) = stack
        .caller
        .user_message(&conversation_id, &user_id, "Hi, my parcel never came.")
        .await;
    ensure!(said.status == 200, "user message failed: {}", said.text);
    step("customer: \"Hi, my parcel never came.\" → INCOMING message in the Help Desk thread");

    let assigned = stack.hubspot.assign(&thread.id, agent_id).await?;
    ensure!(
        assigned.status == 200,
        "assignment webhook answered {}",
        assigned.status
    );
    step(&format!(
        "{agent_name} assigned in HubSpot → hitlAssigned sent to the bot"
    ));

    let replied = stack
        .hubspot
        .agent_reply(
            &thread.id,
            agent_id,
            "Hello Jane, I am looking into it now.",
        )
        .await?;
    ensure!(
        replied.status == 200,
        "agent reply webhook answered {}",
        replied.status
    );
    step(&format!(
        "{agent_name}: \"Hello Jane, I am looking into it now.\" → message in the bot conversation"
    ));

    let closed = stack.hubspot.close(&thread.id).await?;
    ensure!(
        closed.status == 200,
        "close webhook answered {}",
        closed.status
    );
    step("agent closes the thread → hitlStopped sent to the bot");

    println!(
        "  Botpress received {} message(s) and events {:?} in conversation {conversation_id}.",
        stack.botpress.messages_in(&conversation_id).len(),
        stack
            .botpress
            .events()
            .iter()
            .filter_map(|event| event["type"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    );
    Ok(())
}

fn step(text: &str) {
    println!("  ✓ {text}");
}

fn text_at(body: &Value, pointer: &str) -> anyhow::Result<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("no {pointer} in {body}"))
}
