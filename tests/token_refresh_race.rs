//! Two token refreshers racing (two Lambda execution environments: separate caches, one
//! Secrets Manager secret, one DynamoDB lock) against a HubSpot that rotates the refresh token
//! on every refresh and refuses the old one. Without the lock, both would refresh with the
//! same token and one would lose the grant; with it, every refresh succeeds and the secret
//! always ends up holding the one refresh token HubSpot still accepts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use hitl_bridge::adapters::dynamodb_store::DynamoStore;
use hitl_bridge::adapters::oauth::{OAuthSettings, OAuthTokens};
use hitl_bridge::adapters::secrets_manager::SecretsManagerVault;
use hitl_bridge::ports::{AccessTokens, StoreError, StoredTokens, SystemClock, TokenVault};
use hitl_sandbox::hubspot::{HubSpotSim, HubSpotSimConfig};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// The token endpoint the bridge uses by default (`HUBSPOT_OAUTH_TOKEN_PATH`).
const TOKEN_PATH: &str = "/oauth/2026-03/token";

struct Deployment {
    hubspot: HubSpotSim,
    sdk: aws_config::SdkConfig,
    table: String,
    secret_id: String,
}

impl Deployment {
    async fn start() -> Self {
        let endpoint = std::env::var("HITL_TEST_AWS_ENDPOINT")
            .expect("needs a moto server: run scripts/test, or set HITL_TEST_AWS_ENDPOINT");
        let hubspot = HubSpotSim::start(HubSpotSimConfig {
            rotate_refresh_tokens: true,
            ..HubSpotSimConfig::default()
        })
        .await
        .unwrap();
        let sdk = hitl_sandbox::moto::sdk_config(
            &endpoint,
            hitl_bridge::adapters::aws_http::sdk_http_client(),
        )
        .await;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let (table, secret_id) = (format!("race-{suffix}"), format!("race/{suffix}"));
        DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
            .await
            .unwrap();
        let config = hubspot.config();
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(&secret_id)
            .secret_string(
                json!({
                    "hubspotClientSecret": config.client_secret,
                    "hubspotDeveloperApiKey": config.developer_api_key,
                    "hubspotRefreshToken": config.refresh_token,
                    "botpressToken": "unused",
                    "botpressSharedSecret": "unused",
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        Self {
            hubspot,
            sdk,
            table,
            secret_id,
        }
    }

    fn vault(&self) -> SecretsManagerVault {
        SecretsManagerVault::new(
            aws_sdk_secretsmanager::Client::new(&self.sdk),
            self.secret_id.clone(),
        )
    }

    /// One execution environment's token manager: its own cache, the shared secret and lock.
    fn refresher(&self) -> OAuthTokens {
        self.refresher_with(Arc::new(self.vault()))
    }

    fn refresher_with(&self, vault: Arc<dyn TokenVault>) -> OAuthTokens {
        let config = self.hubspot.config();
        let lock = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.table.clone(),
            Arc::new(SystemClock),
        );
        OAuthTokens::new(
            reqwest::Client::new(),
            OAuthSettings {
                token_url: format!("{}{TOKEN_PATH}", self.hubspot.base_url()),
                client_id: config.client_id.clone(),
                client_secret: SecretString::from(config.client_secret.clone()),
                seed_refresh_token: None,
            },
            vault,
            Arc::new(lock),
            Arc::new(SystemClock),
        )
    }

    /// Whether HubSpot accepted every refresh it was sent (none came with a dead token).
    fn every_refresh_was_accepted(&self) -> bool {
        self.hubspot
            .recorder()
            .matching("POST", TOKEN_PATH)
            .iter()
            .all(|call| call.status == 200)
    }

    /// Waits (10 s at most) until the secret holds the refresh token HubSpot accepts: a
    /// refresh that went on without its caller stored what it obtained.
    async fn until_the_secret_holds_the_live_refresh_token(&self) {
        let stored = async {
            while self.stored_refresh_token().await != self.hubspot.current_refresh_token() {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), stored)
            .await
            .expect("the refresh went on without its caller and stored the rotated refresh token");
    }

    async fn stored_refresh_token(&self) -> String {
        let secrets = self.vault().read_secrets().await.unwrap();
        secrets.hubspot_refresh_token.expose_secret().to_string()
    }
}

#[tokio::test]
async fn two_concurrent_refreshers_never_lose_a_rotated_refresh_token() {
    let deployment = Deployment::start().await;
    let (first, second) = (deployment.refresher(), deployment.refresher());
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let (a, b) = tokio::join!(first.refresh_now(), second.refresh_now());
        assert!(a.is_ok() && b.is_ok(), "round {round}: {a:?} / {b:?}");
        assert_eq!(
            deployment.stored_refresh_token().await,
            deployment.hubspot.current_refresh_token(),
            "round {round}: the secret holds the refresh token HubSpot accepts"
        );
    }
    let refreshes = deployment.hubspot.recorder().count("POST", TOKEN_PATH);
    assert_eq!(
        refreshes,
        2 * ROUNDS,
        "every refresh went through, none was refused"
    );
    assert!(
        deployment.every_refresh_was_accepted(),
        "HubSpot never saw a stale refresh token"
    );

    // A third environment, started now, reads the grant the others left and can use it.
    let third = deployment.refresher();
    third
        .refresh_now()
        .await
        .expect("the stored grant is alive");
    let token = third.access_token().await.unwrap();
    assert!(!token.expose_secret().is_empty());
}

#[tokio::test]
async fn a_refresher_adopts_the_access_token_another_just_obtained() {
    let deployment = Deployment::start().await;
    let (first, second) = (deployment.refresher(), deployment.refresher());
    let from_first = first.access_token().await.unwrap();
    let from_second = second.access_token().await.unwrap();
    assert_eq!(from_first.expose_secret(), from_second.expose_secret());
    assert_eq!(
        deployment.hubspot.recorder().count("POST", TOKEN_PATH),
        1,
        "the second environment used the stored token instead of refreshing"
    );
}

/// The secret, refusing its next `failures` writes (Secrets Manager throttling, or down).
struct RefusingVault {
    inner: SecretsManagerVault,
    failures: AtomicUsize,
}

#[async_trait]
impl TokenVault for RefusingVault {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        self.inner.load().await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        let refuse = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if refuse {
            return Err(StoreError::new(
                "PutSecretValue",
                "ThrottlingException (injected)",
            ));
        }
        self.inner.save(tokens).await
    }
}

/// HubSpot rotates the refresh token and retires the old one, then the secret refuses every
/// write of the refresh: the new grant is the only live one, and it must not be dropped with
/// the error. The process keeps relaying with it, the scheduled refresh reports the failure,
/// and the next use writes it, after which any other environment can refresh again.
#[tokio::test]
async fn a_rotated_refresh_token_the_secret_refused_is_kept_and_stored_on_next_use() {
    let deployment = Deployment::start().await;
    let original = deployment.stored_refresh_token().await;
    let vault = Arc::new(RefusingVault {
        inner: deployment.vault(),
        failures: AtomicUsize::new(usize::MAX),
    });
    let refresher = deployment.refresher_with(vault.clone());

    let reported = refresher.refresh_now().await;
    assert!(
        reported.is_err(),
        "the scheduled refresh says the write failed"
    );
    assert_ne!(
        deployment.hubspot.current_refresh_token(),
        original,
        "HubSpot rotated it"
    );
    assert_eq!(
        deployment.stored_refresh_token().await,
        original,
        "the secret refused it"
    );
    let token = refresher
        .access_token()
        .await
        .expect("the process still relays with the grant it kept");
    assert!(!token.expose_secret().is_empty());

    vault.failures.store(0, Ordering::SeqCst);
    refresher.access_token().await.unwrap();
    assert_eq!(
        deployment.stored_refresh_token().await,
        deployment.hubspot.current_refresh_token(),
        "the next use stored the live refresh token"
    );
    deployment
        .refresher()
        .refresh_now()
        .await
        .expect("another environment refreshes with the stored grant");
    assert!(
        deployment.every_refresh_was_accepted(),
        "HubSpot never saw a retired refresh token"
    );
}

/// The secret, taking `delay` to store each write (a slow or throttled Secrets Manager).
struct SlowVault {
    inner: SecretsManagerVault,
    delay: std::time::Duration,
}

#[async_trait]
impl TokenVault for SlowVault {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        self.inner.load().await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.save(tokens).await
    }
}

/// A refresher whose request was dropped as soon as HubSpot had rotated the refresh token,
/// while the secret's write (800 ms) is under way.
async fn cut_off_mid_refresh(deployment: &Deployment) -> OAuthTokens {
    let original = deployment.stored_refresh_token().await;
    let refresher = deployment.refresher_with(Arc::new(SlowVault {
        inner: deployment.vault(),
        delay: std::time::Duration::from_millis(800),
    }));
    let rotated = async {
        while deployment.hubspot.current_refresh_token() == original {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = refresher.access_token() => panic!("the refresh finished before it could be cut off"),
        () = rotated => {}
    }
    refresher
}

/// A request that reaches its deadline while its token refresh is between HubSpot's answer
/// (which rotated the refresh token and retired the old one) and the secret's write is
/// dropped there. The refresh must not be dropped with it: the new refresh token would exist
/// nowhere, and the refresh lock would stay held for its whole lease.
#[tokio::test]
async fn a_request_cut_off_at_its_deadline_does_not_cut_off_its_token_refresh() {
    let deployment = Deployment::start().await;
    let _refresher = cut_off_mid_refresh(&deployment).await;

    deployment
        .until_the_secret_holds_the_live_refresh_token()
        .await;
    deployment
        .refresher()
        .refresh_now()
        .await
        .expect("the lock was released: another environment refreshes at once");
    assert!(
        deployment.every_refresh_was_accepted(),
        "HubSpot never saw a retired refresh token"
    );
}

/// A process about to exit (`hitl serve` stopping) waits for a refresh its cut-off request
/// left running, so the rotated refresh token is stored before the runtime, and the task
/// with it, is gone.
#[tokio::test]
async fn settling_waits_for_a_refresh_whose_request_was_cut_off() {
    let deployment = Deployment::start().await;
    let refresher = cut_off_mid_refresh(&deployment).await;

    refresher.settle().await;
    assert_eq!(
        deployment.stored_refresh_token().await,
        deployment.hubspot.current_refresh_token(),
        "the rotated refresh token is stored once settled"
    );
}
