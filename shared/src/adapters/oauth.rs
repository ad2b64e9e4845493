//! HubSpot OAuth: access tokens from the refresh token, refreshed ahead of expiry.
//!
//! Concurrent callers share one refresh: the cached grant sits behind an async mutex that is
//! held across the refresh call, so the second caller waits and then reads the fresh token
//! instead of starting a refresh of its own. Across processes, a [`RefreshLock`] does the
//! same: the holder re-reads the vault, adopts a token another process just obtained, or
//! refreshes with the newest refresh token. A refresh token HubSpot rotates is written back
//! to the vault before the lock is released, so no process can refresh with a dead one.
//!
//! A rotated refresh token exists nowhere but in the process that received it until the vault
//! has it, and HubSpot has retired the one before it: when the vault refuses the write, the
//! grant is kept in memory (never dropped with the error) and written on the process's next
//! use of a token, before anything else, and the scheduled refresh reports the failure.
//!
//! For the same reason a refresh, once begun, is never cut off by its caller: it runs in a
//! task of its own, which the caller waits for. A request dropped at its deadline (the local
//! server's stop at the Lambda timeout) would otherwise drop the refresh between HubSpot's
//! answer and the vault's write, losing a rotated refresh token and leaving the lock held for
//! its whole lease. The task keeps the request's budget (it starts no call past it, as
//! before), and the caller waits for its end rather than answering at the deadline: on Lambda
//! an answer freezes the environment, and a refresh frozen half-way is as lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::budget;
use crate::ports::{
    AccessTokens, Clock, RefreshLock, RefreshedGrant, Service, StoreError, StoredTokens,
    TokenError, TokenVault, UpstreamError,
};

/// Refresh this long before the access token expires, so no call starts with a token that
/// dies in flight.
const REFRESH_MARGIN: Duration = Duration::minutes(5);
/// How long one process may hold the refresh lock (after which it frees itself, should the
/// holder die). A refresh takes well under a second, but it must never outlive the lease:
/// another process would then refresh beside it with the same refresh token, and HubSpot,
/// which rotates them, would leave one of the two with a dead grant. So the refresh's calls
/// only start within [`REFRESH_BUDGET`], and the lease covers that budget, one call started
/// at its very end (10 s, `http_client`) and the vault's read and write (each an SDK call of
/// up to three 5 s attempts), with room to spare. A holder that dies keeps others waiting for
/// it no longer than this, well inside the five minutes tokens are refreshed ahead of expiry.
const LOCK_LEASE: StdDuration = StdDuration::from_secs(90);
/// How long a refresh under the lock may go on starting calls (and retries).
const REFRESH_BUDGET: StdDuration = StdDuration::from_secs(20);
/// How long a process waits for another's refresh before giving up (the caller retries).
const LOCK_WAIT: StdDuration = StdDuration::from_secs(4);
const LOCK_POLL: StdDuration = StdDuration::from_millis(100);
/// Writes of a refreshed grant tried before it is kept in memory only (each SDK call retries
/// on its own too; these cover a vault briefly unavailable), and the pause after the first.
const SAVE_ATTEMPTS: u32 = 3;
const SAVE_BACKOFF: StdDuration = StdDuration::from_millis(200);

/// Where and as whom to refresh.
pub struct OAuthSettings {
    /// Full URL of the token endpoint (`…/oauth/v1/token` or `…/oauth/2026-03/token`).
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// A refresh token configured outside the vault (the local server's environment): it
    /// seeds the vault, and replaces what the vault holds when the operator configures a new
    /// one. `None` when the vault itself is where operators put the grant (Secrets Manager).
    pub seed_refresh_token: Option<SecretString>,
}

/// HubSpot access tokens for one process. Cheap to share (`Arc`): every caller of one
/// instance shares its cache and its refreshes.
pub struct OAuthTokens {
    keeper: Arc<TokenKeeper>,
}

/// What the refresh task needs, shared with it (`'static`), so the task outlives a caller.
struct TokenKeeper {
    http: reqwest::Client,
    settings: OAuthSettings,
    vault: Arc<dyn TokenVault>,
    lock: Arc<dyn RefreshLock>,
    clock: Arc<dyn Clock>,
    grant: Mutex<Option<StoredTokens>>,
    /// The cached grant is newer than the vault's: its write failed after a refresh.
    unsaved: AtomicBool,
    /// Set once this process has refreshed to learn an unknown portal, so a HubSpot that
    /// never names it costs one refresh, not one per webhook.
    portal_asked: AtomicBool,
    /// What this process's latest refresh obtained (for `refresh_now_reporting`).
    last_refresh: std::sync::Mutex<Option<RefreshedGrant>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: i64,
    #[serde(default)]
    refresh_token: Option<String>,
    /// The portal the grant belongs to (optional in HubSpot's documents).
    #[serde(default)]
    hub_id: Option<u64>,
    /// The scopes granted, as a list or (`scope`) space-separated; HubSpot may say neither.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    scope: Option<String>,
}

impl TokenAnswer {
    fn granted(&self) -> RefreshedGrant {
        let scopes = self.scopes.clone().unwrap_or_else(|| {
            self.scope
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        });
        RefreshedGrant {
            expires_in: self.expires_in,
            scopes,
        }
    }
}

impl OAuthTokens {
    pub fn new(
        http: reqwest::Client,
        settings: OAuthSettings,
        vault: Arc<dyn TokenVault>,
        lock: Arc<dyn RefreshLock>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keeper: Arc::new(TokenKeeper {
                http,
                settings,
                vault,
                lock,
                clock,
                grant: Mutex::new(None),
                unsaved: AtomicBool::new(false),
                portal_asked: AtomicBool::new(false),
                last_refresh: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Starts from `grant`, the vault's grant as the caller has just read it (on Lambda, the
    /// secret read at start holds the bridge's secrets and the grant together), so the first
    /// token costs no second read of the vault. It is taken as a read of the vault would be
    /// (a configured seed refresh token still wins over it), and only while nothing is cached.
    pub fn starting_from(self, grant: StoredTokens) -> Self {
        if let Ok(mut cached) = self.keeper.grant.try_lock()
            && cached.is_none()
            && let Ok(grant) = self.keeper.grant_from(Some(grant))
        {
            *cached = Some(grant);
        }
        self
    }

    /// The cached token when `decide` takes it; otherwise a refresh (or adoption of another
    /// process's) in a task of its own, under this request's budget, waited for to its end. A
    /// caller dropped meanwhile leaves the task to finish, so the grant it may rotate is stored
    /// and the lock released.
    async fn with_grant<D>(&self, decide: D) -> Result<SecretString, TokenError>
    where
        D: Fn(&TokenKeeper, &StoredTokens) -> Option<SecretString> + Send + Sync + 'static,
    {
        if let Some(token) = self.keeper.cached(&decide).await? {
            return Ok(token);
        }
        let keeper = Arc::clone(&self.keeper);
        let budget = budget::current_deadline();
        let refresh = tokio::spawn(async move {
            match budget {
                Some(deadline) => budget::with_deadline(deadline, keeper.with_grant(&decide)).await,
                None => keeper.with_grant(&decide).await,
            }
        });
        match refresh.await {
            Ok(outcome) => outcome,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            Err(cancelled) => Err(TokenError::Store(StoreError::new(
                "refresh the HubSpot token",
                cancelled,
            ))),
        }
    }
}

impl TokenKeeper {
    /// The stored grant, unless it grew from another configured refresh token (the app was
    /// reinstalled and the operator configured the new one), in which case the seed wins.
    async fn load_grant(&self) -> Result<StoredTokens, TokenError> {
        self.grant_from(self.vault.load().await?)
    }

    /// The grant to use, given what the vault holds (`stored`).
    fn grant_from(&self, stored: Option<StoredTokens>) -> Result<StoredTokens, TokenError> {
        let Some(seed) = &self.settings.seed_refresh_token else {
            return stored.ok_or_else(|| {
                TokenError::RefreshTokenRejected("no refresh token is stored".to_string())
            });
        };
        let seed_fingerprint = fingerprint(seed);
        match stored {
            Some(stored) if stored.seed_fingerprint == seed_fingerprint => Ok(stored),
            _ => Ok(StoredTokens {
                refresh_token: seed.clone(),
                access_token: None,
                access_token_expires_at: None,
                seed_fingerprint,
                portal_id: None,
            }),
        }
    }

    fn usable(&self, grant: &StoredTokens) -> Option<SecretString> {
        let expires_at = grant.access_token_expires_at?;
        let token = grant.access_token.as_ref()?;
        (expires_at - REFRESH_MARGIN > self.clock.now()).then(|| token.clone())
    }

    /// Refreshes `grant` in place and persists it. Callers hold the grant lock.
    async fn refresh(&self, grant: &mut StoredTokens) -> Result<SecretString, TokenError> {
        const OP: &str = "refresh access token";
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.expose_secret()),
            ("refresh_token", grant.refresh_token.expose_secret()),
        ];
        let requested_at = self.clock.now();
        let request = self.http.post(&self.settings.token_url).form(&form);
        let response = super::retry::send_with_retries(Service::HubSpot, OP, request).await?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|error| UpstreamError::transport(Service::HubSpot, OP, &error))?;
        if status == 400 || status == 401 {
            return Err(TokenError::RefreshTokenRejected(rejection_reason(&body)));
        }
        if !(200..300).contains(&status) {
            return Err(UpstreamError::from_status(Service::HubSpot, OP, status, &body).into());
        }
        let answer: TokenAnswer = serde_json::from_str(&body).map_err(|error| {
            UpstreamError::unexpected(Service::HubSpot, OP, format!("unexpected answer: {error}"))
        })?;
        let granted = answer.granted();
        let access = SecretString::from(answer.access_token);
        if let Some(rotated) = answer.refresh_token
            && rotated != grant.refresh_token.expose_secret()
        {
            tracing::info!("HubSpot rotated the refresh token; storing the new one");
            grant.refresh_token = SecretString::from(rotated);
        }
        if let Some(hub_id) = answer.hub_id {
            if grant.portal_id.is_some_and(|known| known != hub_id) {
                tracing::warn!(
                    was = grant.portal_id,
                    now = hub_id,
                    "the refresh token now belongs to another HubSpot account"
                );
            }
            grant.portal_id = Some(hub_id);
        }
        grant.access_token = Some(access.clone());
        grant.access_token_expires_at = Some(expiry(requested_at, answer.expires_in));
        self.store_refreshed(grant, SAVE_ATTEMPTS).await;
        if let Ok(mut last) = self.last_refresh.lock() {
            *last = Some(granted);
        }
        tracing::info!(
            expires_in = answer.expires_in,
            "refreshed the HubSpot access token"
        );
        Ok(access)
    }

    /// Writes a refreshed grant to the vault, up to `attempts` times; when every write fails
    /// the grant stays marked unsaved, to be written on the next use. Callers hold the lock.
    async fn store_refreshed(&self, grant: &StoredTokens, attempts: u32) {
        let mut pause = SAVE_BACKOFF;
        for attempt in 1..=attempts {
            match self.vault.save(grant).await {
                Ok(()) => {
                    self.unsaved.store(false, Ordering::Release);
                    return;
                }
                Err(error)
                    if attempt == attempts
                        || budget::remaining().is_some_and(|left| left < pause) =>
                {
                    tracing::error!(
                        %error,
                        "could not store the refreshed HubSpot grant; this process keeps it and \
                         stores it on its next use (until then other processes hold the previous \
                         refresh token, which HubSpot may no longer accept)"
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, attempt, "could not store the refreshed HubSpot grant; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        self.unsaved.store(true, Ordering::Release);
    }

    fn is_unsaved(&self) -> bool {
        self.unsaved.load(Ordering::Acquire)
    }

    /// The cached grant, locked, loaded from the vault first if this process has none yet
    /// (always `Some` then).
    async fn loaded(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<StoredTokens>>, TokenError> {
        let mut guard = self.grant.lock().await;
        if guard.is_none() {
            *guard = Some(self.load_grant().await?);
        }
        Ok(guard)
    }

    /// What `decide` takes from the cached grant (loaded first if need be), unless the
    /// cached grant still has to be written.
    async fn cached(
        &self,
        decide: &impl Fn(&Self, &StoredTokens) -> Option<SecretString>,
    ) -> Result<Option<SecretString>, TokenError> {
        let guard = self.loaded().await?;
        if self.is_unsaved() {
            return Ok(None);
        }
        Ok(guard.as_ref().and_then(|grant| decide(self, grant)))
    }

    /// Runs `decide` on the cached grant; when it returns `None` (or the cached grant still
    /// has to be written), takes the cross-process lock, re-reads the vault, and either adopts
    /// what another process stored or refreshes. Run in a task of its own
    /// ([`OAuthTokens::with_grant`]), so no caller's deadline cuts it off.
    async fn with_grant(
        &self,
        decide: &impl Fn(&Self, &StoredTokens) -> Option<SecretString>,
    ) -> Result<SecretString, TokenError> {
        let mut guard = self.loaded().await?;
        if !self.is_unsaved()
            && let Some(token) = guard.as_ref().and_then(|grant| decide(self, grant))
        {
            return Ok(token);
        }
        let holder = self.acquire_refresh_lock().await?;
        let outcome = budget::with_deadline(
            tokio::time::Instant::now() + REFRESH_BUDGET,
            self.refresh_holding_lock(guard.as_ref(), decide),
        )
        .await;
        if let Err(error) = self.lock.unlock(&holder).await {
            tracing::warn!(%error, "could not release the token refresh lock; its lease will end it");
        }
        let (grant, token) = outcome?;
        *guard = Some(grant);
        Ok(token)
    }

    /// The newest grant (the vault's, or this process's when the vault has yet to be given
    /// it), then what `decide` adopts from it or a refresh.
    async fn refresh_holding_lock(
        &self,
        cached: Option<&StoredTokens>,
        decide: &impl Fn(&Self, &StoredTokens) -> Option<SecretString>,
    ) -> Result<(StoredTokens, SecretString), TokenError> {
        let mut latest = match cached.filter(|_| self.is_unsaved()) {
            Some(unsaved) => {
                self.store_refreshed(unsaved, 1).await;
                unsaved.clone()
            }
            None => self.load_grant().await?,
        };
        if let Some(token) = decide(self, &latest) {
            tracing::debug!("adopting the access token another process refreshed");
            return Ok((latest, token));
        }
        let token = self.refresh(&mut latest).await?;
        Ok((latest, token))
    }

    async fn acquire_refresh_lock(&self) -> Result<String, TokenError> {
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            if let Some(holder) = self.lock.try_lock(LOCK_LEASE).await? {
                return Ok(holder);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TokenError::Store(StoreError::new(
                    "wait for the token refresh lock",
                    "another process has been refreshing for too long",
                )));
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }
}

#[async_trait]
impl AccessTokens for OAuthTokens {
    async fn access_token(&self) -> Result<SecretString, TokenError> {
        self.with_grant(|this, grant| this.usable(grant)).await
    }

    async fn refresh_after_rejection(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, TokenError> {
        let rejected = rejected.clone();
        self.with_grant(move |this, grant| {
            this.usable(grant)
                .filter(|current| current.expose_secret() != rejected.expose_secret())
        })
        .await
    }

    async fn refresh_now(&self) -> Result<(), TokenError> {
        self.refresh_now_reporting().await.map(|_| ())
    }

    async fn refresh_now_reporting(&self) -> Result<RefreshedGrant, TokenError> {
        // Never adopts another's token (`decide` is `None`), so this call refreshed and
        // recorded what HubSpot answered.
        self.with_grant(|_, _| None).await?;
        if self.keeper.is_unsaved() {
            // The refresh worked and this process holds the grant; the scheduled refresh
            // fails all the same, so the vault's trouble is seen (and alarmed on).
            return Err(TokenError::Store(StoreError::new(
                "store the refreshed HubSpot grant",
                "the vault refused it; the running process keeps it and stores it on next use",
            )));
        }
        Ok(self
            .keeper
            .last_refresh
            .lock()
            .ok()
            .and_then(|last| last.clone())
            .unwrap_or_default())
    }

    /// A refresh holds the cached grant's lock from its start to its end
    /// (`TokenKeeper::with_grant`): taking the lock waits it out.
    async fn settle(&self) {
        drop(self.keeper.grant.lock().await);
    }

    async fn portal_id(&self) -> Result<Option<u64>, TokenError> {
        let keeper = &self.keeper;
        {
            let known = keeper
                .loaded()
                .await?
                .as_ref()
                .and_then(|grant| grant.portal_id);
            if known.is_some() || keeper.portal_asked.load(Ordering::Relaxed) {
                return Ok(known);
            }
        }
        // A grant stored before the portal was kept (or a new install): HubSpot names the
        // portal in its token answer, so refresh once to learn it. Marked asked only once it
        // was: a failed refresh is tried again by the next delivery, so the filter of other
        // accounts' events is not left off for the life of the process.
        self.with_grant(|this, grant| grant.portal_id.and_then(|_| this.usable(grant)))
            .await?;
        keeper.portal_asked.store(true, Ordering::Relaxed);
        Ok(keeper
            .grant
            .lock()
            .await
            .as_ref()
            .and_then(|grant| grant.portal_id))
    }
}

fn expiry(requested_at: DateTime<Utc>, expires_in_seconds: i64) -> DateTime<Utc> {
    requested_at + Duration::seconds(expires_in_seconds.max(0))
}

/// HubSpot's reason for refusing a refresh (`BAD_REFRESH_TOKEN`, `BAD_CLIENT_ID`, …).
fn rejection_reason(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            json.get("status")
                .or_else(|| json.get("category"))
                .and_then(|status| status.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "no reason given".to_string())
}

/// A short, one-way fingerprint of a refresh token: enough to tell two apart, useless to a
/// reader of the store.
pub fn fingerprint(token: &SecretString) -> String {
    hex::encode(&Sha256::digest(token.expose_secret().as_bytes())[..8])
}

#[cfg(test)]
mod lease_tests {
    use super::*;

    #[test]
    fn a_refresh_ends_before_its_lock_frees_itself() {
        let last_call_ends = REFRESH_BUDGET + super::super::http_client::CALL_TIMEOUT;
        let vault_read_and_write = 2 * 3 * StdDuration::from_secs(5);
        assert!(
            LOCK_LEASE > last_call_ends + vault_read_and_write,
            "a refresh may run {last_call_ends:?} and a write after it, the lease is {LOCK_LEASE:?}"
        );
    }
}
