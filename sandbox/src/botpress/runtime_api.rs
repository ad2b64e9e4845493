//! The served part of the Botpress Runtime API: the `/v1/chat/*` operations the bridge calls to
//! speak for the agent (users, the `hitl` conversation, messages, events).

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    middleware::from_fn_with_state,
    routing::{get, post},
};
use serde_json::{Value, json};

use super::{
    errors::ApiError,
    guard::guard,
    model::{Direction, to_json},
    requests::{
        CreateEventBody, CreateMessageBody, GetOrCreateConversationBody, GetOrCreateMessageBody,
        GetOrCreateUserBody, UpdateUserBody, check_channel_payload, check_id, check_max_len,
        check_optional_id, check_schedule, check_tags, parse,
    },
    state::SimState,
    store::{NewEvent, NewMessage},
};
use crate::recorder::{Recorder, record};

/// The integration name a conversation gets when the call names no alias: this project's integration.
const DEFAULT_INTEGRATION: &str = "hubspot-hitl";

type ApiResult = Result<(StatusCode, Json<Value>), ApiError>;

/// The whole Runtime API router: every call recorded, then guarded (faults, token, bot id).
pub fn router(state: Arc<SimState>, recorder: Recorder) -> Router {
    Router::new()
        .route("/v1/chat/users", post(create_user))
        .route("/v1/chat/users/get-or-create", post(get_or_create_user))
        .route("/v1/chat/users/{id}", get(get_user).put(update_user))
        .route(
            "/v1/chat/conversations/get-or-create",
            post(get_or_create_conversation),
        )
        .route("/v1/chat/conversations/{id}", get(get_conversation))
        .route("/v1/chat/messages", post(create_message))
        .route(
            "/v1/chat/messages/get-or-create",
            post(get_or_create_message),
        )
        .route("/v1/chat/events", post(create_event))
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_route)
        .layer(from_fn_with_state(state.clone(), guard))
        .layer(from_fn_with_state(recorder, record))
        .with_state(state)
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("No such operation in the Botpress Runtime API")
}

/// A header's value, when present, non-empty and readable as text.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
}

/// A createUser or getOrCreateUser body, checked against the spec's limits.
fn user_body(body: &[u8]) -> Result<GetOrCreateUserBody, ApiError> {
    let body: GetOrCreateUserBody = parse(body)?;
    check_tags("tags", &body.tags)?;
    check_name_and_picture(body.name.as_deref(), body.picture_url.as_deref())?;
    Ok(body)
}

/// A user's `name` (200) and `pictureUrl` (40,000), where given, within the spec's limits.
fn check_name_and_picture(name: Option<&str>, picture_url: Option<&str>) -> Result<(), ApiError> {
    if let Some(name) = name {
        check_max_len("name", name, 200)?;
    }
    if let Some(picture_url) = picture_url {
        check_max_len("pictureUrl", picture_url, 40_000)?;
    }
    Ok(())
}

async fn get_or_create_user(State(state): State<Arc<SimState>>, body: Bytes) -> ApiResult {
    let body = user_body(&body)?;
    let keep_found = state.found_users_kept_as_they_are();
    let user = state.store().get_or_create_user(
        &body.tags,
        body.name,
        body.picture_url,
        body.discriminate_by_tags.as_deref(),
        keep_found,
    );
    Ok((StatusCode::OK, Json(json!({ "user": to_json(&user) }))))
}

/// Answers 201 with a new user, even when another has the same tags.
async fn create_user(State(state): State<Arc<SimState>>, body: Bytes) -> ApiResult {
    let body = user_body(&body)?;
    if body.discriminate_by_tags.is_some() {
        // createUserBody is getOrCreateUser's without it, and `additionalProperties: false`.
        return Err(ApiError::invalid_payload(
            "discriminateByTags is not allowed in createUser",
        ));
    }
    let user = state
        .store()
        .create_user(&body.tags, body.name, body.picture_url);
    Ok((StatusCode::CREATED, Json(json!({ "user": to_json(&user) }))))
}

async fn get_user(State(state): State<Arc<SimState>>, Path(id): Path<String>) -> ApiResult {
    let store = state.store();
    let user = store
        .user(&id)
        .ok_or_else(|| ApiError::not_found(format!("User {id:?} not found")))?;
    Ok((StatusCode::OK, Json(json!({ "user": to_json(user) }))))
}

/// `updateUser`: sets what the body gives (`null` clears a name or picture), 404 for an
/// unknown user.
async fn update_user(
    State(state): State<Arc<SimState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body: UpdateUserBody = parse(&body)?;
    if let Some(tags) = &body.tags {
        check_tags("tags", tags)?;
    }
    check_name_and_picture(
        body.name.as_ref().and_then(Option::as_deref),
        body.picture_url.as_ref().and_then(Option::as_deref),
    )?;
    let user = state
        .store()
        .update_user(&id, body.tags.as_ref(), body.name, body.picture_url)
        .ok_or_else(|| ApiError::not_found(format!("User {id:?} not found")))?;
    Ok((StatusCode::OK, Json(json!({ "user": to_json(&user) }))))
}

async fn get_or_create_conversation(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body: GetOrCreateConversationBody = parse(&body)?;
    check_max_len("channel", &body.channel, 200)?;
    check_tags("tags", &body.tags)?;
    let integration = header(&headers, "x-integration-alias").unwrap_or(DEFAULT_INTEGRATION);
    let conversation = state.store().get_or_create_conversation(
        &body.channel,
        integration,
        &body.tags,
        body.discriminate_by_tags.as_deref(),
    );
    Ok((
        StatusCode::OK,
        Json(json!({ "conversation": to_json(&conversation) })),
    ))
}

async fn get_conversation(State(state): State<Arc<SimState>>, Path(id): Path<String>) -> ApiResult {
    let store = state.store();
    let conversation = store
        .conversation(&id)
        .ok_or_else(|| ApiError::not_found(format!("Conversation {id:?} not found")))?;
    Ok((
        StatusCode::OK,
        Json(json!({ "conversation": to_json(conversation) })),
    ))
}

/// Checks a message body against the spec and the store, and turns it into a [`NewMessage`].
/// A call with `x-integration-id` is an integration speaking to the bot, so its messages are
/// `incoming`; anything else speaks for the bot and is `outgoing`.
fn new_message(
    state: &SimState,
    headers: &HeaderMap,
    body: CreateMessageBody,
) -> Result<NewMessage, ApiError> {
    check_id("userId", &body.user_id)?;
    check_id("conversationId", &body.conversation_id)?;
    check_max_len("type", &body.kind, 200)?;
    check_tags("tags", &body.tags)?;
    check_schedule(body.schedule.as_ref())?;
    check_channel_payload(&body.kind, &body.payload)?;
    let store = state.store();
    if store.conversation(&body.conversation_id).is_none() {
        return Err(ApiError::not_found(format!(
            "Conversation {:?} not found",
            body.conversation_id
        )));
    }
    if store.user(&body.user_id).is_none() {
        return Err(ApiError::not_found(format!(
            "User {:?} not found",
            body.user_id
        )));
    }
    let direction = if header(headers, "x-integration-id").is_some() {
        Direction::Incoming
    } else {
        Direction::Outgoing
    };
    Ok(NewMessage {
        kind: body.kind,
        payload: body.payload,
        direction,
        user_id: body.user_id,
        conversation_id: body.conversation_id,
        tags: body.tags,
        origin: body.origin.map(|_| "synthetic".to_string()),
    })
}

async fn create_message(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body: CreateMessageBody = parse(&body)?;
    let new = new_message(&state, &headers, body)?;
    let message = state.store().create_message(new);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "message": to_json(&message) })),
    ))
}

/// Answers 200 whether it found or created the message: the spec declares only 200 for this one.
async fn get_or_create_message(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body: GetOrCreateMessageBody = parse(&body)?;
    let (body, discriminate_by) = body.split();
    let conversation_id = body.conversation_id.clone();
    let tags = body.tags.clone();
    let new = new_message(&state, &headers, body)?;
    let mut store = state.store();
    let message = match store.find_message(&conversation_id, &tags, discriminate_by.as_deref()) {
        Some(existing) => existing.clone(),
        None => store.create_message(new),
    };
    Ok((
        StatusCode::OK,
        Json(json!({ "message": to_json(&message) })),
    ))
}

async fn create_event(State(state): State<Arc<SimState>>, body: Bytes) -> ApiResult {
    let body: CreateEventBody = parse(&body)?;
    check_max_len("type", &body.kind, 200)?;
    check_optional_id("conversationId", body.conversation_id.as_deref())?;
    check_optional_id("userId", body.user_id.as_deref())?;
    check_optional_id("workflowId", body.workflow_id.as_deref())?;
    check_optional_id("messageId", body.message_id.as_deref())?;
    check_schedule(body.schedule.as_ref())?;
    let mut store = state.store();
    if let Some(id) = &body.conversation_id
        && store.conversation(id).is_none()
    {
        return Err(ApiError::not_found(format!(
            "Conversation {id:?} not found"
        )));
    }
    if let Some(id) = &body.user_id
        && store.user(id).is_none()
    {
        return Err(ApiError::not_found(format!("User {id:?} not found")));
    }
    if let Some(id) = &body.message_id
        && store.message(id).is_none()
    {
        return Err(ApiError::not_found(format!("Message {id:?} not found")));
    }
    let event = store.create_event(NewEvent {
        kind: body.kind,
        payload: body.payload,
        conversation_id: body.conversation_id,
        user_id: body.user_id,
        message_id: body.message_id,
        scheduled: body.schedule.is_some(),
    });
    Ok((
        StatusCode::CREATED,
        Json(json!({ "event": to_json(&event) })),
    ))
}
