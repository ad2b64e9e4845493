//! The simulated HubSpot's routes, with the paths exactly as the bridge calls them, and the
//! recorder around everything so tests can assert on every call.

use axum::{
    Router,
    extract::Request,
    http::StatusCode,
    middleware,
    routing::{get, post},
};

use super::errors::ApiError;
use super::state::AppState;
use super::{
    actors, channel_accounts, channels, contacts, file_manager, inboxes, messages, oauth, publish,
    thread_messages, threads,
};
use crate::recorder::record;

pub(crate) fn build(shared: AppState) -> Router {
    let recorder = shared.recorder.clone();
    let faults = shared.faults.clone();
    Router::new()
        .route("/oauth/v1/token", post(oauth::token))
        .route("/oauth/2026-03/token", post(oauth::token))
        // The Postman collection and HubSpot's guide use the first path; the v3 OpenAPI the second.
        .route(
            "/conversations/v3/custom-channels",
            get(channels::list).post(channels::create),
        )
        .route(
            "/conversations/custom-channels/v3",
            get(channels::list).post(channels::create),
        )
        .route(
            "/conversations/v3/custom-channels/{channel_id}",
            get(channels::get)
                .patch(channels::update)
                .delete(channels::delete),
        )
        .route(
            "/conversations/v3/custom-channels/{channel_id}/channel-accounts",
            get(channel_accounts::list).post(channel_accounts::create),
        )
        .route(
            "/conversations/v3/custom-channels/{channel_id}/channel-accounts/{account_id}",
            get(channel_accounts::get).patch(channel_accounts::update),
        )
        .route(
            "/conversations/v3/custom-channels/{channel_id}/messages",
            post(publish::publish),
        )
        .route(
            "/conversations/v3/custom-channels/{channel_id}/messages/{message_id}",
            get(messages::get).patch(messages::update_status),
        )
        .route(
            "/conversations/v3/conversations/inboxes",
            get(inboxes::list),
        )
        .route(
            "/conversations/v3/conversations/inboxes/{inbox_id}",
            get(inboxes::get),
        )
        .route(
            "/conversations/v3/conversations/channel-accounts",
            get(channel_accounts::list_all),
        )
        .route(
            "/conversations/v3/conversations/channel-accounts/{account_id}",
            get(channel_accounts::get_any),
        )
        .route(
            "/conversations/v3/conversations/threads/{thread_id}",
            get(threads::get).patch(threads::update),
        )
        .route(
            "/conversations/v3/conversations/threads/{thread_id}/messages",
            get(thread_messages::list),
        )
        .route(
            "/conversations/v3/conversations/threads/{thread_id}/messages/{message_id}/original-content",
            get(messages::original_content),
        )
        .route(
            "/conversations/v3/conversations/actors/batch/read",
            post(actors::batch_read),
        )
        .route(
            "/conversations/v3/conversations/actors/{actor_id}",
            get(actors::get),
        )
        .route("/crm/v3/objects/contacts", post(contacts::create))
        .route("/crm/v3/objects/contacts/search", post(contacts::search))
        .route(
            "/filemanager/api/v3/files/upload",
            post(file_manager::upload).layer(axum::extract::DefaultBodyLimit::max(
                file_manager::MAX_UPLOAD_BYTES,
            )),
        )
        .route("/crm/v3/objects/contacts/{contact_id}", get(contacts::get))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
        // Inside the recorder, so injected failures are recorded with their status.
        .layer(middleware::from_fn_with_state(
            faults,
            crate::faults::inject,
        ))
        .layer(middleware::from_fn_with_state(recorder, record))
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "No endpoint for {} {} in the simulated HubSpot",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "VALIDATION_ERROR",
        format!(
            "Method {} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::super::test_support::{Harness, error_category};

    #[tokio::test]
    async fn unknown_paths_get_a_hubspot_404_and_every_call_is_recorded() {
        let harness = Harness::start().await;
        let (status, body) = harness
            .call(Method::GET, "/crm/v3/objects/deals/1", None)
            .await;
        assert_eq!((status, error_category(&body)), (404, "OBJECT_NOT_FOUND"));
        let recorder = harness.sim.recorder();
        assert_eq!(recorder.count("POST", "/oauth/v1/token"), 1);
        let calls = recorder.matching("GET", "/crm/v3/objects/deals");
        assert_eq!(calls[0].status, 404);
        assert!(
            calls[0]
                .header("authorization")
                .unwrap()
                .starts_with("Bearer ")
        );
    }
}
