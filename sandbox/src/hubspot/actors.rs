//! `GET /conversations/v3/conversations/actors/{actorId}` and `POST .../actors/batch/read`: how
//! the bridge turns an `assignedTo` actor id into the agent's name and email for the bot.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::errors::ApiError;
use super::extract::json_body;
use super::model::{Agent, iso};
use super::state::AppState;

/// An `AgentActor`.
fn render(agent: &Agent) -> Value {
    json!({
        "type": "AGENT",
        "id": agent.id,
        "name": agent.name,
        "email": agent.email,
        "avatar": format!("https://api.hubspot.com/userpreferences/v1/avatar/{}/100", agent.id),
    })
}

#[derive(Deserialize)]
struct BatchInput {
    inputs: Option<Vec<String>>,
}

pub(crate) async fn get(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(actor_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let store = shared.store();
    let agent = store
        .agent(&actor_id)
        .ok_or_else(|| ApiError::not_found(format!("Actor {actor_id} not found")))?;
    Ok(Json(render(agent)))
}

/// Known actors come back in `results`; unknown ones make the answer a 207 with `errors`, as
/// HubSpot's batch endpoints do.
pub(crate) async fn batch_read(
    State(shared): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let started_at = iso(Utc::now());
    let input: BatchInput = json_body(&body)?;
    let ids = input.inputs.ok_or_else(|| ApiError::missing("inputs"))?;
    let store = shared.store();
    let results: Vec<Value> = ids
        .iter()
        .filter_map(|id| store.agent(id))
        .map(render)
        .collect();
    let missing: Vec<&String> = ids.iter().filter(|id| store.agent(id).is_none()).collect();
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started_at,
        "completedAt": iso(Utc::now()),
    });
    if missing.is_empty() {
        return Ok((StatusCode::OK, Json(body)));
    }
    body["numErrors"] = json!(missing.len());
    body["errors"] = json!([{
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "Could not find actors",
        "context": { "ids": missing },
    }]);
    Ok((StatusCode::MULTI_STATUS, Json(body)))
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use serde_json::json;

    use super::super::test_support::{Harness, error_category};

    #[tokio::test]
    async fn agents_are_read_one_by_one_or_in_a_batch() {
        let harness = Harness::start().await;
        harness
            .sim
            .add_agent("A-12345", "Ada Agent", "ada@example.com");
        let (status, actor) = harness
            .call(
                Method::GET,
                "/conversations/v3/conversations/actors/A-12345",
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(actor["type"], "AGENT");
        assert_eq!(actor["name"], "Ada Agent");
        assert_eq!(actor["email"], "ada@example.com");

        let (status, missing) = harness
            .call(
                Method::GET,
                "/conversations/v3/conversations/actors/A-1",
                None,
            )
            .await;
        assert_eq!(
            (status, error_category(&missing)),
            (404, "OBJECT_NOT_FOUND")
        );

        let batch = "/conversations/v3/conversations/actors/batch/read";
        let (status, all) = harness
            .call(Method::POST, batch, Some(json!({ "inputs": ["A-12345"] })))
            .await;
        assert_eq!(status, 200);
        assert_eq!(all["status"], "COMPLETE");
        assert_eq!(all["results"][0]["id"], "A-12345");
        assert!(all["startedAt"].is_string() && all["completedAt"].is_string());
        let (status, partial) = harness
            .call(
                Method::POST,
                batch,
                Some(json!({ "inputs": ["A-12345", "A-1"] })),
            )
            .await;
        assert_eq!((status, partial["numErrors"].as_u64()), (207, Some(1)));
    }
}
