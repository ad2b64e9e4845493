//! `hitl doctor`: checks a deployment end to end, touching no customer: no thread, contact or
//! conversation is read or written. Each check prints ok, or what is wrong and how to fix it.

use anyhow::anyhow;
use clap::Args;
use hitl_bridge::adapters::build_http_client;
use hitl_bridge::adapters::hubspot_admin::{CustomChannel, OptionalScopes, missing_scopes};
use hitl_bridge::model::channel_limits::{capabilities_match, channel_capabilities};
use hitl_bridge::ports::{RefreshedGrant, TokenError};
use secrecy::{ExposeSecret, SecretString};

use super::context::{self, Connected, Deployment};
use super::{Failure, Outcome, exit};

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    deployment: Deployment,
    /// The Botpress bot the integration is installed in (its id is in the dashboard's URL).
    #[arg(long, env = "BOTPRESS_BOT_ID")]
    bot_id: Option<String>,
    /// Also require the `files` scope (attachments).
    #[arg(long)]
    with_files: bool,
}

/// A user id no Botpress user has: reading it proves the token reaches the bot, and nothing else.
const PROBE_USER_ID: &str = "user_hitl_doctor_probe_0000000000";

struct Problem {
    what: String,
    fix: String,
}

fn problem(what: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem {
        what: what.into(),
        fix: fix.into(),
    }
}

struct Report {
    failed: usize,
}

impl Report {
    fn check(&mut self, name: &str, result: Result<String, Problem>) -> bool {
        match result {
            Ok(detail) if detail.is_empty() => println!("  ok    {name}"),
            Ok(detail) => println!("  ok    {name}: {detail}"),
            Err(problem) => {
                self.failed += 1;
                println!("  FAIL  {name}: {}", problem.what);
                println!("        fix: {}", problem.fix);
                return false;
            }
        }
        true
    }
}

pub async fn run(args: DoctorArgs) -> Outcome {
    let mut report = Report { failed: 0 };
    println!("hitl doctor: {}", args.deployment.describe());
    let connected = match context::connect(&args.deployment, &[]).await {
        Ok(connected) => connected,
        Err(failure) => {
            let fix = if args.deployment.secret_id.is_some() {
                "fill in the secret's fields (README, \"Put the credentials in the secret\") and \
                 give your AWS identity secretsmanager:GetSecretValue on it"
            } else {
                "set the variables named (README, \"Configuration\")"
            };
            report.check(
                "settings and secrets readable",
                Err(problem(format!("{:#}", failure.error), fix)),
            );
            return Err(Failure {
                code: failure.code,
                error: anyhow!("the deployment's configuration is incomplete"),
            });
        }
    };
    report.check(
        "settings and secrets readable",
        Ok(connected.where_.clone()),
    );

    let grant = refresh(&connected).await;
    let refreshed = report.check(
        "HubSpot refresh token works",
        grant
            .as_ref()
            .map(|grant| format!("new access token valid {} s", grant.expires_in))
            .map_err(|error| match error {
                // The lock (or the grant) lives in the store: a live bridge refreshing now, or
                // a store out of reach. Reinstalling would not help.
                TokenError::Store(store) if !store.transient => problem(
                    error.to_string(),
                    "the store refused: check HITL_DB, or --table and the IAM rights on it (and on \
                     the secret, for --secret-id)",
                ),
                TokenError::Store(_) => problem(
                    error.to_string(),
                    "another process (the bridge) holds the token refresh lock, or the store is \
                     out of reach: run `hitl doctor` again in a moment; check HITL_DB or --table",
                ),
                _ => problem(
                    error.to_string(),
                    "install the app again: `hitl oauth listen` (or `hitl oauth url` + `hitl oauth \
                     exchange`)",
                ),
            }),
    );
    if refreshed && let Ok(grant) = &grant {
        let missing = missing_scopes(
            &grant.scopes,
            OptionalScopes {
                files: args.with_files,
                contacts_write: connected.settings.create_missing_contacts,
            },
        );
        report.check(
            "scopes granted",
            if grant.scopes.is_empty() {
                Ok("HubSpot did not list them".to_string())
            } else if missing.is_empty() {
                Ok(String::new())
            } else {
                Err(problem(
                    format!("missing {}", missing.join(" ")),
                    "add them to the app's scopes, then install again with `hitl oauth listen`",
                ))
            },
        );
    }

    let webhook_url = connected.settings.hubspot_webhook_url();
    let channels = connected.admin.channels_with_webhook(&webhook_url).await;
    let channel = match channels {
        Ok(channels) => {
            let result = match channels.as_slice() {
                [] => Err(problem(
                    format!("no custom channel has webhookUrl {webhook_url}"),
                    "run `hitl setup`",
                )),
                [channel] => Ok(format!("{} ({webhook_url})", channel.id)),
                many => Err(problem(
                    format!("{} channels have webhookUrl {webhook_url}", many.len()),
                    "run `hitl teardown`, then `hitl setup`",
                )),
            };
            report.check("custom channel with our webhookUrl", result);
            if let Some(channel) = channels.first() {
                report.check(
                    "custom channel declares this version's capabilities",
                    declares_ours(channel),
                );
            }
            channels.first().cloned()
        }
        Err(error) => {
            report.check(
                "custom channel with our webhookUrl",
                Err(problem(
                    error.to_string(),
                    "check HUBSPOT_DEVELOPER_API_KEY and HUBSPOT_APP_ID (developer account → Apps)",
                )),
            );
            None
        }
    };
    if let Some(channel) = channel {
        let inbox_id = &connected.settings.hubspot_help_desk_id;
        let result = match connected.admin.list_channel_accounts(&channel.id).await {
            Ok(accounts) => match accounts
                .iter()
                .find(|account| &account.inbox_id == inbox_id)
            {
                Some(account) if account.authorized => {
                    Ok(format!("{} on inbox {inbox_id}", account.id))
                }
                Some(account) => Err(problem(
                    format!("channel account {} is not authorized", account.id),
                    "run `hitl teardown`, then `hitl setup`",
                )),
                None => Err(problem(
                    format!("the channel has no account on Help Desk inbox {inbox_id}"),
                    "check HUBSPOT_HELP_DESK_ID (`hitl inboxes`), then run `hitl setup`",
                )),
            },
            Err(error) => Err(problem(error.to_string(), "see the refresh token check")),
        };
        report.check("channel account authorized", result);
        check_other_inboxes(&mut report, &connected, &channel.id).await;
    }

    report.check(
        "webhook URL answers",
        healthz(&connected.settings.public_base_url).await,
    );
    report.check(
        "Botpress token reaches the bot",
        botpress(&connected, args.bot_id.as_deref()).await,
    );

    if report.failed == 0 {
        println!("All checks passed.");
        Ok(())
    } else {
        Err(Failure {
            code: exit::FAILED,
            error: anyhow!("{} check(s) failed", report.failed),
        })
    }
}

/// Whether `channel` declares what this version relays (visitors' opaque ids, Office files):
/// a channel an older version made refuses them until `register` updates it.
fn declares_ours(channel: &CustomChannel) -> Result<String, Problem> {
    if capabilities_match(&channel.capabilities, &channel_capabilities()) {
        return Ok(String::new());
    }
    Err(problem(
        "an older version's: HubSpot may refuse a visitor's handoff or a file type added since",
        "run `hitl setup`, or save the integration's configuration in Botpress (`register` updates it)",
    ))
}

/// The inboxes besides the default that `hitl setup --inbox` connected: one check each, that
/// its stored channel account is still authorized in HubSpot (the mapping, shown).
async fn check_other_inboxes(report: &mut Report, connected: &Connected, channel_id: &str) {
    let stored = match connected.bridge.relay.store().channel_setup().await {
        Ok(Some(setup)) if setup.channel_id == channel_id => setup,
        Ok(_) => return,
        Err(error) => {
            report.check(
                "connected inboxes",
                Err(problem(
                    error.to_string(),
                    "check the store (HITL_DB or --table)",
                )),
            );
            return;
        }
    };
    let default = &connected.settings.hubspot_help_desk_id;
    let others: Vec<_> = stored
        .inbox_accounts()
        .into_iter()
        .filter(|account| &account.inbox_id != default)
        .collect();
    if others.is_empty() {
        return;
    }
    let in_hubspot = connected.admin.list_channel_accounts(channel_id).await;
    for account in others {
        let name = account
            .inbox_name
            .as_deref()
            .map(|name| format!(" ({name})"))
            .unwrap_or_default();
        let check = format!("inbox {}{name} connected", account.inbox_id);
        let result = match &in_hubspot {
            Ok(listed) => match listed
                .iter()
                .find(|listed| listed.id == account.channel_account_id)
            {
                Some(listed) if listed.authorized => Ok(format!("channel account {}", listed.id)),
                _ => Err(problem(
                    format!(
                        "channel account {} is gone or not authorized",
                        account.channel_account_id
                    ),
                    format!("run `hitl setup --inbox {}`", account.inbox_id),
                )),
            },
            Err(error) => Err(problem(error.to_string(), "see the refresh token check")),
        };
        report.check(&check, result);
    }
}

/// Refreshes once, as the bridge does (`OAuthTokens`, under the store's refresh lock), so a
/// check beside a live bridge never races it: a rotated refresh token is stored before the
/// lock is released. HubSpot's answer says which scopes the grant has.
async fn refresh(connected: &Connected) -> Result<RefreshedGrant, TokenError> {
    connected.bridge.tokens.refresh_now_reporting().await
}

async fn healthz(public_base_url: &str) -> Result<String, Problem> {
    let url = format!("{public_base_url}/healthz");
    let fix = "check PUBLIC_BASE_URL, and that the bridge runs there (`hitl serve`, or the stack)";
    match build_http_client().get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(url),
        Ok(response) => Err(problem(
            format!("GET {url} answered {}", response.status()),
            fix,
        )),
        Err(error) => Err(problem(format!("GET {url} failed: {error}"), fix)),
    }
}

/// A read of the Runtime API that changes nothing: `GET /v1/chat/users/{id}` of an id no user
/// has. 404 "user not found" means the token reached the bot.
async fn botpress(connected: &Connected, bot_id: Option<&str>) -> Result<String, Problem> {
    let Some(bot_id) = bot_id.filter(|id| !id.trim().is_empty()) else {
        return Err(problem(
            "no bot id to check against",
            "set BOTPRESS_BOT_ID (or --bot-id) to the bot's id, from the dashboard's URL",
        ));
    };
    let token: &SecretString = &connected.secrets.botpress_token;
    let url = format!(
        "{}/v1/chat/users/{PROBE_USER_ID}",
        connected.settings.botpress_api_base
    );
    let response = build_http_client()
        .get(&url)
        .bearer_auth(token.expose_secret())
        .header("x-bot-id", bot_id)
        .send()
        .await
        .map_err(|error| {
            problem(
                format!("GET {url} failed: {error}"),
                "check BOTPRESS_API_BASE",
            )
        })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default().to_lowercase();
    match status {
        200 => Ok(format!("bot {bot_id}")),
        404 if !body.contains("bot") => Ok(format!("bot {bot_id}")),
        404 => Err(problem(
            format!("Botpress does not know bot {bot_id}"),
            "check BOTPRESS_BOT_ID",
        )),
        401 | 403 => Err(problem(
            format!("Botpress refused the token ({status})"),
            "set BOTPRESS_TOKEN (botpressToken in the secret) to the integration's access key",
        )),
        other => Err(problem(
            format!("Botpress answered {other}"),
            "try again; check BOTPRESS_API_BASE",
        )),
    }
}
