//! The Secrets Manager vault against moto (`scripts/test` starts it and sets
//! `HITL_TEST_AWS_ENDPOINT`). Each test works on a secret of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::Credentials;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Form, Json, Router};
use hitl_bridge::adapters::oauth::{OAuthSettings, OAuthTokens, fingerprint};
use hitl_bridge::adapters::secrets_manager::{SecretsError, SecretsManagerVault};
use hitl_bridge::ports::{
    AccessTokens, RefreshLock, StoreError, StoredTokens, SystemClock, TokenVault,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

async fn client() -> Client {
    Client::new(&sdk_config().await)
}

async fn sdk_config() -> aws_config::SdkConfig {
    let endpoint = std::env::var("HITL_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "HITL_TEST_AWS_ENDPOINT is not set: run scripts/test, which starts moto and sets it \
             (or start `moto_server -p PORT` and set HITL_TEST_AWS_ENDPOINT=http://127.0.0.1:PORT)"
        )
    });
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .http_client(hitl_bridge::adapters::aws_http::sdk_http_client())
        .load()
        .await
}

fn unique(name: &str) -> String {
    format!("hitl-test/{name}/{}", uuid::Uuid::new_v4())
}

fn operator_secret() -> Value {
    json!({
        "hubspotClientSecret": "cs-secret-value",
        "hubspotDeveloperApiKey": "dk-secret-value",
        "hubspotRefreshToken": "rt-0",
        "botpressToken": "bt-secret-value",
        "botpressSharedSecret": "ss-secret-value",
        "operatorNote": {"rotated": "2026-01-01", "by": ["ops", 7, 2.5, true, null]},
    })
}

/// Creates a secret holding `value` and returns a vault over it.
async fn vault_with(name: &str, value: &str) -> (Client, SecretsManagerVault, String) {
    let client = client().await;
    let id = unique(name);
    client
        .create_secret()
        .name(&id)
        .secret_string(value)
        .send()
        .await
        .expect("moto creates the secret");
    (client.clone(), SecretsManagerVault::new(client, &id), id)
}

async fn current(client: &Client, id: &str) -> Value {
    let answer = client
        .get_secret_value()
        .secret_id(id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap();
    serde_json::from_str(answer.secret_string().unwrap()).unwrap()
}

async fn operator_puts(client: &Client, id: &str, value: &Value) {
    client
        .put_secret_value()
        .secret_id(id)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
}

const SECRET_VALUES: [&str; 5] = [
    "cs-secret-value",
    "dk-secret-value",
    "bt-secret-value",
    "ss-secret-value",
    "rt-0",
];

fn assert_no_secret_in(text: &str) {
    for value in SECRET_VALUES {
        assert!(!text.contains(value), "{value} leaked into: {text}");
    }
}

#[tokio::test]
async fn reads_the_bridge_secrets() {
    let (_, vault, _) = vault_with("read", &operator_secret().to_string()).await;
    let secrets = vault.read_secrets().await.unwrap();
    assert_eq!(
        secrets.hubspot_client_secret.expose_secret(),
        "cs-secret-value"
    );
    assert_eq!(
        secrets.hubspot_developer_api_key.expose_secret(),
        "dk-secret-value"
    );
    assert_eq!(secrets.hubspot_refresh_token.expose_secret(), "rt-0");
    assert_eq!(secrets.botpress_token.expose_secret(), "bt-secret-value");
    assert_eq!(
        secrets.botpress_shared_secret.expose_secret(),
        "ss-secret-value"
    );
    assert_no_secret_in(&format!("{secrets:?} {vault:?}"));
}

#[tokio::test]
async fn names_every_missing_field_and_no_value() {
    let mut value = operator_secret();
    let fields = value.as_object_mut().unwrap();
    fields.remove("hubspotDeveloperApiKey");
    fields.insert("botpressToken".into(), json!(""));
    let (_, vault, id) = vault_with("missing-field", &value.to_string()).await;
    let error = vault.read_secrets().await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, SecretsError::Incomplete { .. }),
        "{message}"
    );
    assert!(message.contains(&id), "{message}");
    assert!(
        message.contains("hubspotDeveloperApiKey is not set"),
        "{message}"
    );
    assert!(message.contains("botpressToken is not set"), "{message}");
    assert!(!message.contains("hubspotClientSecret is"), "{message}");
    assert_no_secret_in(&message);
    assert_no_secret_in(&format!("{error:?}"));
}

#[tokio::test]
async fn malformed_json_is_named_without_printing_it() {
    let text = "{\"hubspotClientSecret\": \"cs-secret-value\", \"botpressToken\": bt-secret-value}";
    let (_, vault, id) = vault_with("malformed", text).await;
    let error = vault.read_secrets().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SecretsError::Malformed { .. }), "{message}");
    assert!(
        message.contains(&id) && message.contains("invalid JSON"),
        "{message}"
    );
    assert_no_secret_in(&message);
    assert_no_secret_in(&format!("{error:?}"));

    let load_error = vault.load().await.unwrap_err().to_string();
    assert!(load_error.contains("invalid JSON"), "{load_error}");
    assert_no_secret_in(&load_error);
}

#[tokio::test]
async fn a_missing_secret_says_which_and_to_create_it() {
    let id = unique("never-created");
    let vault = SecretsManagerVault::new(client().await, &id);
    let error = vault.read_secrets().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SecretsError::NotFound { .. }), "{message}");
    assert!(
        message.contains(&format!("`{id}` does not exist: create it")),
        "{message}"
    );

    let load = vault.load().await.unwrap_err().to_string();
    assert!(load.contains("does not exist"), "{load}");
    let save = vault.save(&tokens("rt-1", Some("at-1"), "rt-0")).await;
    assert!(save.unwrap_err().to_string().contains("does not exist"));
}

fn tokens(refresh: &str, access: Option<&str>, loaded_from: &str) -> StoredTokens {
    StoredTokens {
        refresh_token: SecretString::from(refresh),
        access_token: access.map(SecretString::from),
        access_token_expires_at: access.map(|_| "2026-11-24T10:00:00Z".parse().unwrap()),
        seed_fingerprint: fingerprint(&SecretString::from(loaded_from)),
        portal_id: None,
    }
}

#[tokio::test]
async fn load_and_save_round_trip_keeping_every_other_field() {
    let (client, vault, id) = vault_with("round-trip", &operator_secret().to_string()).await;
    let loaded = vault
        .load()
        .await
        .unwrap()
        .expect("the operator stored a grant");
    assert_eq!(loaded.refresh_token.expose_secret(), "rt-0");
    assert!(loaded.access_token.is_none() && loaded.access_token_expires_at.is_none());
    assert_eq!(
        loaded.seed_fingerprint,
        fingerprint(&SecretString::from("rt-0"))
    );

    vault
        .save(&tokens("rt-1", Some("at-1"), "rt-0"))
        .await
        .unwrap();
    let mut expected = operator_secret();
    expected["hubspotRefreshToken"] = json!("rt-1");
    expected["hubspotAccessToken"] = json!("at-1");
    expected["hubspotAccessTokenExpiresAt"] = json!("2026-11-24T10:00:00Z");
    assert_eq!(current(&client, &id).await, expected);

    let reloaded = vault.load().await.unwrap().unwrap();
    assert_eq!(reloaded.refresh_token.expose_secret(), "rt-1");
    assert_eq!(reloaded.access_token.unwrap().expose_secret(), "at-1");
    assert_eq!(
        reloaded.access_token_expires_at,
        Some("2026-11-24T10:00:00Z".parse().unwrap())
    );

    // A save without an access token removes the stored one, nothing else.
    vault.save(&tokens("rt-2", None, "rt-1")).await.unwrap();
    let mut expected = operator_secret();
    expected["hubspotRefreshToken"] = json!("rt-2");
    assert_eq!(current(&client, &id).await, expected);
}

#[tokio::test]
async fn no_refresh_token_in_the_secret_means_no_grant() {
    let mut value = operator_secret();
    value.as_object_mut().unwrap().remove("hubspotRefreshToken");
    let (_, vault, _) = vault_with("no-grant", &value.to_string()).await;
    assert!(vault.load().await.unwrap().is_none());
}

#[tokio::test]
async fn save_keeps_what_the_operator_changed_after_the_load() {
    let (client, vault, id) = vault_with("operator-edit", &operator_secret().to_string()).await;
    let loaded = vault.load().await.unwrap().unwrap();

    // The operator edits the secret in the console while the bridge refreshes.
    let mut edited = operator_secret();
    edited["botpressToken"] = json!("bt-new-value");
    edited["newOperatorField"] = json!("kept");
    operator_puts(&client, &id, &edited).await;

    vault
        .save(&StoredTokens {
            refresh_token: SecretString::from("rt-1"),
            access_token: Some(SecretString::from("at-1")),
            access_token_expires_at: Some("2026-11-24T10:00:00Z".parse().unwrap()),
            ..loaded
        })
        .await
        .unwrap();
    let mut expected = edited.clone();
    expected["hubspotRefreshToken"] = json!("rt-1");
    expected["hubspotAccessToken"] = json!("at-1");
    expected["hubspotAccessTokenExpiresAt"] = json!("2026-11-24T10:00:00Z");
    assert_eq!(current(&client, &id).await, expected);
}

#[tokio::test]
async fn save_keeps_a_refresh_token_the_operator_stored_after_the_load() {
    let mut stale = operator_secret();
    stale["hubspotAccessToken"] = json!("at-old");
    stale["hubspotAccessTokenExpiresAt"] = json!("2026-11-24T09:00:00Z");
    let (client, vault, id) = vault_with("operator-reinstall", &stale.to_string()).await;
    let loaded = vault.load().await.unwrap().unwrap();

    // The operator reinstalls the app and pastes the new grant (and a new Botpress token).
    let mut edited = operator_secret();
    edited["hubspotRefreshToken"] = json!("rt-reinstalled");
    edited["botpressToken"] = json!("bt-new-value");
    operator_puts(&client, &id, &edited).await;

    vault
        .save(&StoredTokens {
            refresh_token: SecretString::from("rt-1"),
            access_token: Some(SecretString::from("at-1")),
            access_token_expires_at: Some("2026-11-24T10:00:00Z".parse().unwrap()),
            ..loaded
        })
        .await
        .unwrap();
    assert_eq!(current(&client, &id).await, edited);
    let now = vault.load().await.unwrap().unwrap();
    assert_eq!(now.refresh_token.expose_secret(), "rt-reinstalled");
    assert!(now.access_token.is_none());
}

/// A lock nobody else wants: the cross-process race is tested with the DynamoDB lock.
struct FreeLock;

#[async_trait]
impl RefreshLock for FreeLock {
    async fn try_lock(&self, _lease: Duration) -> Result<Option<String>, StoreError> {
        Ok(Some("test".to_string()))
    }

    async fn unlock(&self, _holder: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A token endpoint that rotates the refresh token on every refresh and refuses old ones.
#[derive(Default)]
struct TokenServer {
    valid_refresh_token: String,
    refreshes: u32,
}

async fn token_endpoint(
    State(server): State<Arc<Mutex<TokenServer>>>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let mut server = server.lock().unwrap();
    let offered = form.get("refresh_token").map(String::as_str);
    if form.get("grant_type").map(String::as_str) != Some("refresh_token")
        || form.get("client_secret").map(String::as_str) != Some("cs-secret-value")
        || offered != Some(server.valid_refresh_token.as_str())
    {
        let body =
            json!({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"});
        return (StatusCode::BAD_REQUEST, Json(body));
    }
    server.refreshes += 1;
    let n = server.refreshes;
    server.valid_refresh_token = format!("rt-{n}");
    let body = json!({
        "token_type": "bearer",
        "access_token": format!("at-{n}"),
        "refresh_token": format!("rt-{n}"),
        "expires_in": 1800,
    });
    (StatusCode::OK, Json(body))
}

async fn start_token_server(first_refresh_token: &str) -> (String, Arc<Mutex<TokenServer>>) {
    let state = Arc::new(Mutex::new(TokenServer {
        valid_refresh_token: first_refresh_token.to_string(),
        refreshes: 0,
    }));
    let app = Router::new()
        .route("/oauth/v1/token", post(token_endpoint))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/oauth/v1/token"), state)
}

async fn oauth_over(vault: &SecretsManagerVault, token_url: &str) -> OAuthTokens {
    let secrets = vault.read_secrets().await.unwrap();
    OAuthTokens::new(
        hitl_bridge::adapters::build_http_client(),
        OAuthSettings {
            token_url: token_url.to_string(),
            client_id: "client".to_string(),
            client_secret: secrets.hubspot_client_secret,
            seed_refresh_token: None,
        },
        Arc::new(vault.clone()),
        Arc::new(FreeLock),
        Arc::new(SystemClock),
    )
}

#[tokio::test]
async fn oauth_writes_rotated_refresh_tokens_back_for_the_next_process() {
    let (client, vault, id) = vault_with("oauth", &operator_secret().to_string()).await;
    let (token_url, server) = start_token_server("rt-0").await;

    let first = oauth_over(&vault, &token_url).await;
    assert_eq!(first.access_token().await.unwrap().expose_secret(), "at-1");
    let stored = current(&client, &id).await;
    assert_eq!(stored["hubspotRefreshToken"], "rt-1");
    assert_eq!(stored["hubspotAccessToken"], "at-1");
    assert!(stored["hubspotAccessTokenExpiresAt"].is_string());
    for field in ["hubspotClientSecret", "botpressToken", "operatorNote"] {
        assert_eq!(stored[field], operator_secret()[field], "{field}");
    }

    // Another execution environment, later: adopts the stored access token, then refreshes
    // with the rotated refresh token (the original one is dead by now).
    let second = oauth_over(&vault, &token_url).await;
    assert_eq!(second.access_token().await.unwrap().expose_secret(), "at-1");
    second.refresh_now().await.unwrap();
    assert_eq!(second.access_token().await.unwrap().expose_secret(), "at-2");
    assert_eq!(current(&client, &id).await["hubspotRefreshToken"], "rt-2");

    // The first one's next refresh re-reads the secret and uses the newest token too.
    first.refresh_now().await.unwrap();
    assert_eq!(first.access_token().await.unwrap().expose_secret(), "at-3");
    let stored = current(&client, &id).await;
    assert_eq!(stored["hubspotRefreshToken"], "rt-3");
    assert_eq!(server.lock().unwrap().refreshes, 3);
    let mut expected = operator_secret();
    for field in [
        "hubspotRefreshToken",
        "hubspotAccessToken",
        "hubspotAccessTokenExpiresAt",
    ] {
        expected[field] = stored[field].clone();
    }
    assert_eq!(stored, expected);
}

/// The vault, counting its reads.
struct CountedVault {
    vault: SecretsManagerVault,
    loads: Mutex<u32>,
}

#[async_trait]
impl TokenVault for CountedVault {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        *self.loads.lock().unwrap() += 1;
        self.vault.load().await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        self.vault.save(tokens).await
    }
}

#[tokio::test]
async fn the_grant_read_with_the_secrets_serves_the_first_token_without_reading_again() {
    let mut secret = operator_secret();
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    secret["hubspotAccessToken"] = json!("at-stored");
    secret["hubspotAccessTokenExpiresAt"] = json!(in_an_hour.to_rfc3339());
    let (client, vault, id) = vault_with("grant-at-start", &secret.to_string()).await;
    let (token_url, server) = start_token_server("rt-reinstalled").await;

    // A cold start: one read gives the secrets and the grant.
    let (secrets, grant) = vault.read_secrets_and_grant().await.unwrap();
    let grant = grant.expect("the secret holds a grant");
    assert_eq!(grant.refresh_token.expose_secret(), "rt-0");
    let counted = Arc::new(CountedVault {
        vault: vault.clone(),
        loads: Mutex::new(0),
    });
    let tokens = OAuthTokens::new(
        hitl_bridge::adapters::build_http_client(),
        OAuthSettings {
            token_url,
            client_id: "client".to_string(),
            client_secret: secrets.hubspot_client_secret,
            seed_refresh_token: None,
        },
        counted.clone(),
        Arc::new(FreeLock),
        Arc::new(SystemClock),
    )
    .starting_from(grant);

    assert_eq!(
        tokens.access_token().await.unwrap().expose_secret(),
        "at-stored"
    );
    assert_eq!(
        *counted.loads.lock().unwrap(),
        0,
        "the first token read the secret again"
    );

    // A refresh still starts from the secret as it is now, not from the copy read at start:
    // the operator has reinstalled the app since, and only the new refresh token is valid.
    let mut reinstalled = secret.clone();
    reinstalled["hubspotRefreshToken"] = json!("rt-reinstalled");
    operator_puts(&client, &id, &reinstalled).await;
    tokens.refresh_now().await.unwrap();
    assert_eq!(*counted.loads.lock().unwrap(), 1);
    assert_eq!(tokens.access_token().await.unwrap().expose_secret(), "at-1");
    assert_eq!(server.lock().unwrap().refreshes, 1);
    assert_eq!(current(&client, &id).await["hubspotRefreshToken"], "rt-1");
}

#[tokio::test]
async fn a_bridge_built_on_aws_takes_its_first_token_from_the_secret_it_read_at_start() {
    let mut secret = operator_secret();
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    secret["hubspotAccessToken"] = json!("at-read-at-start");
    secret["hubspotAccessTokenExpiresAt"] = json!(in_an_hour.to_rfc3339());
    let (client, _vault, id) = vault_with("bridge-at-start", &secret.to_string()).await;
    let environment = HashMap::from([
        ("HUBSPOT_APP_ID", "1".to_string()),
        ("HUBSPOT_CLIENT_ID", "client".to_string()),
        ("HUBSPOT_HELP_DESK_ID", "424242".to_string()),
        ("PUBLIC_BASE_URL", "https://bridge.example.com".to_string()),
        ("TABLE_NAME", "hitl-test-unused".to_string()),
        ("SECRET_ID", id.clone()),
    ]);
    let (settings, location) =
        hitl_bridge::config::aws_settings_from(&|name| environment.get(name).cloned()).unwrap();
    let bridge = hitl_bridge::app::aws::build_on_aws(&settings, &location, &sdk_config().await)
        .await
        .unwrap();

    // With the secret gone, only the grant read while building can give the token.
    client
        .delete_secret()
        .secret_id(&id)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let token = bridge.tokens.access_token().await.unwrap();
    assert_eq!(token.expose_secret(), "at-read-at-start");
}
