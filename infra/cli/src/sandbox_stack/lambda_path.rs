//! The AWS path of the sandbox: the three Lambda binaries, each under the Lambda Runtime API
//! emulator, behind an emulated HTTP API, keeping state in DynamoDB and reading every secret
//! from Secrets Manager, both served by moto. The same whole-flow tests run against it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use hitl_bridge::adapters::dynamodb_store::DynamoStore;
use hitl_bridge::config::{AwsLocation, Settings};
use hitl_sandbox::lambda::{FunctionSpec, HttpApiGateway, InvokeOutcome, LambdaFunction, Route};
use serde_json::json;

/// The three functions of one deployment, and where they keep their state.
pub struct LambdaDeployment {
    pub hubspot_webhook: Arc<LambdaFunction>,
    pub botpress_outbound: Arc<LambdaFunction>,
    pub token_refresher: Arc<LambdaFunction>,
    pub location: AwsLocation,
    pub sdk: SdkConfig,
    _gateway: HttpApiGateway,
}

/// Why a scheduled refresh failed: the refresher's error type says whether a retry helps.
#[derive(Debug)]
pub struct RefreshFailure {
    pub retryable: bool,
    pub message: String,
}

/// Creates a fresh table and secret, then starts the functions behind `listener`.
pub async fn deploy(
    listener: tokio::net::TcpListener,
    binaries: &Path,
    aws_endpoint: &str,
    concurrency: usize,
    settings: &Settings,
    secret_json: serde_json::Value,
) -> anyhow::Result<LambdaDeployment> {
    let sdk = hitl_sandbox::moto::sdk_config(
        aws_endpoint,
        hitl_bridge::adapters::aws_http::sdk_http_client(),
    )
    .await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let location = AwsLocation {
        table_name: format!("hitl-{suffix}"),
        secret_id: format!("hitl/{suffix}"),
    };
    DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &location.table_name)
        .await
        .context("creating the DynamoDB table in moto")?;
    let created = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&location.secret_id)
        .secret_string(secret_json.to_string())
        .send()
        .await
        .context("creating the secret in moto")?;
    let secret_arn = created.arn().unwrap_or(&location.secret_id).to_string();
    let env = vec![
        ("TABLE_NAME".to_string(), location.table_name.clone()),
        ("SECRET_ID".to_string(), secret_arn),
        (
            "PUBLIC_BASE_URL".to_string(),
            settings.public_base_url.clone(),
        ),
        (
            "HUBSPOT_API_BASE".to_string(),
            settings.hubspot_api_base.clone(),
        ),
        (
            "BOTPRESS_API_BASE".to_string(),
            settings.botpress_api_base.clone(),
        ),
        (
            "HUBSPOT_APP_ID".to_string(),
            settings.hubspot_app_id.to_string(),
        ),
        (
            "HUBSPOT_CLIENT_ID".to_string(),
            settings.hubspot_client_id.clone(),
        ),
        (
            "HUBSPOT_HELP_DESK_ID".to_string(),
            settings.hubspot_help_desk_id.clone(),
        ),
        (
            "FILE_FETCH_TEST_ORIGINS".to_string(),
            settings
                .file_fetch
                .test_origins
                .iter()
                .map(|origin| origin.as_str().trim_end_matches('/').to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "HUBSPOT_CREATE_MISSING_CONTACTS".to_string(),
            settings.create_missing_contacts.to_string(),
        ),
        ("AWS_ENDPOINT_URL".to_string(), aws_endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID".to_string(), "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "test".to_string()),
        ("RUST_LOG".to_string(), "info".to_string()),
    ];
    let start = |name| start(binaries, &env, name, template_timeout(name), concurrency);
    let hubspot_webhook = start("hubspot-webhook").await?;
    let botpress_outbound = start("botpress-outbound").await?;
    let token_refresher = start("token-refresher").await?;
    let gateway = HttpApiGateway::serve(
        listener,
        vec![
            Route {
                method: "POST",
                path: "/hubspot/webhook",
                function: Arc::clone(&hubspot_webhook),
            },
            Route {
                method: "GET",
                path: "/healthz",
                function: Arc::clone(&hubspot_webhook),
            },
            Route {
                method: "POST",
                path: "/botpress",
                function: Arc::clone(&botpress_outbound),
            },
        ],
    )?;
    Ok(LambdaDeployment {
        hubspot_webhook,
        botpress_outbound,
        token_refresher,
        location,
        sdk,
        _gateway: gateway,
    })
}

impl LambdaDeployment {
    /// Invokes the token refresher as its schedule does.
    pub async fn refresh_tokens_now(&self) -> Result<(), RefreshFailure> {
        let event = json!({
            "version": "0", "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "000000000000", "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:000000000000:rule/hitl-token-refresh"],
            "detail": {}
        });
        match self
            .token_refresher
            .invoke(event.to_string().as_bytes())
            .await
        {
            Ok(InvokeOutcome::Response(_)) => Ok(()),
            Ok(InvokeOutcome::Error {
                error_type,
                message,
            }) => Err(RefreshFailure {
                retryable: error_type != "RefreshTokenRejected",
                message,
            }),
            Err(error) => Err(RefreshFailure {
                retryable: true,
                message: error.to_string(),
            }),
        }
    }

    /// Every line the three functions logged.
    pub fn logs(&self) -> Vec<String> {
        [
            &self.hubspot_webhook,
            &self.botpress_outbound,
            &self.token_refresher,
        ]
        .iter()
        .flat_map(|function| function.logs())
        .collect()
    }
}

/// The `Timeout` template.yaml gives the function built from `binary`: the emulator ends an
/// invocation, and restarts its execution environment, where Lambda would.
fn template_timeout(binary: &str) -> Duration {
    let template = include_str!("../../../../template.yaml");
    let mut lines = template
        .lines()
        .skip_while(|line| line.trim() != format!("Binary: {binary}"));
    let seconds = lines
        .find_map(|line| line.trim().strip_prefix("Timeout:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("template.yaml gives {binary} a Timeout"));
    Duration::from_secs(seconds)
}

async fn start(
    binaries: &Path,
    env: &[(String, String)],
    name: &str,
    timeout: Duration,
    concurrency: usize,
) -> anyhow::Result<Arc<LambdaFunction>> {
    let spec = FunctionSpec {
        name: name.to_string(),
        binary: binaries.join(name),
        env: env.to_vec(),
        timeout,
        concurrency,
    };
    LambdaFunction::start(spec)
        .await
        .map(Arc::new)
        .with_context(|| format!("starting the {name} function"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_gets_its_template_timeout() {
        assert_eq!(template_timeout("hubspot-webhook"), Duration::from_secs(6));
        assert_eq!(
            template_timeout("botpress-outbound"),
            Duration::from_secs(25)
        );
        assert_eq!(template_timeout("token-refresher"), Duration::from_secs(30));
    }
}
