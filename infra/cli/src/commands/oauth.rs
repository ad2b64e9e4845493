//! `hitl oauth url | exchange | listen`: installing the HubSpot app in the Help Desk's account
//! and storing the refresh token where the deployment reads it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use chrono::Utc;
use clap::{Args, Subcommand};
use hitl_bridge::adapters::build_http_client;
use hitl_bridge::adapters::hubspot_admin::{self, HubSpotAdmin, OptionalScopes, TokenGrant};
use hitl_bridge::adapters::oauth::fingerprint;
use hitl_bridge::adapters::secrets_manager::SecretsManagerVault;
use hitl_bridge::adapters::sqlite_store::SqliteStore;
use hitl_bridge::ports::{StoredTokens, SystemClock, TokenVault};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::context::{self, Deployment, NOT_FOR_OAUTH};
use super::{Failure, Outcome};

/// Where HubSpot sends the installing user back; must be one of the app's redirect URLs.
const DEFAULT_REDIRECT_URI: &str = "http://localhost:3000/oauth/callback";

#[derive(Subcommand)]
pub enum OauthCommand {
    /// Print the authorize URL (with exactly the scopes the bridge needs) to open in a browser.
    Url(UrlArgs),
    /// Trade the `code` HubSpot put on the redirect URL for tokens, and store the refresh token
    /// where the deployment reads it (the local store, or the secret with --secret-id).
    Exchange(ExchangeArgs),
    /// Serve the redirect URL on localhost, print the authorize URL, and do the exchange when
    /// HubSpot redirects the browser back.
    Listen(ListenArgs),
}

#[derive(Args)]
pub struct RedirectArgs {
    /// The redirect URL, exactly as in the app's Auth settings.
    #[arg(long, env = "HUBSPOT_REDIRECT_URI", default_value = DEFAULT_REDIRECT_URI)]
    redirect_uri: String,
}

#[derive(Args)]
pub struct UrlArgs {
    #[command(flatten)]
    redirect: RedirectArgs,
    /// Also ask for the `files` scope (attachments).
    #[arg(long)]
    with_files: bool,
    /// An opaque value HubSpot hands back on the redirect.
    #[arg(long)]
    state: Option<String>,
}

#[derive(Args)]
pub struct ExchangeArgs {
    /// The `code` query parameter of the redirect (single use; valid a few minutes).
    #[arg(long)]
    code: String,
    #[command(flatten)]
    redirect: RedirectArgs,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
pub struct ListenArgs {
    #[command(flatten)]
    redirect: RedirectArgs,
    /// Also ask for the `files` scope (attachments).
    #[arg(long)]
    with_files: bool,
    /// Give up after this many seconds without a redirect.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
pub struct StoreArgs {
    #[command(flatten)]
    deployment: Deployment,
    /// Also print the refresh token (`hitl serve` reads it from HUBSPOT_REFRESH_TOKEN).
    #[arg(long)]
    show_refresh_token: bool,
}

pub async fn run(command: OauthCommand) -> Outcome {
    match command {
        OauthCommand::Url(args) => url(args),
        OauthCommand::Exchange(args) => {
            exchange(&args.code, &args.redirect.redirect_uri, &args.store).await
        }
        OauthCommand::Listen(args) => listen(args).await,
    }
}

fn url(args: UrlArgs) -> Outcome {
    let settings = context::settings(NOT_FOR_OAUTH)?;
    println!(
        "{}",
        hubspot_admin::authorize_url(
            &settings.hubspot_client_id,
            &args.redirect.redirect_uri,
            OptionalScopes {
                files: args.with_files,
                contacts_write: settings.create_missing_contacts,
            },
            args.state.as_deref(),
        )
    );
    eprintln!(
        "Open it signed in to the Help Desk's HubSpot account and choose that account. HubSpot \
         then redirects to {}?code=…: run `hitl oauth exchange --code <code>`.",
        args.redirect.redirect_uri
    );
    Ok(())
}

/// The app's client secret: `HUBSPOT_CLIENT_SECRET`, else (AWS) the secret's field.
async fn client_secret(deployment: &Deployment) -> Result<SecretString, Failure> {
    if let Ok(value) = std::env::var("HUBSPOT_CLIENT_SECRET")
        && !value.trim().is_empty()
    {
        return Ok(SecretString::from(value.trim().to_string()));
    }
    match &deployment.secret_id {
        Some(secret_id) => {
            let vault = vault(secret_id).await;
            let secrets = vault.read_secrets().await.map_err(Failure::from)?;
            Ok(secrets.hubspot_client_secret)
        }
        None => Err(Failure::config(anyhow!(
            "HUBSPOT_CLIENT_SECRET is not set (the HubSpot app's client secret, from the app's \
             Auth settings)"
        ))),
    }
}

async fn vault(secret_id: &str) -> SecretsManagerVault {
    let sdk = context::aws_sdk().await;
    SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk), secret_id)
}

/// Checks the grant's destination can be read before an authorization code is spent: HubSpot
/// takes each code once, and a grant it answers that cannot be stored means installing again.
async fn check_destination(store: &StoreArgs) -> Outcome {
    let deployment = &store.deployment;
    match &deployment.secret_id {
        Some(secret_id) => vault(secret_id)
            .await
            .load()
            .await
            .map(|_| ())
            .with_context(|| format!("reading the Secrets Manager secret {secret_id}"))
            .map_err(Failure::config),
        None => SqliteStore::open(&deployment.db, Arc::new(SystemClock))
            .map(|_| ())
            .with_context(|| format!("opening {}", deployment.db.display()))
            .map_err(Failure::config),
    }
}

async fn exchange(code: &str, redirect_uri: &str, store: &StoreArgs) -> Outcome {
    check_destination(store).await?;
    let settings = context::settings(NOT_FOR_OAUTH)?;
    let secret = client_secret(&store.deployment).await?;
    let oauth = context::oauth_client(&settings, secret);
    let admin = HubSpotAdmin::new(
        build_http_client(),
        &settings.hubspot_api_base,
        settings.hubspot_app_id,
        SecretString::from(String::new()),
        None,
    )
    .map_err(Failure::config)?;
    let grant = admin
        .exchange_code(&oauth, code.trim(), redirect_uri)
        .await?;
    save(&grant, store).await
}

async fn save(grant: &TokenGrant, store: &StoreArgs) -> Outcome {
    let refresh_token = grant
        .refresh_token
        .clone()
        .ok_or_else(|| Failure::failed(anyhow!("HubSpot answered without a refresh token")))?;
    let expires_at = Utc::now() + chrono::Duration::seconds(grant.expires_in.max(0));
    let account = grant
        .hub_id
        .map(|id| format!(" for HubSpot account {id}"))
        .unwrap_or_default();
    println!("HubSpot granted the app access{account}.");
    if !grant.scopes.is_empty() {
        println!("  scopes: {}", grant.scopes.join(" "));
    }
    let contacts_write = context::settings(NOT_FOR_OAUTH)
        .map(|settings| settings.create_missing_contacts)
        .unwrap_or(false);
    let missing = grant.missing_scopes(OptionalScopes {
        files: false,
        contacts_write,
    });
    if !missing.is_empty() {
        println!(
            "  missing: {} (add them to the app's scopes and install again with `hitl oauth url`)",
            missing.join(" ")
        );
    }
    if let Err(failure) = store_grant(grant, &refresh_token, expires_at, store).await {
        // The only copy of a grant HubSpot has just issued: shown so it is not lost.
        eprintln!(
            "HubSpot's new refresh token could not be stored, and it is the only copy. Keep it \
             (e.g. export HUBSPOT_REFRESH_TOKEN='{}') or install again.",
            refresh_token.expose_secret()
        );
        return Err(failure);
    }
    if store.show_refresh_token {
        println!(
            "export HUBSPOT_REFRESH_TOKEN='{}'",
            refresh_token.expose_secret()
        );
    }
    println!("Next: `hitl inboxes` to find the Help Desk inbox.");
    if !missing.is_empty() {
        return Err(Failure::failed(anyhow!(
            "the grant lacks scopes the bridge needs: {}",
            missing.join(" ")
        )));
    }
    Ok(())
}

/// Writes the grant where the deployment keeps it.
async fn store_grant(
    grant: &TokenGrant,
    refresh_token: &SecretString,
    expires_at: chrono::DateTime<Utc>,
    store: &StoreArgs,
) -> Outcome {
    let deployment = &store.deployment;
    match &deployment.secret_id {
        Some(secret_id) => {
            vault(secret_id)
                .await
                .store_new_grant(
                    refresh_token,
                    Some((&grant.access_token, expires_at)),
                    grant.hub_id,
                )
                .await
                .map_err(Failure::failed)?;
            println!(
                "Stored the refresh token in the Secrets Manager secret {secret_id} \
                 (hubspotRefreshToken; the other fields are unchanged)."
            );
        }
        None => {
            let sqlite = SqliteStore::open(&deployment.db, Arc::new(SystemClock))
                .with_context(|| format!("opening {}", deployment.db.display()))
                .map_err(Failure::config)?;
            sqlite
                .save(&StoredTokens {
                    refresh_token: refresh_token.clone(),
                    access_token: Some(grant.access_token.clone()),
                    access_token_expires_at: Some(expires_at),
                    seed_fingerprint: fingerprint(refresh_token),
                    portal_id: grant.hub_id,
                })
                .await
                .map_err(Failure::failed)?;
            println!(
                "Stored the refresh token in the local store {}.",
                deployment.db.display()
            );
            if std::env::var("HUBSPOT_REFRESH_TOKEN").is_ok_and(|token| !token.trim().is_empty()) {
                println!(
                    "  note: HUBSPOT_REFRESH_TOKEN is set and takes precedence over the store; \
                     unset it, or set it to the new token (--show-refresh-token)."
                );
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

type Waiting = Arc<Mutex<Option<oneshot::Sender<Result<String, String>>>>>;

async fn listen(args: ListenArgs) -> Outcome {
    let settings = context::settings(NOT_FOR_OAUTH)?;
    let redirect_uri = args.redirect.redirect_uri.clone();
    let parsed = reqwest::Url::parse(&redirect_uri)
        .map_err(|error| Failure::config(anyhow!("--redirect-uri {redirect_uri}: {error}")))?;
    let host = parsed.host_str().unwrap_or_default();
    if parsed.scheme() != "http" || !matches!(host, "localhost" | "127.0.0.1") {
        return Err(Failure::config(anyhow!(
            "`hitl oauth listen` serves http://localhost:PORT/…; {redirect_uri} is not such a \
             URL (use `hitl oauth url` and `hitl oauth exchange` for another redirect URL)"
        )));
    }
    check_destination(&args.store).await?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} for {redirect_uri}"))
        .map_err(Failure::failed)?;
    let state = uuid::Uuid::new_v4().simple().to_string();
    let (sender, receiver) = oneshot::channel();
    let waiting: Waiting = Arc::new(Mutex::new(Some(sender)));
    let expected_state = state.clone();
    let path = parsed.path().to_string();
    let router = axum::Router::new()
        .route(
            &path,
            get(
                move |State(waiting): State<Waiting>, Query(callback): Query<Callback>| async move {
                    let outcome = match (callback.code, callback.state, callback.error) {
                        (_, _, Some(error)) => Err(format!(
                            "HubSpot refused the install: {error} {}",
                            callback.error_description.unwrap_or_default()
                        )),
                        (Some(code), Some(state), None) if state == expected_state => Ok(code),
                        (Some(_), _, None) => {
                            Err("the redirect's state does not match this run".to_string())
                        }
                        (None, _, None) => Err("the redirect carries no code".to_string()),
                    };
                    let page = match &outcome {
                        Ok(_) => "Received. Return to the terminal: hitl stores the grant.",
                        Err(_) => "Not installed. The terminal says why.",
                    };
                    if let Some(sender) = waiting.lock().expect("not poisoned").take() {
                        let _ = sender.send(outcome);
                    }
                    Html(format!("<!doctype html><title>hitl</title><p>{page}</p>"))
                },
            ),
        )
        .with_state(waiting);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    println!("Open this URL in a browser, signed in to the Help Desk's HubSpot account:");
    println!(
        "{}",
        hubspot_admin::authorize_url(
            &settings.hubspot_client_id,
            &redirect_uri,
            OptionalScopes {
                files: args.with_files,
                contacts_write: settings.create_missing_contacts,
            },
            Some(&state)
        )
    );
    println!("Waiting for HubSpot to redirect to {redirect_uri} …");
    let received = tokio::time::timeout(Duration::from_secs(args.timeout), receiver).await;
    // Let the browser's page go out before the server stops.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.abort();
    let code = match received {
        Err(_) => {
            return Err(Failure::failed(anyhow!(
                "no redirect within {} s; run it again",
                args.timeout
            )));
        }
        Ok(Err(_)) => return Err(Failure::failed(anyhow!("the redirect server stopped"))),
        Ok(Ok(Err(problem))) => return Err(Failure::failed(anyhow!(problem))),
        Ok(Ok(Ok(code))) => code,
    };
    println!("Received the authorization code; exchanging it.");
    exchange(&code, &redirect_uri, &args.store).await
}
