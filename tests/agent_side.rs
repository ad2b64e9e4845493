//! The agent's side of a handoff, whole: attachments and rich text reaching the bot, who the
//! agent is (and what that costs), assignment changes, a reopened thread, and replies HubSpot
//! delivers out of order in separate deliveries.

use std::time::Duration;

use flow_support::{
    DEMO_AGENTS, Path, create_demo_customer, demo_customers_thread, eventually, on_both_paths,
    registered_stack, start_handoff, start_handoff_as, start_handoff_that_stays_opening, text,
};
use hitl_bridge::model::{AgentUser, SessionStatus};
use hitl_cli::sandbox_stack::SandboxStack;
use hitl_sandbox::faults::Failure;
use hitl_sandbox::hubspot::{AgentContent, HeldWebhook};
use serde_json::{Value, json};

const ACTORS: &str = "/conversations/v3/conversations/actors/";
const ACTORS_BATCH: &str = "/conversations/v3/conversations/actors/batch/read";

/// `(type, payload, hubspotMessageId tag)` of each message in the conversation, in order.
fn bot_messages(stack: &SandboxStack, conversation_id: &str) -> Vec<(String, Value, String)> {
    stack
        .botpress
        .messages_in(conversation_id)
        .into_iter()
        .map(|message| {
            (
                message["type"].as_str().unwrap().to_string(),
                message["payload"].clone(),
                message["tags"]["hubspotMessageId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn texts(stack: &SandboxStack, conversation_id: &str) -> Vec<String> {
    bot_messages(stack, conversation_id)
        .into_iter()
        .map(|(_, payload, _)| payload["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn status_of(stack: &SandboxStack, thread_id: &str, message_id: &str) -> String {
    let thread = stack.hubspot.thread(thread_id).unwrap();
    thread
        .messages
        .iter()
        .find(|message| message.id == message_id)
        .map(|message| message.status.clone())
        .expect("the agent's message is in the thread")
}

/// The help desk status of the thread's message reading `text`.
fn status_of_text(stack: &SandboxStack, thread_id: &str, text: &str) -> String {
    let thread = stack.hubspot.thread(thread_id).unwrap();
    thread
        .messages
        .iter()
        .find(|message| message.text == text)
        .map(|message| message.status.clone())
        .expect("the agent's message is in the thread")
}

/// The bot heard `hitlStopped` once, after the agent message created `index`-th (from 0).
fn the_bot_hears_hitl_stopped_once_after_message(stack: &SandboxStack, index: usize) {
    let recorder = stack.botpress.recorder();
    let message_created = recorder.matching("POST", "/v1/chat/messages/get-or-create")[index].at;
    let stopped: Vec<_> = recorder
        .matching("POST", "/v1/chat/events")
        .into_iter()
        .filter(|call| call.body.contains("hitlStopped"))
        .collect();
    assert_eq!(stopped.len(), 1);
    assert!(message_created <= stopped[0].at, "the reply before the end");
}

async fn attachments_follow_the_text_each_once_as_image_file_and_readable_lines(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let content = AgentContent {
        text: "Here is your label and invoice".to_string(),
        rich_text: None,
        attachments: json!([
            { "type": "FILE", "fileId": "901", "fileUsageType": "IMAGE", "name": "label.png",
              "url": "https://files.example.com/label.png" },
            { "type": "FILE", "fileId": "902", "fileUsageType": "OTHER", "name": "invoice.pdf",
              "url": "https://files.example.com/invoice.pdf" },
            { "type": "LOCATION", "latitude": 48.8566, "longitude": 2.3522, "name": "Pickup point" },
        ]),
        shown_chars: None,
    };
    let delivery = stack
        .hubspot
        .agent_reply_with(&handoff.thread_id, DEMO_AGENTS[0].0, content)
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    let retry = stack.hubspot.redeliver(&delivery).await.unwrap();
    assert_eq!(retry.status, 200, "{}", retry.response_body);

    let message_id = stack.hubspot.thread(&handoff.thread_id).unwrap().messages[1]
        .id
        .clone();
    let relayed = bot_messages(&stack, &handoff.conversation_id);
    assert_eq!(
        relayed,
        [
            (
                "text".to_string(),
                json!({ "text": "Here is your label and invoice" }),
                message_id.clone()
            ),
            (
                "image".to_string(),
                json!({ "imageUrl": "https://files.example.com/label.png" }),
                format!("{message_id}#1")
            ),
            (
                "file".to_string(),
                json!({ "fileUrl": "https://files.example.com/invoice.pdf", "title": "invoice.pdf" }),
                format!("{message_id}#2")
            ),
            (
                "text".to_string(),
                json!({ "text": "Location: Pickup point — 48.8566, 2.3522" }),
                format!("{message_id}#3")
            ),
        ],
        "each part once, in order, after the text"
    );
    let agent_user = stack.botpress.messages_in(&handoff.conversation_id)[1]["userId"].clone();
    assert!(
        stack
            .botpress
            .messages_in(&handoff.conversation_id)
            .iter()
            .all(|message| message["userId"] == agent_user && message["direction"] == "incoming")
    );
    assert_eq!(status_of(&stack, &handoff.thread_id, &message_id), "SENT");
}

async fn rich_text_reaches_the_bot_readable_with_its_links(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let content = AgentContent {
        text: "Track it here. Thanks & bye".to_string(),
        rich_text: Some(
            "<p>Track it <a href=\"https://track.example.com/p?id=1&amp;l=en\">here</a>.</p><p>Thanks &amp; bye</p>"
                .to_string(),
        ),
        attachments: json!([]),
        shown_chars: None,
    };
    let delivery = stack
        .hubspot
        .agent_reply_with(&handoff.thread_id, DEMO_AGENTS[0].0, content)
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["Track it here (https://track.example.com/p?id=1&l=en).\n\nThanks & bye"]
    );
}

/// Two threads, each assigned to an agent this process has never seen, in one delivery: one
/// batch read, no single reads.
async fn two_new_agents_in_one_delivery_cost_one_batch_read(path: Path) {
    let stack = registered_stack(path).await;
    let mut handoffs = Vec::new();
    for n in 0..2 {
        let email = format!("batch-agents{n}@example.com");
        stack
            .hubspot
            .add_contact(Some(&email), None, &format!("Customer {n}"));
        handoffs.push(start_handoff_as(&stack, &format!("Customer {n}"), &email).await);
    }
    let base = chrono::Utc::now().timestamp_millis();
    let events: Vec<Value> = handoffs
        .iter()
        .enumerate()
        .map(|(n, handoff)| {
            json!({
                "eventId": 77_000 + n, "subscriptionId": 1, "portalId": 243842089, "appId": 1098266,
                "occurredAt": base + n as i64, "subscriptionType": "conversation.propertyChange",
                "attemptNumber": 0, "objectId": handoff.thread_id.parse::<u64>().unwrap(),
                "propertyName": "assignedTo", "propertyValue": DEMO_AGENTS[n].0, "changeSource": "AGENT"
            })
        })
        .collect();
    let delivery = stack
        .hubspot
        .deliver_raw(
            &stack.settings.hubspot_webhook_url(),
            Value::Array(events).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);

    let recorder = stack.hubspot.recorder();
    assert_eq!(recorder.count("POST", ACTORS_BATCH), 1);
    assert_eq!(recorder.count("GET", ACTORS), 0, "no single reads");
    let batch = recorder.matching("POST", ACTORS_BATCH)[0].json();
    let mut asked: Vec<String> = batch["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    asked.sort();
    assert_eq!(asked, [DEMO_AGENTS[0].0, DEMO_AGENTS[1].0]);
    for (n, handoff) in handoffs.iter().enumerate() {
        let assigned: Vec<Value> = stack
            .botpress
            .events_of_type("hitlAssigned")
            .into_iter()
            .filter(|event| event["payload"]["conversationId"] == json!(handoff.conversation_id))
            .collect();
        assert_eq!(assigned.len(), 1);
        let user = stack
            .botpress
            .user(assigned[0]["payload"]["userId"].as_str().unwrap())
            .unwrap();
        assert_eq!(user["name"], DEMO_AGENTS[n].1);
        assert!(
            user["pictureUrl"]
                .as_str()
                .is_some_and(|url| url.starts_with("https://")),
            "the agent's avatar: {user}"
        );
    }
}

/// Assigned, then five replies: the agent is looked up once in all, and each reply costs two
/// HubSpot calls (the thread read that keeps replies in order, and the SENT status).
async fn a_busy_thread_looks_the_agent_up_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (actor_id, agent_name, _) = DEMO_AGENTS[0];
    let assigned = stack
        .hubspot
        .assign(&handoff.thread_id, actor_id)
        .await
        .unwrap();
    assert_eq!(assigned.status, 200, "{}", assigned.response_body);
    let recorder = stack.hubspot.recorder();
    let before = recorder.len();
    for n in 1..=5 {
        let delivery = stack
            .hubspot
            .agent_reply(&handoff.thread_id, actor_id, &format!("reply {n}"))
            .await
            .unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    }
    assert_eq!(
        recorder.count("GET", ACTORS) + recorder.count("POST", ACTORS_BATCH),
        1,
        "one actor lookup in all"
    );
    let per_reply: Vec<String> = recorder.calls()[before..]
        .iter()
        .filter(|call| !call.path.starts_with("/oauth/"))
        .map(|call| format!("{} {}", call.method, call.path))
        .collect();
    assert_eq!(
        per_reply.len(),
        10,
        "two HubSpot calls per reply: {per_reply:?}"
    );
    let history_reads = per_reply
        .iter()
        .filter(|call| call.starts_with("GET /conversations/v3/conversations/threads/"))
        .count();
    assert_eq!(history_reads, 5, "{per_reply:?}");
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["reply 1", "reply 2", "reply 3", "reply 4", "reply 5"]
    );
    let agents: Vec<Value> = stack
        .botpress
        .users()
        .into_iter()
        .filter(|user| user["tags"]["hubspotActorId"] == actor_id)
        .collect();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["name"], agent_name);
}

/// The `hitlAssigned` events of a conversation, as the agents' names.
fn assigned_names(stack: &SandboxStack, conversation_id: &str) -> Vec<String> {
    stack
        .botpress
        .events_of_type("hitlAssigned")
        .into_iter()
        .filter(|event| event["payload"]["conversationId"] == json!(conversation_id))
        .map(|event| {
            let user = stack
                .botpress
                .user(event["payload"]["userId"].as_str().unwrap())
                .unwrap();
            user["name"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn reassignment_and_assignment_after_unassignment_tell_the_bot_once_each(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let ((ada, ada_name, _), (grace, grace_name, _)) = (DEMO_AGENTS[0], DEMO_AGENTS[1]);
    assert_eq!(
        stack
            .hubspot
            .assign(&handoff.thread_id, ada)
            .await
            .unwrap()
            .status,
        200
    );
    let to_grace = stack
        .hubspot
        .assign(&handoff.thread_id, grace)
        .await
        .unwrap();
    assert_eq!(to_grace.status, 200, "{}", to_grace.response_body);
    assert_eq!(
        assigned_names(&stack, &handoff.conversation_id),
        [ada_name, grace_name],
        "reassignment names the new agent"
    );

    // HubSpot's retry of the same assignment, and the same assignment under a new event id.
    assert_eq!(
        stack.hubspot.redeliver(&to_grace).await.unwrap().status,
        200
    );
    assert_eq!(
        stack
            .hubspot
            .assign(&handoff.thread_id, grace)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        assigned_names(&stack, &handoff.conversation_id).len(),
        2,
        "nothing new"
    );

    let unassigned = stack.hubspot.unassign(&handoff.thread_id).await.unwrap();
    assert_eq!(unassigned.status, 200, "{}", unassigned.response_body);
    assert_eq!(assigned_names(&stack, &handoff.conversation_id).len(), 2);
    assert_eq!(
        stack
            .hubspot
            .assign(&handoff.thread_id, grace)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        stack
            .hubspot
            .unassign(&handoff.thread_id)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        stack
            .hubspot
            .assign(&handoff.thread_id, ada)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        assigned_names(&stack, &handoff.conversation_id),
        [ada_name, grace_name, grace_name, ada_name],
        "after an unassignment, the same or another agent is announced again"
    );
}

/// A HubSpot delivery of one `assignedTo` change of `thread_id` to `actor`, as crafted by hand.
fn assignment_event(thread_id: &str, event_id: u64, actor: &str, occurred_at: i64) -> String {
    json!([{
        "eventId": event_id, "subscriptionId": 1, "portalId": 243842089, "appId": 1098266,
        "occurredAt": occurred_at, "subscriptionType": "conversation.propertyChange",
        "attemptNumber": 0, "objectId": thread_id.parse::<u64>().unwrap(),
        "propertyName": "assignedTo", "propertyValue": actor, "changeSource": "AGENT"
    }])
    .to_string()
}

/// HubSpot delivers "assigned to Grace" before the older "assigned to Ada", each on its own:
/// the bot hears Grace once and never Ada, and HubSpot's retry of Ada's changes nothing.
async fn an_older_assignment_delivered_after_a_newer_one_is_not_announced(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let ((ada, _, _), (grace, grace_name, _)) = (DEMO_AGENTS[0], DEMO_AGENTS[1]);
    let assigned_at = chrono::Utc::now().timestamp_millis();
    let assignment = |event_id: u64, actor: &str, occurred_at: i64| {
        assignment_event(&handoff.thread_id, event_id, actor, occurred_at)
    };
    let url = stack.settings.hubspot_webhook_url();
    let to_grace = stack
        .hubspot
        .deliver_raw(&url, assignment(78_001, grace, assigned_at + 1_000))
        .await
        .unwrap();
    assert_eq!(to_grace.status, 200, "{}", to_grace.response_body);
    let to_ada = stack
        .hubspot
        .deliver_raw(&url, assignment(78_000, ada, assigned_at))
        .await
        .unwrap();
    assert_eq!(to_ada.status, 200, "{}", to_ada.response_body);
    assert_eq!(stack.hubspot.redeliver(&to_ada).await.unwrap().status, 200);
    assert_eq!(
        assigned_names(&stack, &handoff.conversation_id),
        [grace_name],
        "the older assignment is acknowledged, not announced"
    );
}

/// Two changes of a thread's agent that HubSpot dated the same millisecond, each delivered on
/// its own (Ada, then Grace under the later event id): HubSpot's retry of Ada's, after Grace's,
/// changes nothing, and so does a change of that millisecond under an earlier event id. The
/// bot is told each agent once and is left with Grace.
async fn a_retried_assignment_dated_like_a_later_one_changes_nothing(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let ((ada, ada_name, _), (grace, grace_name, _)) = (DEMO_AGENTS[0], DEMO_AGENTS[1]);
    let at = chrono::Utc::now().timestamp_millis();
    let assignment =
        |event_id: u64, actor: &str| assignment_event(&handoff.thread_id, event_id, actor, at);
    let url = stack.settings.hubspot_webhook_url();
    let to_ada = stack
        .hubspot
        .deliver_raw(&url, assignment(78_100, ada))
        .await
        .unwrap();
    assert_eq!(to_ada.status, 200, "{}", to_ada.response_body);
    let to_grace = stack
        .hubspot
        .deliver_raw(&url, assignment(78_101, grace))
        .await
        .unwrap();
    assert_eq!(to_grace.status, 200, "{}", to_grace.response_body);
    let retried = stack.hubspot.redeliver(&to_ada).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    let earlier = stack
        .hubspot
        .deliver_raw(&url, assignment(78_099, ada))
        .await
        .unwrap();
    assert_eq!(earlier.status, 200, "{}", earlier.response_body);
    assert_eq!(
        assigned_names(&stack, &handoff.conversation_id),
        [ada_name, grace_name],
        "each agent told once, Grace last"
    );
}

/// An assignment change HubSpot did not date (`occurredAt` 0) is taken as made on arrival,
/// so it has no mark of its own to find on a retry: its event key keeps HubSpot's retry of
/// it, arriving after a later change, from announcing its agent again.
async fn a_retried_undated_assignment_is_not_announced_again(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let ((ada, ada_name, _), (grace, grace_name, _)) = (DEMO_AGENTS[0], DEMO_AGENTS[1]);
    let url = stack.settings.hubspot_webhook_url();
    let to_ada = stack
        .hubspot
        .deliver_raw(&url, assignment_event(&handoff.thread_id, 78_300, ada, 0))
        .await
        .unwrap();
    assert_eq!(to_ada.status, 200, "{}", to_ada.response_body);
    let grace_at = chrono::Utc::now().timestamp_millis();
    let to_grace = stack
        .hubspot
        .deliver_raw(
            &url,
            assignment_event(&handoff.thread_id, 78_301, grace, grace_at),
        )
        .await
        .unwrap();
    assert_eq!(to_grace.status, 200, "{}", to_grace.response_body);
    // Taken as made now, the retry would be the newest change.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let retried = stack.hubspot.redeliver(&to_ada).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(
        assigned_names(&stack, &handoff.conversation_id),
        [ada_name, grace_name],
        "each agent told once, Grace last"
    );
}

/// HubSpot sends one assignment again while its first delivery is still being relayed (its
/// `hitlAssigned` held): the second cannot start while the first holds the thread, and is
/// refused as in progress; its retry finds the change applied. The bot hears the agent once.
async fn the_same_assignment_delivered_twice_at_once_is_announced_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (ada, ada_name, _) = DEMO_AGENTS[0];
    let at = chrono::Utc::now().timestamp_millis();
    let assignment = assignment_event(&handoff.thread_id, 78_400, ada, at);
    let url = stack.settings.hubspot_webhook_url();
    let held = stack.botpress.hold_next_answer("/v1/chat/events");
    let (first, again) = tokio::join!(stack.hubspot.deliver_raw(&url, assignment.clone()), async {
        held.arrived().await;
        let again = stack.hubspot.deliver_raw(&url, assignment.clone()).await;
        held.release();
        again
    });
    let (first, again) = (first.unwrap(), again.unwrap());
    assert_eq!(first.status, 200, "{}", first.response_body);
    assert_eq!(again.status, 503, "{}", again.response_body);
    let retried = stack.hubspot.redeliver(&again).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(assigned_names(&stack, &handoff.conversation_id), [ada_name]);
}

/// A thread reopened after the agent closed it: acknowledged, nothing reaches the bot (it was
/// told `hitlStopped`), and the agent's next message is marked FAILED with the reason.
async fn a_reopened_thread_is_acknowledged_and_the_agent_told_replies_do_not_reach_the_customer(
    path: Path,
) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    assert_eq!(
        stack
            .hubspot
            .close(&handoff.thread_id)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(stack.botpress.events_of_type("hitlStopped").len(), 1);

    let reopened = stack.hubspot.reopen(&handoff.thread_id).await.unwrap();
    assert_eq!(reopened.status, 200, "{}", reopened.response_body);
    let assigned = stack
        .hubspot
        .assign(&handoff.thread_id, DEMO_AGENTS[0].0)
        .await
        .unwrap();
    assert_eq!(assigned.status, 200);
    let late = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Are you still there?")
        .await
        .unwrap();
    assert_eq!(late.status, 200, "{}", late.response_body);
    assert_eq!(stack.hubspot.redeliver(&late).await.unwrap().status, 200);

    assert!(
        stack
            .botpress
            .messages_in(&handoff.conversation_id)
            .is_empty()
    );
    assert!(stack.botpress.events_of_type("hitlAssigned").is_empty());
    assert_eq!(stack.botpress.events_of_type("hitlStopped").len(), 1);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let message = thread.messages.last().unwrap();
    assert_eq!(message.status, "FAILED");
    assert_eq!(
        stack
            .hubspot
            .recorder()
            .matching("PATCH", "/conversations/v3/custom-channels/")
            .len(),
        1,
        "told once, even when HubSpot retries"
    );
    assert_eq!(
        thread.status, "OPEN",
        "the agent reopened it: no close was left for later, so none is made"
    );
}

/// The agent writes three replies; HubSpot delivers them newest first, each on its own. The
/// bot still gets them in the order written, each once.
async fn replies_delivered_out_of_order_in_separate_deliveries_arrive_in_order_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let actor = DEMO_AGENTS[0].0;
    let mut held = Vec::new();
    for n in 1..=3 {
        held.push(
            stack
                .hubspot
                .agent_writes(
                    &handoff.thread_id,
                    actor,
                    AgentContent::text(&format!("step {n}")),
                )
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for webhook in held.iter().rev() {
        let delivery = stack.hubspot.deliver_held(webhook).await.unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    }
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["step 1", "step 2", "step 3"]
    );
    // HubSpot's retries of all three change nothing.
    for webhook in &held {
        assert_eq!(
            stack.hubspot.deliver_held(webhook).await.unwrap().status,
            200
        );
    }
    assert_eq!(texts(&stack, &handoff.conversation_id).len(), 3);
    for webhook in &held {
        assert_eq!(
            status_of(&stack, &handoff.thread_id, &webhook.message_id),
            "SENT"
        );
    }

    // A later reply delivered in order reads the thread once and relays just itself.
    let next = stack
        .hubspot
        .agent_reply(&handoff.thread_id, actor, "step 4")
        .await
        .unwrap();
    assert_eq!(next.status, 200, "{}", next.response_body);
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["step 1", "step 2", "step 3", "step 4"]
    );
}

/// The earlier reply's own delivery is still being relayed (its thread read is rate-limited for
/// three seconds) when the later one arrives: the later one does not overtake it; it waits for
/// it 1.5 s, is then refused with 503, and HubSpot's retry relays it after.
async fn a_reply_waits_for_an_earlier_one_still_being_relayed(path: Path) {
    let (stack, handoff, second_delivery) = a_reply_behind_one_in_flight_for(path, 3).await;
    let mut second_delivery = second_delivery;
    assert_eq!(
        second_delivery.status, 503,
        "refused while the earlier reply is in flight: {}",
        second_delivery.response_body
    );
    for _ in 0..20 {
        if second_delivery.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        second_delivery = stack.hubspot.redeliver(&second_delivery).await.unwrap();
    }
    assert_eq!(
        second_delivery.status, 200,
        "{}",
        second_delivery.response_body
    );
    assert_eq!(texts(&stack, &handoff.conversation_id), ["first", "second"]);
}

/// The earlier reply's own delivery ends within the 1.5 s the later one waits for it (its
/// thread read is rate-limited for one second): the later one goes right after it, with no 503
/// and no wait for HubSpot's retry.
async fn a_reply_behind_one_about_to_finish_waits_and_goes_at_once(path: Path) {
    let (stack, handoff, second_delivery) = a_reply_behind_one_in_flight_for(path, 1).await;
    assert_eq!(
        second_delivery.status, 200,
        "{}",
        second_delivery.response_body
    );
    assert_eq!(texts(&stack, &handoff.conversation_id), ["first", "second"]);
}

/// Two replies, the later delivered 300 ms after the earlier, whose thread read HubSpot
/// rate-limits for `seconds`: the stack, the handoff, and the later one's delivery.
async fn a_reply_behind_one_in_flight_for(
    path: Path,
    seconds: u32,
) -> (
    SandboxStack,
    flow_support::Handoff,
    hitl_sandbox::hubspot::Delivery,
) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let actor = DEMO_AGENTS[0].0;
    let first = stack
        .hubspot
        .agent_writes(&handoff.thread_id, actor, AgentContent::text("first"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = stack
        .hubspot
        .agent_writes(&handoff.thread_id, actor, AgentContent::text("second"))
        .unwrap();
    let slow_read = Failure {
        status: 429,
        retry_after: Some(seconds),
    };
    stack
        .hubspot
        .faults()
        .fail_next("/conversations/v3/conversations/threads/", slow_read, 1);
    let (first_delivery, second_delivery) =
        tokio::join!(stack.hubspot.deliver_held(&first), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stack.hubspot.deliver_held(&second).await
        });
    let first_delivery = first_delivery.unwrap();
    assert_eq!(
        first_delivery.status, 200,
        "{}",
        first_delivery.response_body
    );
    (stack, handoff, second_delivery.unwrap())
}

/// Inbox routing can assign a thread, or an agent close it, in the moment between the thread's
/// creation and its bot conversation's (`startHitl` still running, or failed and about to be
/// retried). Those changes are refused with 503 instead of acknowledged and lost: HubSpot's
/// retries relay them, in order, once the handoff is open.
async fn an_assignment_and_a_close_while_the_handoff_opens_reach_the_bot_once_it_is_open(
    path: Path,
) {
    let stack = registered_stack(path).await;
    // The bot conversation cannot be made yet (Botpress unavailable through every retry):
    // the thread is opened, the handoff is not.
    let (user_id, thread_id) = start_handoff_that_stays_opening(&stack).await;

    let (ada, ada_name, _) = DEMO_AGENTS[0];
    let assigned = stack.hubspot.assign(&thread_id, ada).await.unwrap();
    assert_eq!(assigned.status, 503, "{}", assigned.response_body);
    let closed = stack.hubspot.close(&thread_id).await.unwrap();
    assert_eq!(closed.status, 503, "{}", closed.response_body);
    assert!(
        stack.botpress.events().is_empty(),
        "the bot hears nothing yet"
    );

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Order did not arrive"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let conversation_id = text(&started.body, "/output/conversationId");
    for delivery in [&assigned, &closed, &assigned, &closed] {
        let retry = stack.hubspot.redeliver(delivery).await.unwrap();
        assert_eq!(retry.status, 200, "{}", retry.response_body);
    }
    assert_eq!(assigned_names(&stack, &conversation_id), [ada_name]);
    let stops = stack.botpress.events_of_type("hitlStopped");
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(
        stops[0]["payload"]["conversationId"],
        json!(conversation_id)
    );
}

/// A batch with one event the bridge cannot read (no thread id): the others are relayed and
/// the delivery acknowledged, with the broken one counted as failed, instead of the whole
/// batch refused on every retry until HubSpot gives up on the good events with it.
async fn one_broken_event_does_not_hold_back_the_rest_of_its_batch(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (ada, ada_name, _) = DEMO_AGENTS[0];
    let occurred_at = chrono::Utc::now().timestamp_millis();
    let batch = json!([
        {
            "eventId": 79_000, "subscriptionId": 1, "portalId": 243842089, "appId": 1098266,
            "occurredAt": occurred_at, "subscriptionType": "conversation.propertyChange",
            "attemptNumber": 0, "objectId": handoff.thread_id.parse::<u64>().unwrap(),
            "propertyName": "assignedTo", "propertyValue": ada, "changeSource": "AGENT"
        },
        {
            "eventId": 79_001, "subscriptionId": 1, "portalId": 243842089, "appId": 1098266,
            "occurredAt": occurred_at, "subscriptionType": "conversation.propertyChange",
            "attemptNumber": 0, "propertyName": "status", "propertyValue": "CLOSED"
        }
    ]);
    let url = stack.settings.hubspot_webhook_url();
    let delivery = stack
        .hubspot
        .deliver_raw(&url, batch.to_string())
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    let summary: Value = serde_json::from_str(&delivery.response_body).unwrap();
    assert_eq!(
        (&summary["relayed"], &summary["failed"]),
        (&json!(1), &json!(1)),
        "{summary}"
    );
    assert_eq!(assigned_names(&stack, &handoff.conversation_id), [ada_name]);
    assert!(stack.botpress.events_of_type("hitlStopped").is_empty());
}

/// Two reassignments in separate deliveries at once: Grace's (the newer) is announced first
/// and its answer held, so she is not yet recorded, while Ada's (older) delivery runs. Read
/// then, the thread looked unassigned to both, and the bot heard Ada last while Grace was
/// recorded. Now Ada's change cannot start while Grace's holds the thread: it is refused as in
/// progress (the hold outlasts its wait), and HubSpot's retry finds it older than Grace's:
/// the bot hears Grace alone.
async fn reassignments_delivered_at_once_leave_the_bot_with_the_newer_agent(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let ((ada, _, _), (grace, grace_name, _)) = (DEMO_AGENTS[0], DEMO_AGENTS[1]);
    let at = chrono::Utc::now().timestamp_millis();
    let assignment = |event_id: u64, actor: &str, occurred_at: i64| {
        assignment_event(&handoff.thread_id, event_id, actor, occurred_at)
    };
    let url = stack.settings.hubspot_webhook_url();
    let held = stack.botpress.hold_next_answer("/v1/chat/events");
    let (newer, older) = tokio::join!(
        stack
            .hubspot
            .deliver_raw(&url, assignment(79_200, grace, at + 1_000)),
        async {
            held.arrived().await;
            let older = stack
                .hubspot
                .deliver_raw(&url, assignment(79_201, ada, at))
                .await;
            held.release();
            older
        }
    );
    let (newer, older) = (newer.unwrap(), older.unwrap());
    assert_eq!(newer.status, 200, "{}", newer.response_body);
    assert_eq!(older.status, 503, "{}", older.response_body);
    let retried = stack.hubspot.redeliver(&older).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(
        assigned_names(&stack, &handoff.conversation_id),
        [grace_name]
    );
}

/// The agent closes the thread while its assignment is still being relayed (the agent's
/// Botpress user being made): the close cannot start while the assignment holds the thread,
/// and is refused as in progress; its retry ends the handoff. The bot hears the agent
/// assigned, then the handoff stopped, where before it heard the agent assigned after the
/// handoff had ended.
async fn a_close_while_an_assignment_is_relayed_comes_after_it(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (ada, ada_name, _) = DEMO_AGENTS[0];
    let at = chrono::Utc::now().timestamp_millis();
    let url = stack.settings.hubspot_webhook_url();
    let held = stack.botpress.hold_next("/v1/chat/users/get-or-create");
    let (assigned, closed) = tokio::join!(
        stack
            .hubspot
            .deliver_raw(&url, assignment_event(&handoff.thread_id, 78_500, ada, at)),
        async {
            held.arrived().await;
            let closed = stack.hubspot.close(&handoff.thread_id).await;
            held.release();
            closed
        }
    );
    let (assigned, closed) = (assigned.unwrap(), closed.unwrap());
    assert_eq!(assigned.status, 200, "{}", assigned.response_body);
    assert_eq!(closed.status, 503, "{}", closed.response_body);
    let retried = stack.hubspot.redeliver(&closed).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    let heard: Vec<String> = stack
        .botpress
        .events()
        .iter()
        .filter(|event| event["payload"]["conversationId"] == json!(handoff.conversation_id))
        .map(|event| event["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(heard, ["hitlAssigned", "hitlStopped"]);
    assert_eq!(assigned_names(&stack, &handoff.conversation_id), [ada_name]);
}

/// HubSpot reuses an `eventId` ("not guaranteed to be unique"): an assignment, then a close
/// of the same thread under the same id, in separate deliveries. Both reach the bot, each once
/// (a retry of either is still a duplicate).
async fn two_changes_under_one_event_id_both_reach_the_bot(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (ada, ada_name, _) = DEMO_AGENTS[0];
    let occurred_at = chrono::Utc::now().timestamp_millis();
    let change = |name: &str, value: &str, at: i64| {
        json!([{
            "eventId": 79_100, "subscriptionId": 1, "portalId": 243842089, "appId": 1098266,
            "occurredAt": at, "subscriptionType": "conversation.propertyChange",
            "attemptNumber": 0, "objectId": handoff.thread_id.parse::<u64>().unwrap(),
            "propertyName": name, "propertyValue": value, "changeSource": "AGENT"
        }])
        .to_string()
    };
    let url = stack.settings.hubspot_webhook_url();
    let assigned = stack
        .hubspot
        .deliver_raw(&url, change("assignedTo", ada, occurred_at))
        .await
        .unwrap();
    let closed = stack
        .hubspot
        .deliver_raw(&url, change("status", "CLOSED", occurred_at + 1))
        .await
        .unwrap();
    for delivery in [&assigned, &closed] {
        assert_eq!(delivery.status, 200, "{}", delivery.response_body);
        let retry = stack.hubspot.redeliver(delivery).await.unwrap();
        assert_eq!(retry.status, 200, "{}", retry.response_body);
    }
    assert_eq!(assigned_names(&stack, &handoff.conversation_id), [ada_name]);
    assert_eq!(stack.botpress.events_of_type("hitlStopped").len(), 1);
}

/// Delivers the held webhook's event as `alter` changes it (signed as HubSpot signs).
async fn deliver_altered(
    stack: &SandboxStack,
    held: &HeldWebhook,
    alter: impl FnOnce(&mut Value),
) -> hitl_sandbox::hubspot::Delivery {
    let mut event: Value = serde_json::from_str(&held.body).unwrap();
    alter(&mut event);
    stack
        .hubspot
        .deliver_raw(&held.url, event.to_string())
        .await
        .unwrap()
}

/// A reply whose event leaves out `message.createdAt` (the bridge then times it by the event's
/// later `eventTimestamp`): the thread's history lists the reply itself as written before
/// that time, and it must not be taken for an earlier reply it waits for. It reaches the
/// customer once.
async fn a_reply_timed_by_its_event_does_not_wait_for_itself(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let earlier = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Hello")
        .await
        .unwrap();
    assert_eq!(earlier.status, 200, "{}", earlier.response_body);
    let held = stack
        .hubspot
        .agent_writes(
            &handoff.thread_id,
            DEMO_AGENTS[0].0,
            AgentContent::text("Your parcel left today"),
        )
        .unwrap();
    let delivery = deliver_altered(&stack, &held, |event| {
        let written =
            chrono::DateTime::parse_from_rfc3339(event["message"]["createdAt"].as_str().unwrap())
                .unwrap();
        event["message"]
            .as_object_mut()
            .unwrap()
            .remove("createdAt");
        event["eventTimestamp"] = json!(
            (written + chrono::TimeDelta::seconds(2))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    })
    .await;
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["Hello", "Your parcel left today"]
    );
}

/// An agent writes on our channel in a thread no handoff of the bridge has (one an agent
/// started on the channel, or whose closed handoff expired): the message reaches nobody, and
/// the agent sees it FAILED with the reason rather than seemingly sent.
async fn a_reply_in_a_thread_without_a_handoff_is_marked_failed(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let held = stack
        .hubspot
        .agent_writes(
            &handoff.thread_id,
            DEMO_AGENTS[0].0,
            AgentContent::text("Hello?"),
        )
        .unwrap();
    let delivery = deliver_altered(&stack, &held, |event| {
        event["message"]["conversationsThreadId"] = json!("987654321");
        event["channelIntegrationThreadIds"] = json!([]);
    })
    .await;
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert!(texts(&stack, &handoff.conversation_id).is_empty());
    assert_eq!(
        status_of(&stack, &handoff.thread_id, &held.message_id),
        "FAILED"
    );
}

/// An agent's message with nothing the bot can show (no text, only a message header): marked
/// FAILED for the agent and acknowledged, not refused for HubSpot to retry for a day with the
/// agent seeing no status; the agent's next reply is not held back by it.
async fn a_reply_with_nothing_to_relay_is_marked_failed_and_holds_back_nothing(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let blank = AgentContent {
        text: " ".to_string(),
        rich_text: None,
        attachments: json!([{ "type": "MESSAGE_HEADER", "subject": "Re: your order" }]),
        shown_chars: None,
    };
    let held = stack
        .hubspot
        .agent_writes(&handoff.thread_id, DEMO_AGENTS[0].0, blank)
        .unwrap();
    let delivery = stack.hubspot.deliver_held(&held).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    let retry = stack.hubspot.redeliver(&delivery).await.unwrap();
    assert_eq!(retry.status, 200, "{}", retry.response_body);
    assert_eq!(
        status_of(&stack, &handoff.thread_id, &held.message_id),
        "FAILED"
    );
    let next = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Hello")
        .await
        .unwrap();
    assert_eq!(next.status, 200, "{}", next.response_body);
    assert_eq!(texts(&stack, &handoff.conversation_id), ["Hello"]);
    assert_eq!(status_of_text(&stack, &handoff.thread_id, "Hello"), "SENT");
}

/// HubSpot refuses for good to list the thread's history (a scope the install lacks, say): the
/// reply still reaches the customer, marked SENT, instead of being acknowledged and dropped.
async fn a_reply_whose_thread_history_cannot_be_read_still_reaches_the_customer(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let history = format!(
        "/conversations/v3/conversations/threads/{}/messages",
        handoff.thread_id
    );
    stack.hubspot.faults().fail_ratio(
        &history,
        Failure {
            status: 403,
            retry_after: None,
        },
        1.0,
    );
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "On it")
        .await
        .unwrap();
    assert!(
        stack.hubspot.faults().injected() > 0,
        "the history read was refused"
    );
    stack.hubspot.faults().clear();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert_eq!(texts(&stack, &handoff.conversation_id), ["On it"]);
    assert_eq!(status_of_text(&stack, &handoff.thread_id, "On it"), "SENT");
}

/// An agent moves the thread to the trash (`conversation.deletion`, for an app subscribed to
/// it): the bot hears `hitlStopped` once, as for a close, and HubSpot's retry changes nothing.
async fn a_thread_moved_to_the_trash_ends_the_handoff_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let deletion = |event_id: u64| {
        json!([{
            "eventId": event_id, "subscriptionId": 2, "portalId": 243842089, "appId": 1098266,
            "occurredAt": chrono::Utc::now().timestamp_millis(),
            "subscriptionType": "conversation.deletion", "attemptNumber": 0,
            "objectId": handoff.thread_id.parse::<u64>().unwrap(), "changeSource": "AGENT"
        }])
        .to_string()
    };
    let url = stack.settings.hubspot_webhook_url();
    for event_id in [81_000, 81_000, 81_001] {
        let delivery = stack
            .hubspot
            .deliver_raw(&url, deletion(event_id))
            .await
            .unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    }
    let stopped = stack.botpress.events_of_type("hitlStopped");
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    let reply = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Still there?")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    assert!(
        texts(&stack, &handoff.conversation_id).is_empty(),
        "the handoff is over"
    );
}

/// A handoff whose thread the agent closes while Botpress answers `hitlStopped` with
/// `status`, once: HubSpot's delivery is acknowledged and the bot has heard nothing.
async fn closed_while_botpress_refuses_hitl_stopped(
    path: Path,
    status: u16,
) -> (SandboxStack, flow_support::Handoff) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stack.botpress.fail_next("/v1/chat/events", status, 1);
    let closed = stack.hubspot.close(&handoff.thread_id).await.unwrap();
    assert_eq!(closed.status, 200, "{}", closed.response_body);
    assert!(stack.botpress.events_of_type("hitlStopped").is_empty());
    (stack, handoff)
}

/// The agent closes the thread and Botpress refuses `hitlStopped` for good (a 404: the bot's
/// conversation is gone). The handoff still ends: the agent's later replies do not reach the
/// customer, and the customer's next request for a person opens a new thread instead of
/// being sent back to the closed one.
async fn a_close_the_bot_refuses_to_hear_still_ends_the_handoff(path: Path) {
    let (stack, handoff) = closed_while_botpress_refuses_hitl_stopped(path, 404).await;
    let store = stack.bridge.relay.store();
    assert!(
        store
            .find_by_thread(&handoff.thread_id)
            .await
            .unwrap()
            .is_none_or(|session| session.status == SessionStatus::Closed),
        "the handoff is over"
    );
    let reply = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Still there?")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    assert!(texts(&stack, &handoff.conversation_id).is_empty());

    let again = stack
        .caller
        .start_hitl(&handoff.user_id, Some("Still waiting"), None, json!([]))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let conversation_id = text(&again.body, "/output/conversationId");
    assert_ne!(conversation_id, handoff.conversation_id, "a new handoff");
    let session = store
        .find_by_conversation(&conversation_id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(session.thread_id, Some(handoff.thread_id), "a new thread");
}

/// Botpress refuses `hitlStopped` for another reason than a conversation gone (a 403: the
/// integration's token rejected): the bot still holds the handoff open, so the bridge does
/// too, and the customer's messages still reach the thread.
async fn a_close_the_bot_refuses_for_another_reason_leaves_the_handoff_open(path: Path) {
    let (stack, handoff) = closed_while_botpress_refuses_hitl_stopped(path, 403).await;
    let session = stack
        .bridge
        .relay
        .store()
        .find_by_thread(&handoff.thread_id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(session.status, SessionStatus::Closed);
    let (_, sent) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, "Hello?")
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(thread.messages.last().unwrap().text, "Hello?");
}

/// HubSpot sends only the start of a long reply (`truncationStatus: TRUNCATED`): the customer
/// gets every word, read from the message's original content, once.
async fn a_reply_hubspot_truncated_reaches_the_customer_whole(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let long: String = (0..400).map(|n| format!("word{n} ")).collect();
    let long = long.trim_end().to_string();
    let held = stack
        .hubspot
        .agent_writes(
            &handoff.thread_id,
            DEMO_AGENTS[0].0,
            AgentContent::text(&long).truncated_to(500),
        )
        .unwrap();
    assert!(
        held.body.contains("\"TRUNCATED\""),
        "the event carries the start only"
    );
    for _ in 0..2 {
        let delivery = stack.hubspot.deliver_held(&held).await.unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    }
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        std::slice::from_ref(&long)
    );
    assert_eq!(
        status_of(&stack, &handoff.thread_id, &held.message_id),
        "SENT"
    );

    // HubSpot refuses the whole for good: the start goes, and the agent is told only it did.
    stack.hubspot.faults().fail_ratio(
        "/conversations/v3/conversations/threads/",
        Failure {
            status: 403,
            retry_after: None,
        },
        1.0,
    );
    let held = stack
        .hubspot
        .agent_writes(
            &handoff.thread_id,
            DEMO_AGENTS[0].0,
            AgentContent::text(&format!("again {long}")).truncated_to(500),
        )
        .unwrap();
    let delivery = stack.hubspot.deliver_held(&held).await.unwrap();
    stack.hubspot.faults().clear();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    let relayed = texts(&stack, &handoff.conversation_id);
    assert_eq!(relayed.len(), 2);
    let whole = format!("again {long}");
    assert!(
        whole.starts_with(&relayed[1]) && relayed[1].len() < whole.len(),
        "the start HubSpot sent: {} of {} characters",
        relayed[1].len(),
        whole.len()
    );
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let message = thread
        .messages
        .iter()
        .find(|m| m.id == held.message_id)
        .unwrap();
    assert_eq!(message.status, "FAILED");
}

/// HubSpot opened the thread but its answer never reached the bridge, so the handoff does not
/// know its thread yet, and an agent replies there before `startHitl`'s retry: the reply waits
/// (503, found by the `integrationThreadId` its event names) and reaches the customer once the
/// retry has opened the handoff, instead of being taken for a stranger's thread and dropped.
async fn a_reply_on_a_thread_whose_opening_answer_was_lost_waits_for_the_handoff(path: Path) {
    let stack = registered_stack(path).await;
    let (user_id, thread_id) = start_hitl_whose_opening_answer_is_lost(&stack).await;

    let held = stack
        .hubspot
        .agent_writes(
            &thread_id,
            DEMO_AGENTS[0].0,
            AgentContent::text("I am here"),
        )
        .unwrap();
    let early = stack.hubspot.deliver_held(&held).await.unwrap();
    assert_eq!(early.status, 503, "{}", early.response_body);

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(stack.hubspot.threads().len(), 1, "the same thread");
    let conversation_id = text(&started.body, "/output/conversationId");
    let retried = stack.hubspot.deliver_held(&held).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(texts(&stack, &conversation_id), ["I am here"]);
}

/// An agent takes the thread while `startHitl`'s answer is lost: the assignment's webhook
/// names no `integrationThreadId`, finds no session and is acknowledged. When the retry opens
/// the handoff, the bridge reads who has the thread and tells the bot, once: HubSpot
/// delivering that webhook again announces nothing more.
async fn an_assignment_while_the_opening_answer_was_lost_reaches_the_bot_once_it_opens(path: Path) {
    let stack = registered_stack(path).await;
    let (user_id, thread_id) = start_hitl_whose_opening_answer_is_lost(&stack).await;
    let (ada, ada_name, _) = DEMO_AGENTS[0];
    let unknown_then = stack.hubspot.assign(&thread_id, ada).await.unwrap();
    assert_eq!(unknown_then.status, 200, "{}", unknown_then.response_body);
    assert!(stack.botpress.events().is_empty());

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let conversation_id = text(&started.body, "/output/conversationId");
    assert_eq!(assigned_names(&stack, &conversation_id), [ada_name]);
    let again = stack.hubspot.redeliver(&unknown_then).await.unwrap();
    assert_eq!(again.status, 200, "{}", again.response_body);
    assert_eq!(
        assigned_names(&stack, &conversation_id),
        [ada_name],
        "told once"
    );
}

/// A `startHitl` whose thread HubSpot opened while every answer to its publish was lost
/// (a 500 after applying, through the retries): the bot got a 503, the bridge does not know
/// the thread. The demo customer's id, and the thread.
async fn start_hitl_whose_opening_answer_is_lost(stack: &SandboxStack) -> (String, String) {
    let user_id = create_demo_customer(stack).await;
    stack.hubspot.faults().fail_next_after_applying(
        "/conversations/v3/custom-channels/",
        Failure {
            status: 500,
            retry_after: None,
        },
        4,
    );
    let refused = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, json!([]))
        .await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    (user_id, demo_customers_thread(stack))
}

/// The agent says goodbye and closes at once: the close arrives while "Bye" is being relayed
/// (held at Botpress). The close waits for it, and the bot hears `hitlStopped` after
/// "Bye", without a 503 sending the close back to HubSpot's retry.
async fn a_close_right_after_a_reply_in_flight_waits_for_it(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let bye = stack
        .hubspot
        .agent_writes(
            &handoff.thread_id,
            DEMO_AGENTS[0].0,
            AgentContent::text("Bye"),
        )
        .unwrap();
    // "Bye" is held at Botpress, in flight, until the close has read the thread's replies
    // (and so found "Bye" there, claimed by its own delivery): then it is let through while
    // the close waits for it.
    let held = stack.botpress.hold_next("/v1/chat/messages/get-or-create");
    let history = format!(
        "/conversations/v3/conversations/threads/{}/messages",
        handoff.thread_id
    );
    let (delivered, closed) = tokio::join!(stack.hubspot.deliver_held(&bye), async {
        held.arrived().await;
        let reads_before = stack.hubspot.recorder().count("GET", &history);
        let (closed, ()) = tokio::join!(stack.hubspot.close(&handoff.thread_id), async {
            eventually("the close has read the thread's replies", || {
                stack.hubspot.recorder().count("GET", &history) > reads_before
            })
            .await;
            held.release();
        });
        closed
    });
    let (delivered, closed) = (delivered.unwrap(), closed.unwrap());
    assert_eq!(delivered.status, 200, "{}", delivered.response_body);
    assert_eq!(closed.status, 200, "{}", closed.response_body);
    assert_eq!(texts(&stack, &handoff.conversation_id), ["Bye"]);
    the_bot_hears_hitl_stopped_once_after_message(&stack, 0);
}

/// HubSpot sends a delivery again while its first attempt still runs (the first timed out on
/// HubSpot's side): on the Lambda path the copy runs in a second execution environment. It
/// finds the reply in flight and is refused for HubSpot's retry instead of relaying it beside
/// the first; the reply reaches the customer once, and the retry after is acknowledged.
async fn a_delivery_sent_again_while_its_first_attempt_runs_is_relayed_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let reply = stack
        .hubspot
        .agent_writes(
            &handoff.thread_id,
            DEMO_AGENTS[0].0,
            AgentContent::text("Once"),
        )
        .unwrap();
    let held = stack.botpress.hold_next("/v1/chat/messages/get-or-create");
    let (first, copy) = tokio::join!(stack.hubspot.deliver_held(&reply), async {
        held.arrived().await;
        let copy = stack.hubspot.deliver_held(&reply).await;
        held.release();
        copy
    });
    let (first, copy) = (first.unwrap(), copy.unwrap());
    assert_eq!(first.status, 200, "{}", first.response_body);
    assert_eq!(copy.status, 503, "{}", copy.response_body);
    if let Some(lambda) = &stack.lambda {
        assert!(
            lambda.hubspot_webhook.environments().await >= 2,
            "the copy ran in an environment of its own"
        );
    }
    let retried = stack.hubspot.redeliver(&copy).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(texts(&stack, &handoff.conversation_id), ["Once"]);
    assert_eq!(
        status_of(&stack, &handoff.thread_id, &reply.message_id),
        "SENT"
    );
}

/// Botpress refuses for good to make a new agent's user: the reply cannot reach the customer,
/// and the agent sees it FAILED with the reason instead of it being acknowledged unseen.
async fn a_reply_whose_agent_the_bot_refuses_is_marked_failed(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    // Refused with the agent's name, then by the tag alone.
    stack
        .botpress
        .fail_next("/v1/chat/users/get-or-create", 400, 2);
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[1].0, "Hello")
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert!(texts(&stack, &handoff.conversation_id).is_empty());
    assert_eq!(
        status_of_text(&stack, &handoff.thread_id, "Hello"),
        "FAILED"
    );
}

/// Botpress refuses the agent's user as the bridge first asks for it, with the agent's name
/// and picture (a 400): the user is found by the tag alone, and the reply reaches the
/// customer, marked SENT.
async fn an_agent_whose_name_the_bot_refuses_still_reaches_the_customer(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stack
        .botpress
        .fail_next("/v1/chat/users/get-or-create", 400, 1);
    replies_acknowledged(&stack, &handoff.thread_id, DEMO_AGENTS[1].0, &["Hello"]).await;
    assert_eq!(texts(&stack, &handoff.conversation_id), ["Hello"]);
    assert_eq!(status_of_text(&stack, &handoff.thread_id, "Hello"), "SENT");
    let lookups = stack
        .botpress
        .recorder()
        .matching("POST", "/v1/chat/users/get-or-create");
    assert_eq!(lookups.len(), 2, "{lookups:?}");
    assert_eq!(lookups[0].json()["name"], DEMO_AGENTS[1].1);
    let by_tag = lookups[1].json();
    assert!(
        by_tag.get("name").is_none() && by_tag.get("pictureUrl").is_none(),
        "{by_tag}"
    );
    assert_eq!(by_tag["tags"]["hubspotActorId"], DEMO_AGENTS[1].0);
}

/// HubSpot refuses for good to give the agent's profile (a scope the install lacks, say): the
/// profile only names the agent, so the reply still reaches the customer, under the name the
/// message gave.
async fn a_reply_whose_agent_profile_cannot_be_read_still_reaches_the_customer(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (actor_id, name, _) = DEMO_AGENTS[1];
    stack.hubspot.faults().fail_ratio(
        ACTORS,
        Failure {
            status: 403,
            retry_after: None,
        },
        1.0,
    );
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, actor_id, "Hello")
        .await
        .unwrap();
    assert!(
        stack.hubspot.faults().injected() > 0,
        "the profile read was refused"
    );
    stack.hubspot.faults().clear();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    assert_eq!(texts(&stack, &handoff.conversation_id), ["Hello"]);
    let sender = stack.botpress.messages_in(&handoff.conversation_id)[0]["userId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(stack.botpress.user(&sender).unwrap()["name"], name);
}

/// A stack whose Botpress keeps the users its get-or-create finds as they are, a handoff,
/// and `actor_id` assigned to it while HubSpot refuses their profile (it still does): the
/// agent's Botpress user, announced in `hitlAssigned`, is nameless. Returns its id last.
async fn a_nameless_agent_assigned(
    path: Path,
    actor_id: &str,
) -> (SandboxStack, flow_support::Handoff, String) {
    let stack = registered_stack(path).await;
    stack.botpress.keep_found_users_as_they_are(true);
    let handoff = start_handoff(&stack).await;
    stack.hubspot.faults().fail_ratio(
        ACTORS,
        Failure {
            status: 403,
            retry_after: None,
        },
        1.0,
    );
    let agent = assigned_a_nameless_user(&stack, &handoff.thread_id, actor_id).await;
    (stack, handoff, agent)
}

/// `actor_id` takes the thread, and the bot is told with a Botpress user that has no name:
/// its id.
async fn assigned_a_nameless_user(stack: &SandboxStack, thread_id: &str, actor_id: &str) -> String {
    let assigned = stack.hubspot.assign(thread_id, actor_id).await.unwrap();
    assert_eq!(assigned.status, 200, "{}", assigned.response_body);
    let agent = stack.botpress.events_of_type("hitlAssigned")[0]["payload"]["userId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(stack.botpress.user(&agent).unwrap().get("name"), None);
    agent
}

/// The agent writes each of `texts` in turn, and HubSpot's delivery of each is acknowledged.
async fn replies_acknowledged(
    stack: &SandboxStack,
    thread_id: &str,
    actor_id: &str,
    texts: &[&str],
) {
    for text in texts {
        let delivery = stack
            .hubspot
            .agent_reply(thread_id, actor_id, text)
            .await
            .unwrap();
        assert_eq!(delivery.status, 200, "{text}: {}", delivery.response_body);
    }
}

/// The bot conversation holds exactly `expected`, in order, each from the agent's user.
fn the_bot_heard_from(stack: &SandboxStack, conversation_id: &str, agent: &str, expected: &[&str]) {
    assert_eq!(texts(stack, conversation_id), expected);
    for message in stack.botpress.messages_in(conversation_id) {
        assert_eq!(message["userId"], json!(agent), "one user for the agent");
    }
}

/// An agent first seen in an assignment while HubSpot refuses their profile gets a nameless
/// Botpress user. Botpress may keep a user `getOrCreateUser` finds as it was (its document
/// says the user is "retrieved"), so the first reply, whose message names the agent, names
/// the user with `updateUser`; the replies after it change nothing more.
async fn an_agent_first_seen_nameless_is_named_by_their_first_reply(path: Path) {
    let (actor_id, name, _) = DEMO_AGENTS[1];
    let (stack, handoff, agent) = a_nameless_agent_assigned(path, actor_id).await;

    replies_acknowledged(
        &stack,
        &handoff.thread_id,
        actor_id,
        &["Hello", "How can I help?"],
    )
    .await;
    stack.hubspot.faults().clear();
    the_bot_heard_from(
        &stack,
        &handoff.conversation_id,
        &agent,
        &["Hello", "How can I help?"],
    );
    assert_eq!(stack.botpress.user(&agent).unwrap()["name"], name);
    let updates = stack
        .botpress
        .recorder()
        .count("PUT", &format!("/v1/chat/users/{agent}"));
    assert_eq!(updates, 1, "named once, not again by the second reply");
}

/// The same nameless start, then HubSpot gives the profile: its name and avatar replace what
/// the Botpress user had. An update Botpress fails (a 503 past the retries) leaves the reply
/// delivered and the agent to be named by their next message; once named from a readable
/// profile, the agent is kept and no longer looked up.
async fn an_agent_is_named_from_their_profile_once_it_can_be_read(path: Path) {
    let (actor_id, name, _) = DEMO_AGENTS[0];
    let (stack, handoff, agent) = a_nameless_agent_assigned(path, actor_id).await;
    stack.hubspot.faults().clear();
    let agent_path = format!("/v1/chat/users/{agent}");

    stack.botpress.fail_next(&agent_path, 503, 4);
    replies_acknowledged(&stack, &handoff.thread_id, actor_id, &["Hello"]).await;
    assert_eq!(stack.botpress.user(&agent).unwrap().get("name"), None);

    replies_acknowledged(
        &stack,
        &handoff.thread_id,
        actor_id,
        &["How can I help?", "Anything else?"],
    )
    .await;
    let user = stack.botpress.user(&agent).unwrap();
    assert_eq!(user["name"], name);
    assert!(
        user["pictureUrl"]
            .as_str()
            .is_some_and(|url| url.starts_with("https://")),
        "the agent's avatar: {user}"
    );
    assert_eq!(
        stack
            .botpress
            .recorder()
            .count("POST", "/v1/chat/users/get-or-create"),
        3,
        "looked up for the assignment and the first two replies, then kept"
    );
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["Hello", "How can I help?", "Anything else?"]
    );
}

/// Botpress refuses the agent's name for good (a 400): the reply is still delivered, and the
/// next message, which looks the agent up again while the profile stays unreadable, does not
/// send the same name again.
async fn a_name_botpress_refuses_is_not_sent_again_with_every_message(path: Path) {
    let actor_id = DEMO_AGENTS[1].0;
    let (stack, handoff, agent) = a_nameless_agent_assigned(path, actor_id).await;
    let agent_path = format!("/v1/chat/users/{agent}");
    stack.botpress.fail_next(&agent_path, 400, 1);
    replies_acknowledged(
        &stack,
        &handoff.thread_id,
        actor_id,
        &["Hello", "How can I help?"],
    )
    .await;
    stack.hubspot.faults().clear();
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["Hello", "How can I help?"]
    );
    let recorder = stack.botpress.recorder();
    assert_eq!(
        recorder.count("POST", "/v1/chat/users/get-or-create"),
        3,
        "the agent looked up for the assignment and for each reply"
    );
    assert_eq!(
        recorder.count("PUT", &agent_path),
        1,
        "the refused name is not sent again"
    );
    assert_eq!(stack.botpress.user(&agent).unwrap().get("name"), None);
}

/// The nameless start, then HubSpot gives the profile, and Botpress refuses the update that
/// carries the agent's name and avatar together (a 400, say for the picture): the name is
/// given alone, so the agent is named, and kept.
async fn a_refused_picture_does_not_keep_the_agent_nameless(path: Path) {
    let (actor_id, name, _) = DEMO_AGENTS[0];
    let (stack, handoff, agent) = a_nameless_agent_assigned(path, actor_id).await;
    stack.hubspot.faults().clear();
    let agent_path = format!("/v1/chat/users/{agent}");
    stack.botpress.fail_next(&agent_path, 400, 1);

    replies_acknowledged(
        &stack,
        &handoff.thread_id,
        actor_id,
        &["Hello", "Still here"],
    )
    .await;
    let user = stack.botpress.user(&agent).unwrap();
    assert_eq!(user["name"], name);
    assert!(user.get("pictureUrl").is_none_or(Value::is_null), "{user}");
    let updates = stack.botpress.recorder().matching("PUT", &agent_path);
    assert_eq!(updates.len(), 2, "both, then the name alone; then kept");
    assert!(updates[0].json()["pictureUrl"].is_string());
    assert_eq!(updates[1].json(), json!({ "name": name }));
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["Hello", "Still here"]
    );
}

/// An agent HubSpot's actors API does not know (a readable answer, with no profile) is
/// assigned: the Botpress user has no name, and the agent is not kept so. Their reply, whose
/// message names them, names the user; from then on the agent is kept and not looked up.
async fn an_agent_without_a_profile_is_named_by_their_message_and_then_kept(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let unknown = "A-990099";
    let agent = assigned_a_nameless_user(&stack, &handoff.thread_id, unknown).await;

    replies_acknowledged(
        &stack,
        &handoff.thread_id,
        unknown,
        &["Hello", "Still here"],
    )
    .await;
    assert_eq!(stack.botpress.user(&agent).unwrap()["name"], unknown);
    assert_eq!(
        stack
            .botpress
            .recorder()
            .count("POST", "/v1/chat/users/get-or-create"),
        2,
        "looked up for the assignment and the first reply, then kept"
    );
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["Hello", "Still here"]
    );
}

/// A version before agents were kept only once named kept one nameless (first seen in an
/// assignment while HubSpot refused their profile). Now that the profile can be read, their
/// next reply looks them up again: the Botpress user is named, the stored agent takes the
/// name in place of the nameless one, and from then on the agent is not looked up.
async fn an_agent_an_older_version_kept_nameless_is_named_by_their_next_reply(path: Path) {
    let (actor_id, name, _) = DEMO_AGENTS[0];
    let (stack, handoff, agent) = a_nameless_agent_assigned(path, actor_id).await;
    let store = stack.bridge.relay.store();
    let session = store
        .find_by_thread(&handoff.thread_id)
        .await
        .unwrap()
        .unwrap();
    let bot_id = session.bot.bot_id;
    store
        .save_agent_user(&AgentUser {
            bot_id: bot_id.clone(),
            actor_id: actor_id.to_string(),
            botpress_user_id: agent.clone(),
            name: None,
        })
        .await
        .unwrap();
    stack.hubspot.faults().clear();
    let lookups_before = stack
        .botpress
        .recorder()
        .count("POST", "/v1/chat/users/get-or-create");

    replies_acknowledged(
        &stack,
        &handoff.thread_id,
        actor_id,
        &["Hello", "How can I help?"],
    )
    .await;
    assert_eq!(stack.botpress.user(&agent).unwrap()["name"], name);
    let kept = store.agent_user(&bot_id, actor_id).await.unwrap().unwrap();
    assert_eq!(kept.botpress_user_id, agent, "the same Botpress user");
    assert_eq!(kept.name.as_deref(), Some(name));
    assert_eq!(
        stack
            .botpress
            .recorder()
            .count("POST", "/v1/chat/users/get-or-create")
            - lookups_before,
        1,
        "looked up for the first reply, then kept"
    );
    the_bot_heard_from(
        &stack,
        &handoff.conversation_id,
        &agent,
        &["Hello", "How can I help?"],
    );
}

/// An agent whose HubSpot name is longer than Botpress takes in a user's name (200
/// characters): their assignment reaches the bot and their replies the customer, from a
/// Botpress user named with the name's first 200 characters, looked up once.
async fn an_agent_named_past_botpress_limits_is_assigned_and_reaches_the_customer(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let actor_id = "A-1003";
    let name = format!("Maria{}", " Magdalena".repeat(25));
    stack
        .hubspot
        .add_agent(actor_id, &name, "maria.magdalena@example.com");

    let assigned = stack
        .hubspot
        .assign(&handoff.thread_id, actor_id)
        .await
        .unwrap();
    assert_eq!(assigned.status, 200, "{}", assigned.response_body);
    replies_acknowledged(&stack, &handoff.thread_id, actor_id, &["Hello", "I'm here"]).await;

    let assignments = stack.botpress.events_of_type("hitlAssigned");
    assert_eq!(assignments.len(), 1);
    let agent = assignments[0]["payload"]["userId"].as_str().unwrap();
    let shortened: String = name.chars().take(200).collect();
    assert_eq!(
        stack.botpress.user(agent).unwrap()["name"],
        json!(shortened)
    );
    the_bot_heard_from(
        &stack,
        &handoff.conversation_id,
        agent,
        &["Hello", "I'm here"],
    );
    assert_eq!(status_of_text(&stack, &handoff.thread_id, "Hello"), "SENT");
    let recorder = stack.botpress.recorder();
    assert_eq!(recorder.count("POST", "/v1/chat/users/get-or-create"), 1);
    assert_eq!(recorder.count("PUT", &format!("/v1/chat/users/{agent}")), 0);
}

/// The agent says goodbye and closes the thread while that last reply's delivery still waits
/// for HubSpot's retry (held here; an earlier reply in flight or a Botpress 5xx does it): the
/// close relays it before the bot hears the handoff ended, and the retry then changes nothing.
async fn a_last_reply_still_waiting_for_its_retry_reaches_the_customer_before_the_close(
    path: Path,
) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let actor = DEMO_AGENTS[0].0;
    let thanks = stack
        .hubspot
        .agent_reply(&handoff.thread_id, actor, "Thanks for waiting")
        .await
        .unwrap();
    assert_eq!(thanks.status, 200, "{}", thanks.response_body);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let bye = stack
        .hubspot
        .agent_writes(&handoff.thread_id, actor, AgentContent::text("Bye"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;

    let closed = stack.hubspot.close(&handoff.thread_id).await.unwrap();
    assert_eq!(closed.status, 200, "{}", closed.response_body);
    assert_eq!(
        texts(&stack, &handoff.conversation_id),
        ["Thanks for waiting", "Bye"]
    );
    the_bot_hears_hitl_stopped_once_after_message(&stack, 1);
    assert_eq!(
        status_of(&stack, &handoff.thread_id, &bye.message_id),
        "SENT"
    );

    let retried = stack.hubspot.deliver_held(&bye).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(texts(&stack, &handoff.conversation_id).len(), 2);
}

on_both_paths!(
    a_last_reply_still_waiting_for_its_retry_reaches_the_customer_before_the_close,
    a_close_right_after_a_reply_in_flight_waits_for_it,
    a_delivery_sent_again_while_its_first_attempt_runs_is_relayed_once,
    a_reply_whose_agent_the_bot_refuses_is_marked_failed,
    an_agent_whose_name_the_bot_refuses_still_reaches_the_customer,
    a_reply_whose_agent_profile_cannot_be_read_still_reaches_the_customer,
    an_agent_first_seen_nameless_is_named_by_their_first_reply,
    an_agent_is_named_from_their_profile_once_it_can_be_read,
    a_name_botpress_refuses_is_not_sent_again_with_every_message,
    a_refused_picture_does_not_keep_the_agent_nameless,
    an_agent_without_a_profile_is_named_by_their_message_and_then_kept,
    an_agent_an_older_version_kept_nameless_is_named_by_their_next_reply,
    an_agent_named_past_botpress_limits_is_assigned_and_reaches_the_customer,
    attachments_follow_the_text_each_once_as_image_file_and_readable_lines,
    rich_text_reaches_the_bot_readable_with_its_links,
    two_new_agents_in_one_delivery_cost_one_batch_read,
    a_busy_thread_looks_the_agent_up_once,
    reassignment_and_assignment_after_unassignment_tell_the_bot_once_each,
    an_older_assignment_delivered_after_a_newer_one_is_not_announced,
    a_retried_assignment_dated_like_a_later_one_changes_nothing,
    a_retried_undated_assignment_is_not_announced_again,
    the_same_assignment_delivered_twice_at_once_is_announced_once,
    a_reopened_thread_is_acknowledged_and_the_agent_told_replies_do_not_reach_the_customer,
    replies_delivered_out_of_order_in_separate_deliveries_arrive_in_order_once,
    a_reply_waits_for_an_earlier_one_still_being_relayed,
    a_reply_behind_one_about_to_finish_waits_and_goes_at_once,
    an_assignment_and_a_close_while_the_handoff_opens_reach_the_bot_once_it_is_open,
    one_broken_event_does_not_hold_back_the_rest_of_its_batch,
    a_reply_whose_thread_history_cannot_be_read_still_reaches_the_customer,
    a_thread_moved_to_the_trash_ends_the_handoff_once,
    a_close_the_bot_refuses_to_hear_still_ends_the_handoff,
    a_close_the_bot_refuses_for_another_reason_leaves_the_handoff_open,
    a_reply_hubspot_truncated_reaches_the_customer_whole,
    a_reply_on_a_thread_whose_opening_answer_was_lost_waits_for_the_handoff,
    an_assignment_while_the_opening_answer_was_lost_reaches_the_bot_once_it_opens,
    two_changes_under_one_event_id_both_reach_the_bot,
    a_close_while_an_assignment_is_relayed_comes_after_it,
    reassignments_delivered_at_once_leave_the_bot_with_the_newer_agent,
    a_reply_timed_by_its_event_does_not_wait_for_itself,
    a_reply_in_a_thread_without_a_handoff_is_marked_failed,
    a_reply_with_nothing_to_relay_is_marked_failed_and_holds_back_nothing,
);
