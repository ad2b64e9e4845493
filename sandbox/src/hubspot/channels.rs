//! Custom channels: the app-level object that says where HubSpot sends outgoing messages
//! (`webhookUrl`) and what the channel can do (`capabilities`). Authenticated with the developer
//! API key, as HubSpot's guide does.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::require_developer_key;
use super::errors::ApiError;
use super::extract::{Query, json_body};
use super::model::{Channel, iso};
use super::state::AppState;

/// A `PublicChannelIntegrationChannel`; optional fields appear only when set.
pub(crate) fn render(channel: &Channel) -> Value {
    let mut body = json!({
        "id": channel.id,
        "name": channel.name,
        "capabilities": channel.capabilities,
        "createdAt": iso(channel.created_at),
    });
    let optional = [
        ("webhookUrl", &channel.webhook_url),
        ("channelDescription", &channel.description),
        ("channelLogoUrl", &channel.logo_url),
        (
            "channelAccountConnectionRedirectUrl",
            &channel.connection_redirect_url,
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body[name] = json!(value);
        }
    }
    body
}

/// `PublicChannelIntegrationChannelCreate`, and the patch body (every field optional there).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelFields {
    name: Option<String>,
    capabilities: Option<Map<String, Value>>,
    webhook_url: Option<String>,
    channel_description: Option<String>,
    channel_logo_url: Option<String>,
    channel_account_connection_redirect_url: Option<String>,
}

pub(crate) async fn list(
    State(shared): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    require_developer_key(&shared, &query, true)?;
    let page = query.page(100, 100)?;
    let items = shared.store().channels.iter().map(render).collect();
    Ok(Json(page.collect(items)))
}

pub(crate) async fn create(
    State(shared): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    require_developer_key(&shared, &query, true)?;
    let fields: ChannelFields = json_body(&body)?;
    let name = fields
        .name
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| ApiError::missing("name"))?;
    let capabilities = fields
        .capabilities
        .ok_or_else(|| ApiError::missing("capabilities"))?;
    if let Some(url) = &fields.webhook_url {
        validate_url("webhookUrl", url)?;
    }
    let mut store = shared.store();
    let channel = Channel {
        id: store.ids.channel(),
        name,
        capabilities: Value::Object(capabilities),
        webhook_url: fields.webhook_url,
        description: fields.channel_description,
        logo_url: fields.channel_logo_url,
        connection_redirect_url: fields.channel_account_connection_redirect_url,
        created_at: Utc::now(),
    };
    let body = render(&channel);
    store.channels.push(channel);
    Ok((StatusCode::CREATED, Json(body)))
}

pub(crate) async fn get(
    State(shared): State<AppState>,
    Path(channel_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    require_developer_key(&shared, &query, false)?;
    let store = shared.store();
    let channel = store
        .channel(&channel_id)
        .ok_or_else(|| not_found(&channel_id))?;
    Ok(Json(render(channel)))
}

pub(crate) async fn update(
    State(shared): State<AppState>,
    Path(channel_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    require_developer_key(&shared, &query, false)?;
    let fields: ChannelFields = json_body(&body)?;
    if let Some(url) = &fields.webhook_url {
        validate_url("webhookUrl", url)?;
    }
    if fields
        .name
        .as_deref()
        .is_some_and(|name| name.trim().is_empty())
    {
        return Err(ApiError::field(
            "name",
            "Invalid input: 'name' must not be empty",
        ));
    }
    let mut store = shared.store();
    let channel = store
        .channels
        .iter_mut()
        .find(|channel| channel.id == channel_id)
        .ok_or_else(|| not_found(&channel_id))?;
    if let Some(name) = fields.name {
        channel.name = name;
    }
    if let Some(capabilities) = fields.capabilities {
        channel.capabilities = Value::Object(capabilities);
    }
    if let Some(url) = fields.webhook_url {
        channel.webhook_url = Some(url);
    }
    if let Some(description) = fields.channel_description {
        channel.description = Some(description);
    }
    if let Some(logo) = fields.channel_logo_url {
        channel.logo_url = Some(logo);
    }
    if let Some(url) = fields.channel_account_connection_redirect_url {
        channel.connection_redirect_url = Some(url);
    }
    Ok(Json(render(channel)))
}

/// Archives the channel: it disappears from lists and lookups, as after HubSpot's DELETE.
pub(crate) async fn delete(
    State(shared): State<AppState>,
    Path(channel_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    require_developer_key(&shared, &query, false)?;
    let mut store = shared.store();
    let before = store.channels.len();
    store.channels.retain(|channel| channel.id != channel_id);
    if store.channels.len() == before {
        return Err(not_found(&channel_id));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn not_found(channel_id: &str) -> ApiError {
    ApiError::not_found(format!("Channel {channel_id} not found"))
}

/// HubSpot refuses a webhook URL it could never call.
fn validate_url(field: &str, url: &str) -> Result<(), ApiError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            format!("Invalid input: '{field}' must be an http(s) URL, got '{url}'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{Harness, error_category, read};

    #[tokio::test]
    async fn channel_operations_need_the_developer_api_key() {
        let harness = Harness::start().await;
        let body = json!({ "name": "Botpress", "capabilities": {} });
        for query in [
            "",
            "?hapikey=wrong&appId=1098266",
            "?hapikey=sandbox-developer-api-key&appId=1",
        ] {
            let response = harness
                .http
                .post(harness.url(&format!("/conversations/v3/custom-channels{query}")))
                .bearer_auth(&harness.token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let (status, answer) = read(response).await;
            assert_eq!(
                (status, error_category(&answer)),
                (401, "INVALID_AUTHENTICATION"),
                "{query}"
            );
        }
        assert!(harness.sim.channels().is_empty());
    }

    #[tokio::test]
    async fn channels_are_created_listed_on_both_paths_paged_updated_and_deleted() {
        let harness = Harness::start().await;
        let (first, _) = harness
            .channel_with_account("https://bridge.example/one")
            .await;
        let (second, _) = harness
            .channel_with_account("https://bridge.example/two")
            .await;
        let key = harness.hapikey();

        for path in [
            "/conversations/v3/custom-channels",
            "/conversations/custom-channels/v3",
        ] {
            let (status, list) = read(
                harness
                    .http
                    .get(harness.url(&format!("{path}?{key}")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(list["total"], 2);
        }
        let page = harness.url(&format!("/conversations/v3/custom-channels?{key}&limit=1"));
        let (_, page) = read(harness.http.get(page).send().await.unwrap()).await;
        assert_eq!(page["results"][0]["id"], first.as_str());
        let after = page["paging"]["next"]["after"]
            .as_str()
            .unwrap()
            .to_string();
        let next = harness.url(&format!(
            "/conversations/v3/custom-channels?{key}&limit=1&after={after}"
        ));
        let (_, next) = read(harness.http.get(next).send().await.unwrap()).await;
        assert_eq!(next["results"][0]["id"], second.as_str());
        assert!(next.get("paging").is_none());

        let one = harness.url(&format!("/conversations/v3/custom-channels/{first}?{key}"));
        let patched = harness
            .http
            .patch(&one)
            .json(&json!({ "webhookUrl": "https://bridge.example/new" }));
        let (status, patched) = read(patched.send().await.unwrap()).await;
        assert_eq!(
            (status, patched["webhookUrl"].as_str()),
            (200, Some("https://bridge.example/new"))
        );
        assert_eq!(patched["name"], "Botpress");
        for field in ["id", "name", "capabilities", "createdAt"] {
            assert!(patched.get(field).is_some(), "{field}");
        }

        assert_eq!(
            harness.http.delete(&one).send().await.unwrap().status(),
            204
        );
        let (status, gone) = read(harness.http.get(&one).send().await.unwrap()).await;
        assert_eq!((status, error_category(&gone)), (404, "OBJECT_NOT_FOUND"));
    }

    #[tokio::test]
    async fn a_channel_needs_a_name_and_capabilities() {
        let harness = Harness::start().await;
        let url = harness.url(&format!(
            "/conversations/v3/custom-channels?{}",
            harness.hapikey()
        ));
        let (status, answer) = read(
            harness
                .http
                .post(&url)
                .json(&json!({ "name": "x" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, error_category(&answer)), (400, "VALIDATION_ERROR"));
        assert!(answer["message"].as_str().unwrap().contains("capabilities"));
        let (status, _) = read(harness.http.post(&url).body("{oops").send().await.unwrap()).await;
        assert_eq!(status, 400);
    }
}
