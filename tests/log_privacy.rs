//! Email addresses and phone numbers never reach the logs, whatever path a handoff takes.
//!
//! The test runs on a current-thread runtime with a thread-local subscriber, so every log line
//! of the bridge (and the simulators) in this process lands in the captured buffer.

use std::io::Write;
use std::sync::{Arc, Mutex};

use flow_support::{DEMO_AGENTS, DEMO_CUSTOMER_PHONE, Path, registered_stack, start_handoff};
use hitl_cli::sandbox_stack::SandboxStack;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_email_address_or_phone_number_is_logged_in_process() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stack = registered_stack(Path::InProcess).await;
    exercise_every_path_that_touches_personal_data(&stack).await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_nothing_personal_in(&logs);
}

#[tokio::test]
async fn no_email_address_or_phone_number_is_logged_by_the_lambda_functions() {
    let stack = registered_stack(Path::Lambda).await;
    exercise_every_path_that_touches_personal_data(&stack).await;
    let logs = stack
        .lambda
        .as_ref()
        .expect("the Lambda path")
        .logs()
        .join("\n");
    assert_nothing_personal_in(&logs);
    // JSON lines with a `level`, as template.yaml's metric filter `{ $.level = "ERROR" }`
    // (the alarm on what no retry will mend) reads them.
    for line in logs.lines().filter(|line| !line.trim().is_empty()) {
        let json: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
        assert!(
            matches!(
                json["level"].as_str(),
                Some("ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE")
            ),
            "no level: {line}"
        );
    }
    assert!(
        !logs.contains('\u{1b}'),
        "CloudWatch would store terminal escape codes: {}",
        &logs[..logs.len().min(300)]
    );
}

/// What the customer and the agent write is theirs: it must not reach the logs either.
const CUSTOMER_TEXT: &str = "my parcel PX-7731 never came";
const AGENT_TEXT: &str = "Your refund RF-5521 is on its way";

async fn exercise_every_path_that_touches_personal_data(stack: &SandboxStack) {
    let handoff = start_handoff(stack).await;
    stack
        .caller
        .user_message(
            &handoff.conversation_id,
            &handoff.user_id,
            "my email is in the CRM",
        )
        .await;
    stack
        .hubspot
        .assign(&handoff.thread_id, DEMO_AGENTS[0].0)
        .await
        .unwrap();
    stack
        .hubspot
        .agent_reply(&handoff.thread_id, DEMO_AGENTS[0].0, "Hi")
        .await
        .unwrap();
    let by_phone = stack
        .caller
        .create_user("Sam", Some("+1 415 555 2671"))
        .await;
    assert_eq!(by_phone.status, 200, "{}", by_phone.text);
    let missing = stack
        .caller
        .create_user("Nobody", Some("nobody.secret@example.org"))
        .await;
    assert_eq!(missing.status, 400);
    assert!(
        missing.text.contains("nobody.secret@example.org"),
        "the bot is told which contact"
    );
    let missing_phone = stack
        .caller
        .create_user("Nobody", Some("+44 20 7946 0958"))
        .await;
    assert_eq!(missing_phone.status, 400);
    // A national number with no region to read it in: refused, and the refusal, which quotes
    // it for the bot, is logged without it although none of its groups looks like a number.
    let unreadable = stack
        .caller
        .create_user("Nobody", Some("06 12 34 56 78"))
        .await;
    assert_eq!(unreadable.status, 400, "{}", unreadable.text);
    assert!(
        unreadable.text.contains("06 12 34 56 78"),
        "{}",
        unreadable.text
    );
    stack.caller.stop_hitl(&handoff.conversation_id).await;
    let _ = stack
        .caller
        .action("startHitl", json!({ "userId": handoff.user_id }))
        .await;
}

fn assert_nothing_personal_in(logs: &str) {
    assert!(
        logs.contains("handoff started"),
        "the capture works: {logs}"
    );
    for secret in [
        CUSTOMER_TEXT,
        AGENT_TEXT,
        "jane.doe@example.com",
        "nobody.secret@example.org",
        DEMO_CUSTOMER_PHONE,
        "4155552671",
        "2079460958",
        "7946 0958",
        "12 34 56 78",
        "sandbox-client-secret",
        "sandbox-shared-secret",
        "sandbox-botpress-token",
        "sandbox-developer-api-key",
        "na1-sandbox-refresh-token",
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` reached the logs:\n{logs}"
        );
    }
}
