//! The Lambda Runtime API (`/2018-06-01/runtime/...`) for one function instance: hands the
//! next event to the polling process and collects its answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tokio::sync::{mpsc, oneshot};

/// What one invocation produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function's response payload (for HTTP functions, an API Gateway response object).
    Response(Vec<u8>),
    /// The function reported an error (`/error`): its `errorType` and `errorMessage`.
    Error { error_type: String, message: String },
}

pub(super) struct Invocation {
    pub request_id: String,
    pub event: Vec<u8>,
    pub deadline_ms: i64,
}

#[derive(Clone)]
pub(super) struct RuntimeState {
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>,
    pending: Arc<Mutex<HashMap<String, oneshot::Sender<InvokeOutcome>>>>,
    init_error: Arc<Mutex<Option<String>>>,
    /// When the current process first asked for an event: the end of its init.
    first_poll: Arc<Mutex<Option<Instant>>>,
    /// When each invocation in flight was handed to the process.
    handed_out: Arc<Mutex<HashMap<String, Instant>>>,
    /// Lambda's `Duration` of every invocation answered, in order: from the event handed to
    /// the process to its answer (what Lambda bills, and reports in its `REPORT` line).
    durations: Arc<Mutex<Vec<Duration>>>,
    function_arn: String,
}

impl RuntimeState {
    pub fn new(queue: mpsc::Receiver<Invocation>, function_name: &str) -> Self {
        Self {
            queue: Arc::new(tokio::sync::Mutex::new(queue)),
            pending: Arc::default(),
            init_error: Arc::default(),
            first_poll: Arc::default(),
            handed_out: Arc::default(),
            durations: Arc::default(),
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
        }
    }

    pub fn expect(&self, request_id: &str, answer: oneshot::Sender<InvokeOutcome>) {
        self.pending
            .lock()
            .expect("pending lock")
            .insert(request_id.to_string(), answer);
    }

    /// Whether an invoker still waits for the answer to `request_id`.
    fn is_pending(&self, request_id: &str) -> bool {
        self.pending
            .lock()
            .expect("pending lock")
            .contains_key(request_id)
    }

    pub fn forget(&self, request_id: &str) {
        self.pending
            .lock()
            .expect("pending lock")
            .remove(request_id);
    }

    /// The process running the current invocation died: its caller gets no answer.
    pub fn fail_in_flight(&self) {
        self.pending.lock().expect("pending lock").clear();
        self.handed_out.lock().expect("handed-out lock").clear();
        *self.init_error.lock().expect("init error lock") = None;
    }

    /// A new process starts: its init ends at its own first poll.
    pub fn forget_first_poll(&self) {
        *self.first_poll.lock().expect("first poll lock") = None;
    }

    pub fn first_poll(&self) -> Option<Instant> {
        *self.first_poll.lock().expect("first poll lock")
    }

    /// Lambda's `Duration` of every invocation answered so far, in order.
    pub fn durations(&self) -> Vec<Duration> {
        self.durations.lock().expect("durations lock").clone()
    }

    pub fn init_error(&self) -> Option<String> {
        self.init_error.lock().expect("init error lock").clone()
    }

    fn answer(&self, request_id: &str, outcome: InvokeOutcome) -> StatusCode {
        let handed_out = self
            .handed_out
            .lock()
            .expect("handed-out lock")
            .remove(request_id);
        if let Some(handed_out) = handed_out {
            self.durations
                .lock()
                .expect("durations lock")
                .push(handed_out.elapsed());
        }
        match self
            .pending
            .lock()
            .expect("pending lock")
            .remove(request_id)
        {
            Some(sender) => {
                let _ = sender.send(outcome);
                StatusCode::ACCEPTED
            }
            None => StatusCode::BAD_REQUEST,
        }
    }
}

pub(super) fn router(state: RuntimeState) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(state)
}

/// Long-polls until an event is queued, as the real Runtime API does.
async fn next(State(state): State<RuntimeState>) -> Response {
    state
        .first_poll
        .lock()
        .expect("first poll lock")
        .get_or_insert_with(Instant::now);
    let invocation = {
        let mut queue = state.queue.lock().await;
        loop {
            let Some(invocation) = queue.recv().await else {
                return StatusCode::GONE.into_response();
            };
            // An event whose invoker gave up before any process took it (its invocation timed
            // out, its environment was restarted) is not handed to the new process: Lambda
            // does not run a timed-out event again.
            if state.is_pending(&invocation.request_id) {
                break invocation;
            }
        }
    };
    state
        .handed_out
        .lock()
        .expect("handed-out lock")
        .insert(invocation.request_id.clone(), Instant::now());
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", invocation.request_id);
    set(
        "lambda-runtime-deadline-ms",
        invocation.deadline_ms.to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        state.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".to_string(),
    );
    set("content-type", "application/json".to_string());
    (StatusCode::OK, headers, invocation.event).into_response()
}

async fn response(
    State(state): State<RuntimeState>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    state.answer(&id, InvokeOutcome::Response(body.to_vec()))
}

async fn error(
    State(state): State<RuntimeState>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let (error_type, message) = read_error(&body);
    state.answer(
        &id,
        InvokeOutcome::Error {
            error_type,
            message,
        },
    )
}

async fn init_error(State(state): State<RuntimeState>, body: Bytes) -> StatusCode {
    let (error_type, message) = read_error(&body);
    *state.init_error.lock().expect("init error lock") = Some(format!("{error_type}: {message}"));
    StatusCode::ACCEPTED
}

fn read_error(body: &[u8]) -> (String, String) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |name: &str| json[name].as_str().unwrap_or_default().to_string();
    (field("errorType"), field("errorMessage"))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn an_invocation_is_timed_from_the_event_handed_out_to_the_answer() {
        let (queue, receiver) = mpsc::channel(1);
        let state = RuntimeState::new(receiver, "f");
        let (answer, answered) = oneshot::channel();
        state.expect("r1", answer);
        queue
            .send(Invocation {
                request_id: "r1".into(),
                event: b"{}".to_vec(),
                deadline_ms: 0,
            })
            .await
            .unwrap();
        let next = Request::get("/2018-06-01/runtime/invocation/next")
            .body(Body::empty())
            .unwrap();
        let handed = router(state.clone()).oneshot(next).await.unwrap();
        assert_eq!(handed.status(), StatusCode::OK);
        assert!(state.durations().is_empty(), "not answered yet");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let response = Request::post("/2018-06-01/runtime/invocation/r1/response")
            .body(Body::from("\"done\""))
            .unwrap();
        let posted = router(state.clone()).oneshot(response).await.unwrap();
        assert_eq!(posted.status(), StatusCode::ACCEPTED);
        assert_eq!(
            answered.await.unwrap(),
            InvokeOutcome::Response(b"\"done\"".to_vec())
        );
        let durations = state.durations();
        assert_eq!(durations.len(), 1);
        assert!(durations[0] >= Duration::from_millis(20), "{durations:?}");
    }
}
