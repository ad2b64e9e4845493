//! `startHitl`'s `messageHistory` reaches the agent: posted after the opening message, split
//! into parts HubSpot accepts, whole and in order, and never twice when `startHitl` is retried.

use flow_support::{Path, create_demo_customer, on_both_paths, registered_stack};
use hitl_bridge::model::channel_limits::MAX_TEXT_CHARS;
use hitl_sandbox::faults::Failure;
use serde_json::{Value, json};

fn history(count: usize) -> Value {
    let entries: Vec<Value> = (1..=count)
        .map(|n| {
            let source = if n % 2 == 1 {
                json!({ "type": "user", "userId": "user_1" })
            } else {
                json!({ "type": "bot" })
            };
            json!({ "source": source, "type": "text", "payload": { "text": format!("line {n:04} {}", "about my parcel ".repeat(4)) } })
        })
        .collect();
    Value::Array(entries)
}

async fn a_300_message_transcript_arrives_whole_in_order_and_once(path: Path) {
    let stack = registered_stack(path).await;
    let user_id = create_demo_customer(&stack).await;
    let mut history = history(300);
    history.as_array_mut().unwrap().push(json!({
        "source": { "type": "user", "userId": user_id },
        "type": "image",
        "payload": { "imageUrl": "https://files.example/parcel.png" },
    }));

    // HubSpot fails most publishes for a while: attempts stop part-way through the
    // transcript, and Botpress retries startHitl with the same input.
    stack.hubspot.faults().fail_ratio(
        "/conversations/v3/custom-channels/",
        Failure {
            status: 500,
            retry_after: None,
        },
        0.8,
    );
    let mut published_when_failed = Vec::new();
    for _ in 0..4 {
        let attempt = stack
            .caller
            .start_hitl(&user_id, Some("Lost parcel"), None, history.clone())
            .await;
        if attempt.status >= 500 {
            let published: usize = stack
                .hubspot
                .threads()
                .iter()
                .map(|t| t.messages.len())
                .sum();
            published_when_failed.push(published);
        }
    }
    stack.hubspot.faults().clear();
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, history.clone())
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let again = stack
        .caller
        .start_hitl(&user_id, Some("Lost parcel"), None, history)
        .await;
    assert_eq!(again.status, 200, "{}", again.text);

    let threads = stack.hubspot.threads();
    assert_eq!(threads.len(), 1, "one thread");
    let messages = &threads[0].messages;
    assert!(messages[0].text.starts_with("Lost parcel"));
    let parts: Vec<&str> = messages[1..].iter().map(|m| m.text.as_str()).collect();
    assert!(
        published_when_failed
            .iter()
            .any(|&published| published > 1 && published < messages.len()),
        "an attempt failed part-way through the transcript (messages published when attempts failed: {published_when_failed:?} of {})",
        messages.len()
    );
    assert!(parts.len() > 1, "a long history is split");
    let ids: Vec<_> = messages[1..]
        .iter()
        .map(|m| m.integration_idempotency_id.clone().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no part published twice: {ids:?}");
    for part in &parts {
        assert!(part.chars().count() <= MAX_TEXT_CHARS);
        assert!(part.starts_with("Conversation before the handoff (301 messages), part "));
    }
    let joined = parts.join("\n");
    let mut last = 0;
    for n in 1..=300 {
        let at = joined
            .find(&format!("line {n:04} "))
            .unwrap_or_else(|| panic!("line {n} is missing"));
        assert!(n == 1 || at > last, "line {n} is out of order");
        last = at;
    }
    assert!(joined.contains("Customer: line 0001"));
    assert!(joined.contains("Bot: line 0002"));
    assert!(joined.contains("Customer: [image https://files.example/parcel.png]"));
}

async fn a_long_description_arrives_whole_before_the_transcript_and_once(path: Path) {
    let stack = registered_stack(path).await;
    let user_id = create_demo_customer(&stack).await;
    let description: String = (0..1_500).map(|n| format!("d{n:04} ")).collect();

    // The first attempt publishes everything, then cannot make the bot conversation; its
    // retry publishes the same parts again, which HubSpot keeps once each by their ids.
    stack
        .botpress
        .fail_next("/v1/chat/conversations/get-or-create", 503, 4);
    for expected in [503, 200, 200] {
        let started = stack
            .caller
            .start_hitl(
                &user_id,
                Some("Lost parcel"),
                Some(&description),
                history(2),
            )
            .await;
        assert_eq!(started.status, expected, "{}", started.text);
    }
    let publishes = stack
        .hubspot
        .recorder()
        .matching("POST", "/conversations/v3/custom-channels/")
        .iter()
        .filter(|call| call.path.ends_with("/messages"))
        .count();
    // Three opening parts and the transcript, then again all but the part that opened the
    // thread (the retry knows the thread).
    assert_eq!(publishes, 4 + 3, "the retry published the parts again");

    let threads = stack.hubspot.threads();
    assert_eq!(threads.len(), 1, "one thread");
    let texts: Vec<&str> = threads[0]
        .messages
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        texts.len(),
        4,
        "three opening parts and the transcript: {texts:?}"
    );
    assert!(texts.iter().all(|t| t.chars().count() <= MAX_TEXT_CHARS));
    assert_eq!(
        texts[..3].concat(),
        format!("Lost parcel\n\n{}", description.trim_end()),
        "the description reaches the agent whole and in order"
    );
    assert!(texts[3].starts_with("Conversation before the handoff (2 messages):"));
}

on_both_paths!(
    a_300_message_transcript_arrives_whole_in_order_and_once,
    a_long_description_arrives_whole_before_the_transcript_and_once,
);
