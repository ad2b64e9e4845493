//! The HubSpot API client: Custom Channels, Conversations, CRM contacts.
//!
//! Every OAuth call goes through [`HubSpotClient::send_authorized`], which adds the bearer
//! token and, on a 401, refreshes once (shared with concurrent callers) and retries.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http_client::read_json;
use crate::model::DeliveryIdentifier;
use crate::ports::{
    AccessTokens, AgentProfile, ChannelSpec, DeliveryStatus, HubSpotGateway, IncomingMessage,
    PublishedMessage, Service, ThreadStatus, UpstreamError,
};

/// Where HubSpot's Custom Channels API lives (the path HubSpot's guide and Postman collection use).
const CUSTOM_CHANNELS: &str = "/conversations/v3/custom-channels";

pub struct HubSpotClient {
    http: reqwest::Client,
    base: Url,
    app_id: u64,
    developer_api_key: SecretString,
    tokens: Arc<dyn AccessTokens>,
}

#[derive(Deserialize)]
struct Page<T> {
    results: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<NextPage>,
}

#[derive(Deserialize)]
struct NextPage {
    after: String,
}

impl<T> Page<T> {
    fn next_after(&self) -> Option<String> {
        self.paging
            .as_ref()
            .and_then(|paging| paging.next.as_ref())
            .map(|next| next.after.clone())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Channel {
    id: String,
    #[serde(default)]
    webhook_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelAccount {
    id: String,
    inbox_id: String,
    #[serde(default)]
    archived: bool,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Published {
    id: String,
    conversations_thread_id: String,
}

#[derive(Deserialize)]
struct Actor {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar: Option<String>,
}

/// Pages are read until this many, so a misbehaving listing cannot loop forever.
const MAX_PAGES: usize = 50;

impl HubSpotClient {
    pub fn new(
        http: reqwest::Client,
        api_base: &str,
        app_id: u64,
        developer_api_key: SecretString,
        tokens: Arc<dyn AccessTokens>,
    ) -> Result<Self, url::ParseError> {
        Ok(Self {
            http,
            base: Url::parse(api_base)?,
            app_id,
            developer_api_key,
            tokens,
        })
    }

    /// `base` + path segments, each percent-encoded as a segment.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL has path segments")
            .pop_if_empty()
            .extend(
                segments
                    .iter()
                    .flat_map(|s| s.split('/'))
                    .filter(|s| !s.is_empty()),
            );
        url
    }

    fn custom_channels_url(&self, rest: &[&str]) -> Url {
        let mut segments = vec![CUSTOM_CHANNELS];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Channel-level operations authenticate with the developer API key and app id.
    fn with_developer_key(&self, request: RequestBuilder) -> RequestBuilder {
        request.query(&[
            ("hapikey", self.developer_api_key.expose_secret()),
            ("appId", &self.app_id.to_string()),
        ])
    }

    /// Sends an OAuth-authenticated request; on 401 refreshes the token once and retries.
    async fn send_authorized(
        &self,
        operation: &'static str,
        build: impl Fn(&SecretString) -> RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        let token = self
            .tokens
            .access_token()
            .await
            .map_err(|e| token_failure(operation, e))?;
        let response = send(operation, build(&token)).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        tracing::info!(
            operation,
            "HubSpot answered 401; refreshing the access token once"
        );
        let fresh = self
            .tokens
            .refresh_after_rejection(&token)
            .await
            .map_err(|e| token_failure(operation, e))?;
        send(operation, build(&fresh)).await
    }

    fn authorized(&self, method: Method, url: Url, token: &SecretString) -> RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(token.expose_secret())
    }
}

async fn send(
    operation: &'static str,
    request: RequestBuilder,
) -> Result<reqwest::Response, UpstreamError> {
    super::retry::send_with_retries(Service::HubSpot, operation, request).await
}

fn token_failure(operation: &'static str, error: crate::ports::TokenError) -> UpstreamError {
    let retryable = error.retryable();
    UpstreamError {
        service: Service::HubSpot,
        operation,
        status: None,
        retryable,
        message: error.to_string(),
    }
}

#[async_trait]
impl HubSpotGateway for HubSpotClient {
    async fn find_channel(&self, webhook_url: &str) -> Result<Option<String>, UpstreamError> {
        const OP: &str = "list custom channels";
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = self.with_developer_key(self.http.get(self.custom_channels_url(&[])));
            request = request.query(&[("limit", "100")]);
            if let Some(after) = &after {
                request = request.query(&[("after", after)]);
            }
            let page: Page<Channel> =
                read_json(Service::HubSpot, OP, send(OP, request).await?).await?;
            if let Some(channel) = page
                .results
                .iter()
                .find(|channel| channel.webhook_url.as_deref() == Some(webhook_url))
            {
                return Ok(Some(channel.id.clone()));
            }
            match page.next_after() {
                Some(next) => after = Some(next),
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    async fn create_channel(&self, spec: &ChannelSpec) -> Result<String, UpstreamError> {
        const OP: &str = "create custom channel";
        let body = json!({
            "name": spec.name,
            "webhookUrl": spec.webhook_url,
            "channelDescription": spec.description,
            "capabilities": {
                "deliveryIdentifierTypes": ["HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER"],
                "threadingModel": "INTEGRATION_THREAD_ID",
                "allowConversationStart": true,
                "allowOutgoingMessages": true,
                "allowInlineImages": false,
                "allowMultipleRecipients": false,
                "richText": ["HYPERLINK"],
            },
        });
        let request = self
            .with_developer_key(self.http.post(self.custom_channels_url(&[])))
            .json(&body);
        let created: Created = read_json(Service::HubSpot, OP, send(OP, request).await?).await?;
        Ok(created.id)
    }

    async fn find_channel_account(
        &self,
        channel_id: &str,
        inbox_id: &str,
    ) -> Result<Option<String>, UpstreamError> {
        const OP: &str = "list channel accounts";
        let url = self.custom_channels_url(&[channel_id, "channel-accounts"]);
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let response = self
                .send_authorized(OP, |token| {
                    let mut request = self.authorized(Method::GET, url.clone(), token);
                    request = request.query(&[("archived", "false")]);
                    if let Some(after) = &after {
                        request = request.query(&[("after", after)]);
                    }
                    request
                })
                .await?;
            let page: Page<ChannelAccount> = read_json(Service::HubSpot, OP, response).await?;
            if let Some(account) = page
                .results
                .iter()
                .find(|account| account.inbox_id == inbox_id && !account.archived)
            {
                return Ok(Some(account.id.clone()));
            }
            match page.next_after() {
                Some(next) => after = Some(next),
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    async fn create_channel_account(
        &self,
        channel_id: &str,
        inbox_id: &str,
        name: &str,
    ) -> Result<String, UpstreamError> {
        const OP: &str = "create channel account";
        let url = self.custom_channels_url(&[channel_id, "channel-accounts"]);
        let body = json!({ "inboxId": inbox_id, "name": name, "authorized": true });
        let response = self
            .send_authorized(OP, |token| {
                self.authorized(Method::POST, url.clone(), token)
                    .json(&body)
            })
            .await?;
        let created: Created = read_json(Service::HubSpot, OP, response).await?;
        Ok(created.id)
    }

    async fn find_contact(
        &self,
        identifier: &DeliveryIdentifier,
    ) -> Result<Option<String>, UpstreamError> {
        match identifier {
            DeliveryIdentifier::Email(email) => {
                const OP: &str = "read contact by email";
                let url = self.url(&["/crm/v3/objects/contacts", email]);
                let response = self
                    .send_authorized(OP, |token| {
                        self.authorized(Method::GET, url.clone(), token)
                            .query(&[("idProperty", "email")])
                    })
                    .await?;
                if response.status() == StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                let contact: Created = read_json(Service::HubSpot, OP, response).await?;
                Ok(Some(contact.id))
            }
            DeliveryIdentifier::Phone(phone) => {
                const OP: &str = "search contacts by phone";
                let url = self.url(&["/crm/v3/objects/contacts/search"]);
                let filter = |property: &str| json!({ "filters": [{ "propertyName": property, "operator": "EQ", "value": phone }] });
                let body = json!({
                    "filterGroups": [filter("phone"), filter("mobilephone")],
                    "properties": ["email", "phone", "mobilephone"],
                    "sorts": [],
                    "limit": 1,
                    "after": "0",
                });
                let response = self
                    .send_authorized(OP, |token| {
                        self.authorized(Method::POST, url.clone(), token)
                            .json(&body)
                    })
                    .await?;
                let page: Page<Created> = read_json(Service::HubSpot, OP, response).await?;
                Ok(page.results.into_iter().next().map(|contact| contact.id))
            }
        }
    }

    async fn publish_incoming(
        &self,
        message: &IncomingMessage,
    ) -> Result<PublishedMessage, UpstreamError> {
        const OP: &str = "publish message";
        let url = self.custom_channels_url(&[&message.channel_id, "messages"]);
        let body = json!({
            "text": message.text,
            "messageDirection": "INCOMING",
            "channelAccountId": message.channel_account_id,
            "integrationThreadId": message.integration_thread_id,
            "integrationIdempotencyId": message.idempotency_id,
            "senders": [{
                "name": message.sender_name,
                "deliveryIdentifier": {
                    "type": message.sender.hubspot_type(),
                    "value": message.sender.value(),
                },
            }],
            "attachments": [],
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let response = self
            .send_authorized(OP, |token| {
                self.authorized(Method::POST, url.clone(), token)
                    .json(&body)
            })
            .await?;
        let published: Published = read_json(Service::HubSpot, OP, response).await?;
        Ok(PublishedMessage {
            message_id: published.id,
            thread_id: published.conversations_thread_id,
        })
    }

    async fn set_thread_status(
        &self,
        thread_id: &str,
        status: ThreadStatus,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "update thread status";
        let url = self.url(&["/conversations/v3/conversations/threads", thread_id]);
        let status = match status {
            ThreadStatus::Open => "OPEN",
            ThreadStatus::Closed => "CLOSED",
        };
        let response = self
            .send_authorized(OP, |token| {
                self.authorized(Method::PATCH, url.clone(), token)
                    .json(&json!({ "status": status }))
            })
            .await?;
        let _thread: Value = read_json(Service::HubSpot, OP, response).await?;
        Ok(())
    }

    async fn agent_profile(&self, actor_id: &str) -> Result<Option<AgentProfile>, UpstreamError> {
        const OP: &str = "read actor";
        let url = self.url(&["/conversations/v3/conversations/actors", actor_id]);
        let response = self
            .send_authorized(OP, |token| self.authorized(Method::GET, url.clone(), token))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let actor: Actor = read_json(Service::HubSpot, OP, response).await?;
        Ok(Some(AgentProfile {
            actor_id: actor.id,
            name: actor.name,
            avatar_url: actor.avatar,
        }))
    }

    async fn set_message_status(
        &self,
        channel_id: &str,
        message_id: &str,
        status: &DeliveryStatus,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "update message status";
        let url = self.custom_channels_url(&[channel_id, "messages", message_id]);
        let body = match status {
            DeliveryStatus::Sent => json!({ "statusType": "SENT" }),
            DeliveryStatus::Failed(reason) => {
                json!({ "statusType": "FAILED", "errorMessage": reason })
            }
        };
        let response = self
            .send_authorized(OP, |token| {
                self.authorized(Method::PATCH, url.clone(), token)
                    .json(&body)
            })
            .await?;
        let _message: Value = read_json(Service::HubSpot, OP, response).await?;
        Ok(())
    }
}
