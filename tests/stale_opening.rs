//! A handoff whose `startHitl` failed and was not retried (its thread opened, its bot
//! conversation never made) is waited for ten minutes. After that it is given up: its session
//! and thread are closed, an agent's reply there is marked FAILED, and the customer's next
//! `startHitl` opens a new thread rather than resuming into the old one. In process only: the
//! bridge's clock is moved past the wait, which the Lambda path's system clock cannot be.

use std::sync::Arc;

use chrono::TimeDelta;
use flow_support::{
    DEMO_AGENTS, MovableClock, in_process_stack_on, start_handoff_that_stays_opening,
};
use hitl_cli::sandbox_stack::SandboxStack;
use serde_json::json;

/// A stack whose customer's `startHitl` opened a thread but not the handoff, eleven minutes
/// ago by the bridge's clock: `(stack, user id, thread id)`.
async fn a_handoff_left_opening() -> (SandboxStack, String, String) {
    let clock = Arc::new(MovableClock::behind_by(TimeDelta::minutes(11)));
    let stack = in_process_stack_on(clock.clone()).await;
    let (user_id, thread_id) = start_handoff_that_stays_opening(&stack).await;
    clock.catch_up();
    (stack, user_id, thread_id)
}

fn thread_status(stack: &SandboxStack, thread_id: &str) -> String {
    stack.hubspot.thread(thread_id).unwrap().status
}

#[tokio::test]
async fn an_agent_reply_to_a_handoff_left_opening_is_marked_failed_and_the_thread_closed() {
    let (stack, user_id, thread_id) = a_handoff_left_opening().await;
    let reply = stack
        .hubspot
        .agent_reply(&thread_id, DEMO_AGENTS[0].0, "Hello?")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    let thread = stack.hubspot.thread(&thread_id).unwrap();
    let message = thread.messages.iter().find(|m| m.text == "Hello?").unwrap();
    assert_eq!(message.status, "FAILED");
    assert_eq!(thread.status, "CLOSED", "no agent keeps talking to nobody");

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let open: Vec<_> = stack
        .hubspot
        .threads()
        .into_iter()
        .filter(|thread| thread.status == "OPEN")
        .collect();
    assert_eq!(open.len(), 1);
    assert_ne!(open[0].id, thread_id, "a new thread, not the given-up one");
}

#[tokio::test]
async fn a_start_hitl_after_the_wait_starts_over_instead_of_resuming() {
    let (stack, user_id, thread_id) = a_handoff_left_opening().await;
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(thread_status(&stack, &thread_id), "CLOSED");
    assert_eq!(stack.hubspot.threads().len(), 2, "a new thread opened");
}

#[tokio::test]
async fn an_assignment_after_the_wait_gives_the_opening_up_and_tells_the_bot_nothing() {
    let (stack, user_id, thread_id) = a_handoff_left_opening().await;
    let assigned = stack
        .hubspot
        .assign(&thread_id, DEMO_AGENTS[0].0)
        .await
        .unwrap();
    assert_eq!(assigned.status, 200, "{}", assigned.response_body);
    assert!(stack.botpress.events_of_type("hitlAssigned").is_empty());
    assert_eq!(thread_status(&stack, &thread_id), "CLOSED");

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(stack.hubspot.threads().len(), 2, "a new thread opened");
}
