//! The front every validated call passes through twice: from the bridge (routed by path prefix to
//! the Prism of the document that covers it) and from Prism (carrying [`ROUTE_HEADER`], sent on to
//! the stack's simulator).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::prism::{self, Prism};
use super::{ContractCheck, Document, ROUTE_HEADER, SessionEntry, Violation};

const MAX_BODY: usize = 32 * 1024 * 1024;

pub(crate) struct Shared {
    front: SocketAddr,
    prisms: HashMap<Document, Prism>,
    sessions: Mutex<HashMap<u64, Arc<SessionEntry>>>,
    http: reqwest::Client,
}

impl Shared {
    /// Starts the front (on a runtime of its own, so it outlives any test's runtime) and the
    /// Prism proxies, and waits until all listen.
    pub(crate) fn start(check: &ContractCheck) -> io::Result<Arc<Shared>> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let front = listener.local_addr()?;
        let work = super::work_dir::for_this_process()?;
        let upstream = format!("http://{front}");
        let mut prisms = HashMap::new();
        for document in Document::ALL {
            let spec = prism::prepare_document(document, &check.specs, &work)?;
            let log = work.join(format!("prism-{document:?}.log"));
            prisms.insert(document, prism::spawn(&check.prism, &spec, &upstream, log)?);
        }
        for prism in prisms.values_mut() {
            prism.wait_ready()?;
        }
        let shared = Arc::new(Shared {
            front,
            prisms,
            sessions: Mutex::new(HashMap::new()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(io::Error::other)?,
        });
        let serving = Arc::clone(&shared);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("contract-front")
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("contract-front".to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("a non-blocking std listener");
                    let app = axum::Router::new().fallback(handle).with_state(serving);
                    if let Err(error) = axum::serve(listener, app).await {
                        tracing::error!(%error, "the contract front stopped");
                    }
                })
            })?;
        Ok(shared)
    }

    pub(crate) fn front_url(&self) -> String {
        format!("http://{}", self.front)
    }

    pub(crate) fn register(&self, id: u64, entry: Arc<SessionEntry>) {
        self.sessions().insert(id, entry);
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.sessions().remove(&id);
    }

    fn session(&self, id: u64) -> Option<Arc<SessionEntry>> {
        self.sessions().get(&id).cloned()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<SessionEntry>>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    HubSpot,
    Botpress,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::HubSpot => "hubspot",
            Service::Botpress => "botpress",
        }
    }

    fn parse(name: &str) -> Option<Service> {
        match name {
            "hubspot" => Some(Service::HubSpot),
            "botpress" => Some(Service::Botpress),
            _ => None,
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(error) => return failure(StatusCode::BAD_REQUEST, &format!("body: {error}")),
    };
    let query = parts
        .uri
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    if let Some(route) = parts.headers.get(ROUTE_HEADER) {
        return to_simulator(&shared, route, &parts, &query, body).await;
    }
    // From the bridge: /s{session}/{service}{path}.
    let Some((id, service, path)) = split_path(parts.uri.path()) else {
        return failure(
            StatusCode::NOT_FOUND,
            "not a contract-check path (/s{session}/{hubspot|botpress}/...)",
        );
    };
    let Some(session) = shared.session(id) else {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "this stack's contract session has ended",
        );
    };
    let call = format!("{} {path}", parts.method);
    let document = match service {
        Service::Botpress => Some(Document::Botpress),
        Service::HubSpot => Document::for_hubspot_path(&path),
    };
    let Some(document) = document else {
        // No official document covers the call: a violation; the simulator still answers so
        // the flow goes on and every other call is checked too.
        let upstream = match service {
            Service::HubSpot => &session.hubspot_upstream,
            Service::Botpress => &session.botpress_upstream,
        };
        let answer = forward(
            &shared.http,
            &parts,
            &format!("{upstream}{path}{query}"),
            body,
            None,
        )
        .await;
        let status = answer.status().as_u16();
        lock(&session).record(
            "uncovered",
            vec![Violation {
                api: "uncovered",
                call,
                status,
                location: "request".to_string(),
                severity: "Error".to_string(),
                message: "no official document the check loads covers this path".to_string(),
            }],
        );
        return answer;
    };
    let prism = &shared.prisms[&document];
    let route = format!("{id}/{}", service.name());
    let mut answer = forward(
        &shared.http,
        &parts,
        &format!("http://127.0.0.1:{}{path}{query}", prism.port()),
        body,
        Some(&route),
    )
    .await;
    let status = answer.status().as_u16();
    let violations = answer
        .headers_mut()
        .remove("sl-violations")
        .map(|header| parse_violations(document.api(), &call, status, &header))
        .unwrap_or_default();
    lock(&session).record(document.api(), violations);
    answer
}

/// A call Prism passes on: to the simulator of the session it names.
async fn to_simulator(
    shared: &Shared,
    route: &HeaderValue,
    parts: &axum::http::request::Parts,
    query: &str,
    body: Bytes,
) -> Response {
    let route = route.to_str().unwrap_or_default();
    let parsed = route
        .split_once('/')
        .and_then(|(id, service)| Some((id.parse::<u64>().ok()?, Service::parse(service)?)));
    let Some((id, service)) = parsed else {
        return failure(StatusCode::BAD_REQUEST, &format!("bad {ROUTE_HEADER}"));
    };
    let Some(session) = shared.session(id) else {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "this stack's contract session has ended",
        );
    };
    let upstream = match service {
        Service::HubSpot => &session.hubspot_upstream,
        Service::Botpress => &session.botpress_upstream,
    };
    let url = format!("{upstream}{}{query}", parts.uri.path());
    forward(&shared.http, parts, &url, body, None).await
}

fn split_path(path: &str) -> Option<(u64, Service, String)> {
    let rest = path.strip_prefix("/s")?;
    let (id, rest) = rest.split_once('/')?;
    let id = id.parse().ok()?;
    let (service, rest) = match rest.split_once('/') {
        Some((service, rest)) => (service, format!("/{rest}")),
        None => (rest, "/".to_string()),
    };
    Some((id, Service::parse(service)?, rest))
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "content-length"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-authenticate"
    )
}

async fn forward(
    http: &reqwest::Client,
    parts: &axum::http::request::Parts,
    url: &str,
    body: Bytes,
    route: Option<&str>,
) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !hop_by_hop(name.as_str()) && name.as_str() != ROUTE_HEADER {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(route) = route {
        headers.insert(
            ROUTE_HEADER,
            HeaderValue::from_str(route).expect("a route is ASCII"),
        );
    }
    let sent = http
        .request(parts.method.clone(), url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            return failure(
                StatusCode::BAD_GATEWAY,
                &format!("the contract front could not reach {url}: {error}"),
            );
        }
    };
    let status = response.status();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if !hop_by_hop(name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => {
            return failure(
                StatusCode::BAD_GATEWAY,
                &format!("the answer from {url} broke off: {error}"),
            );
        }
    };
    let mut answer = Response::new(Body::from(body));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    answer
}

/// Prism's `sl-violations` header: a JSON array of `{location: [..], severity, code, message}`.
pub(crate) fn parse_violations(
    api: &'static str,
    call: &str,
    status: u16,
    header: &HeaderValue,
) -> Vec<Violation> {
    let text = String::from_utf8_lossy(header.as_bytes());
    let Ok(Value::Array(entries)) = serde_json::from_str::<Value>(&text) else {
        return vec![Violation {
            api,
            call: call.to_string(),
            status,
            location: "sl-violations".to_string(),
            severity: "Error".to_string(),
            message: format!("unreadable sl-violations header: {text}"),
        }];
    };
    entries
        .iter()
        .map(|entry| Violation {
            api,
            call: call.to_string(),
            status,
            location: entry["location"]
                .as_array()
                .map(|parts| {
                    parts
                        .iter()
                        .map(|part| match part {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .unwrap_or_default(),
            severity: entry["severity"].as_str().unwrap_or("Error").to_string(),
            message: entry["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| entry.to_string()),
        })
        .collect()
}

fn lock(session: &SessionEntry) -> std::sync::MutexGuard<'_, super::SessionState> {
    session
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn failure(status: StatusCode, message: &str) -> Response {
    (status, message.to_string()).into_response()
}
