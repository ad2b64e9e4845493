//! What a simulator received, so tests can assert on every call the bridge made.

use std::sync::{Arc, Mutex};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use serde::Serialize;

/// One HTTP request a simulator answered, with the status it answered.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedCall {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names are lower case. `authorization` is kept: tests assert on it.
    pub headers: Vec<(String, String)>,
    /// The raw body as text (JSON or form-encoded).
    pub body: String,
    pub status: u16,
    /// When the request arrived (for a call the simulator made, when it was sent).
    pub at: chrono::DateTime<chrono::Utc>,
    /// How long the simulator took to answer, from the request's arrival to its response (for a
    /// call the simulator made, until the answer arrived): what the benchmarks subtract from an
    /// end-to-end time to get the bridge's own share.
    #[serde(with = "duration_micros")]
    pub handled_in: std::time::Duration,
    /// `at` on the monotonic clock: with `handled_in`, the interval the simulator was busy,
    /// which the benchmarks merge with other calls' intervals when the bridge makes calls
    /// concurrently.
    #[serde(skip)]
    pub arrived: std::time::Instant,
}

/// `handled_in` serialized as whole microseconds.
mod duration_micros {
    pub fn serialize<S: serde::Serializer>(
        duration: &std::time::Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u128(duration.as_micros())
    }
}

impl RecordedCall {
    /// The body parsed as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A shared, append-only log of the calls a simulator answered.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<RecordedCall>>>,
}

impl Recorder {
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls.lock().expect("recorder lock").clone()
    }

    /// The calls from the `from`th on (a [`Recorder::len`] taken earlier): only they are
    /// copied, however long the log has grown.
    pub fn calls_since(&self, from: usize) -> Vec<RecordedCall> {
        let calls = self.calls.lock().expect("recorder lock");
        calls.get(from..).unwrap_or_default().to_vec()
    }

    /// Calls whose method matches and whose path starts with `path_prefix`.
    pub fn matching(&self, method: &str, path_prefix: &str) -> Vec<RecordedCall> {
        self.calls()
            .into_iter()
            .filter(|call| {
                call.method.eq_ignore_ascii_case(method) && call.path.starts_with(path_prefix)
            })
            .collect()
    }

    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.matching(method, path_prefix).len()
    }

    pub fn len(&self) -> usize {
        self.calls.lock().expect("recorder lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.calls.lock().expect("recorder lock").clear();
    }

    pub(crate) fn push(&self, call: RecordedCall) {
        self.calls.lock().expect("recorder lock").push(call);
    }
}

/// Largest body a simulator reads; matches what the real services accept, roughly.
const MAX_RECORDED_BODY: usize = 8 * 1024 * 1024;

/// axum middleware that records every request and the status it was answered with.
/// Install with `axum::middleware::from_fn_with_state(recorder, record)`.
pub async fn record(State(recorder): State<Recorder>, request: Request, next: Next) -> Response {
    let at = chrono::Utc::now();
    let arrived = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, MAX_RECORDED_BODY)
        .await
        .unwrap_or_default();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let body_text = String::from_utf8_lossy(&bytes).into_owned();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    recorder.push(RecordedCall {
        method,
        path,
        query,
        headers,
        body: body_text,
        status: response.status().as_u16(),
        at,
        handled_in: arrived.elapsed(),
        arrived,
    });
    response
}
