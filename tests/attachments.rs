//! Files customers send (`image`, `file`, `audio`, `video`, `bloc`): fetched safely, uploaded
//! to HubSpot's file manager, published as `FILE` attachments; a file the channel cannot carry,
//! or whose upload HubSpot refuses for good, reaches the agent as a note saying why, with the
//! rest of the message.

use flow_support::{Path, on_both_paths, registered_stack, start_handoff};
use hitl_sandbox::faults::Failure;
use hitl_sandbox::hubspot::MessageSnapshot;
use serde_json::{Value, json};

/// A tiny valid PNG header and some bytes: what the simulated chat user sends.
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(std::iter::repeat_n(7u8, 2048));
    bytes
}

fn file_attachments(stack: &hitl_cli::sandbox_stack::SandboxStack, thread_id: &str) -> Vec<Value> {
    stack
        .hubspot
        .thread(thread_id)
        .expect("the thread exists")
        .messages
        .iter()
        .flat_map(|message| message.attachments.as_array().cloned().unwrap_or_default())
        .collect()
}

async fn an_image_is_relayed_as_a_file_attachment(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let url = stack.botpress.host_file("parcel.png", "image/png", png());
    let sent = stack
        .caller
        .user_message_of_type(
            "msg_image_000000000000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "image",
            json!({ "imageUrl": url }),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let attachments = file_attachments(&stack, &handoff.thread_id);
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0]["type"], "FILE");
    assert_eq!(attachments[0]["fileUsageType"], "IMAGE");
    assert!(
        attachments[0]["fileId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    // Botpress retries the same message: nothing new in the thread.
    let again = stack
        .caller
        .user_message_of_type(
            "msg_image_000000000000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "image",
            json!({ "imageUrl": url }),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(file_attachments(&stack, &handoff.thread_id).len(), 1);
}

/// Files the bridge will not fetch (not https, a private or metadata address, directly or by
/// a redirect) or the channel cannot carry (too large, an executable): none is fetched from
/// where it must not be or attached, and each reaches the agent as a note in its place,
/// saying what it was and why, so the customer's message is not lost without a trace (the
/// HITL plugin tells the customer nothing of a refused message). Botpress's retry of one adds
/// nothing.
async fn unsafe_or_unsuitable_files_reach_the_agent_as_a_note_in_their_place(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let messages_before = stack
        .hubspot
        .thread(&handoff.thread_id)
        .unwrap()
        .messages
        .len();
    let port = stack
        .botpress
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let too_big = stack.botpress.host_file(
        "huge.png",
        "image/png",
        vec![0u8; (hitl_bridge::model::channel_limits::MAX_FILE_BYTES + 1) as usize],
    );
    let executable =
        stack
            .botpress
            .host_file("setup.exe", "application/x-msdownload", b"MZ....".to_vec());
    let to_metadata = stack
        .botpress
        .host_redirect("moved.png", "http://169.254.169.254/latest/meta-data/");
    let cases = [
        ("http://files.example.com/a.png".to_string(), "https"),
        ("https://127.0.0.1/a.png".to_string(), "127.0.0.1"),
        (
            "https://169.254.169.254/latest/meta-data/".to_string(),
            "169.254.169.254",
        ),
        (
            format!("https://localhost:{port}/media/parcel.png"),
            "localhost",
        ),
        (
            "https://agent:hunter2@files.example.com/a.png".to_string(),
            "credentials",
        ),
        (too_big, "larger than"),
        (executable, "application/x-msdownload"),
        (to_metadata, "https"),
    ];
    for (index, (url, expected)) in cases.iter().enumerate() {
        for _ in 0..2 {
            let sent = stack
                .caller
                .user_message_of_type(
                    &format!("msg_refused_{index:020}"),
                    &handoff.conversation_id,
                    &handoff.user_id,
                    "image",
                    json!({ "imageUrl": url }),
                )
                .await;
            assert_eq!(sent.status, 200, "{url}: {}", sent.text);
        }
        let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
        assert_eq!(thread.messages.len(), messages_before + index + 1, "{url}");
        let note = &thread.messages.last().unwrap().text;
        assert!(
            note.starts_with("[The customer sent an image that could not be attached: "),
            "{url}: {note}"
        );
        assert!(note.contains(expected), "{url}: {note}");
        assert!(!note.contains("hunter2"), "{note}");
    }
    assert!(
        file_attachments(&stack, &handoff.thread_id).is_empty(),
        "nothing refused is attached"
    );
}

/// A Word document, served as `application/octet-stream` as object stores often serve it, is
/// relayed as a file attachment under its title.
async fn an_office_document_is_relayed_as_a_file(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let docx = stack.botpress.host_file(
        "invoice.docx",
        "application/octet-stream",
        b"PK\x03\x04 word/document.xml".to_vec(),
    );
    let sent = stack
        .caller
        .user_message_of_type(
            "msg_docx_000000000000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "file",
            json!({ "fileUrl": docx, "title": "Invoice" }),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let attachments = file_attachments(&stack, &handoff.thread_id);
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0]["fileUsageType"], "OTHER");
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(thread.messages.last().unwrap().text, "Invoice");
}

/// A bloc with more files than the bridge relays from one message (five): its text and first
/// five files are relayed, and the sixth reaches the agent as a note naming it, where before
/// the whole bloc was refused (400) and lost, caption and all.
async fn files_past_the_fifth_of_a_bloc_reach_the_agent_as_notes(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let image = stack.botpress.host_file("photo.png", "image/png", png());
    let mut items = vec![json!({ "type": "text", "payload": { "text": "All the damage:" } })];
    for n in 1..=6 {
        items.push(json!({ "type": "image", "payload": { "imageUrl": image, "title": format!("photo {n}") } }));
    }
    let sent = stack
        .caller
        .user_message_of_type(
            "msg_bloc_0000000000000000000006",
            &handoff.conversation_id,
            &handoff.user_id,
            "bloc",
            json!({ "items": items }),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let parts: Vec<_> = thread
        .messages
        .iter()
        .filter(|m| published_under(m, "msg_bloc_0000000000000000000006"))
        .collect();
    assert_eq!(parts.len(), 7, "the text, five photos and a note");
    assert_eq!(parts[0].text, "All the damage:");
    assert!(
        parts[1..6]
            .iter()
            .all(|part| part.attachments[0]["fileUsageType"] == "IMAGE")
    );
    assert!(
        parts[6]
            .attachments
            .as_array()
            .is_none_or(|attachments| attachments.is_empty()),
        "{}",
        parts[6].attachments
    );
    assert!(
        parts[6]
            .text
            .contains("1 more file (\u{201c}photo 6\u{201d}) than the bridge relays"),
        "{}",
        parts[6].text
    );
}

async fn a_bloc_is_relayed_part_by_part_in_order(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let image = stack.botpress.host_file("photo.png", "image/png", png());
    let pdf = stack.botpress.host_file(
        "receipt.pdf",
        "application/pdf",
        b"%PDF-1.4 receipt".to_vec(),
    );
    let bloc = json!({ "items": [
        { "type": "text", "payload": { "text": "Here is the damage:" } },
        { "type": "image", "payload": { "imageUrl": image } },
        { "type": "file", "payload": { "fileUrl": pdf, "title": "Receipt" } },
    ]});
    for _ in 0..2 {
        let sent = stack
            .caller
            .user_message_of_type(
                "msg_bloc_0000000000000000000001",
                &handoff.conversation_id,
                &handoff.user_id,
                "bloc",
                bloc.clone(),
            )
            .await;
        assert_eq!(sent.status, 200, "{}", sent.text);
    }
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let parts: Vec<_> = thread
        .messages
        .iter()
        .filter(|m| published_under(m, "msg_bloc_"))
        .collect();
    assert_eq!(parts.len(), 3, "each part exactly once");
    assert_eq!(parts[0].text, "Here is the damage:");
    assert_eq!(parts[1].attachments[0]["fileUsageType"], "IMAGE");
    assert_eq!(parts[2].attachments[0]["fileUsageType"], "OTHER");
    assert_eq!(parts[2].text, "Receipt");

    // An empty caption beside a photo is left out; the photo is relayed.
    let captioned = stack
        .caller
        .user_message_of_type(
            "msg_bloc_0000000000000000000003",
            &handoff.conversation_id,
            &handoff.user_id,
            "bloc",
            json!({ "items": [
                { "type": "image", "payload": { "imageUrl": image } },
                { "type": "text", "payload": { "text": " " } },
            ]}),
        )
        .await;
    assert_eq!(captioned.status, 200, "{}", captioned.text);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let photo = thread.messages.last().unwrap();
    assert_eq!(photo.attachments[0]["fileUsageType"], "IMAGE");
    assert!(
        photo
            .integration_idempotency_id
            .as_deref()
            .is_some_and(|id| id.starts_with("msg_bloc_0000000000000000000003")),
        "{:?}",
        photo.integration_idempotency_id
    );

    // A bloc with a part the channel cannot carry: the text beside it is relayed, and the
    // part reaches the agent as a note in its place.
    let with_refused = stack
        .caller
        .user_message_of_type(
            "msg_bloc_0000000000000000000002",
            &handoff.conversation_id,
            &handoff.user_id,
            "bloc",
            json!({ "items": [
                { "type": "text", "payload": { "text": "and this" } },
                { "type": "video", "payload": { "videoUrl": "http://example.com/v.mp4", "title": "Unboxing" } },
            ]}),
        )
        .await;
    assert_eq!(with_refused.status, 200, "{}", with_refused.text);
    let after = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let added: Vec<&str> = after.messages[thread.messages.len()..]
        .iter()
        .map(|message| message.text.as_str())
        .collect();
    assert_eq!(added.len(), 2, "{added:?}");
    assert_eq!(added[0], "and this");
    assert!(
        added[1].starts_with(
            "[The customer sent a video (\u{201c}Unboxing\u{201d}) that could not be attached: "
        ) && added[1].contains("https"),
        "{}",
        added[1]
    );
}

/// A bloc's `location` and `markdown` items (allowed in a bloc) reach the agent written out,
/// with the text beside them, instead of the whole bloc being refused.
async fn a_bloc_with_a_location_and_markdown_reaches_the_agent_as_text(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let sent = stack
        .caller
        .user_message_of_type(
            "msg_bloc_0000000000000000000003",
            &handoff.conversation_id,
            &handoff.user_id,
            "bloc",
            json!({ "items": [
                { "type": "text", "payload": { "text": "I'm here" } },
                { "type": "location", "payload": {
                    "latitude": 45.5, "longitude": -73.6, "address": "1 Main St" } },
                { "type": "markdown", "payload": { "markdown": "**Order 42**" } },
            ]}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let texts: Vec<&str> = thread
        .messages
        .iter()
        .filter(|m| published_under(m, "msg_bloc_"))
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "I'm here",
            "[location] 1 Main St (45.5, -73.6)",
            "**Order 42**"
        ]
    );

    let unreadable = stack
        .caller
        .user_message_of_type(
            "msg_bloc_0000000000000000000004",
            &handoff.conversation_id,
            &handoff.user_id,
            "bloc",
            json!({ "items": [{ "type": "location", "payload": { "address": "somewhere" } }] }),
        )
        .await;
    assert_eq!(unreadable.status, 400, "{}", unreadable.text);
    assert!(unreadable.text.contains("latitude"), "{}", unreadable.text);
}

async fn a_failed_upload_is_retryable_and_the_retry_publishes_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let url = stack
        .botpress
        .host_file("voice.ogg", "audio/ogg", vec![1u8; 4096]);
    stack.hubspot.faults().fail_next(
        "/filemanager/",
        Failure {
            status: 500,
            retry_after: None,
        },
        1,
    );
    let send = || {
        stack.caller.user_message_of_type(
            "msg_audio_000000000000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "audio",
            json!({ "audioUrl": url }),
        )
    };
    let failed = send().await;
    assert_eq!(failed.status, 503, "{}", failed.text);
    assert!(file_attachments(&stack, &handoff.thread_id).is_empty());
    let retried = send().await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    let again = send().await;
    assert_eq!(again.status, 200, "{}", again.text);
    let attachments = file_attachments(&stack, &handoff.thread_id);
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0]["fileUsageType"], "AUDIO");
}

/// HubSpot takes a bloc's two files, then fails to take its messages (503 past the bridge's
/// retries): Botpress's retry publishes the bloc with the files already taken, uploading
/// neither again (File Manager uploads are not idempotent: each would leave another copy).
async fn a_retried_bloc_uploads_its_files_once(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let image = stack.botpress.host_file("scratch.png", "image/png", png());
    let pdf = stack.botpress.host_file(
        "invoice.pdf",
        "application/pdf",
        b"%PDF-1.4 invoice".to_vec(),
    );
    let bloc = json!({ "items": [
        { "type": "image", "payload": { "imageUrl": image } },
        { "type": "text", "payload": { "text": "and the invoice" } },
        { "type": "file", "payload": { "fileUrl": pdf, "title": "Invoice" } },
    ]});
    let send = || {
        stack.caller.user_message_of_type(
            "msg_bloc_retried_0000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "bloc",
            bloc.clone(),
        )
    };
    let unavailable = Failure {
        status: 503,
        retry_after: None,
    };
    stack
        .hubspot
        .faults()
        .fail_next("/conversations/v3/custom-channels/", unavailable, 1_000);
    let failed = send().await;
    assert!(
        failed.status >= 500,
        "for Botpress to retry: {}",
        failed.text
    );
    assert_eq!(
        uploads_made(&stack),
        2,
        "both files taken before the publishes failed"
    );
    assert!(file_attachments(&stack, &handoff.thread_id).is_empty());
    stack.hubspot.faults().clear();

    for _ in 0..2 {
        let retried = send().await;
        assert_eq!(retried.status, 200, "{}", retried.text);
    }
    assert_eq!(uploads_made(&stack), 2, "no file uploaded again");
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let parts: Vec<_> = thread
        .messages
        .iter()
        .filter(|m| published_under(m, "msg_bloc_retried_"))
        .collect();
    assert_eq!(parts.len(), 3, "each part once");
    assert_eq!(parts[0].attachments[0]["fileUsageType"], "IMAGE");
    assert_eq!(parts[1].text, "and the invoice");
    assert_eq!(parts[2].attachments[0]["fileUsageType"], "OTHER");
    assert_eq!(parts[2].text, "Invoice");
}

/// A bloc's second file cannot be fetched for now (its server answers 503): the message fails
/// for Botpress to retry, and the first file, fetched and uploaded before the second was
/// tried, is neither fetched nor uploaded again by the retry, so a bloc whose files take
/// longer than one request's budget gets through over a few retries.
async fn a_retried_bloc_resumes_after_the_files_it_uploaded(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let image = stack.botpress.host_file("dent.png", "image/png", png());
    let pdf = stack.botpress.host_unavailable("quote.pdf");
    let bloc = json!({ "items": [
        { "type": "image", "payload": { "imageUrl": image } },
        { "type": "file", "payload": { "fileUrl": pdf, "title": "Quote" } },
    ]});
    let send = || {
        stack.caller.user_message_of_type(
            "msg_bloc_resumed_0000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "bloc",
            bloc.clone(),
        )
    };
    let failed = send().await;
    assert!(
        failed.status >= 500,
        "for Botpress to retry: {}",
        failed.text
    );
    assert!(file_attachments(&stack, &handoff.thread_id).is_empty());
    assert_eq!(
        uploads_made(&stack),
        1,
        "the first file, before the second was fetched"
    );

    stack
        .botpress
        .host_file("quote.pdf", "application/pdf", b"%PDF-1.4 quote".to_vec());
    let retried = send().await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(
        stack.botpress.media_fetches("dent.png"),
        1,
        "not fetched again"
    );
    assert_eq!(uploads_made(&stack), 2, "not uploaded again");
    let attachments = file_attachments(&stack, &handoff.thread_id);
    assert_eq!(attachments.len(), 2, "{attachments:?}");
    assert_eq!(attachments[0]["fileUsageType"], "IMAGE");
    assert_eq!(attachments[1]["fileUsageType"], "OTHER");
}

/// The uploads HubSpot's File Manager took.
fn uploads_made(stack: &hitl_cli::sandbox_stack::SandboxStack) -> usize {
    stack
        .hubspot
        .recorder()
        .matching("POST", "/filemanager/")
        .iter()
        .filter(|call| call.status == 201)
        .count()
}

/// The bot ends the handoff while a customer's picture is on its way into the thread (HubSpot
/// answering each call 400 ms late, so the close lands between the upload and the message,
/// and HubSpot reopens the thread for the message): the picture goes in once, and the thread
/// it reopened is closed again.
async fn a_picture_in_flight_as_the_bot_ends_the_handoff_leaves_the_thread_closed(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let image = stack.botpress.host_file("last.png", "image/png", png());
    stack
        .hubspot
        .faults()
        .set_latency(std::time::Duration::from_millis(400));
    let sending = stack.caller.user_message_of_type(
        "msg_in_flight_000000000000000001",
        &handoff.conversation_id,
        &handoff.user_id,
        "image",
        json!({ "imageUrl": image }),
    );
    let stopping = async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        stack.caller.stop_hitl(&handoff.conversation_id).await
    };
    let (sent, stopped) = tokio::join!(sending, stopping);
    stack.hubspot.faults().clear();
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(file_attachments(&stack, &handoff.thread_id).len(), 1);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(thread.status, "CLOSED");
}

/// The agent closes the thread while a customer's picture is on its way in, and Botpress is
/// slow to take `hitlStopped` (each call 1.5 s late), so the picture lands after the agent's
/// close but before the handoff's session is closed, and HubSpot reopens the thread for it:
/// the picture goes in once, the bot is told once, and the thread ends closed.
async fn a_picture_in_flight_as_the_agent_closes_leaves_the_thread_closed(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let image = stack.botpress.host_file("thanks.png", "image/png", png());
    stack
        .hubspot
        .faults()
        .set_latency(std::time::Duration::from_millis(300));
    stack
        .botpress
        .set_latency(std::time::Duration::from_millis(1_500));
    let sending = stack.caller.user_message_of_type(
        "msg_in_flight_000000000000000002",
        &handoff.conversation_id,
        &handoff.user_id,
        "image",
        json!({ "imageUrl": image }),
    );
    let closing = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        stack.hubspot.close(&handoff.thread_id).await.unwrap()
    };
    let (sent, closed) = tokio::join!(sending, closing);
    stack.hubspot.faults().clear();
    stack.botpress.set_latency(std::time::Duration::ZERO);
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(closed.status, 200, "{}", closed.response_body);
    assert_eq!(file_attachments(&stack, &handoff.thread_id).len(), 1);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(thread.status, "CLOSED");
    assert_eq!(stack.botpress.events_of_type("hitlStopped").len(), 1);
}

/// Without the `files` scope HubSpot refuses a customer's upload with a 403, for good: the
/// text beside the file still reaches the agent, with a note in the file's place (the fix is
/// the operator's, in the log), and Botpress's retry of the message adds nothing.
async fn an_upload_refused_for_good_leaves_the_agent_a_note_with_the_rest_of_the_message(
    path: Path,
) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let before = stack
        .hubspot
        .thread(&handoff.thread_id)
        .unwrap()
        .messages
        .len();
    let image = stack.botpress.host_file("photo.png", "image/png", png());
    stack.hubspot.faults().fail_next(
        "/filemanager/",
        Failure {
            status: 403,
            retry_after: None,
        },
        1,
    );
    for _ in 0..2 {
        let sent = stack
            .caller
            .user_message_of_type(
                "msg_bloc_upload_refused_00000001",
                &handoff.conversation_id,
                &handoff.user_id,
                "bloc",
                json!({ "items": [
                    { "type": "text", "payload": { "text": "Here is my receipt" } },
                    { "type": "image", "payload": { "imageUrl": image } },
                ]}),
            )
            .await;
        assert_eq!(sent.status, 200, "{}", sent.text);
    }
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    let added: Vec<&str> = thread.messages[before..]
        .iter()
        .map(|message| message.text.as_str())
        .collect();
    assert_eq!(
        added,
        [
            "Here is my receipt",
            "[The customer sent an image that could not be attached: the help desk did not take the file. Ask them to send it another way.]"
        ]
    );
    assert!(file_attachments(&stack, &handoff.thread_id).is_empty());
}

/// HubSpot takes the upload but refuses the message that attaches it, for good (a 400: a
/// type the channel, registered by an older version, does not declare yet): the agent gets
/// the note in the file's place, and the bot's message is answered 200.
async fn a_file_the_thread_refuses_leaves_the_agent_a_note(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let image = stack.botpress.host_file("photo.png", "image/png", png());
    stack.hubspot.faults().fail_next(
        "/conversations/v3/custom-channels/",
        Failure {
            status: 400,
            retry_after: None,
        },
        1,
    );
    let sent = stack
        .caller
        .user_message_of_type(
            "msg_image_publish_refused_000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "image",
            json!({ "imageUrl": image }),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert_eq!(
        thread.messages.last().unwrap().text,
        "[The customer sent an image that could not be attached: the help desk did not take the file. Ask them to send it another way.]"
    );
    assert!(file_attachments(&stack, &handoff.thread_id).is_empty());
}

/// A customer's image, slow to fetch, reaches the help desk after the text they sent next:
/// each is published at the time the customer sent it (Botpress's `createdAt`), so the
/// thread, in HubSpot's order, shows them as written. A Botpress clock ahead of ours never
/// puts a message in the future, one behind never above the handoff's opening, and a message
/// relayed over a minute late is placed where the agent looks: now.
async fn a_file_published_after_the_next_text_keeps_its_place_in_the_thread(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let at = |offset_ms: i64| {
        (chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    // Both sent after the handoff opened.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let (image_sent, text_sent) = (at(-1_000), at(-400));
    let text = stack
        .caller
        .user_message_created_at(
            "msg_order_text_00000000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "text",
            json!({ "text": "the box was open too" }),
            &text_sent,
        )
        .await;
    assert_eq!(text.status, 200, "{}", text.text);
    let url = stack.botpress.host_file("dent.png", "image/png", png());
    let image = stack
        .caller
        .user_message_created_at(
            "msg_order_image_0000000000000001",
            &handoff.conversation_id,
            &handoff.user_id,
            "image",
            json!({ "imageUrl": url }),
            &image_sent,
        )
        .await;
    assert_eq!(image.status, 200, "{}", image.text);

    let mut thread = stack.hubspot.thread(&handoff.thread_id).unwrap().messages;
    thread.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    let relayed: Vec<_> = thread
        .iter()
        .filter(|m| published_under(m, "msg_order_"))
        .collect();
    assert_eq!(relayed.len(), 2, "{relayed:?}");
    assert_eq!(
        relayed[0].created_at, image_sent,
        "the image first, as sent"
    );
    assert_eq!(relayed[0].attachments[0]["fileUsageType"], "IMAGE");
    assert_eq!(relayed[1].created_at, text_sent);
    assert_eq!(relayed[1].text, "the box was open too");

    let sent_before = at(0);
    for (id, text, created_at) in [
        (
            "msg_ahead_00000000000000000001",
            "from a clock an hour fast",
            at(3_600_000),
        ),
        (
            "msg_behind_0000000000000000001",
            "from a clock 30 s slow",
            at(-30_000),
        ),
        (
            "msg_late_000000000000000000001",
            "relayed two minutes late",
            at(-120_000),
        ),
    ] {
        let sent = stack
            .caller
            .user_message_created_at(
                id,
                &handoff.conversation_id,
                &handoff.user_id,
                "text",
                json!({ "text": text }),
                &created_at,
            )
            .await;
        assert_eq!(sent.status, 200, "{}", sent.text);
    }
    let checked = at(0);
    let published = stack.hubspot.thread(&handoff.thread_id).unwrap().messages;
    let time_of = |text: &str| {
        published
            .iter()
            .find(|m| m.text == text)
            .unwrap_or_else(|| panic!("`{text}` relayed"))
            .created_at
            .clone()
    };
    // The first message published into the thread: the opening.
    let opening = published[0].created_at.clone();
    let ahead = time_of("from a clock an hour fast");
    assert!(ahead <= checked, "{ahead} > {checked}");
    let behind = time_of("from a clock 30 s slow");
    assert!(
        behind > opening,
        "{behind} not after the opening at {opening}"
    );
    assert!(
        behind < sent_before,
        "{behind}: still before it was relayed"
    );
    let late = time_of("relayed two minutes late");
    assert!(
        sent_before <= late && late <= checked,
        "{late} placed now, between {sent_before} and {checked}"
    );
}

/// Whether the bridge published `message` under an idempotency id starting with `prefix` (a
/// Botpress message id, whose parts' ids start with it too).
fn published_under(message: &MessageSnapshot, prefix: &str) -> bool {
    message
        .integration_idempotency_id
        .as_deref()
        .is_some_and(|id| id.starts_with(prefix))
}

on_both_paths!(
    a_file_published_after_the_next_text_keeps_its_place_in_the_thread,
    an_upload_refused_for_good_leaves_the_agent_a_note_with_the_rest_of_the_message,
    a_failed_upload_is_retryable_and_the_retry_publishes_once,
    a_retried_bloc_uploads_its_files_once,
    a_retried_bloc_resumes_after_the_files_it_uploaded,
    a_picture_in_flight_as_the_bot_ends_the_handoff_leaves_the_thread_closed,
    a_picture_in_flight_as_the_agent_closes_leaves_the_thread_closed,
    an_image_is_relayed_as_a_file_attachment,
    unsafe_or_unsuitable_files_reach_the_agent_as_a_note_in_their_place,
    an_office_document_is_relayed_as_a_file,
    a_file_the_thread_refuses_leaves_the_agent_a_note,
    a_bloc_is_relayed_part_by_part_in_order,
    files_past_the_fifth_of_a_bloc_reach_the_agent_as_notes,
    a_bloc_with_a_location_and_markdown_reaches_the_agent_as_text,
);
