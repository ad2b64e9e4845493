//! A timing proxy in front of moto: the functions reach DynamoDB and Secrets Manager through it,
//! so the benchmark knows how long each AWS call spent in moto and can leave that time out of
//! the bridge's own share, as the HubSpot and Botpress simulators' recorders do for theirs.
//!
//! A proxy must not pass on hop-by-hop headers (RFC 9110 §7.6.1). moto's server answers every
//! request with `Connection: close`; passed through, it made the functions open a new
//! connection for every DynamoDB call, which real DynamoDB (keep-alive) never makes them do,
//! and which cost more than the call's own work. The proxy ↔ moto leg still closes, and is
//! counted as moto's time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderName, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    handled: Arc<Mutex<Vec<Duration>>>,
}

/// The proxy's address and what it has timed so far.
pub struct AwsTimingProxy {
    url: String,
    handled: Arc<Mutex<Vec<Duration>>>,
}

impl AwsTimingProxy {
    /// Serves on a free loopback port, forwarding everything to `moto`.
    pub async fn start(moto: &str) -> anyhow::Result<Self> {
        let handled: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let upstream = Upstream {
            base: moto.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            handled: Arc::clone(&handled),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = Router::new().fallback(forward).with_state(upstream);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, handled })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How long each call took in moto, in arrival order.
    pub fn handled(&self) -> Vec<Duration> {
        self.handled.lock().expect("proxy lock").clone()
    }
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = upstream
        .client
        .request(parts.method, format!("{}{path}", upstream.base))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH && !is_hop_by_hop(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    upstream
        .handled
        .lock()
        .expect("proxy lock")
        .push(arrived.elapsed());
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != header::CONTENT_LENGTH && !is_hop_by_hop(name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// The headers that describe one connection, not the message (RFC 9110 §7.6.1).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_headers_stay_on_their_hop() {
        assert!(is_hop_by_hop(&header::CONNECTION));
        assert!(is_hop_by_hop(&HeaderName::from_static("keep-alive")));
        assert!(!is_hop_by_hop(&header::CONTENT_TYPE));
        assert!(!is_hop_by_hop(&HeaderName::from_static("x-amzn-requestid")));
    }
}
