//! What every whole-flow test starts from: the sandbox stack (`hitl serve --sandbox` without
//! the demo), the bridge served over real HTTP on a free port, registered with HubSpot.

use std::time::Duration;

use hitl_cli::sandbox_stack::{DEMO_CUSTOMER_EMAIL, SandboxOptions, SandboxStack};
use serde_json::{Value, json};

pub use hitl_cli::sandbox_stack::{DEMO_AGENTS, DEMO_CUSTOMER_PHONE};

/// A registered stack with the default simulators.
pub async fn registered_stack() -> SandboxStack {
    registered_stack_with(SandboxOptions::default()).await
}

pub async fn registered_stack_with(options: SandboxOptions) -> SandboxStack {
    let stack = SandboxStack::start(options)
        .await
        .expect("the sandbox starts");
    stack.register().await.expect("register succeeds");
    stack
}

/// One handoff in progress: the customer's Botpress user, the `hitl` conversation, and the
/// HubSpot thread the bridge opened.
pub struct Handoff {
    pub user_id: String,
    pub conversation_id: String,
    pub thread_id: String,
}

/// Creates the demo customer (by email) and starts a handoff for them.
pub async fn start_handoff(stack: &SandboxStack) -> Handoff {
    let created = stack
        .caller
        .create_user("Jane Doe", Some(DEMO_CUSTOMER_EMAIL))
        .await;
    assert_eq!(created.status, 200, "createUser: {}", created.text);
    let user_id = text(&created.body, "/output/userId");
    let started = stack
        .caller
        .start_hitl(
            &user_id,
            Some("Order did not arrive"),
            Some("Order #1234"),
            json!([]),
        )
        .await;
    assert_eq!(started.status, 200, "startHitl: {}", started.text);
    let conversation_id = text(&started.body, "/output/conversationId");
    let thread_id = stack
        .hubspot
        .threads()
        .into_iter()
        .find(|thread| {
            thread
                .messages
                .iter()
                .any(|m| m.senders.to_string().contains(DEMO_CUSTOMER_EMAIL))
        })
        .map(|thread| thread.id)
        .expect("startHitl opened a HubSpot thread");
    Handoff {
        user_id,
        conversation_id,
        thread_id,
    }
}

/// The string at a JSON pointer, or a failing test that shows the whole body.
pub fn text(body: &Value, pointer: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {body}"))
        .to_string()
}

/// Waits (bounded) until `condition` holds: for effects that happen in the background, such
/// as the webhook the simulated HubSpot sends after an API change.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..100 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Lets background work settle before asserting that something did NOT happen.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}
