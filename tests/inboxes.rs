//! Several Help Desk inboxes: `hitl setup --inbox` (the same `Relay::connect_inboxes`)
//! connects the channel to more than the default inbox, one channel account each, and
//! `startHitl` opens the thread in the inbox `hitlSession.inbox` names (by id or name), else in
//! the default one.

use flow_support::{DEMO_CUSTOMER_PHONE, Path, on_both_paths, registered_stack, text};
use hitl_bridge::model::ChannelSetup;
use hitl_cli::sandbox_stack::{DEMO_CUSTOMER_EMAIL, SandboxStack};
use serde_json::{Value, json};

const BILLING_ID: &str = "2001";
const BILLING: &str = "Billing";

/// A registered stack (the default inbox connected by Botpress's `register`) whose HubSpot
/// account has a second Help Desk inbox, connected by name as `hitl setup --inbox` does.
async fn two_inboxes(path: Path) -> (SandboxStack, ChannelSetup) {
    let stack = registered_stack(path).await;
    stack.hubspot.add_inbox(BILLING_ID, BILLING, true);
    let connection = stack
        .bridge
        .relay
        .connect_inboxes(&[BILLING.to_string()])
        .await
        .expect("connecting the Billing inbox");
    assert_eq!(connection.accounts_created, vec![BILLING_ID.to_string()]);
    (stack, connection.setup)
}

fn account_of(setup: &ChannelSetup, inbox_id: &str) -> String {
    setup
        .account_for(inbox_id)
        .unwrap_or_else(|| panic!("no account for inbox {inbox_id} in {setup:?}"))
        .channel_account_id
}

/// Creates a customer and starts a handoff with `hitl_session`; the answer of `startHitl`.
async fn start(
    stack: &SandboxStack,
    name: &str,
    email_or_phone: &str,
    hitl_session: Option<Value>,
) -> hitl_sandbox::botpress::CallResult {
    let created = stack.caller.create_user(name, Some(email_or_phone)).await;
    assert_eq!(created.status, 200, "createUser: {}", created.text);
    let user_id = text(&created.body, "/output/userId");
    let mut input = json!({ "userId": user_id, "title": "Refund", "messageHistory": [] });
    if let Some(session) = hitl_session {
        input["hitlSession"] = session;
    }
    stack.caller.action("startHitl", input).await
}

/// The thread whose opening message came from `who`.
fn thread_of(stack: &SandboxStack, who: &str) -> hitl_sandbox::hubspot::ThreadSnapshot {
    stack
        .hubspot
        .thread_opened_by(who)
        .unwrap_or_else(|| panic!("no thread for {who}"))
}

async fn a_handoff_opens_in_the_inbox_its_session_names_else_the_default(path: Path) {
    let (stack, setup) = two_inboxes(path).await;
    let default_id = stack.settings.hubspot_help_desk_id.clone();
    assert_ne!(
        account_of(&setup, BILLING_ID),
        account_of(&setup, &default_id)
    );

    // By name, as HubSpot lists it (case aside).
    let by_name = start(
        &stack,
        "Jane Doe",
        DEMO_CUSTOMER_EMAIL,
        Some(json!({ "inbox": "billing", "upstreamConversationId": "conv_x" })),
    )
    .await;
    assert_eq!(by_name.status, 200, "{}", by_name.text);
    let thread = thread_of(&stack, DEMO_CUSTOMER_EMAIL);
    assert_eq!(thread.inbox_id, BILLING_ID);
    assert_eq!(thread.channel_account_id, account_of(&setup, BILLING_ID));

    // By id.
    stack
        .hubspot
        .add_contact(Some("cleo@example.com"), None, "Cleo");
    let by_id = start(
        &stack,
        "Cleo",
        "cleo@example.com",
        Some(json!({ "inbox": BILLING_ID })),
    )
    .await;
    assert_eq!(by_id.status, 200, "{}", by_id.text);
    assert_eq!(thread_of(&stack, "cleo@example.com").inbox_id, BILLING_ID);

    // None named: the default inbox from the configuration.
    let unnamed = start(&stack, "Sam", DEMO_CUSTOMER_PHONE, None).await;
    assert_eq!(unnamed.status, 200, "{}", unnamed.text);
    let thread = thread_of(&stack, DEMO_CUSTOMER_PHONE);
    assert_eq!(thread.inbox_id, default_id);
    assert_eq!(thread.channel_account_id, account_of(&setup, &default_id));
    assert_eq!(stack.hubspot.threads().len(), 3);
}

async fn an_unknown_inbox_is_a_400_naming_it_and_opens_nothing(path: Path) {
    let (stack, setup) = two_inboxes(path).await;
    let publishes_before = publishes(&stack);
    let refused = start(
        &stack,
        "Jane Doe",
        DEMO_CUSTOMER_EMAIL,
        Some(json!({ "inbox": "Sales" })),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["type"], "InvalidPayload");
    let message = refused.body["message"].as_str().unwrap();
    assert!(message.contains("`Sales`"), "{message}");
    assert!(message.contains("hitlSession.inbox"), "{message}");
    // Nothing of the deployment is listed: no inbox, channel or account.
    for internal in [
        BILLING,
        BILLING_ID,
        stack.settings.hubspot_help_desk_id.as_str(),
        setup.channel_id.as_str(),
        account_of(&setup, BILLING_ID).as_str(),
    ] {
        assert!(!message.contains(internal), "{internal} in {message}");
    }
    let malformed = start(
        &stack,
        "Jane Doe",
        DEMO_CUSTOMER_EMAIL,
        Some(json!({ "inbox": ["Billing"] })),
    )
    .await;
    assert_eq!(malformed.status, 400, "{}", malformed.text);
    assert!(stack.hubspot.threads().is_empty(), "no thread opened");
    assert_eq!(publishes(&stack), publishes_before, "nothing published");
    let conversations = stack
        .botpress
        .recorder()
        .count("POST", "/v1/chat/conversations/get-or-create");
    assert_eq!(conversations, 0, "no hitl conversation");

    // The same customer can then hand off to a real inbox.
    let user = stack
        .caller
        .create_user("Jane Doe", Some(DEMO_CUSTOMER_EMAIL))
        .await;
    let started = stack
        .caller
        .action(
            "startHitl",
            json!({ "userId": text(&user.body, "/output/userId"), "hitlSession": { "inbox": BILLING }, "messageHistory": [] }),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
}

fn publishes(stack: &SandboxStack) -> usize {
    stack
        .hubspot
        .recorder()
        .matching("POST", "/conversations/v3/custom-channels")
        .iter()
        .filter(|call| call.path.ends_with("/messages"))
        .count()
}

async fn setting_up_twice_creates_nothing_and_one_more_inbox_adds_one_account(path: Path) {
    let (stack, first) = two_inboxes(path).await;
    assert_eq!(stack.hubspot.channel_accounts().len(), 2);

    let again = stack
        .bridge
        .relay
        .connect_inboxes(&[BILLING_ID.to_string(), BILLING.to_string()])
        .await
        .unwrap();
    assert!(!again.channel_created);
    assert!(again.accounts_created.is_empty(), "{again:?}");
    assert_eq!(again.setup, first);
    assert_eq!(stack.hubspot.channels().len(), 1);
    assert_eq!(stack.hubspot.channel_accounts().len(), 2);

    // Botpress's register (saving the bot's configuration) keeps the inboxes setup added.
    let registered = stack.caller.register("https://example.com/unused").await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let stored = stack
        .bridge
        .relay
        .store()
        .channel_setup()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, first);
    assert_eq!(
        registered.body["channelAccountId"],
        json!(account_of(&first, &stack.settings.hubspot_help_desk_id))
    );

    // A third inbox adds exactly one account.
    stack.hubspot.add_inbox("3001", "Returns", true);
    let third = stack
        .bridge
        .relay
        .connect_inboxes(&["Returns".to_string()])
        .await
        .unwrap();
    assert_eq!(third.accounts_created, vec!["3001".to_string()]);
    assert_eq!(third.setup.inbox_accounts().len(), 3);
    assert_eq!(stack.hubspot.channel_accounts().len(), 3);

    // Unknown inboxes and ordinary (non Help Desk) ones are refused, naming the choices.
    let unknown = stack
        .bridge
        .relay
        .connect_inboxes(&["Sales".to_string()])
        .await
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("`Sales`"), "{unknown}");
    assert!(unknown.contains("2001 (Billing)"), "{unknown}");
    let chat = stack
        .bridge
        .relay
        .connect_inboxes(&["Chat inbox".to_string()])
        .await
        .unwrap_err()
        .to_string();
    assert!(chat.contains("not a Help Desk inbox"), "{chat}");
    assert_eq!(stack.hubspot.channel_accounts().len(), 3);
}

async fn single_account_data_from_before_keeps_working(path: Path) {
    let stack = registered_stack(path).await;
    let store = stack.bridge.relay.store();
    let mut legacy = store.channel_setup().await.unwrap().unwrap();
    // What a bridge serving one inbox wrote: no list of inbox accounts.
    legacy.accounts.clear();
    store.save_channel_setup(&legacy).await.unwrap();

    let default_id = stack.settings.hubspot_help_desk_id.clone();
    let by_id = start(
        &stack,
        "Jane Doe",
        DEMO_CUSTOMER_EMAIL,
        Some(json!({ "inbox": default_id })),
    )
    .await;
    assert_eq!(by_id.status, 200, "{}", by_id.text);
    let unnamed = start(&stack, "Sam", DEMO_CUSTOMER_PHONE, None).await;
    assert_eq!(unnamed.status, 200, "{}", unnamed.text);
    for thread in stack.hubspot.threads() {
        assert_eq!(thread.channel_account_id, legacy.channel_account_id);
    }

    // Setting up again upgrades it in place: the same account, now listed.
    let connection = stack.bridge.relay.connect_inboxes(&[]).await.unwrap();
    assert!(connection.accounts_created.is_empty());
    assert_eq!(connection.setup.accounts.len(), 1);
    assert_eq!(
        connection.setup.accounts[0].channel_account_id,
        legacy.channel_account_id
    );
}

on_both_paths!(
    a_handoff_opens_in_the_inbox_its_session_names_else_the_default,
    an_unknown_inbox_is_a_400_naming_it_and_opens_nothing,
    setting_up_twice_creates_nothing_and_one_more_inbox_adds_one_account,
    single_account_data_from_before_keeps_working,
);
