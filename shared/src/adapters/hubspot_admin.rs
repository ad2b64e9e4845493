//! HubSpot calls only an operator makes (the `hitl` CLI): the OAuth install (authorize URL,
//! code exchange), listing inboxes, and taking down the custom channel. The relay never calls
//! these; its client is [`super::hubspot_http`].
//!
//! Paths and fields as `shared/specs/hubspot` gives them: OAuth `POST {token path}` with a
//! form body; Conversations `GET /conversations/v3/conversations/inboxes`; Custom Channels
//! `GET /conversations/v3/custom-channels` and `DELETE .../{channelId}` with the developer API
//! key, `GET/PATCH .../{channelId}/channel-accounts[/{id}]` with an OAuth token.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::http_client::read_json;
use crate::ports::{AccessTokens, Service, UpstreamError};

/// The scopes the bridge needs, in the order HubSpot's install screen lists them.
pub const REQUIRED_SCOPES: [&str; 5] = [
    "conversations.custom_channels.read",
    "conversations.custom_channels.write",
    "conversations.read",
    "conversations.write",
    "crm.objects.contacts.read",
];
/// The scope attachments need on top of [`REQUIRED_SCOPES`].
pub const FILES_SCOPE: &str = "files";
/// The scope creating missing contacts (`HUBSPOT_CREATE_MISSING_CONTACTS=true`) needs.
pub const CONTACTS_WRITE_SCOPE: &str = "crm.objects.contacts.write";

/// Scopes asked for beyond [`REQUIRED_SCOPES`], each for a feature a deployment switches on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionalScopes {
    /// [`FILES_SCOPE`]: attachments.
    pub files: bool,
    /// [`CONTACTS_WRITE_SCOPE`]: creating the contact of a customer the CRM has not seen.
    pub contacts_write: bool,
}

impl OptionalScopes {
    /// The required scopes and the optional ones switched on, in install-screen order.
    pub fn all(self) -> Vec<&'static str> {
        let mut scopes: Vec<&str> = REQUIRED_SCOPES.to_vec();
        if self.contacts_write {
            scopes.push(CONTACTS_WRITE_SCOPE);
        }
        if self.files {
            scopes.push(FILES_SCOPE);
        }
        scopes
    }
}
/// Where HubSpot asks the installing user to grant the scopes.
pub const AUTHORIZE_URL: &str = "https://app.hubspot.com/oauth/authorize";

const CUSTOM_CHANNELS: &str = "/conversations/v3/custom-channels";
const INBOXES: &str = "/conversations/v3/conversations/inboxes";
const MAX_PAGES: usize = 50;

/// The authorize URL an installing user opens: `client_id`, `redirect_uri` and the
/// space-separated `scope`, percent-encoded.
pub fn authorize_url(
    client_id: &str,
    redirect_uri: &str,
    optional: OptionalScopes,
    state: Option<&str>,
) -> String {
    let scopes = optional.all();
    let mut url = Url::parse(AUTHORIZE_URL).expect("a valid constant URL");
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "));
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    // HubSpot's own examples encode spaces in `scope` as %20.
    url.to_string().replace('+', "%20")
}

/// What HubSpot's token endpoint answers.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: i64,
    /// The scopes granted (`scopes`, or `scope` space-separated); empty when not said.
    pub scopes: Vec<String>,
    pub hub_id: Option<u64>,
}

impl TokenGrant {
    /// The scopes `optional` calls for that the grant lacks (none when HubSpot did not list
    /// scopes).
    pub fn missing_scopes(&self, optional: OptionalScopes) -> Vec<&'static str> {
        missing_scopes(&self.scopes, optional)
    }
}

/// The scopes `optional` calls for that `granted` lacks (none when HubSpot did not list
/// scopes, `granted` empty).
pub fn missing_scopes(granted: &[String], optional: OptionalScopes) -> Vec<&'static str> {
    if granted.is_empty() {
        return Vec::new();
    }
    optional
        .all()
        .into_iter()
        .filter(|scope| !granted.iter().any(|have| have == scope))
        .collect()
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: i64,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    hub_id: Option<u64>,
}

/// An inbox of the account (`PublicInbox`).
#[derive(Clone, Debug, Deserialize)]
pub struct Inbox {
    pub id: String,
    pub name: String,
    /// `HELP_DESK` or `INBOX`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub archived: bool,
}

impl Inbox {
    pub fn is_help_desk(&self) -> bool {
        self.kind == "HELP_DESK"
    }
}

/// A custom channel of the app.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomChannel {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// What the channel declares (an older bridge's channel may declare less).
    #[serde(default)]
    pub capabilities: serde_json::Value,
}

/// A channel account: one connection of a channel to an inbox.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    pub id: String,
    pub inbox_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub authorized: bool,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Deserialize)]
struct Page<T> {
    results: Vec<T>,
    #[serde(default)]
    paging: Option<serde_json::Value>,
}

impl<T> Page<T> {
    fn next_after(&self) -> Option<String> {
        self.paging
            .as_ref()?
            .pointer("/next/after")?
            .as_str()
            .map(str::to_string)
    }
}

/// The app's OAuth credentials and the token endpoint.
pub struct OAuthClient {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// The operator's HubSpot client.
pub struct HubSpotAdmin {
    http: reqwest::Client,
    base: Url,
    app_id: u64,
    developer_api_key: SecretString,
    tokens: Option<Arc<dyn AccessTokens>>,
}

impl HubSpotAdmin {
    /// `tokens` is needed for the OAuth calls (inboxes, channel accounts); the code exchange
    /// and the channel-level calls work without.
    pub fn new(
        http: reqwest::Client,
        api_base: &str,
        app_id: u64,
        developer_api_key: SecretString,
        tokens: Option<Arc<dyn AccessTokens>>,
    ) -> Result<Self, url::ParseError> {
        Ok(Self {
            http,
            base: Url::parse(api_base)?,
            app_id,
            developer_api_key,
            tokens,
        })
    }

    fn url(&self, path: &str, rest: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL has path segments")
            .pop_if_empty()
            .extend(path.split('/').filter(|s| !s.is_empty()))
            .extend(rest.iter().filter(|s| !s.is_empty()));
        url
    }

    fn with_developer_key(&self, request: RequestBuilder) -> RequestBuilder {
        request.query(&[
            ("hapikey", self.developer_api_key.expose_secret()),
            ("appId", &self.app_id.to_string()),
        ])
    }

    async fn bearer(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
    ) -> Result<RequestBuilder, UpstreamError> {
        let tokens = self.tokens.as_ref().ok_or_else(|| {
            UpstreamError::unexpected(Service::HubSpot, operation, "no OAuth grant configured")
        })?;
        let token = tokens.access_token().await.map_err(|error| UpstreamError {
            service: Service::HubSpot,
            operation,
            status: None,
            retryable: error.retryable(),
            message: error.to_string(),
        })?;
        Ok(self
            .http
            .request(method, url)
            .bearer_auth(token.expose_secret()))
    }

    /// Trades an authorization code for tokens (`grant_type=authorization_code`).
    pub async fn exchange_code(
        &self,
        oauth: &OAuthClient,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenGrant, UpstreamError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", oauth.client_id.as_str()),
            ("client_secret", oauth.client_secret.expose_secret()),
            ("redirect_uri", redirect_uri),
            ("code", code),
        ];
        self.token_call("exchange the authorization code", oauth, &form)
            .await
    }

    /// One `grant_type=refresh_token` call, answering the scopes with the token.
    pub async fn refresh(
        &self,
        oauth: &OAuthClient,
        refresh_token: &SecretString,
    ) -> Result<TokenGrant, UpstreamError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", oauth.client_id.as_str()),
            ("client_secret", oauth.client_secret.expose_secret()),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        self.token_call("refresh the access token", oauth, &form)
            .await
    }

    async fn token_call(
        &self,
        operation: &'static str,
        oauth: &OAuthClient,
        form: &[(&str, &str)],
    ) -> Result<TokenGrant, UpstreamError> {
        let response = self
            .http
            .post(&oauth.token_url)
            .form(form)
            .send()
            .await
            .map_err(|error| UpstreamError::transport(Service::HubSpot, operation, &error))?;
        let answer: TokenAnswer = read_json(Service::HubSpot, operation, response).await?;
        let scopes = answer.scopes.unwrap_or_else(|| {
            answer
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        });
        Ok(TokenGrant {
            access_token: SecretString::from(answer.access_token),
            refresh_token: answer.refresh_token.map(SecretString::from),
            expires_in: answer.expires_in,
            scopes,
            hub_id: answer.hub_id,
        })
    }

    /// Every inbox that is not archived.
    pub async fn list_inboxes(&self) -> Result<Vec<Inbox>, UpstreamError> {
        const OP: &str = "list inboxes";
        let mut inboxes = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = self
                .bearer(OP, Method::GET, self.url(INBOXES, &[]))
                .await?
                .query(&[("limit", "100")]);
            if let Some(after) = &after {
                request = request.query(&[("after", after)]);
            }
            let page: Page<Inbox> =
                read_json(Service::HubSpot, OP, send(OP, request).await?).await?;
            let next = page.next_after();
            inboxes.extend(page.results.into_iter().filter(|inbox| !inbox.archived));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(inboxes)
    }

    /// Every custom channel of the app.
    pub async fn list_channels(&self) -> Result<Vec<CustomChannel>, UpstreamError> {
        const OP: &str = "list custom channels";
        let mut channels = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = self
                .with_developer_key(self.http.get(self.url(CUSTOM_CHANNELS, &[])))
                .query(&[("limit", "100")]);
            if let Some(after) = &after {
                request = request.query(&[("after", after)]);
            }
            let page: Page<CustomChannel> =
                read_json(Service::HubSpot, OP, send(OP, request).await?).await?;
            let next = page.next_after();
            channels.extend(page.results);
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(channels)
    }

    /// The channels whose `webhookUrl` is `webhook_url`: the ones this bridge created.
    pub async fn channels_with_webhook(
        &self,
        webhook_url: &str,
    ) -> Result<Vec<CustomChannel>, UpstreamError> {
        Ok(self
            .list_channels()
            .await?
            .into_iter()
            .filter(|channel| channel.webhook_url.as_deref() == Some(webhook_url))
            .collect())
    }

    /// Archives (deletes) a custom channel; 204 from HubSpot.
    pub async fn delete_channel(&self, channel_id: &str) -> Result<(), UpstreamError> {
        const OP: &str = "delete custom channel";
        let request =
            self.with_developer_key(self.http.delete(self.url(CUSTOM_CHANNELS, &[channel_id])));
        expect_success(OP, send(OP, request).await?).await
    }

    /// The channel's accounts that are not archived.
    pub async fn list_channel_accounts(
        &self,
        channel_id: &str,
    ) -> Result<Vec<ChannelAccount>, UpstreamError> {
        const OP: &str = "list channel accounts";
        let mut accounts = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = self.url(CUSTOM_CHANNELS, &[channel_id, "channel-accounts"]);
            let mut request = self
                .bearer(OP, Method::GET, url)
                .await?
                .query(&[("archived", "false")]);
            if let Some(after) = &after {
                request = request.query(&[("after", after)]);
            }
            let page: Page<ChannelAccount> =
                read_json(Service::HubSpot, OP, send(OP, request).await?).await?;
            let next = page.next_after();
            accounts.extend(page.results.into_iter().filter(|account| !account.archived));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(accounts)
    }

    /// Disconnects a channel account from its inbox (`authorized: false`, the only change
    /// `PublicChannelAccountUpdateRequest` allows besides the name).
    pub async fn deauthorize_channel_account(
        &self,
        channel_id: &str,
        account_id: &str,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "deauthorize channel account";
        let url = self.url(
            CUSTOM_CHANNELS,
            &[channel_id, "channel-accounts", account_id],
        );
        let request = self
            .bearer(OP, Method::PATCH, url)
            .await?
            .json(&json!({ "authorized": false }));
        expect_success(OP, send(OP, request).await?).await
    }
}

async fn send(
    operation: &'static str,
    request: RequestBuilder,
) -> Result<reqwest::Response, UpstreamError> {
    request
        .send()
        .await
        .map_err(|error| UpstreamError::transport(Service::HubSpot, operation, &error))
}

async fn expect_success(
    operation: &'static str,
    response: reqwest::Response,
) -> Result<(), UpstreamError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(UpstreamError::from_status(
        Service::HubSpot,
        operation,
        status.as_u16(),
        &body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_carries_exactly_the_scopes() {
        let url = authorize_url(
            "client-1",
            "http://localhost:3000/oauth/callback",
            OptionalScopes::default(),
            None,
        );
        assert_eq!(
            url,
            "https://app.hubspot.com/oauth/authorize?client_id=client-1\
             &redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Foauth%2Fcallback\
             &scope=conversations.custom_channels.read%20conversations.custom_channels.write\
             %20conversations.read%20conversations.write%20crm.objects.contacts.read"
        );
        let files = OptionalScopes {
            files: true,
            contacts_write: false,
        };
        let with_files = authorize_url("c", "http://x/cb", files, Some("s1"));
        assert!(
            with_files.contains("crm.objects.contacts.read%20files&state=s1"),
            "{with_files}"
        );
    }

    #[test]
    fn missing_scopes_are_named() {
        let grant = TokenGrant {
            access_token: SecretString::from("a"),
            refresh_token: None,
            expires_in: 1800,
            scopes: vec!["conversations.read".into(), "oauth".into()],
            hub_id: None,
        };
        assert_eq!(grant.missing_scopes(OptionalScopes::default()).len(), 4);
        let both = OptionalScopes {
            files: true,
            contacts_write: true,
        };
        assert!(grant.missing_scopes(both).contains(&"files"));
        assert!(grant.missing_scopes(both).contains(&CONTACTS_WRITE_SCOPE));
        let with_contacts = authorize_url("c", "http://x/cb", both, None);
        assert!(
            with_contacts
                .contains("crm.objects.contacts.read%20crm.objects.contacts.write%20files"),
            "{with_contacts}"
        );
    }
}
