//! The AWS SDK's HTTP client: reqwest, over the process's one TLS configuration.
//!
//! Why not the SDK's own client (`aws-smithy-http-client`): its trust store only takes PEM, so
//! the compiled-in roots had to be encoded to PEM and parsed back on every cold start (~1 ms,
//! 8–17 % of a cold start's CPU: docs/PERFORMANCE.md), and it brought a second hyper connector
//! stack into every binary beside reqwest's. The SDK is built to take any [`HttpClient`]; this
//! one hands its requests to reqwest and classifies reqwest's failures the way the SDK's own
//! client classifies hyper's, so the SDK's retries behave the same: timeouts and I/O failures
//! are retried, a request that cannot be built is not.
//!
//! DynamoDB and Secrets Manager requests and answers are small JSON documents held in memory:
//! an answer is read whole before it is handed to the SDK, and a streaming request body (which
//! neither service's operations use) is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use aws_smithy_types::timeout::TimeoutConfig;

/// How long an answer may stop arriving before the call fails as a timeout (which the SDK
/// retries): the grace period of the SDK's stalled-stream protection, which cannot watch an
/// answer this client reads whole before handing it over.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK's configuration loader with this client and its timeouts: what the functions and
/// the operator's CLI start from. The SDK's default connect timeout (3.1 s) stays, and a read
/// timeout takes the place of stalled-stream protection, so a DynamoDB or Secrets Manager
/// answer that stalls half-way is retried instead of holding the invocation until Lambda's
/// timeout.
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(sdk_http_client())
        .timeout_config(TimeoutConfig::builder().read_timeout(READ_TIMEOUT).build())
}

/// The HTTP client to give the AWS SDK (`aws_config::ConfigLoader::http_client`): in
/// [`sdk_config_loader`], and on its own for the tests' moto configuration.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestForSdk::default())
}

/// One reqwest client per distinct timeout settings the SDK asks for (in practice one per
/// process: every client of a process shares the SDK configuration's timeouts), so every
/// DynamoDB and Secrets Manager call of a process shares one connection pool.
#[derive(Debug, Default)]
struct ReqwestForSdk {
    clients: Mutex<HashMap<TimeoutKey, reqwest::Client>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TimeoutKey {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl HttpClient for ReqwestForSdk {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = TimeoutKey {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        };
        let mut clients = self
            .clients
            .lock()
            .expect("the client cache is never poisoned");
        let client = clients
            .entry(key)
            .or_insert_with(|| build_client(key))
            .clone();
        SharedHttpConnector::new(ReqwestConnector { client })
    }
}

fn build_client(timeouts: TimeoutKey) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .pool_idle_timeout(super::http_client::POOL_IDLE_TIMEOUT)
        .tls_backend_preconfigured(super::tls::rustls_client_config());
    if let Some(connect) = timeouts.connect {
        builder = builder.connect_timeout(connect);
    }
    if let Some(read) = timeouts.read {
        builder = builder.read_timeout(read);
    }
    builder
        .build()
        .expect("the SDK's HTTP client settings are valid")
}

#[derive(Debug)]
struct ReqwestConnector {
    client: reqwest::Client,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = to_reqwest(request)?;
            let response = client.execute(request).await.map_err(classify)?;
            from_reqwest(response).await
        })
    }
}

/// The SDK's request as reqwest's: method, URI and headers as they are (the SDK has signed
/// them), the body copied from memory.
fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|error| ConnectorError::user(error.into()))?;
    let (parts, body) = request.into_parts();
    let Some(bytes) = body.bytes() else {
        return Err(ConnectorError::user(
            "a streaming request body: DynamoDB and Secrets Manager requests are sent from memory"
                .into(),
        ));
    };
    let body = reqwest::Body::from(bytes::Bytes::copy_from_slice(bytes));
    reqwest::Request::try_from(http::Request::from_parts(parts, body))
        .map_err(|error| ConnectorError::user(error.into()))
}

/// reqwest's answer as the SDK's, read whole (a failure while reading it is a transport
/// failure, retried like one).
async fn from_reqwest(mut response: reqwest::Response) -> Result<HttpResponse, ConnectorError> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let body = response.bytes().await.map_err(classify)?;
    let mut answer = http::Response::new(SdkBody::from(body));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    HttpResponse::try_from(answer).map_err(|error| ConnectorError::other(error.into(), None))
}

/// The SDK's kind of connector failure for a reqwest error, as the SDK's hyper client
/// classifies hyper's: what decides whether the SDK retries.
fn classify(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_builder() {
        ConnectorError::user(error.into())
    } else if error.is_connect() || has_io_source(&error) {
        ConnectorError::io(error.into())
    } else if error.is_request() || error.is_body() {
        // The connection failed mid-exchange (closed, or an incomplete answer): transient.
        ConnectorError::other(error.into(), Some(ErrorKind::TransientError))
    } else {
        ConnectorError::other(error.into(), None)
    }
}

fn has_io_source(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn connector(settings: HttpConnectorSettings) -> SharedHttpConnector {
        let components = RuntimeComponentsBuilder::for_tests().build().unwrap();
        sdk_http_client().http_connector(&settings, &components)
    }

    fn request(uri: &str, body: &'static str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body));
        request.set_uri(uri).unwrap();
        request.set_method("POST").unwrap();
        request
            .headers_mut()
            .insert("x-amz-target", "DynamoDB_20120810.GetItem");
        request
    }

    /// A server that answers one request with `answer` (raw HTTP/1.1) and hands back what it
    /// received.
    async fn one_shot_server(
        answer: &'static str,
    ) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                let read = socket.read(&mut buffer).await.unwrap();
                seen.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&seen);
                if let Some(end) = text.find("\r\n\r\n")
                    && text[end + 4..].len() >= content_length(&text)
                {
                    break;
                }
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
            String::from_utf8(seen).unwrap()
        });
        (address, received)
    }

    fn content_length(head: &str) -> usize {
        head.lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_owned)
            })
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn sends_the_signed_request_as_it_is_and_hands_back_status_headers_and_body() {
        let (address, received) = one_shot_server(
            "HTTP/1.1 400 Bad Request\r\nx-amzn-requestid: R1\r\ncontent-length: 15\r\n\r\n{\"__type\":\"x\"}\n",
        )
        .await;
        let answer = connector(HttpConnectorSettings::builder().build())
            .call(request(
                &format!("http://{address}/"),
                "{\"TableName\":\"t\"}",
            ))
            .await
            .unwrap();

        assert_eq!(answer.status().as_u16(), 400);
        assert_eq!(answer.headers().get("x-amzn-requestid"), Some("R1"));
        assert_eq!(answer.body().bytes(), Some(&b"{\"__type\":\"x\"}\n"[..]));
        let seen = received.await.unwrap();
        assert!(seen.starts_with("POST / HTTP/1.1\r\n"), "{seen}");
        assert!(
            seen.contains("x-amz-target: DynamoDB_20120810.GetItem\r\n"),
            "{seen}"
        );
        assert!(seen.ends_with("{\"TableName\":\"t\"}"), "{seen}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_failure_the_sdk_retries() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = connector(HttpConnectorSettings::builder().build())
            .call(request(&format!("http://{address}/"), "{}"))
            .await
            .unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }

    /// A server that reads a request, writes `written` (nothing, or the start of an answer)
    /// and then goes silent with the connection open.
    async fn stalling_server(written: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await.unwrap();
            socket.write_all(written).await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });
        address
    }

    /// A call to `address` with a 100 ms read timeout, which must fail.
    async fn failure_with_a_short_read_timeout(address: SocketAddr) -> ConnectorError {
        let settings = HttpConnectorSettings::builder()
            .read_timeout(Duration::from_millis(100))
            .build();
        connector(settings)
            .call(request(&format!("http://{address}/"), "{}"))
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_in_the_read_timeout_is_a_timeout() {
        let address = stalling_server(b"").await;
        let error = failure_with_a_short_read_timeout(address).await;
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn an_answer_that_stalls_half_way_is_a_timeout() {
        let address =
            stalling_server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"Item\":").await;
        let error = failure_with_a_short_read_timeout(address).await;
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_a_transient_failure() {
        let (address, _received) = one_shot_server("").await;
        let error = connector(HttpConnectorSettings::builder().build())
            .call(request(&format!("http://{address}/"), "{}"))
            .await
            .unwrap_err();
        assert!(
            error.is_io() || error.as_other() == Some(ErrorKind::TransientError),
            "{error:?}"
        );
    }

    #[test]
    fn clients_with_the_same_timeouts_share_one_reqwest_client() {
        let client = ReqwestForSdk::default();
        let components = RuntimeComponentsBuilder::for_tests().build().unwrap();
        let settings = HttpConnectorSettings::builder().build();
        client.http_connector(&settings, &components);
        client.http_connector(&settings, &components);
        let other = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(1))
            .build();
        client.http_connector(&other, &components);
        assert_eq!(client.clients.lock().unwrap().len(), 2);
    }
}
