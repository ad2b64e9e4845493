//! Lambda: what Botpress sends the integration (`POST /botpress`) through API Gateway.

use std::sync::Arc;

use hitl_bridge::{app, http};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    app::init_tracing();
    let bridge = Arc::new(app::aws::build_from_env().await?);
    lambda_http::run(http::botpress_router(bridge)).await
}
