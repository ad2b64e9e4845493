//! A customer's message on the `hitl` channel, relayed into the Help Desk: text as text, files
//! (`image`, `file`, `audio`, `video`) fetched, uploaded to HubSpot's file manager and published
//! as `FILE` attachments, a `bloc` as its parts in order.
//!
//! Every file of a message (up to five; any past them become one note) is fetched, checked
//! and uploaded before anything is published. A
//! file the channel cannot carry (bad URL, too large, forbidden type) or HubSpot refuses for
//! good (a scope the install lacks) reaches the agent as a note saying what it was and why it
//! is missing, with the rest of the message: the HITL plugin tells the customer nothing of a
//! refused message. Each part carries its own idempotency id, so a retry after a failure
//! half-way republishes nothing, and each file HubSpot took is remembered (`file_uploads`), so
//! the retry uploads nothing again.

use std::borrow::Cow;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::file_uploads::FileUploads;
use super::{Outcome, Relay, RelayError};
use crate::model::{
    BotpressContext, HandoffSession, SessionCustomer, SessionStatus, channel_limits,
};
use crate::ports::{
    FetchError, FetchedFile, FileAttachment, FileSource, IncomingMessage, Service, UpstreamError,
};

/// The Botpress file message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFileKind {
    Image,
    File,
    Audio,
    Video,
}

impl UserFileKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::File => "file",
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }
}

/// One part of a customer's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserContent {
    Text(String),
    File {
        kind: UserFileKind,
        url: String,
        title: Option<String>,
    },
}

/// How old a customer's message may be and still be placed at the time they sent it: room for
/// a slow file's fetch and upload, and Botpress's first retries.
const LATE_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The relay's file source until the composition root sets the real one.
pub(super) struct NoFileSource;

#[async_trait]
impl FileSource for NoFileSource {
    async fn fetch(&self, _url: &str) -> Result<FetchedFile, FetchError> {
        Err(FetchError::Refused(
            "this bridge has no file fetcher configured; files cannot be relayed".to_string(),
        ))
    }
}

/// A part ready to upload: text, or a fetched file with what a note would say of it, or a
/// file an earlier attempt of the message uploaded.
enum Ready {
    Text(String),
    File {
        file: FetchedFile,
        kind: UserFileKind,
        title: Option<String>,
    },
    Uploaded {
        attachment: FileAttachment,
        kind: UserFileKind,
        title: Option<String>,
    },
}

/// A part ready to publish: its text (a file's caption) and attachments, and for an uploaded
/// file what it was, should the thread refuse it.
struct Publishable {
    text: String,
    attachments: Vec<FileAttachment>,
    file: Option<(UserFileKind, Option<String>)>,
}

/// A file HubSpot took, as the part that publishes it: its title as the caption.
fn uploaded_file(
    attachment: FileAttachment,
    kind: UserFileKind,
    title: Option<String>,
) -> Publishable {
    Publishable {
        text: title.clone().unwrap_or_default(),
        attachments: vec![attachment],
        file: Some((kind, title)),
    }
}

/// Why a file HubSpot refused for good (its upload, or the message attaching it) is missing.
const NOT_TAKEN: &str = "the help desk did not take the file";

impl Relay {
    /// A customer's message on the `hitl` channel: publish its parts into the thread, in order,
    /// once. HubSpot dedupes each part on its id, and the ledger stops a Botpress retry of a
    /// relayed message from doing anything. The conversation's session is read while the
    /// message's key is claimed (one round trip to the store for both). A message for a
    /// handoff that has ended is relayed all the same (see below).
    pub async fn forward_user_message(
        &self,
        bot: &BotpressContext,
        conversation_id: &str,
        message_id: &str,
        sent_at: Option<DateTime<Utc>>,
        parts: &[UserContent],
    ) -> Result<Outcome, RelayError> {
        check_parts(parts)?;
        let noted = note_files_past_the_limit(parts);
        let files_noted = matches!(noted, Cow::Owned(_));
        let parts = &*split_long_texts(&noted);
        let key = format!("botpress-message:{}:{message_id}", bot.bot_id);
        let session = self.session_of_conversation(bot, conversation_id);
        self.once_after_read(&key, session, |session| async move {
            let ended = session.status == SessionStatus::Closed;
            if ended {
                // Written during the handoff all the same (`late_messages`): it goes into the
                // thread's record, and the thread is closed again.
                if session.thread_id.is_none() {
                    return Err(RelayError::InvalidInput(format!(
                        "the handoff of conversation `{conversation_id}` is closed; start a new one to reach an agent"
                    )));
                }
                tracing::info!(
                    session = session.id,
                    "a customer's message reached the bridge after the handoff ended; it goes into the thread's record"
                );
            }
            if files_noted {
                tracing::warn!(
                    "a message with more files than are relayed from one; the agent gets a note naming the rest"
                );
            }
            let mut uploads = FileUploads::of(&bot.bot_id, message_id);
            let mut published_into = Vec::with_capacity(1);
            let relayed = self
                .publish_parts(&session, message_id, sent_at, parts, &mut uploads, &mut published_into)
                .await;
            self.release_unrecorded(uploads).await;
            // Also when a later part failed: what went in may have reopened the thread, and a
            // part refused for good is never retried.
            let closed_over = self
                .close_if_the_handoff_ended(&session, ended, &published_into)
                .await;
            relayed?;
            closed_over?;
            Ok((Outcome::Done, None))
        })
        .await
    }

    /// The message's parts into the session's thread, in order. Every file is fetched and
    /// uploaded, one after the other, before any part is published, so an upload that fails
    /// and may pass (a 5xx past the retries) leaves nothing of the message in the thread until
    /// Botpress retries it whole; the files HubSpot took by then are not fetched or uploaded
    /// again ([`FileUploads`]), so a message whose files take longer than one request's budget
    /// gets through over a few retries. One file's bytes are held at a time. Adds the threads
    /// HubSpot put the parts in (the session's, unless HubSpot made another) to
    /// `published_into`, as they go in.
    async fn publish_parts(
        &self,
        session: &HandoffSession,
        message_id: &str,
        sent_at: Option<DateTime<Utc>>,
        parts: &[UserContent],
        uploads: &mut FileUploads,
        published_into: &mut Vec<String>,
    ) -> Result<(), RelayError> {
        let customer = self.session_customer(session).await?;
        let mut uploaded = Vec::with_capacity(parts.len());
        for (index, part) in parts.iter().enumerate() {
            let ready = self.prepare(part, index, parts.len(), uploads).await?;
            uploaded.push(self.upload(ready, index, uploads).await?);
        }
        for (index, part) in uploaded.into_iter().enumerate() {
            let message = IncomingMessage {
                channel_id: session.channel_id.clone(),
                channel_account_id: session.channel_account_id.clone(),
                integration_thread_id: session.integration_thread_id.clone(),
                idempotency_id: part_idempotency_id(message_id, index, parts.len()),
                text: part.text,
                sender_name: customer.name.clone(),
                sender: customer.identifier.clone(),
                attachments: part.attachments,
                sent_at: self.part_sent_at(session, sent_at, index),
            };
            let published = match (self.hubspot.publish_incoming(&message).await, part.file) {
                (Ok(published), _) => published,
                // A file the thread refuses for good (a type the channel, registered by an
                // older version, does not declare yet): the note takes its place under the
                // same part id, and the rest of the message follows.
                (Err(error), Some((kind, title))) if !error.retryable => {
                    tracing::error!(%error, "HubSpot refused a customer's file in the thread; the agent gets a note in its place");
                    self.hubspot
                        .publish_incoming(&IncomingMessage {
                            text: refused_file_note(kind, title.as_deref(), NOT_TAKEN),
                            attachments: Vec::new(),
                            ..message
                        })
                        .await?
                }
                (Err(error), _) => return Err(error.into()),
            };
            if !published_into.contains(&published.thread_id) {
                published_into.push(published.thread_id);
            }
        }
        Ok(())
    }

    /// When a message's part was sent, as its `timestamp` in the thread: a millisecond apart
    /// per part, after the bounds below, so a bloc keeps its order even when they move every
    /// part to one moment. Botpress's `createdAt` is taken only within bounds: not later than
    /// now (a Botpress clock ahead of ours must not put a message in HubSpot's future; a
    /// bloc's later parts may be its few milliseconds ahead), not before the handoff was
    /// opened (nor above the opening and the transcript), and not when it is over
    /// [`LATE_AFTER`] old, as after Botpress retried for a while: a message placed that far
    /// back, above the agent's later replies, could be missed, so it is placed now, where the
    /// agent looks.
    fn part_sent_at(
        &self,
        session: &HandoffSession,
        sent_at: Option<DateTime<Utc>>,
        index: usize,
    ) -> DateTime<Utc> {
        let opened = session
            .activated_at_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .unwrap_or(session.created_at);
        bounded_sent_at(self.clock.now(), opened, sent_at, index)
    }

    /// Who the session's messages come from: fixed on the session when it opened; a session
    /// stored by an older version reads the customer record (rebuilt if it has expired).
    async fn session_customer(
        &self,
        session: &HandoffSession,
    ) -> Result<SessionCustomer, RelayError> {
        if let Some(customer) = &session.customer {
            return Ok(customer.clone());
        }
        self.known_customer(&session.bot, &session.customer_user_id)
            .await?
            .map(|customer| SessionCustomer::from(&customer))
            .ok_or_else(|| {
                RelayError::InvalidInput(format!(
                    "the customer of conversation `{}` is unknown; call createUser",
                    session.conversation_id.as_deref().unwrap_or_default()
                ))
            })
    }

    /// Uploads a file part to the File Manager; text passes through. An upload HubSpot refuses
    /// for good (the `files` scope missing, say) becomes a note in the file's place, with the
    /// fix in the operator's log.
    ///
    /// A file an earlier attempt uploaded passes through as it was taken; one uploaded now is
    /// remembered for the message's retries.
    async fn upload(
        &self,
        part: Ready,
        index: usize,
        uploads: &mut FileUploads,
    ) -> Result<Publishable, RelayError> {
        let (file, kind, title) = match part {
            Ready::Text(text) => {
                return Ok(Publishable {
                    text,
                    attachments: Vec::new(),
                    file: None,
                });
            }
            Ready::Uploaded {
                attachment,
                kind,
                title,
            } => return Ok(uploaded_file(attachment, kind, title)),
            Ready::File { file, kind, title } => (file, kind, title),
        };
        match self.hubspot.upload_file(&file).await {
            Ok(file_id) => {
                let attachment = FileAttachment {
                    file_id,
                    usage: channel_limits::file_usage_type(&file.content_type),
                };
                self.remember_upload(uploads, index, &attachment).await;
                Ok(uploaded_file(attachment, kind, title))
            }
            Err(error) if error.retryable => Err(error.into()),
            Err(error) => {
                tracing::error!(%error, "HubSpot refused a customer's file for good; the agent gets a note in its place");
                Ok(Publishable {
                    text: refused_file_note(kind, title.as_deref(), NOT_TAKEN),
                    attachments: Vec::new(),
                    file: None,
                })
            }
        }
    }

    /// Fetches a file part (checking it against the channel's limits), unless an earlier
    /// attempt of the message uploaded it; text passes through.
    /// A file the channel cannot carry (too large, a type it does not take, an address the
    /// bridge will not reach) becomes a note in its place: the HITL plugin tells the customer
    /// nothing of a refused message, so refusing it would lose the file and the text beside
    /// it without a trace, where the note lets the agent ask for it another way. A file that
    /// may be fetched later (its server down) is retried.
    async fn prepare(
        &self,
        part: &UserContent,
        index: usize,
        count: usize,
        uploads: &mut FileUploads,
    ) -> Result<Ready, RelayError> {
        let (kind, url, title) = match part {
            UserContent::Text(text) => return Ok(Ready::Text(text.clone())),
            UserContent::File { kind, url, title } => (kind, url, title),
        };
        let title = title
            .as_deref()
            .map(str::trim)
            .filter(|title| !title.is_empty());
        if let Some(attachment) = self.earlier_upload(uploads, index, url).await {
            return Ok(Ready::Uploaded {
                attachment,
                kind: *kind,
                title: title.map(str::to_string),
            });
        }
        let file = match self.files.fetch(url).await {
            Ok(file) => file,
            Err(FetchError::Refused(reason)) => {
                tracing::warn!(
                    kind = kind.name(),
                    part = index + 1,
                    reason = %crate::redact::redact_text(&reason),
                    "a customer's file cannot be attached; the agent gets a note in its place"
                );
                return Ok(Ready::Text(refused_file_note(*kind, title, &reason)));
            }
            Err(FetchError::Unavailable(reason)) => {
                let which = if count > 1 {
                    format!("part {} (`{}`)", index + 1, kind.name())
                } else {
                    format!("the `{}` message", kind.name())
                };
                return Err(RelayError::Upstream(UpstreamError {
                    service: Service::Botpress,
                    operation: "fetch file",
                    status: None,
                    retryable: true,
                    message: format!("{which}: {reason}"),
                }));
            }
        };
        Ok(Ready::File {
            file,
            kind: *kind,
            title: title.map(str::to_string),
        })
    }
}

/// A message whose files past the first [`channel_limits::MAX_FILES_PER_BLOC`] are not
/// fetched (every file is fetched and uploaded before any part is published: this bounds the
/// time one message takes): they become one note, in the place of the first of
/// them, naming them for the agent to ask for again. Refusing the message instead would lose
/// its text and first files too, as the HITL plugin tells the customer nothing of a refusal.
fn note_files_past_the_limit(parts: &[UserContent]) -> Cow<'_, [UserContent]> {
    let is_file = |part: &UserContent| matches!(part, UserContent::File { .. });
    if parts.iter().filter(|part| is_file(part)).count() <= channel_limits::MAX_FILES_PER_BLOC {
        return Cow::Borrowed(parts);
    }
    let mut files = 0;
    let past: Vec<bool> = parts
        .iter()
        .map(|part| {
            is_file(part) && {
                files += 1;
                files > channel_limits::MAX_FILES_PER_BLOC
            }
        })
        .collect();
    let first = past.iter().position(|past| *past).unwrap_or(parts.len());
    let titles: Vec<&str> = parts
        .iter()
        .zip(&past)
        .filter(|(_, past)| **past)
        .filter_map(|(part, _)| match part {
            UserContent::File { title, .. } => title.as_deref().map(str::trim),
            UserContent::Text(_) => None,
        })
        .filter(|title| !title.is_empty())
        .collect();
    let mut noted = Vec::with_capacity(first + 1);
    for (index, part) in parts.iter().enumerate() {
        if index == first {
            noted.push(UserContent::Text(past_the_limit_note(
                files - channel_limits::MAX_FILES_PER_BLOC,
                &titles,
            )));
        } else if !past[index] {
            noted.push(part.clone());
        }
    }
    Cow::Owned(noted)
}

/// Titles a note names at most: it is one readable line, not a list.
const NOTE_TITLES: usize = 10;

/// What the agent reads in place of the files past the ones relayed from one message.
fn past_the_limit_note(count: usize, titles: &[&str]) -> String {
    let what = if count == 1 {
        "1 more file".to_string()
    } else {
        format!("{count} more files")
    };
    let mut named: Vec<String> = titles
        .iter()
        .take(NOTE_TITLES)
        .map(|title| quoted_title(title))
        .collect();
    if titles.len() > NOTE_TITLES {
        named.push("\u{2026}".to_string());
    }
    let named = if named.is_empty() {
        String::new()
    } else {
        format!(" ({})", named.join(", "))
    };
    let them = if count == 1 { "it" } else { "them" };
    format!(
        "[The customer sent {what}{named} than the bridge relays from one message (at most {max}). Ask the customer to send {them} again, at most {max} files to a message.]",
        max = channel_limits::MAX_FILES_PER_BLOC
    )
}

/// Longest file title and reason a note quotes: a note is one readable line, not a second
/// message, and is published as one part, never split.
const NOTE_TITLE_CHARS: usize = 200;
const NOTE_REASON_CHARS: usize = 300;

/// What the agent reads in place of a file the channel cannot carry: what it was, its title,
/// and why (not its URL, which may carry what made it refused, such as credentials).
fn refused_file_note(kind: UserFileKind, title: Option<&str>, reason: &str) -> String {
    let what = match kind {
        UserFileKind::Image => "an image",
        UserFileKind::File => "a file",
        UserFileKind::Audio => "an audio clip",
        UserFileKind::Video => "a video",
    };
    let named = title.map_or_else(String::new, |title| format!(" ({})", quoted_title(title)));
    let reason: String = reason.chars().take(NOTE_REASON_CHARS).collect();
    format!(
        "[The customer sent {what}{named} that could not be attached: {reason}. Ask them to send it another way.]"
    )
}

/// A file's title as a note quotes it: on one line (control and text-direction characters as
/// spaces: the customer chose the title, and a note is one readable line), and not past
/// [`NOTE_TITLE_CHARS`].
fn quoted_title(title: &str) -> String {
    let is_direction = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let title: String = title
        .chars()
        .map(|c| {
            if c.is_control() || is_direction(c) {
                ' '
            } else {
                c
            }
        })
        .take(NOTE_TITLE_CHARS)
        .collect();
    format!("\u{201c}{}\u{201d}", title.trim())
}

/// A text longer than HubSpot shows whole ([`channel_limits::MAX_TEXT_CHARS`]) as several
/// parts, in order, so nothing the customer wrote is cut off in the help desk.
fn split_long_texts(parts: &[UserContent]) -> Cow<'_, [UserContent]> {
    let too_long = |part: &UserContent| matches!(part, UserContent::Text(text) if text.chars().count() > channel_limits::MAX_TEXT_CHARS);
    if !parts.iter().any(too_long) {
        return Cow::Borrowed(parts);
    }
    Cow::Owned(
        parts
            .iter()
            .flat_map(|part| match part {
                UserContent::Text(text) => {
                    channel_limits::split_text(text, channel_limits::MAX_TEXT_CHARS)
                        .into_iter()
                        .map(UserContent::Text)
                        .collect()
                }
                file => vec![file.clone()],
            })
            .collect(),
    )
}

/// A single message keeps the Botpress message id; a bloc's parts get one id each.
fn part_idempotency_id(message_id: &str, index: usize, count: usize) -> String {
    if count == 1 {
        message_id.to_string()
    } else {
        format!("{message_id}:part-{}", index + 1)
    }
}

fn check_parts(parts: &[UserContent]) -> Result<(), RelayError> {
    if parts.is_empty() {
        return Err(RelayError::InvalidInput(
            "message_created: the message has nothing to relay (an empty bloc)".to_string(),
        ));
    }
    for (index, part) in parts.iter().enumerate() {
        if let UserContent::Text(text) = part
            && text.trim().is_empty()
        {
            let which = if parts.len() > 1 {
                format!("part {} of the bloc", index + 1)
            } else {
                "the text message".to_string()
            };
            return Err(RelayError::InvalidInput(format!(
                "message_created: {which} is empty"
            )));
        }
    }
    Ok(())
}

/// [`Relay::part_sent_at`], given the time now and when the handoff was opened.
fn bounded_sent_at(
    now: DateTime<Utc>,
    opened: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    index: usize,
) -> DateTime<Utc> {
    let first_part_at = match sent_at.filter(|sent_at| now - *sent_at <= LATE_AFTER) {
        Some(sent_at) => sent_at.max(opened).min(now),
        None => now,
    };
    let index = i64::try_from(index).unwrap_or(i64::MAX);
    first_part_at + chrono::Duration::milliseconds(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocs_parts_keep_their_order_whatever_bound_moves_them() {
        let now = Utc::now();
        let opened = now - chrono::Duration::seconds(30);
        let ms = chrono::Duration::milliseconds;
        let times = |sent_at: Option<DateTime<Utc>>| -> Vec<DateTime<Utc>> {
            (0..3)
                .map(|index| bounded_sent_at(now, opened, sent_at, index))
                .collect()
        };
        let sent = now - chrono::Duration::seconds(10);
        assert_eq!(
            times(Some(sent)),
            [sent, sent + ms(1), sent + ms(2)],
            "as sent"
        );
        for (sent_at, first) in [
            (Some(opened - ms(500)), opened),
            (Some(now + ms(500)), now),
            (Some(now - chrono::Duration::minutes(5)), now),
            (None, now),
        ] {
            assert_eq!(
                times(sent_at),
                [first, first + ms(1), first + ms(2)],
                "{sent_at:?}"
            );
        }
    }

    #[test]
    fn a_refused_file_note_says_what_it_was_and_why_in_one_bounded_line() {
        let note = refused_file_note(UserFileKind::File, Some("Receipt"), "it is too large");
        assert_eq!(
            note,
            "[The customer sent a file (\u{201c}Receipt\u{201d}) that could not be attached: it is too large. Ask them to send it another way.]"
        );
        let untitled = refused_file_note(UserFileKind::Image, None, "why");
        assert!(untitled.starts_with("[The customer sent an image that could not"));
        let long = refused_file_note(
            UserFileKind::Video,
            Some(&"t".repeat(5_000)),
            &"r".repeat(5_000),
        );
        assert!(
            long.chars().count() < NOTE_TITLE_CHARS + NOTE_REASON_CHARS + 200,
            "{}",
            long.len()
        );
    }

    #[test]
    fn a_bloc_gets_one_idempotency_id_per_part() {
        assert_eq!(part_idempotency_id("m1", 0, 1), "m1");
        assert_eq!(part_idempotency_id("m1", 0, 2), "m1:part-1");
        assert_eq!(part_idempotency_id("m1", 1, 2), "m1:part-2");
    }

    #[test]
    fn empty_parts_are_refused_with_a_reason() {
        assert!(check_parts(&[]).is_err());
        let error = check_parts(&[
            UserContent::Text("hi".into()),
            UserContent::Text(" ".into()),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("part 2"), "{error}");
        assert!(check_parts(&[UserContent::Text("hi".into())]).is_ok());
    }

    #[test]
    fn a_text_longer_than_the_help_desk_shows_becomes_parts_in_order() {
        let short = [UserContent::Text("hi".into())];
        assert!(matches!(split_long_texts(&short), Cow::Borrowed(_)));
        let long = "word ".repeat(1_500);
        let parts = split_long_texts(&[UserContent::Text(long.clone())]).into_owned();
        assert_eq!(parts.len(), 2);
        let joined: String = parts
            .iter()
            .map(|part| match part {
                UserContent::Text(text) => {
                    assert!(text.chars().count() <= channel_limits::MAX_TEXT_CHARS);
                    text.as_str()
                }
                UserContent::File { .. } => unreachable!(),
            })
            .collect();
        assert_eq!(joined, long);
    }

    #[test]
    fn files_past_the_ones_fetched_for_a_message_become_one_note() {
        let file = |n: usize, title: &str| UserContent::File {
            kind: UserFileKind::Image,
            url: format!("https://files.example.com/{n}.png"),
            title: Some(title.to_string()),
        };
        let mut parts = vec![UserContent::Text("the damage".into())];
        parts.extend((1..=channel_limits::MAX_FILES_PER_BLOC).map(|n| file(n, "photo")));
        assert!(matches!(
            note_files_past_the_limit(&parts),
            Cow::Borrowed(_)
        ));
        parts.push(file(6, " photo 6 "));
        parts.push(UserContent::Text("and more".into()));
        parts.push(file(7, "  "));
        parts.push(file(8, "photo 8"));
        let noted = note_files_past_the_limit(&parts);
        assert_eq!(
            noted.len(),
            8,
            "the text, five files, the note, the later text"
        );
        let UserContent::Text(note) = &noted[6] else {
            panic!("a note in the sixth file's place: {noted:?}");
        };
        assert_eq!(
            note,
            "[The customer sent 3 more files (\u{201c}photo 6\u{201d}, \u{201c}photo 8\u{201d}) than the bridge relays from one message (at most 5). Ask the customer to send them again, at most 5 files to a message.]"
        );
        assert!(matches!(&noted[7], UserContent::Text(text) if text == "and more"));
        assert!(!note.contains("files.example.com"));
        let many: Vec<String> = (0..12).map(|n| format!("p{n}")).collect();
        let titles: Vec<&str> = many.iter().map(String::as_str).collect();
        let note = past_the_limit_note(12, &titles);
        assert!(note.contains("\u{201c}p9\u{201d}, \u{2026})"), "{note}");
        assert!(!note.contains("p10"), "{note}");
        assert!(past_the_limit_note(1, &[]).contains("sent 1 more file than"));
        assert_eq!(
            quoted_title(" line one\nline two\u{202e}evil "),
            "\u{201c}line one line two evil\u{201d}"
        );
    }
}
