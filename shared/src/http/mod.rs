//! The axum routers: the same ones run on Lambda (`lambda_http::run`), in the local server
//! (`axum::serve`) and in tests.

mod botpress_call;
mod botpress_protocol;
mod botpress_route;
mod error_response;
mod hubspot_events;
mod hubspot_route;

/// The pure parsers, public for the fuzz targets and benchmarks.
pub mod parsing {
    pub use super::botpress_call::{BotpressCall, read_call as read_botpress_call};
    pub use super::botpress_protocol::authenticate as authenticate_botpress;
    pub use super::hubspot_events::{
        Delivery as HubSpotDelivery, read_delivery as read_hubspot_delivery,
    };
}

#[cfg(test)]
pub(crate) use botpress_route::BOTPRESS_BUDGET;
#[cfg(test)]
pub(crate) use hubspot_route::WEBHOOK_BUDGET;

use std::sync::Arc;
use std::time::Duration;

use axum::{Router, extract::DefaultBodyLimit, routing::get, routing::post};

use crate::app::Bridge;
use crate::config::{BOTPRESS_PATH, HUBSPOT_WEBHOOK_PATH};

/// HubSpot batches at most 100 small events; anything near this is not HubSpot.
const HUBSPOT_BODY_LIMIT: usize = 1024 * 1024;
/// Botpress sends whole message histories with `startHitl`.
const BOTPRESS_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// `POST /hubspot/webhook` and `GET /healthz`: the `hubspot-webhook` function.
pub fn hubspot_router(bridge: Arc<Bridge>) -> Router {
    let base_url = bridge.public_base_url.clone();
    also_under_base_path(
        Router::new()
            .route(
                HUBSPOT_WEBHOOK_PATH,
                post(hubspot_route::receive).layer(DefaultBodyLimit::max(HUBSPOT_BODY_LIMIT)),
            )
            .route("/healthz", get(healthz))
            .with_state(bridge),
        &base_url,
    )
}

/// `POST /botpress` and `GET /healthz`: the `botpress-outbound` function.
pub fn botpress_router(bridge: Arc<Bridge>) -> Router {
    let base_url = bridge.public_base_url.clone();
    also_under_base_path(
        Router::new()
            .route(
                BOTPRESS_PATH,
                post(botpress_route::receive).layer(DefaultBodyLimit::max(BOTPRESS_BODY_LIMIT)),
            )
            .route("/healthz", get(healthz))
            .with_state(bridge),
        &base_url,
    )
}

/// The path of `PUBLIC_BASE_URL` (`/hitl` in `https://api.example.com/hitl`), if it has one.
pub(crate) fn base_path(public_base_url: &str) -> Option<&str> {
    let after_scheme = public_base_url
        .split_once("://")
        .map_or(public_base_url, |(_, rest)| rest);
    let path = &after_scheme[after_scheme.find('/')?..];
    let path = path.trim_end_matches('/');
    (!path.is_empty()).then_some(path)
}

/// `routes` at the root and, when `PUBLIC_BASE_URL` has a path, under it as well: behind a
/// custom domain whose API mapping has a key, API Gateway's HTTP API hands Lambda the path
/// with the key still in it, while a proxy that strips it hands over the bare route.
fn also_under_base_path(routes: Router, public_base_url: &str) -> Router {
    match base_path(public_base_url) {
        Some(base_path) => Router::new().nest(base_path, routes.clone()).merge(routes),
        None => routes,
    }
}

/// Every route: the local server. Each request ends at its function's Lambda timeout
/// (`template.yaml`), as on Lambda, where the process is stopped then: the idempotency lease
/// ([`crate::relay`]'s `claim_lease`) is sized on that end, and a request that ran on past it
/// could work beside the sender's retry, which has taken the key over.
pub fn router(bridge: Arc<Bridge>) -> Router {
    let base_url = bridge.public_base_url.clone();
    let botpress = Router::new()
        .route(
            BOTPRESS_PATH,
            post(botpress_route::receive).layer(DefaultBodyLimit::max(BOTPRESS_BODY_LIMIT)),
        )
        .with_state(bridge.clone());
    with_deadline(hubspot_router(bridge), WEBHOOK_DEADLINE).merge(with_deadline(
        also_under_base_path(botpress, &base_url),
        BOTPRESS_DEADLINE,
    ))
}

/// The Lambda timeouts of `hubspot-webhook` and `botpress-outbound` in `template.yaml`.
pub(crate) const WEBHOOK_DEADLINE: Duration = Duration::from_secs(6);
pub(crate) const BOTPRESS_DEADLINE: Duration = Duration::from_secs(25);

/// Stops a request at `deadline` with a 503 (the sender retries), dropping its work where it
/// stands, as Lambda's timeout does.
fn with_deadline(router: Router, deadline: Duration) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(deadline, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!(
                        deadline_s = deadline.as_secs(),
                        "request stopped at its deadline; left for the sender's retry"
                    );
                    error_response::error_response(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "the request ran past its {} s deadline; retry it",
                            deadline.as_secs()
                        ),
                    )
                }
            }
        },
    ))
}

async fn healthz() -> &'static str {
    "ok"
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    /// A request that outruns its deadline is answered 503 and its work goes no further, as
    /// when Lambda stops a function at its timeout.
    #[tokio::test]
    async fn a_request_past_its_deadline_is_stopped_and_left_for_a_retry() {
        static FINISHED: AtomicBool = AtomicBool::new(false);
        let slow = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                FINISHED.store(true, Ordering::SeqCst);
                "done"
            }),
        );
        let response = with_deadline(slow, Duration::from_millis(50))
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!FINISHED.load(Ordering::SeqCst), "the work was dropped");
    }

    #[test]
    fn the_base_path_is_what_follows_the_host() {
        assert_eq!(base_path("https://api.example.com/hitl"), Some("/hitl"));
        assert_eq!(base_path("https://api.example.com/a/b/"), Some("/a/b"));
        assert_eq!(base_path("https://api.example.com"), None);
        assert_eq!(base_path("http://127.0.0.1:8080/"), None);
    }

    /// Behind an API mapping key the route arrives with the key in front; without one, bare.
    #[tokio::test]
    async fn routes_answer_at_the_root_and_under_the_base_path() {
        let routes = Router::new().route("/healthz", get(healthz));
        let router = also_under_base_path(routes, "https://api.example.com/hitl");
        for path in ["/healthz", "/hitl/healthz"] {
            let response = router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }
}
