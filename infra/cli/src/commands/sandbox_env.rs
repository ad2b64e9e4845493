//! With `hitl serve --sandbox`: the environment that points the operator's commands at the
//! simulated HubSpot and Botpress, and a one-time authorization code for `hitl oauth exchange`.

use hitl_cli::sandbox_stack::SandboxStack;

/// Adds an authorization code to the simulated HubSpot and prints the `export` lines.
pub fn print(stack: &SandboxStack) {
    let code = format!(
        "sandbox-code-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    stack.hubspot.add_authorization_code(&code);
    println!(
        "\nTo run the operator's commands (hitl oauth, inboxes, setup, doctor…) against this sandbox:"
    );
    // The walkthrough has the operator find the inbox id with `hitl inboxes`.
    for (name, value) in stack
        .operator_environment("sandbox-cli.db")
        .into_iter()
        .filter(|(name, _)| *name != "HUBSPOT_HELP_DESK_ID")
    {
        println!("  export {name}='{value}'");
    }
    println!(
        "  # the simulated install's authorization code (single use): hitl oauth exchange --code {code}"
    );
}
