//! With `hitl serve --sandbox`: the environment that points the operator's commands at the
//! simulated HubSpot and Botpress, and a one-time authorization code for `hitl oauth exchange`.

use hitl_cli::sandbox_stack::SandboxStack;
use secrecy::ExposeSecret;

/// Adds an authorization code to the simulated HubSpot and prints the `export` lines.
pub fn print(stack: &SandboxStack) {
    let code = format!(
        "sandbox-code-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    stack.hubspot.add_authorization_code(&code);
    let settings = &stack.settings;
    let secrets = &stack.secrets;
    println!(
        "\nTo run the operator's commands (hitl oauth, inboxes, setup, doctor…) against this sandbox:"
    );
    for (name, value) in [
        ("PUBLIC_BASE_URL", settings.public_base_url.clone()),
        ("HUBSPOT_API_BASE", settings.hubspot_api_base.clone()),
        ("BOTPRESS_API_BASE", settings.botpress_api_base.clone()),
        ("HUBSPOT_APP_ID", settings.hubspot_app_id.to_string()),
        ("HUBSPOT_CLIENT_ID", settings.hubspot_client_id.clone()),
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
        ("BOTPRESS_BOT_ID", stack.botpress.config().bot_id.clone()),
        ("HITL_DB", "sandbox-cli.db".to_string()),
    ] {
        println!("  export {name}='{value}'");
    }
    println!(
        "  # the simulated install's authorization code (single use): hitl oauth exchange --code {code}"
    );
}
