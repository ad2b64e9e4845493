//! The Lambda Runtime API (`/2018-06-01/runtime/...`) for one function instance: hands the
//! next event to the polling process and collects its answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    first_poll: Arc<Mutex<Option<std::time::Instant>>>,
    function_arn: String,
}

impl RuntimeState {
    pub fn new(queue: mpsc::Receiver<Invocation>, function_name: &str) -> Self {
        Self {
            queue: Arc::new(tokio::sync::Mutex::new(queue)),
            pending: Arc::default(),
            init_error: Arc::default(),
            first_poll: Arc::default(),
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
        }
    }

    pub fn expect(&self, request_id: &str, answer: oneshot::Sender<InvokeOutcome>) {
        self.pending
            .lock()
            .expect("pending lock")
            .insert(request_id.to_string(), answer);
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
        *self.init_error.lock().expect("init error lock") = None;
    }

    /// A new process starts: its init ends at its own first poll.
    pub fn forget_first_poll(&self) {
        *self.first_poll.lock().expect("first poll lock") = None;
    }

    pub fn first_poll(&self) -> Option<std::time::Instant> {
        *self.first_poll.lock().expect("first poll lock")
    }

    pub fn init_error(&self) -> Option<String> {
        self.init_error.lock().expect("init error lock").clone()
    }

    fn answer(&self, request_id: &str, outcome: InvokeOutcome) -> StatusCode {
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
        .get_or_insert_with(std::time::Instant::now);
    let invocation = state.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
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
