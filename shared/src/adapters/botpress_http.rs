//! The Botpress Runtime API client. Every call is an integration call (`x-integration-id`),
//! so the messages it creates are incoming to the bot, which the HITL plugin relays to the
//! end user.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http_client::{api_url, read_json};
use crate::model::BotpressContext;
use crate::ports::{
    BotpressGateway, BotpressMessage, BotpressUser, FoundUser, Service, UpstreamError,
};

pub struct BotpressClient {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

#[derive(Deserialize)]
struct Identified {
    id: String,
}

#[derive(Deserialize)]
struct UserAnswer {
    user: Identified,
}

#[derive(Deserialize)]
struct UserFieldsAnswer {
    user: UserFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserFields {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture_url: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ConversationAnswer {
    conversation: Identified,
}

#[derive(Deserialize)]
struct MessageAnswer {
    message: Identified,
}

impl BotpressClient {
    pub fn new(http: reqwest::Client, api_base: &str, token: SecretString) -> Self {
        Self {
            http,
            base: api_base.trim_end_matches('/').to_string(),
            token,
        }
    }

    fn post(&self, bot: &BotpressContext, path: &str) -> RequestBuilder {
        self.with_bot_headers(self.http.post(format!("{}{path}", self.base)), bot)
    }

    /// The token and the headers that make a call the integration's, in `bot`.
    fn with_bot_headers(&self, request: RequestBuilder, bot: &BotpressContext) -> RequestBuilder {
        request
            .bearer_auth(self.token.expose_secret())
            .header("x-bot-id", &bot.bot_id)
            .header("x-integration-id", &bot.integration_id)
            .header("x-integration-alias", &bot.integration_alias)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<T, UpstreamError> {
        let response =
            super::retry::send_with_retries(Service::Botpress, operation, request).await?;
        read_json(Service::Botpress, operation, response).await
    }
}

#[async_trait]
impl BotpressGateway for BotpressClient {
    async fn create_user(
        &self,
        bot: &BotpressContext,
        tags: BTreeMap<String, String>,
        name: Option<&str>,
        picture_url: Option<&str>,
    ) -> Result<String, UpstreamError> {
        let body = user_body(tags, name, picture_url);
        self.post_user(bot, "create user", "/v1/chat/users", &body)
            .await
    }

    async fn user(
        &self,
        bot: &BotpressContext,
        user_id: &str,
    ) -> Result<Option<BotpressUser>, UpstreamError> {
        const OP: &str = "get user";
        let request = self.with_bot_headers(self.http.get(self.user_url(OP, user_id)?), bot);
        let response = super::retry::send_with_retries(Service::Botpress, OP, request).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            // Botpress answers 404 for an unknown bot too: only a 404 about the user is "no
            // such user" (the rule `hitl doctor` uses to tell them apart).
            let text = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|body| body.get("message")?.as_str().map(str::to_string))
                .unwrap_or_else(|| text.clone());
            let about_the_bot = message.replace(user_id, "").to_lowercase().contains("bot");
            if about_the_bot {
                return Err(UpstreamError::from_status(
                    Service::Botpress,
                    OP,
                    404,
                    &text,
                ));
            }
            return Ok(None);
        }
        let found: UserFieldsAnswer = read_json(Service::Botpress, OP, response).await?;
        Ok(Some(BotpressUser {
            name: found.user.name,
            tags: found.user.tags,
        }))
    }

    async fn get_or_create_user(
        &self,
        bot: &BotpressContext,
        tags: BTreeMap<String, String>,
        name: Option<&str>,
        picture_url: Option<&str>,
    ) -> Result<FoundUser, UpstreamError> {
        let body = user_body(tags, name, picture_url);
        let answer: UserFieldsAnswer = self
            .call(
                "get or create user",
                self.post(bot, "/v1/chat/users/get-or-create").json(&body),
            )
            .await?;
        Ok(FoundUser {
            id: answer.user.id,
            name: answer.user.name,
            picture_url: answer.user.picture_url,
        })
    }

    async fn update_user(
        &self,
        bot: &BotpressContext,
        user_id: &str,
        name: Option<&str>,
        picture_url: Option<&str>,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "update user";
        let body = with_name_and_picture(json!({}), name, picture_url);
        let request = self
            .with_bot_headers(self.http.put(self.user_url(OP, user_id)?), bot)
            .json(&body);
        let _: UserAnswer = self.call(OP, request).await?;
        Ok(())
    }

    async fn get_or_create_conversation(
        &self,
        bot: &BotpressContext,
        tags: BTreeMap<String, String>,
    ) -> Result<String, UpstreamError> {
        let body = json!({ "channel": "hitl", "tags": tags });
        let answer: ConversationAnswer = self
            .call(
                "get or create conversation",
                self.post(bot, "/v1/chat/conversations/get-or-create")
                    .json(&body),
            )
            .await?;
        Ok(answer.conversation.id)
    }

    async fn get_or_create_message(
        &self,
        bot: &BotpressContext,
        message: &BotpressMessage,
    ) -> Result<String, UpstreamError> {
        let mut body = json!({
            "conversationId": message.conversation_id,
            "userId": message.user_id,
            "type": message.kind,
            "payload": message.payload,
            "tags": message.tags,
            "discriminateByTags": message.tags.keys().collect::<Vec<_>>(),
        });
        if let Some(delay) = message.delay {
            body["schedule"] = json!({ "delay": delay.as_millis() });
        }
        let answer: MessageAnswer = self
            .call(
                "create message",
                self.post(bot, "/v1/chat/messages/get-or-create")
                    .json(&body),
            )
            .await?;
        Ok(answer.message.id)
    }

    async fn create_event(
        &self,
        bot: &BotpressContext,
        event_type: &str,
        conversation_id: &str,
        payload: Value,
        delay: Option<std::time::Duration>,
    ) -> Result<(), UpstreamError> {
        let mut body = json!({
            "type": event_type,
            "payload": payload,
            "conversationId": conversation_id,
        });
        if let Some(delay) = delay {
            body["schedule"] = json!({ "delay": delay.as_millis() });
        }
        // No key makes an event once: repeated after a failure that may follow its being
        // made, at least once (`adapters::retry`).
        let _event: Value = self
            .call(
                "create event",
                self.post(bot, "/v1/chat/events").json(&body),
            )
            .await?;
        Ok(())
    }
}

impl BotpressClient {
    /// `createUser`: the id of the user Botpress answers.
    async fn post_user(
        &self,
        bot: &BotpressContext,
        operation: &'static str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<String, UpstreamError> {
        let answer: UserAnswer = self
            .call(operation, self.post(bot, path).json(body))
            .await?;
        Ok(answer.user.id)
    }

    /// `/v1/chat/users/{id}`, the id escaped as one path segment.
    fn user_url(
        &self,
        operation: &'static str,
        user_id: &str,
    ) -> Result<reqwest::Url, UpstreamError> {
        let base = reqwest::Url::parse(&self.base).map_err(|error| {
            UpstreamError::unexpected(
                Service::Botpress,
                operation,
                format!("bad API base URL: {error}"),
            )
        })?;
        Ok(api_url(&base, "/v1/chat/users", &[user_id]))
    }
}

/// The body of `createUser` and `getOrCreateUser`: the tags, and the name and picture when known.
fn user_body(
    tags: BTreeMap<String, String>,
    name: Option<&str>,
    picture_url: Option<&str>,
) -> serde_json::Value {
    with_name_and_picture(json!({ "tags": tags }), name, picture_url)
}

/// `body` with the name and the picture that are known.
fn with_name_and_picture(
    mut body: serde_json::Value,
    name: Option<&str>,
    picture_url: Option<&str>,
) -> serde_json::Value {
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    if let Some(picture_url) = picture_url {
        body["pictureUrl"] = json!(picture_url);
    }
    body
}
