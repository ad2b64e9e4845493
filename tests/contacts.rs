//! `createUser` for a customer HubSpot's CRM has not seen: refused (400, as before) unless the
//! deployment sets HUBSPOT_CREATE_MISSING_CONTACTS=true; then the contact is created once,
//! whatever the retries and races, and an email HubSpot already has (its 409) is used.

use std::sync::Arc;

use chrono::TimeDelta;
use flow_support::{
    DEMO_AGENTS, MovableClock, Path, create_demo_customer, in_process_stack_on, on_both_paths,
    options, registered_stack, registered_stack_with, text,
};
use hitl_cli::sandbox_stack::{DEMO_CUSTOMER_EMAIL, SandboxOptions, SandboxStack};
use hitl_sandbox::faults::Failure;
use serde_json::{Value, json};

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
        .expect("a customer with a contact")
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

/// The visitor the HITL plugin's end user `user` stands for, as the help desk knows them.
fn visitor_id(user: &str) -> String {
    format!("botpress:{user}")
}

/// `createUser` then `startHitl` for an end user at the placeholder `made_up`, named `name`
/// ("" for none): the handoff opens as the visitor `visitor`, in a thread of its own, and the
/// two sides reach each other. The thread's id.
async fn hands_off_as_a_visitor(
    stack: &SandboxStack,
    made_up: &str,
    name: &str,
    visitor: &str,
) -> String {
    let created = stack.caller.create_user(name, Some(made_up)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_id = text(&created.body, "/output/userId");
    let user = stack.botpress.user(&user_id).expect("the Botpress user");
    assert_eq!(user["tags"]["hubspotVisitorId"], json!(visitor), "{user}");
    assert!(user["tags"].get("hubspotContactId").is_none(), "{user}");
    let started = stack
        .caller
        .start_hitl(&user_id, Some("Help"), None, json!([]))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let conversation_id = text(&started.body, "/output/conversationId");
    let thread = stack
        .hubspot
        .thread_opened_by(visitor)
        .expect("the thread is opened by the visitor");
    assert_eq!(
        thread.messages[0].senders[0]["deliveryIdentifier"],
        json!({ "type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": visitor })
    );
    let shown = if name.is_empty() { "Visitor" } else { name };
    assert_eq!(thread.messages[0].senders[0]["name"], json!(shown));
    let said = stack
        .caller
        .user_message(&conversation_id, &user_id, "Anyone there?")
        .await
        .1;
    assert_eq!(said.status, 200, "{}", said.text);
    let reply = stack
        .hubspot
        .agent_reply(&thread.id, DEMO_AGENTS[0].0, "Yes, how can I help?")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.response_body);
    let texts: Vec<Value> = stack
        .botpress
        .messages_in(&conversation_id)
        .iter()
        .map(|message| message["payload"]["text"].clone())
        .collect();
    assert!(texts.contains(&json!("Yes, how can I help?")), "{texts:?}");
    thread.id
}

/// An end user who gave no email or phone reaches `createUser` with the address the HITL
/// plugin makes up for them (`<user id>@<bot id>.botpress.invalid`): they hand off as a
/// visitor (HubSpot's `CHANNEL_SPECIFIC_OPAQUE_ID`, named by the plugin's id for them), with no
/// CRM contact looked up or made, also where missing contacts are created; nameless, the agent
/// sees "Visitor".
async fn an_end_user_who_gave_no_address_hands_off_as_a_visitor(path: Path) {
    for (stack, name) in [
        (registered_stack(path).await, "Unknown User"),
        (creating_stack(path).await, ""),
    ] {
        let user = "user_01jxyzanonymous0000000001";
        let made_up = format!("{user}@bot-01abc.botpress.invalid");
        hands_off_as_a_visitor(&stack, &made_up, name, &visitor_id(user)).await;
        let recorder = stack.hubspot.recorder();
        let contact_calls =
            recorder.matching("POST", "/crm/").len() + recorder.matching("GET", "/crm/").len();
        assert_eq!(contact_calls, 0, "no HubSpot contact call");
    }
}

/// The placeholder in the form the protocol describes (`<user>@no-reply.<bot>.botpress.com`),
/// a domain HubSpot takes: a contact an earlier version made there is kept; otherwise the end
/// user hands off as a visitor, and no contact is made for the placeholder, also where missing
/// contacts are created.
async fn an_end_user_with_the_older_placeholder_keeps_an_earlier_contact_or_is_a_visitor(
    path: Path,
) {
    let user = "user_01jxyzanonymous0000000002";
    let made_up = format!("{user}@no-reply.bot-01abc.botpress.com");
    let creating = creating_stack(path).await;
    hands_off_as_a_visitor(&creating, &made_up, "Unknown User", &visitor_id(user)).await;
    assert!(creating.hubspot.contacts_reached_at(&made_up).is_empty());

    let stack = registered_stack(path).await;
    let contact_id = stack.hubspot.add_contact(Some(&made_up), None, "Unknown");
    let created = stack
        .caller
        .create_user("Unknown User", Some(&made_up))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(
        the_stored_contact_of(&stack, &text(&created.body, "/output/userId")).await,
        contact_id
    );
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

/// A customer who gave an email but no name (`createUser`'s `name` is optional): they hand off
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
    an_end_user_who_gave_no_address_hands_off_as_a_visitor,
    an_end_user_with_the_older_placeholder_keeps_an_earlier_contact_or_is_a_visitor,
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
    let stack = in_process_stack_on(clock.clone()).await;
    let user_id = create_demo_customer(&stack).await;
    clock.catch_up();
    let contact_id = stack.hubspot.contacts_reached_at(DEMO_CUSTOMER_EMAIL)[0].clone();
    (stack, user_id, contact_id)
}

/// Back after their record expired, a visitor (who gave no email or phone) hands off again as
/// the same visitor, rebuilt from their Botpress user's visitor tag, with no contact call.
#[tokio::test]
async fn a_visitor_back_after_their_record_expired_hands_off_as_the_same_visitor() {
    let clock = Arc::new(MovableClock::behind_by(TimeDelta::days(31)));
    let stack = in_process_stack_on(clock.clone()).await;
    let user = "user_01jxyzanonymous0000000003";
    let made_up = format!("{user}@bot-01abc.botpress.invalid");
    let created = stack.caller.create_user("Sam", Some(&made_up)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    clock.catch_up();
    let started = stack
        .caller
        .start_hitl(
            &text(&created.body, "/output/userId"),
            Some("Back again"),
            None,
            json!([]),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let thread = stack
        .hubspot
        .thread_opened_by(&visitor_id(user))
        .expect("the thread is opened by the same visitor");
    assert_eq!(thread.messages[0].senders[0]["name"], "Sam");
    assert!(stack.hubspot.recorder().matching("GET", "/crm/").is_empty());
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
