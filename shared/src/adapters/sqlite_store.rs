//! The embedded store for the local server and tests: every port over one SQLite file.
//!
//! Uniqueness constraints do the work that conditional writes do in DynamoDB: one active
//! session per customer, one session per thread and per conversation, one ledger record per
//! key. Calls run on the blocking pool so a slow disk never stalls the async runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use secrecy::{ExposeSecret, SecretString};

use crate::model::{
    AgentUser, AssignmentMark, BotpressContext, CUSTOMER_RETENTION, ChannelSetup, Customer,
    DeliveryIdentifier, HandoffSession, InboxAccount, SessionCustomer, SessionStatus,
};
use crate::ports::{
    AgentStore, ChannelStore, Claim, Clock, CustomerStore, DeliveryStatus, ExpiringStore,
    FinishingWrite, IdempotencyLedger, OwedStatus, OwedStatusStore, PendingClose,
    PendingCloseStore, RefreshLock, SessionStore, StoreError, StoredTokens, TokenVault,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sessions (
    id                    TEXT PRIMARY KEY,
    bot_id                TEXT NOT NULL,
    integration_id        TEXT NOT NULL,
    integration_alias     TEXT NOT NULL,
    customer_user_id      TEXT NOT NULL,
    channel_id            TEXT NOT NULL,
    channel_account_id    TEXT NOT NULL,
    integration_thread_id TEXT NOT NULL UNIQUE,
    thread_id             TEXT UNIQUE,
    conversation_id       TEXT UNIQUE,
    status                TEXT NOT NULL,
    assigned_actor_id     TEXT,
    created_at            TEXT NOT NULL,
    assignment_changed_at_ms INTEGER,
    replies_relayed_until_ms INTEGER,
    customer_name         TEXT,
    customer_identifier_type  TEXT,
    customer_identifier_value TEXT,
    closed_at_ms          INTEGER,
    activated_at_ms       INTEGER,
    assignment_event_id   INTEGER,
    listening_again_since_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_session_per_customer
    ON sessions (bot_id, customer_user_id) WHERE status <> 'closed';
CREATE TABLE IF NOT EXISTS channel_setup (
    singleton          INTEGER PRIMARY KEY CHECK (singleton = 1),
    channel_id         TEXT NOT NULL,
    channel_account_id TEXT NOT NULL,
    inbox_id           TEXT NOT NULL,
    webhook_url        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox_accounts (
    inbox_id           TEXT PRIMARY KEY,
    inbox_name         TEXT,
    channel_account_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    bot_id             TEXT NOT NULL,
    botpress_user_id   TEXT NOT NULL,
    name               TEXT NOT NULL,
    identifier_type    TEXT NOT NULL,
    identifier_value   TEXT NOT NULL,
    hubspot_contact_id TEXT NOT NULL,
    saved_at_ms        INTEGER,
    PRIMARY KEY (bot_id, botpress_user_id)
);
CREATE TABLE IF NOT EXISTS agent_users (
    bot_id           TEXT NOT NULL,
    actor_id         TEXT NOT NULL,
    botpress_user_id TEXT NOT NULL,
    name             TEXT,
    PRIMARY KEY (bot_id, actor_id)
);
CREATE TABLE IF NOT EXISTS idempotency (
    key           TEXT PRIMARY KEY,
    state         TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
    outcome       TEXT,
    expires_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    name          TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_closes (
    thread_id TEXT PRIMARY KEY,
    since_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS statuses_owed (
    channel_id    TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('SENT', 'FAILED')),
    error_message TEXT,
    since_ms      INTEGER NOT NULL,
    PRIMARY KEY (channel_id, message_id)
);
CREATE TABLE IF NOT EXISTS oauth_tokens (
    singleton          INTEGER PRIMARY KEY CHECK (singleton = 1),
    refresh_token      TEXT NOT NULL,
    access_token       TEXT,
    expires_at         TEXT,
    seed_fingerprint   TEXT NOT NULL,
    portal_id          INTEGER
);
"#;

/// Columns added after a table was first created: a database from an older version gets them
/// when it is opened (`CREATE TABLE IF NOT EXISTS` leaves an existing table as it was).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("oauth_tokens", "portal_id", "INTEGER"),
    ("sessions", "assignment_changed_at_ms", "INTEGER"),
    ("sessions", "replies_relayed_until_ms", "INTEGER"),
    ("sessions", "customer_name", "TEXT"),
    ("sessions", "customer_identifier_type", "TEXT"),
    ("sessions", "customer_identifier_value", "TEXT"),
    ("sessions", "closed_at_ms", "INTEGER"),
    ("sessions", "activated_at_ms", "INTEGER"),
    ("sessions", "assignment_event_id", "INTEGER"),
    ("sessions", "listening_again_since_ms", "INTEGER"),
    ("customers", "saved_at_ms", "INTEGER"),
];

/// How long a closed session is kept: what the DynamoDB store's TTL keeps it
/// (`dynamodb_store::CLOSED_RETENTION`), so a late webhook about its thread is still recognised.
const CLOSED_RETENTION_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Creates `path` empty with mode 0600 unless it exists (an existing file keeps its mode).
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// A transaction that reads before it writes, started as the writer (`BEGIN IMMEDIATE`): a
/// deferred one would fail at once with "database is locked" when it tried to upgrade to
/// writing while another process (`hitl doctor`, `hitl setup`, a second server) wrote the
/// same file, where waiting for the lock (`busy_timeout`) is what is wanted.
fn write_transaction(connection: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// Every store port over one SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    ///
    /// A new file is made readable by its owner only (0600): it holds the HubSpot grant, which
    /// on AWS lives in Secrets Manager. SQLite gives its `-wal` and `-shm` files the same mode.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        create_owner_only(path).map_err(|e| StoreError::new("open", e))?;
        let connection = Connection::open(path).map_err(|e| StoreError::new("open", e))?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| StoreError::new("open", e))?;
        Self::with_connection(connection, clock)
    }

    /// A private in-memory database (tests, and `hitl serve --sandbox` without `HITL_DB`).
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory().map_err(|e| StoreError::new("open", e))?;
        Self::with_connection(connection, clock)
    }

    fn with_connection(connection: Connection, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| StoreError::new("open", e))?;
        connection
            .execute_batch(SCHEMA)
            .map_err(|e| StoreError::new("create schema", e))?;
        for (table, column, definition) in ADDED_COLUMNS {
            add_column_if_missing(&connection, table, column, definition)
                .map_err(|e| StoreError::new("upgrade schema", e))?;
        }
        // Sessions closed before closing was timed (an older version): their 30 days start now.
        connection
            .execute(
                "UPDATE sessions SET closed_at_ms = ?1 \
                 WHERE status = 'closed' AND closed_at_ms IS NULL",
                params![clock.now().timestamp_millis()],
            )
            .map_err(|e| StoreError::new("upgrade schema", e))?;
        // Customers saved before their saving was timed: their 30 days start now too.
        connection
            .execute(
                "UPDATE customers SET saved_at_ms = ?1 WHERE saved_at_ms IS NULL",
                params![clock.now().timestamp_millis()],
            )
            .map_err(|e| StoreError::new("upgrade schema", e))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            clock,
        })
    }

    /// Runs `work` on the blocking pool with the connection.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut connection = connection
                .lock()
                .map_err(|_| StoreError::new(operation, "connection lock poisoned"))?;
            work(&mut connection).map_err(|e| sqlite_failure(operation, e))
        })
        .await
        .map_err(|e| StoreError::new(operation, e))?
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
}

/// A SQLite error as a [`StoreError`]: transient when another process holds the file's lock,
/// refused otherwise (a read-only or full disk, a damaged file), which waiting will not mend.
fn sqlite_failure(operation: &'static str, error: rusqlite::Error) -> StoreError {
    let busy = matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if busy {
        StoreError::new(operation, error)
    } else {
        StoreError::refused(operation, error)
    }
}

const SESSION_COLUMNS: &str = "id, bot_id, integration_id, integration_alias, customer_user_id, \
    channel_id, channel_account_id, integration_thread_id, thread_id, conversation_id, status, \
    assigned_actor_id, created_at, assignment_changed_at_ms, replies_relayed_until_ms, \
    customer_name, customer_identifier_type, customer_identifier_value, activated_at_ms, \
    assignment_event_id, listening_again_since_ms";

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<HandoffSession> {
    let status: String = row.get(10)?;
    let created_at: String = row.get(12)?;
    Ok(HandoffSession {
        id: row.get(0)?,
        bot: BotpressContext {
            bot_id: row.get(1)?,
            integration_id: row.get(2)?,
            integration_alias: row.get(3)?,
        },
        customer_user_id: row.get(4)?,
        channel_id: row.get(5)?,
        channel_account_id: row.get(6)?,
        integration_thread_id: row.get(7)?,
        thread_id: row.get(8)?,
        conversation_id: row.get(9)?,
        status: SessionStatus::parse(&status).ok_or_else(|| bad_column(10, &status))?,
        assigned_actor_id: row.get(11)?,
        assignment_mark: row
            .get::<_, Option<i64>>(13)?
            .map(|at_ms| Ok::<_, rusqlite::Error>(AssignmentMark::new(at_ms, row.get(19)?)))
            .transpose()?,
        created_at: DateTime::parse_from_rfc3339(&created_at)
            .map_err(|_| bad_column(12, &created_at))?
            .with_timezone(&Utc),
        replies_relayed_until_ms: row.get(14)?,
        customer: session_customer_from_row(row)?,
        activated_at_ms: row.get(18)?,
        listening_again_since_ms: row.get(20)?,
    })
}

/// Columns 15–17: the customer fixed on the session (absent on sessions of older versions).
fn session_customer_from_row(row: &Row<'_>) -> rusqlite::Result<Option<SessionCustomer>> {
    let name: Option<String> = row.get(15)?;
    let kind: Option<String> = row.get(16)?;
    let value: Option<String> = row.get(17)?;
    let (Some(name), Some(kind), Some(value)) = (name, kind, value) else {
        return Ok(None);
    };
    let identifier = identifier_from(16, &kind, value)?;
    Ok(Some(SessionCustomer { name, identifier }))
}

/// A delivery identifier stored as its HubSpot type (in column `index`) and value.
fn identifier_from(
    index: usize,
    kind: &str,
    value: String,
) -> rusqlite::Result<DeliveryIdentifier> {
    DeliveryIdentifier::from_hubspot(kind, value).ok_or_else(|| bad_column(index, kind))
}

/// Moves a session's reply-order mark forward, never back.
fn advance_replies_mark(
    connection: &Connection,
    session_id: &str,
    created_at_ms: i64,
) -> rusqlite::Result<()> {
    connection.execute(
        "UPDATE sessions SET replies_relayed_until_ms = ?2 WHERE id = ?1 \
         AND (replies_relayed_until_ms IS NULL OR replies_relayed_until_ms < ?2)",
        params![session_id, created_at_ms],
    )?;
    Ok(())
}

fn bad_column(index: usize, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        format!("unexpected stored value `{value}`").into(),
    )
}

fn find_session(
    connection: &Connection,
    column: &'static str,
    value: &str,
) -> rusqlite::Result<Option<HandoffSession>> {
    connection
        .query_row(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE {column} = ?1"),
            params![value],
            session_from_row,
        )
        .optional()
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_or_get_active(
        &self,
        session: HandoffSession,
    ) -> Result<HandoffSession, StoreError> {
        self.run("insert session", move |connection| {
            let transaction = write_transaction(connection)?;
            let existing = transaction
                .query_row(
                    &format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions \
                         WHERE bot_id = ?1 AND customer_user_id = ?2 AND status <> 'closed'"
                    ),
                    params![session.bot.bot_id, session.customer_user_id],
                    session_from_row,
                )
                .optional()?;
            if let Some(existing) = existing {
                return Ok(existing);
            }
            transaction.execute(
                &format!(
                    "INSERT INTO sessions ({SESSION_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                     ?16, ?17, ?18, ?19, ?20, ?21)"
                ),
                params![
                    session.id,
                    session.bot.bot_id,
                    session.bot.integration_id,
                    session.bot.integration_alias,
                    session.customer_user_id,
                    session.channel_id,
                    session.channel_account_id,
                    session.integration_thread_id,
                    session.thread_id,
                    session.conversation_id,
                    session.status.as_str(),
                    session.assigned_actor_id,
                    session.created_at.to_rfc3339(),
                    session.assignment_mark.map(|mark| mark.at_ms),
                    session.replies_relayed_until_ms,
                    session.customer.as_ref().map(|customer| &customer.name),
                    session
                        .customer
                        .as_ref()
                        .map(|customer| customer.identifier.hubspot_type()),
                    session
                        .customer
                        .as_ref()
                        .map(|customer| customer.identifier.value()),
                    session.activated_at_ms,
                    session.assignment_mark.and_then(|mark| mark.event_id),
                    session.listening_again_since_ms,
                ],
            )?;
            transaction.commit()?;
            Ok(session)
        })
        .await
    }

    async fn set_thread(&self, session_id: &str, thread_id: &str) -> Result<(), StoreError> {
        let (session_id, thread_id) = (session_id.to_string(), thread_id.to_string());
        self.run("record thread", move |connection| {
            connection.execute(
                "UPDATE sessions SET thread_id = ?2 WHERE id = ?1",
                params![session_id, thread_id],
            )?;
            Ok(())
        })
        .await
    }

    async fn activate(&self, session_id: &str, conversation_id: &str) -> Result<bool, StoreError> {
        let (session_id, conversation_id) = (session_id.to_string(), conversation_id.to_string());
        let now = self.now_ms();
        self.run("activate session", move |connection| {
            let status: Option<String> = connection
                .query_row(
                    "UPDATE sessions SET conversation_id = ?2, \
                     activated_at_ms = CASE WHEN status = 'opening' \
                         THEN COALESCE(activated_at_ms, ?3) ELSE activated_at_ms END, \
                     status = CASE WHEN status = 'opening' THEN 'open' ELSE status END \
                     WHERE id = ?1 RETURNING status",
                    params![session_id, conversation_id, now],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(status.is_some_and(|status| status != "closed"))
        })
        .await
    }

    async fn listen_again(&self, session_id: &str) -> Result<(), StoreError> {
        let (session_id, now) = (session_id.to_string(), self.now_ms());
        self.run("listen again", move |connection| {
            connection.execute(
                "UPDATE sessions SET listening_again_since_ms = ?2 WHERE id = ?1 AND status = 'open'",
                params![session_id, now],
            )?;
            Ok(())
        })
        .await
    }

    async fn close(&self, session_id: &str) -> Result<bool, StoreError> {
        let session_id = session_id.to_string();
        let now = self.now_ms();
        self.run("close session", move |connection| {
            let changed = connection.execute(
                "UPDATE sessions SET status = 'closed', closed_at_ms = ?2 \
                 WHERE id = ?1 AND status <> 'closed'",
                params![session_id, now],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn set_assignee(
        &self,
        session_id: &str,
        actor_id: Option<&str>,
        mark: AssignmentMark,
    ) -> Result<bool, StoreError> {
        let session_id = session_id.to_string();
        let actor_id = actor_id.map(str::to_string);
        self.run("record assignee", move |connection| {
            // The mark's order (`AssignmentMark`): a later millisecond, or the same one and no
            // lower event id (none is lowest; `x <= NULL` is never true).
            let changed = connection.execute(
                "UPDATE sessions SET assigned_actor_id = ?2, assignment_changed_at_ms = ?3, \
                 assignment_event_id = ?4 \
                 WHERE id = ?1 \
                 AND (assignment_changed_at_ms IS NULL OR assignment_changed_at_ms < ?3 \
                      OR (assignment_changed_at_ms = ?3 \
                          AND (assignment_event_id IS NULL OR assignment_event_id <= ?4)))",
                params![session_id, actor_id, mark.at_ms, mark.event_id],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn advance_replies_relayed_until(
        &self,
        session_id: &str,
        created_at_ms: i64,
    ) -> Result<(), StoreError> {
        let session_id = session_id.to_string();
        self.run("advance reply order", move |connection| {
            advance_replies_mark(connection, &session_id, created_at_ms)
        })
        .await
    }

    async fn find_by_thread(&self, thread_id: &str) -> Result<Option<HandoffSession>, StoreError> {
        let thread_id = thread_id.to_string();
        self.run("find session by thread", move |connection| {
            find_session(connection, "thread_id", &thread_id)
        })
        .await
    }

    async fn find_by_id(&self, session_id: &str) -> Result<Option<HandoffSession>, StoreError> {
        let session_id = session_id.to_string();
        self.run("find session by id", move |connection| {
            find_session(connection, "id", &session_id)
        })
        .await
    }

    async fn find_by_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<HandoffSession>, StoreError> {
        let conversation_id = conversation_id.to_string();
        self.run("find session by conversation", move |connection| {
            find_session(connection, "conversation_id", &conversation_id)
        })
        .await
    }
}

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn channel_setup(&self) -> Result<Option<ChannelSetup>, StoreError> {
        self.run("read channel setup", |connection| {
            let setup = connection
                .query_row(
                    "SELECT channel_id, channel_account_id, inbox_id, webhook_url \
                     FROM channel_setup WHERE singleton = 1",
                    [],
                    |row| {
                        Ok(ChannelSetup {
                            channel_id: row.get(0)?,
                            channel_account_id: row.get(1)?,
                            inbox_id: row.get(2)?,
                            webhook_url: row.get(3)?,
                            accounts: Vec::new(),
                        })
                    },
                )
                .optional()?;
            let Some(mut setup) = setup else {
                return Ok(None);
            };
            let mut statement = connection.prepare(
                "SELECT inbox_id, inbox_name, channel_account_id FROM inbox_accounts \
                 ORDER BY rowid",
            )?;
            setup.accounts = statement
                .query_map([], |row| {
                    Ok(InboxAccount {
                        inbox_id: row.get(0)?,
                        inbox_name: row.get(1)?,
                        channel_account_id: row.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(setup))
        })
        .await
    }

    /// Replaces the setup and its inbox accounts in one transaction.
    async fn save_channel_setup(&self, setup: &ChannelSetup) -> Result<(), StoreError> {
        let setup = setup.clone();
        self.run("save channel setup", move |connection| {
            let transaction = write_transaction(connection)?;
            transaction.execute(
                "INSERT INTO channel_setup (singleton, channel_id, channel_account_id, inbox_id, webhook_url) \
                 VALUES (1, ?1, ?2, ?3, ?4) \
                 ON CONFLICT (singleton) DO UPDATE SET channel_id = ?1, channel_account_id = ?2, \
                 inbox_id = ?3, webhook_url = ?4",
                params![setup.channel_id, setup.channel_account_id, setup.inbox_id, setup.webhook_url],
            )?;
            transaction.execute("DELETE FROM inbox_accounts", [])?;
            for account in &setup.accounts {
                transaction.execute(
                    "INSERT INTO inbox_accounts (inbox_id, inbox_name, channel_account_id) \
                     VALUES (?1, ?2, ?3)",
                    params![account.inbox_id, account.inbox_name, account.channel_account_id],
                )?;
            }
            transaction.commit()
        })
        .await
    }
}

#[async_trait]
impl CustomerStore for SqliteStore {
    async fn save_customer(&self, customer: &Customer) -> Result<(), StoreError> {
        let customer = customer.clone();
        let now = self.now_ms();
        self.run("save customer", move |connection| {
            connection.execute(
                "INSERT INTO customers (bot_id, botpress_user_id, name, identifier_type, identifier_value, hubspot_contact_id, saved_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (bot_id, botpress_user_id) DO UPDATE SET name = ?3, identifier_type = ?4, \
                 identifier_value = ?5, hubspot_contact_id = ?6, saved_at_ms = ?7",
                params![
                    customer.bot_id,
                    customer.botpress_user_id,
                    customer.name,
                    customer.identifier.hubspot_type(),
                    customer.identifier.value(),
                    // A visitor has no contact: `''` stands for none (the column is NOT NULL).
                    customer.hubspot_contact_id.as_deref().unwrap_or_default(),
                    now,
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn customer(
        &self,
        bot_id: &str,
        botpress_user_id: &str,
    ) -> Result<Option<Customer>, StoreError> {
        let (bot_id, user_id) = (bot_id.to_string(), botpress_user_id.to_string());
        let expired_before = self.now_ms() - CUSTOMER_RETENTION.num_milliseconds();
        self.run("read customer", move |connection| {
            connection
                .query_row(
                    "SELECT bot_id, botpress_user_id, name, identifier_type, identifier_value, hubspot_contact_id \
                     FROM customers WHERE bot_id = ?1 AND botpress_user_id = ?2 \
                     AND (saved_at_ms IS NULL OR saved_at_ms > ?3)",
                    params![bot_id, user_id, expired_before],
                    |row| {
                        let kind: String = row.get(3)?;
                        let identifier = identifier_from(3, &kind, row.get(4)?)?;
                        let contact_id: String = row.get(5)?;
                        Ok(Customer {
                            bot_id: row.get(0)?,
                            botpress_user_id: row.get(1)?,
                            name: row.get(2)?,
                            identifier,
                            hubspot_contact_id: (!contact_id.is_empty()).then_some(contact_id),
                        })
                    },
                )
                .optional()
        })
        .await
    }
}

/// What the DynamoDB store's TTL deletes there. `hitl serve` runs it on its refresh schedule,
/// so the file does not keep every key and every customer's address forever.
#[async_trait]
impl ExpiringStore for SqliteStore {
    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = self.now_ms();
        self.run("purge expired records", move |connection| {
            let transaction = write_transaction(connection)?;
            let mut purged = transaction.execute(
                "DELETE FROM idempotency WHERE expires_at_ms <= ?1",
                params![now],
            )?;
            purged +=
                transaction.execute("DELETE FROM locks WHERE expires_at_ms <= ?1", params![now])?;
            purged += transaction.execute(
                "DELETE FROM sessions WHERE status = 'closed' AND closed_at_ms <= ?1",
                params![now - CLOSED_RETENTION_MS],
            )?;
            // A row an older version sharing the file wrote since it was opened: its 30 days
            // start now, as at the opening.
            transaction.execute(
                "UPDATE customers SET saved_at_ms = ?1 WHERE saved_at_ms IS NULL",
                params![now],
            )?;
            purged += transaction.execute(
                "DELETE FROM customers WHERE saved_at_ms <= ?1",
                params![now - CUSTOMER_RETENTION.num_milliseconds()],
            )?;
            transaction.commit()?;
            Ok(purged)
        })
        .await
    }
}

#[async_trait]
impl PendingCloseStore for SqliteStore {
    async fn remember_close(&self, thread_id: &str) -> Result<(), StoreError> {
        let (thread_id, now) = (thread_id.to_string(), self.now_ms());
        self.run("remember a close", move |connection| {
            // Remembered already: it keeps its first time.
            connection.execute(
                "INSERT INTO pending_closes (thread_id, since_ms) VALUES (?1, ?2) \
                 ON CONFLICT (thread_id) DO NOTHING",
                params![thread_id, now],
            )?;
            Ok(())
        })
        .await
    }

    async fn closes_pending(&self) -> Result<Vec<PendingClose>, StoreError> {
        self.run("read closes pending", move |connection| {
            let mut statement = connection
                .prepare("SELECT thread_id, since_ms FROM pending_closes ORDER BY since_ms")?;
            let rows = statement.query_map([], |row| {
                Ok(PendingClose {
                    thread_id: row.get(0)?,
                    since_ms: row.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn forget_close(&self, close: &PendingClose) -> Result<(), StoreError> {
        let close = close.clone();
        self.run("forget a close", move |connection| {
            connection.execute(
                "DELETE FROM pending_closes WHERE thread_id = ?1 AND since_ms = ?2",
                params![close.thread_id, close.since_ms],
            )?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl OwedStatusStore for SqliteStore {
    async fn remember_status(
        &self,
        channel_id: &str,
        message_id: &str,
        status: &DeliveryStatus,
    ) -> Result<(), StoreError> {
        let (status_type, reason) = (status.status_type(), status.reason().map(str::to_string));
        let (channel_id, message_id, now) = (
            channel_id.to_string(),
            message_id.to_string(),
            self.now_ms(),
        );
        self.run("remember a message status", move |connection| {
            connection.execute(
                "INSERT INTO statuses_owed (channel_id, message_id, status, error_message, since_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (channel_id, message_id) DO UPDATE SET \
                 status = excluded.status, error_message = excluded.error_message, \
                 since_ms = excluded.since_ms",
                params![channel_id, message_id, status_type, reason, now],
            )?;
            Ok(())
        })
        .await
    }

    async fn statuses_owed(&self) -> Result<Vec<OwedStatus>, StoreError> {
        self.run("read statuses owed", move |connection| {
            let mut statement = connection.prepare(
                "SELECT channel_id, message_id, status, error_message, since_ms \
                 FROM statuses_owed ORDER BY since_ms",
            )?;
            let rows = statement.query_map([], |row| {
                let status_type: String = row.get(2)?;
                Ok(OwedStatus {
                    channel_id: row.get(0)?,
                    message_id: row.get(1)?,
                    status: DeliveryStatus::from_parts(&status_type, row.get(3)?),
                    since_ms: row.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn forget_status(&self, owed: &OwedStatus) -> Result<(), StoreError> {
        let (channel_id, message_id, since_ms) = (
            owed.channel_id.clone(),
            owed.message_id.clone(),
            owed.since_ms,
        );
        self.run("forget a message status", move |connection| {
            connection.execute(
                "DELETE FROM statuses_owed \
                 WHERE channel_id = ?1 AND message_id = ?2 AND since_ms = ?3",
                params![channel_id, message_id, since_ms],
            )?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl AgentStore for SqliteStore {
    async fn agent_user(
        &self,
        bot_id: &str,
        actor_id: &str,
    ) -> Result<Option<AgentUser>, StoreError> {
        let (bot_id, actor_id) = (bot_id.to_string(), actor_id.to_string());
        self.run("read agent user", move |connection| {
            connection
                .query_row(
                    "SELECT bot_id, actor_id, botpress_user_id, name FROM agent_users \
                     WHERE bot_id = ?1 AND actor_id = ?2",
                    params![bot_id, actor_id],
                    |row| {
                        Ok(AgentUser {
                            bot_id: row.get(0)?,
                            actor_id: row.get(1)?,
                            botpress_user_id: row.get(2)?,
                            name: row.get(3)?,
                        })
                    },
                )
                .optional()
        })
        .await
    }

    async fn save_agent_user(&self, agent: &AgentUser) -> Result<(), StoreError> {
        let agent = agent.clone();
        self.run("save agent user", move |connection| {
            connection.execute(
                "INSERT INTO agent_users (bot_id, actor_id, botpress_user_id, name) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (bot_id, actor_id) DO UPDATE SET botpress_user_id = ?3, name = ?4",
                params![agent.bot_id, agent.actor_id, agent.botpress_user_id, agent.name],
            )?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl IdempotencyLedger for SqliteStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let key = key.to_string();
        let now = self.now_ms();
        let lease_ends = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        self.run("claim idempotency key", move |connection| {
            let transaction = write_transaction(connection)?;
            let existing: Option<(String, Option<String>, i64)> = transaction
                .query_row(
                    "SELECT state, outcome, expires_at_ms FROM idempotency WHERE key = ?1",
                    params![key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            let claim = match existing {
                Some((state, _, expires)) if state == "in_progress" && expires > now => {
                    Claim::InProgress
                }
                Some((state, outcome, expires)) if state == "completed" && expires > now => {
                    Claim::Completed(outcome)
                }
                _ => {
                    transaction.execute(
                        "INSERT INTO idempotency (key, state, outcome, expires_at_ms) \
                         VALUES (?1, 'in_progress', NULL, ?2) \
                         ON CONFLICT (key) DO UPDATE SET state = 'in_progress', outcome = NULL, \
                         expires_at_ms = ?2",
                        params![key, lease_ends],
                    )?;
                    Claim::Acquired
                }
            };
            transaction.commit()?;
            Ok(claim)
        })
        .await
    }

    async fn complete(
        &self,
        key: &str,
        outcome: Option<&str>,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let key = key.to_string();
        let outcome = outcome.map(str::to_string);
        let expires = self.now_ms() + i64::try_from(keep.as_millis()).unwrap_or(i64::MAX / 2);
        self.run("complete idempotency key", move |connection| {
            connection.execute(
                "UPDATE idempotency SET state = 'completed', outcome = ?2, expires_at_ms = ?3 \
                 WHERE key = ?1",
                params![key, outcome, expires],
            )?;
            Ok(())
        })
        .await
    }

    async fn complete_with(
        &self,
        key: &str,
        keep: Duration,
        finishing: &FinishingWrite,
    ) -> Result<(), StoreError> {
        let key = key.to_string();
        let expires = self.now_ms() + i64::try_from(keep.as_millis()).unwrap_or(i64::MAX / 2);
        let FinishingWrite::RepliesRelayedUntil {
            session_id,
            created_at_ms,
        } = finishing.clone();
        self.run("complete idempotency key", move |connection| {
            let transaction = write_transaction(connection)?;
            transaction.execute(
                "UPDATE idempotency SET state = 'completed', outcome = NULL, expires_at_ms = ?2 \
                 WHERE key = ?1",
                params![key, expires],
            )?;
            advance_replies_mark(&transaction, &session_id, created_at_ms)?;
            transaction.commit()
        })
        .await
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.run("release idempotency key", move |connection| {
            connection.execute(
                "DELETE FROM idempotency WHERE key = ?1 AND state = 'in_progress'",
                params![key],
            )?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl TokenVault for SqliteStore {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        self.run("read tokens", |connection| {
            connection
                .query_row(
                    "SELECT refresh_token, access_token, expires_at, seed_fingerprint, portal_id \
                     FROM oauth_tokens WHERE singleton = 1",
                    [],
                    |row| {
                        let access: Option<String> = row.get(1)?;
                        let expires: Option<String> = row.get(2)?;
                        Ok(StoredTokens {
                            refresh_token: SecretString::from(row.get::<_, String>(0)?),
                            access_token: access.map(SecretString::from),
                            access_token_expires_at: expires
                                .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
                                .map(|time| time.with_timezone(&Utc)),
                            seed_fingerprint: row.get(3)?,
                            portal_id: row
                                .get::<_, Option<i64>>(4)?
                                .and_then(|id| u64::try_from(id).ok()),
                        })
                    },
                )
                .optional()
        })
        .await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        let refresh = tokens.refresh_token.expose_secret().to_string();
        let access = tokens
            .access_token
            .as_ref()
            .map(|token| token.expose_secret().to_string());
        let expires = tokens.access_token_expires_at.map(|time| time.to_rfc3339());
        let seed = tokens.seed_fingerprint.clone();
        let portal = tokens.portal_id.and_then(|id| i64::try_from(id).ok());
        self.run("save tokens", move |connection| {
            connection.execute(
                "INSERT INTO oauth_tokens (singleton, refresh_token, access_token, expires_at, seed_fingerprint, portal_id) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (singleton) DO UPDATE SET refresh_token = ?1, access_token = ?2, \
                 expires_at = ?3, seed_fingerprint = ?4, portal_id = ?5",
                params![refresh, access, expires, seed, portal],
            )?;
            Ok(())
        })
        .await
    }
}

/// Adds `column` to `table` unless the table has it already.
fn add_column_if_missing(
    connection: &Connection,
    table: &str,
    column: &str,
    definition: &str,
) -> rusqlite::Result<()> {
    let present: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        params![table, column],
        |row| row.get(0),
    )?;
    if !present {
        connection.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN {column} {definition}"
        ))?;
    }
    Ok(())
}

/// The one lock the bridge takes: around HubSpot token refreshes.
const REFRESH_LOCK: &str = "hubspot-token-refresh";

#[async_trait]
impl RefreshLock for SqliteStore {
    async fn try_lock(&self, lease: Duration) -> Result<Option<String>, StoreError> {
        let holder = uuid::Uuid::new_v4().to_string();
        let now = self.now_ms();
        let expires = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        self.run("take refresh lock", move |connection| {
            let taken = connection.execute(
                "INSERT INTO locks (name, holder, expires_at_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET holder = ?2, expires_at_ms = ?3 \
                 WHERE locks.expires_at_ms <= ?4",
                params![REFRESH_LOCK, holder, expires, now],
            )?;
            Ok((taken == 1).then_some(holder))
        })
        .await
    }

    async fn unlock(&self, holder: &str) -> Result<(), StoreError> {
        let holder = holder.to_string();
        self.run("release refresh lock", move |connection| {
            connection.execute(
                "DELETE FROM locks WHERE name = ?1 AND holder = ?2",
                params![REFRESH_LOCK, holder],
            )?;
            Ok(())
        })
        .await
    }
}

/// What only SQLite has: its file, two processes on it, upgrades from older versions, the
/// purge. What every store promises is checked on this one in `tests/sqlite_store.rs`.
#[cfg(test)]
mod tests {
    use chrono::Duration as ChronoDuration;

    use super::*;
    use crate::ports::SystemClock;

    struct FixedClock(std::sync::Mutex<DateTime<Utc>>);

    impl Clock for FixedClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    fn bot() -> BotpressContext {
        BotpressContext {
            bot_id: "bot".into(),
            integration_id: "int".into(),
            integration_alias: "hubspot-hitl".into(),
        }
    }

    /// The database holds the HubSpot grant: only its owner may read it, WAL files included.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hitl-mode-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hitl.db");
        let store = SqliteStore::open(&path, Arc::new(SystemClock)).unwrap();
        store.claim("k", Duration::from_secs(60)).await.unwrap();
        let modes: Vec<(String, u32)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
                (entry.file_name().to_string_lossy().into_owned(), mode)
            })
            .collect();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(modes.len() >= 2, "the database and its WAL: {modes:?}");
        assert!(modes.iter().all(|(_, mode)| *mode == 0o600), "{modes:?}");
    }

    /// Two processes on one file (`hitl serve` and `hitl doctor`, say) claiming at once: each
    /// claim waits for the other's write instead of failing with "database is locked".
    #[test]
    fn claims_from_two_processes_on_one_file_wait_for_each_other() {
        let dir = std::env::temp_dir().join(format!("hitl-busy-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hitl.db");
        let workers: Vec<_> = (0..2)
            .map(|worker| {
                let store = SqliteStore::open(&path, Arc::new(SystemClock)).unwrap();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        let mut failures = Vec::new();
                        for n in 0..300 {
                            let key = format!("w{worker}-{n}");
                            if let Err(error) = store.claim(&key, Duration::from_secs(60)).await {
                                failures.push(error.to_string());
                            }
                        }
                        failures
                    })
                })
            })
            .collect();
        let failures: Vec<String> = workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            failures.is_empty(),
            "{} claims failed, e.g. {:?}",
            failures.len(),
            failures.first()
        );
    }

    /// What DynamoDB's TTL removes there goes here too; what is still in use stays.
    #[tokio::test]
    async fn expired_records_and_long_closed_sessions_are_purged() {
        let clock = Arc::new(FixedClock(std::sync::Mutex::new(Utc::now())));
        let store = SqliteStore::in_memory(clock.clone()).unwrap();
        let advance = |by: ChronoDuration| {
            let mut now = clock.0.lock().unwrap();
            *now += by;
        };
        store.claim("done", Duration::from_secs(60)).await.unwrap();
        store
            .complete("done", None, Duration::from_secs(3600))
            .await
            .unwrap();
        store.claim("kept", Duration::from_secs(60)).await.unwrap();
        store
            .complete("kept", None, Duration::from_secs(90 * 24 * 3600))
            .await
            .unwrap();
        let closed = HandoffSession::new(bot(), "u1".into(), "c".into(), "a".into(), Utc::now());
        let open = HandoffSession::new(bot(), "u2".into(), "c".into(), "a".into(), Utc::now());
        let (closed_id, open_id) = (closed.id.clone(), open.id.clone());
        store.insert_or_get_active(closed).await.unwrap();
        store.insert_or_get_active(open).await.unwrap();
        store.set_thread(&closed_id, "1").await.unwrap();
        store.set_thread(&open_id, "2").await.unwrap();
        store.close(&closed_id).await.unwrap();

        advance(ChronoDuration::days(29));
        assert_eq!(store.purge_expired().await.unwrap(), 1, "the hour-long key");
        assert!(store.find_by_thread("1").await.unwrap().is_some());
        advance(ChronoDuration::days(2));
        assert_eq!(
            store.purge_expired().await.unwrap(),
            1,
            "the session closed 31 days ago"
        );
        assert!(store.find_by_thread("1").await.unwrap().is_none());
        assert!(store.find_by_thread("2").await.unwrap().is_some());
        assert!(matches!(
            store.claim("kept", Duration::from_secs(60)).await.unwrap(),
            Claim::Completed(_)
        ));
    }

    /// A customer's record lasts 30 days from its last save (each handoff saves it), then
    /// reads as absent and is purged; one an older version saved untimed gets its 30 days
    /// from the first opening of the file by this version.
    #[tokio::test]
    async fn a_customer_is_kept_30_days_from_its_last_save_then_purged() {
        let dir =
            std::env::temp_dir().join(format!("hitl-customers-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hitl.db");
        let clock = Arc::new(FixedClock(std::sync::Mutex::new(Utc::now())));
        let advance = |days: i64| *clock.0.lock().unwrap() += ChronoDuration::days(days);
        let customer = |user: &str| Customer {
            bot_id: "bot".into(),
            botpress_user_id: user.into(),
            name: "Jane".into(),
            identifier: DeliveryIdentifier::Email("jane@example.com".into()),
            hubspot_contact_id: Some("101".into()),
        };
        {
            let store = SqliteStore::open(&path, clock.clone()).unwrap();
            store.save_customer(&customer("kept")).await.unwrap();
            store.save_customer(&customer("older")).await.unwrap();
        }
        // A row as an older version wrote it: untimed.
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE customers SET saved_at_ms = NULL WHERE botpress_user_id = 'older'",
                [],
            )
            .unwrap();
        advance(20);
        let store = SqliteStore::open(&path, clock.clone()).unwrap();
        advance(20);
        store.save_customer(&customer("kept")).await.unwrap();
        advance(9);
        assert!(store.customer("bot", "older").await.unwrap().is_some());
        advance(2);
        assert_eq!(store.customer("bot", "older").await.unwrap(), None);
        assert!(store.customer("bot", "kept").await.unwrap().is_some());
        assert_eq!(
            store.purge_expired().await.unwrap(),
            1,
            "the customer unused for 31 days"
        );
        advance(20);
        assert_eq!(store.customer("bot", "kept").await.unwrap(), None);
        assert_eq!(store.purge_expired().await.unwrap(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A session an older version closed without timing it gets its 30 days from the first
    /// opening of the file by this version.
    #[tokio::test]
    async fn a_session_closed_before_closing_was_timed_is_kept_30_days_from_the_upgrade() {
        let dir =
            std::env::temp_dir().join(format!("hitl-upgrade-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hitl.db");
        let clock = Arc::new(FixedClock(std::sync::Mutex::new(Utc::now())));
        let session = HandoffSession::new(bot(), "u1".into(), "c".into(), "a".into(), Utc::now());
        let id = session.id.clone();
        {
            let older = SqliteStore::open(&path, clock.clone()).unwrap();
            older.insert_or_get_active(session).await.unwrap();
            older.set_thread(&id, "1").await.unwrap();
            older.close(&id).await.unwrap();
        }
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE sessions SET closed_at_ms = NULL", [])
            .unwrap();
        *clock.0.lock().unwrap() += ChronoDuration::days(100);
        let upgraded = SqliteStore::open(&path, clock.clone()).unwrap();
        *clock.0.lock().unwrap() += ChronoDuration::days(29);
        assert_eq!(upgraded.purge_expired().await.unwrap(), 0);
        *clock.0.lock().unwrap() += ChronoDuration::days(2);
        assert_eq!(upgraded.purge_expired().await.unwrap(), 1);
        drop(upgraded);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_database_of_an_older_version_is_upgraded_and_keeps_its_grant() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE oauth_tokens (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), \
                 refresh_token TEXT NOT NULL, access_token TEXT, expires_at TEXT, \
                 seed_fingerprint TEXT NOT NULL); \
                 INSERT INTO oauth_tokens VALUES (1, 'rt-old', NULL, NULL, 'fp');",
            )
            .unwrap();
        let store = SqliteStore::with_connection(connection, Arc::new(SystemClock)).unwrap();
        let mut grant = store.load().await.unwrap().unwrap();
        assert_eq!(grant.refresh_token.expose_secret(), "rt-old");
        assert_eq!(grant.portal_id, None);
        grant.portal_id = Some(22761544);
        store.save(&grant).await.unwrap();
        assert_eq!(
            store.load().await.unwrap().unwrap().portal_id,
            Some(22761544)
        );
    }

    #[tokio::test]
    async fn an_older_sessions_table_is_upgraded_and_its_sessions_still_read() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE sessions (id TEXT PRIMARY KEY, bot_id TEXT NOT NULL, \
                 integration_id TEXT NOT NULL, integration_alias TEXT NOT NULL, \
                 customer_user_id TEXT NOT NULL, channel_id TEXT NOT NULL, \
                 channel_account_id TEXT NOT NULL, integration_thread_id TEXT NOT NULL UNIQUE, \
                 thread_id TEXT UNIQUE, conversation_id TEXT UNIQUE, status TEXT NOT NULL, \
                 assigned_actor_id TEXT, created_at TEXT NOT NULL); \
                 INSERT INTO sessions VALUES ('s1', 'bot', 'int', 'alias', 'user', 'c', 'a', \
                 'bp-1', '9012', 'conv_1', 'open', 'A-1', '2026-01-01T00:00:00+00:00');",
            )
            .unwrap();
        let store = SqliteStore::with_connection(connection, Arc::new(SystemClock)).unwrap();
        let old = store.find_by_thread("9012").await.unwrap().unwrap();
        assert_eq!(old.assigned_actor_id.as_deref(), Some("A-1"));
        assert_eq!(old.assignment_mark, None);
        assert_eq!(old.customer, None, "read from the customer store instead");
        assert_eq!(old.replies_relayed_until_ms, None);
        assert!(
            store
                .set_assignee("s1", Some("A-2"), AssignmentMark::new(5, None))
                .await
                .unwrap()
        );
        let found = store.find_by_thread("9012").await.unwrap().unwrap();
        assert_eq!(found.assignment_mark, Some(AssignmentMark::new(5, None)));
    }
}
