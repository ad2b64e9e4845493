//! Hostile and broken input, table-driven: each case gets the right status and a message
//! that says what is wrong, and the whole table changes nothing (no call reaches HubSpot or
//! Botpress).

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use flow_support::{Path, on_both_paths, registered_stack, start_handoff};
use hitl_cli::sandbox_stack::SandboxStack;
use hitl_sandbox::hubspot::sign_v3;
use serde_json::{Value, json};

/// How a Botpress case's request differs from a well-formed one.
enum Headers {
    /// The operation's standard headers.
    Standard,
    /// The standard headers without this one.
    Without(&'static str),
    /// The standard headers with this one replaced.
    With(&'static str, String),
}

struct BotpressCase {
    what: &'static str,
    operation: &'static str,
    headers: Headers,
    body: String,
    status: u16,
    says: &'static str,
}

/// How a HubSpot case is signed.
enum Signing {
    Valid,
    None,
    Signature(&'static str),
    TimestampOffsetMs(i64),
    Timestamp(&'static str),
    WrongSecret,
}

struct HubSpotCase {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    signing: Signing,
    body: String,
    status: u16,
    says: &'static str,
}

fn configuration(json: &str) -> String {
    BASE64.encode(json)
}

fn action(kind: &str, input: Value) -> String {
    json!({ "type": kind, "input": input }).to_string()
}

fn message_created(conversation_id: &str, channel: &str, kind: &str, payload: Value) -> String {
    json!({
        "type": kind, "payload": payload,
        "conversation": { "id": conversation_id, "channel": channel, "tags": {} },
        "message": { "id": "msg_01HXBADINPUT0000000000000001", "type": kind, "payload": payload, "tags": {} },
        "user": { "id": "user_01HXBADINPUT000000000000001", "tags": {} }
    })
    .to_string()
}

fn botpress_cases(conversation_id: &str) -> Vec<BotpressCase> {
    use Headers::*;
    let case = |what, operation, headers, body: String, status, says| BotpressCase {
        what,
        operation,
        headers,
        body,
        status,
        says,
    };
    let ok_user = json!({ "name": "Jane", "email": "jane.doe@example.com" });
    vec![
        case(
            "no configuration header",
            "ping",
            Without("x-bp-configuration"),
            String::new(),
            401,
            "x-bp-configuration",
        ),
        case(
            "configuration not base64",
            "ping",
            With("x-bp-configuration", "%%%not-base64".into()),
            String::new(),
            401,
            "base64",
        ),
        case(
            "configuration not JSON",
            "ping",
            With("x-bp-configuration", configuration("sharedSecret=x")),
            String::new(),
            401,
            "JSON",
        ),
        case(
            "configuration without sharedSecret",
            "ping",
            With("x-bp-configuration", configuration(r#"{"other":"x"}"#)),
            String::new(),
            401,
            "sharedSecret",
        ),
        case(
            "wrong sharedSecret",
            "ping",
            With(
                "x-bp-configuration",
                configuration(r#"{"sharedSecret":"guess"}"#),
            ),
            String::new(),
            401,
            "does not match",
        ),
        case(
            "empty sharedSecret",
            "ping",
            With(
                "x-bp-configuration",
                configuration(r#"{"sharedSecret":""}"#),
            ),
            String::new(),
            401,
            "does not match",
        ),
        case(
            "sharedSecret of the wrong type",
            "ping",
            With(
                "x-bp-configuration",
                configuration(r#"{"sharedSecret":42}"#),
            ),
            String::new(),
            401,
            "sharedSecret",
        ),
        case(
            "no operation header",
            "ping",
            Without("x-bp-operation"),
            String::new(),
            400,
            "x-bp-operation",
        ),
        case(
            "unknown operation",
            "ping",
            With("x-bp-operation", "self_destruct".into()),
            String::new(),
            400,
            "self_destruct",
        ),
        case(
            "action without x-bot-id",
            "action_triggered",
            Without("x-bot-id"),
            action("createUser", ok_user.clone()),
            400,
            "x-bot-id",
        ),
        case(
            "action without x-integration-id",
            "action_triggered",
            Without("x-integration-id"),
            action("createUser", ok_user.clone()),
            400,
            "x-integration-id",
        ),
        case(
            "action body not JSON",
            "action_triggered",
            Standard,
            "{\"type\":".into(),
            400,
            "action_triggered",
        ),
        case(
            "action body an array",
            "action_triggered",
            Standard,
            "[]".into(),
            400,
            "action_triggered",
        ),
        case(
            "action without type",
            "action_triggered",
            Standard,
            json!({ "input": {} }).to_string(),
            400,
            "type",
        ),
        case(
            "unknown action",
            "action_triggered",
            Standard,
            action("deleteEverything", json!({})),
            400,
            "deleteEverything",
        ),
        case(
            "createUser name a number",
            "action_triggered",
            Standard,
            action(
                "createUser",
                json!({ "name": 7, "email": "jane.doe@example.com" }),
            ),
            400,
            "createUser",
        ),
        case(
            "createUser email garbage",
            "action_triggered",
            Standard,
            action(
                "createUser",
                json!({ "name": "J", "email": "not-an-email-or-phone" }),
            ),
            400,
            "not a valid",
        ),
        case(
            "createUser email half an address",
            "action_triggered",
            Standard,
            action("createUser", json!({ "name": "J", "email": "jane@" })),
            400,
            "not a valid email",
        ),
        case(
            "createUser without email or phone",
            "action_triggered",
            Standard,
            action("createUser", json!({ "name": "J" })),
            400,
            "no email address or phone number",
        ),
        case(
            "createUser national phone, no region",
            "action_triggered",
            Standard,
            action(
                "createUser",
                json!({ "name": "J", "email": "415 555 2671" }),
            ),
            400,
            "DEFAULT_PHONE_REGION",
        ),
        case(
            "startHitl without userId",
            "action_triggered",
            Standard,
            action("startHitl", json!({ "messageHistory": [] })),
            400,
            "userId",
        ),
        case(
            "startHitl userId a number",
            "action_triggered",
            Standard,
            action("startHitl", json!({ "userId": 12 })),
            400,
            "startHitl",
        ),
        case(
            "startHitl unknown userId",
            "action_triggered",
            Standard,
            action(
                "startHitl",
                json!({ "userId": "user_01HXNOBODY00000000000000001" }),
            ),
            400,
            "createUser",
        ),
        case(
            "startHitl history not a list",
            "action_triggered",
            Standard,
            action(
                "startHitl",
                json!({ "userId": "u", "messageHistory": "hi" }),
            ),
            400,
            "startHitl",
        ),
        case(
            "stopHitl without conversationId",
            "action_triggered",
            Standard,
            action("stopHitl", json!({})),
            400,
            "conversationId",
        ),
        case(
            "stopHitl unknown conversation",
            "action_triggered",
            Standard,
            action(
                "stopHitl",
                json!({ "conversationId": "conv_01HXNOBODY00000000000000001" }),
            ),
            404,
            "no handoff",
        ),
        case(
            "message body not JSON",
            "message_created",
            Standard,
            "nope".into(),
            400,
            "message_created",
        ),
        case(
            "message without conversation",
            "message_created",
            Standard,
            json!({ "type": "text", "payload": { "text": "hi" }, "message": { "id": "m" } })
                .to_string(),
            400,
            "conversation",
        ),
        case(
            "message on another channel",
            "message_created",
            Standard,
            message_created(conversation_id, "webchat", "text", json!({ "text": "hi" })),
            400,
            "channel",
        ),
        case(
            "message of a type the hitl channel does not have",
            "message_created",
            Standard,
            message_created(
                conversation_id,
                "hitl",
                "location",
                json!({ "latitude": 1.0, "longitude": 2.0 }),
            ),
            400,
            "cannot be relayed",
        ),
        case(
            "image message without its URL",
            "message_created",
            Standard,
            message_created(conversation_id, "hitl", "image", json!({})),
            400,
            "payload.imageUrl",
        ),
        // A URL that is one, but which the bridge will not fetch (not https, say), is not bad
        // input: the agent gets a note in the file's place (tests/attachments.rs).
        case(
            "file message whose URL is not text",
            "message_created",
            Standard,
            message_created(conversation_id, "hitl", "file", json!({ "fileUrl": 42 })),
            400,
            "fileUrl",
        ),
        case(
            "bloc message without items",
            "message_created",
            Standard,
            message_created(conversation_id, "hitl", "bloc", json!({ "items": [] })),
            400,
            "no items",
        ),
        case(
            "text message without text",
            "message_created",
            Standard,
            message_created(conversation_id, "hitl", "text", json!({})),
            400,
            "payload.text",
        ),
        case(
            "text message with empty text",
            "message_created",
            Standard,
            message_created(conversation_id, "hitl", "text", json!({ "text": "   " })),
            400,
            "empty",
        ),
        case(
            "message for an unknown conversation",
            "message_created",
            Standard,
            message_created(
                "conv_01HXNOBODY00000000000000001",
                "hitl",
                "text",
                json!({ "text": "hi" }),
            ),
            404,
            "no handoff",
        ),
        case(
            "body over the size limit",
            "action_triggered",
            Standard,
            action("createUser", json!({ "name": "x".repeat(6 * 1024 * 1024) })),
            413,
            "",
        ),
    ]
}

fn hubspot_cases(path: Path) -> Vec<HubSpotCase> {
    // API Gateway routes by method and path: a GET is "Not Found" there, 405 from axum.
    let wrong_method = if path == Path::Lambda { 404 } else { 405 };
    use Signing::*;
    let case = |what, signing, body: String, status, says| HubSpotCase {
        what,
        method: "POST",
        path: "/hubspot/webhook",
        signing,
        body,
        status,
        says,
    };
    let event = |fields: Value| {
        let mut event = json!({ "eventId": 1, "subscriptionType": "conversation.propertyChange", "objectId": 424242, "propertyName": "status", "propertyValue": "CLOSED", "occurredAt": 1 });
        for (key, value) in fields.as_object().unwrap() {
            if value.is_null() {
                event.as_object_mut().unwrap().remove(key);
            } else {
                event[key] = value.clone();
            }
        }
        json!([event]).to_string()
    };
    let reply = |message: Value| {
        json!({ "type": "OUTGOING_CHANNEL_MESSAGE_CREATED", "message": message }).to_string()
    };
    vec![
        case(
            "unsigned",
            None,
            event(json!({})),
            401,
            "X-HubSpot-Signature-v3",
        ),
        case(
            "signature of the wrong length",
            Signature("c2hvcnQ="),
            event(json!({})),
            401,
            "32-byte",
        ),
        case(
            "signature not base64",
            Signature("!!!!"),
            event(json!({})),
            401,
            "base64",
        ),
        case(
            "timestamp six minutes ahead",
            TimestampOffsetMs(6 * 60 * 1000),
            event(json!({})),
            401,
            "away from now",
        ),
        case(
            "replay after the window",
            TimestampOffsetMs(-6 * 60 * 1000),
            event(json!({})),
            401,
            "away from now",
        ),
        case(
            "timestamp not a number",
            Timestamp("now"),
            event(json!({})),
            401,
            "milliseconds",
        ),
        case(
            "signed with another secret",
            WrongSecret,
            event(json!({})),
            401,
            "does not match",
        ),
        case(
            "signed body not JSON",
            Valid,
            "{oops".into(),
            400,
            "not JSON",
        ),
        case(
            "signed object without type",
            Valid,
            json!({ "eventId": 1 }).to_string(),
            400,
            "type",
        ),
        case(
            "signed scalar",
            Valid,
            "42".into(),
            400,
            "expected an array",
        ),
        case(
            "event without eventId",
            Valid,
            event(json!({ "eventId": null })),
            400,
            "eventId",
        ),
        case(
            "eventId an object",
            Valid,
            event(json!({ "eventId": { "x": 1 } })),
            400,
            "eventId",
        ),
        case(
            "event without subscriptionType",
            Valid,
            event(json!({ "subscriptionType": null })),
            400,
            "subscriptionType",
        ),
        case(
            "propertyChange without objectId",
            Valid,
            event(json!({ "objectId": null })),
            400,
            "objectId",
        ),
        case(
            "reply without a message id",
            Valid,
            reply(
                json!({ "channelId": "1", "conversationsThreadId": "2", "senders": [{ "actorId": "A-1" }], "text": "hi" }),
            ),
            400,
            "message.id",
        ),
        case(
            "reply without an agent",
            Valid,
            reply(
                json!({ "id": "m", "channelId": "1", "conversationsThreadId": "2", "text": "hi" }),
            ),
            400,
            "agent",
        ),
        case(
            "reply without a thread",
            Valid,
            reply(
                json!({ "id": "m", "channelId": "1", "senders": [{ "actorId": "A-1" }], "text": "hi" }),
            ),
            400,
            "message",
        ),
        case(
            "body over the size limit",
            Valid,
            format!("[{}]", "1,".repeat(600 * 1024)),
            413,
            "",
        ),
        HubSpotCase {
            what: "GET instead of POST",
            method: "GET",
            path: "/hubspot/webhook",
            signing: Valid,
            body: String::new(),
            status: wrong_method,
            says: "",
        },
        HubSpotCase {
            what: "unknown path",
            method: "POST",
            path: "/hubspot/webhooks",
            signing: Valid,
            body: "[]".into(),
            status: 404,
            says: "",
        },
    ]
}

/// Cases HubSpot must not retry: acknowledged with 200, doing nothing.
fn ignored_hubspot_cases() -> Vec<(&'static str, String)> {
    vec![
        ("unknown subscription type", json!([{ "eventId": 2, "subscriptionType": "contact.creation", "objectId": 1 }]).to_string()),
        ("unknown channel event type", json!({ "type": "CHANNEL_ACCOUNT_PURGED", "channelAccountId": "1" }).to_string()),
        ("property the bridge does not follow", json!([{ "eventId": 3, "subscriptionType": "conversation.propertyChange", "objectId": 1, "propertyName": "subject", "propertyValue": "x" }]).to_string()),
        ("a thread the bridge did not open", json!([{ "eventId": 4, "subscriptionType": "conversation.propertyChange", "objectId": 999999, "propertyName": "status", "propertyValue": "CLOSED" }]).to_string()),
        // Not bad input: a reply with nothing to relay is marked FAILED in a thread the bridge
        // opened (`agent_side.rs`); this one's thread is not the bridge's.
        ("a reply without text in a thread the bridge did not open", json!({ "type": "OUTGOING_CHANNEL_MESSAGE_CREATED", "message": { "id": "m", "channelId": "1", "conversationsThreadId": "2", "senders": [{ "actorId": "A-1" }] } }).to_string()),
        ("an incoming message echoed back", json!({ "type": "OUTGOING_CHANNEL_MESSAGE_CREATED", "message": { "id": "m", "channelId": "1", "conversationsThreadId": "2", "direction": "INCOMING", "text": "x", "senders": [] } }).to_string()),
    ]
}

async fn send_botpress(stack: &SandboxStack, case: &BotpressCase) -> (u16, String) {
    let mut headers: Vec<(String, String)> = stack
        .caller
        .headers(case.operation)
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    match &case.headers {
        Headers::Standard => {}
        Headers::Without(name) => headers.retain(|(key, _)| key != name),
        Headers::With(name, value) => {
            headers.retain(|(key, _)| key != name);
            headers.push((name.to_string(), value.clone()));
        }
    }
    let answer = stack
        .caller
        .send_with_headers(headers, case.body.clone())
        .await;
    (answer.status, answer.text)
}

async fn send_hubspot(
    stack: &SandboxStack,
    method: &str,
    path: &str,
    signing: &Signing,
    body: &str,
) -> (u16, String) {
    let url = format!("{}{path}", stack.bridge_url);
    let signed_url = format!("{}{path}", stack.settings.public_base_url);
    let secret = stack.hubspot.config().client_secret.clone();
    let now = chrono::Utc::now().timestamp_millis();
    let sign = |secret: &str, at: i64| sign_v3(secret, method, &signed_url, body.as_bytes(), at);
    let (signature, timestamp) = match signing {
        Signing::Valid => (Some(sign(&secret, now)), Some(now.to_string())),
        Signing::None => (None, None),
        Signing::Signature(signature) => (Some(signature.to_string()), Some(now.to_string())),
        Signing::TimestampOffsetMs(offset) => (
            Some(sign(&secret, now + offset)),
            Some((now + offset).to_string()),
        ),
        Signing::Timestamp(text) => (Some(sign(&secret, now)), Some(text.to_string())),
        Signing::WrongSecret => (
            Some(sign("not-the-client-secret", now)),
            Some(now.to_string()),
        ),
    };
    let mut request = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("x-hubspot-signature-v3", signature);
    }
    if let Some(timestamp) = timestamp {
        request = request.header("x-hubspot-request-timestamp", timestamp);
    }
    let response = request.send().await.expect("the bridge answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn every_bad_input_gets_a_clear_answer_and_changes_nothing(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    // A read changes nothing: a `startHitl` naming a user the bridge has no record of asks
    // Botpress about that user (an expired record is rebuilt from it) before refusing.
    let botpress_writes = || {
        stack
            .botpress
            .recorder()
            .calls()
            .iter()
            .filter(|call| call.method != "GET")
            .count()
    };
    let (hubspot_calls, botpress_calls) = (stack.hubspot.recorder().len(), botpress_writes());
    let mut failures = Vec::new();
    let mut count = 0;

    for case in botpress_cases(&handoff.conversation_id) {
        count += 1;
        let (status, text) = send_botpress(&stack, &case).await;
        if status != case.status || !text.contains(case.says) {
            failures.push(format!(
                "botpress / {}: got {status} {text:.200}, want {} containing `{}`",
                case.what, case.status, case.says
            ));
        }
    }
    for case in hubspot_cases(path) {
        count += 1;
        let (status, text) =
            send_hubspot(&stack, case.method, case.path, &case.signing, &case.body).await;
        if status != case.status || !text.contains(case.says) {
            failures.push(format!(
                "hubspot / {}: got {status} {text:.200}, want {} containing `{}`",
                case.what, case.status, case.says
            ));
        }
    }
    for (what, body) in ignored_hubspot_cases() {
        count += 1;
        let (status, text) =
            send_hubspot(&stack, "POST", "/hubspot/webhook", &Signing::Valid, &body).await;
        if status != 200 {
            failures.push(format!(
                "hubspot / {what}: got {status} {text:.200}, want 200"
            ));
        }
    }
    assert!(count >= 40, "at least 40 cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} cases answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        stack.hubspot.recorder().len(),
        hubspot_calls,
        "no call reached HubSpot"
    );
    assert_eq!(
        botpress_writes(),
        botpress_calls,
        "nothing was written to Botpress"
    );
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(thread.status, "OPEN");
    assert_eq!(thread.messages.len(), 1, "nothing was published");
}

on_both_paths!(every_bad_input_gets_a_clear_answer_and_changes_nothing);
