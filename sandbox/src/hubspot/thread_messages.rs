//! `GET /conversations/v3/conversations/threads/{threadId}/messages`: a thread's message
//! history, newest first unless `sort=createdAt`, paged with `limit` and `after`, as
//! `CollectionResponsePublicMessageForwardPaging` (`results` and, when more remain, `paging`).

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
use super::messages;
use super::state::AppState;
use super::threads;

pub(crate) async fn list(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let query = Query::parse(raw.as_deref())?;
    let page = query.page(100, 500)?;
    let newest_first = match query.list("sort").first().map(String::as_str) {
        None | Some("-createdAt") => true,
        Some("createdAt") => false,
        Some(other) => {
            return Err(ApiError::field(
                "sort",
                format!("Invalid value '{other}' for 'sort': expected createdAt or -createdAt"),
            ));
        }
    };
    let store = shared.store();
    store
        .thread(&thread_id)
        .ok_or_else(|| threads::not_found(&thread_id))?;
    let mut history: Vec<_> = store.thread_messages(&thread_id).collect();
    // Stable: messages created in the same millisecond keep the order they were added in.
    history.sort_by_key(|message| message.created_at);
    if newest_first {
        history.reverse();
    }
    let items: Vec<Value> = history.into_iter().map(messages::render).collect();
    let end = (page.offset + page.limit).min(items.len());
    let results: Vec<Value> = items
        .get(page.offset..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({ "results": results });
    if end < items.len() {
        body["paging"] = json!({ "next": { "after": end.to_string() } });
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::super::test_support::{Harness, error_category};

    #[tokio::test]
    async fn history_is_newest_first_by_default_and_paged() {
        let harness = Harness::start().await;
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let (_, first) = harness
            .publish_incoming(&channel, &account, "conv-1", "m1", "one")
            .await;
        let thread_id = first["conversationsThreadId"].as_str().unwrap();
        harness
            .publish_incoming(&channel, &account, "conv-1", "m2", "two")
            .await;
        let path = format!("/conversations/v3/conversations/threads/{thread_id}/messages");

        let (status, newest) = harness
            .call(Method::GET, &format!("{path}?limit=1"), None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(newest["results"][0]["text"], "two");
        assert_eq!(newest["results"][0]["type"], "MESSAGE");
        assert_eq!(newest["paging"]["next"]["after"], "1");
        let (_, rest) = harness
            .call(Method::GET, &format!("{path}?limit=1&after=1"), None)
            .await;
        assert_eq!(rest["results"][0]["text"], "one");
        assert!(rest.get("paging").is_none());

        let (_, oldest) = harness
            .call(Method::GET, &format!("{path}?sort=createdAt"), None)
            .await;
        assert_eq!(oldest["results"][0]["text"], "one");

        let (status, missing) = harness
            .call(
                Method::GET,
                "/conversations/v3/conversations/threads/1/messages",
                None,
            )
            .await;
        assert_eq!(
            (status, error_category(&missing)),
            (404, "OBJECT_NOT_FOUND")
        );
    }
}
