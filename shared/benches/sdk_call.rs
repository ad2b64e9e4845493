//! CPU of one DynamoDB call inside the AWS SDK, without the network: the SDK configured as the
//! functions configure it (`aws_http::sdk_config_loader`), its HTTP client swapped for one that
//! answers at once with a canned `GetItem` answer. What is left is the SDK's own work per call
//! (orchestrator, interceptors, SigV4 signing, endpoint resolution, (de)serialisation), the
//! largest share of a warm function's CPU (docs/PERFORMANCE.md, "where a warm function's CPU
//! goes"), measured apart from the noise of a whole relay.

use std::hint::black_box;

use aws_config::Region;
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use criterion::{Criterion, criterion_group, criterion_main};

/// A session item as the store keeps it, roughly: what a `GetItem` of a warm relay returns.
const SESSION_ITEM: &str = r#"{"Item":{"pk":{"S":"SESSION#3f6c2a9e"},"sk":{"S":"SESSION"},"status":{"S":"OPEN"},"thread_id":{"S":"3624100001"},"conversation_id":{"S":"conv_01M87YR5ABCDEF"},"bot_id":{"S":"bot_7c1f"},"customer_user_id":{"S":"user_01M87YR5ABCDEF"},"contact_id":{"S":"901"},"channel_account_id":{"S":"1402"},"assigned_actor_id":{"S":"A-1001"},"assignment_changed_at_ms":{"N":"1764000000000"},"replies_relayed_until_ms":{"N":"1764000000000"},"created_at_ms":{"N":"1764000000000"}}}"#;

/// Answers every request at once with [`SESSION_ITEM`].
#[derive(Debug, Clone)]
struct Canned;

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let mut answer = http::Response::new(SdkBody::from(SESSION_ITEM));
        let headers = answer.headers_mut();
        headers.insert(
            "content-type",
            "application/x-amz-json-1.0".parse().unwrap(),
        );
        headers.insert("x-amzn-requestid", "BENCH0REQUEST0ID".parse().unwrap());
        HttpConnectorFuture::ready(Ok(HttpResponse::try_from(answer).unwrap()))
    }
}

fn client(runtime: &tokio::runtime::Runtime) -> aws_sdk_dynamodb::Client {
    let loader = hitl_bridge::adapters::aws_http::sdk_config_loader()
        .http_client(SharedHttpClient::new(Canned))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDBENCH",
            "bench-secret",
            None,
            None,
            "bench",
        ));
    aws_sdk_dynamodb::Client::new(&runtime.block_on(loader.load()))
}

fn get_item(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = client(&runtime);
    c.bench_function("sdk_dynamodb_get_item", |b| {
        b.iter(|| {
            let answer = runtime
                .block_on(
                    client
                        .get_item()
                        .table_name("hitl-bridge")
                        .key("pk", AttributeValue::S("SESSION#3f6c2a9e".into()))
                        .key("sk", AttributeValue::S("SESSION".into()))
                        .consistent_read(true)
                        .send(),
                )
                .unwrap();
            black_box(answer.item.map(|item| item.len()))
        })
    });
}

criterion_group!(benches, get_item);
criterion_main!(benches);
