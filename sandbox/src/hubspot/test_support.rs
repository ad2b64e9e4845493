//! Helpers for the simulator's own tests: a started simulator with an access token, and a
//! receiver that plays the bridge's webhook endpoint.

use axum::{Router, http::StatusCode, middleware};
use serde_json::{Value, json};

use super::{HubSpotSim, HubSpotSimConfig};
use crate::recorder::{Recorder, record};

/// A running simulator, an HTTP client, and a live access token.
pub(crate) struct Harness {
    pub(crate) sim: HubSpotSim,
    pub(crate) http: reqwest::Client,
    pub(crate) token: String,
}

impl Harness {
    pub(crate) async fn start() -> Self {
        Self::with_config(HubSpotSimConfig::default()).await
    }

    pub(crate) async fn with_config(config: HubSpotSimConfig) -> Self {
        let sim = HubSpotSim::start(config).await.expect("start simulator");
        let http = reqwest::Client::new();
        let mut harness = Harness {
            sim,
            http,
            token: String::new(),
        };
        let refresh_token = harness.sim.current_refresh_token();
        let (status, body) = harness.refresh(&refresh_token).await;
        assert_eq!(status, 200, "{body}");
        harness.token = body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        harness
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let config = self.sim.config();
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("refresh_token", refresh_token),
        ];
        let response = self
            .http
            .post(self.url("/oauth/v1/token"))
            .form(&form)
            .send()
            .await
            .expect("token request");
        read(response).await
    }

    /// A request with the harness's bearer token.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request")).await
    }

    /// The query string that authenticates channel-level operations.
    pub(crate) fn hapikey(&self) -> String {
        let config = self.sim.config();
        format!(
            "hapikey={}&appId={}",
            config.developer_api_key, config.app_id
        )
    }

    /// Creates a channel (webhooks to `webhook_url`) and an account in the help-desk inbox.
    pub(crate) async fn channel_with_account(&self, webhook_url: &str) -> (String, String) {
        let response = self
            .http
            .post(self.url(&format!("/conversations/v3/custom-channels?{}", self.hapikey())))
            .json(&json!({
                "name": "Botpress",
                "webhookUrl": webhook_url,
                "capabilities": { "deliveryIdentifierTypes": ["CHANNEL_SPECIFIC_OPAQUE_ID"], "threadingModel": "INTEGRATION_THREAD_ID" },
            }))
            .send()
            .await
            .expect("create channel");
        let (status, channel) = read(response).await;
        assert_eq!(status, 201, "{channel}");
        let channel_id = channel["id"].as_str().expect("channel id").to_string();
        let (status, account) = self
            .call(
                reqwest::Method::POST,
                &format!("/conversations/v3/custom-channels/{channel_id}/channel-accounts"),
                Some(json!({ "inboxId": self.sim.config().help_desk_inbox_id, "name": "Support bot", "authorized": true })),
            )
            .await;
        assert_eq!(status, 201, "{account}");
        (
            channel_id,
            account["id"].as_str().expect("account id").to_string(),
        )
    }

    /// Publishes an INCOMING message from customer `who` on `integration_thread_id`.
    pub(crate) async fn publish_incoming(
        &self,
        channel_id: &str,
        account_id: &str,
        integration_thread_id: &str,
        idempotency_id: &str,
        text: &str,
    ) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/conversations/v3/custom-channels/{channel_id}/messages"),
            Some(json!({
                "channelAccountId": account_id,
                "messageDirection": "INCOMING",
                "text": text,
                "integrationThreadId": integration_thread_id,
                "integrationIdempotencyId": idempotency_id,
                "senders": [{ "name": "Cleo Customer", "deliveryIdentifier": { "type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "user-1" } }],
            })),
        )
        .await
    }
}

pub(crate) async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Plays the bridge's webhook endpoint: answers 200 to anything and records it.
pub(crate) async fn receiver() -> (String, Recorder) {
    let recorder = Recorder::default();
    let app = Router::new()
        .fallback(|| async { StatusCode::OK })
        .layer(middleware::from_fn_with_state(recorder.clone(), record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!(
        "http://{}/webhooks/hubspot",
        listener.local_addr().expect("receiver addr")
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, recorder)
}

/// Asserts the standard HubSpot error body and returns its category.
pub(crate) fn error_category(body: &Value) -> &str {
    assert_eq!(body["status"], "error", "{body}");
    assert!(body["message"].is_string(), "{body}");
    let correlation = body["correlationId"].as_str().expect("correlationId");
    assert!(uuid::Uuid::parse_str(correlation).is_ok(), "{body}");
    body["category"].as_str().expect("category")
}
