use std::time::Duration;

/// How long an idle connection is kept, for every client of the process (HubSpot, Botpress,
/// the AWS SDK's): under the idle timeouts of the services' load balancers, so a warm
/// invocation does not reuse a connection the other side has already dropped.
pub(crate) const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// The longest one HubSpot or Botpress call may take, connection included.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The one HTTP client a process uses for HubSpot and Botpress: built once so warm Lambda
/// invocations reuse its connections. Timeouts are bounded because HubSpot gives our webhook
/// 5 seconds in all.
pub fn build_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(CALL_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .user_agent(concat!("hitl-bridge/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(super::tls::rustls_client_config())
        .build()
        .expect("the HTTP client's settings are valid")
}

/// Reads a response: its JSON on success, an [`UpstreamError`](crate::ports::UpstreamError)
/// with the service's own message otherwise.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    service: crate::ports::Service,
    operation: &'static str,
    response: reqwest::Response,
) -> Result<T, crate::ports::UpstreamError> {
    use crate::ports::UpstreamError;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|error| UpstreamError::transport(service, operation, &error))?;
    if !status.is_success() {
        return Err(UpstreamError::from_status(
            service,
            operation,
            status.as_u16(),
            &body,
        ));
    }
    serde_json::from_str(&body).map_err(|error| {
        UpstreamError::unexpected(service, operation, format!("unexpected answer: {error}"))
    })
}

/// `base` + the API's `path`, then `ids`, each one whole path segment, percent-encoded (an
/// email address may hold a `/`, which must not become a separator).
pub(crate) fn api_url(base: &reqwest::Url, path: &str, ids: &[&str]) -> reqwest::Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .expect("an http(s) base URL has path segments")
        .pop_if_empty()
        .extend(path.split('/').filter(|s| !s.is_empty()))
        .extend(ids);
    url
}
