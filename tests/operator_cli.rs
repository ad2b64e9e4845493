//! The operator's commands (`hitl oauth`, `inboxes`, `setup`, `teardown`, `doctor`), run as
//! the real `hitl` binary (built by `cargo build --bins`) against the sandbox's simulated
//! HubSpot and Botpress, with the grant in a local SQLite file or (`--secret-id`) in a
//! Secrets Manager secret on moto (`HITL_TEST_AWS_ENDPOINT`).

use std::path::PathBuf;
use std::process::{Output, Stdio};

use hitl_bridge::adapters::dynamodb_store::DynamoStore;
use hitl_bridge::adapters::sqlite_store::SqliteStore;
use hitl_bridge::ports::{RefreshLock, SystemClock};
use hitl_cli::sandbox_stack::{SandboxOptions, SandboxStack};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

fn hitl_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join("debug/hitl");
    assert!(
        binary.is_file(),
        "no {}: run `cargo build --workspace --bins` first (scripts/test does)",
        binary.display()
    );
    binary
}

/// A sandbox (bridge, simulated HubSpot and Botpress), not registered, and the environment
/// an operator would export for it (no refresh token: `hitl oauth exchange` provides it).
struct Operator {
    stack: SandboxStack,
    env: Vec<(String, String)>,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Operator {
    async fn start() -> Self {
        let stack = SandboxStack::start(SandboxOptions::default())
            .await
            .expect("the sandbox starts");
        let dir = std::env::temp_dir().join(format!("hitl-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = stack
            .operator_environment(&dir.join("hitl.db").display().to_string())
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        Self {
            stack,
            env,
            _dir: TempDir(dir),
        }
    }

    fn without(&self, name: &str) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter(|(key, _)| key != name)
            .cloned()
            .collect()
    }

    fn with(&self, name: &str, value: &str) -> Vec<(String, String)> {
        let mut env = self.without(name);
        env.push((name.to_string(), value.to_string()));
        env
    }

    fn env_value(&self, name: &str) -> String {
        self.env
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("{name} is not in the operator's environment"))
    }

    async fn run(&self, args: &[&str]) -> Run {
        run_with(&self.env, args).await
    }

    /// Our channels (webhookUrl = the bridge's) and the accounts of live channels.
    fn counts(&self) -> (usize, usize) {
        let webhook_url = self.stack.settings.hubspot_webhook_url();
        let channels: Vec<String> = self
            .stack
            .hubspot
            .channels()
            .iter()
            .filter(|channel| channel["webhookUrl"] == webhook_url.as_str())
            .map(|channel| channel["id"].as_str().unwrap().to_string())
            .collect();
        let accounts = self
            .stack
            .hubspot
            .channel_accounts()
            .iter()
            .filter(|account| {
                channels
                    .iter()
                    .any(|id| account["channelId"] == id.as_str())
            })
            .filter(|account| account["authorized"] == true)
            .count();
        (channels.len(), accounts)
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn command(env: &[(String, String)], args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(hitl_binary());
    command
        .args(args)
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .kill_on_drop(true);
    command
}

async fn run_with(env: &[(String, String)], args: &[&str]) -> Run {
    Run::from(command(env, args).output().await.expect("hitl runs"))
}

#[tokio::test]
async fn oauth_url_asks_for_exactly_the_bridges_scopes() {
    let operator = Operator::start().await;
    let client_id = operator.stack.settings.hubspot_client_id.clone();
    let run = operator.run(&["oauth", "url"]).await.expect(0);
    assert_eq!(
        run.stdout.trim(),
        format!(
            "https://app.hubspot.com/oauth/authorize?client_id={client_id}\
             &redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Foauth%2Fcallback\
             &scope=conversations.custom_channels.read%20conversations.custom_channels.write\
             %20conversations.read%20conversations.write%20crm.objects.contacts.read"
        )
    );
    let run = operator
        .run(&["oauth", "url", "--with-files"])
        .await
        .expect(0);
    assert!(
        run.stdout
            .trim()
            .ends_with("crm.objects.contacts.read%20files"),
        "{}",
        run.stdout
    );
    // Only the client id is needed; without it, exit 3 naming it.
    let run = run_with(&operator.without("HUBSPOT_CLIENT_ID"), &["oauth", "url"])
        .await
        .expect(3);
    assert!(run.stderr.contains("HUBSPOT_CLIENT_ID"), "{}", run.stderr);
    // A bad command line is clap's 2.
    operator.run(&["oauth", "exchange"]).await.expect(2);
}

#[tokio::test]
async fn from_install_to_connected_and_back_with_the_local_store() {
    let operator = Operator::start().await;
    let hubspot = &operator.stack.hubspot;

    // No grant yet: the commands that need one say how to get it.
    let run = operator.run(&["inboxes"]).await.expect(3);
    assert!(run.stderr.contains("hitl oauth exchange"), "{}", run.stderr);

    hubspot.add_authorization_code("code-1");
    let run = operator
        .run(&["oauth", "exchange", "--code", "code-1"])
        .await
        .expect(0);
    assert!(
        run.stdout
            .contains("Stored the refresh token in the local store"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("crm.objects.contacts.read"),
        "{}",
        run.stdout
    );
    let token_calls = hubspot
        .recorder()
        .count("POST", &operator.stack.settings.hubspot_oauth_token_path);
    assert!(
        token_calls >= 1,
        "the exchange used the configured token path"
    );
    // Codes are single use.
    let run = operator
        .run(&["oauth", "exchange", "--code", "code-1"])
        .await
        .expect(1);
    assert!(
        run.stderr.contains("BAD_AUTH_CODE") || run.stderr.contains("auth code"),
        "{}",
        run.stderr
    );

    let help_desk = operator.stack.settings.hubspot_help_desk_id.clone();
    let run = run_with(&operator.without("HUBSPOT_HELP_DESK_ID"), &["inboxes"])
        .await
        .expect(0);
    assert!(
        run.stdout.lines().any(|line| line.starts_with(&help_desk)
            && line.contains("HELP_DESK")
            && line.contains("← Help Desk")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("export HUBSPOT_HELP_DESK_ID={help_desk}")),
        "{}",
        run.stdout
    );

    // Missing settings: exit 3, every one named.
    let run = run_with(&operator.without("PUBLIC_BASE_URL"), &["setup"])
        .await
        .expect(3);
    assert!(run.stderr.contains("PUBLIC_BASE_URL"), "{}", run.stderr);

    let first = operator.run(&["setup"]).await.expect(0);
    assert!(first.stdout.contains(": created"), "{}", first.stdout);
    let second = operator.run(&["setup"]).await.expect(0);
    assert!(second.stdout.contains("found, reused"), "{}", second.stdout);
    assert!(second.stdout.contains("Nothing to do"), "{}", second.stdout);
    assert_eq!(
        operator.counts(),
        (1, 1),
        "setup twice: one channel, one account"
    );

    let run = operator.run(&["doctor"]).await.expect(0);
    assert!(run.stdout.contains("All checks passed"), "{}", run.stdout);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);

    // A bridge refreshing at the same moment (it holds the store's refresh lock): doctor waits
    // for it instead of refreshing beside it, then says so; once released, doctor refreshes.
    let bridge_store = SqliteStore::open(
        std::path::Path::new(&operator.env_value("HITL_DB")),
        std::sync::Arc::new(SystemClock),
    )
    .unwrap();
    let holder = bridge_store
        .try_lock(std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the lock is free");
    let token_path = operator.stack.settings.hubspot_oauth_token_path.clone();
    let refreshes = || operator.stack.hubspot.recorder().count("POST", &token_path);
    let before = refreshes();
    let run = operator.run(&["doctor"]).await.expect(1);
    assert!(
        run.stdout.contains("FAIL  HubSpot refresh token works")
            && run.stdout.contains("refresh lock"),
        "{}",
        run.stdout
    );
    assert_eq!(
        refreshes(),
        before,
        "no refresh while another process holds the lock"
    );
    bridge_store.unlock(&holder).await.unwrap();
    operator.run(&["doctor"]).await.expect(0);
    assert_eq!(refreshes(), before + 1, "one refresh, under the lock");

    // A wrong Botpress token, an unknown bot: doctor names the check and the fix, exit 1.
    let run = run_with(&operator.with("BOTPRESS_TOKEN", "wrong"), &["doctor"])
        .await
        .expect(1);
    assert!(
        run.stdout.contains("FAIL  Botpress token reaches the bot"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: set BOTPRESS_TOKEN"),
        "{}",
        run.stdout
    );
    let run = run_with(&operator.with("BOTPRESS_BOT_ID", "other-bot"), &["doctor"])
        .await
        .expect(1);
    assert!(
        run.stdout.contains("does not know bot other-bot"),
        "{}",
        run.stdout
    );
    // The webhook URL must answer.
    let run = run_with(
        &operator.with("PUBLIC_BASE_URL", "http://127.0.0.1:9"),
        &["doctor"],
    )
    .await
    .expect(1);
    assert!(
        run.stdout.contains("FAIL  webhook URL answers"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("FAIL  custom channel with our webhookUrl"),
        "{}",
        run.stdout
    );

    // Another app's channel is never touched by teardown.
    let foreign = json!({"name": "Other", "webhookUrl": "https://other.example.com/hook", "capabilities": {}});
    let created = reqwest::Client::new()
        .post(format!(
            "{}/conversations/v3/custom-channels?hapikey={}&appId={}",
            operator.stack.settings.hubspot_api_base,
            operator
                .stack
                .secrets
                .hubspot_developer_api_key
                .expose_secret(),
            operator.stack.settings.hubspot_app_id
        ))
        .json(&foreign)
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );

    let run = operator.run(&["teardown"]).await.expect(0);
    assert!(run.stdout.contains("deleted"), "{}", run.stdout);
    assert!(run.stdout.contains("disconnected"), "{}", run.stdout);
    assert_eq!(operator.counts(), (0, 0));
    assert_eq!(hubspot.channels().len(), 1, "the other channel stays");
    let run = operator.run(&["doctor"]).await.expect(1);
    assert!(
        run.stdout.contains("fix: run `hitl setup`"),
        "{}",
        run.stdout
    );
    let run = operator.run(&["teardown"]).await.expect(0);
    assert!(run.stdout.contains("Nothing to remove"), "{}", run.stdout);

    operator.run(&["setup"]).await.expect(0);
    assert_eq!(
        operator.counts(),
        (1, 1),
        "teardown then setup: one of each"
    );
    operator.run(&["doctor"]).await.expect(0);
}

#[tokio::test]
async fn oauth_listen_serves_the_redirect_and_exchanges_the_code() {
    let operator = Operator::start().await;
    operator.stack.hubspot.add_authorization_code("code-listen");
    let port = hitl_sandbox::ports::port_for_a_child().unwrap();
    let redirect = format!("http://127.0.0.1:{port}/oauth/callback");
    let mut child = command(
        &operator.env,
        &[
            "oauth",
            "listen",
            "--redirect-uri",
            &redirect,
            "--timeout",
            "30",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut state = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("https://app.hubspot.com/oauth/authorize?") {
            let url = reqwest::Url::parse(&line).unwrap();
            assert_eq!(
                url.query_pairs()
                    .find(|(k, _)| k == "redirect_uri")
                    .unwrap()
                    .1,
                redirect
            );
            state = url
                .query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned());
        }
        if line.starts_with("Waiting for HubSpot") {
            break;
        }
    }
    let state = state.expect("the authorize URL carries a state");
    let page = reqwest::get(format!("{redirect}?code=code-listen&state={state}"))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(
        rest.contains("Stored the refresh token in the local store"),
        "{rest}"
    );
    operator.run(&["inboxes"]).await.expect(0);
}

#[tokio::test]
async fn with_secret_id_the_grant_goes_into_the_secret_and_setup_uses_it() {
    let operator = Operator::start().await;
    let endpoint = std::env::var("HITL_TEST_AWS_ENDPOINT")
        .expect("needs a moto server: run scripts/test, or set HITL_TEST_AWS_ENDPOINT");
    let sdk = hitl_sandbox::moto::sdk_config(
        &endpoint,
        hitl_bridge::adapters::aws_http::sdk_http_client(),
    )
    .await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (table, secret_id) = (format!("cli-{suffix}"), format!("cli/{suffix}"));
    DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    let secrets = &operator.stack.secrets;
    let secrets_manager = aws_sdk_secretsmanager::Client::new(&sdk);
    secrets_manager
        .create_secret()
        .name(&secret_id)
        .secret_string(
            json!({
                "hubspotClientSecret": secrets.hubspot_client_secret.expose_secret(),
                "hubspotDeveloperApiKey": secrets.hubspot_developer_api_key.expose_secret(),
                "hubspotRefreshToken": "REPLACE-ME-after-install",
                "botpressToken": secrets.botpress_token.expose_secret(),
                "botpressSharedSecret": secrets.botpress_shared_secret.expose_secret(),
                "operatorNote": "kept",
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let mut env: Vec<(String, String)> = operator
        .env
        .iter()
        .filter(|(key, _)| {
            !matches!(
                key.as_str(),
                "HUBSPOT_CLIENT_SECRET"
                    | "HUBSPOT_DEVELOPER_API_KEY"
                    | "BOTPRESS_TOKEN"
                    | "BOTPRESS_SHARED_SECRET"
                    | "HITL_DB"
            )
        })
        .cloned()
        .collect();
    for (name, value) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        env.push((name.to_string(), value.to_string()));
    }
    let aws = ["--secret-id", secret_id.as_str(), "--table", table.as_str()];
    let with = |args: &[&'static str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain(aws.iter().map(|a| a.to_string()))
            .collect()
    };
    let call = |args: Vec<String>| {
        let env = env.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with(&env, &args).await
        }
    };

    operator.stack.hubspot.add_authorization_code("code-aws");
    let run = call(vec![
        "oauth".into(),
        "exchange".into(),
        "--code".into(),
        "code-aws".into(),
        "--secret-id".into(),
        secret_id.clone(),
    ])
    .await
    .expect(0);
    assert!(
        run.stdout
            .contains(&format!("Secrets Manager secret {secret_id}")),
        "{}",
        run.stdout
    );
    let stored: Value = serde_json::from_str(
        secrets_manager
            .get_secret_value()
            .secret_id(&secret_id)
            .send()
            .await
            .unwrap()
            .secret_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored["hubspotRefreshToken"],
        operator.stack.hubspot.current_refresh_token().as_str()
    );
    assert_eq!(stored["operatorNote"], "kept");
    assert!(stored["hubspotAccessToken"].is_string());

    // A table that does not exist: exit 1 (fix it), not 4 (try again), naming the table,
    // and nothing created in HubSpot before the store was found unusable; so too when the
    // access token has run out, and its refresh would take a lock in that table.
    let mut expired = stored.clone();
    expired["hubspotAccessTokenExpiresAt"] = json!("2020-01-01T00:00:00Z");
    secrets_manager
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(expired.to_string())
        .send()
        .await
        .unwrap();
    let run = call(vec![
        "setup".into(),
        "--secret-id".into(),
        secret_id.clone(),
        "--table".into(),
        "cli-no-such-table".into(),
    ])
    .await
    .expect(1);
    assert!(
        run.stderr.contains("ResourceNotFoundException"),
        "{}",
        run.stderr
    );
    assert_eq!(
        operator.counts(),
        (0, 0),
        "no channel made for a failed setup"
    );

    call(with(&["setup"])).await.expect(0);
    // A customer record as an older version saved it, without an expiry: setup gives it one.
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    dynamodb
        .put_item()
        .table_name(&table)
        .item(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("CUSTOMER#bot#older".into()),
        )
        .send()
        .await
        .unwrap();
    let again = call(with(&["setup"])).await.expect(0);
    assert!(again.stdout.contains("found, reused"), "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains("Gave 1 customer record an older version"),
        "{}",
        again.stdout
    );
    let older = dynamodb
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("CUSTOMER#bot#older".into()),
        )
        .send()
        .await
        .unwrap();
    assert!(older.item.unwrap().contains_key("ttl"));
    assert_eq!(operator.counts(), (1, 1));
    let run = call(with(&["doctor"])).await.expect(0);
    assert!(
        run.stdout
            .contains(&format!("the Secrets Manager secret {secret_id}")),
        "{}",
        run.stdout
    );

    // --secret-id without --table: exit 3 saying what is missing.
    let run = call(vec![
        "setup".into(),
        "--secret-id".into(),
        secret_id.clone(),
    ])
    .await
    .expect(3);
    assert!(run.stderr.contains("--table"), "{}", run.stderr);
    // A secret that does not exist: exit 3 naming it.
    let run = call(vec![
        "setup".into(),
        "--secret-id".into(),
        "cli/missing".into(),
        "--table".into(),
        table.clone(),
    ])
    .await
    .expect(3);
    assert!(run.stderr.contains("cli/missing"), "{}", run.stderr);
    // Secrets Manager out of reach: exit 4 (try again), not 3 (fix the configuration).
    let unreachable: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| match name.as_str() {
            "AWS_ENDPOINT_URL" => (name.clone(), "http://127.0.0.1:9".to_string()),
            _ => (name.clone(), value.clone()),
        })
        .collect();
    let run = run_with(
        &unreachable,
        &["inboxes", "--secret-id", &secret_id, "--table", &table],
    )
    .await
    .expect(4);
    assert!(run.stderr.contains(&secret_id), "{}", run.stderr);
}

/// HubSpot takes an authorization code once: a store `hitl oauth exchange` cannot open is
/// found before the code is spent, so the same code works once the path is mended.
#[tokio::test]
async fn an_unusable_store_is_found_before_the_code_is_spent() {
    let operator = Operator::start().await;
    operator.stack.hubspot.add_authorization_code("code-once");
    let nowhere = std::env::temp_dir()
        .join(format!(
            "hitl-no-such-dir-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .join("hitl.db");
    let refused = run_with(
        &operator.with("HITL_DB", &nowhere.display().to_string()),
        &["oauth", "exchange", "--code", "code-once"],
    )
    .await
    .expect(3);
    assert!(refused.stderr.contains("opening"), "{}", refused.stderr);
    operator
        .run(&["oauth", "exchange", "--code", "code-once"])
        .await
        .expect(0);
}

/// `hitl serve` with no grant stored and none configured: exit 3 (configuration), naming the
/// database it looked in and how to fill it.
#[tokio::test]
async fn serve_without_a_grant_names_the_database_and_exits_3() {
    let operator = Operator::start().await;
    let port = hitl_sandbox::ports::port_for_a_child().unwrap();
    let run = run_with(
        &operator.with("HUBSPOT_REFRESH_TOKEN", ""),
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
    )
    .await
    .expect(3);
    assert!(
        run.stderr.contains("hitl.db") && run.stderr.contains("hitl oauth exchange"),
        "{}",
        run.stderr
    );
}

/// `hitl serve` with a configured grant and a store it cannot open: exit 3 (configuration)
/// naming the path, as the operator's commands do.
#[tokio::test]
async fn serve_with_a_store_it_cannot_open_names_it_and_exits_3() {
    let operator = Operator::start().await;
    let nowhere = std::env::temp_dir()
        .join(format!(
            "hitl-no-such-dir-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .join("hitl.db")
        .display()
        .to_string();
    let mut env = operator.with("HITL_DB", &nowhere);
    env.push((
        "HUBSPOT_REFRESH_TOKEN".into(),
        "configured-refresh-token".into(),
    ));
    let port = hitl_sandbox::ports::port_for_a_child().unwrap();
    let run = run_with(&env, &["serve", "--listen", &format!("127.0.0.1:{port}")])
        .await
        .expect(3);
    assert!(run.stderr.contains(&nowhere), "{}", run.stderr);
}

/// After `hitl oauth exchange`, `hitl serve` runs on the stored grant: HUBSPOT_REFRESH_TOKEN
/// is not needed (the environment here never sets it).
#[tokio::test]
async fn serve_runs_on_the_grant_oauth_exchange_stored() {
    let operator = operator_with_an_exchanged_grant("code-serve").await;
    assert!(
        !operator
            .env
            .iter()
            .any(|(name, _)| name == "HUBSPOT_REFRESH_TOKEN")
    );

    let (mut serve, base) = serve_on_the_stored_grant(&operator).await;
    let caller = operator.stack.caller.clone();
    let caller = hitl_sandbox::botpress::BotpressCaller::new(
        &format!("{base}/botpress"),
        caller.identity().clone(),
        hitl_cli::sandbox_stack::SANDBOX_SHARED_SECRET,
    );
    let registered = caller.register("https://example.com/unused").await;
    assert_eq!(
        registered.status, 200,
        "the stored grant reached HubSpot: {}",
        registered.text
    );

    // A process manager stops it with SIGTERM: it finishes what is in flight and exits 0.
    terminate(&serve);
    let exited = tokio::time::timeout(std::time::Duration::from_secs(10), serve.wait())
        .await
        .expect("hitl serve stops on SIGTERM")
        .unwrap();
    assert!(
        exited.success(),
        "hitl serve exits cleanly on SIGTERM: {exited}"
    );
}

/// A first SIGTERM waits for the request in flight (stuck here on a HubSpot that answers after
/// 30 s); a second stops at once, with exit code 130.
#[tokio::test]
async fn a_second_stop_signal_stops_serve_without_waiting() {
    let operator = operator_with_an_exchanged_grant("code-twice").await;
    let (mut serve, base) = serve_on_the_stored_grant(&operator).await;
    operator
        .stack
        .hubspot
        .faults()
        .set_latency(std::time::Duration::from_secs(30));
    let caller = hitl_sandbox::botpress::BotpressCaller::new(
        &format!("{base}/botpress"),
        operator.stack.caller.identity().clone(),
        hitl_cli::sandbox_stack::SANDBOX_SHARED_SECRET,
    );
    let in_flight = tokio::spawn(async move { caller.register("https://example.com/x").await });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    terminate(&serve);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(
        serve.try_wait().unwrap().is_none(),
        "the first SIGTERM waits for the request in flight"
    );
    terminate(&serve);
    let exited = tokio::time::timeout(std::time::Duration::from_secs(5), serve.wait())
        .await
        .expect("the second SIGTERM stops hitl serve at once")
        .unwrap();
    assert_eq!(exited.code(), Some(130), "{exited}");
    in_flight.abort();
}

/// An operator who ran `hitl oauth exchange` with `code`: the grant is in the store only.
async fn operator_with_an_exchanged_grant(code: &str) -> Operator {
    let operator = Operator::start().await;
    operator.stack.hubspot.add_authorization_code(code);
    operator
        .run(&["oauth", "exchange", "--code", code])
        .await
        .expect(0);
    operator
}

/// `hitl serve` on the grant `hitl oauth exchange` stored (no HUBSPOT_REFRESH_TOKEN), once it
/// answers `/healthz`; and its base URL.
async fn serve_on_the_stored_grant(operator: &Operator) -> (tokio::process::Child, String) {
    let port = hitl_sandbox::ports::port_for_a_child().unwrap();
    let serve = command(
        &operator.env,
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
    )
    .stdout(Stdio::null())
    .kill_on_drop(true)
    .spawn()
    .expect("hitl serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{base}/healthz")).await {
            healthy = response.status().is_success();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(healthy, "hitl serve came up without HUBSPOT_REFRESH_TOKEN");
    (serve, base)
}

fn terminate(process: &tokio::process::Child) {
    let pid = process.id().expect("the process is running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn setup_connects_more_inboxes_once_and_inboxes_and_doctor_show_them() {
    let operator = Operator::start().await;
    let hubspot = &operator.stack.hubspot;
    hubspot.add_authorization_code("code-inboxes");
    operator
        .run(&["oauth", "exchange", "--code", "code-inboxes"])
        .await
        .expect(0);
    hubspot.add_inbox("2001", "Billing", true);

    let first = operator
        .run(&["setup", "--inbox", "Billing"])
        .await
        .expect(0);
    assert!(
        first
            .stdout
            .contains("on Help Desk inbox 2001 (Billing): created and authorized"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains(", the default: created"),
        "{}",
        first.stdout
    );
    assert_eq!(operator.counts(), (1, 2), "the default inbox and Billing");
    let second = operator.run(&["setup", "--inbox", "2001"]).await.expect(0);
    assert!(second.stdout.contains("Nothing to do"), "{}", second.stdout);
    let plain = operator.run(&["setup"]).await.expect(0);
    assert!(
        plain.stdout.contains("2001 (Billing): found, reused"),
        "inboxes connected earlier stay: {}",
        plain.stdout
    );
    assert_eq!(operator.counts(), (1, 2), "setup again: nothing new");

    let unknown = operator.run(&["setup", "--inbox", "Sales"]).await.expect(1);
    assert!(unknown.stderr.contains("`Sales`"), "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("2001 (Billing)"),
        "{}",
        unknown.stderr
    );
    assert_eq!(operator.counts(), (1, 2));

    let inboxes = operator.run(&["inboxes"]).await.expect(0);
    assert!(
        inboxes
            .stdout
            .lines()
            .any(|line| line.starts_with("2001") && line.contains("connected: channel account")),
        "{}",
        inboxes.stdout
    );
    let doctor = operator.run(&["doctor"]).await.expect(0);
    assert!(
        doctor
            .stdout
            .contains("ok    inbox 2001 (Billing) connected"),
        "{}",
        doctor.stdout
    );

    // Creating missing contacts needs one more scope, asked for only when switched on.
    let url = run_with(
        &operator.with("HUBSPOT_CREATE_MISSING_CONTACTS", "true"),
        &["oauth", "url"],
    )
    .await
    .expect(0);
    assert!(
        url.stdout
            .contains("crm.objects.contacts.read%20crm.objects.contacts.write"),
        "{}",
        url.stdout
    );
}

/// A channel whose capabilities an older version declared (before visitors): `doctor` names
/// it and the fix, and `setup` brings it up to date, after which `doctor` passes.
#[tokio::test]
async fn doctor_names_a_channel_an_older_version_declared_and_setup_updates_it() {
    let operator = operator_with_an_exchanged_grant("code-older-channel").await;
    let older = json!({
        "deliveryIdentifierTypes": ["HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER"],
        "threadingModel": "INTEGRATION_THREAD_ID",
        "allowConversationStart": true,
        "allowOutgoingMessages": true,
    });
    operator.stack.hubspot.add_channel(
        "Botpress handoff",
        &operator.stack.settings.hubspot_webhook_url(),
        older,
    );
    let run = operator.run(&["doctor"]).await.expect(1);
    assert!(
        run.stdout
            .contains("FAIL  custom channel declares this version's capabilities"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: run `hitl setup`"),
        "{}",
        run.stdout
    );

    operator.run(&["setup"]).await.expect(0);
    let run = operator.run(&["doctor"]).await.expect(0);
    assert!(run.stdout.contains("All checks passed"), "{}", run.stdout);
    let capabilities = &operator.stack.hubspot.channels()[0]["capabilities"];
    assert!(
        capabilities["deliveryIdentifierTypes"]
            .as_array()
            .is_some_and(|types| types.contains(&json!("CHANNEL_SPECIFIC_OPAQUE_ID"))),
        "{capabilities}"
    );
}
