//! The simulated Runtime API over real HTTP, as the bridge will call it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{BotpressSim, BotpressSimConfig};

const INTEGRATION_ID: &str = "intver_01J0000000000000000000000";

struct Client {
    sim: BotpressSim,
    http: reqwest::Client,
}

impl Client {
    async fn start() -> Self {
        let sim = BotpressSim::start(BotpressSimConfig::default())
            .await
            .expect("start the simulator");
        Self {
            sim,
            http: reqwest::Client::new(),
        }
    }

    /// An integration call: token, bot id and integration headers all set.
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.sim.base_url()))
            .bearer_auth(&self.sim.config().token)
            .header("x-bot-id", &self.sim.config().bot_id)
            .header("x-integration-id", INTEGRATION_ID)
            .header("x-integration-alias", "hubspot-hitl")
            .json(&body);
        Self::answer(request).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = self
            .http
            .get(format!("{}{path}", self.sim.base_url()))
            .bearer_auth(&self.sim.config().token)
            .header("x-bot-id", &self.sim.config().bot_id);
        Self::answer(request).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = self
            .http
            .put(format!("{}{path}", self.sim.base_url()))
            .bearer_auth(&self.sim.config().token)
            .header("x-bot-id", &self.sim.config().bot_id)
            .header("x-integration-id", INTEGRATION_ID)
            .json(&body);
        Self::answer(request).await
    }

    async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the simulator answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn user(&self, tags: Value) -> Value {
        let (status, body) = self
            .post(
                "/v1/chat/users/get-or-create",
                json!({ "tags": tags, "name": "Agent" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["user"].clone()
    }

    async fn conversation(&self, tags: Value) -> Value {
        let (status, body) = self
            .post(
                "/v1/chat/conversations/get-or-create",
                json!({ "channel": "hitl", "tags": tags }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["conversation"].clone()
    }
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, kind: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], expected.as_u16(), "{body}");
    assert_eq!(body["type"], kind, "{body}");
    assert!(body["id"].as_str().is_some_and(|id| id.starts_with("err_")));
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn get_or_create_user_is_idempotent_per_tags() {
    let client = Client::start().await;
    let ann = client.user(json!({ "agentId": "1" })).await;
    let ann_again = client.user(json!({ "agentId": "1" })).await;
    let bob = client.user(json!({ "agentId": "2" })).await;
    assert_eq!(ann["id"], ann_again["id"]);
    assert_ne!(ann["id"], bob["id"]);
    let id = ann["id"].as_str().expect("id");
    assert!((28..=36).contains(&id.len()), "{id}");
    assert_eq!(ann["name"], "Agent");
    assert!(ann["createdAt"].is_string() && ann["updatedAt"].is_string());

    let (status, body) = client.get(&format!("/v1/chat/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["id"], ann["id"]);
    let (status, body) = client
        .get("/v1/chat/users/user_nobody000000000000000000")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "ResourceNotFound");
    assert_eq!(client.sim.users().len(), 2);
}

#[tokio::test]
async fn update_user_sets_what_it_is_given_and_refuses_what_the_spec_does_not_allow() {
    let client = Client::start().await;
    let ann = client.user(json!({ "agentId": "1" })).await;
    let path = format!("/v1/chat/users/{}", ann["id"].as_str().unwrap());

    let (status, body) = client
        .put(
            &path,
            json!({ "name": "Ann", "pictureUrl": "https://example.com/a.png" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["name"], "Ann");
    assert_eq!(body["user"]["pictureUrl"], "https://example.com/a.png");
    let (status, body) = client.put(&path, json!({ "pictureUrl": null })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["name"], "Ann");
    assert!(body["user"].get("pictureUrl").is_none(), "{body}");

    let (status, body) = client.put(&path, json!({ "nickname": "A" })).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "InvalidPayload");
    let (status, body) = client.put(&path, json!({ "name": "x".repeat(201) })).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "InvalidPayload");
    let (status, body) = client
        .put(
            "/v1/chat/users/user_nobody000000000000000000",
            json!({ "name": "B" }),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "ResourceNotFound");
    assert_eq!(
        client.sim.user(ann["id"].as_str().unwrap()).unwrap()["name"],
        "Ann"
    );
}

#[tokio::test]
async fn a_user_found_can_be_kept_as_it_is() {
    let client = Client::start().await;
    let first = client.user(json!({ "agentId": "1" })).await;
    client.sim.keep_found_users_as_they_are(true);
    let (status, body) = client
        .post(
            "/v1/chat/users/get-or-create",
            json!({ "tags": { "agentId": "1" }, "name": "Renamed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["id"], first["id"]);
    assert_eq!(body["user"]["name"], "Agent");
}

#[tokio::test]
async fn conversations_carry_the_integration_and_can_be_read_back() {
    let client = Client::start().await;
    let conversation = client.conversation(json!({ "ticketId": "42" })).await;
    assert_eq!(conversation["channel"], "hitl");
    assert_eq!(conversation["integration"], "hubspot-hitl");
    assert_eq!(conversation["tags"], json!({ "ticketId": "42" }));
    let again = client.conversation(json!({ "ticketId": "42" })).await;
    assert_eq!(conversation["id"], again["id"]);
    let id = conversation["id"].as_str().expect("id");
    let (status, body) = client.get(&format!("/v1/chat/conversations/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["conversation"], conversation);
}

#[tokio::test]
async fn create_message_needs_a_known_conversation_and_user() {
    let client = Client::start().await;
    let user = client.user(json!({ "agentId": "1" })).await;
    let conversation = client.conversation(json!({ "ticketId": "1" })).await;
    let message = |conversation_id: &Value, user_id: &Value| {
        json!({
            "conversationId": conversation_id,
            "userId": user_id,
            "type": "text",
            "payload": { "text": "hi" },
            "tags": {},
        })
    };

    let (status, body) = client
        .post(
            "/v1/chat/messages",
            message(&json!("conv_00000000000000000000000000"), &user["id"]),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "ResourceNotFound");
    let (status, body) = client
        .post(
            "/v1/chat/messages",
            message(
                &conversation["id"],
                &json!("user_00000000000000000000000000"),
            ),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "ResourceNotFound");
    let (status, body) = client
        .post("/v1/chat/messages", message(&json!("short"), &user["id"]))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "InvalidPayload");

    let (status, body) = client
        .post(
            "/v1/chat/messages",
            message(&conversation["id"], &user["id"]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"]["direction"], "incoming");
    assert_eq!(body["message"]["payload"], json!({ "text": "hi" }));
    let conversation_id = conversation["id"].as_str().expect("id");
    assert_eq!(client.sim.messages_in(conversation_id).len(), 1);
    assert_eq!(client.sim.messages(), vec![body["message"].clone()]);
}

#[tokio::test]
async fn messages_without_an_integration_id_are_outgoing() {
    let client = Client::start().await;
    let user = client.user(json!({ "agentId": "1" })).await;
    let conversation = client.conversation(json!({ "ticketId": "1" })).await;
    let response = client
        .http
        .post(format!("{}/v1/chat/messages", client.sim.base_url()))
        .bearer_auth(&client.sim.config().token)
        .header("x-bot-id", &client.sim.config().bot_id)
        .json(&json!({
            "conversationId": conversation["id"],
            "userId": user["id"],
            "type": "text",
            "payload": { "text": "from the bot" },
            "tags": {},
        }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["message"]["direction"], "outgoing");
}

#[tokio::test]
async fn get_or_create_message_returns_the_tagged_message_with_200() {
    let client = Client::start().await;
    let user = client.user(json!({ "agentId": "1" })).await;
    let conversation = client.conversation(json!({ "ticketId": "1" })).await;
    let body = json!({
        "conversationId": conversation["id"],
        "userId": user["id"],
        "type": "text",
        "payload": { "text": "hi" },
        "tags": { "hubspotMessageId": "m-1" },
    });
    let (status, first) = client
        .post("/v1/chat/messages/get-or-create", body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = client.post("/v1/chat/messages/get-or-create", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["message"]["id"], again["message"]["id"]);
    assert_eq!(client.sim.messages().len(), 1);
}

#[tokio::test]
async fn events_are_stored_pending_and_checked_against_known_ids() {
    let client = Client::start().await;
    let user = client.user(json!({ "agentId": "1" })).await;
    let conversation = client.conversation(json!({ "ticketId": "1" })).await;
    let (status, body) = client
        .post(
            "/v1/chat/events",
            json!({
                "type": "hitlAssigned",
                "payload": { "conversationId": conversation["id"], "userId": user["id"] },
                "conversationId": conversation["id"],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let event = &body["event"];
    assert_eq!(event["status"], "pending");
    assert_eq!(event["failureReason"], Value::Null);
    assert_eq!(event["conversationId"], conversation["id"]);
    assert!(event.get("userId").is_none());
    assert_eq!(
        client.sim.events_of_type("hitlAssigned"),
        vec![event.clone()]
    );
    assert!(client.sim.events_of_type("hitlStopped").is_empty());

    let (status, body) = client
        .post(
            "/v1/chat/events",
            json!({ "type": "hitlStopped", "payload": {}, "conversationId": "conv_00000000000000000000000000" }),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "ResourceNotFound");
    assert_eq!(client.sim.events().len(), 1);
}

#[tokio::test]
async fn unknown_body_fields_are_rejected_naming_the_field() {
    let client = Client::start().await;
    let (status, body) = client
        .post(
            "/v1/chat/users/get-or-create",
            json!({ "tags": {}, "email": "a@b.c" }),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "InvalidPayload");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("email"),
        "{body}"
    );
    let (status, body) = client
        .post(
            "/v1/chat/conversations/get-or-create",
            json!({ "tags": {} }),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "InvalidPayload");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("channel"),
        "{body}"
    );
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_refused_and_recorded() {
    let client = Client::start().await;
    let url = format!("{}/v1/chat/users/get-or-create", client.sim.base_url());
    let body = json!({ "tags": { "a": "1" } });

    let no_token = client
        .http
        .post(&url)
        .header("x-bot-id", "sandbox-bot")
        .json(&body);
    let (status, answer) = Client::answer(no_token).await;
    assert_error(status, &answer, StatusCode::UNAUTHORIZED, "Unauthorized");

    let wrong_token = client
        .http
        .post(&url)
        .bearer_auth("nope")
        .header("x-bot-id", "sandbox-bot")
        .json(&body);
    let (status, answer) = Client::answer(wrong_token).await;
    assert_error(status, &answer, StatusCode::UNAUTHORIZED, "Unauthorized");

    let no_bot = client
        .http
        .post(&url)
        .bearer_auth("sandbox-botpress-token")
        .json(&body);
    let (status, answer) = Client::answer(no_bot).await;
    assert_error(status, &answer, StatusCode::BAD_REQUEST, "InvalidPayload");

    let other_bot = client
        .http
        .post(&url)
        .bearer_auth("sandbox-botpress-token")
        .header("x-bot-id", "other")
        .json(&body);
    let (status, answer) = Client::answer(other_bot).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "ResourceNotFound");

    assert!(client.sim.users().is_empty());
    let calls = client.sim.recorder().calls();
    let statuses: Vec<u16> = calls.iter().map(|call| call.status).collect();
    assert_eq!(statuses, vec![401, 401, 400, 404]);
    assert_eq!(calls[1].header("authorization"), Some("Bearer nope"));
}

#[tokio::test]
async fn fail_next_fails_the_given_number_of_calls_then_recovers() {
    let client = Client::start().await;
    client.sim.fail_next("/v1/chat/users", 503, 2);
    let body = json!({ "tags": { "a": "1" } });
    for _ in 0..2 {
        let (status, answer) = client
            .post("/v1/chat/users/get-or-create", body.clone())
            .await;
        assert_error(status, &answer, StatusCode::SERVICE_UNAVAILABLE, "Unknown");
    }
    let (status, _) = client.post("/v1/chat/users/get-or-create", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(client.sim.users().len(), 1);
    assert_eq!(client.sim.recorder().count("POST", "/v1/chat/users"), 3);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_resource_not_found() {
    let client = Client::start().await;
    let (status, body) = client.post("/v1/chat/states/x", json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "ResourceNotFound");
    let (status, body) = client.get("/v1/chat/messages").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "ResourceNotFound");
}
