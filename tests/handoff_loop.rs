//! The handoff loop over real HTTP: Botpress → bridge → HubSpot and back.

use std::sync::Arc;

use chrono::TimeDelta;
use flow_support::{
    DEMO_AGENTS, DEMO_CUSTOMER_PHONE, Handoff, MovableClock, Path, create_demo_customer,
    demo_customers_thread, eventually, in_process_stack_on, on_both_paths, registered_stack,
    settle, start_handoff, start_handoff_as, text,
};
use hitl_cli::sandbox_stack::SandboxStack;
use hitl_sandbox::faults::Failure;
use serde_json::{Value, json};

/// Where HubSpot's thread calls go (a close is a `PATCH` there).
const THREADS: &str = "/conversations/v3/conversations/threads/";

/// HubSpot failing every thread call (503) until the faults are cleared.
fn threads_unavailable(stack: &SandboxStack) {
    let unavailable = Failure {
        status: 503,
        retry_after: None,
    };
    stack
        .hubspot
        .faults()
        .fail_next(THREADS, unavailable, 1_000);
}

/// The bot ends the handoff while HubSpot cannot close threads (a 503 each time): `stopHitl`
/// still answers 200, and the thread is left open, for later.
async fn stop_while_threads_cannot_close(stack: &SandboxStack, handoff: &Handoff) {
    threads_unavailable(stack);
    let stopped = stack.caller.stop_hitl(&handoff.conversation_id).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    stack.hubspot.faults().clear();
    assert_eq!(status_of_thread(stack, &handoff.thread_id), "OPEN");
}

/// The answers HubSpot gave to attempts to close `thread_id`.
fn close_answers(stack: &SandboxStack, thread_id: &str) -> Vec<u16> {
    stack
        .hubspot
        .recorder()
        .matching("PATCH", &format!("{THREADS}{thread_id}"))
        .iter()
        .map(|call| call.status)
        .collect()
}

/// The closes HubSpot made (answered 200) of `thread_id`.
fn closes_of(stack: &SandboxStack, thread_id: &str) -> usize {
    let answers = close_answers(stack, thread_id);
    answers.iter().filter(|status| **status == 200).count()
}

/// Attempts to close `thread_id`, whatever HubSpot answered.
fn close_attempts_of(stack: &SandboxStack, thread_id: &str) -> usize {
    close_answers(stack, thread_id).len()
}

fn status_of_thread(stack: &SandboxStack, thread_id: &str) -> String {
    stack.hubspot.thread(thread_id).unwrap().status
}

async fn create_user_finds_the_contact_by_email_and_makes_a_botpress_user_per_end_user(path: Path) {
    let stack = registered_stack(path).await;
    let created = stack
        .caller
        .create_user("Jane Doe", Some("Jane.Doe@Example.com"))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.body["meta"], json!({ "cost": 0 }));
    let user_id = text(&created.body, "/output/userId");
    assert!(
        user_id.len() >= 28,
        "Botpress ids are 28+ characters: {user_id}"
    );

    let lookup = stack
        .hubspot
        .recorder()
        .matching("GET", "/crm/v3/objects/contacts/");
    assert_eq!(lookup.len(), 1);
    assert!(
        lookup[0].path.ends_with("/jane.doe@example.com"),
        "{}",
        lookup[0].path
    );
    assert_eq!(lookup[0].query.as_deref(), Some("idProperty=email"));
    assert!(
        lookup[0]
            .header("authorization")
            .unwrap()
            .starts_with("Bearer ")
    );

    let user = stack
        .botpress
        .user(&user_id)
        .expect("the Botpress user exists");
    assert_eq!(user["name"], "Jane Doe");
    assert!(user["tags"]["hubspotContactId"].is_string(), "{user}");
    // The HITL plugin calls createUser once per end user: another end user who gave the same
    // address is a user of their own, on the same contact.
    let again = stack
        .caller
        .create_user("Jane Doe", Some("jane.doe@example.com"))
        .await;
    let other = text(&again.body, "/output/userId");
    assert_ne!(other, user_id, "a user per end user");
    assert_eq!(
        stack.botpress.user(&other).unwrap()["tags"]["hubspotContactId"],
        user["tags"]["hubspotContactId"]
    );
}

/// Two end users who gave the same address (a shared mailbox) each hand off: each gets a
/// conversation and a help desk thread of their own, and the agent's reply to one reaches only
/// that one.
async fn two_end_users_sharing_an_address_get_a_handoff_each(path: Path) {
    let stack = registered_stack(path).await;
    let mut handoffs = Vec::new();
    for name in ["Jane Doe", "John Doe"] {
        let created = stack
            .caller
            .create_user(name, Some("jane.doe@example.com"))
            .await;
        let user_id = text(&created.body, "/output/userId");
        let started = stack
            .caller
            .start_hitl(&user_id, Some("Help"), None, json!([]))
            .await;
        assert_eq!(started.status, 200, "{}", started.text);
        let threads = stack.hubspot.threads();
        let thread_id = threads.last().unwrap().id.clone();
        handoffs.push((text(&started.body, "/output/conversationId"), thread_id));
    }
    let [
        (jane_conversation, jane_thread),
        (john_conversation, john_thread),
    ] = handoffs.as_slice()
    else {
        unreachable!()
    };
    assert_ne!(jane_conversation, john_conversation);
    assert_ne!(jane_thread, john_thread);
    let reply = stack
        .hubspot
        .agent_reply(jane_thread, DEMO_AGENTS[0].0, "Hello Jane")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    let texts_in = |conversation: &str| -> Vec<Value> {
        stack
            .botpress
            .messages_in(conversation)
            .iter()
            .map(|message| message["payload"]["text"].clone())
            .collect()
    };
    assert_eq!(texts_in(jane_conversation), [json!("Hello Jane")]);
    assert!(texts_in(john_conversation).is_empty());
}

async fn create_user_finds_the_contact_by_phone_in_e164(path: Path) {
    let stack = registered_stack(path).await;
    let created = stack
        .caller
        .create_user("Sam", Some("+1 (415) 555-2671"))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let searches = stack
        .hubspot
        .recorder()
        .matching("POST", "/crm/v3/objects/contacts/search");
    assert_eq!(searches.len(), 1);
    let search = searches[0].json();
    assert_eq!(
        search["filterGroups"][0]["filters"][0]["value"],
        DEMO_CUSTOMER_PHONE
    );
    assert_eq!(search["filterGroups"][0]["filters"][0]["operator"], "EQ");
}

async fn a_customer_missing_from_the_crm_gets_a_400_naming_the_contact_to_create(path: Path) {
    let stack = registered_stack(path).await;
    let refused = stack
        .caller
        .create_user("Nobody", Some("nobody@example.com"))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["type"], "InvalidPayload");
    let message = refused.body["message"].as_str().unwrap();
    assert!(
        message.contains("nobody@example.com") && message.contains("create"),
        "{message}"
    );
    assert!(
        stack.botpress.users().is_empty(),
        "no Botpress user for a refused customer"
    );

    let garbage = stack
        .caller
        .create_user("Nobody", Some("not an address"))
        .await;
    assert_eq!(garbage.status, 400, "{}", garbage.text);
}

async fn start_hitl_opens_a_thread_and_a_hitl_conversation_mapped_both_ways(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;

    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(thread.status, "OPEN");
    assert_eq!(thread.inbox_id, stack.settings.hubspot_help_desk_id);
    assert_eq!(thread.messages.len(), 1);
    let opening = &thread.messages[0];
    assert_eq!(opening.direction, "INCOMING");
    assert_eq!(opening.text, "Order did not arrive\n\nOrder #1234");
    assert_eq!(
        opening.senders[0]["deliveryIdentifier"]["type"],
        "HS_EMAIL_ADDRESS"
    );
    assert_eq!(
        opening.senders[0]["deliveryIdentifier"]["value"],
        "jane.doe@example.com"
    );
    assert!(opening.integration_idempotency_id.is_some());

    let publish = &stack
        .hubspot
        .recorder()
        .matching("POST", "/conversations/v3/custom-channels/")
        .into_iter()
        .filter(|call| call.path.ends_with("/messages"))
        .collect::<Vec<_>>()[0];
    let body = publish.json();
    assert_eq!(body["messageDirection"], "INCOMING");
    let setup = stack
        .bridge
        .relay
        .store()
        .channel_setup()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["channelAccountId"], json!(setup.channel_account_id));
    assert!(body["integrationThreadId"].is_string());

    let conversation = stack
        .botpress
        .conversation(&handoff.conversation_id)
        .unwrap();
    assert_eq!(conversation["channel"], "hitl");
    assert_eq!(
        conversation["tags"]["hubspotThreadId"],
        json!(handoff.thread_id)
    );
    let store = stack.bridge.relay.store();
    let by_thread = store
        .find_by_thread(&handoff.thread_id)
        .await
        .unwrap()
        .unwrap();
    let by_conversation = store
        .find_by_conversation(&handoff.conversation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_thread, by_conversation);
}

async fn a_retried_start_hitl_opens_nothing_twice_and_a_missing_title_reads_well(path: Path) {
    let stack = registered_stack(path).await;
    let created = stack
        .caller
        .create_user("Jane Doe", Some("jane.doe@example.com"))
        .await;
    let user_id = text(&created.body, "/output/userId");
    let first = stack
        .caller
        .start_hitl(&user_id, None, None, json!([]))
        .await;
    let second = stack
        .caller
        .start_hitl(&user_id, None, None, json!([]))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["output"], second.body["output"]);
    let threads = stack.hubspot.threads();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].messages.len(), 1);
    let opening = &threads[0].messages[0].text;
    assert!(
        !opening.contains("undefined") && !opening.trim().is_empty(),
        "{opening}"
    );
}

/// Botpress refuses the bot conversation for good (a 400): `startHitl` fails with the reason,
/// and what it opened is closed (the session, the HubSpot thread no agent should pick up), so
/// the bot's next `startHitl` starts over and opens a working handoff instead of resuming the
/// broken one into the same refusal forever.
async fn a_start_hitl_refused_for_good_leaves_nothing_open_and_the_next_one_starts_over(
    path: Path,
) {
    let stack = registered_stack(path).await;
    let created = stack
        .caller
        .create_user("Jane Doe", Some("jane.doe@example.com"))
        .await;
    let user_id = text(&created.body, "/output/userId");
    stack
        .botpress
        .fail_next("/v1/chat/conversations/get-or-create", 400, 1);
    let refused = stack
        .caller
        .start_hitl(&user_id, Some("Refund"), None, json!([]))
        .await;
    assert_eq!(
        refused.status, 400,
        "Botpress's refusal, passed on: {}",
        refused.text
    );
    assert_eq!(
        refused.body["type"], "RuntimeError",
        "not the bot's fault: {}",
        refused.text
    );
    let abandoned = stack.hubspot.threads();
    assert_eq!(abandoned.len(), 1);
    assert_eq!(
        abandoned[0].status, "CLOSED",
        "no agent picks up a customer not connected"
    );

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Refund"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let conversation_id = text(&started.body, "/output/conversationId");
    let threads = stack.hubspot.threads();
    let open: Vec<_> = threads.iter().filter(|t| t.status == "OPEN").collect();
    assert_eq!(open.len(), 1, "a new thread: {threads:?}");
    let (message_id, sent) = stack
        .caller
        .user_message(&conversation_id, &user_id, "still there?")
        .await;
    assert_eq!(sent.status, 200, "{} ({message_id})", sent.text);
    let thread = stack.hubspot.thread(&open[0].id).unwrap();
    assert!(thread.messages.iter().any(|m| m.text == "still there?"));
}

/// A customer message longer than the help desk shows whole arrives as several messages, in
/// order, that together hold every character; Botpress's retry adds none.
async fn a_long_customer_message_arrives_whole_in_parts(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let long: String = (0..1_800).map(|n| format!("w{n:04} ")).collect();
    let (message_id, sent) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, &long)
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let retried = stack
        .caller
        .user_message_with_id(
            &message_id,
            &handoff.conversation_id,
            &handoff.user_id,
            &long,
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let parts: Vec<&str> = thread
        .messages
        .iter()
        .filter(|m| m.text.starts_with('w'))
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        parts.len(),
        3,
        "{} characters in parts of at most 4,000",
        long.len()
    );
    assert!(parts.iter().all(|part| part.chars().count() <= 4_000));
    assert_eq!(parts.concat(), long);
}

/// A long message ending in blank lines: cut at the channel's limit, what is left is blank
/// lines alone, which HubSpot would refuse as an empty message (and with it the message, for
/// Botpress, which does not send it again). The blank lines are dropped, and the words arrive.
async fn a_long_message_ending_in_blank_lines_arrives_without_an_empty_part(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let words: String = (0..666).map(|n| format!("w{n:04} ")).collect();
    let text = format!("{words}{}", "\n".repeat(20));
    let (_, sent) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, &text)
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let relayed: Vec<&str> = thread
        .messages
        .iter()
        .filter(|m| m.text.starts_with('w'))
        .map(|m| m.text.trim_end())
        .collect();
    assert_eq!(relayed, [words.trim_end()]);
}

async fn a_user_message_reaches_the_thread_once_even_when_botpress_retries(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (message_id, sent) = stack
        .caller
        .user_message(
            &handoff.conversation_id,
            &handoff.user_id,
            "Where is my parcel?",
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let retried = stack
        .caller
        .user_message_with_id(
            &message_id,
            &handoff.conversation_id,
            &handoff.user_id,
            "Where is my parcel?",
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text);

    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let relayed: Vec<_> = thread
        .messages
        .iter()
        .filter(|m| m.text == "Where is my parcel?")
        .collect();
    assert_eq!(relayed.len(), 1, "relayed exactly once");
    assert_eq!(relayed[0].direction, "INCOMING");
    assert_eq!(
        relayed[0].integration_idempotency_id.as_deref(),
        Some(message_id.as_str())
    );
}

async fn an_assignment_tells_the_bot_which_agent_took_the_thread(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (actor_id, agent_name, _) = DEMO_AGENTS[0];
    let delivery = stack
        .hubspot
        .assign(&handoff.thread_id, actor_id)
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);

    let assigned = stack.botpress.events_of_type("hitlAssigned");
    assert_eq!(assigned.len(), 1);
    let payload = &assigned[0]["payload"];
    assert_eq!(payload["conversationId"], json!(handoff.conversation_id));
    let agent_user_id = payload["userId"].as_str().unwrap();
    assert_ne!(
        agent_user_id, handoff.user_id,
        "the agent, not the customer"
    );
    let agent = stack.botpress.user(agent_user_id).unwrap();
    assert_eq!(agent["name"], agent_name);
    assert_eq!(agent["tags"]["hubspotActorId"], actor_id);

    let event_call = &stack
        .botpress
        .recorder()
        .matching("POST", "/v1/chat/events")[0];
    assert_eq!(
        event_call.header("x-bot-id"),
        Some(stack.botpress.config().bot_id.as_str())
    );
    assert_eq!(
        event_call.header("x-integration-id"),
        Some("intver_sandbox_hubspot_hitl_0001")
    );
    assert_eq!(
        event_call.header("x-integration-alias"),
        Some("hubspot-hitl")
    );
    assert_eq!(
        event_call.header("authorization"),
        Some("Bearer sandbox-botpress-token")
    );
}

async fn an_agent_reply_reaches_the_bot_once_as_the_agent(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (actor_id, agent_name, _) = DEMO_AGENTS[1];
    let delivery = stack
        .hubspot
        .agent_reply(&handoff.thread_id, actor_id, "Hello Jane, I am on it.")
        .await
        .unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);
    let retry = stack.hubspot.redeliver(&delivery).await.unwrap();
    assert_eq!(
        retry.status, 200,
        "a retried delivery is acknowledged: {}",
        retry.response_body
    );

    let messages = stack.botpress.messages_in(&handoff.conversation_id);
    assert_eq!(messages.len(), 1, "relayed exactly once: {messages:?}");
    let reply = &messages[0];
    assert_eq!(reply["type"], "text");
    assert_eq!(reply["payload"]["text"], "Hello Jane, I am on it.");
    assert_eq!(
        reply["direction"], "incoming",
        "an integration call, so the plugin relays it"
    );
    let agent = stack
        .botpress
        .user(reply["userId"].as_str().unwrap())
        .unwrap();
    assert_eq!(agent["name"], agent_name);
}

async fn an_agent_closing_the_thread_stops_the_handoff(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let delivery = stack.hubspot.close(&handoff.thread_id).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.response_body);

    let stopped = stack.botpress.events_of_type("hitlStopped");
    assert_eq!(stopped.len(), 1);
    assert_eq!(
        stopped[0]["payload"]["conversationId"],
        json!(handoff.conversation_id)
    );
    let retry = stack.hubspot.redeliver(&delivery).await.unwrap();
    assert_eq!(retry.status, 200);
    assert_eq!(
        stack.botpress.events_of_type("hitlStopped").len(),
        1,
        "not told twice"
    );

    a_late_message_goes_into_the_closed_thread(&stack, &handoff).await;
    settle().await;
    assert_eq!(
        stack.botpress.events_of_type("hitlStopped").len(),
        1,
        "the late message's close is not sent back"
    );
}

async fn the_bot_stopping_closes_the_thread_without_echoing_hitl_stopped(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let stopped = stack.caller.stop_hitl(&handoff.conversation_id).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(stopped.body["output"], json!({}));

    assert_eq!(
        stack.hubspot.thread(&handoff.thread_id).unwrap().status,
        "CLOSED"
    );
    let patch = &stack
        .hubspot
        .recorder()
        .matching("PATCH", "/conversations/v3/conversations/threads/")[0];
    assert_eq!(patch.json(), json!({ "status": "CLOSED" }));
    // HubSpot answers our own close with a `status: CLOSED` webhook; the bot already knows.
    eventually("HubSpot's status webhook was delivered", || {
        stack
            .hubspot
            .deliveries()
            .iter()
            .any(|d| d.body.contains("\"status\"") && d.status == 200)
    })
    .await;
    settle().await;
    assert!(stack.botpress.events_of_type("hitlStopped").is_empty());

    let unknown = stack
        .caller
        .stop_hitl("conv_00000000000000000000000000")
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
}

/// A customer's message that reaches the bridge once the handoff ended (the bot's HITL plugin
/// sent it while the handoff was on for it) goes into the thread's record, once, and the
/// thread, which HubSpot reopened for it, is closed again: refusing the message would lose
/// it, as the plugin tells the customer nothing.
async fn a_late_message_goes_into_the_closed_thread(stack: &SandboxStack, handoff: &Handoff) {
    let text = "Hello?";
    let late = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, text)
        .await
        .1;
    assert_eq!(late.status, 200, "{}", late.text);
    assert_eq!(
        customer_messages_reading(stack, &handoff.thread_id, text),
        1
    );
    assert_eq!(status_of_thread(stack, &handoff.thread_id), "CLOSED");
}

/// How many of the customer's messages in `thread_id` read `text`.
fn customer_messages_reading(stack: &SandboxStack, thread_id: &str, text: &str) -> usize {
    let thread = stack.hubspot.thread(thread_id).unwrap();
    thread
        .messages
        .iter()
        .filter(|message| message.direction == "INCOMING" && message.text == text)
        .count()
}

/// A customer's message HubSpot failed to take (503 past the bridge's retries) comes again
/// from Botpress after the bot ended the handoff. It was written to the agent, so it goes into
/// the thread once, and the thread HubSpot reopened for it is closed again, once; the retry's
/// own retry changes nothing.
async fn a_message_botpress_retries_after_the_handoff_ended_reaches_the_thread_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let unavailable = Failure {
        status: 503,
        retry_after: None,
    };
    stack
        .hubspot
        .faults()
        .fail_next("/conversations/v3/custom-channels/", unavailable, 1_000);
    let text = "One more thing: the order number is 42";
    let (message_id, first) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, text)
        .await;
    assert!(first.status >= 500, "for Botpress to retry: {}", first.text);
    stack.hubspot.faults().clear();
    let stopped = stack.caller.stop_hitl(&handoff.conversation_id).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(closes_of(&stack, &handoff.thread_id), 1);

    for _ in 0..2 {
        let retried = stack
            .caller
            .user_message_with_id(
                &message_id,
                &handoff.conversation_id,
                &handoff.user_id,
                text,
            )
            .await;
        assert_eq!(retried.status, 200, "{}", retried.text);
    }
    assert_eq!(
        customer_messages_reading(&stack, &handoff.thread_id, text),
        1
    );
    assert_eq!(status_of_thread(&stack, &handoff.thread_id), "CLOSED");
    assert_eq!(
        closes_of(&stack, &handoff.thread_id),
        2,
        "closed again once"
    );
    settle().await;
    assert!(
        stack.botpress.events_of_type("hitlStopped").is_empty(),
        "the bot ended it; the closes are not sent back"
    );
}

/// HubSpot failed to close the thread when the bot ended the handoff, and a late customer
/// message comes once HubSpot answers again: it goes into the thread, and the close left for
/// later is made then, not at the next scheduled run, which finds nothing left to do.
async fn a_late_message_in_a_thread_left_open_gets_it_closed_at_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stop_while_threads_cannot_close(&stack, &handoff).await;
    a_late_message_goes_into_the_closed_thread(&stack, &handoff).await;
    assert_eq!(closes_of(&stack, &handoff.thread_id), 1);

    let attempts = close_attempts_of(&stack, &handoff.thread_id);
    stack.refresh_tokens_now().await.unwrap();
    assert_eq!(
        close_attempts_of(&stack, &handoff.thread_id),
        attempts,
        "nothing left for the scheduled run"
    );
}

/// The agent moved the thread to the trash just before the bot ends the handoff: HubSpot
/// refuses to close it (404), and `stopHitl` still answers 200, so the bot's plugin tells the
/// customer they are back with the bot.
async fn the_bot_stopping_a_handoff_whose_thread_is_gone_still_ends_it(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stack.hubspot.faults().fail_next(
        "/conversations/v3/conversations/threads/",
        Failure {
            status: 404,
            retry_after: None,
        },
        1,
    );
    let stopped = stack.caller.stop_hitl(&handoff.conversation_id).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
}

/// HubSpot fails to close the thread when the bot ends the handoff, past the bridge's own
/// retries (a 503 each time): `stopHitl` still ends the handoff (Botpress may never send the
/// action again), and the next scheduled run closes the thread, once.
async fn a_close_hubspot_cannot_make_now_is_made_by_the_next_scheduled_run(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stop_while_threads_cannot_close(&stack, &handoff).await;

    stack.refresh_tokens_now().await.unwrap();
    assert_eq!(status_of_thread(&stack, &handoff.thread_id), "CLOSED");
    assert_eq!(closes_of(&stack, &handoff.thread_id), 1);
    stack.refresh_tokens_now().await.unwrap();
    assert_eq!(
        closes_of(&stack, &handoff.thread_id),
        1,
        "closed once, then forgotten"
    );
    settle().await;
    assert!(
        stack.botpress.events_of_type("hitlStopped").is_empty(),
        "the bot ended it; HubSpot's status webhook for the close is not sent back"
    );
}

/// HubSpot failed to close the thread when the bot ended the handoff, and the agent, who
/// still sees it open, writes in it once HubSpot answers again: the reply is marked FAILED and
/// the thread is closed then, not at the next scheduled run, which finds nothing left to do.
async fn an_agent_writing_in_a_thread_left_open_gets_it_closed_at_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stop_while_threads_cannot_close(&stack, &handoff).await;

    let text = "Are you still there?";
    let reply = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, text)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(thread.status, "CLOSED");
    let written = thread.messages.iter().find(|message| message.text == text);
    assert_eq!(written.unwrap().status, "FAILED");
    assert_eq!(closes_of(&stack, &handoff.thread_id), 1);

    let attempts = close_attempts_of(&stack, &handoff.thread_id);
    stack.refresh_tokens_now().await.unwrap();
    assert_eq!(
        close_attempts_of(&stack, &handoff.thread_id),
        attempts,
        "nothing left for the scheduled run"
    );
}

/// The agent writes in a thread left open while HubSpot still cannot close it: the reply is
/// marked FAILED and answered 200 all the same, and the close stays left for the next
/// scheduled run, which makes it once HubSpot answers again.
async fn a_close_failing_again_beside_an_agent_reply_is_left_to_the_schedule(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    stop_while_threads_cannot_close(&stack, &handoff).await;
    let attempts = close_attempts_of(&stack, &handoff.thread_id);

    let unavailable = Failure {
        status: 503,
        retry_after: None,
    };
    let the_thread = format!("{THREADS}{}$", handoff.thread_id);
    stack
        .hubspot
        .faults()
        .fail_next(&the_thread, unavailable, 1_000);
    let text = "Hello?";
    let reply = stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, text)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let written = thread.messages.iter().find(|message| message.text == text);
    assert_eq!(written.unwrap().status, "FAILED");
    assert_eq!(thread.status, "OPEN");
    assert!(
        close_attempts_of(&stack, &handoff.thread_id) > attempts,
        "the close was tried beside the reply"
    );

    stack.hubspot.faults().clear();
    stack.refresh_tokens_now().await.unwrap();
    assert_eq!(status_of_thread(&stack, &handoff.thread_id), "CLOSED");
    assert_eq!(closes_of(&stack, &handoff.thread_id), 1);
}

/// A `startHitl` whose opening is given up while it runs: it came as the opening's wait ran
/// out, and an agent's message meanwhile found the opening too old and gave it up (its session
/// and thread closed). The attempt starts over with a new thread, and the conversation it
/// answers with takes the customer's messages; before, it answered with the given-up
/// handoff's conversation, where every message was refused as closed. In process: the
/// bridge's clock is set back, then caught up while the attempt waits on Botpress.
#[tokio::test]
async fn a_handoff_given_up_while_start_hitl_opens_it_starts_over() {
    let clock = Arc::new(MovableClock::behind_by(TimeDelta::minutes(11)));
    let stack = in_process_stack_on(clock.clone()).await;
    let user_id = create_demo_customer(&stack).await;
    let held = stack
        .botpress
        .hold_next("/v1/chat/conversations/get-or-create");
    let (started, ()) = tokio::join!(
        stack
            .caller
            .start_hitl(&user_id, Some("Order did not arrive"), None, json!([])),
        async {
            held.arrived().await;
            clock.catch_up();
            let thread_id = demo_customers_thread(&stack);
            let reply = stack
                .hubspot
                .agent_reply(&thread_id, DEMO_AGENTS[0].0, "Hello?")
                .await
                .unwrap();
            assert_eq!(reply.status, 200, "{}", reply.response_body);
            assert_eq!(status_of_thread(&stack, &thread_id), "CLOSED", "given up");
            held.release();
        }
    );
    assert_eq!(started.status, 200, "{}", started.text);
    let conversation_id = text(&started.body, "/output/conversationId");
    let threads = stack.hubspot.threads();
    let statuses: Vec<&str> = threads.iter().map(|t| t.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["CLOSED", "OPEN"],
        "started over with a new thread"
    );

    let (_, sent) = stack
        .caller
        .user_message(&conversation_id, &user_id, "Are you there?")
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let new_thread = stack.hubspot.thread(&threads[1].id).unwrap();
    assert!(
        new_thread
            .messages
            .iter()
            .any(|message| message.text == "Are you there?"),
        "the message reached the new thread"
    );
}

/// The scheduled run closes what `stopHitl` left, as HubSpot answers: a refusal every close
/// would meet (429) stops the run and gives nothing up; a close still failing three days on in
/// a way that may pass is given up (an error for a person) instead of tried forever; the run
/// stops at the first failure that may pass, the rest left untouched for the next run, which
/// closes them once HubSpot is back. In process: the bridge's clock is set back to leave the old one.
#[tokio::test]
async fn the_scheduled_run_gives_up_a_close_failing_for_days_and_stops_at_an_outage() {
    let clock = Arc::new(MovableClock::behind_by(TimeDelta::days(4)));
    let stack = in_process_stack_on(clock.clone()).await;
    let mut handoffs: Vec<Handoff> = Vec::new();
    for n in 0..3 {
        if n == 1 {
            clock.catch_up();
        }
        let email = format!("closes{n}@example.com");
        let name = format!("Customer {n}");
        stack.hubspot.add_contact(Some(&email), None, &name);
        let handoff = start_handoff_as(&stack, &name, &email).await;
        stop_while_threads_cannot_close(&stack, &handoff).await;
        handoffs.push(handoff);
    }
    let [old, first, second] = [0, 1, 2].map(|n| handoffs[n].thread_id.clone());
    let second_attempts = close_attempts_of(&stack, &second);
    let first_attempts = close_attempts_of(&stack, &first);

    // A refusal every close would meet (a rate limit; a missing scope alike) gives nothing
    // up, stale or not.
    let rate_limited = Failure {
        status: 429,
        retry_after: Some(1),
    };
    stack
        .hubspot
        .faults()
        .fail_next(THREADS, rate_limited, 1_000);
    stack.refresh_tokens_now().await.unwrap();
    stack.hubspot.faults().clear();
    let pending = stack.bridge.relay.store().closes_pending().await.unwrap();
    assert_eq!(pending.len(), 3, "{pending:?}");
    assert_eq!(
        close_attempts_of(&stack, &first),
        first_attempts,
        "the run stopped at the old one"
    );

    threads_unavailable(&stack);
    stack.refresh_tokens_now().await.unwrap();
    stack.hubspot.faults().clear();
    assert_eq!(
        close_attempts_of(&stack, &second),
        second_attempts,
        "the run stopped at the first close that may pass"
    );
    let old_attempts = close_attempts_of(&stack, &old);

    stack.refresh_tokens_now().await.unwrap();
    for thread_id in [&first, &second] {
        assert_eq!(status_of_thread(&stack, thread_id), "CLOSED");
        assert_eq!(closes_of(&stack, thread_id), 1);
    }
    assert_eq!(status_of_thread(&stack, &old), "OPEN", "given up");
    assert_eq!(
        close_attempts_of(&stack, &old),
        old_attempts,
        "not tried again"
    );
}

async fn a_whole_conversation_keeps_every_message_in_order(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let (actor_id, _, _) = DEMO_AGENTS[0];
    stack
        .hubspot
        .assign(&handoff.thread_id, actor_id)
        .await
        .unwrap();
    for turn in 1..=3 {
        let said = format!("customer says {turn}");
        let (_, sent) = stack
            .caller
            .user_message(&handoff.conversation_id, &handoff.user_id, &said)
            .await;
        assert_eq!(sent.status, 200);
        let reply = format!("agent answers {turn}");
        let delivered = stack
            .hubspot
            .agent_reply(&handoff.thread_id, actor_id, &reply)
            .await
            .unwrap();
        assert_eq!(delivered.status, 200);
    }
    let in_help_desk: Vec<String> = stack
        .hubspot
        .thread(&handoff.thread_id)
        .unwrap()
        .messages
        .iter()
        .skip(1)
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(
        in_help_desk,
        [
            "customer says 1",
            "agent answers 1",
            "customer says 2",
            "agent answers 2",
            "customer says 3",
            "agent answers 3"
        ]
    );
    let in_bot: Vec<String> = stack
        .botpress
        .messages_in(&handoff.conversation_id)
        .iter()
        .map(|m| m["payload"]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        in_bot,
        ["agent answers 1", "agent answers 2", "agent answers 3"]
    );
}

/// The customer asks for a person again while their handoff is open (from another conversation
/// of the bot, say): they reach the same thread, and the agent sees the new request there, its
/// title, description and transcript, once. The same request again (a retry whose answer was
/// lost) adds nothing, and neither does a retry of the request that opened the handoff.
async fn a_customer_asking_again_during_their_handoff_is_shown_to_the_agent_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let history = json!([{
        "source": { "type": "user", "userId": handoff.user_id },
        "type": "text",
        "payload": { "text": "Any news on my parcel?" }
    }]);
    let asked_again = || {
        stack.caller.start_hitl(
            &handoff.user_id,
            Some("Still no parcel"),
            Some("Asked from the mobile app"),
            history.clone(),
        )
    };
    let thread_texts = || -> Vec<String> {
        stack
            .hubspot
            .thread(&handoff.thread_id)
            .unwrap()
            .messages
            .iter()
            .map(|message| message.text.clone())
            .collect()
    };
    let before = thread_texts();

    let again = asked_again().await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        text(&again.body, "/output/conversationId"),
        handoff.conversation_id,
        "the same handoff"
    );
    let after = thread_texts();
    let added = &after[before.len()..];
    assert_eq!(added.len(), 2, "{added:?}");
    assert_eq!(
        added[0],
        "The customer asked for a person again: Still no parcel\n\nAsked from the mobile app"
    );
    assert!(added[1].contains("Any news on my parcel?"), "{}", added[1]);
    assert_eq!(stack.hubspot.threads().len(), 1, "no second thread");

    let retried = asked_again().await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    let opening_retried = stack
        .caller
        .start_hitl(
            &handoff.user_id,
            Some("Order did not arrive"),
            Some("Order #1234"),
            json!([]),
        )
        .await;
    assert_eq!(opening_retried.status, 200, "{}", opening_retried.text);
    assert_eq!(thread_texts(), after, "the same requests again add nothing");
}

on_both_paths!(
    a_close_hubspot_cannot_make_now_is_made_by_the_next_scheduled_run,
    an_agent_writing_in_a_thread_left_open_gets_it_closed_at_once,
    a_message_botpress_retries_after_the_handoff_ended_reaches_the_thread_once,
    a_late_message_in_a_thread_left_open_gets_it_closed_at_once,
    a_close_failing_again_beside_an_agent_reply_is_left_to_the_schedule,
    a_customer_asking_again_during_their_handoff_is_shown_to_the_agent_once,
    create_user_finds_the_contact_by_email_and_makes_a_botpress_user_per_end_user,
    two_end_users_sharing_an_address_get_a_handoff_each,
    create_user_finds_the_contact_by_phone_in_e164,
    a_customer_missing_from_the_crm_gets_a_400_naming_the_contact_to_create,
    start_hitl_opens_a_thread_and_a_hitl_conversation_mapped_both_ways,
    a_retried_start_hitl_opens_nothing_twice_and_a_missing_title_reads_well,
    a_start_hitl_refused_for_good_leaves_nothing_open_and_the_next_one_starts_over,
    a_long_customer_message_arrives_whole_in_parts,
    a_long_message_ending_in_blank_lines_arrives_without_an_empty_part,
    a_user_message_reaches_the_thread_once_even_when_botpress_retries,
    an_assignment_tells_the_bot_which_agent_took_the_thread,
    an_agent_reply_reaches_the_bot_once_as_the_agent,
    an_agent_closing_the_thread_stops_the_handoff,
    the_bot_stopping_closes_the_thread_without_echoing_hitl_stopped,
    the_bot_stopping_a_handoff_whose_thread_is_gone_still_ends_it,
    a_whole_conversation_keeps_every_message_in_order,
);
