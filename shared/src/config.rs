//! The bridge's settings: the same names in the local server, on Lambda and in tests.
//!
//! A missing or malformed setting stops start-up with a message naming it (all of them at
//! once, so an operator fixes a deployment in one pass, not one restart per variable).

use secrecy::SecretString;

/// Non-secret settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `HUBSPOT_API_BASE`, default `https://api.hubapi.com`.
    pub hubspot_api_base: String,
    /// `BOTPRESS_API_BASE`, default `https://api.botpress.cloud`.
    pub botpress_api_base: String,
    /// `PUBLIC_BASE_URL`: where HubSpot reaches us. Signatures are checked against it and the
    /// channel's `webhookUrl` is this plus [`HUBSPOT_WEBHOOK_PATH`].
    pub public_base_url: String,
    /// `HUBSPOT_APP_ID`.
    pub hubspot_app_id: u64,
    /// `HUBSPOT_CLIENT_ID`.
    pub hubspot_client_id: String,
    /// `HUBSPOT_HELP_DESK_ID`: the default Help Desk inbox: `register` connects the channel to
    /// it, and a handoff whose `hitlSession` names no inbox opens there.
    pub hubspot_help_desk_id: String,
    /// `HUBSPOT_OAUTH_TOKEN_PATH`, default `/oauth/2026-03/token` (HubSpot deprecates the v1
    /// path `/oauth/v1/token` on 2027-02-16; it stays selectable for accounts that need it).
    pub hubspot_oauth_token_path: String,
    /// `HUBSPOT_CHANNEL_NAME`, default `Botpress`: how the channel shows in HubSpot.
    pub hubspot_channel_name: String,
    /// `DEFAULT_PHONE_REGION` (ISO 3166, e.g. `US`): how to read phone numbers given without
    /// a country code. Unset: such numbers are refused.
    pub default_phone_region: Option<String>,
    /// `HUBSPOT_CREATE_MISSING_CONTACTS` (`true`/`false`, default `false`): whether
    /// `createUser` creates the HubSpot contact of a customer the CRM has not seen. Needs the
    /// `crm.objects.contacts.write` scope (`hitl oauth url` asks for it when this is on).
    pub create_missing_contacts: bool,
    /// `FILE_FETCH_TEST_ORIGINS`: `http://IP:port` origins the attachment fetcher may reach
    /// despite its https-only, public-addresses-only rule. Set by the sandbox for its simulators;
    /// leave unset in a deployment.
    pub file_fetch: crate::adapters::file_fetch::FetchPolicy,
}

/// Secrets. Their `Debug` prints nothing, so a logged config leaks none of them.
#[derive(Clone, Debug)]
pub struct Secrets {
    /// `HUBSPOT_CLIENT_SECRET`: the app's client secret; also the webhook signing key.
    pub hubspot_client_secret: SecretString,
    /// `HUBSPOT_DEVELOPER_API_KEY`: for the channel-level Custom Channels calls.
    pub hubspot_developer_api_key: SecretString,
    /// `HUBSPOT_REFRESH_TOKEN`: the OAuth grant of the installing account.
    pub hubspot_refresh_token: SecretString,
    /// `BOTPRESS_TOKEN`: the integration's access key for the Runtime API.
    pub botpress_token: SecretString,
    /// `BOTPRESS_SHARED_SECRET`: what Botpress presents as `sharedSecret` in the configuration.
    pub botpress_shared_secret: SecretString,
}

/// The path HubSpot posts webhooks to, below [`Settings::public_base_url`].
pub const HUBSPOT_WEBHOOK_PATH: &str = "/hubspot/webhook";
/// The path Botpress calls, below [`Settings::public_base_url`].
pub const BOTPRESS_PATH: &str = "/botpress";

impl Settings {
    /// The `webhookUrl` our custom channel must have.
    pub fn hubspot_webhook_url(&self) -> String {
        format!("{}{HUBSPOT_WEBHOOK_PATH}", self.public_base_url)
    }
}

/// Every setting that is missing or malformed, named.
#[derive(Debug, thiserror::Error)]
#[error("configuration is incomplete:\n  {}", problems.join("\n  "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Reads settings by name from a lookup (the environment, or a map in tests).
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    }

    fn required(&mut self, name: &str, what: &str) -> String {
        self.optional(name).unwrap_or_else(|| {
            self.problems.push(format!("{name} is not set ({what})"));
            String::new()
        })
    }

    fn url(&mut self, name: &str, default: Option<&str>, what: &str) -> String {
        let value = match default {
            Some(default) => self.optional(name).unwrap_or_else(|| default.to_string()),
            None => self.required(name, what),
        };
        if !value.is_empty() && !value.starts_with("https://") && !value.starts_with("http://") {
            self.problems.push(format!(
                "{name} must be an http(s) URL such as https://example.com, not `{value}`"
            ));
        }
        value.trim_end_matches('/').to_string()
    }

    /// A yes/no setting, `false` when unset.
    fn flag(&mut self, name: &str) -> bool {
        match self.optional(name).map(|value| value.to_ascii_lowercase()) {
            None => false,
            Some(value) if ["true", "1", "yes"].contains(&value.as_str()) => true,
            Some(value) if ["false", "0", "no"].contains(&value.as_str()) => false,
            Some(value) => {
                self.problems
                    .push(format!("{name} must be `true` or `false`, not `{value}`"));
                false
            }
        }
    }

    fn secret(&mut self, name: &str, what: &str) -> SecretString {
        SecretString::from(self.required(name, what))
    }
}

/// Reads the settings (not the secrets) from `lookup`.
pub fn settings_from(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let mut reader = Reader {
        lookup,
        problems: Vec::new(),
    };
    let settings = read_settings(&mut reader);
    finish(reader, settings)
}

/// Reads the secrets from `lookup` (the local server; Lambda reads them from Secrets Manager).
pub fn secrets_from(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Secrets, ConfigError> {
    let mut reader = Reader {
        lookup,
        problems: Vec::new(),
    };
    let secrets = read_secrets(&mut reader);
    finish(reader, secrets)
}

/// Reads settings and secrets together, reporting the problems of both at once.
pub fn from_lookup(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Settings, Secrets), ConfigError> {
    let mut reader = Reader {
        lookup,
        problems: Vec::new(),
    };
    let settings = read_settings(&mut reader);
    let secrets = read_secrets(&mut reader);
    finish(reader, (settings, secrets))
}

/// Where the bridge keeps its state on AWS: `TABLE_NAME` (DynamoDB) and `SECRET_ID` (the
/// Secrets Manager secret holding every secret; see README).
#[derive(Clone, Debug)]
pub struct AwsLocation {
    pub table_name: String,
    pub secret_id: String,
}

/// Reads the settings and the AWS location (the Lambda functions: secrets come from Secrets
/// Manager, never from the environment).
pub fn aws_settings_from(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Settings, AwsLocation), ConfigError> {
    let mut reader = Reader {
        lookup,
        problems: Vec::new(),
    };
    let settings = read_settings(&mut reader);
    let location = AwsLocation {
        table_name: reader.required("TABLE_NAME", "the DynamoDB table the template creates"),
        secret_id: reader.required("SECRET_ID", "the ARN or name of the Secrets Manager secret"),
    };
    finish(reader, (settings, location))
}

/// Reads settings and secrets from the process environment.
pub fn from_env() -> Result<(Settings, Secrets), ConfigError> {
    from_lookup(&|name| std::env::var(name).ok())
}

fn finish<T>(reader: Reader<'_>, value: T) -> Result<T, ConfigError> {
    if reader.problems.is_empty() {
        Ok(value)
    } else {
        Err(ConfigError {
            problems: reader.problems,
        })
    }
}

fn read_settings(reader: &mut Reader<'_>) -> Settings {
    let app_id_text = reader.required("HUBSPOT_APP_ID", "the HubSpot app's numeric id");
    let hubspot_app_id = if app_id_text.is_empty() {
        0
    } else {
        app_id_text.parse().unwrap_or_else(|_| {
            reader.problems.push(format!(
                "HUBSPOT_APP_ID must be the app's numeric id, not `{app_id_text}`"
            ));
            0
        })
    };
    let token_path = reader
        .optional("HUBSPOT_OAUTH_TOKEN_PATH")
        .unwrap_or_else(|| "/oauth/2026-03/token".to_string());
    if !token_path.starts_with('/') {
        reader.problems.push(format!(
            "HUBSPOT_OAUTH_TOKEN_PATH must be a path such as /oauth/2026-03/token, not `{token_path}`"
        ));
    }
    let file_fetch = crate::adapters::file_fetch::FetchPolicy::with_test_origins(
        &reader
            .optional("FILE_FETCH_TEST_ORIGINS")
            .unwrap_or_default(),
    )
    .unwrap_or_else(|problem| {
        reader.problems.push(problem);
        Default::default()
    });
    Settings {
        hubspot_api_base: reader.url("HUBSPOT_API_BASE", Some("https://api.hubapi.com"), ""),
        botpress_api_base: reader.url("BOTPRESS_API_BASE", Some("https://api.botpress.cloud"), ""),
        public_base_url: reader.url(
            "PUBLIC_BASE_URL",
            None,
            "the https URL where HubSpot and Botpress reach this bridge",
        ),
        hubspot_app_id,
        hubspot_client_id: reader.required("HUBSPOT_CLIENT_ID", "the HubSpot app's client id"),
        hubspot_help_desk_id: reader.required(
            "HUBSPOT_HELP_DESK_ID",
            "the id of the Help Desk inbox; `hitl inboxes` lists them",
        ),
        hubspot_oauth_token_path: token_path,
        hubspot_channel_name: reader
            .optional("HUBSPOT_CHANNEL_NAME")
            .unwrap_or_else(|| "Botpress".to_string()),
        default_phone_region: reader.optional("DEFAULT_PHONE_REGION"),
        create_missing_contacts: reader.flag("HUBSPOT_CREATE_MISSING_CONTACTS"),
        file_fetch,
    }
}

fn read_secrets(reader: &mut Reader<'_>) -> Secrets {
    Secrets {
        hubspot_client_secret: reader.secret(
            "HUBSPOT_CLIENT_SECRET",
            "the HubSpot app's client secret, from the app's Auth settings",
        ),
        hubspot_developer_api_key: reader.secret(
            "HUBSPOT_DEVELOPER_API_KEY",
            "the developer account's API key, for creating the custom channel",
        ),
        hubspot_refresh_token: reader.secret(
            "HUBSPOT_REFRESH_TOKEN",
            "the refresh token from installing the app in the Help Desk's account",
        ),
        botpress_token: reader.secret("BOTPRESS_TOKEN", "the integration's Botpress access key"),
        botpress_shared_secret: reader.secret(
            "BOTPRESS_SHARED_SECRET",
            "the secret entered as `sharedSecret` in the bot's integration configuration",
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn complete() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("PUBLIC_BASE_URL", "https://bridge.example.com/"),
            ("HUBSPOT_APP_ID", "1098266"),
            ("HUBSPOT_CLIENT_ID", "client"),
            ("HUBSPOT_HELP_DESK_ID", "1001"),
            ("HUBSPOT_CLIENT_SECRET", "s1"),
            ("HUBSPOT_DEVELOPER_API_KEY", "s2"),
            ("HUBSPOT_REFRESH_TOKEN", "s3"),
            ("BOTPRESS_TOKEN", "s4"),
            ("BOTPRESS_SHARED_SECRET", "s5"),
        ])
    }

    fn read(map: &HashMap<&str, &str>) -> Result<(Settings, Secrets), ConfigError> {
        from_lookup(&|name| map.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn a_complete_environment_reads_with_defaults() {
        let (settings, secrets) = read(&complete()).unwrap();
        assert_eq!(settings.hubspot_api_base, "https://api.hubapi.com");
        assert_eq!(settings.botpress_api_base, "https://api.botpress.cloud");
        assert_eq!(
            settings.hubspot_webhook_url(),
            "https://bridge.example.com/hubspot/webhook"
        );
        assert_eq!(settings.hubspot_app_id, 1098266);
        assert_eq!(secrets.botpress_shared_secret.expose_secret(), "s5");
    }

    #[test]
    fn every_missing_or_malformed_setting_is_named() {
        let mut env = complete();
        env.remove("HUBSPOT_CLIENT_SECRET");
        env.remove("BOTPRESS_TOKEN");
        env.insert("HUBSPOT_APP_ID", "abc");
        env.insert("HUBSPOT_API_BASE", "api.hubapi.com");
        let error = read(&env).unwrap_err().to_string();
        for name in [
            "HUBSPOT_CLIENT_SECRET",
            "BOTPRESS_TOKEN",
            "HUBSPOT_APP_ID",
            "HUBSPOT_API_BASE",
        ] {
            assert!(error.contains(name), "{name} missing from: {error}");
        }
    }

    #[test]
    fn creating_missing_contacts_is_off_unless_switched_on() {
        assert!(!read(&complete()).unwrap().0.create_missing_contacts);
        let mut env = complete();
        env.insert("HUBSPOT_CREATE_MISSING_CONTACTS", "TRUE");
        assert!(read(&env).unwrap().0.create_missing_contacts);
        env.insert("HUBSPOT_CREATE_MISSING_CONTACTS", "sometimes");
        let error = read(&env).unwrap_err().to_string();
        assert!(error.contains("HUBSPOT_CREATE_MISSING_CONTACTS"), "{error}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let (_, secrets) = read(&complete()).unwrap();
        let printed = format!("{secrets:?}");
        assert!(
            !printed.contains("s5") && !printed.contains("s1"),
            "{printed}"
        );
    }
}
