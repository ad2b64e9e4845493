//! Every file in `events/` (the sample Lambda events for `cargo lambda invoke --data-file` and
//! `sam local invoke -e`) is what it claims to be: the HTTP ones turn into the request the
//! functions' routers expect through the same `lambda_http` conversion Lambda uses, their bodies
//! are what HubSpot and Botpress send, and the HubSpot ones carry a valid v3 signature. A file
//! added to `events/` without a check here fails [`every_sample_event_is_checked`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use hitl_bridge::adapters::signature::{MAX_SKEW_MS, SignatureError, verify_v3};
use hitl_bridge::config::{BOTPRESS_PATH, HUBSPOT_WEBHOOK_PATH};
use hitl_bridge::relay::{CreateUserInput, StartHandoffInput};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::Value;

/// What the webhook events are signed with: the sandbox's HubSpot client secret.
const CLIENT_SECRET: &str = "sandbox-client-secret";
/// What the Botpress events present as the integration's configured `sharedSecret`.
const SHARED_SECRET: &str = "sandbox-shared-secret";
/// The host every HTTP event was sent to; PUBLIC_BASE_URL is `https://` + this.
const HOST: &str = "bridge.example.com";

/// Checks one sample event file.
type Check = fn(&Path);

/// Each sample event and the check it gets. Paths are relative to `events/`.
const CHECKS: &[(&str, Check)] = &[
    ("hubspot-webhook/agent-reply.json", check_agent_reply),
    ("hubspot-webhook/assigned.json", check_assigned),
    ("hubspot-webhook/closed.json", check_closed),
    ("botpress-outbound/create-user.json", check_create_user),
    ("botpress-outbound/start-hitl.json", check_start_hitl),
    (
        "botpress-outbound/message-created.json",
        check_message_created,
    ),
    ("botpress-outbound/stop-hitl.json", check_stop_hitl),
    ("token-refresher/scheduled.json", check_scheduled),
];

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// Every file under `dir` except documentation, relative to `root`, with `/` separators.
fn event_files(root: &Path, dir: &Path, found: &mut BTreeSet<String>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            event_files(root, &path, found);
        } else if path.extension().is_none_or(|ext| ext != "md") {
            let relative = path.strip_prefix(root).expect("below events/");
            let parts: Vec<_> = relative.iter().map(|part| part.to_string_lossy()).collect();
            found.insert(parts.join("/"));
        }
    }
}

#[test]
fn every_sample_event_is_checked() {
    let root = events_dir();
    let mut present = BTreeSet::new();
    event_files(&root, &root, &mut present);
    let checked: BTreeSet<String> = CHECKS.iter().map(|(name, _)| name.to_string()).collect();
    let unchecked: Vec<_> = present.difference(&checked).collect();
    let missing: Vec<_> = checked.difference(&present).collect();
    assert!(
        unchecked.is_empty(),
        "events without a check in shared/tests/sample_events.rs: {unchecked:?}"
    );
    assert!(
        missing.is_empty(),
        "checked events that do not exist: {missing:?}"
    );
    for (name, check) in CHECKS {
        check(&root.join(name));
    }
}

// ---------------------------------------------------------------- HTTP events

/// An HTTP event, read both as JSON (what the file says) and through `lambda_http` (what the
/// function's router receives).
struct HttpEvent {
    name: String,
    json: Value,
    request: lambda_http::Request,
}

impl HttpEvent {
    fn body(&self) -> &[u8] {
        self.request.body().as_ref()
    }

    fn body_json(&self) -> Value {
        serde_json::from_slice(self.body())
            .unwrap_or_else(|e| panic!("{}: the body is not JSON: {e}", self.name))
    }

    fn header(&self, name: &str) -> &str {
        self.request
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("{}: no {name} header", self.name))
            .to_str()
            .unwrap_or_else(|e| panic!("{}: {name} is not text: {e}", self.name))
    }
}

/// Reads an API Gateway HTTP API (payload v2) event and checks that the request `lambda_http`
/// makes of it has the method, path, headers and body the file says.
fn read_http_event(path: &Path, route_path: &str) -> HttpEvent {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let request = lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{name}: not an API Gateway event lambda_http reads: {e}"));

    assert_eq!(
        json["version"], "2.0",
        "{name}: payload format 2.0 (HTTP API)"
    );
    assert_eq!(json["routeKey"], format!("POST {route_path}"), "{name}");
    assert_eq!(json["requestContext"]["stage"], "$default", "{name}");
    assert_eq!(request.method(), "POST", "{name}");
    assert_eq!(request.uri().path(), route_path, "{name}");
    assert_eq!(request.raw_http_path(), route_path, "{name}");
    assert_eq!(request.uri().host(), Some(HOST), "{name}");
    assert_eq!(
        request.uri().to_string(),
        format!("https://{HOST}{route_path}"),
        "{name}"
    );
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            assert_eq!(context.domain_name.as_deref(), Some(HOST), "{name}");
            assert_eq!(context.http.method, "POST", "{name}");
            assert_eq!(context.http.path.as_deref(), Some(route_path), "{name}");
        }
        other => panic!("{name}: expected an HTTP API (v2) request context, got {other:?}"),
    }

    let headers = json["headers"].as_object().expect("headers");
    assert_eq!(
        request.headers().len(),
        headers.len(),
        "{name}: header count"
    );
    for (header, value) in headers {
        assert_eq!(
            request
                .headers()
                .get(header.as_str())
                .map(|v| v.to_str().unwrap()),
            value.as_str(),
            "{name}: header {header}"
        );
    }
    assert_eq!(json["isBase64Encoded"], false, "{name}");
    let body = json["body"].as_str().expect("a text body");
    assert!(
        matches!(request.body(), Body::Text(_)),
        "{name}: a text body"
    );
    assert_eq!(request.body().as_ref(), body.as_bytes(), "{name}: body");
    let body_length = body.len();
    let event = HttpEvent {
        name,
        json,
        request,
    };
    assert_eq!(
        event.header("content-length"),
        body_length.to_string(),
        "{}: content-length",
        event.name
    );
    assert!(
        event.header("content-type").starts_with("application/json"),
        "{}",
        event.name
    );
    event
}

/// The route each HTTP event is for must be one the template routes to a function.
fn assert_routed_by_template(event: &HttpEvent) {
    let template = std::fs::read_to_string(events_dir().join("../template.yaml"))
        .expect("template.yaml beside events/");
    let route_key = event.json["routeKey"].as_str().unwrap();
    assert!(
        template.contains(&format!("RouteKey: {route_key}")),
        "{}: template.yaml has no route `{route_key}`",
        event.name
    );
}

// ---------------------------------------------------------------- HubSpot

/// Reads a webhook event and checks its v3 signature: valid at its own timestamp over the URL
/// HubSpot called, refused five minutes later (why `scripts/sign-event` exists).
fn read_hubspot_event(path: &Path) -> HttpEvent {
    let event = read_http_event(path, HUBSPOT_WEBHOOK_PATH);
    assert_routed_by_template(&event);
    let timestamp = event.header("x-hubspot-request-timestamp");
    let signature = event.header("x-hubspot-signature-v3");
    let sent_at: i64 = timestamp.parse().expect("a timestamp in milliseconds");
    assert_eq!(
        event.json["requestContext"]["timeEpoch"].as_i64(),
        Some(sent_at),
        "{}: the request time is the signing time",
        event.name
    );
    let uri = event.request.uri().to_string();
    assert_eq!(uri, format!("https://{HOST}{HUBSPOT_WEBHOOK_PATH}"));
    let verify = |secret: &str, now_ms: i64| {
        verify_v3(
            secret.as_bytes(),
            event.request.method().as_str(),
            &uri,
            event.body(),
            Some(timestamp),
            Some(signature),
            now_ms,
        )
    };
    assert_eq!(
        verify(CLIENT_SECRET, sent_at),
        Ok(()),
        "{}: the signature does not verify with {CLIENT_SECRET}",
        event.name
    );
    assert_eq!(
        verify("another-secret", sent_at),
        Err(SignatureError::Mismatch),
        "{}",
        event.name
    );
    assert!(
        matches!(
            verify(CLIENT_SECRET, sent_at + MAX_SKEW_MS + 1),
            Err(SignatureError::Stale { .. })
        ),
        "{}",
        event.name
    );
    event
}

fn check_agent_reply(path: &Path) {
    let event = read_hubspot_event(path);
    let body = event.body_json();
    let name = &event.name;
    assert_eq!(body["type"], "OUTGOING_CHANNEL_MESSAGE_CREATED", "{name}");
    let message = &body["message"];
    assert_eq!(message["direction"], "OUTGOING", "{name}");
    for field in ["id", "channelId", "conversationsThreadId"] {
        assert!(
            message[field].as_str().is_some_and(|v| !v.is_empty()),
            "{name}: message.{field}"
        );
    }
    assert!(
        message["senders"][0]["actorId"]
            .as_str()
            .is_some_and(|actor| actor.starts_with("A-")),
        "{name}: the agent is message.senders[0].actorId"
    );
    assert!(
        message["text"]
            .as_str()
            .is_some_and(|t| !t.trim().is_empty()),
        "{name}: message.text"
    );
}

/// An app-webhook batch of `conversation.propertyChange` events about `property`.
fn property_changes(path: &Path, property: &str) -> Vec<Value> {
    let event = read_hubspot_event(path);
    let body = event.body_json();
    let events = body
        .as_array()
        .expect("an app-webhook batch is an array")
        .clone();
    assert!(!events.is_empty(), "{}", event.name);
    for change in &events {
        assert!(change["eventId"].is_u64(), "{}: eventId", event.name);
        assert_eq!(
            change["subscriptionType"], "conversation.propertyChange",
            "{}",
            event.name
        );
        assert!(
            change["objectId"].is_u64(),
            "{}: objectId is the thread id",
            event.name
        );
        assert_eq!(change["propertyName"], property, "{}", event.name);
    }
    events
}

fn check_assigned(path: &Path) {
    for change in property_changes(path, "assignedTo") {
        assert!(
            change["propertyValue"]
                .as_str()
                .is_some_and(|agent| agent.starts_with("A-")),
            "the agent's actor id"
        );
    }
}

fn check_closed(path: &Path) {
    for change in property_changes(path, "status") {
        assert_eq!(change["propertyValue"], "CLOSED");
    }
}

// ---------------------------------------------------------------- Botpress

/// Reads a Botpress call: the headers every call carries, the sandbox's shared secret in
/// `x-bp-configuration`, and the operation.
fn read_botpress_event(path: &Path, operation: &str) -> (HttpEvent, Value) {
    let event = read_http_event(path, BOTPRESS_PATH);
    assert_routed_by_template(&event);
    assert_eq!(event.header("x-bp-operation"), operation, "{}", event.name);
    for header in ["x-bot-id", "x-integration-id", "x-integration-alias"] {
        assert!(!event.header(header).is_empty(), "{}: {header}", event.name);
    }
    let configuration = BASE64
        .decode(event.header("x-bp-configuration"))
        .expect("x-bp-configuration is base64");
    let configuration: Value =
        serde_json::from_slice(&configuration).expect("x-bp-configuration is base64 of JSON");
    assert_eq!(
        configuration["sharedSecret"], SHARED_SECRET,
        "{}",
        event.name
    );
    let body = event.body_json();
    (event, body)
}

/// An `action_triggered` call: `{type, input}`.
fn read_action(path: &Path, action: &str) -> Value {
    let (event, body) = read_botpress_event(path, "action_triggered");
    assert_eq!(body["type"], action, "{}", event.name);
    assert!(body["input"].is_object(), "{}: input", event.name);
    body["input"].clone()
}

fn check_create_user(path: &Path) {
    let input: CreateUserInput =
        serde_json::from_value(read_action(path, "createUser")).expect("createUser's input");
    assert!(input.name.is_some_and(|name| !name.is_empty()));
    assert!(input.email.is_some_and(|email| email.contains('@')));
}

fn check_start_hitl(path: &Path) {
    let input: StartHandoffInput =
        serde_json::from_value(read_action(path, "startHitl")).expect("startHitl's input");
    assert!(input.user_id.starts_with("user_"));
    assert!(input.title.is_some());
    assert!(!input.message_history.is_empty());
    for entry in &input.message_history {
        assert!(entry["source"]["type"].is_string(), "{entry}");
        assert_eq!(entry["type"], "text", "{entry}");
    }
}

fn check_message_created(path: &Path) {
    let (event, body) = read_botpress_event(path, "message_created");
    let name = &event.name;
    assert_eq!(body["type"], "text", "{name}");
    assert!(body["payload"]["text"].is_string(), "{name}: payload.text");
    assert_eq!(body["conversation"]["channel"], "hitl", "{name}");
    assert!(body["conversation"]["id"].is_string(), "{name}");
    assert!(body["message"]["id"].is_string(), "{name}");
    assert!(body["user"]["id"].is_string(), "{name}");
}

fn check_stop_hitl(path: &Path) {
    let input = read_action(path, "stopHitl");
    assert!(
        input["conversationId"]
            .as_str()
            .is_some_and(|id| id.starts_with("conv_")),
        "stopHitl's input.conversationId"
    );
}

// ---------------------------------------------------------------- schedule

fn check_scheduled(path: &Path) {
    let text = std::fs::read_to_string(path).expect("readable");
    let event: Value = serde_json::from_str(&text).expect("the scheduled event is JSON");
    assert_eq!(event["source"], "aws.events");
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert!(
        event["resources"][0]
            .as_str()
            .is_some_and(|rule| rule.starts_with("arn:aws:events:"))
    );
    assert!(event["detail"].is_object());
}
