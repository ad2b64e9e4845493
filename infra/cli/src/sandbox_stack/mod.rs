//! A whole local stack: the bridge served over HTTP, a simulated HubSpot and a simulated
//! Botpress wired to it, and a Botpress "caller" that calls the bridge as Botpress Cloud does.
//! `hitl serve --sandbox` runs it for people; the whole-flow tests run it for assertions, on
//! both paths: the bridge in this process over SQLite, and the three Lambda binaries under the
//! Lambda emulator over DynamoDB and Secrets Manager (moto).

pub mod lambda_path;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hitl_bridge::app::{self, Bridge};
use hitl_bridge::config::{self, Secrets, Settings};
use hitl_bridge::model::ChannelSetup;
use hitl_sandbox::botpress::{BotpressCaller, BotpressSim, BotpressSimConfig, CallerIdentity};
use hitl_sandbox::contract::{ContractCheck, ContractSession};
use hitl_sandbox::hubspot::{HubSpotSim, HubSpotSimConfig};
use serde_json::json;

use lambda_path::{LambdaDeployment, RefreshFailure};

/// The shared secret the sandbox's Botpress presents.
pub const SANDBOX_SHARED_SECRET: &str = "sandbox-shared-secret";

/// Which bridge the stack runs.
#[derive(Clone, Debug)]
pub enum BridgePath {
    /// The bridge's router served in this process over SQLite: `hitl serve --sandbox`.
    InProcess,
    /// The three Lambda binaries found in `binaries` (e.g. `target/debug`), under the Lambda
    /// emulator, with DynamoDB and Secrets Manager on the moto server at `aws_endpoint`.
    Lambda {
        binaries: PathBuf,
        aws_endpoint: String,
        /// Execution environments each function may run at once (Lambda's concurrency):
        /// deliveries that overlap run in separate processes, as on AWS.
        concurrency: usize,
    },
}

/// How to start a sandbox stack.
pub struct SandboxOptions {
    pub path: BridgePath,
    /// Where the bridge listens; port 0 picks a free one (tests).
    pub listen: SocketAddr,
    /// The bridge's SQLite file; in memory when `None`.
    pub db: Option<PathBuf>,
    pub hubspot: HubSpotSimConfig,
    pub botpress: BotpressSimConfig,
    /// Demo contacts and agents are added to the simulated HubSpot.
    pub seed_demo_data: bool,
    /// Every HubSpot and Botpress call goes through Prism, validated against the official
    /// documents (`hitl_sandbox::contract`); the stack's session fails on a violation.
    pub contracts: Option<ContractCheck>,
    /// `HUBSPOT_CREATE_MISSING_CONTACTS`: `createUser` creates contacts HubSpot lacks.
    pub create_missing_contacts: bool,
    /// The in-process bridge's clock (tests move it to reach expiries); the system clock when
    /// `None`. The Lambda path always runs on the system clock.
    pub clock: Option<Arc<dyn hitl_bridge::ports::Clock>>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            path: BridgePath::InProcess,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: None,
            hubspot: HubSpotSimConfig::default(),
            botpress: BotpressSimConfig::default(),
            seed_demo_data: true,
            contracts: None,
            create_missing_contacts: false,
            clock: None,
        }
    }
}

/// The demo customers and agents the simulated HubSpot knows.
pub const DEMO_CUSTOMER_EMAIL: &str = "jane.doe@example.com";
pub const DEMO_CUSTOMER_PHONE: &str = "+14155552671";
pub const DEMO_AGENTS: [(&str, &str, &str); 2] = [
    ("A-1001", "Ada Lovelace", "ada@example.com"),
    ("A-1002", "Grace Hopper", "grace@example.com"),
];

pub struct SandboxStack {
    /// On the in-process path, the bridge that serves; on the Lambda path, a bridge over the
    /// same table and secret, for tests to read what the functions stored.
    pub bridge: Arc<Bridge>,
    /// `http://127.0.0.1:PORT`: the bridge's public base URL.
    pub bridge_url: String,
    pub settings: Settings,
    /// The simulators' credentials, as the bridge was configured with them.
    pub secrets: Secrets,
    pub hubspot: HubSpotSim,
    pub botpress: BotpressSim,
    /// Acts as Botpress Cloud calling the bridge's `/botpress`.
    pub caller: BotpressCaller,
    /// The functions, on the Lambda path.
    pub lambda: Option<LambdaDeployment>,
    /// The contract checks' view of this stack's calls, when `SandboxOptions::contracts` is set.
    pub contracts: Option<ContractSession>,
}

impl SandboxStack {
    /// The environment that points the operator's commands (`hitl oauth`, `inboxes`, `setup`,
    /// `doctor`) at this stack's simulators, with their credentials and `HITL_DB` as the local
    /// store: what `hitl serve --sandbox` prints and what the CLI tests run with.
    pub fn operator_environment(&self, db: &str) -> Vec<(&'static str, String)> {
        use secrecy::ExposeSecret;
        let (settings, secrets) = (&self.settings, &self.secrets);
        vec![
            ("PUBLIC_BASE_URL", settings.public_base_url.clone()),
            ("HUBSPOT_API_BASE", settings.hubspot_api_base.clone()),
            ("BOTPRESS_API_BASE", settings.botpress_api_base.clone()),
            ("HUBSPOT_APP_ID", settings.hubspot_app_id.to_string()),
            ("HUBSPOT_CLIENT_ID", settings.hubspot_client_id.clone()),
            (
                "HUBSPOT_HELP_DESK_ID",
                settings.hubspot_help_desk_id.clone(),
            ),
            (
                "HUBSPOT_CLIENT_SECRET",
                secrets.hubspot_client_secret.expose_secret().to_string(),
            ),
            (
                "HUBSPOT_DEVELOPER_API_KEY",
                secrets
                    .hubspot_developer_api_key
                    .expose_secret()
                    .to_string(),
            ),
            (
                "BOTPRESS_TOKEN",
                secrets.botpress_token.expose_secret().to_string(),
            ),
            (
                "BOTPRESS_SHARED_SECRET",
                secrets.botpress_shared_secret.expose_secret().to_string(),
            ),
            ("BOTPRESS_BOT_ID", self.botpress.config().bot_id.clone()),
            ("HITL_DB", db.to_string()),
        ]
    }

    pub async fn start(options: SandboxOptions) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}; choose another with --listen",
                    options.listen
                )
            })?;
        let address = listener.local_addr()?;
        let bridge_url = format!("http://{address}");
        let hubspot = HubSpotSim::start(options.hubspot).await?;
        let botpress = BotpressSim::start(options.botpress).await?;
        if options.seed_demo_data {
            hubspot.add_contact(Some(DEMO_CUSTOMER_EMAIL), None, "Jane");
            hubspot.add_contact(None, Some(DEMO_CUSTOMER_PHONE), "Sam");
            for (actor_id, name, email) in DEMO_AGENTS {
                hubspot.add_agent(actor_id, name, email);
            }
        }
        let contracts = match &options.contracts {
            Some(check) => Some(
                ContractSession::start(check, &hubspot.base_url(), &botpress.base_url()).await?,
            ),
            None => None,
        };
        let api_bases = match &contracts {
            Some(session) => (session.hubspot_base(), session.botpress_base()),
            None => (hubspot.base_url(), botpress.base_url()),
        };
        let (mut settings, secrets) = configuration(&bridge_url, &hubspot, &botpress, api_bases)?;
        settings.create_missing_contacts = options.create_missing_contacts;
        let (bridge, lambda) = match &options.path {
            BridgePath::InProcess => {
                let bridge = Arc::new(app::build_local(
                    &settings,
                    &secrets,
                    options.db.as_deref(),
                    app::LocalGrant::Configured,
                    options
                        .clock
                        .clone()
                        .unwrap_or_else(|| Arc::new(hitl_bridge::ports::SystemClock)),
                )?);
                let router = hitl_bridge::http::router(Arc::clone(&bridge));
                tokio::spawn(async move {
                    if let Err(error) = axum::serve(listener, router).await {
                        tracing::error!(%error, "the sandbox bridge server stopped");
                    }
                });
                (bridge, None)
            }
            BridgePath::Lambda {
                binaries,
                aws_endpoint,
                concurrency,
            } => {
                let deployment = lambda_path::deploy(
                    listener,
                    binaries,
                    aws_endpoint,
                    *concurrency,
                    &settings,
                    secret_json(&secrets),
                )
                .await?;
                let observer =
                    app::aws::build_on_aws(&settings, &deployment.location, &deployment.sdk)
                        .await?;
                (Arc::new(observer), Some(deployment))
            }
        };
        hubspot.set_app_webhook_url(&settings.hubspot_webhook_url());
        let caller = BotpressCaller::new(
            &format!("{bridge_url}{}", config::BOTPRESS_PATH),
            CallerIdentity {
                bot_id: botpress.config().bot_id.clone(),
                integration_id: "intver_sandbox_hubspot_hitl_0001".to_string(),
                integration_alias: "hubspot-hitl".to_string(),
                webhook_id: "wh_sandbox_hubspot_hitl_000000001".to_string(),
                bot_user_id: "user_sandbox_bot_000000000000001".to_string(),
            },
            SANDBOX_SHARED_SECRET,
        );
        Ok(Self {
            bridge,
            bridge_url,
            settings,
            secrets,
            hubspot,
            botpress,
            caller,
            lambda,
            contracts,
        })
    }

    /// Runs the scheduled work now (the HubSpot token's refresh, then the closes and message
    /// statuses left for later): on the Lambda path by invoking the token refresher as its schedule does, in
    /// process through [`Bridge::run_schedule`](hitl_bridge::app::Bridge::run_schedule).
    pub async fn refresh_tokens_now(&self) -> Result<(), RefreshFailure> {
        match &self.lambda {
            Some(deployment) => deployment.refresh_tokens_now().await,
            None => self
                .bridge
                .run_schedule()
                .await
                .map_err(|error| RefreshFailure {
                    retryable: error.retryable(),
                    message: error.to_string(),
                }),
        }
    }

    /// Registers the integration as Botpress does when a bot owner saves its configuration,
    /// and returns the channel setup the bridge stored.
    pub async fn register(&self) -> anyhow::Result<ChannelSetup> {
        let answer = self
            .caller
            .register(&format!("{}/botpress-webhook-unused", self.bridge_url))
            .await;
        anyhow::ensure!(
            answer.status == 200,
            "register failed: {} {}",
            answer.status,
            answer.text
        );
        self.bridge
            .relay
            .store()
            .channel_setup()
            .await?
            .context("register answered 200 but stored no channel")
    }

    pub fn print_summary(&self) {
        println!(
            "hitl sandbox: the bridge, a simulated HubSpot and a simulated Botpress in one process"
        );
        println!("  bridge:             {}", self.bridge_url);
        println!(
            "    HubSpot webhooks: {}",
            self.settings.hubspot_webhook_url()
        );
        println!(
            "    Botpress calls:   {}{}",
            self.bridge_url,
            config::BOTPRESS_PATH
        );
        println!("  simulated HubSpot:  {}", self.hubspot.base_url());
        println!("  simulated Botpress: {}", self.botpress.base_url());
        println!("  demo customers:     {DEMO_CUSTOMER_EMAIL}, {DEMO_CUSTOMER_PHONE}");
        let agents: Vec<String> = DEMO_AGENTS
            .iter()
            .map(|(id, name, _)| format!("{name} ({id})"))
            .collect();
        println!("  demo agents:        {}", agents.join(", "));
    }
}

/// The environment a bridge process needs to work against these simulators (the same names an
/// operator sets; see README).
pub fn bridge_environment(
    bridge_url: &str,
    hubspot: &HubSpotSim,
    botpress: &BotpressSim,
    (hubspot_api_base, botpress_api_base): (String, String),
) -> Vec<(&'static str, String)> {
    let hs = hubspot.config();
    vec![
        ("HUBSPOT_API_BASE", hubspot_api_base),
        ("BOTPRESS_API_BASE", botpress_api_base),
        ("PUBLIC_BASE_URL", bridge_url.to_string()),
        ("HUBSPOT_APP_ID", hs.app_id.to_string()),
        ("HUBSPOT_CLIENT_ID", hs.client_id.clone()),
        ("HUBSPOT_HELP_DESK_ID", hs.help_desk_inbox_id.clone()),
        ("HUBSPOT_CLIENT_SECRET", hs.client_secret.clone()),
        ("HUBSPOT_DEVELOPER_API_KEY", hs.developer_api_key.clone()),
        ("HUBSPOT_REFRESH_TOKEN", hs.refresh_token.clone()),
        ("BOTPRESS_TOKEN", botpress.config().token.clone()),
        ("BOTPRESS_SHARED_SECRET", SANDBOX_SHARED_SECRET.to_string()),
        // Off, as in a deployment that has not opted in (`SandboxOptions` switches it on).
        ("HUBSPOT_CREATE_MISSING_CONTACTS", "false".to_string()),
        // The simulated Botpress hosts the files chat users send, over plain HTTP on 127.0.0.1:
        // the one origin the attachment fetcher may reach despite its public-https-only rule.
        ("FILE_FETCH_TEST_ORIGINS", botpress.base_url()),
    ]
}

/// The Secrets Manager secret an operator would fill in, with the simulators' credentials.
fn secret_json(secrets: &Secrets) -> serde_json::Value {
    use secrecy::ExposeSecret;
    json!({
        "hubspotClientSecret": secrets.hubspot_client_secret.expose_secret(),
        "hubspotDeveloperApiKey": secrets.hubspot_developer_api_key.expose_secret(),
        "hubspotRefreshToken": secrets.hubspot_refresh_token.expose_secret(),
        "botpressToken": secrets.botpress_token.expose_secret(),
        "botpressSharedSecret": secrets.botpress_shared_secret.expose_secret(),
    })
}

/// The bridge's configuration pointing at the simulators, with their credentials.
fn configuration(
    bridge_url: &str,
    hubspot: &HubSpotSim,
    botpress: &BotpressSim,
    api_bases: (String, String),
) -> anyhow::Result<(Settings, Secrets)> {
    let values = bridge_environment(bridge_url, hubspot, botpress, api_bases);
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    };
    Ok(config::from_lookup(&lookup)?)
}
