//! `GET`/`PATCH /conversations/v3/conversations/threads/{threadId}`: reading a help-desk thread
//! and closing or reopening it. A status change made through the API fires the same
//! `conversation.propertyChange` app webhook HubSpot fires (changeSource `API`), so a bridge that
//! closes a thread itself also receives the echo and must handle it.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
    response::IntoResponse,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::errors::ApiError;
use super::extract::json_body;
use super::model::{Thread, ThreadStatus, iso};
use super::state::AppState;
use super::webhooks;

/// A `PublicThread` with every required field.
pub(crate) fn render(thread: &Thread) -> Value {
    let mut body = json!({
        "id": thread.id,
        "status": thread.status.as_str(),
        "inboxId": thread.inbox_id,
        "originalChannelId": thread.channel_id,
        "originalChannelAccountId": thread.channel_account_id,
        "associatedContactId": thread.associated_contact_id,
        "createdAt": iso(thread.created_at),
        "archived": false,
        "spam": false,
    });
    if let Some(agent) = &thread.assigned_to {
        body["assignedTo"] = json!(agent);
    }
    if let Some(closed_at) = thread.closed_at {
        body["closedAt"] = json!(iso(closed_at));
    }
    if let Some(received) = thread.latest_received_at {
        body["latestMessageReceivedTimestamp"] = json!(iso(received));
    }
    if let Some(sent) = thread.latest_sent_at {
        body["latestMessageSentTimestamp"] = json!(iso(sent));
    }
    if let Some(latest) = thread.latest_received_at.max(thread.latest_sent_at) {
        body["latestMessageTimestamp"] = json!(iso(latest));
    }
    body
}

pub(crate) fn not_found(thread_id: &str) -> ApiError {
    ApiError::not_found(format!("Thread {thread_id} not found"))
}

/// `PublicThreadUpdateRequest`.
#[derive(Deserialize)]
struct Update {
    status: Option<String>,
    archived: Option<bool>,
}

pub(crate) async fn get(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let store = shared.store();
    let thread = store
        .thread(&thread_id)
        .ok_or_else(|| not_found(&thread_id))?;
    Ok(Json(render(thread)))
}

pub(crate) async fn update(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let update: Update = json_body(&body)?;
    let status = match update.status.as_deref() {
        Some("OPEN") => Some(ThreadStatus::Open),
        Some("CLOSED") => Some(ThreadStatus::Closed),
        Some(other) => {
            return Err(ApiError::field(
                "status",
                format!("Invalid input: 'status' is '{other}'; expected OPEN or CLOSED"),
            ));
        }
        None if update.archived.is_some() => None,
        None => return Err(ApiError::missing("status")),
    };
    let (body, webhook) = {
        let mut store = shared.store();
        let thread = store
            .thread_mut(&thread_id)
            .ok_or_else(|| not_found(&thread_id))?;
        let changed = status.filter(|status| *status != thread.status);
        if let Some(status) = changed {
            thread.status = status;
            thread.closed_at = (status == ThreadStatus::Closed).then(Utc::now);
        }
        let body = render(thread);
        let webhook = match (changed, store.app_webhook_url.clone()) {
            (Some(status), Some(url)) => Some((
                url,
                webhooks::property_change(
                    &shared,
                    &mut store,
                    &thread_id,
                    "status",
                    status.as_str(),
                    "API",
                ),
            )),
            _ => None,
        };
        (body, webhook)
    };
    if let Some((url, event)) = webhook {
        webhooks::deliver_later(shared.clone(), url, event);
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::Method;
    use serde_json::{Value, json};

    use super::super::sign_v3;
    use super::super::test_support::{Harness, error_category, receiver};

    #[tokio::test]
    async fn closing_through_the_api_fires_a_status_webhook_from_api() {
        let harness = Harness::start().await;
        let (url, received) = receiver().await;
        harness.sim.set_app_webhook_url(&url);
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let (_, message) = harness
            .publish_incoming(&channel, &account, "conv-1", "m1", "hi")
            .await;
        let thread_id = message["conversationsThreadId"].as_str().unwrap();
        let path = format!("/conversations/v3/conversations/threads/{thread_id}");

        let (status, thread) = harness.call(Method::GET, &path, None).await;
        assert_eq!(status, 200);
        for field in [
            "archived",
            "associatedContactId",
            "createdAt",
            "id",
            "inboxId",
            "originalChannelAccountId",
            "originalChannelId",
            "spam",
            "status",
        ] {
            assert!(thread.get(field).is_some(), "{field}");
        }

        let (status, _) = harness
            .call(Method::PATCH, &path, Some(json!({ "status": "CLOSED" })))
            .await;
        assert_eq!(status, 200);
        // Delivered in the background, as HubSpot does.
        for _ in 0..100 {
            if !harness.sim.deliveries().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let calls = received.calls();
        assert_eq!(calls.len(), 1);
        let events: Value = calls[0].json();
        assert_eq!(events[0]["subscriptionType"], "conversation.propertyChange");
        assert_eq!(events[0]["propertyName"], "status");
        assert_eq!(events[0]["propertyValue"], "CLOSED");
        assert_eq!(events[0]["changeSource"], "API");
        assert_eq!(
            events[0]["objectId"].as_u64().unwrap().to_string(),
            thread_id
        );
        let timestamp: i64 = calls[0]
            .header("x-hubspot-request-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        let expected = sign_v3(
            "sandbox-client-secret",
            "POST",
            &url,
            calls[0].body.as_bytes(),
            timestamp,
        );
        assert_eq!(
            calls[0].header("x-hubspot-signature-v3"),
            Some(expected.as_str())
        );

        // Closing a closed thread changes nothing and sends nothing.
        harness
            .call(Method::PATCH, &path, Some(json!({ "status": "CLOSED" })))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(received.calls().len(), 1);
    }

    #[tokio::test]
    async fn unknown_threads_and_bad_statuses_are_refused() {
        let harness = Harness::start().await;
        let (status, body) = harness
            .call(
                Method::GET,
                "/conversations/v3/conversations/threads/1",
                None,
            )
            .await;
        assert_eq!((status, error_category(&body)), (404, "OBJECT_NOT_FOUND"));
        let (status, body) = harness
            .call(
                Method::PATCH,
                "/conversations/v3/conversations/threads/1",
                Some(json!({ "status": "DONE" })),
            )
            .await;
        assert_eq!((status, error_category(&body)), (400, "VALIDATION_ERROR"));
    }
}
