//! The bridge on AWS: settings from the function's environment, every secret from one Secrets
//! Manager secret, state in DynamoDB. Built once per execution environment, outside the
//! handler, so warm invocations reuse the SDK clients and their connections.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};

use super::{Bridge, BuildError, Persistence, build};
use crate::adapters::dynamodb_store::DynamoStore;
use crate::adapters::secrets_manager::SecretsManagerVault;
use crate::config::{self, AwsLocation, Secrets, Settings};
use crate::ports::{Clock, SystemClock};

/// The bridge from the Lambda environment (`TABLE_NAME`, `SECRET_ID` and the non-secret
/// settings). The SDK honours `AWS_ENDPOINT_URL`, which the tests point at moto.
pub async fn build_from_env() -> Result<Bridge, BuildError> {
    let (settings, location) = config::aws_settings_from(&|name| std::env::var(name).ok())?;
    build_on_aws(&settings, &location, &lambda_sdk_config().await).await
}

/// The SDK configuration of a function: the process's one TLS configuration, and the
/// credentials and region Lambda puts in every execution environment's variables, read there
/// directly. The default chains would build clients for profiles, SSO, web identity, container
/// and instance metadata first, ~0.8 ms of every cold start (docs/PERFORMANCE.md); they stay
/// the fallback where those variables are not set (a binary run outside Lambda).
async fn lambda_sdk_config() -> SdkConfig {
    let mut loader = crate::adapters::aws_http::sdk_config_loader();
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if std::env::var_os("AWS_REGION").is_some() {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    loader.load().await
}

/// The bridge over the given table and secret.
pub async fn build_on_aws(
    settings: &Settings,
    location: &AwsLocation,
    sdk: &SdkConfig,
) -> Result<Bridge, BuildError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (secrets, persistence) = aws_persistence(location, sdk, Arc::clone(&clock)).await?;
    build(settings, &secrets, persistence, clock)
}

/// The secrets read from the secret, and the persistence over the table and the secret: what
/// the functions and the operator's CLI (`--secret-id`) both build on.
pub async fn aws_persistence(
    location: &AwsLocation,
    sdk: &SdkConfig,
    clock: Arc<dyn Clock>,
) -> Result<(Secrets, Persistence), BuildError> {
    let vault = SecretsManagerVault::new(
        aws_sdk_secretsmanager::Client::new(sdk),
        location.secret_id.clone(),
    );
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        location.table_name.clone(),
        clock,
    ));
    let (secrets, grant) = vault.read_secrets_and_grant().await?;
    let persistence = Persistence {
        store: store.clone(),
        vault: Arc::new(vault),
        refresh_lock: store,
        vault_holds_the_grant: true,
        grant_read_with_secrets: grant,
    };
    Ok((secrets, persistence))
}
