//! What the operator's commands share: reading the settings they need (and only those), and
//! connecting to the deployment's store and grant, local (SQLite, `HITL_DB`) or on AWS
//! (`--secret-id`, `--table`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use hitl_bridge::adapters::build_http_client;
use hitl_bridge::adapters::hubspot_admin::{HubSpotAdmin, OAuthClient};
use hitl_bridge::adapters::sqlite_store::SqliteStore;
use hitl_bridge::app::{self, Bridge, Persistence};
use hitl_bridge::config::{self, AwsLocation, Secrets, Settings};
use hitl_bridge::ports::{Clock, SystemClock, TokenVault};
use secrecy::SecretString;

use super::Failure;

/// Where the deployment keeps its grant and state.
#[derive(clap::Args, Clone, Debug)]
pub struct Deployment {
    /// The local server's SQLite store.
    #[arg(long, env = "HITL_DB", default_value = "hitl.db")]
    pub db: PathBuf,
    /// AWS deployment: the Secrets Manager secret (name or ARN; the stack's SecretArn output).
    /// The AWS SDK's usual environment applies (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL).
    #[arg(long, env = "SECRET_ID")]
    pub secret_id: Option<String>,
    /// AWS deployment: the DynamoDB table (the stack's TableName output).
    #[arg(long, env = "TABLE_NAME")]
    pub table: Option<String>,
}

impl Deployment {
    pub fn describe(&self) -> String {
        match &self.secret_id {
            Some(secret_id) => format!("the Secrets Manager secret {secret_id}"),
            None => format!("the local store {}", self.db.display()),
        }
    }
}

/// Settings a command can do without; placeholders stand in for them when unset.
pub const NOT_FOR_OAUTH: &[&str] = &["PUBLIC_BASE_URL", "HUBSPOT_APP_ID", "HUBSPOT_HELP_DESK_ID"];
pub const NOT_FOR_INBOXES: &[&str] = &[
    "PUBLIC_BASE_URL",
    "HUBSPOT_HELP_DESK_ID",
    "HUBSPOT_DEVELOPER_API_KEY",
    "BOTPRESS_TOKEN",
    "BOTPRESS_SHARED_SECRET",
];
pub const NOT_FOR_SETUP: &[&str] = &["BOTPRESS_TOKEN", "BOTPRESS_SHARED_SECRET"];

const PLACEHOLDERS: &[(&str, &str)] = &[
    ("PUBLIC_BASE_URL", "http://unused.invalid"),
    ("HUBSPOT_APP_ID", "0"),
    ("HUBSPOT_HELP_DESK_ID", "unused"),
    ("HUBSPOT_DEVELOPER_API_KEY", "unused"),
    ("BOTPRESS_TOKEN", "unused"),
    ("BOTPRESS_SHARED_SECRET", "unused"),
    ("HUBSPOT_REFRESH_TOKEN", "unused"),
];

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn lookup(not_needed: Vec<&'static str>) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        env(name).or_else(|| {
            not_needed
                .contains(&name)
                .then(|| {
                    PLACEHOLDERS
                        .iter()
                        .find(|(key, _)| *key == name)
                        .map(|(_, value)| value.to_string())
                })
                .flatten()
        })
    }
}

/// The settings through `config` (its defaults and checks), without those in `not_needed`.
pub fn settings(not_needed: &'static [&'static str]) -> Result<Settings, Failure> {
    config::settings_from(&lookup(not_needed.to_vec())).map_err(Failure::config)
}

pub fn oauth_client(settings: &Settings, client_secret: SecretString) -> OAuthClient {
    OAuthClient {
        token_url: format!(
            "{}{}",
            settings.hubspot_api_base, settings.hubspot_oauth_token_path
        ),
        client_id: settings.hubspot_client_id.clone(),
        client_secret,
    }
}

/// An AWS SDK configuration from the environment (the tests point AWS_ENDPOINT_URL at moto).
pub async fn aws_sdk() -> aws_config::SdkConfig {
    hitl_bridge::adapters::aws_http::sdk_config_loader()
        .load()
        .await
}

/// A connected deployment: the bridge as it runs, its grant, and the operator's HubSpot client.
pub struct Connected {
    pub settings: Settings,
    pub secrets: Secrets,
    pub bridge: Bridge,
    pub admin: HubSpotAdmin,
    pub where_: String,
}

/// Connects to the deployment `deployment` names, reading every setting but `not_needed`.
pub async fn connect(
    deployment: &Deployment,
    not_needed: &'static [&'static str],
) -> Result<Connected, Failure> {
    let settings = settings(not_needed)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (secrets, persistence) = match &deployment.secret_id {
        Some(secret_id) => {
            let table = deployment.table.clone().ok_or_else(|| {
                Failure::config(anyhow::anyhow!(
                    "--secret-id needs --table too (or TABLE_NAME): the stack's TableName output"
                ))
            })?;
            let location = AwsLocation {
                table_name: table,
                secret_id: secret_id.clone(),
            };
            let (secrets, persistence) =
                app::aws::aws_persistence(&location, &aws_sdk().await, Arc::clone(&clock))
                    .await
                    .map_err(Failure::from)?;
            (secrets, persistence)
        }
        None => {
            let seed = env("HUBSPOT_REFRESH_TOKEN").map(SecretString::from);
            let mut not_needed_secrets = not_needed.to_vec();
            not_needed_secrets.push("HUBSPOT_REFRESH_TOKEN");
            let secrets =
                config::secrets_from(&lookup(not_needed_secrets)).map_err(Failure::config)?;
            let store = Arc::new(
                SqliteStore::open(&deployment.db, Arc::clone(&clock))
                    .with_context(|| format!("opening {}", deployment.db.display()))
                    .map_err(Failure::config)?,
            );
            if seed.is_none() && store.load().await.map_err(Failure::failed)?.is_none() {
                return Err(Failure::config(anyhow::anyhow!(
                    "no HubSpot grant in {}: run `hitl oauth exchange --code …` (or `hitl oauth \
                     listen`) first, or set HUBSPOT_REFRESH_TOKEN",
                    deployment.db.display()
                )));
            }
            let persistence = Persistence {
                store: store.clone(),
                vault: store.clone(),
                refresh_lock: store,
                vault_holds_the_grant: seed.is_none(),
                grant_read_with_secrets: None,
            };
            (secrets, persistence)
        }
    };
    let bridge = app::build(&settings, &secrets, persistence, clock).map_err(Failure::config)?;
    let admin = HubSpotAdmin::new(
        build_http_client(),
        &settings.hubspot_api_base,
        settings.hubspot_app_id,
        secrets.hubspot_developer_api_key.clone(),
        Some(Arc::clone(&bridge.tokens)),
    )
    .map_err(Failure::config)?;
    Ok(Connected {
        settings,
        secrets,
        bridge,
        admin,
        where_: deployment.describe(),
    })
}
