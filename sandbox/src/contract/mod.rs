//! Contract checks: every call the bridge makes to HubSpot and Botpress, and every answer the
//! simulators give, validated against the official OpenAPI documents (`../shared/specs`) by
//! Stoplight Prism in proxy mode.
//!
//! ```text
//! bridge ──HUBSPOT_API_BASE=http://front/s7/hubspot──▶ front ──by path──▶ prism proxy (one per document)
//!        ──BOTPRESS_API_BASE=http://front/s7/botpress─▶   │                     │ upstream = front,
//!                                                        ◀── sl-violations ─────┘ x-hitl-contract-route: 7/hubspot
//!                                                         front ──▶ stack 7's simulated HubSpot / Botpress
//! ```
//!
//! The Prism processes and the front are started once per process (a test binary) and shared by
//! every stack: a [`ContractSession`] per stack registers its simulators under a session number,
//! which the front puts in the base URLs it hands out, and gets back, for each call, the
//! violations Prism reported in its `sl-violations` response header (request and response alike,
//! errors and warnings, including "Selected route not found" for a call no document lists).
//!
//! Prism runs without `--errors`: with it, a request violation is answered 422 by Prism without
//! reaching the simulator, so a violation the allow-list ([`allow`]) accepts (the document being
//! stricter than HubSpot) would still break the flow. Without it, every call reaches the simulator
//! and Prism reports the same violations in the header, which the front turns into failures:
//! a session that ends with a violation the allow-list does not name panics when dropped, and
//! every session appends its counts and violations to the report file `scripts/check-contracts`
//! reads (`HITL_CONTRACTS_REPORT`).

pub mod allow;
mod front;
mod prism;
mod work_dir;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

/// The header Prism forwards back to the front, naming the session and service of a call.
pub(crate) const ROUTE_HEADER: &str = "x-hitl-contract-route";

/// Where Prism and the documents are, and where the report goes.
#[derive(Clone, Debug)]
pub struct ContractCheck {
    /// The `prism` executable (`scripts/prism-install` prints it).
    pub prism: PathBuf,
    /// The folder holding `hubspot/` and `botpress/` (the project's `../shared/specs`).
    pub specs: PathBuf,
    /// A JSON-lines file each session appends its calls and violations to.
    pub report: Option<PathBuf>,
}

impl ContractCheck {
    /// On when `HITL_CONTRACTS_PRISM` names the Prism executable; `HITL_SPECS_DIR` overrides
    /// where the documents are, `HITL_CONTRACTS_REPORT` names the report file.
    pub fn from_env() -> Option<Self> {
        let prism = std::env::var_os("HITL_CONTRACTS_PRISM").filter(|value| !value.is_empty())?;
        let specs = std::env::var_os("HITL_SPECS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(default_specs_dir);
        Some(Self {
            prism: PathBuf::from(prism),
            specs,
            report: std::env::var_os("HITL_CONTRACTS_REPORT")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from),
        })
    }
}

/// The repository's vendored copy of `../shared/specs` (`specs/`).
pub fn default_specs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

/// One official document, and so one Prism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Document {
    /// `hubspot/custom-channels/customChannels.v3.json`, with the channel list/create path
    /// moved (see [`prism::prepare_document`]).
    CustomChannels,
    /// `hubspot/conversations/conversationsInboxMessages.v3.json`.
    Conversations,
    /// `hubspot/oauth/oauth.v1.json`.
    OAuthV1,
    /// `hubspot/oauth/oauth.2026-03.json`.
    OAuth202603,
    /// `hubspot/crm-contacts/contacts.v3.json`.
    Contacts,
    /// `botpress/runtime-openapi.json`.
    Botpress,
}

impl Document {
    pub const ALL: [Document; 6] = [
        Document::CustomChannels,
        Document::Conversations,
        Document::OAuthV1,
        Document::OAuth202603,
        Document::Contacts,
        Document::Botpress,
    ];

    /// The API a call is counted under in the summary.
    pub fn api(self) -> &'static str {
        match self {
            Document::CustomChannels => "custom-channels",
            Document::Conversations => "conversations",
            Document::OAuthV1 | Document::OAuth202603 => "oauth",
            Document::Contacts => "contacts",
            Document::Botpress => "botpress",
        }
    }

    /// The file, relative to the specs folder.
    pub fn file(self) -> &'static str {
        match self {
            Document::CustomChannels => "hubspot/custom-channels/customChannels.v3.json",
            Document::Conversations => "hubspot/conversations/conversationsInboxMessages.v3.json",
            Document::OAuthV1 => "hubspot/oauth/oauth.v1.json",
            Document::OAuth202603 => "hubspot/oauth/oauth.2026-03.json",
            Document::Contacts => "hubspot/crm-contacts/contacts.v3.json",
            Document::Botpress => "botpress/runtime-openapi.json",
        }
    }

    /// Which document covers a HubSpot path, by prefix.
    pub fn for_hubspot_path(path: &str) -> Option<Document> {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if under("/conversations/v3/custom-channels") {
            Some(Document::CustomChannels)
        } else if under("/conversations/v3/conversations") {
            Some(Document::Conversations)
        } else if under("/oauth/v1") {
            Some(Document::OAuthV1)
        } else if under("/oauth/2026-03") {
            Some(Document::OAuth202603)
        } else if under("/crm/v3/objects/contacts") {
            Some(Document::Contacts)
        } else {
            None
        }
    }
}

/// One violation Prism reported (or a call no document covers), with the call that caused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub api: &'static str,
    /// `METHOD /path` as sent (the query is left out: it can hold the developer API key).
    pub call: String,
    /// The status the simulator answered.
    pub status: u16,
    /// Prism's location, e.g. `request.body` or `response.body`.
    pub location: String,
    pub severity: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {} → {}: {} {} ({})",
            self.api, self.call, self.status, self.location, self.message, self.severity
        )
    }
}

#[derive(Default)]
pub(crate) struct SessionState {
    calls: BTreeMap<&'static str, usize>,
    violations: Vec<Violation>,
    allowed: Vec<Violation>,
}

impl SessionState {
    pub(crate) fn record(&mut self, api: &'static str, violations: Vec<Violation>) {
        *self.calls.entry(api).or_default() += 1;
        for violation in violations {
            if allow::allows(&violation) {
                self.allowed.push(violation);
            } else {
                self.violations.push(violation);
            }
        }
    }
}

/// What the front knows about one stack.
pub(crate) struct SessionEntry {
    pub(crate) hubspot_upstream: String,
    pub(crate) botpress_upstream: String,
    pub(crate) state: Mutex<SessionState>,
}

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);
static SHARED: OnceLock<Result<Arc<front::Shared>, String>> = OnceLock::new();

/// One stack's view through the validating proxies. Dropping it checks: it panics (unless the
/// thread is already panicking) when a call broke a document in a way the allow-list does not
/// name, and appends the session's record to the report file.
pub struct ContractSession {
    id: u64,
    shared: Arc<front::Shared>,
    entry: Arc<SessionEntry>,
    report: Option<PathBuf>,
}

impl ContractSession {
    /// Starts (once per process) the Prism proxies and the front, and registers a stack whose
    /// simulators answer at these base URLs.
    pub async fn start(
        check: &ContractCheck,
        hubspot_upstream: &str,
        botpress_upstream: &str,
    ) -> std::io::Result<Self> {
        let owned = check.clone();
        let shared = tokio::task::spawn_blocking(move || {
            SHARED
                .get_or_init(|| front::Shared::start(&owned).map_err(|error| format!("{error:#}")))
                .clone()
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(|error| {
            std::io::Error::other(format!("the contract proxies did not start: {error}"))
        })?;
        let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(SessionEntry {
            hubspot_upstream: hubspot_upstream.trim_end_matches('/').to_string(),
            botpress_upstream: botpress_upstream.trim_end_matches('/').to_string(),
            state: Mutex::new(SessionState::default()),
        });
        shared.register(id, Arc::clone(&entry));
        Ok(Self {
            id,
            shared,
            entry,
            report: check.report.clone(),
        })
    }

    /// The HubSpot API base URL to give the bridge.
    pub fn hubspot_base(&self) -> String {
        format!("{}/s{}/hubspot", self.shared.front_url(), self.id)
    }

    /// The Botpress API base URL to give the bridge.
    pub fn botpress_base(&self) -> String {
        format!("{}/s{}/botpress", self.shared.front_url(), self.id)
    }

    /// Calls checked so far, per API.
    pub fn calls(&self) -> BTreeMap<&'static str, usize> {
        self.state().calls.clone()
    }

    /// Violations the allow-list does not name.
    pub fn violations(&self) -> Vec<Violation> {
        self.state().violations.clone()
    }

    /// Violations the allow-list accepted.
    pub fn allowed(&self) -> Vec<Violation> {
        self.state().allowed.clone()
    }

    /// Removes and returns the violations, for a test that provokes them on purpose.
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.state().violations)
    }

    /// Panics listing the violations, if any.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        if !violations.is_empty() {
            panic!("{}", describe(&violations));
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.entry
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_report(&self, state: &SessionState) {
        let Some(path) = &self.report else { return };
        let record = serde_json::json!({
            "binary": std::env::current_exe().ok()
                .and_then(|exe| exe.file_name().map(|name| name.to_string_lossy().into_owned())),
            "test": std::thread::current().name(),
            "calls": state.calls,
            "violations": state.violations,
            "allowed": state.allowed,
        });
        // One `write_all` of the whole line, under a lock: tests run in parallel threads, and
        // `writeln!` writes a record in pieces that other threads' records could split.
        static APPENDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let line = format!("{record}\n");
        let _appending = APPENDING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(error) = written {
            panic!(
                "cannot append the contract report to {}: {error}",
                path.display()
            );
        }
    }
}

impl Drop for ContractSession {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
        let state = std::mem::take(
            &mut *self
                .entry
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if std::thread::panicking() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.write_report(&state)
            }));
            return;
        }
        self.write_report(&state);
        if !state.violations.is_empty() {
            panic!("{}", describe(&state.violations));
        }
    }
}

fn describe(violations: &[Violation]) -> String {
    let mut text = format!(
        "{} contract violation(s) against the official API documents:",
        violations.len()
    );
    for violation in violations {
        text.push_str("\n  ");
        text.push_str(&violation.to_string());
    }
    text
}
