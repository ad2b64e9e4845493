//! What every Runtime API call goes through before its handler: injected latency, holds and
//! faults, then the bearer token, then the `x-bot-id` header, in that order; and after it, a
//! hold on its answer.
//!
//! Faults come first so "the next N calls fail" holds whatever the call carries; the bot id is
//! checked after the token, as Botpress cannot tell which bots a caller may see before knowing who
//! it is.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header::AUTHORIZATION},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{errors::ApiError, state::SimState};

pub async fn guard(State(state): State<Arc<SimState>>, request: Request, next: Next) -> Response {
    let latency = state.faults().latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let hold = state.faults().take_hold(request.uri().path());
    if let Some(gate) = hold {
        gate.pass().await;
    }
    let injected = state.faults().take(request.uri().path());
    if let Some(status) = injected {
        return ApiError::for_status(status, format!("Injected failure (status {status})"))
            .into_response();
    }
    if let Err(error) = check(&state, request.headers()) {
        return error.into_response();
    }
    let answer_hold = state.faults().take_answer_hold(request.uri().path());
    let response = next.run(request).await;
    if let Some(gate) = answer_hold {
        gate.pass().await;
    }
    response
}

fn check(state: &SimState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = bearer_token(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "Missing or malformed Authorization header: expected `Bearer <token>`",
        )
    })?;
    if token != state.config.token {
        return Err(ApiError::unauthorized("Invalid access token"));
    }
    let bot_id = headers
        .get("x-bot-id")
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::invalid_payload("Missing required header x-bot-id"))?;
    if bot_id != state.config.bot_id {
        return Err(ApiError::not_found(format!(
            "Bot {bot_id:?} not found (header x-bot-id)"
        )));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 9110).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_token_is_read_case_insensitively_and_requires_a_token() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
    }
}
