//! Channel accounts: one connection of a custom channel to an inbox (for the bridge, one bot
//! connected to the help desk). Published messages name the account they belong to.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::channels;
use super::delivery_identifier;
use super::errors::ApiError;
use super::extract::{Query, json_body};
use super::model::{ChannelAccount, iso};
use super::state::{AppState, Store};

/// A `PublicChannelAccount` with all its required fields.
pub(crate) fn render(account: &ChannelAccount) -> Value {
    let mut body = json!({
        "id": account.id,
        "channelId": account.channel_id,
        "inboxId": account.inbox_id,
        "name": account.name,
        "authorized": account.authorized,
        "active": true,
        "archived": false,
        "createdAt": iso(account.created_at),
    });
    if let Some(identifier) = &account.delivery_identifier {
        body["deliveryIdentifier"] = identifier.clone();
    }
    body
}

/// `PublicChannelAccountEgg`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Egg {
    inbox_id: Option<String>,
    name: Option<String>,
    authorized: Option<bool>,
    delivery_identifier: Option<Value>,
}

/// `PublicChannelAccountUpdateRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    name: Option<String>,
    authorized: Option<bool>,
}

fn require_channel(store: &Store, channel_id: &str) -> Result<(), ApiError> {
    store
        .channel(channel_id)
        .map(|_| ())
        .ok_or_else(|| channels::not_found(channel_id))
}

fn account_not_found(account_id: &str) -> ApiError {
    ApiError::not_found(format!("Channel account {account_id} not found"))
}

/// Accounts matching the list filters shared by both list endpoints.
fn filtered(
    store: &Store,
    query: &Query,
    channel_id: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    if query.flag("archived")? {
        return Ok(Vec::new());
    }
    let inbox_id = query.get("inboxId");
    let identifier_type = query.get("deliveryIdentifierType");
    let identifier_value = query.get("deliveryIdentifierValue");
    let field = |account: &ChannelAccount, name: &str| {
        account
            .delivery_identifier
            .as_ref()
            .and_then(|identifier| identifier.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(store
        .channel_accounts
        .iter()
        .filter(|account| channel_id.is_none_or(|id| account.channel_id == id))
        .filter(|account| inbox_id.is_none_or(|id| account.inbox_id == id))
        .filter(|account| {
            identifier_type.is_none_or(|kind| field(account, "type").as_deref() == Some(kind))
        })
        .filter(|account| {
            identifier_value.is_none_or(|value| field(account, "value").as_deref() == Some(value))
        })
        .map(render)
        .collect())
}

pub(crate) async fn list(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(channel_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let query = Query::parse(raw.as_deref())?;
    let page = query.page(100, 500)?;
    let store = shared.store();
    require_channel(&store, &channel_id)?;
    let items = filtered(&store, &query, Some(&channel_id))?;
    Ok(Json(page.collect(items)))
}

pub(crate) async fn create(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(channel_id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let egg: Egg = json_body(&body)?;
    let name = egg
        .name
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| ApiError::missing("name"))?;
    let inbox_id = egg.inbox_id.ok_or_else(|| ApiError::missing("inboxId"))?;
    let authorized = egg
        .authorized
        .ok_or_else(|| ApiError::missing("authorized"))?;
    if egg
        .delivery_identifier
        .as_ref()
        .is_some_and(|value| !value.is_null())
    {
        delivery_identifier::validate("deliveryIdentifier", egg.delivery_identifier.as_ref())?;
    }
    let mut store = shared.store();
    require_channel(&store, &channel_id)?;
    if !store.inboxes.iter().any(|inbox| inbox.id == inbox_id) {
        return Err(ApiError::field(
            "inboxId",
            format!("Invalid input: inbox {inbox_id} does not exist in this account"),
        ));
    }
    let account = ChannelAccount {
        id: store.ids.channel_account(),
        channel_id,
        inbox_id,
        name,
        authorized,
        delivery_identifier: egg.delivery_identifier.filter(|value| !value.is_null()),
        created_at: Utc::now(),
    };
    let body = render(&account);
    store.channel_accounts.push(account);
    Ok((StatusCode::CREATED, Json(body)))
}

pub(crate) async fn get(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path((channel_id, account_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let store = shared.store();
    require_channel(&store, &channel_id)?;
    let account = store
        .channel_accounts
        .iter()
        .find(|account| account.id == account_id && account.channel_id == channel_id)
        .ok_or_else(|| account_not_found(&account_id))?;
    Ok(Json(render(account)))
}

pub(crate) async fn update(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path((channel_id, account_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let update: Update = json_body(&body)?;
    if update
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
    require_channel(&store, &channel_id)?;
    let account = store
        .channel_accounts
        .iter_mut()
        .find(|account| account.id == account_id && account.channel_id == channel_id)
        .ok_or_else(|| account_not_found(&account_id))?;
    if let Some(name) = update.name {
        account.name = name;
    }
    if let Some(authorized) = update.authorized {
        account.authorized = authorized;
    }
    Ok(Json(render(account)))
}

/// `GET /conversations/v3/conversations/channel-accounts?channelId=&inboxId=`: the
/// account-level listing (any channel).
pub(crate) async fn list_all(
    State(shared): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let query = Query::parse(raw.as_deref())?;
    let page = query.page(100, 500)?;
    let channel_id = query.get("channelId");
    let items = filtered(&shared.store(), &query, channel_id)?;
    Ok(Json(page.collect(items)))
}

pub(crate) async fn get_any(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let store = shared.store();
    let account = store
        .channel_accounts
        .iter()
        .find(|account| account.id == account_id)
        .ok_or_else(|| account_not_found(&account_id))?;
    Ok(Json(render(account)))
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use serde_json::json;

    use super::super::test_support::{Harness, error_category};

    #[tokio::test]
    async fn accounts_need_a_known_inbox_and_answer_every_required_field() {
        let harness = Harness::start().await;
        let (channel, account) = harness
            .channel_with_account("https://bridge.example/hook")
            .await;
        let path = format!("/conversations/v3/custom-channels/{channel}/channel-accounts");
        let (status, answer) = harness
            .call(
                Method::POST,
                &path,
                Some(json!({ "inboxId": "424242", "name": "bot", "authorized": true })),
            )
            .await;
        assert_eq!((status, error_category(&answer)), (400, "VALIDATION_ERROR"));
        assert!(answer["message"].as_str().unwrap().contains("424242"));

        let (status, fetched) = harness
            .call(Method::GET, &format!("{path}/{account}"), None)
            .await;
        assert_eq!(status, 200);
        for field in [
            "active",
            "archived",
            "authorized",
            "channelId",
            "createdAt",
            "id",
            "inboxId",
            "name",
        ] {
            assert!(fetched.get(field).is_some(), "{field}");
        }
        let (status, updated) = harness
            .call(
                Method::PATCH,
                &format!("{path}/{account}"),
                Some(json!({ "authorized": false })),
            )
            .await;
        assert_eq!(
            (status, updated["authorized"].as_bool()),
            (200, Some(false))
        );

        let all = format!("/conversations/v3/conversations/channel-accounts?channelId={channel}");
        let (status, list) = harness.call(Method::GET, &all, None).await;
        assert_eq!((status, list["total"].as_u64()), (200, Some(1)));
        let (_, none) = harness
            .call(
                Method::GET,
                "/conversations/v3/conversations/channel-accounts?channelId=1",
                None,
            )
            .await;
        assert_eq!(none["total"], 0);
    }

    #[tokio::test]
    async fn the_help_desk_inbox_is_listed_beside_an_ordinary_one() {
        let harness = Harness::start().await;
        let (status, inboxes) = harness
            .call(Method::GET, "/conversations/v3/conversations/inboxes", None)
            .await;
        assert_eq!((status, inboxes["total"].as_u64()), (200, Some(2)));
        let help_desk: Vec<_> = inboxes["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|inbox| inbox["type"] == "HELP_DESK")
            .collect();
        assert_eq!(help_desk.len(), 1);
        assert_eq!(
            help_desk[0]["id"],
            harness.sim.config().help_desk_inbox_id.as_str()
        );
        for field in ["archived", "createdAt", "id", "name", "type", "updatedAt"] {
            assert!(help_desk[0].get(field).is_some(), "{field}");
        }
    }
}
