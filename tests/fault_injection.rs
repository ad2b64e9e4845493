//! The bridge's promise under every fault at once: each message the customer or the agent
//! writes arrives exactly once, in order. Each scenario runs real conversations (several
//! threads in parallel, several rounds) with the faults armed, retries as Botpress and HubSpot
//! do (until answered 200), then counts what arrived. The tally of every scenario is written
//! to `target/reports/fault-injection.txt`, which `scripts/test` prints.

use std::io::Write;
use std::time::Duration;

use flow_support::{DEMO_AGENTS, Handoff, Path, registered_stack, start_handoff_as};
use futures::future::join_all;
use hitl_cli::sandbox_stack::SandboxStack;
use hitl_sandbox::botpress::new_id;
use hitl_sandbox::faults::Failure;
use hitl_sandbox::hubspot::AgentContent;

/// How many times a sender tries before the message counts as lost (HubSpot tries 10 times).
const SENDER_ATTEMPTS: usize = 12;
const THREADS: usize = 3;
const ROUNDS: usize = 4;

#[derive(Default)]
struct Knobs {
    /// Every delivery is sent once more after it succeeded.
    duplicate_every_delivery: bool,
    /// Every delivery is sent twice at the same moment, as a sender does that retries while
    /// its first attempt is still running (on the Lambda path, two execution environments).
    send_twice_at_once: bool,
    /// Access tokens expire after this round.
    expire_tokens_after_round: Option<usize>,
}

struct Tally {
    sent: usize,
    delivered: usize,
    duplicated: usize,
    lost: usize,
    out_of_order: usize,
}

async fn customer_says(stack: &SandboxStack, handoff: &Handoff, text: &str, knobs: &Knobs) {
    let message_id = new_id("msg");
    let send = || {
        stack.caller.user_message_with_id(
            &message_id,
            &handoff.conversation_id,
            &handoff.user_id,
            text,
        )
    };
    let mut answer = if knobs.send_twice_at_once {
        let (first, second) = tokio::join!(send(), send());
        if first.status == 200 { first } else { second }
    } else {
        send().await
    };
    for _ in 1..SENDER_ATTEMPTS {
        if answer.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        answer = stack
            .caller
            .user_message_with_id(
                &message_id,
                &handoff.conversation_id,
                &handoff.user_id,
                text,
            )
            .await;
    }
    if knobs.duplicate_every_delivery {
        stack
            .caller
            .user_message_with_id(
                &message_id,
                &handoff.conversation_id,
                &handoff.user_id,
                text,
            )
            .await;
    }
}

async fn agent_says(stack: &SandboxStack, handoff: &Handoff, text: &str, knobs: &Knobs) {
    let Ok(held) = stack.hubspot.agent_writes(
        &handoff.thread_id,
        DEMO_AGENTS[0].0,
        AgentContent::text(text),
    ) else {
        return;
    };
    let delivered = if knobs.send_twice_at_once {
        let (first, second) = tokio::join!(
            stack.hubspot.deliver_held(&held),
            stack.hubspot.deliver_held(&held)
        );
        match first {
            Ok(first) if first.status == 200 => Ok(first),
            _ => second,
        }
    } else {
        stack.hubspot.deliver_held(&held).await
    };
    let Ok(mut delivery) = delivered else {
        return;
    };
    for _ in 1..SENDER_ATTEMPTS {
        if delivery.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        match stack.hubspot.redeliver(&delivery).await {
            Ok(next) => delivery = next,
            Err(_) => continue,
        }
    }
    if knobs.duplicate_every_delivery {
        let _ = stack.hubspot.redeliver(&delivery).await;
    }
}

/// Runs the conversations and counts what arrived on each side.
async fn converse(stack: &SandboxStack, handoffs: &[Handoff], knobs: &Knobs) -> Tally {
    for round in 0..ROUNDS {
        join_all(handoffs.iter().enumerate().map(|(n, handoff)| async move {
            customer_says(
                stack,
                handoff,
                &format!("customer {n} message {round}"),
                knobs,
            )
            .await;
            agent_says(stack, handoff, &format!("agent {n} message {round}"), knobs).await;
        }))
        .await;
        if knobs.expire_tokens_after_round == Some(round) {
            stack.hubspot.expire_access_tokens();
        }
    }
    count(stack, handoffs)
}

fn count(stack: &SandboxStack, handoffs: &[Handoff]) -> Tally {
    let mut tally = Tally {
        sent: 0,
        delivered: 0,
        duplicated: 0,
        lost: 0,
        out_of_order: 0,
    };
    for (n, handoff) in handoffs.iter().enumerate() {
        let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
        let in_help_desk: Vec<String> = thread
            .messages
            .iter()
            .filter(|m| m.direction == "INCOMING")
            .map(|m| m.text.clone())
            .filter(|text| text.starts_with("customer "))
            .collect();
        let in_bot: Vec<String> = stack
            .botpress
            .messages_in(&handoff.conversation_id)
            .iter()
            .filter_map(|m| m["payload"]["text"].as_str().map(str::to_string))
            .collect();
        for (side, arrived) in [("customer", in_help_desk), ("agent", in_bot)] {
            let sent: Vec<String> = (0..ROUNDS)
                .map(|round| format!("{side} {n} message {round}"))
                .collect();
            tally.sent += sent.len();
            for text in &sent {
                match arrived.iter().filter(|a| *a == text).count() {
                    0 => tally.lost += 1,
                    copies => {
                        tally.delivered += 1;
                        tally.duplicated += copies - 1;
                    }
                }
            }
            let mut unique = arrived.clone();
            unique.dedup();
            let in_order = unique
                .iter()
                .filter(|text| sent.contains(text))
                .cloned()
                .collect::<Vec<_>>();
            let expected: Vec<String> = sent
                .iter()
                .filter(|text| arrived.contains(text))
                .cloned()
                .collect();
            if in_order != expected {
                tally.out_of_order += 1;
            }
        }
    }
    tally
}

async fn handoffs(stack: &SandboxStack) -> Vec<Handoff> {
    let mut handoffs = Vec::new();
    for n in 0..THREADS {
        let email = format!("faults{n}@example.com");
        stack
            .hubspot
            .add_contact(Some(&email), None, &format!("Customer {n}"));
        handoffs.push(start_handoff_as(stack, &format!("Customer {n}"), &email).await);
    }
    handoffs
}

fn report(scenario: &str, path: Path, tally: &Tally) {
    let line = format!(
        "{scenario:<44} {path:<9} sent {:>3} / delivered {:>3} / duplicated {} / lost {} / out of order {}",
        tally.sent,
        tally.delivered,
        tally.duplicated,
        tally.lost,
        tally.out_of_order,
        path = format!("{path:?}"),
    );
    println!("{line}");
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/reports");
    let _ = std::fs::create_dir_all(&folder);
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(folder.join("fault-injection.txt"))
    {
        let _ = writeln!(file, "{line}");
    }
    assert_eq!(
        (
            tally.delivered,
            tally.duplicated,
            tally.lost,
            tally.out_of_order
        ),
        (tally.sent, 0, 0, 0),
        "{scenario}: every message exactly once, in order"
    );
}

async fn run(scenario: &str, path: Path, arm: impl FnOnce(&SandboxStack), knobs: Knobs) {
    let stack = registered_stack(path).await;
    let handoffs = handoffs(&stack).await;
    arm(&stack);
    let tally = converse(&stack, &handoffs, &knobs).await;
    stack.hubspot.faults().clear();
    stack.botpress.clear_faults();
    report(scenario, path, &tally);
}

fn rate_limited() -> Failure {
    Failure {
        status: 429,
        retry_after: Some(1),
    }
}

fn server_error() -> Failure {
    Failure {
        status: 500,
        retry_after: None,
    }
}

#[tokio::test]
async fn no_faults() {
    run("no faults", Path::InProcess, |_| {}, Knobs::default()).await;
}

#[tokio::test]
async fn every_delivery_duplicated() {
    let knobs = Knobs {
        duplicate_every_delivery: true,
        ..Knobs::default()
    };
    run("every delivery duplicated", Path::InProcess, |_| {}, knobs).await;
}

#[tokio::test]
async fn every_delivery_sent_twice_at_once_on_lambda() {
    let knobs = Knobs {
        send_twice_at_once: true,
        ..Knobs::default()
    };
    run(
        "every delivery sent twice at once",
        Path::Lambda,
        |_| {},
        knobs,
    )
    .await;
}

#[tokio::test]
async fn rate_limits_and_server_errors() {
    let arm = |stack: &SandboxStack| {
        let faults = stack.hubspot.faults();
        faults.fail_ratio("/conversations", rate_limited(), 0.3);
        faults.fail_ratio("/conversations", server_error(), 0.1);
        stack.botpress.fail_next("/v1/chat/messages", 500, 3);
    };
    run(
        "30% HubSpot 429, 10% 500, Botpress 500s",
        Path::InProcess,
        arm,
        Knobs::default(),
    )
    .await;
}

#[tokio::test]
async fn everything_at_once_on_lambda() {
    let arm = |stack: &SandboxStack| {
        let faults = stack.hubspot.faults();
        faults.fail_ratio("/conversations", rate_limited(), 0.3);
        faults.fail_ratio("/conversations", server_error(), 0.1);
        stack.botpress.fail_next("/v1/chat/messages", 503, 3);
    };
    let knobs = Knobs {
        duplicate_every_delivery: true,
        expire_tokens_after_round: Some(1),
        ..Knobs::default()
    };
    run(
        "duplicates + 429 + 500 + token expiry",
        Path::Lambda,
        arm,
        knobs,
    )
    .await;
}

/// The webhook function's process dies in the middle of relaying an agent's reply; Lambda
/// starts a new one and HubSpot's retries arrive (refused while the dead attempt's lease
/// lasts, then relayed). The reply arrives once and is marked SENT.
#[tokio::test]
async fn the_function_killed_mid_delivery_and_restarted() {
    let stack = registered_stack(Path::Lambda).await;
    let handoffs = handoffs(&stack).await;
    let handoff = &handoffs[0];
    // Slow HubSpot (actors lookup, SENT status) so the kill lands inside the relay.
    stack
        .hubspot
        .faults()
        .set_latency(Duration::from_millis(700));
    let text = "agent 0 message 0";
    let delivering = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, text);
    let killing = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        stack
            .lambda
            .as_ref()
            .unwrap()
            .hubspot_webhook
            .crash_and_restart()
            .await
            .unwrap();
    };
    let (first, ()) = tokio::join!(delivering, killing);
    let mut delivery = first.unwrap();
    assert_ne!(
        delivery.status, 200,
        "the first attempt died with its process"
    );
    stack.hubspot.faults().set_latency(Duration::ZERO);
    // The dead attempt's lease lasts the budget left when it claimed plus 6 s (`relay::once`).
    for _ in 0..30 {
        if delivery.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(750)).await;
        delivery = stack.hubspot.redeliver(&delivery).await.unwrap();
    }
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    let arrived = stack
        .botpress
        .messages_in(&handoff.conversation_id)
        .iter()
        .filter(|m| m["payload"]["text"] == text)
        .count();
    let tally = Tally {
        sent: 1,
        delivered: arrived.min(1),
        duplicated: arrived.saturating_sub(1),
        lost: usize::from(arrived == 0),
        out_of_order: 0,
    };
    report(
        "function killed mid-delivery, restarted",
        Path::Lambda,
        &tally,
    );
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let status = &thread
        .messages
        .iter()
        .find(|m| m.text == text)
        .unwrap()
        .status;
    assert_eq!(status, "SENT");
}
