//! A `startHitl` for a customer whose handoff is open already: the customer asked for a person
//! again, from another conversation of the bot, or after the bot lost track of the handoff.
//! The agent sees the new request in the thread (its title, description and transcript)
//! instead of the customer's next messages arriving there without the context the bot had.
//!
//! The same request again, such as a retry of a `startHitl` whose answer was lost, adds
//! nothing: every request is remembered in the idempotency ledger by a digest of its content,
//! the one that opened the handoff too.

use sha2::{Digest, Sha256};

use super::handoff::{StartHandoffInput, opening_text};
use super::transcript::transcript_parts;
use super::{Outcome, Relay, RelayError};
use crate::model::channel_limits::{MAX_TEXT_CHARS, split_text};
use crate::model::{Customer, HandoffSession};

impl Relay {
    /// Remembers the request that opens `session`, so the same request made again once the
    /// handoff is open is taken for the retry it is.
    pub(super) async fn remember_opening_request(
        &self,
        session: &HandoffSession,
        input: &StartHandoffInput,
    ) -> Result<(), RelayError> {
        let key = request_key(session, &ShownRequest::of(input).digest());
        match self.once(&key, async { Ok(Outcome::Done) }).await {
            // In flight: a concurrent attempt of the same opening is remembering it.
            Ok(_) | Err(RelayError::InProgress) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Publishes a request for a person made while `session` is open into its thread, once
    /// per request content. A failure is logged at WARN, not returned: the handoff works
    /// without the note, and failing `startHitl` for it would leave the customer with no
    /// agent at all. The note is then lost, unless the same request comes again.
    pub(super) async fn tell_the_agent_the_customer_asked_again(
        &self,
        session: &HandoffSession,
        customer: &Customer,
        input: &StartHandoffInput,
    ) {
        let request = ShownRequest::of(input);
        let digest = request.digest();
        let kind = format!("again:{digest}");
        let publish = self.publish_numbered(session, customer, &kind, 1, request.into_note());
        let outcome = self
            .once(&request_key(session, &digest), async {
                publish.await?;
                Ok(Outcome::Done)
            })
            .await;
        match outcome {
            Ok(Outcome::Done) => tracing::info!(
                session = session.id,
                "the customer asked for a person again; the request is shown in the thread"
            ),
            // In flight: an attempt of the same request is publishing it.
            Ok(_) | Err(RelayError::InProgress) => {}
            Err(error) => tracing::warn!(
                %error,
                session = session.id,
                "could not show the customer's new request in the thread; the handoff goes on without it"
            ),
        }
    }
}

/// The ledger key of one request for a person on `session`.
fn request_key(session: &HandoffSession, digest: &str) -> String {
    format!("start-hitl:{}:{digest}", session.id)
}

/// A request for a person as the agent is shown it: its title and description as the thread
/// reads them, and its transcript (the user and the inbox are the session's).
struct ShownRequest {
    opening: String,
    transcript: Vec<String>,
}

impl ShownRequest {
    fn of(input: &StartHandoffInput) -> Self {
        Self {
            opening: opening_text(input.title.as_deref(), input.description.as_deref()),
            transcript: transcript_parts(&input.message_history),
        }
    }

    /// What tells two requests apart: what the agent is shown of them, so requests that read
    /// alike are one request. Each text is hashed after its length, so no two lists of texts
    /// hash alike; hashed, the ledger keeps no customer's words.
    fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for text in std::iter::once(&self.opening).chain(&self.transcript) {
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        hex::encode(&hasher.finalize()[..16])
    }

    /// The texts of the note in the thread: the heading with the opening, then the
    /// transcript.
    fn into_note(self) -> Vec<String> {
        let heading = format!("The customer asked for a person again: {}", self.opening);
        let mut texts = split_text(&heading, MAX_TEXT_CHARS);
        texts.extend(self.transcript);
        texts
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(
        title: Option<&str>,
        description: Option<&str>,
        history: Vec<serde_json::Value>,
    ) -> StartHandoffInput {
        StartHandoffInput {
            user_id: "user_1".to_string(),
            title: title.map(str::to_string),
            description: description.map(str::to_string),
            hitl_session: None,
            message_history: history,
        }
    }

    fn request_digest(input: &StartHandoffInput) -> String {
        ShownRequest::of(input).digest()
    }

    /// Ledger keys outlive deploys: the same request must keep its digest from one version
    /// to the next, or a retry across a deploy would show the agent the request again.
    #[test]
    fn a_requests_digest_stays_what_earlier_versions_stored() {
        let history = vec![
            json!({"source": {"type": "user"}, "type": "text", "payload": {"text": "Where is my order?"}}),
            json!({"source": {"type": "bot"}, "type": "text", "payload": {"text": "Let me get a person."}}),
        ];
        assert_eq!(
            request_digest(&input(Some("Refund"), Some("Order 42"), history)),
            "e55511e1f06419cf307699a5adf09fb2"
        );
    }

    #[test]
    fn requests_differing_in_title_description_or_transcript_differ() {
        let base = request_digest(&input(Some("Refund"), Some("Order 42"), vec![]));
        assert_eq!(
            base,
            request_digest(&input(Some("Refund"), Some("Order 42"), vec![]))
        );
        assert_eq!(base.len(), 32);
        for other in [
            input(Some("Refund!"), Some("Order 42"), vec![]),
            input(Some("Refund"), Some("Order 43"), vec![]),
            input(Some("Refund"), None, vec![]),
            input(
                Some("Refund"),
                Some("Order 42"),
                vec![json!({"source": {"type": "bot"}, "type": "text", "payload": {"text": "Hi"}})],
            ),
        ] {
            assert_ne!(base, request_digest(&other));
        }
        // What reads alike in the thread is one request.
        assert_eq!(
            base,
            request_digest(&input(Some(" Refund "), Some("Order 42\n"), vec![]))
        );
        assert_eq!(
            request_digest(&input(None, None, vec![])),
            request_digest(&input(Some("undefined"), Some(" "), vec![]))
        );
    }
}
