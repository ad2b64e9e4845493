//! `createUser` for a customer HubSpot's CRM has not seen: refused (400, as before) unless the
//! deployment sets HUBSPOT_CREATE_MISSING_CONTACTS=true; then the contact is created once,
//! whatever the retries and races, and an email HubSpot already has (its 409) is used.

use std::sync::Arc;

use chrono::TimeDelta;
use flow_support::{
    MovableClock, Path, create_demo_customer, on_both_paths, options, registered_stack,
    registered_stack_with, text,
};
use hitl_cli::sandbox_stack::{DEMO_CUSTOMER_EMAIL, SandboxOptions, SandboxStack};
use hitl_sandbox::faults::Failure;
use serde_json::json;

const CONTACTS: &str = "/crm/v3/objects/contacts";

async fn creating_stack(path: Path) -> SandboxStack {
    registered_stack_with(SandboxOptions {
        create_missing_contacts: true,
        ..options(path)
    })
    .await
}

fn creates(stack: &SandboxStack) -> usize {
    stack
        .hubspot
        .recorder()
        .matching("POST", CONTACTS)
        .iter()
        .filter(|call| call.path == CONTACTS)
        .count()
}

async fn the_stored_contact_of(stack: &SandboxStack, user_id: &str) -> String {
    stack
        .bridge
        .relay
        .store()
        .customer(&stack.botpress.config().bot_id, user_id)
        .await
        .unwrap()
        .expect("the customer is stored")
        .hubspot_contact_id
}

async fn with_the_setting_off_an_unknown_customer_is_refused_as_before(path: Path) {
    let stack = registered_stack(path).await;
    let refused = stack
        .caller
        .create_user("Cleo Ray", Some("cleo.new@example.com"))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("create a contact with Email = cleo.new@example.com"),
        "{}",
        refused.text
    );
    assert_eq!(creates(&stack), 0, "no contact created");
    assert!(
        stack
            .hubspot
            .contacts_reached_at("cleo.new@example.com")
            .is_empty()
    );
}

async fn with_the_setting_on_the_contact_is_created_once(path: Path) {
    let stack = creating_stack(path).await;
    let created = stack
        .caller
        .create_user("Cleo Ray", Some("Cleo.New@example.com"))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_id = text(&created.body, "/output/userId");
    let contacts = stack.hubspot.contacts_reached_at("cleo.new@example.com");
    assert_eq!(contacts.len(), 1);
    assert_eq!(the_stored_contact_of(&stack, &user_id).await, contacts[0]);
    let body = &stack.hubspot.recorder().matching("POST", CONTACTS)[0].body;
    assert!(body.contains("\"firstname\":\"Cleo\""), "{body}");
    assert!(body.contains("\"lastname\":\"Ray\""), "{body}");

    // Botpress retries createUser: no second contact (the retry's user is on the same one).
    let retried = stack
        .caller
        .create_user("Cleo Ray", Some("cleo.new@example.com"))
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    let retried_user = text(&retried.body, "/output/userId");
    assert_eq!(
        the_stored_contact_of(&stack, &retried_user).await,
        contacts[0]
    );
    assert_eq!(creates(&stack), 1);
    assert_eq!(
        stack
            .hubspot
            .contacts_reached_at("cleo.new@example.com")
            .len(),
        1
    );

    // The new customer can hand off.
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Refund"), None, serde_json::json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
}

async fn racing_creates_of_one_phone_number_make_one_contact(path: Path) {
    let stack = creating_stack(path).await;
    let phone = "+14155550123";
    let (first, second) = tokio::join!(
        stack.caller.create_user("Sam", Some(phone)),
        stack.caller.create_user("Sam", Some(phone)),
    );
    for answer in [&first, &second] {
        // The loser of the race is asked to retry (503, Retry-After), as any work in flight.
        assert!(
            answer.status == 200 || answer.status == 503,
            "{}",
            answer.text
        );
    }
    if first.status == 503 || second.status == 503 {
        let retried = stack.caller.create_user("Sam", Some(phone)).await;
        assert_eq!(retried.status, 200, "{}", retried.text);
    }
    assert_eq!(stack.hubspot.contacts_reached_at(phone).len(), 1);
    assert_eq!(creates(&stack), 1);
}

/// HubSpot creates the contact of a phone number (not unique in its CRM) and its answer is
/// lost (a 502): the create is not sent again within the call, and Botpress's retry finds the
/// contact (had HubSpot's search not shown it yet, the retry would wait, "in progress", while
/// the claim lasts, rather than create a second). A 429, refused before any work, is sent
/// again at once.
async fn a_create_that_may_have_happened_is_not_repeated(path: Path) {
    let stack = creating_stack(path).await;
    let phone = "+14155550124";
    stack.hubspot.faults().fail_next_after_applying(
        &format!("{CONTACTS}$"),
        Failure {
            status: 502,
            retry_after: None,
        },
        1,
    );
    let lost = stack.caller.create_user("Sam", Some(phone)).await;
    assert_eq!(lost.status, 503, "{}", lost.text);
    assert_eq!(creates(&stack), 1, "sent once");
    let retried = stack.caller.create_user("Sam", Some(phone)).await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(creates(&stack), 1, "found, not created again");
    assert_eq!(stack.hubspot.contacts_reached_at(phone).len(), 1);

    let other = "+14155550125";
    stack.hubspot.faults().fail_next(
        &format!("{CONTACTS}$"),
        Failure {
            status: 429,
            retry_after: Some(0),
        },
        1,
    );
    let created = stack.caller.create_user("Kim", Some(other)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(stack.hubspot.contacts_reached_at(other).len(), 1);
}

/// A profile past what Botpress takes (a name over 200 characters, an avatar as a `data:` URL
/// over 40,000) does not keep the customer from an agent: the name is shortened, the picture
/// left out, and the handoff starts.
async fn a_profile_past_botpress_limits_still_hands_off(path: Path) {
    let stack = registered_stack(path).await;
    let name = format!("Jane {}", "Doe".repeat(70));
    let avatar = format!("data:image/png;base64,{}", "A".repeat(40_000));
    let created = stack
        .caller
        .send(
            "action_triggered",
            serde_json::json!({ "type": "createUser", "input": {
                "name": name, "pictureUrl": avatar,
                "email": hitl_cli::sandbox_stack::DEMO_CUSTOMER_EMAIL,
            }}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_id = text(&created.body, "/output/userId");
    let user = stack.botpress.user(&user_id).unwrap();
    assert_eq!(user["name"].as_str().unwrap().chars().count(), 200);
    assert!(
        user.get("pictureUrl")
            .is_none_or(serde_json::Value::is_null),
        "{user}"
    );
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Help"), None, serde_json::json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
}

/// `createUser` for an "Unknown User" at the placeholder `made_up`: refused with 400, saying
/// the user gave no address. The refusal's message.
async fn refused_as_giving_no_address(stack: &SandboxStack, made_up: &str) -> String {
    let refused = stack
        .caller
        .create_user("Unknown User", Some(made_up))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let message = refused.body["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("gave no email address or phone number"),
        "{message}"
    );
    message
}

/// An end user who gave no email or phone reaches `createUser` with the address the HITL
/// plugin makes up for them (`<user id>@<bot id>.botpress.invalid`): refused with a message
/// that says so and what to do, not one asking for a CRM contact at that address, before any
/// HubSpot call, also where missing contacts are created.
async fn an_end_user_who_gave_no_address_is_told_so(path: Path) {
    for stack in [registered_stack(path).await, creating_stack(path).await] {
        let made_up = "user_01jxyzanonymous0000000001@bot-01abc.botpress.invalid";
        let message = refused_as_giving_no_address(&stack, made_up).await;
        assert!(!message.contains("create a contact with"), "{message}");
        let recorder = stack.hubspot.recorder();
        let contact_calls =
            recorder.matching("POST", "/crm/").len() + recorder.matching("GET", "/crm/").len();
        assert_eq!(contact_calls, 0, "no HubSpot contact call");
    }
}

/// The placeholder in the form the protocol describes (`<user>@no-reply.<bot>.botpress.com`),
/// a domain HubSpot takes: refused, saying the user gave no address and how to hand such users
/// off, unless missing contacts are created, when it hands off under a contact made for it.
async fn an_end_user_with_the_older_placeholder_hands_off_where_contacts_are_created(path: Path) {
    let made_up = "user_01jxyzanonymous0000000002@no-reply.bot-01abc.botpress.com";
    let message = refused_as_giving_no_address(&registered_stack(path).await, made_up).await;
    assert!(
        message.contains("HUBSPOT_CREATE_MISSING_CONTACTS"),
        "{message}"
    );

    let creating = creating_stack(path).await;
    let created = creating
        .caller
        .create_user("Unknown User", Some(made_up))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(creating.hubspot.contacts_reached_at(made_up).len(), 1);
}

async fn an_email_hubspot_already_has_is_used_from_its_conflict(path: Path) {
    let stack = creating_stack(path).await;
    let email = "stale.index@example.com";
    let existing = stack.hubspot.add_contact(Some(email), None, "Stale");
    // HubSpot's read answers 404 for a contact it has (an index not caught up): the create
    // then meets 409 CONFLICT "Contact already exists. Existing ID: …".
    stack.hubspot.faults().fail_next(
        &format!("{CONTACTS}/stale"),
        Failure {
            status: 404,
            retry_after: None,
        },
        1,
    );
    let created = stack.caller.create_user("Stale", Some(email)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_id = text(&created.body, "/output/userId");
    let conflicts: Vec<_> = stack
        .hubspot
        .recorder()
        .matching("POST", CONTACTS)
        .into_iter()
        .filter(|call| call.path == CONTACTS)
        .collect();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].status, 409);
    assert_eq!(the_stored_contact_of(&stack, &user_id).await, existing);
    assert_eq!(stack.hubspot.contacts_reached_at(email), vec![existing]);
}

/// An address with a `/` in its local part (valid, if rare) is one path segment of the
/// contact read, not two: the contact HubSpot has is found, none is created beside it.
async fn an_email_with_a_slash_is_read_as_one_contact(path: Path) {
    let stack = creating_stack(path).await;
    let email = "jo/ann@example.com";
    let existing = stack.hubspot.add_contact(Some(email), None, "Jo");
    let created = stack.caller.create_user("Jo", Some(email)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_id = text(&created.body, "/output/userId");
    assert_eq!(the_stored_contact_of(&stack, &user_id).await, existing);
    assert_eq!(creates(&stack), 0);
}

/// The `hitl` interface's `createUser` names no one for an anonymous visitor: they hand off
/// too, the contact made without a name and the agent seeing their address as the sender.
async fn a_customer_without_a_name_hands_off_under_their_address(path: Path) {
    let stack = creating_stack(path).await;
    let email = "anon.visitor@example.com";
    let created = stack
        .caller
        .action("createUser", serde_json::json!({ "email": email }))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_id = text(&created.body, "/output/userId");
    let body = &stack.hubspot.recorder().matching("POST", CONTACTS)[0].body;
    assert!(!body.contains("firstname"), "{body}");

    let started = stack
        .caller
        .start_hitl(&user_id, Some("Refund"), None, serde_json::json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let thread = &stack.hubspot.threads()[0];
    assert_eq!(
        thread.messages[0].senders[0]["name"], email,
        "{}",
        thread.messages[0].senders
    );
}

on_both_paths!(
    with_the_setting_off_an_unknown_customer_is_refused_as_before,
    with_the_setting_on_the_contact_is_created_once,
    racing_creates_of_one_phone_number_make_one_contact,
    a_create_that_may_have_happened_is_not_repeated,
    a_profile_past_botpress_limits_still_hands_off,
    an_email_hubspot_already_has_is_used_from_its_conflict,
    an_email_with_a_slash_is_read_as_one_contact,
    a_customer_without_a_name_hands_off_under_their_address,
    a_user_read_refused_for_the_bot_is_not_taken_for_an_unknown_user,
    an_end_user_who_gave_no_address_is_told_so,
    an_end_user_with_the_older_placeholder_hands_off_where_contacts_are_created,
);

/// The bridge keeps a customer's record 30 days from its last handoff. A customer back after
/// that, whose end user the HITL plugin still links to the Botpress user made for them, still
/// reaches an agent: the record is rebuilt from the user's contact tag and the HubSpot
/// contact, and the thread is theirs. A user id Botpress does not know is refused as before,
/// saying what to do. In process only: the bridge's clock is moved past the 30 days, which
/// the Lambda path's system clock cannot be.
#[tokio::test]
async fn a_customer_back_after_their_record_expired_still_reaches_an_agent() {
    let (stack, user_id, _) = a_customer_whose_record_expired().await;

    let user_reads = || stack.botpress.recorder().count("GET", "/v1/chat/users/");
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Back again"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(
        user_reads(),
        1,
        "the record was rebuilt from the Botpress user"
    );
    let thread = stack
        .hubspot
        .thread_opened_by(DEMO_CUSTOMER_EMAIL)
        .expect("the thread is opened by the customer's address");
    assert_eq!(thread.messages[0].senders[0]["name"], "Jane Doe");
    let stopped = stack
        .caller
        .stop_hitl(&text(&started.body, "/output/conversationId"))
        .await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    let again = stack
        .caller
        .start_hitl(&user_id, Some("One more thing"), None, json!([]))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(user_reads(), 1, "kept again for 30 days: no second rebuild");

    let unknown = stack
        .caller
        .start_hitl("user_0000000000000000000000000000", None, None, json!([]))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(unknown.text.contains("createUser"), "{}", unknown.text);
}

/// A stack whose bridge's clock is 31 days behind, with the demo customer created on it, then
/// caught up: the customer's record has expired, their Botpress user and contact remain. The
/// stack, the customer's user id and their contact's id.
async fn a_customer_whose_record_expired() -> (SandboxStack, String, String) {
    let clock = Arc::new(MovableClock::behind_by(TimeDelta::days(31)));
    let stack = registered_stack_with(SandboxOptions {
        clock: Some(clock.clone()),
        ..options(Path::InProcess)
    })
    .await;
    let user_id = create_demo_customer(&stack).await;
    clock.catch_up();
    let contact_id = stack.hubspot.contacts_reached_at(DEMO_CUSTOMER_EMAIL)[0].clone();
    (stack, user_id, contact_id)
}

/// Back after their record expired, a customer whose contact now has neither email nor phone,
/// only a mobile number, is reached at that number.
#[tokio::test]
async fn a_customer_back_whose_contact_has_only_a_mobile_number_is_reached_at_it() {
    let (stack, user_id, contact_id) = a_customer_whose_record_expired().await;
    let mobile = "+14155550123";
    stack
        .hubspot
        .edit_contact_addresses(&contact_id, None, None, Some(mobile));
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Back again"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let thread = stack
        .hubspot
        .thread_opened_by(mobile)
        .expect("the thread is opened by the contact's mobile number");
    assert_eq!(thread.messages[0].senders[0]["name"], "Jane Doe");
}

/// Back after their record expired, a customer whose contact was deleted, or no longer has an
/// address, is refused with a message naming the contact and what to do; nothing is opened.
#[tokio::test]
async fn a_customer_back_whose_contact_is_gone_or_unaddressable_is_refused_naming_it() {
    let (stack, user_id, contact_id) = a_customer_whose_record_expired().await;
    stack
        .hubspot
        .edit_contact_addresses(&contact_id, None, None, None);
    let unaddressable = stack
        .caller
        .start_hitl(&user_id, Some("Back again"), None, json!([]))
        .await;
    assert_eq!(unaddressable.status, 400, "{}", unaddressable.text);
    for part in [
        contact_id.as_str(),
        "no email address or phone number",
        "createUser",
    ] {
        assert!(
            unaddressable.text.contains(part),
            "{part}: {}",
            unaddressable.text
        );
    }

    stack.hubspot.delete_contact(&contact_id);
    let deleted = stack
        .caller
        .start_hitl(&user_id, Some("Back again"), None, json!([]))
        .await;
    assert_eq!(deleted.status, 400, "{}", deleted.text);
    for part in [contact_id.as_str(), "no longer exists", "createUser"] {
        assert!(deleted.text.contains(part), "{part}: {}", deleted.text);
    }
    assert!(stack.hubspot.threads().is_empty(), "no thread was opened");
    assert!(
        stack.botpress.conversations().is_empty(),
        "no hitl conversation was made"
    );
}

/// Botpress answers the user read with its 404 about the bot (a bot this Botpress does not
/// have, here): that is Botpress refusing, said as such, not "unknown userId, call createUser",
/// which would send the bot's builder after the wrong fault.
async fn a_user_read_refused_for_the_bot_is_not_taken_for_an_unknown_user(path: Path) {
    let stack = registered_stack(path).await;
    let user_id = create_demo_customer(&stack).await;
    let mut identity = stack.caller.identity().clone();
    identity.bot_id = "bot_not_on_this_botpress_00000000".to_string();
    let other_bot = hitl_sandbox::botpress::BotpressCaller::new(
        stack.caller.url(),
        identity,
        hitl_cli::sandbox_stack::SANDBOX_SHARED_SECRET,
    );
    let started = other_bot
        .start_hitl(&user_id, Some("Hello"), None, json!([]))
        .await;
    assert_eq!(started.status, 400, "{}", started.text);
    assert_eq!(started.body["type"], "RuntimeError", "{}", started.text);
    assert!(started.text.contains("not found"), "{}", started.text);
    assert!(
        !started.text.contains("unknown userId"),
        "taken for an unknown user: {}",
        started.text
    );
}
