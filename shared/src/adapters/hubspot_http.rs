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

use super::http_client::{api_url, read_json};
use super::retry::Repeat;
use crate::model::{AgentMessage, CrmAddress};
use crate::ports::{
    AccessTokens, AgentProfile, ChannelSpec, ContactAddress, CreatedContact, DeliveryStatus,
    ExistingChannel, FetchedFile, FoundChannelAccount, HistoryBound, HubSpotGateway, InboxSummary,
    IncomingMessage, NewContact, PublishedMessage, Service, ThreadStatus, UpstreamError,
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
    #[serde(default)]
    capabilities: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelAccount {
    id: String,
    inbox_id: String,
    #[serde(default)]
    archived: bool,
    /// Required in `PublicChannelAccount`; taken as authorized if ever left out.
    #[serde(default = "authorized_unless_said")]
    authorized: bool,
}

fn authorized_unless_said() -> bool {
    true
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// A CRM object's `properties`: every value a string or `null`.
#[derive(Deserialize)]
struct ContactProperties {
    #[serde(default)]
    properties: std::collections::HashMap<String, Option<String>>,
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

/// HubSpot's file manager upload (`files` scope); not in the Custom Channels documents.
const FILE_MANAGER_UPLOAD: &str = "/filemanager/api/v3/files/upload";
/// Where customers' files go in the file manager.
const ATTACHMENT_FOLDER: &str = "/hitl-bridge/attachments";

/// The uploaded file's id: the v3 answer is the file itself, the older one wraps it in
/// `objects`; ids come as strings or numbers.
fn uploaded_file_id(answer: &Value) -> Option<String> {
    let file = answer
        .get("objects")
        .and_then(|objects| objects.get(0))
        .unwrap_or(answer);
    match file.get("id")? {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// A `PublicInbox`.
#[derive(Deserialize)]
struct Inbox {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    archived: bool,
}

/// The properties a contact is created with: `email` or `phone`, and the name when known.
fn contact_properties(contact: &NewContact) -> Value {
    let mut properties = serde_json::Map::new();
    let (property, value) = match &contact.address {
        CrmAddress::Email(email) => ("email", email),
        CrmAddress::Phone(phone) => ("phone", phone),
    };
    properties.insert(property.to_string(), json!(value));
    for (name, value) in [
        ("firstname", &contact.firstname),
        ("lastname", &contact.lastname),
    ] {
        if let Some(value) = value {
            properties.insert(name.to_string(), json!(value));
        }
    }
    Value::Object(properties)
}

/// The id in HubSpot's 409 answer to creating a contact whose email exists:
/// `{"status":"error","message":"Contact already exists. Existing ID: 37765128953",
/// "category":"CONFLICT",...}`. HubSpot gives the id in the message only.
fn existing_contact_id(body: &str) -> Option<String> {
    let answer: Value = serde_json::from_str(body).ok()?;
    let message = answer.get("message")?.as_str()?;
    let (_, rest) = message.split_once("Existing ID:")?;
    let id: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!id.is_empty()).then_some(id)
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

    fn url(&self, path: &str, ids: &[&str]) -> Url {
        api_url(&self.base, path, ids)
    }

    fn custom_channels_url(&self, rest: &[&str]) -> Url {
        self.url(CUSTOM_CHANNELS, rest)
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
        self.send_authorized_as(operation, Repeat::Safely, build)
            .await
    }

    /// [`Self::send_authorized`], repeating the call as `repeat` allows (a 401 was refused
    /// before any work, so it is always sent again with a fresh token).
    async fn send_authorized_as(
        &self,
        operation: &'static str,
        repeat: Repeat,
        build: impl Fn(&SecretString) -> RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        let dispatch =
            |request| super::retry::send_repeating(Service::HubSpot, operation, request, repeat);
        let token = self
            .tokens
            .access_token()
            .await
            .map_err(|e| token_failure(operation, e))?;
        let response = dispatch(build(&token)).await?;
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
        dispatch(build(&fresh)).await
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

/// The call could not be made for want of a token. A token endpoint that may answer later
/// (429, 5xx, unreachable) keeps its status; any refusal (the refresh token rejected, or the
/// endpoint refusing the bridge's request) reads as HubSpot's 401 would: the bridge's
/// authorization is refused, not this call (never, say, a 404 read as the thread gone), so
/// work left for later waits for a person to mend it instead of being given up
/// (`relay::left_for_later`).
fn token_failure(operation: &'static str, error: crate::ports::TokenError) -> UpstreamError {
    use crate::ports::TokenError;
    let status = match &error {
        TokenError::Upstream(upstream) if upstream.retryable => upstream.status,
        TokenError::RefreshTokenRejected(_) | TokenError::Upstream(_) => Some(401),
        TokenError::Store(_) => None,
    };
    UpstreamError {
        service: Service::HubSpot,
        operation,
        status,
        retryable: error.retryable(),
        message: error.to_string(),
    }
}

#[async_trait]
impl HubSpotGateway for HubSpotClient {
    async fn find_channel(
        &self,
        webhook_url: &str,
    ) -> Result<Option<ExistingChannel>, UpstreamError> {
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
                return Ok(Some(ExistingChannel {
                    id: channel.id.clone(),
                    capabilities: channel.capabilities.clone(),
                }));
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
            "capabilities": crate::model::channel_limits::channel_capabilities(),
        });
        let request = self
            .with_developer_key(self.http.post(self.custom_channels_url(&[])))
            .json(&body);
        let created: Created = read_json(Service::HubSpot, OP, send(OP, request).await?).await?;
        Ok(created.id)
    }

    async fn update_channel_capabilities(
        &self,
        channel_id: &str,
        capabilities: &Value,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "update custom channel";
        let request = self
            .with_developer_key(self.http.patch(self.custom_channels_url(&[channel_id])))
            .json(&json!({ "capabilities": capabilities }));
        // HubSpot answers the updated channel; only its success matters here.
        let _updated: Value = read_json(Service::HubSpot, OP, send(OP, request).await?).await?;
        Ok(())
    }

    async fn find_channel_account(
        &self,
        channel_id: &str,
        inbox_id: &str,
    ) -> Result<Option<FoundChannelAccount>, UpstreamError> {
        const OP: &str = "list channel accounts";
        let url = self.custom_channels_url(&[channel_id, "channel-accounts"]);
        let mut after: Option<String> = None;
        let mut disabled = None;
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
            for account in page
                .results
                .iter()
                .filter(|account| account.inbox_id == inbox_id && !account.archived)
            {
                let found = FoundChannelAccount {
                    id: account.id.clone(),
                    authorized: account.authorized,
                };
                if found.authorized {
                    return Ok(Some(found));
                }
                disabled.get_or_insert(found);
            }
            match page.next_after() {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(disabled)
    }

    async fn authorize_channel_account(
        &self,
        channel_id: &str,
        account_id: &str,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "authorize channel account";
        let url = self.custom_channels_url(&[channel_id, "channel-accounts", account_id]);
        let response = self
            .send_authorized(OP, |token| {
                self.authorized(Method::PATCH, url.clone(), token)
                    .json(&json!({ "authorized": true }))
            })
            .await?;
        let _account: Value = read_json(Service::HubSpot, OP, response).await?;
        Ok(())
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

    async fn find_contact(&self, address: &CrmAddress) -> Result<Option<String>, UpstreamError> {
        match address {
            CrmAddress::Email(email) => {
                const OP: &str = "read contact by email";
                let url = self.url("/crm/v3/objects/contacts", &[email]);
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
            CrmAddress::Phone(phone) => {
                const OP: &str = "search contacts by phone";
                let url = self.url("/crm/v3/objects/contacts/search", &[]);
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

    async fn contact_address(
        &self,
        contact_id: &str,
    ) -> Result<Option<ContactAddress>, UpstreamError> {
        const OP: &str = "read contact";
        let url = self.url("/crm/v3/objects/contacts", &[contact_id]);
        let response = self
            .send_authorized(OP, |token| {
                self.authorized(Method::GET, url.clone(), token).query(&[
                    ("properties", "email"),
                    ("properties", "phone"),
                    ("properties", "mobilephone"),
                ])
            })
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let contact: ContactProperties = read_json(Service::HubSpot, OP, response).await?;
        let property = |name: &str| {
            contact
                .properties
                .get(name)
                .and_then(|value| value.as_deref())
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        Ok(Some(ContactAddress {
            email: property("email"),
            phone: property("phone"),
            mobile_phone: property("mobilephone"),
        }))
    }

    async fn create_contact(&self, contact: &NewContact) -> Result<CreatedContact, UpstreamError> {
        const OP: &str = "create contact";
        let url = self.url("/crm/v3/objects/contacts", &[]);
        let body = json!({
            "properties": contact_properties(contact),
            "associations": [],
        });
        let response = self
            .send_authorized_as(OP, Repeat::OnlyIfNotCarriedOut, |token| {
                self.authorized(Method::POST, url.clone(), token)
                    .json(&body)
            })
            .await?;
        if response.status() == StatusCode::CONFLICT {
            let text = response.text().await.unwrap_or_default();
            return existing_contact_id(&text)
                .map(CreatedContact::AlreadyExisted)
                .ok_or_else(|| UpstreamError::from_status(Service::HubSpot, OP, 409, &text));
        }
        let created: Created = read_json(Service::HubSpot, OP, response).await?;
        Ok(CreatedContact::Created(created.id))
    }

    async fn list_inboxes(&self) -> Result<Vec<InboxSummary>, UpstreamError> {
        const OP: &str = "list inboxes";
        let url = self.url("/conversations/v3/conversations/inboxes", &[]);
        let mut inboxes = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let response = self
                .send_authorized(OP, |token| {
                    let mut request = self
                        .authorized(Method::GET, url.clone(), token)
                        .query(&[("limit", "100")]);
                    if let Some(after) = &after {
                        request = request.query(&[("after", after)]);
                    }
                    request
                })
                .await?;
            let page: Page<Inbox> = read_json(Service::HubSpot, OP, response).await?;
            let next = page.next_after();
            inboxes.extend(
                page.results
                    .into_iter()
                    .filter(|inbox| !inbox.archived)
                    .map(|inbox| InboxSummary {
                        help_desk: inbox.kind == "HELP_DESK",
                        id: inbox.id,
                        name: inbox.name,
                    }),
            );
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(inboxes)
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
            "attachments": message.attachments.iter().map(|file| json!({
                "type": "FILE",
                "fileId": file.file_id,
                "fileUsageType": file.usage,
            })).collect::<Vec<_>>(),
            "timestamp": message
                .sent_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
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
        let url = self.url("/conversations/v3/conversations/threads", &[thread_id]);
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

    async fn thread_assignee(&self, thread_id: &str) -> Result<Option<String>, UpstreamError> {
        const OP: &str = "read thread";
        let url = self.url("/conversations/v3/conversations/threads", &[thread_id]);
        let response = self
            .send_authorized(OP, |token| self.authorized(Method::GET, url.clone(), token))
            .await?;
        let thread: Value = read_json(Service::HubSpot, OP, response).await?;
        Ok(thread
            .get("assignedTo")
            .and_then(Value::as_str)
            .filter(|actor| !actor.is_empty())
            .map(str::to_string))
    }

    async fn upload_file(&self, file: &FetchedFile) -> Result<String, UpstreamError> {
        const OP: &str = "upload file";
        let url = self.url(FILE_MANAGER_UPLOAD, &[]);
        let response = self
            .send_authorized(OP, |token| {
                let part = reqwest::multipart::Part::bytes(file.bytes.clone())
                    .file_name(file.name.clone())
                    .mime_str(&file.content_type)
                    .unwrap_or_else(|_| reqwest::multipart::Part::bytes(file.bytes.clone()));
                let form = reqwest::multipart::Form::new()
                    .text("folderPath", ATTACHMENT_FOLDER)
                    .text("fileName", file.name.clone())
                    // Customers' files are private: agents see them in the Help Desk only.
                    .text("options", json!({ "access": "PRIVATE" }).to_string())
                    .part("file", part);
                self.authorized(Method::POST, url.clone(), token)
                    .multipart(form)
            })
            .await?;
        let uploaded: Value = read_json(Service::HubSpot, OP, response)
            .await
            .map_err(with_files_scope_hint)?;
        uploaded_file_id(&uploaded).ok_or_else(|| {
            UpstreamError::unexpected(
                Service::HubSpot,
                OP,
                "the file manager answered without a file id".to_string(),
            )
        })
    }

    async fn agent_profile(&self, actor_id: &str) -> Result<Option<AgentProfile>, UpstreamError> {
        const OP: &str = "read actor";
        let url = self.url("/conversations/v3/conversations/actors", &[actor_id]);
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

    async fn agent_profiles(
        &self,
        actor_ids: &[String],
    ) -> Result<Vec<AgentProfile>, UpstreamError> {
        const OP: &str = "read actors";
        let url = self.url("/conversations/v3/conversations/actors/batch/read", &[]);
        let body = json!({ "inputs": actor_ids });
        let response = self
            .send_authorized(OP, |token| {
                self.authorized(Method::POST, url.clone(), token)
                    .json(&body)
            })
            .await?;
        // 200 when HubSpot knows every actor, 207 (with `errors`) when it knows only some.
        let batch: Page<Actor> = read_json(Service::HubSpot, OP, response).await?;
        Ok(batch
            .results
            .into_iter()
            .map(|actor| AgentProfile {
                actor_id: actor.id,
                name: actor.name,
                avatar_url: actor.avatar,
            })
            .collect())
    }

    async fn agent_messages_before(
        &self,
        thread_id: &str,
        channel_id: &str,
        after_ms: i64,
        before: HistoryBound<'_>,
    ) -> Result<Vec<AgentMessage>, UpstreamError> {
        const OP: &str = "read thread messages";
        // Usually only this reply and a few customer messages are newer than the mark: a
        // small first page covers them (the read stops at the mark) without parsing fifty
        // messages on every reply; a longer gap reads on in full pages.
        const FIRST_PAGE_SIZE: &str = "10";
        const PAGE_SIZE: &str = "50";
        let url = self.url(
            "/conversations/v3/conversations/threads",
            &[thread_id, "messages"],
        );
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        // Newest first, so the read stops as soon as it reaches what was already relayed.
        'pages: for _ in 0..MAX_PAGES {
            let response = self
                .send_authorized(OP, |token| {
                    let mut request = self
                        .authorized(Method::GET, url.clone(), token)
                        .query(&[("sort", "-createdAt")]);
                    let limit = if after.is_some() {
                        PAGE_SIZE
                    } else {
                        FIRST_PAGE_SIZE
                    };
                    request = request.query(&[("limit", limit)]);
                    if let Some(after) = &after {
                        request = request.query(&[("after", after)]);
                    }
                    request
                })
                .await?;
            let page: Page<Value> = read_json(Service::HubSpot, OP, response).await?;
            let next = page.next_after();
            for message in page.results {
                let created_at = message
                    .get("createdAt")
                    .and_then(Value::as_str)
                    .and_then(super::hubspot_message::epoch_ms);
                if created_at.is_some_and(|created_at| created_at <= after_ms) {
                    break 'pages;
                }
                // The bound and what came after it need no reading (a message's rich text
                // through an HTML parser is the costly part of it).
                let id = message.get("id").and_then(super::hubspot_message::id_text);
                if before.is_after(created_at, id.as_deref().unwrap_or_default()) {
                    continue;
                }
                let is_ours = message.get("type").and_then(Value::as_str) == Some("MESSAGE")
                    && message.get("direction").and_then(Value::as_str) == Some("OUTGOING")
                    && message
                        .get("channelId")
                        .and_then(super::hubspot_message::id_text)
                        .as_deref()
                        == Some(channel_id);
                if !is_ours {
                    continue;
                }
                match super::hubspot_message::read_agent_message(message, None) {
                    Ok(reply) => found.push(reply),
                    Err(problem) => {
                        tracing::warn!(
                            thread_id,
                            problem,
                            "skipped an unreadable agent message in the thread's history"
                        );
                    }
                }
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        found.sort_by(|a, b| {
            (a.created_at_ms, &a.message_id).cmp(&(b.created_at_ms, &b.message_id))
        });
        Ok(found)
    }

    async fn original_text(
        &self,
        thread_id: &str,
        message_id: &str,
    ) -> Result<String, UpstreamError> {
        const OP: &str = "read a message's original content";
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Content {
            #[serde(default)]
            text: Option<String>,
            #[serde(default)]
            rich_text: Option<String>,
        }
        let url = self.url(
            "/conversations/v3/conversations/threads",
            &[thread_id, "messages", message_id, "original-content"],
        );
        let response = self
            .send_authorized(OP, |token| self.authorized(Method::GET, url.clone(), token))
            .await?;
        let content: Content = read_json(Service::HubSpot, OP, response).await?;
        Ok(super::hubspot_message::message_text(
            content.rich_text.as_deref(),
            content.text.as_deref(),
        ))
    }

    async fn set_message_status(
        &self,
        channel_id: &str,
        message_id: &str,
        status: &DeliveryStatus,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "update message status";
        let url = self.custom_channels_url(&[channel_id, "messages", message_id]);
        let mut body = json!({ "statusType": status.status_type() });
        if let Some(reason) = status.reason() {
            body["errorMessage"] = json!(reason);
        }
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

/// A 403 from the File Manager almost always means the install lacks the `files` scope, which
/// only customers' attachments need: say how to fix it, in the error the operator reads.
fn with_files_scope_hint(mut error: UpstreamError) -> UpstreamError {
    if error.status == Some(403) {
        error.message = format!(
            "{} (customers' attachments need the app's `files` scope: install it again from `hitl oauth url --with-files`)",
            error.message
        );
    }
    error
}

#[cfg(test)]
mod contact_creation_tests {
    use super::*;

    /// A refused grant reads as HubSpot's 401, so work left for later waits for a reinstall;
    /// a failing token endpoint keeps its own status.
    #[test]
    fn a_refused_grant_reads_as_a_refusal_of_the_bridge() {
        use crate::ports::TokenError;
        let rejected = token_failure("op", TokenError::RefreshTokenRejected("gone".into()));
        assert_eq!((rejected.status, rejected.retryable), (Some(401), false));
        let unavailable = token_failure(
            "op",
            TokenError::Upstream(UpstreamError {
                service: Service::HubSpot,
                operation: "refresh",
                status: Some(502),
                retryable: true,
                message: String::new(),
            }),
        );
        assert_eq!(
            (unavailable.status, unavailable.retryable),
            (Some(502), true)
        );
        let misrouted = token_failure(
            "op",
            TokenError::Upstream(UpstreamError {
                service: Service::HubSpot,
                operation: "refresh",
                status: Some(404),
                retryable: false,
                message: String::new(),
            }),
        );
        assert_eq!(
            misrouted.status,
            Some(401),
            "never a 404 read as the thread gone"
        );
    }

    #[test]
    fn an_id_is_one_path_segment_whatever_it_holds() {
        let base = Url::parse("https://api.hubapi.com/").unwrap();
        assert_eq!(
            api_url(&base, "/crm/v3/objects/contacts", &["jo/ann+x@example.com"]).as_str(),
            "https://api.hubapi.com/crm/v3/objects/contacts/jo%2Fann+x@example.com"
        );
        let prefixed = Url::parse("http://127.0.0.1:9/hubspot").unwrap();
        assert_eq!(
            api_url(
                &prefixed,
                "/conversations/v3/conversations/threads",
                &["42", "messages"]
            )
            .as_str(),
            "http://127.0.0.1:9/hubspot/conversations/v3/conversations/threads/42/messages"
        );
    }

    #[test]
    fn the_existing_id_is_read_from_a_conflict() {
        let body = r#"{"status":"error","message":"Contact already exists. Existing ID: 37765128953","correlationId":"2dea5219-07f2-40ce-82ec-9c2e302317a4","category":"CONFLICT"}"#;
        assert_eq!(existing_contact_id(body).as_deref(), Some("37765128953"));
        assert_eq!(existing_contact_id(r#"{"message":"Conflict"}"#), None);
        assert_eq!(existing_contact_id("not json"), None);
    }

    #[test]
    fn a_contact_is_created_with_its_email_or_phone_and_name() {
        let by_phone = NewContact {
            address: CrmAddress::Phone("+14155552671".into()),
            firstname: Some("Sam".into()),
            lastname: None,
        };
        assert_eq!(
            contact_properties(&by_phone),
            json!({ "phone": "+14155552671", "firstname": "Sam" })
        );
        let by_email = NewContact {
            address: CrmAddress::Email("cleo@example.com".into()),
            firstname: Some("Cleo".into()),
            lastname: Some("Ray".into()),
        };
        assert_eq!(
            contact_properties(&by_email),
            json!({ "email": "cleo@example.com", "firstname": "Cleo", "lastname": "Ray" })
        );
    }
}
