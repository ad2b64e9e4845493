//! `GET /conversations/v3/conversations/inboxes[/{id}]`: how the bridge finds the HELP_DESK inbox
//! to connect its channel account to.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::errors::ApiError;
use super::extract::Query;
use super::model::{Inbox, iso};
use super::state::AppState;

/// A `PublicInbox`.
fn render(inbox: &Inbox) -> Value {
    json!({
        "id": inbox.id,
        "name": inbox.name,
        "type": inbox.kind,
        "createdAt": iso(inbox.created_at),
        "updatedAt": iso(inbox.created_at),
        "archived": false,
    })
}

pub(crate) async fn list(
    State(shared): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let query = Query::parse(raw.as_deref())?;
    let page = query.page(100, 500)?;
    // The simulator never archives an inbox, so `archived=true` lists nothing.
    let items = if query.flag("archived")? {
        Vec::new()
    } else {
        shared.store().inboxes.iter().map(render).collect()
    };
    Ok(Json(page.collect(items)))
}

pub(crate) async fn get(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(inbox_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let store = shared.store();
    let inbox = store
        .inboxes
        .iter()
        .find(|inbox| inbox.id == inbox_id)
        .ok_or_else(|| ApiError::not_found(format!("Inbox {inbox_id} not found")))?;
    Ok(Json(render(inbox)))
}
