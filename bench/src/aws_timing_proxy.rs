//! A timing proxy in front of moto: the functions reach DynamoDB and Secrets Manager through it,
//! so the benchmark knows how long each AWS call spent in moto and can leave that time out of
//! the bridge's own share, as the HubSpot and Botpress simulators' recorders do for theirs.
//!
//! A proxy must not pass on hop-by-hop headers (RFC 9110 §7.6.1). moto's server answers every
//! request with `Connection: close`; passed through, it made the functions open a new
//! connection for every DynamoDB call, which real DynamoDB (keep-alive) never makes them do,
//! and which cost more than the call's own work. The proxy ↔ moto leg still closes, and is
//! counted as moto's time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderName, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::stats::median;

#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    handled: Arc<Mutex<Vec<Busy>>>,
}

/// One call moto answered: which operation, when it reached the proxy, and how long until its
/// answer was back.
#[derive(Clone, Debug)]
pub struct Busy {
    /// The `X-Amz-Target` operation, e.g. `DynamoDB_20120810.GetItem` (empty if none was sent).
    pub operation: String,
    pub arrived: Instant,
    pub took: Duration,
}

/// The proxy's address and what it has timed so far.
pub struct AwsTimingProxy {
    url: String,
    handled: Arc<Mutex<Vec<Busy>>>,
}

impl AwsTimingProxy {
    /// Serves on a free loopback port, forwarding everything to `moto`.
    pub async fn start(moto: &str) -> anyhow::Result<Self> {
        let handled: Arc<Mutex<Vec<Busy>>> = Arc::default();
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

    /// How many calls moto has answered so far.
    pub fn handled_count(&self) -> usize {
        self.handled.lock().expect("proxy lock").len()
    }

    /// The calls moto answered from the `from`th on (a [`AwsTimingProxy::handled_count`] taken
    /// earlier), in the order they finished: only they are copied.
    pub fn handled_since(&self, from: usize) -> Vec<Busy> {
        let handled = self.handled.lock().expect("proxy lock");
        handled.get(from..).unwrap_or_default().to_vec()
    }
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .unwrap_or_default()
        .to_string();
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
    upstream.handled.lock().expect("proxy lock").push(Busy {
        operation,
        arrived,
        took: arrived.elapsed(),
    });
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != header::CONTENT_LENGTH && !is_hop_by_hop(name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// The calls moto answered alone, with no other call in flight: their times are its unloaded
/// time per call. Calls made at once (a claim beside a read) share one Python process and each
/// takes longer; they say nothing about a call's own cost.
pub fn answered_alone(calls: &[Busy]) -> Vec<&Busy> {
    let mut calls: Vec<&Busy> = calls.iter().collect();
    calls.sort_by_key(|call| call.arrived);
    let mut alone = Vec::new();
    let mut earlier_until: Option<Instant> = None;
    for (index, call) in calls.iter().enumerate() {
        let until = call.arrived + call.took;
        let after_earlier = earlier_until.is_none_or(|end| end <= call.arrived);
        let before_next = calls
            .get(index + 1)
            .is_none_or(|next| next.arrived >= until);
        if after_earlier && before_next {
            alone.push(*call);
        }
        earlier_until = Some(earlier_until.map_or(until, |end| end.max(until)));
    }
    alone
}

/// moto's unloaded time for each operation: the median over the calls of that operation it
/// answered alone.
pub fn unloaded_by_operation(calls: &[Busy]) -> BTreeMap<&str, Duration> {
    let mut by_operation: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for call in answered_alone(calls) {
        by_operation
            .entry(call.operation.as_str())
            .or_default()
            .push(call.took);
    }
    by_operation
        .into_iter()
        .map(|(operation, took)| (operation, median(&took)))
        .collect()
}

/// How long moto would take for `calls` answered one after another, each at its operation's
/// unloaded time; `None` when an operation among them was never answered alone.
pub fn unloaded_serial(calls: &[Busy], unloaded: &BTreeMap<&str, Duration>) -> Option<Duration> {
    calls
        .iter()
        .map(|call| unloaded.get(call.operation.as_str()).copied())
        .sum()
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

    #[test]
    fn only_calls_with_nothing_else_in_flight_count_as_unloaded() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let busy = |at: u64, took: u64| Busy {
            operation: String::new(),
            arrived: t0 + ms(at),
            took: ms(took),
        };
        // 0–3 alone; 10–16 and 12–14 at once; 20–22 alone, right after nothing; 22–25 alone.
        let calls = [
            busy(12, 2),
            busy(0, 3),
            busy(20, 2),
            busy(10, 6),
            busy(22, 3),
        ];
        let took: Vec<Duration> = answered_alone(&calls).iter().map(|c| c.took).collect();
        assert_eq!(took, vec![ms(3), ms(2), ms(3)]);
        assert!(answered_alone(&[]).is_empty());
    }

    #[test]
    fn unloaded_times_are_per_operation_and_price_a_batch_of_calls() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let call = |operation: &str, at: u64, took: u64| Busy {
            operation: operation.to_string(),
            arrived: t0 + ms(at),
            took: ms(took),
        };
        // Alone: Get 2, Get 4, Get 3, Update 6; the two at 30–40 overlap and do not count.
        let calibration = [
            call("Get", 0, 2),
            call("Get", 5, 4),
            call("Update", 10, 6),
            call("Get", 20, 3),
            call("Update", 30, 10),
            call("Get", 32, 1),
        ];
        let unloaded = unloaded_by_operation(&calibration);
        assert_eq!(unloaded.get("Get"), Some(&ms(3)));
        assert_eq!(unloaded.get("Update"), Some(&ms(6)));

        let batch = [
            call("Get", 0, 50),
            call("Update", 0, 50),
            call("Get", 1, 50),
        ];
        assert_eq!(unloaded_serial(&batch, &unloaded), Some(ms(12)));
        assert_eq!(unloaded_serial(&[call("Put", 0, 1)], &unloaded), None);
    }
}
