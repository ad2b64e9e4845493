//! `hitl serve`: the bridge as one local process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hitl_bridge::app::{self, Bridge};
use hitl_bridge::config;

use hitl_cli::sandbox_stack::{SandboxOptions, SandboxStack};

/// How often the local server refreshes the HubSpot token and finishes what was left for later:
/// the closes of threads, the message statuses (the Lambda deployment's schedule).
const REFRESH_EVERY: Duration = Duration::from_secs(20 * 60);

pub async fn serve(listen: SocketAddr, db: Option<PathBuf>) -> anyhow::Result<()> {
    let db = db
        .or_else(|| std::env::var_os("HITL_DB").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("hitl.db"));
    // A configured HUBSPOT_REFRESH_TOKEN seeds the store (and replaces its grant after a
    // reinstall); without one, the grant `hitl oauth exchange` stored is the authority, read
    // afresh at each refresh so a rotated token or a new exchange is never undone.
    let configured = std::env::var("HUBSPOT_REFRESH_TOKEN")
        .ok()
        .filter(|token| !token.trim().is_empty());
    let grant = if configured.is_some() {
        app::LocalGrant::Configured
    } else {
        app::LocalGrant::Stored
    };
    let stored_refresh_token = match grant {
        app::LocalGrant::Configured => None,
        app::LocalGrant::Stored => Some(stored_refresh_token(&db).await?.ok_or_else(|| {
            config::ConfigError {
                problems: vec![format!(
                    "no HubSpot grant in {}: run `hitl oauth exchange --code …` (or `hitl oauth \
                     listen`) with HITL_DB pointing there first, or set HUBSPOT_REFRESH_TOKEN",
                    db.display()
                )],
            }
        })?),
    };
    let (settings, secrets) = config::from_lookup(&|name| match name {
        // Settings insist on one; with the grant stored it only stands in (never used).
        "HUBSPOT_REFRESH_TOKEN" => configured.clone().or_else(|| stored_refresh_token.clone()),
        _ => std::env::var(name).ok(),
    })?;
    let bridge = Arc::new(
        app::build_local(
            &settings,
            &secrets,
            Some(&db),
            grant,
            Arc::new(hitl_bridge::ports::SystemClock),
        )
        .map_err(|error| match error {
            // A path that cannot be opened is configuration (exit 3), as for the other commands.
            app::BuildError::Store(error) => anyhow::Error::new(config::ConfigError {
                problems: vec![format!("opening {}: {error}", db.display())],
            }),
            other => other.into(),
        })?,
    );
    let listener = bind(listen).await?;
    println!("hitl bridge listening on http://{listen}");
    println!("  HubSpot webhooks: {}", settings.hubspot_webhook_url());
    println!(
        "  Botpress calls:   {}{}",
        settings.public_base_url,
        config::BOTPRESS_PATH
    );
    println!("  store:            {}", db.display());
    let refresh = spawn_token_refresh(Arc::clone(&bridge));
    let served = run(listener, bridge).await;
    refresh.stop().await;
    served
}

/// The refresh token of the grant stored in the local database, if there is one.
async fn stored_refresh_token(db: &std::path::Path) -> anyhow::Result<Option<String>> {
    use hitl_bridge::adapters::sqlite_store::SqliteStore;
    use hitl_bridge::ports::{SystemClock, TokenVault};
    use secrecy::ExposeSecret;
    if !db.exists() {
        return Ok(None);
    }
    let store = SqliteStore::open(db, Arc::new(SystemClock))?;
    Ok(store
        .load()
        .await?
        .map(|grant| grant.refresh_token.expose_secret().to_string()))
}

pub async fn serve_sandbox(
    listen: SocketAddr,
    db: Option<PathBuf>,
    run_demo: bool,
) -> anyhow::Result<()> {
    let stack = SandboxStack::start(SandboxOptions {
        listen,
        db,
        ..SandboxOptions::default()
    })
    .await?;
    stack.print_summary();
    let pages = hitl_cli::web::serve(&stack, hitl_cli::web::address_beside(listen)).await?;
    hitl_cli::web::print_links(pages);
    let refresh = spawn_token_refresh(Arc::clone(&stack.bridge));
    let setup = stack.register().await?;
    println!(
        "\nRegistered: HubSpot custom channel {} connected to Help Desk inbox {} (channel account {}).",
        setup.channel_id, setup.inbox_id, setup.channel_account_id
    );
    if run_demo {
        hitl_cli::demo::run(&stack).await?;
    }
    crate::commands::sandbox_env::print(&stack);
    println!("\nThe sandbox keeps running; press Ctrl-C to stop.");
    shutdown_requested().await;
    refresh.stop().await;
    Ok(())
}

async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; choose another with --listen"))
}

async fn run(listener: tokio::net::TcpListener, bridge: Arc<Bridge>) -> anyhow::Result<()> {
    axum::serve(listener, hitl_bridge::http::router(bridge))
        .with_graceful_shutdown(shutdown_requested())
        .await
        .context("the server stopped")
}

/// Ctrl-C, or SIGTERM (`systemctl stop`, `docker stop`, a process manager): either lets the
/// requests in flight finish, so none stops between its effect and its record. A second one
/// stops at once (exit 130): an operator who asks twice does not want to wait out a request
/// stuck on an unreachable upstream for its 25 s deadline. Awaited once per process.
async fn shutdown_requested() {
    stop_signal().await;
    tracing::info!("stopping: finishing the requests in flight (Ctrl-C again to stop now)");
    tokio::spawn(async {
        stop_signal().await;
        eprintln!("stopping now, without waiting for the requests in flight");
        std::process::exit(crate::commands::exit::FORCED_STOP.into());
    });
}

/// The next Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The local stand-in for the `token-refresher` schedule.
struct TokenRefresh {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    bridge: Arc<Bridge>,
}

impl TokenRefresh {
    /// Stops the schedule, letting a refresh in flight finish (the schedule's, or one a
    /// request cut off at its deadline left running): HubSpot may have rotated the refresh
    /// token, and the only copy of the new one must reach the store.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.bridge.tokens.settle().await;
    }
}

/// Also purges the store of what has expired (what DynamoDB's TTL does on AWS).
fn spawn_token_refresh(bridge: Arc<Bridge>) -> TokenRefresh {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let scheduled = Arc::clone(&bridge);
    let task = tokio::spawn(async move {
        let bridge = scheduled;
        let mut ticks = tokio::time::interval(REFRESH_EVERY);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.changed() => return,
            }
            if let Err(error) = bridge.run_schedule().await {
                tracing::error!(%error, retryable = error.retryable(), "scheduled token refresh failed");
            }
            purge_expired(&bridge).await;
        }
    });
    TokenRefresh { stop, task, bridge }
}

async fn purge_expired(bridge: &Bridge) {
    match bridge.relay.store().purge_expired().await {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "purged expired records from the local store"),
        Err(error) => tracing::warn!(%error, "could not purge the local store; trying again later"),
    }
}
