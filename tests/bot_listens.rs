//! The bot's HITL plugin starts listening to a handoff only after `startHitl` has answered
//! (it marks the conversation active a few Runtime API calls later) and drops the
//! integration's events until then. So an event about a handoff that opened moments ago is
//! scheduled (`schedule.delay`) for when the plugin listens, and one about an older handoff
//! goes at once. And an agent who took the thread while the handoff was opening is announced
//! once it is open, without waiting for HubSpot's retry of the assignment webhook.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use flow_support::{
    DEMO_AGENTS, MovableClock, Path, in_process_stack_on, on_both_paths, registered_stack,
    start_handoff, start_handoff_that_stays_opening,
};
use hitl_cli::sandbox_stack::SandboxStack;
use serde_json::{Value, json};

/// The bodies of the bridge's `POST`s to `path` of the Botpress Runtime API, in order.
fn bodies(stack: &SandboxStack, path: &str) -> Vec<Value> {
    stack
        .botpress
        .recorder()
        .matching("POST", path)
        .iter()
        .filter_map(|call| serde_json::from_str::<Value>(&call.body).ok())
        .collect()
}

/// The `schedule.delay` (ms) of each `hitlAssigned` the bridge created, in order (`None`:
/// sent at once).
fn assigned_delays(stack: &SandboxStack) -> Vec<Option<u64>> {
    bodies(stack, "/v1/chat/events")
        .iter()
        .filter(|body| body["type"] == "hitlAssigned")
        .map(|body| body["schedule"]["delay"].as_u64())
        .collect()
}

/// An agent takes the thread in HubSpot; the bridge acknowledges the webhook.
async fn assign(stack: &SandboxStack, thread_id: &str, actor_id: &str) {
    let assigned = stack.hubspot.assign(thread_id, actor_id).await.unwrap();
    assert_eq!(assigned.status, 200, "{}", assigned.response_body);
}

/// An agent takes the thread the moment the handoff opens: the bot hears it once the plugin
/// listens, within five seconds of the opening.
async fn an_assignment_as_the_handoff_opens_waits_until_the_bot_listens(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    assign(&stack, &handoff.thread_id, DEMO_AGENTS[0].0).await;
    let delays = assigned_delays(&stack);
    assert_eq!(delays.len(), 1, "{delays:?}");
    let delay = delays[0].expect("scheduled");
    assert!(delay > 0 && delay <= 5_000, "{delay} ms");
}

/// An agent assigned while the handoff was still opening (its webhook answered "in
/// progress") is announced when `startHitl` opens it, scheduled for when the bot listens;
/// HubSpot's retry of the webhook then announces nothing more.
async fn an_assignment_while_opening_is_announced_once_the_handoff_opens(path: Path) {
    let stack = registered_stack(path).await;
    let (user_id, thread_id) = start_handoff_that_stays_opening(&stack).await;
    let (ada, ada_name, _) = DEMO_AGENTS[0];
    let early = stack.hubspot.assign(&thread_id, ada).await.unwrap();
    assert_eq!(early.status, 503, "{}", early.response_body);

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Order did not arrive"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let assigned = stack.botpress.events_of_type("hitlAssigned");
    assert_eq!(assigned.len(), 1, "announced without HubSpot's retry");
    assert_eq!(assigned[0]["status"], "scheduled");
    let agent = stack
        .botpress
        .user(assigned[0]["payload"]["userId"].as_str().unwrap())
        .unwrap();
    assert_eq!(agent["name"], ada_name);

    let retried = stack.hubspot.redeliver(&early).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(stack.botpress.events_of_type("hitlAssigned").len(), 1);
}

/// The agent routing assigned while the handoff was opening is read as it opens, and HubSpot
/// retries the assignment's webhook at that moment: each reads the session under the thread's
/// assignment lease, so the retry waits for the read's announcement (or is answered 503 and
/// comes again) and finds the agent announced: the bot hears the agent once. Botpress answers slowly here, so the read's
/// announcement is in flight for over a second after the handoff opens while the retry comes
/// again and again.
async fn an_assignment_read_and_its_webhook_at_once_announce_the_agent_once(path: Path) {
    let stack = registered_stack(path).await;
    let (user_id, thread_id) = start_handoff_that_stays_opening(&stack).await;
    let early = stack
        .hubspot
        .assign(&thread_id, DEMO_AGENTS[0].0)
        .await
        .unwrap();
    assert_eq!(early.status, 503, "{}", early.response_body);
    stack.botpress.set_latency(Duration::from_millis(700));

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Order did not arrive"), None, json!([]));
    let retried_until_answered = async {
        for _ in 0..400 {
            let retried = stack.hubspot.redeliver(&early).await.unwrap();
            if retried.status != 503 {
                return retried;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the assignment's retries were refused throughout");
    };
    let (started, retried) = tokio::join!(started, retried_until_answered);
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(retried.status, 200, "{}", retried.response_body);
    assert_eq!(stack.botpress.events_of_type("hitlAssigned").len(), 1);
}

/// The agent's replies in the seconds after the opening are held too (the plugin drops
/// messages on a conversation it does not listen to yet), each part due after the one before.
async fn replies_as_the_handoff_opens_are_held_in_order(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    for text in ["Hello", "I am looking at your order"] {
        let delivery = stack
            .hubspot
            .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, text)
            .await
            .unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    }
    let delays: Vec<u64> = bodies(&stack, "/v1/chat/messages/get-or-create")
        .iter()
        .map(|body| body["schedule"]["delay"].as_u64().expect("held"))
        .collect();
    assert_eq!(delays.len(), 2, "{delays:?}");
    assert!(delays[0] > 0 && delays[0] <= 5_000, "{delays:?}");
}

/// `startHitl` again for a handoff that is open and assigned (a retry whose first answer was
/// lost, or the customer asking again from another conversation): the plugin listens only
/// after this answer, so the agent is announced again, held at least two seconds.
async fn start_hitl_on_an_open_assigned_handoff_announces_the_agent_again(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    assign(&stack, &handoff.thread_id, DEMO_AGENTS[0].0).await;
    let again = stack
        .caller
        .start_hitl(
            &handoff.user_id,
            Some("Order did not arrive"),
            None,
            json!([]),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        flow_support::text(&again.body, "/output/conversationId"),
        handoff.conversation_id
    );
    let delays = assigned_delays(&stack);
    assert_eq!(delays.len(), 2, "{delays:?}");
    assert!(delays[1].is_some_and(|delay| delay >= 2_000), "{delays:?}");
}

on_both_paths!(
    an_assignment_as_the_handoff_opens_waits_until_the_bot_listens,
    an_assignment_while_opening_is_announced_once_the_handoff_opens,
    an_assignment_read_and_its_webhook_at_once_announce_the_agent_once,
    replies_as_the_handoff_opens_are_held_in_order,
    start_hitl_on_an_open_assigned_handoff_announces_the_agent_again,
);

/// A handoff that opened a while ago (11 s by the bridge's clock, past the 10 s in which
/// what goes to the bot is held): its events go at once. In
/// process only, where the bridge's clock can be set.
#[tokio::test]
async fn an_assignment_on_a_handoff_open_for_a_while_goes_at_once() {
    let clock = Arc::new(MovableClock::behind_by(TimeDelta::seconds(11)));
    let stack = in_process_stack_on(clock.clone()).await;
    let handoff = start_handoff(&stack).await;
    clock.catch_up();
    assign(&stack, &handoff.thread_id, DEMO_AGENTS[1].0).await;
    assert_eq!(assigned_delays(&stack), [None]);
    let closed = stack.hubspot.close(&handoff.thread_id).await.unwrap();
    assert_eq!(closed.status, 200, "{}", closed.response_body);
    let stopped = stack.botpress.events_of_type("hitlStopped");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0]["status"], "pending", "not scheduled");
}

/// When the bridge's `POST` to `path` of `type` (an event type; any, for messages) is due at
/// Botpress: when it arrived, plus its `schedule.delay`. The last such call.
fn last_due(
    stack: &SandboxStack,
    path: &str,
    event_type: Option<&str>,
) -> chrono::DateTime<chrono::Utc> {
    let calls = stack.botpress.recorder().matching("POST", path);
    let call = calls
        .iter()
        .rfind(|call| {
            let body: Value = serde_json::from_str(&call.body).unwrap_or_default();
            event_type.is_none_or(|event_type| body["type"] == event_type)
        })
        .unwrap_or_else(|| panic!("a POST to {path} of {event_type:?}"));
    let body: Value = serde_json::from_str(&call.body).unwrap();
    let delay = body["schedule"]["delay"].as_i64().unwrap_or(0);
    call.at + TimeDelta::milliseconds(delay)
}

/// `startHitl` again on a handoff open for a while (a retry whose answer was lost, or the
/// customer asking again): the plugin listens only after this answer, so what goes to the bot
/// from then waits for it, as after an opening. The agent's reply is held, not dropped by a
/// plugin not listening yet; and the handoff's end, closed by the agent a moment later, is
/// due after the agent announced again, so the bot never hears an agent assigned to a
/// handoff it heard end. In process only, where the bridge's clock can be set.
#[tokio::test]
async fn after_start_hitl_on_an_open_handoff_what_goes_to_the_bot_waits_for_it_again() {
    let clock = Arc::new(MovableClock::behind_by(TimeDelta::seconds(11)));
    let stack = in_process_stack_on(clock.clone()).await;
    let handoff = start_handoff(&stack).await;
    clock.catch_up();
    assign(&stack, &handoff.thread_id, DEMO_AGENTS[1].0).await;
    assert_eq!(assigned_delays(&stack), [None], "open a while: at once");

    let again = stack
        .caller
        .start_hitl(&handoff.user_id, Some("Still waiting"), None, json!([]))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let reply = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[1].0, "Still here")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    let replies = bodies(&stack, "/v1/chat/messages/get-or-create");
    let held = replies.last().expect("the reply")["schedule"]["delay"].as_u64();
    assert!(held.is_some_and(|delay| delay > 0), "held: {replies:?}");

    let closed = stack.hubspot.close(&handoff.thread_id).await.unwrap();
    assert_eq!(closed.status, 200, "{}", closed.response_body);
    let announced = last_due(&stack, "/v1/chat/events", Some("hitlAssigned"));
    let stopped = last_due(&stack, "/v1/chat/events", Some("hitlStopped"));
    assert!(
        stopped > announced,
        "the end is due after the agent announced again: {stopped} <= {announced}"
    );
}
