//! AWS clients for moto, the AWS simulator the tests run DynamoDB and Secrets Manager on.
//!
//! moto serves each request on its own thread without locking, so two conditional writes to
//! one item can both pass their condition; real DynamoDB executes each request atomically. The
//! clients built here send one request to moto at a time, which restores exactly that, and
//! only that: a store's calls still interleave request by request (read, then transaction),
//! which is what race tests exercise.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The SDK configuration for the moto server at `endpoint`: dummy credentials, one region,
/// one request at a time over `http` (the bridge's own SDK HTTP client, so the tests run the
/// stores over what the functions use; the sandbox does not depend on the bridge).
pub async fn sdk_config(endpoint: &str, http: SharedHttpClient) -> SdkConfig {
    let http = OneAtATime {
        inner: http,
        turn: Arc::default(),
    };
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .http_client(SharedHttpClient::new(http))
        .load()
        .await
}

#[derive(Debug)]
struct OneAtATime {
    inner: SharedHttpClient,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl HttpClient for OneAtATime {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(OneAtATimeConnector {
            inner: self.inner.http_connector(settings, components),
            turn: Arc::clone(&self.turn),
        })
    }
}

#[derive(Debug)]
struct OneAtATimeConnector {
    inner: SharedHttpConnector,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl HttpConnector for OneAtATimeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, turn) = (self.inner.clone(), Arc::clone(&self.turn));
        HttpConnectorFuture::new(async move {
            let _turn = turn.lock_owned().await;
            // moto has finished the request once the response head arrives.
            inner.call(request).await
        })
    }
}
