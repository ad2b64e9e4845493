//! Botpress Cloud calling the integration: what the bridge's `/botpress` endpoint receives.
//!
//! Botpress does not sign these requests; the bridge authenticates them with the shared secret the
//! bot owner typed into the integration's configuration, which arrives base64-encoded in
//! `x-bp-configuration`. This caller sends exactly those headers and bodies, so tests exercise the
//! same parsing and authentication that production traffic will.

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::{ids::new_id, model::now};
use crate::{RecordedCall, Recorder};

/// Who is calling: the bot and the integration as installed in it.
#[derive(Debug, Clone)]
pub struct CallerIdentity {
    pub bot_id: String,
    pub integration_id: String,
    pub integration_alias: String,
    pub webhook_id: String,
    /// The bot's own user id (`x-bot-user-id`).
    pub bot_user_id: String,
}

/// What the integration answered. A request that never got an answer (connection refused, timeout)
/// has `status` 0 and the error in `text`, so tests can assert on it instead of unwrapping.
#[derive(Debug, Clone)]
pub struct CallResult {
    pub status: u16,
    /// The body as JSON, `Null` when it is not JSON.
    pub body: Value,
    pub text: String,
}

impl CallResult {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `output` of an action's answer (`{"output": {...}, "meta": {...}}`), `Null` when absent.
    pub fn output(&self) -> &Value {
        &self.body["output"]
    }
}

/// Sends Botpress's calls to one integration endpoint.
#[derive(Debug, Clone)]
pub struct BotpressCaller {
    client: reqwest::Client,
    url: String,
    identity: CallerIdentity,
    shared_secret: String,
    /// Every call sent, with the status answered (0 when unanswered); shared by clones.
    sent: Recorder,
}

impl BotpressCaller {
    /// `bridge_botpress_url` is the full endpoint, e.g. `http://127.0.0.1:PORT/botpress`.
    pub fn new(bridge_botpress_url: &str, identity: CallerIdentity, shared_secret: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: bridge_botpress_url.to_string(),
            identity,
            shared_secret: shared_secret.to_string(),
            sent: Recorder::default(),
        }
    }

    /// A copy that presents another shared secret, to test that the bridge refuses it.
    pub fn with_shared_secret(&self, secret: &str) -> Self {
        Self {
            shared_secret: secret.to_string(),
            ..self.clone()
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn identity(&self) -> &CallerIdentity {
        &self.identity
    }

    /// Every call this caller (and its clones) sent, in the order they were answered.
    pub fn recorder(&self) -> Recorder {
        self.sent.clone()
    }

    pub async fn register(&self, webhook_url: &str) -> CallResult {
        self.send("register", json!({ "webhookUrl": webhook_url }))
            .await
    }

    pub async fn unregister(&self, webhook_url: &str) -> CallResult {
        self.send("unregister", json!({ "webhookUrl": webhook_url }))
            .await
    }

    /// `ping` carries no body.
    pub async fn ping(&self) -> CallResult {
        self.post(self.headers("ping"), String::new()).await
    }

    /// `action_triggered` with `{"type": action, "input": input}`.
    pub async fn action(&self, action: &str, input: Value) -> CallResult {
        self.send(
            "action_triggered",
            json!({ "type": action, "input": input }),
        )
        .await
    }

    /// The `hitl` interface's `createUser`. The HITL plugin puts an email or a phone number in `email`.
    pub async fn create_user(&self, name: &str, email_or_phone: Option<&str>) -> CallResult {
        let mut input = json!({ "name": name });
        if let Some(contact) = email_or_phone {
            input["email"] = json!(contact);
        }
        self.action("createUser", input).await
    }

    /// The `hitl` interface's `startHitl`; optional fields are left out when `None`, as the plugin does.
    pub async fn start_hitl(
        &self,
        user_id: &str,
        title: Option<&str>,
        description: Option<&str>,
        message_history: Value,
    ) -> CallResult {
        let mut input = json!({ "userId": user_id, "messageHistory": message_history });
        if let Some(title) = title {
            input["title"] = json!(title);
        }
        if let Some(description) = description {
            input["description"] = json!(description);
        }
        self.action("startHitl", input).await
    }

    pub async fn stop_hitl(&self, conversation_id: &str) -> CallResult {
        self.action("stopHitl", json!({ "conversationId": conversation_id }))
            .await
    }

    /// The end user's text message on channel `hitl`, under a new message id (returned).
    pub async fn user_message(
        &self,
        conversation_id: &str,
        user_id: &str,
        text: &str,
    ) -> (String, CallResult) {
        let message_id = new_id("msg");
        let result = self
            .user_message_with_id(&message_id, conversation_id, user_id, text)
            .await;
        (message_id, result)
    }

    /// Re-sends a `message_created` under a given message id, as Botpress does when it retries.
    pub async fn user_message_with_id(
        &self,
        message_id: &str,
        conversation_id: &str,
        user_id: &str,
        text: &str,
    ) -> CallResult {
        let body = self.message_created_body(
            message_id,
            conversation_id,
            user_id,
            "text",
            json!({ "text": text }),
        );
        self.send("message_created", body).await
    }

    /// The end user's message of any type (`image`, `file`, `bloc`...) on channel `hitl`, under
    /// `message_id`; `payload` gets the `userId`.
    pub async fn user_message_of_type(
        &self,
        message_id: &str,
        conversation_id: &str,
        user_id: &str,
        kind: &str,
        payload: Value,
    ) -> CallResult {
        self.user_message_created_at(message_id, conversation_id, user_id, kind, payload, &now())
            .await
    }

    /// As [`Self::user_message_of_type`], for a message Botpress created at `created_at` (RFC
    /// 3339): one whose relaying started late, as a slow file's does.
    pub async fn user_message_created_at(
        &self,
        message_id: &str,
        conversation_id: &str,
        user_id: &str,
        kind: &str,
        payload: Value,
        created_at: &str,
    ) -> CallResult {
        let mut body =
            self.message_created_body(message_id, conversation_id, user_id, kind, payload);
        body["message"]["createdAt"] = json!(created_at);
        self.send("message_created", body).await
    }

    /// The body of `message_created` for a text message: whole conversation, message and user
    /// objects, as the SDK's integration server receives them.
    fn message_created_body(
        &self,
        message_id: &str,
        conversation_id: &str,
        user_id: &str,
        kind: &str,
        mut payload: Value,
    ) -> Value {
        let at = now();
        payload["userId"] = json!(user_id);
        json!({
            "type": kind,
            "payload": payload,
            "conversation": {
                "id": conversation_id,
                "channel": "hitl",
                "integration": self.identity.integration_alias,
                "tags": {},
                "createdAt": at,
                "updatedAt": at,
            },
            "message": {
                "id": message_id,
                "type": kind,
                "payload": payload,
                "userId": user_id,
                "conversationId": conversation_id,
                "direction": "outgoing",
                "tags": {},
                "createdAt": at,
                "updatedAt": at,
            },
            "user": {
                "id": user_id,
                "tags": {},
                "createdAt": at,
                "updatedAt": at,
            },
        })
    }

    /// Any operation with any JSON body, with the standard headers.
    pub async fn send(&self, operation: &str, body: Value) -> CallResult {
        self.post(self.headers(operation), body.to_string()).await
    }

    /// Exactly these headers and this body, nothing added: for hostile-input tests. Headers whose
    /// name or value is not valid HTTP are skipped (reqwest could not send them anyway).
    pub async fn send_with_headers(
        &self,
        headers: Vec<(String, String)>,
        body: String,
    ) -> CallResult {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                (Ok(name), Ok(value)) => {
                    map.append(name, value);
                }
                _ => tracing::warn!(%name, "skipping a header that is not valid HTTP"),
            }
        }
        self.post(map, body).await
    }

    /// The headers Botpress sends with every call for `operation`.
    pub fn headers(&self, operation: &str) -> HeaderMap {
        let configuration = json!({ "sharedSecret": self.shared_secret }).to_string();
        let pairs = [
            ("x-bp-operation", operation.to_string()),
            ("x-bot-id", self.identity.bot_id.clone()),
            ("x-bot-user-id", self.identity.bot_user_id.clone()),
            ("x-integration-id", self.identity.integration_id.clone()),
            (
                "x-integration-alias",
                self.identity.integration_alias.clone(),
            ),
            ("x-webhook-id", self.identity.webhook_id.clone()),
            ("x-bp-configuration", STANDARD.encode(configuration)),
        ];
        let mut map = HeaderMap::new();
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in pairs {
            match HeaderValue::from_str(&value) {
                Ok(value) => {
                    map.insert(name, value);
                }
                Err(_) => {
                    tracing::warn!(name, "identity value is not a valid header value; left out")
                }
            }
        }
        map
    }

    async fn post(&self, headers: HeaderMap, body: String) -> CallResult {
        let at = chrono::Utc::now();
        let mut call = RecordedCall {
            method: "POST".to_string(),
            path: reqwest::Url::parse(&self.url)
                .map(|url| url.path().to_string())
                .unwrap_or_else(|_| self.url.clone()),
            query: None,
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_ascii_lowercase(),
                        value.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            body: body.clone(),
            status: 0,
            at,
            handled_in: std::time::Duration::ZERO,
            arrived: std::time::Instant::now(),
        };
        let sent = call.arrived;
        let result = self.post_unrecorded(headers, body).await;
        call.status = result.status;
        call.handled_in = sent.elapsed();
        self.sent.push(call);
        result
    }

    async fn post_unrecorded(&self, headers: HeaderMap, body: String) -> CallResult {
        let response = self
            .client
            .post(&self.url)
            .headers(headers)
            .body(body)
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                CallResult { status, body, text }
            }
            Err(error) => CallResult {
                status: 0,
                body: Value::Null,
                text: error.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Json, Router, body::Bytes, http::HeaderMap as AxumHeaders, routing::post};

    /// A server that answers every POST with the headers and body it received.
    async fn echo_server() -> String {
        async fn echo(headers: AxumHeaders, body: Bytes) -> Json<Value> {
            let headers: serde_json::Map<String, Value> = headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        json!(value.to_str().unwrap_or_default()),
                    )
                })
                .collect();
            Json(json!({
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
                "output": { "echoed": true },
            }))
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, Router::new().route("/botpress", post(echo))).await;
        });
        format!("http://{addr}/botpress")
    }

    fn identity() -> CallerIdentity {
        CallerIdentity {
            bot_id: "bot-1".into(),
            integration_id: "intver_01".into(),
            integration_alias: "hubspot-hitl".into(),
            webhook_id: "wh-1".into(),
            bot_user_id: "user_bot".into(),
        }
    }

    fn configuration(result: &CallResult) -> Value {
        let encoded = result.body["headers"]["x-bp-configuration"]
            .as_str()
            .expect("configuration header");
        let decoded = STANDARD.decode(encoded).expect("standard base64");
        serde_json::from_slice(&decoded).expect("JSON configuration")
    }

    #[tokio::test]
    async fn every_call_carries_the_botpress_headers() {
        let caller = BotpressCaller::new(&echo_server().await, identity(), "s3cret");
        let result = caller.register("https://example.com/hook").await;
        assert_eq!(result.status, 200);
        let headers = &result.body["headers"];
        assert_eq!(headers["x-bp-operation"], "register");
        assert_eq!(headers["x-bot-id"], "bot-1");
        assert_eq!(headers["x-bot-user-id"], "user_bot");
        assert_eq!(headers["x-integration-id"], "intver_01");
        assert_eq!(headers["x-integration-alias"], "hubspot-hitl");
        assert_eq!(headers["x-webhook-id"], "wh-1");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(configuration(&result), json!({ "sharedSecret": "s3cret" }));
        let body: Value = serde_json::from_str(result.body["body"].as_str().unwrap_or_default())
            .expect("JSON body");
        assert_eq!(body, json!({ "webhookUrl": "https://example.com/hook" }));
    }

    #[tokio::test]
    async fn actions_and_secrets() {
        let caller = BotpressCaller::new(&echo_server().await, identity(), "s3cret");
        let result = caller
            .with_shared_secret("wrong")
            .create_user("Ann", Some("+33612345678"))
            .await;
        assert_eq!(configuration(&result), json!({ "sharedSecret": "wrong" }));
        assert_eq!(result.body["headers"]["x-bp-operation"], "action_triggered");
        assert_eq!(result.output(), &json!({ "echoed": true }));
        let body: Value = serde_json::from_str(result.body["body"].as_str().unwrap_or_default())
            .expect("JSON body");
        assert_eq!(
            body,
            json!({ "type": "createUser", "input": { "name": "Ann", "email": "+33612345678" } })
        );
        let ping = caller.ping().await;
        assert_eq!(ping.body["headers"]["x-bp-operation"], "ping");
        assert_eq!(ping.body["body"], "");
    }

    #[tokio::test]
    async fn user_message_sends_whole_objects_and_returns_the_message_id() {
        let caller = BotpressCaller::new(&echo_server().await, identity(), "s3cret");
        let (message_id, result) = caller
            .user_message(&new_id("conv"), &new_id("user"), "hello")
            .await;
        assert!((28..=36).contains(&message_id.len()));
        assert_eq!(result.body["headers"]["x-bp-operation"], "message_created");
        let body: Value = serde_json::from_str(result.body["body"].as_str().unwrap_or_default())
            .expect("JSON body");
        assert_eq!(body["type"], "text");
        assert_eq!(body["message"]["id"], message_id.as_str());
        assert_eq!(body["message"]["payload"]["text"], "hello");
        assert_eq!(body["conversation"]["channel"], "hitl");
        assert_eq!(body["user"]["id"], body["message"]["userId"]);
    }

    #[tokio::test]
    async fn raw_sends_add_nothing_and_unreachable_servers_give_status_zero() {
        let caller = BotpressCaller::new(&echo_server().await, identity(), "s3cret");
        let result = caller
            .send_with_headers(vec![("x-bp-operation".into(), "ping".into())], "{".into())
            .await;
        assert!(result.body["headers"].get("x-bot-id").is_none());
        assert_eq!(result.body["body"], "{");
        let nowhere = BotpressCaller::new("http://127.0.0.1:9/botpress", identity(), "s");
        assert_eq!(nowhere.ping().await.status, 0);
    }
}
