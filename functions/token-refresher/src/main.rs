//! Lambda: the scheduled HubSpot OAuth refresh, so request handlers rarely wait for one, and
//! the closes of threads a `stopHitl` left for later and the message statuses HubSpot failed to
//! take (`Bridge::run_schedule`).
//! A failure says in its error type whether a retry can help: `RefreshTokenRejected` needs a
//! person (reinstall the app), `RefreshFailedRetryable` passes by itself.

use std::sync::Arc;

use hitl_bridge::app;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    app::init_tracing();
    let bridge = Arc::new(app::aws::build_from_env().await?);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let bridge = Arc::clone(&bridge);
        async move {
            bridge.run_schedule().await.map_err(|error| {
                tracing::error!(%error, retryable = error.retryable(), "token refresh failed");
                Diagnostic {
                    error_type: if error.retryable() {
                        "RefreshFailedRetryable"
                    } else {
                        "RefreshTokenRejected"
                    }
                    .to_string(),
                    error_message: error.to_string(),
                }
            })?;
            Ok::<_, Diagnostic>("refreshed")
        }
    }))
    .await
}
