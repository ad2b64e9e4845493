//! What every whole-flow test starts from: the sandbox stack (`hitl serve --sandbox` without
//! the demo), registered with HubSpot, on one of two paths:
//! - [`Path::InProcess`]: the bridge's router served in the test process over SQLite;
//! - [`Path::Lambda`]: the three Lambda binaries (built by `cargo build --bins`) under the
//!   Lambda emulator behind an emulated HTTP API, over DynamoDB and Secrets Manager on the moto
//!   server `scripts/test` starts (`HITL_TEST_AWS_ENDPOINT`).
//!
//! [`on_both_paths!`] runs the same test body on each.

use std::path::PathBuf;
use std::time::Duration;

use hitl_cli::sandbox_stack::{BridgePath, DEMO_CUSTOMER_EMAIL, SandboxOptions, SandboxStack};
use serde_json::{Value, json};

pub use hitl_cli::sandbox_stack::{DEMO_AGENTS, DEMO_CUSTOMER_PHONE};

/// Which bridge a test drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    InProcess,
    Lambda,
}

/// Generates, for each named `async fn name(path: Path)`, a test `in_process::name` and a test
/// `lambda::name` running it on each path.
#[macro_export]
macro_rules! on_both_paths {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Path::InProcess).await
                }
            )*
        }
        mod lambda {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Path::Lambda).await
                }
            )*
        }
    };
}

/// Default options for a path.
pub fn options(path: Path) -> SandboxOptions {
    SandboxOptions {
        path: bridge_path(path),
        // `HITL_CONTRACTS_PRISM` set (scripts/check-contracts): every call validated by Prism.
        contracts: hitl_sandbox::contract::ContractCheck::from_env(),
        ..SandboxOptions::default()
    }
}

fn bridge_path(path: Path) -> BridgePath {
    match path {
        Path::InProcess => BridgePath::InProcess,
        Path::Lambda => {
            let aws_endpoint = std::env::var("HITL_TEST_AWS_ENDPOINT").expect(
                "the Lambda path needs a moto server: run scripts/test, or set HITL_TEST_AWS_ENDPOINT",
            );
            let binaries = lambda_binaries();
            assert!(
                binaries.join("hubspot-webhook").is_file(),
                "no function binaries in {}: run `cargo build --workspace --bins` first (scripts/test does)",
                binaries.display()
            );
            BridgePath::Lambda {
                binaries,
                aws_endpoint,
                concurrency: LAMBDA_CONCURRENCY,
            }
        }
    }
}

/// Execution environments each function may run at once on the Lambda path: enough for the
/// deliveries the flows overlap (a reply in flight and a close, a retry while the first is
/// still running), each in its own process as on AWS.
const LAMBDA_CONCURRENCY: usize = 4;

/// Where `cargo build --bins` put the function binaries (`HITL_LAMBDA_BINARIES` overrides).
fn lambda_binaries() -> PathBuf {
    if let Some(folder) = std::env::var_os("HITL_LAMBDA_BINARIES") {
        return PathBuf::from(folder);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug")
}

/// A registered stack with the default simulators.
pub async fn registered_stack(path: Path) -> SandboxStack {
    registered_stack_with(options(path)).await
}

pub async fn registered_stack_with(options: SandboxOptions) -> SandboxStack {
    let stack = SandboxStack::start(options)
        .await
        .expect("the sandbox starts");
    stack.register().await.expect("register succeeds");
    stack
}

/// A registered stack in process whose bridge reads the time from `clock`, for tests that
/// move the bridge's time (only the in-process bridge takes a clock).
pub async fn in_process_stack_on(clock: std::sync::Arc<MovableClock>) -> SandboxStack {
    registered_stack_with(SandboxOptions {
        clock: Some(clock),
        ..options(Path::InProcess)
    })
    .await
}

/// One handoff in progress: the customer's Botpress user, the `hitl` conversation, and the
/// HubSpot thread the bridge opened.
pub use hitl_sandbox::handoff::OpenedHandoff as Handoff;

/// Creates the demo customer (by email) and starts a handoff for them.
pub async fn start_handoff(stack: &SandboxStack) -> Handoff {
    start_handoff_as(stack, "Jane Doe", DEMO_CUSTOMER_EMAIL).await
}

/// Starts a handoff for a customer the simulated HubSpot knows by `email`.
pub async fn start_handoff_as(stack: &SandboxStack, name: &str, email: &str) -> Handoff {
    hitl_sandbox::handoff::open_handoff(
        &stack.caller,
        &stack.hubspot,
        (name, email),
        Some("Order did not arrive"),
        Some("Order #1234"),
    )
    .await
    .unwrap_or_else(|problem| panic!("opening a handoff: {problem}"))
}

/// Creates the demo customer and starts a handoff that does not open: the thread is opened,
/// but Botpress is unavailable through every retry of the bot conversation's creation, so
/// `startHitl` fails retryably and the session stays opening. `(user id, thread id)`.
pub async fn start_handoff_that_stays_opening(stack: &SandboxStack) -> (String, String) {
    let user_id = create_demo_customer(stack).await;
    stack
        .botpress
        .fail_next("/v1/chat/conversations/get-or-create", 503, 4);
    let refused = stack
        .caller
        .start_hitl(&user_id, Some("Order did not arrive"), None, json!([]))
        .await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    (user_id, demo_customers_thread(stack))
}

/// The demo customer's Botpress user, made with `createUser` (by email).
pub async fn create_demo_customer(stack: &SandboxStack) -> String {
    let created = stack
        .caller
        .create_user("Jane Doe", Some(DEMO_CUSTOMER_EMAIL))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    text(&created.body, "/output/userId")
}

/// The id of the thread HubSpot opened for the demo customer.
pub fn demo_customers_thread(stack: &SandboxStack) -> String {
    stack
        .hubspot
        .thread_opened_by(DEMO_CUSTOMER_EMAIL)
        .expect("HubSpot opened the demo customer's thread")
        .id
}

/// The string at a JSON pointer, or a failing test that shows the whole body.
pub fn text(body: &Value, pointer: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {body}"))
        .to_string()
}

/// Waits (bounded) until `condition` holds: for effects that happen in the background, such
/// as the webhook the simulated HubSpot sends after an API change.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..100 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Lets background work settle before asserting that something did NOT happen.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// The system clock, set back by some time until it catches up: what a bridge sees when
/// time has passed since something happened (an opening, a handoff). Setting it back,
/// rather than forward later, keeps the HubSpot simulator's signed timestamps within the
/// bridge's five-minute window once it has caught up. For [`Path::InProcess`] stacks
/// (`SandboxOptions::clock`); the Lambda path's functions read the system clock.
pub struct MovableClock {
    ahead_ms: std::sync::atomic::AtomicI64,
}

impl MovableClock {
    pub fn behind_by(by: chrono::TimeDelta) -> Self {
        Self {
            ahead_ms: std::sync::atomic::AtomicI64::new(-by.num_milliseconds()),
        }
    }

    pub fn catch_up(&self) {
        self.ahead_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

impl hitl_bridge::ports::Clock for MovableClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::TimeDelta::milliseconds(
                self.ahead_ms.load(std::sync::atomic::Ordering::SeqCst),
            )
    }
}
