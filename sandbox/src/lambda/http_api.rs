//! An API Gateway HTTP API in front of Lambda functions: turns each HTTP request into a
//! payload-format 2.0 event, invokes the route's function, and turns its answer back into an
//! HTTP response, as API Gateway does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::{Value, json};

use super::{InvokeOutcome, LambdaFunction};

/// `POST /botpress` → a function.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Arc<LambdaFunction>,
}

/// API Gateway's payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

struct Gateway {
    routes: Vec<Route>,
    domain: String,
}

pub struct HttpApiGateway {
    base_url: String,
}

impl HttpApiGateway {
    /// Serves `routes` on `listener` (bound by the caller, so the URL can be known before the
    /// functions start: they need it as their public base URL).
    pub fn serve(listener: tokio::net::TcpListener, routes: Vec<Route>) -> std::io::Result<Self> {
        let address: SocketAddr = listener.local_addr()?;
        let gateway = Arc::new(Gateway {
            routes,
            domain: address.to_string(),
        });
        let app = Router::new().fallback(handle).with_state(gateway);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base_url: format!("http://{address}"),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

async fn handle(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(route) = gateway
        .routes
        .iter()
        .find(|route| route.method == parts.method.as_str() && route.path == parts.uri.path())
    else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": "Not Found" })),
        )
            .into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({ "message": "Request Entity Too Large" })),
        )
            .into_response();
    };
    let route_key = format!("{} {}", route.method, route.path);
    let event = event_v2(&gateway.domain, &route_key, &parts, &body);
    match route.function.invoke(event.to_string().as_bytes()).await {
        Ok(InvokeOutcome::Response(payload)) => response_v2(&payload),
        Ok(InvokeOutcome::Error { .. }) | Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "message": "Internal Server Error" })),
        )
            .into_response(),
    }
}

/// The HTTP API payload format 2.0 event for a request.
fn event_v2(
    domain: &str,
    route_key: &str,
    parts: &axum::http::request::Parts,
    body: &Bytes,
) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    let (body_text, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (BASE64.encode(body), true),
    };
    let now = chrono::Utc::now();
    let raw_query = parts.uri.query().unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "sandbox",
            "domainName": domain,
            "domainPrefix": "sandbox",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": is_base64,
    });
    if !body.is_empty() {
        event["body"] = json!(body_text);
    }
    if !raw_query.is_empty() {
        let parameters: BTreeMap<String, String> =
            serde_urlencoded::from_str(raw_query).unwrap_or_default();
        event["queryStringParameters"] = json!(parameters);
    }
    event
}

/// The HTTP response for a function's payload-2.0 answer.
fn response_v2(payload: &[u8]) -> Response {
    let Ok(answer) = serde_json::from_slice::<Value>(payload) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the function's answer is not JSON",
        )
            .into_response();
    };
    let status = answer["statusCode"]
        .as_u64()
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let text = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"].as_bool().unwrap_or(false) {
        BASE64.decode(text).unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(headers) = answer["headers"].as_object() {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::try_from(name.as_str()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::http::Request as HttpRequest;
    use lambda_http::RequestExt;

    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> axum::http::request::Parts {
        let mut builder = HttpRequest::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn lambda_http_reads_our_events_back_into_the_same_request() {
        let parts = parts(
            "POST",
            "/hubspot/webhook?portal=1&x=a%3Ab",
            &[
                ("content-type", "application/json"),
                ("x-hubspot-signature-v3", "abc="),
                ("x-multi", "1"),
                ("x-multi", "2"),
            ],
        );
        let event = event_v2(
            "127.0.0.1:9999",
            "POST /hubspot/webhook",
            &parts,
            &Bytes::from_static(b"[{\"eventId\":1}]"),
        );
        let request =
            lambda_http::request::from_str(&event.to_string()).expect("a valid HTTP API v2 event");
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), "/hubspot/webhook");
        assert_eq!(request.uri().query(), Some("portal=1&x=a%3Ab"));
        assert_eq!(request.headers()["x-hubspot-signature-v3"], "abc=");
        assert_eq!(request.query_string_parameters().first("portal"), Some("1"));
        match request.body() {
            lambda_http::Body::Text(text) => assert_eq!(text, "[{\"eventId\":1}]"),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn function_answers_become_http_responses() {
        let payload = br#"{"statusCode":401,"headers":{"content-type":"application/json"},"body":"{\"message\":\"no\"}","isBase64Encoded":false}"#;
        let response = response_v2(payload);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["content-type"], "application/json");
        let encoded = format!(
            r#"{{"statusCode":200,"body":"{}","isBase64Encoded":true}}"#,
            BASE64.encode("hi")
        );
        assert_eq!(response_v2(encoded.as_bytes()).status(), StatusCode::OK);
    }
}
