//! Upstream faults and awkward deliveries: retries, rate limits, permanent refusals, work left
//! for HubSpot's retry, and shuffled batches. Whatever happens, every message arrives exactly
//! once and in order, and the agent is told when one cannot be delivered.

use flow_support::{
    DEMO_AGENTS, Path, on_both_paths, registered_stack, start_handoff, start_handoff_as,
};
use hitl_sandbox::faults::Failure;
use serde_json::{Value, json};

const MESSAGES: &str = "/v1/chat/messages";

fn message_status(
    stack: &hitl_cli::sandbox_stack::SandboxStack,
    thread_id: &str,
    text: &str,
) -> String {
    let thread = stack.hubspot.thread(thread_id).unwrap();
    let message = thread
        .messages
        .iter()
        .find(|m| m.text == text)
        .expect("the agent's message");
    message.status.clone()
}

async fn an_agent_reply_is_marked_sent_in_the_help_desk(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "On it")
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert_eq!(message_status(&stack, &handoff.thread_id, "On it"), "SENT");
}

async fn botpress_errors_are_retried_and_the_reply_arrives_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stack.botpress.fail_next(MESSAGES, 503, 2);
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Hello")
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert_eq!(
        stack.botpress.messages_in(&handoff.conversation_id).len(),
        1
    );
    assert_eq!(
        stack
            .botpress
            .recorder()
            .matching("POST", MESSAGES)
            .iter()
            .filter(|c| c.status == 503)
            .count(),
        2
    );
}

/// The bridge's latest message-status update (the SENT or FAILED the agent sees).
fn last_status_update(
    stack: &hitl_cli::sandbox_stack::SandboxStack,
) -> hitl_sandbox::recorder::RecordedCall {
    stack
        .hubspot
        .recorder()
        .matching("PATCH", "/conversations/v3/custom-channels/")
        .pop()
        .expect("a message status was updated")
}

async fn a_reply_botpress_refuses_is_marked_failed_for_the_agent(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stack.botpress.fail_next(MESSAGES, 400, 1);
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Doomed")
        .await
        .unwrap();
    assert_eq!(
        delivery.status, 200,
        "a retry would not help, so HubSpot must not retry: {}",
        delivery.response_body
    );
    assert!(
        stack
            .botpress
            .messages_in(&handoff.conversation_id)
            .is_empty()
    );
    assert_eq!(
        message_status(&stack, &handoff.thread_id, "Doomed"),
        "FAILED"
    );
    let patch = last_status_update(&stack);
    assert_eq!(patch.json()["statusType"], "FAILED");
    assert!(
        patch.json()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("bot"),
        "{}",
        patch.body
    );
}

/// The status calls of the agent's messages in `thread_id`'s channel, and nothing else.
fn status_calls_of(stack: &hitl_cli::sandbox_stack::SandboxStack, thread_id: &str) -> String {
    let channel_id = stack.hubspot.thread(thread_id).unwrap().channel_id;
    format!("/conversations/v3/custom-channels/{channel_id}/messages/")
}

/// The successful status updates of the agent's message `text`: (statusType, errorMessage).
fn statuses_set(
    stack: &hitl_cli::sandbox_stack::SandboxStack,
    thread_id: &str,
    text: &str,
) -> Vec<(String, Option<String>)> {
    let thread = stack.hubspot.thread(thread_id).unwrap();
    let message_id = &thread
        .messages
        .iter()
        .find(|m| m.text == text)
        .expect("the agent's message")
        .id;
    stack
        .hubspot
        .recorder()
        .matching(
            "PATCH",
            &format!("{}{message_id}", status_calls_of(stack, thread_id)),
        )
        .iter()
        .filter(|call| call.status == 200)
        .map(|call| {
            let body = call.json();
            let error = body["errorMessage"].as_str().map(str::to_string);
            (
                body["statusType"].as_str().unwrap_or_default().to_string(),
                error,
            )
        })
        .collect()
}

/// HubSpot failing the status call past the bridge's retries does not lose the status: the
/// reply is answered 200 (it reached the customer, or was refused for good, and is not
/// relayed again), and the scheduled run sets the status once HubSpot takes it, once.
async fn a_status_hubspot_fails_to_take_is_set_by_the_scheduled_run(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let unavailable = Failure {
        status: 503,
        retry_after: None,
    };
    let statuses = status_calls_of(&stack, &handoff.thread_id);
    stack
        .hubspot
        .faults()
        .fail_next(&statuses, unavailable.clone(), 1_000);
    let sent = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Delivered")
        .await
        .unwrap();
    assert_eq!(sent.status, 200, "{}", sent.response_body);
    stack.botpress.fail_next(MESSAGES, 400, 1);
    let refused = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Refused")
        .await
        .unwrap();
    assert_eq!(refused.status, 200, "{}", refused.response_body);
    assert!(statuses_set(&stack, &handoff.thread_id, "Delivered").is_empty());
    assert!(statuses_set(&stack, &handoff.thread_id, "Refused").is_empty());
    assert_eq!(
        stack.botpress.messages_in(&handoff.conversation_id).len(),
        1,
        "the delivered reply, once"
    );

    // Still failing: left for the next run.
    stack.refresh_tokens_now().await.unwrap();
    assert!(statuses_set(&stack, &handoff.thread_id, "Delivered").is_empty());

    stack.hubspot.faults().clear();
    stack.refresh_tokens_now().await.unwrap();
    stack.refresh_tokens_now().await.unwrap();
    assert_eq!(
        statuses_set(&stack, &handoff.thread_id, "Delivered"),
        [("SENT".to_string(), None)],
        "set once"
    );
    let failed = statuses_set(&stack, &handoff.thread_id, "Refused");
    assert_eq!(failed.len(), 1, "set once: {failed:?}");
    assert_eq!(failed[0].0, "FAILED");
    assert!(
        failed[0]
            .1
            .as_deref()
            .is_some_and(|why| why.contains("bot did not accept")),
        "{failed:?}"
    );
    assert_eq!(
        message_status(&stack, &handoff.thread_id, "Refused"),
        "FAILED"
    );
    assert_eq!(
        stack.botpress.messages_in(&handoff.conversation_id).len(),
        1,
        "nothing relayed again"
    );
}

async fn hubspot_rate_limits_are_waited_out_using_retry_after(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let limited = Failure {
        status: 429,
        retry_after: Some(1),
    };
    stack
        .hubspot
        .faults()
        .fail_next("/conversations/v3/custom-channels/", limited, 2);
    let started = std::time::Instant::now();
    let (_, sent) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, "Anyone?")
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert!(
        started.elapsed().as_millis() >= 1_900,
        "waited Retry-After twice: {:?}",
        started.elapsed()
    );
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(
        thread
            .messages
            .iter()
            .filter(|m| m.text == "Anyone?")
            .count(),
        1
    );
}

async fn what_cannot_finish_in_time_is_left_for_hubspots_retry(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stack.botpress.fail_next(MESSAGES, 503, 1_000);
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Persistent")
        .await
        .unwrap();
    assert_eq!(
        delivery.status, 503,
        "HubSpot must retry: {}",
        delivery.response_body
    );
    assert!(
        delivery.response_body.contains("retry"),
        "{}",
        delivery.response_body
    );
    assert!(
        stack
            .botpress
            .messages_in(&handoff.conversation_id)
            .is_empty()
    );

    stack.botpress.clear_faults();
    let retry = stack.hubspot.redeliver(&delivery).await.unwrap();
    assert_eq!(retry.status, 200, "{}", retry.response_body);
    let again = stack.hubspot.redeliver(&delivery).await.unwrap();
    assert_eq!(again.status, 200);
    let messages = stack.botpress.messages_in(&handoff.conversation_id);
    assert_eq!(messages.len(), 1, "delivered exactly once: {messages:?}");
    assert_eq!(
        message_status(&stack, &handoff.thread_id, "Persistent"),
        "SENT"
    );
}

/// Per thread: Ada is assigned, then Grace, then the thread closes; the batch holds all
/// threads' events shuffled, and the bot must still see each thread's events in order.
async fn a_shuffled_batch_keeps_each_threads_order(path: Path) {
    let stack = registered_stack(path).await;
    let mut handoffs = Vec::new();
    for n in 0..4 {
        let email = format!("customer{n}@example.com");
        stack
            .hubspot
            .add_contact(Some(&email), None, &format!("Customer {n}"));
        handoffs.push(start_handoff_as(&stack, &format!("Customer {n}"), &email).await);
    }
    let base = chrono::Utc::now().timestamp_millis();
    let mut events = Vec::new();
    for (n, handoff) in handoffs.iter().enumerate() {
        let thread: u64 = handoff.thread_id.parse().unwrap();
        let steps = [
            ("assignedTo", DEMO_AGENTS[0].0),
            ("assignedTo", DEMO_AGENTS[1].0),
            ("status", "CLOSED"),
        ];
        for (step, (property, value)) in steps.iter().enumerate() {
            events.push(json!({
                "eventId": 9_000 + n * 10 + step, "subscriptionId": 1, "portalId": 243842089, "appId": 1098266,
                "occurredAt": base + (step as i64) * 1_000, "subscriptionType": "conversation.propertyChange",
                "attemptNumber": 0, "objectId": thread, "propertyName": property, "propertyValue": value,
                "changeSource": "AGENT"
            }));
        }
    }
    // A fixed shuffle: reversed, then interleaved.
    events.reverse();
    let (front, back) = events.split_at(events.len() / 2);
    let shuffled: Vec<Value> = back
        .iter()
        .zip(front.iter())
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    assert_eq!(shuffled.len(), events.len());

    let url = stack.settings.hubspot_webhook_url();
    let delivery = stack
        .hubspot
        .deliver_raw(&url, Value::Array(shuffled).to_string())
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);

    let agent_users: Vec<String> = DEMO_AGENTS
        .iter()
        .map(|(actor, _, _)| agent_user_id(&stack, actor))
        .collect();
    for handoff in &handoffs {
        let seen: Vec<String> = stack
            .botpress
            .events()
            .iter()
            .filter(|event| event["payload"]["conversationId"] == json!(handoff.conversation_id))
            .map(|event| match event["type"].as_str().unwrap() {
                "hitlAssigned" => {
                    format!("assigned {}", event["payload"]["userId"].as_str().unwrap())
                }
                other => other.to_string(),
            })
            .collect();
        let expected = vec![
            format!("assigned {}", agent_users[0]),
            format!("assigned {}", agent_users[1]),
            "hitlStopped".to_string(),
        ];
        assert_eq!(seen, expected, "thread {}", handoff.thread_id);
    }
}

/// Ten threads, ten assignments each (Ada, Grace, Ada, …), in HubSpot's timestamps' order,
/// shuffled into one 100-event delivery.
async fn hundred_event_batch(
    stack: &hitl_cli::sandbox_stack::SandboxStack,
) -> (Vec<flow_support::Handoff>, String) {
    let mut handoffs = Vec::new();
    for n in 0..10 {
        let email = format!("batch{n}@example.com");
        stack
            .hubspot
            .add_contact(Some(&email), None, &format!("Batch {n}"));
        handoffs.push(start_handoff_as(stack, &format!("Batch {n}"), &email).await);
    }
    let base = chrono::Utc::now().timestamp_millis();
    let mut events = Vec::new();
    for (n, handoff) in handoffs.iter().enumerate() {
        for step in 0..10 {
            events.push(json!({
                "eventId": 50_000 + n * 100 + step, "subscriptionId": 1, "portalId": 243842089,
                "appId": 1098266, "occurredAt": base + step as i64 * 1_000,
                "subscriptionType": "conversation.propertyChange", "attemptNumber": 0,
                "objectId": handoff.thread_id.parse::<u64>().unwrap(), "propertyName": "assignedTo",
                "propertyValue": DEMO_AGENTS[step % 2].0, "changeSource": "AGENT"
            }));
        }
    }
    // A fixed shuffle: every seventh event in turn.
    let shuffled: Vec<Value> = (0..events.len())
        .map(|i| events[(i * 7) % events.len()].clone())
        .collect();
    (handoffs, Value::Array(shuffled).to_string())
}

/// Each conversation saw exactly ten assignments, alternating, in order.
fn assert_each_thread_saw_ten_alternating_assignments(
    stack: &hitl_cli::sandbox_stack::SandboxStack,
    handoffs: &[flow_support::Handoff],
) {
    let agent_user = |actor: &str| agent_user_id(stack, actor);
    let (ada, grace) = (agent_user(DEMO_AGENTS[0].0), agent_user(DEMO_AGENTS[1].0));
    for handoff in handoffs {
        let assigned: Vec<String> = stack
            .botpress
            .events_of_type("hitlAssigned")
            .iter()
            .filter(|event| event["payload"]["conversationId"] == json!(handoff.conversation_id))
            .map(|event| event["payload"]["userId"].as_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = (0..10)
            .map(|step| {
                if step % 2 == 0 {
                    ada.clone()
                } else {
                    grace.clone()
                }
            })
            .collect();
        assert_eq!(assigned, expected, "thread {}", handoff.thread_id);
    }
}

/// In process only: on the Lambda path each event costs about six DynamoDB calls to moto (one
/// Python process, much slower than DynamoDB), which measures moto, not the bridge. There the
/// next test's guarantee holds: what does not fit is finished, once, by HubSpot's retry.
///
/// What is checked is HubSpot's contract, not speed: the answer comes inside HubSpot's 5 s
/// whatever the machine's load, and every event is relayed once, in each thread's order. On a
/// free machine the batch answers 200 in about half a second; on a starved one (CI under the
/// contract check, every call through Prism) the bridge may stop starting events at its
/// cut-off and answer 503, and HubSpot's retry relays the rest. Whether the batch fits in one
/// delivery, and how fast, is the bench's to measure (`scripts/bench`, the in-process batch
/// row), never a timed test's.
#[tokio::test]
async fn a_hundred_event_batch_is_answered_within_five_seconds() {
    let stack = registered_stack(Path::InProcess).await;
    let (handoffs, batch) = hundred_event_batch(&stack).await;
    stack
        .botpress
        .set_latency(std::time::Duration::from_millis(60));
    let url = stack.settings.hubspot_webhook_url();
    let started = std::time::Instant::now();
    let delivery = stack.hubspot.deliver_raw(&url, batch).await.unwrap();
    let answered_in = started.elapsed();
    stack.botpress.clear_faults();
    assert!(
        answered_in < std::time::Duration::from_secs(5),
        "answered in {answered_in:?}"
    );
    if delivery.status != 200 {
        assert_eq!(
            delivery.status, 503,
            "only \"retry the rest\" may stand for success: {}",
            delivery.response_body
        );
        let retry = redeliver_until_answered(&stack, &delivery).await;
        assert_eq!(retry.status, 200, "{}", retry.response_body);
    }
    assert_each_thread_saw_ten_alternating_assignments(&stack, &handoffs);
}

/// HubSpot's retries of a delivery answered 503, until one is answered otherwise: events still
/// leased by the first attempt are refused until its lease ends.
async fn redeliver_until_answered(
    stack: &hitl_cli::sandbox_stack::SandboxStack,
    delivery: &hitl_sandbox::hubspot::Delivery,
) -> hitl_sandbox::hubspot::Delivery {
    let mut retry = stack.hubspot.redeliver(delivery).await.unwrap();
    for _ in 0..10 {
        if retry.status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        retry = stack.hubspot.redeliver(delivery).await.unwrap();
    }
    retry
}

async fn what_a_slow_batch_cannot_finish_its_retry_completes_once(path: Path) {
    let stack = registered_stack(path).await;
    let (handoffs, batch) = hundred_event_batch(&stack).await;
    // 10 events in a thread at 500 ms each cannot fit HubSpot's 5 seconds.
    stack
        .botpress
        .set_latency(std::time::Duration::from_millis(500));
    let url = stack.settings.hubspot_webhook_url();
    let started = std::time::Instant::now();
    let delivery = stack.hubspot.deliver_raw(&url, batch).await.unwrap();
    let answered_in = started.elapsed();
    assert!(
        answered_in < std::time::Duration::from_secs(5),
        "answered in {answered_in:?}"
    );
    assert_eq!(
        delivery.status, 503,
        "the rest is left for HubSpot's retry: {}",
        delivery.response_body
    );
    let done_first = stack.botpress.events_of_type("hitlAssigned").len();
    assert!(done_first > 0, "it finished what it could");

    stack.botpress.clear_faults();
    let retry = redeliver_until_answered(&stack, &delivery).await;
    assert_eq!(retry.status, 200, "{}", retry.response_body);
    assert_each_thread_saw_ten_alternating_assignments(&stack, &handoffs);
}

/// Botpress refuses the text of an agent's message for good but takes its image: the image
/// still reaches the customer, and the agent reads FAILED naming only the text, so nothing
/// the customer already has is sent again.
async fn a_part_botpress_refuses_does_not_hold_back_the_others(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stack.botpress.fail_next(MESSAGES, 400, 1);
    let content = hitl_sandbox::hubspot::AgentContent {
        text: "Here is the label".to_string(),
        rich_text: None,
        attachments: serde_json::json!([
            { "type": "FILE", "fileId": "901", "fileUsageType": "IMAGE", "name": "label.png",
              "url": "https://files.example.com/label.png" },
        ]),
        shown_chars: None,
    };
    let delivery = stack
        .hubspot
        .agent_reply_with(&handoff.thread_id, DEMO_AGENTS[0].0, content)
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    let relayed = stack.botpress.messages_in(&handoff.conversation_id);
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    assert_eq!(relayed[0]["type"], "image");
    let patch = last_status_update(&stack);
    assert_eq!(patch.json()["statusType"], "FAILED");
    let reason = patch.json()["errorMessage"].as_str().unwrap().to_string();
    assert!(
        reason.starts_with("The bot did not accept the text:")
            && reason.ends_with("The other part reached the customer."),
        "{reason}"
    );
    let retry = stack.hubspot.redeliver(&delivery).await.unwrap();
    assert_eq!(retry.status, 200);
    assert_eq!(
        stack.botpress.messages_in(&handoff.conversation_id).len(),
        1
    );
}

on_both_paths!(
    an_agent_reply_is_marked_sent_in_the_help_desk,
    botpress_errors_are_retried_and_the_reply_arrives_once,
    a_reply_botpress_refuses_is_marked_failed_for_the_agent,
    a_status_hubspot_fails_to_take_is_set_by_the_scheduled_run,
    a_part_botpress_refuses_does_not_hold_back_the_others,
    hubspot_rate_limits_are_waited_out_using_retry_after,
    what_cannot_finish_in_time_is_left_for_hubspots_retry,
    a_shuffled_batch_keeps_each_threads_order,
    what_a_slow_batch_cannot_finish_its_retry_completes_once,
);

/// The Botpress user the bridge made for a HubSpot agent.
fn agent_user_id(stack: &hitl_cli::sandbox_stack::SandboxStack, actor: &str) -> String {
    stack
        .botpress
        .users()
        .into_iter()
        .find(|user| user["tags"]["hubspotActorId"] == actor)
        .and_then(|user| user["id"].as_str().map(str::to_string))
        .expect("a Botpress user for the agent")
}
