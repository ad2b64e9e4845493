//! Registering the integration, and how `/botpress` treats calls it must refuse.

use flow_support::{Path, on_both_paths, options, registered_stack};
use hitl_cli::sandbox_stack::SandboxStack;
use serde_json::json;

async fn registering_twice_creates_one_channel_and_one_channel_account(path: Path) {
    let stack = registered_stack(path).await;
    let first = stack
        .bridge
        .relay
        .store()
        .channel_setup()
        .await
        .unwrap()
        .unwrap();
    let again = stack.caller.register("https://example.com/unused").await;
    assert_eq!(again.status, 200, "{}", again.text);

    assert_eq!(stack.hubspot.channels().len(), 1, "no second channel");
    assert_eq!(
        stack.hubspot.channel_accounts().len(),
        1,
        "no second channel account"
    );
    let second = stack
        .bridge
        .relay
        .store()
        .channel_setup()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, second);

    let channel = &stack.hubspot.channels()[0];
    assert_eq!(
        channel["webhookUrl"],
        json!(stack.settings.hubspot_webhook_url())
    );
    assert_eq!(
        channel["capabilities"]["threadingModel"],
        "INTEGRATION_THREAD_ID"
    );
    assert_eq!(channel["capabilities"]["allowConversationStart"], true);
    assert_eq!(channel["capabilities"]["allowOutgoingMessages"], true);
    let account = &stack.hubspot.channel_accounts()[0];
    assert_eq!(
        account["inboxId"],
        json!(stack.settings.hubspot_help_desk_id)
    );
    assert_eq!(account["authorized"], true);

    let creates = stack
        .hubspot
        .recorder()
        .matching("POST", "/conversations/v3/custom-channels");
    let channel_creates: Vec<_> = creates
        .iter()
        .filter(|c| !c.path.contains("channel-accounts"))
        .collect();
    assert_eq!(channel_creates.len(), 1);
    let query = channel_creates[0].query.clone().unwrap_or_default();
    assert!(
        query.contains("hapikey=sandbox-developer-api-key"),
        "{query}"
    );
    assert!(query.contains("appId=1098266"), "{query}");
}

#[tokio::test]
async fn a_channel_created_earlier_is_reused_by_a_fresh_bridge() {
    let stack = registered_stack(Path::InProcess).await;
    // A second deployment (an empty store) against the same HubSpot account finds the
    // channel by its webhook URL instead of creating a duplicate.
    let fresh = hitl_bridge::app::build_local(
        &stack.settings,
        &stack.secrets,
        None,
        hitl_bridge::app::LocalGrant::Configured,
        std::sync::Arc::new(hitl_bridge::ports::SystemClock),
    )
    .unwrap();
    assert!(fresh.relay.store().channel_setup().await.unwrap().is_none());
    let setup = fresh.relay.register().await.unwrap();
    assert_eq!(stack.hubspot.channels().len(), 1);
    assert_eq!(stack.hubspot.channel_accounts().len(), 1);
    assert_eq!(
        setup.channel_id,
        stack.hubspot.channels()[0]["id"].as_str().unwrap()
    );
}

/// A channel an older bridge created before it declared the attachment limits: `register`
/// reuses it and brings its capabilities up to date once; registering again changes nothing.
async fn a_channel_with_older_capabilities_is_updated_once(path: Path) {
    let stack = SandboxStack::start(options(path)).await.unwrap();
    let older = json!({
        "deliveryIdentifierTypes": ["HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER"],
        "threadingModel": "INTEGRATION_THREAD_ID",
        "allowConversationStart": true,
        "allowOutgoingMessages": true,
    });
    let channel_id = stack.hubspot.add_channel(
        "Botpress handoff",
        &stack.settings.hubspot_webhook_url(),
        older,
    );
    stack.register().await.expect("register succeeds");

    let channel_path = format!("/conversations/v3/custom-channels/{channel_id}");
    let patches = |stack: &SandboxStack| {
        stack
            .hubspot
            .recorder()
            .matching("PATCH", &channel_path)
            .into_iter()
            .filter(|call| call.path == channel_path)
            .collect::<Vec<_>>()
    };
    let patched = patches(&stack);
    assert_eq!(patched.len(), 1, "the found channel is updated once");
    let query = patched[0].query.clone().unwrap_or_default();
    assert!(
        query.contains("hapikey=sandbox-developer-api-key"),
        "{query}"
    );
    assert_eq!(stack.hubspot.channels().len(), 1, "no second channel");
    let capabilities = &stack.hubspot.channels()[0]["capabilities"];
    assert_eq!(
        capabilities["maxFileAttachmentSizeBytes"],
        json!(hitl_bridge::model::channel_limits::MAX_FILE_BYTES)
    );
    assert!(
        capabilities["allowedFileAttachmentMimeTypes"]
            .as_array()
            .is_some_and(|types| types.contains(&json!("application/pdf"))),
        "{capabilities}"
    );

    let again = stack.caller.register("https://example.com/unused").await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(patches(&stack).len(), 1, "up to date: no further PATCH");
}

async fn unregister_ping_and_the_operations_with_nothing_to_do_answer_200(path: Path) {
    let stack = registered_stack(path).await;
    assert_eq!(stack.caller.ping().await.status, 200);
    // The protocol's other operations, which the bridge has nothing to do for: 200 and no call.
    let before = stack.hubspot.recorder().len() + stack.botpress.recorder().len();
    for (operation, body) in [
        ("create_user", json!({ "tags": {} })),
        (
            "create_conversation",
            json!({ "channel": "hitl", "tags": {} }),
        ),
        ("message_updated", json!({})),
        ("conversation_updated", json!({})),
        ("webhook_received", json!({})),
    ] {
        let answer = stack.caller.send(operation, body).await;
        assert_eq!(answer.status, 200, "{operation}: {}", answer.text);
    }
    assert_eq!(
        stack.hubspot.recorder().len() + stack.botpress.recorder().len(),
        before
    );
    assert_eq!(
        stack
            .caller
            .unregister("https://example.com/unused")
            .await
            .status,
        200
    );
}

async fn a_wrong_shared_secret_is_refused_and_nothing_happens(path: Path) {
    let stack = SandboxStack::start(options(path)).await.unwrap();
    let intruder = stack.caller.with_shared_secret("not-the-secret");
    let before = stack.hubspot.recorder().len() + stack.botpress.recorder().len();

    let answers = [
        intruder.register("https://example.com/unused").await,
        intruder
            .create_user("Mallory", Some("jane.doe@example.com"))
            .await,
        intruder.start_hitl("user_x", None, None, json!([])).await,
        intruder.send("ping", json!({})).await,
    ];
    for answer in &answers {
        assert_eq!(answer.status, 401, "{}", answer.text);
        assert!(answer.text.contains("sharedSecret"), "{}", answer.text);
    }
    let missing = stack
        .caller
        .send_with_headers(
            vec![("x-bp-operation".into(), "register".into())],
            "{}".into(),
        )
        .await;
    assert_eq!(missing.status, 401);
    assert!(
        missing.text.contains("x-bp-configuration"),
        "{}",
        missing.text
    );

    assert_eq!(
        stack.hubspot.recorder().len() + stack.botpress.recorder().len(),
        before
    );
    assert!(stack.hubspot.channels().is_empty());
}

async fn unknown_operations_actions_and_malformed_bodies_get_a_clear_400(path: Path) {
    let stack = registered_stack(path).await;
    let unknown_operation = stack.caller.send("teleport", json!({})).await;
    assert_eq!(unknown_operation.status, 400);
    assert!(
        unknown_operation.text.contains("teleport"),
        "{}",
        unknown_operation.text
    );

    let unknown_action = stack.caller.action("escalateToManager", json!({})).await;
    assert_eq!(unknown_action.status, 400);
    assert!(
        unknown_action.text.contains("escalateToManager"),
        "{}",
        unknown_action.text
    );

    let mut headers: Vec<(String, String)> = stack
        .caller
        .headers("action_triggered")
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    headers.retain(|(k, _)| k != "content-length");
    let malformed = stack
        .caller
        .send_with_headers(headers, "{not json".into())
        .await;
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.text.contains("action_triggered"),
        "{}",
        malformed.text
    );

    let wrong_type = stack
        .caller
        .action("startHitl", json!({ "userId": 42 }))
        .await;
    assert_eq!(wrong_type.status, 400);
    assert!(wrong_type.text.contains("startHitl"), "{}", wrong_type.text);
    assert_eq!(wrong_type.body["type"], "InvalidPayload");
}

async fn actions_before_register_say_what_to_do(path: Path) {
    let stack = SandboxStack::start(options(path)).await.unwrap();
    let created = stack
        .caller
        .create_user("Jane", Some("jane.doe@example.com"))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_id = created.body["output"]["userId"]
        .as_str()
        .unwrap()
        .to_string();
    let started = stack
        .caller
        .start_hitl(&user_id, None, None, json!([]))
        .await;
    assert_eq!(started.status, 409, "{}", started.text);
    assert!(started.text.contains("register"), "{}", started.text);
    assert!(stack.hubspot.threads().is_empty());
}

/// A channel account an admin disabled (or a teardown that stopped before deleting its
/// channel) takes no messages: registering again enables it, rather than keeping it as
/// found and every handoff failing, and connects no second account.
async fn registering_again_enables_a_disabled_channel_account(path: Path) {
    let stack = registered_stack(path).await;
    let account_id = stack.hubspot.channel_accounts()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    stack.hubspot.disable_channel_account(&account_id);
    assert_eq!(stack.hubspot.channel_accounts()[0]["authorized"], false);

    let again = stack.caller.register("https://example.com/unused").await;
    assert_eq!(again.status, 200, "{}", again.text);
    let accounts = stack.hubspot.channel_accounts();
    assert_eq!(accounts.len(), 1, "no second channel account");
    assert_eq!(accounts[0]["id"], json!(account_id));
    assert_eq!(accounts[0]["authorized"], true, "enabled again");

    let enabled_again = stack.caller.register("https://example.com/unused").await;
    assert_eq!(enabled_again.status, 200, "{}", enabled_again.text);
    assert_eq!(
        stack
            .hubspot
            .recorder()
            .matching("PATCH", "/conversations/v3/custom-channels/")
            .len(),
        1,
        "an authorized account is left as it is"
    );
}

on_both_paths!(
    registering_twice_creates_one_channel_and_one_channel_account,
    registering_again_enables_a_disabled_channel_account,
    a_channel_with_older_capabilities_is_updated_once,
    unregister_ping_and_the_operations_with_nothing_to_do_answer_200,
    a_wrong_shared_secret_is_refused_and_nothing_happens,
    unknown_operations_actions_and_malformed_bodies_get_a_clear_400,
    actions_before_register_say_what_to_do,
);
