//! Composition: builds the bridge from settings, secrets and a store. Every binary goes
//! through here, so the Lambda functions, the local server and the tests run the same code.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::adapters::botpress_http::BotpressClient;
use crate::adapters::budget;
use crate::adapters::build_http_client;
use crate::adapters::file_fetch::SafeFileFetcher;
use crate::adapters::hubspot_http::HubSpotClient;
use crate::adapters::oauth::{OAuthSettings, OAuthTokens};
use crate::adapters::sqlite_store::SqliteStore;
use crate::config::{Secrets, Settings};
use crate::ports::{
    AccessTokens, BridgeStore, Clock, RefreshLock, StoreError, StoredTokens, TokenError, TokenVault,
};
use crate::relay::{Relay, RelaySettings};

pub mod aws;

/// Everything a request handler needs, built once per process (per Lambda execution
/// environment), so warm invocations reuse clients and connections.
pub struct Bridge {
    pub relay: Relay,
    pub tokens: Arc<dyn AccessTokens>,
    pub clock: Arc<dyn Clock>,
    /// Where HubSpot reaches us; webhook signatures are checked against it.
    pub public_base_url: String,
    pub botpress_shared_secret: SecretString,
    webhook_signing_key: SecretString,
}

impl Bridge {
    /// HubSpot signs webhooks with the app's client secret.
    pub fn webhook_signing_key(&self) -> &[u8] {
        self.webhook_signing_key.expose_secret().as_bytes()
    }

    /// The scheduled work (every 20 minutes: the token refresher on Lambda, `hitl serve`'s
    /// schedule locally): refreshes the HubSpot token ahead of expiry, then closes the threads
    /// a `stopHitl` left for later and sets the message statuses HubSpot failed to take.
    /// Answers the refresh's outcome, which says whether a person is needed; the rest log their
    /// own failures and are tried again next time.
    pub async fn run_schedule(&self) -> Result<(), TokenError> {
        let started = tokio::time::Instant::now();
        let refreshed = self.tokens.refresh_now().await;
        let left_for_later = self.relay.finish_left_for_later();
        budget::with_deadline(started + LEFT_FOR_LATER_WITHIN, left_for_later).await;
        refreshed
    }
}

/// The budget of the work left for later, from the schedule's start: no item starts with less
/// than 2 s of it left (`left_for_later.rs`), so the last starts by 13 s and, with a call's own
/// 10 s timeout, ends inside the token refresher's 30 s (`template.yaml`).
pub(crate) const LEFT_FOR_LATER_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Why the bridge could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("HUBSPOT_API_BASE is not a valid URL: {0}")]
    HubSpotUrl(#[from] url::ParseError),
    #[error(transparent)]
    Secrets(#[from] crate::adapters::secrets_manager::SecretsError),
}

/// Where the bridge keeps its state: the relay's store, the OAuth grant, and the lock that
/// serialises token refreshes across processes.
pub struct Persistence {
    pub store: Arc<dyn BridgeStore>,
    pub vault: Arc<dyn TokenVault>,
    pub refresh_lock: Arc<dyn RefreshLock>,
    /// Whether the vault is where operators put the refresh token (Secrets Manager). If not,
    /// `HUBSPOT_REFRESH_TOKEN` from the secrets seeds it (the local server).
    pub vault_holds_the_grant: bool,
    /// The vault's grant, when it was read with the secrets (one Secrets Manager read at a
    /// cold start, not a second one for the first HubSpot call).
    pub grant_read_with_secrets: Option<StoredTokens>,
}

/// Builds the bridge over any persistence.
pub fn build(
    settings: &Settings,
    secrets: &Secrets,
    persistence: Persistence,
    clock: Arc<dyn Clock>,
) -> Result<Bridge, BuildError> {
    let Persistence {
        store,
        vault,
        refresh_lock,
        vault_holds_the_grant,
        grant_read_with_secrets,
    } = persistence;
    let http = build_http_client();
    let oauth = OAuthTokens::new(
        http.clone(),
        OAuthSettings {
            token_url: format!(
                "{}{}",
                settings.hubspot_api_base, settings.hubspot_oauth_token_path
            ),
            client_id: settings.hubspot_client_id.clone(),
            client_secret: secrets.hubspot_client_secret.clone(),
            seed_refresh_token: (!vault_holds_the_grant)
                .then(|| secrets.hubspot_refresh_token.clone()),
        },
        vault,
        refresh_lock,
        Arc::clone(&clock),
    );
    let tokens: Arc<dyn AccessTokens> = Arc::new(match grant_read_with_secrets {
        Some(grant) => oauth.starting_from(grant),
        None => oauth,
    });
    let hubspot = HubSpotClient::new(
        http.clone(),
        &settings.hubspot_api_base,
        settings.hubspot_app_id,
        secrets.hubspot_developer_api_key.clone(),
        Arc::clone(&tokens),
    )?;
    let botpress = BotpressClient::new(
        http,
        &settings.botpress_api_base,
        secrets.botpress_token.clone(),
    );
    let relay = Relay::new(
        store,
        Arc::new(hubspot),
        Arc::new(botpress),
        Arc::clone(&clock),
        RelaySettings {
            webhook_url: settings.hubspot_webhook_url(),
            help_desk_inbox_id: settings.hubspot_help_desk_id.clone(),
            channel_name: settings.hubspot_channel_name.clone(),
            default_phone_region: settings.default_phone_region.clone(),
            create_missing_contacts: settings.create_missing_contacts,
        },
    )
    .with_file_source(Arc::new(SafeFileFetcher::new(settings.file_fetch.clone())));
    Ok(Bridge {
        relay,
        tokens,
        clock,
        public_base_url: settings.public_base_url.clone(),
        botpress_shared_secret: secrets.botpress_shared_secret.clone(),
        webhook_signing_key: secrets.hubspot_client_secret.clone(),
    })
}

/// Where the local server's HubSpot grant comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalGrant {
    /// `HUBSPOT_REFRESH_TOKEN` (in the secrets) seeds the store, and replaces what the store
    /// holds when the operator configures a new one (a reinstall).
    Configured,
    /// The store holds it (`hitl oauth exchange` put it there) and is the authority: each
    /// refresh's rotated token is read back from it, never replaced by a start-up copy.
    Stored,
}

/// The bridge over one SQLite file (or memory when `db` is `None`): the local server.
pub fn build_local(
    settings: &Settings,
    secrets: &Secrets,
    db: Option<&Path>,
    grant: LocalGrant,
    clock: Arc<dyn Clock>,
) -> Result<Bridge, BuildError> {
    let store = Arc::new(match db {
        Some(path) => SqliteStore::open(path, Arc::clone(&clock))?,
        None => SqliteStore::in_memory(Arc::clone(&clock))?,
    });
    let persistence = Persistence {
        store: store.clone(),
        vault: store.clone(),
        refresh_lock: store,
        vault_holds_the_grant: grant == LocalGrant::Stored,
        grant_read_with_secrets: None,
    };
    build(settings, secrets, persistence, clock)
}

/// Logging for every binary: JSON on Lambda when `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise;
/// level from `RUST_LOG` (default `info`). Colours only on a terminal: on Lambda stdout goes
/// to CloudWatch, where escape codes would be stored in every line.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .map(|format| format.eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
