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

use axum::{Router, extract::DefaultBodyLimit, routing::get, routing::post};

use crate::app::Bridge;
use crate::config::{BOTPRESS_PATH, HUBSPOT_WEBHOOK_PATH};

/// HubSpot batches at most 100 small events; anything near this is not HubSpot.
const HUBSPOT_BODY_LIMIT: usize = 1024 * 1024;
/// Botpress sends whole message histories with `startHitl`.
const BOTPRESS_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// `POST /hubspot/webhook` and `GET /healthz`: the `hubspot-webhook` function.
pub fn hubspot_router(bridge: Arc<Bridge>) -> Router {
    Router::new()
        .route(
            HUBSPOT_WEBHOOK_PATH,
            post(hubspot_route::receive).layer(DefaultBodyLimit::max(HUBSPOT_BODY_LIMIT)),
        )
        .route("/healthz", get(healthz))
        .with_state(bridge)
}

/// `POST /botpress` and `GET /healthz`: the `botpress-outbound` function.
pub fn botpress_router(bridge: Arc<Bridge>) -> Router {
    Router::new()
        .route(
            BOTPRESS_PATH,
            post(botpress_route::receive).layer(DefaultBodyLimit::max(BOTPRESS_BODY_LIMIT)),
        )
        .route("/healthz", get(healthz))
        .with_state(bridge)
}

/// Every route: the local server.
pub fn router(bridge: Arc<Bridge>) -> Router {
    hubspot_router(Arc::clone(&bridge)).merge(
        Router::new()
            .route(
                BOTPRESS_PATH,
                post(botpress_route::receive).layer(DefaultBodyLimit::max(BOTPRESS_BODY_LIMIT)),
            )
            .with_state(bridge),
    )
}

async fn healthz() -> &'static str {
    "ok"
}
