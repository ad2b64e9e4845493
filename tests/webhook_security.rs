//! `/hubspot/webhook` refuses what HubSpot did not sign, and ignores what is not ours.

use flow_support::{Path, on_both_paths, registered_stack, start_handoff};
use hitl_cli::sandbox_stack::SandboxStack;
use hitl_sandbox::hubspot::sign_v3;
use serde_json::json;

struct Post {
    signature: Option<String>,
    timestamp: Option<String>,
}

async fn post(stack: &SandboxStack, body: &str, headers: Post) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(stack.settings.hubspot_webhook_url())
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = headers.signature {
        request = request.header("X-HubSpot-Signature-v3", signature);
    }
    if let Some(timestamp) = headers.timestamp {
        request = request.header("X-HubSpot-Request-Timestamp", timestamp);
    }
    let response = request.send().await.expect("the bridge answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

fn signed_at(stack: &SandboxStack, body: &str, timestamp_ms: i64) -> Post {
    let secret = &stack.hubspot.config().client_secret;
    let url = stack.settings.hubspot_webhook_url();
    Post {
        signature: Some(sign_v3(secret, "POST", &url, body.as_bytes(), timestamp_ms)),
        timestamp: Some(timestamp_ms.to_string()),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A close event for a thread the bridge did open: if any refused request got through,
/// the bot would see a `hitlStopped`.
fn close_event(thread_id: &str) -> String {
    close_event_of_portal(thread_id, 243842089)
}

fn close_event_of_portal(thread_id: &str, portal_id: u64) -> String {
    json!([{
        "eventId": 77, "subscriptionId": 1, "portalId": portal_id, "appId": 1098266,
        "occurredAt": now_ms(), "subscriptionType": "conversation.propertyChange",
        "attemptNumber": 0, "objectId": thread_id.parse::<u64>().unwrap(),
        "propertyName": "status", "propertyValue": "CLOSED", "changeSource": "AGENT"
    }])
    .to_string()
}

async fn bad_missing_and_stale_signatures_get_401_and_change_nothing(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let body = close_event(&handoff.thread_id);
    let now = now_ms();
    let six_minutes = 6 * 60 * 1000;
    let wrong_key = Post {
        signature: Some(sign_v3(
            "not-the-secret",
            "POST",
            &stack.settings.hubspot_webhook_url(),
            body.as_bytes(),
            now,
        )),
        timestamp: Some(now.to_string()),
    };
    let other_body = {
        let mut post = signed_at(&stack, &body, now);
        post.signature = signed_at(&stack, "[]", now).signature;
        post
    };
    let cases = [
        (
            "no headers",
            Post {
                signature: None,
                timestamp: None,
            },
        ),
        (
            "no timestamp",
            Post {
                signature: signed_at(&stack, &body, now).signature,
                timestamp: None,
            },
        ),
        (
            "no signature",
            Post {
                signature: None,
                timestamp: Some(now.to_string()),
            },
        ),
        ("wrong key", wrong_key),
        ("signature of another body", other_body),
        (
            "wrong length",
            Post {
                signature: Some("c2hvcnQ=".into()),
                timestamp: Some(now.to_string()),
            },
        ),
        (
            "six minutes old",
            signed_at(&stack, &body, now - six_minutes),
        ),
        (
            "six minutes ahead",
            signed_at(&stack, &body, now + six_minutes),
        ),
        (
            "timestamp not a number",
            Post {
                signature: signed_at(&stack, &body, now).signature,
                timestamp: Some("yesterday".into()),
            },
        ),
    ];
    let botpress_calls = stack.botpress.recorder().len();
    for (case, headers) in cases {
        let (status, answer) = post(&stack, &body, headers).await;
        assert_eq!(status, 401, "{case}: {answer}");
        assert!(
            answer.contains("signature"),
            "{case}: the answer says why: {answer}"
        );
    }
    assert_eq!(
        stack.botpress.recorder().len(),
        botpress_calls,
        "nothing reached Botpress"
    );
    assert!(stack.botpress.events_of_type("hitlStopped").is_empty());
    assert_eq!(
        stack.hubspot.thread(&handoff.thread_id).unwrap().status,
        "OPEN"
    );

    let (status, answer) = post(&stack, &body, signed_at(&stack, &body, now)).await;
    assert_eq!(status, 200, "the same event, signed, is accepted: {answer}");
    assert_eq!(stack.botpress.events_of_type("hitlStopped").len(), 1);
}

async fn events_for_threads_the_bridge_did_not_open_are_acknowledged_without_calls(path: Path) {
    let stack = registered_stack(path).await;
    let _ours = start_handoff(&stack).await;
    let (hubspot_calls, botpress_calls) = (
        stack.hubspot.recorder().len(),
        stack.botpress.recorder().len(),
    );

    let foreign_close = close_event("987654321");
    let foreign_reply = json!({
        "type": "OUTGOING_CHANNEL_MESSAGE_CREATED", "portalId": "243842089", "channelId": "42",
        "eventTimestamp": "2026-11-24T10:00:00.000Z", "eventId": "evt-foreign",
        "channelIntegrationThreadIds": ["not-ours"],
        "message": {
            "id": "msg-foreign", "type": "MESSAGE", "channelId": "42", "channelAccountId": "7",
            "conversationsThreadId": "987654321", "createdBy": "A-1001",
            "senders": [{ "actorId": "A-1001", "name": "Ada Lovelace" }],
            "text": "Hello from another channel", "direction": "OUTGOING"
        }
    })
    .to_string();
    let other_events =
        json!([{ "eventId": 5, "subscriptionType": "conversation.creation", "objectId": 1 }])
            .to_string();
    let account_event =
        json!({ "type": "CHANNEL_ACCOUNT_UPDATED", "channelId": "1", "channelAccountId": "2" })
            .to_string();
    for body in [foreign_close, foreign_reply, other_events, account_event] {
        let (status, answer) = post(&stack, &body, signed_at(&stack, &body, now_ms())).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(
        stack.hubspot.recorder().len(),
        hubspot_calls,
        "no calls to HubSpot"
    );
    assert_eq!(
        stack.botpress.recorder().len(),
        botpress_calls,
        "no calls to Botpress"
    );
}

/// The app may be installed in several HubSpot accounts; all their webhooks are signed with the
/// same client secret and thread ids repeat across accounts. An event of another account about
/// a thread id that is also ours must not end our handoff.
async fn another_portals_signed_event_about_a_thread_id_of_ours_changes_nothing(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let our_portal = stack.hubspot.config().portal_id;
    let botpress_calls = stack.botpress.recorder().len();

    let theirs = close_event_of_portal(&handoff.thread_id, our_portal + 1);
    let (status, answer) = post(&stack, &theirs, signed_at(&stack, &theirs, now_ms())).await;
    assert_eq!(
        status, 200,
        "acknowledged, so HubSpot does not retry: {answer}"
    );
    assert!(answer.contains("\"ignored\":1"), "{answer}");
    assert!(stack.botpress.events_of_type("hitlStopped").is_empty());
    assert_eq!(
        stack.botpress.recorder().len(),
        botpress_calls,
        "no calls to Botpress"
    );

    let ours = close_event_of_portal(&handoff.thread_id, our_portal);
    let (status, answer) = post(&stack, &ours, signed_at(&stack, &ours, now_ms())).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(stack.botpress.events_of_type("hitlStopped").len(), 1);
}

async fn malformed_signed_bodies_get_a_clear_400(path: Path) {
    let stack = registered_stack(path).await;
    for (body, says) in [
        ("{not json", "not JSON"),
        ("{\"hello\":1}", "custom-channel event"),
        (
            "[{\"subscriptionType\":\"conversation.propertyChange\"}]",
            "eventId",
        ),
    ] {
        let (status, answer) = post(&stack, body, signed_at(&stack, body, now_ms())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.contains(says), "{body}: {answer}");
    }
}

async fn healthz_answers(path: Path) {
    let stack = registered_stack(path).await;
    let response = reqwest::get(format!("{}/healthz", stack.bridge_url))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

on_both_paths!(
    bad_missing_and_stale_signatures_get_401_and_change_nothing,
    events_for_threads_the_bridge_did_not_open_are_acknowledged_without_calls,
    another_portals_signed_event_about_a_thread_id_of_ours_changes_nothing,
    malformed_signed_bodies_get_a_clear_400,
    healthz_answers,
);
