//! The files of a customer's message that HubSpot has taken, remembered per part, so a retry
//! of the message (Botpress's, after a failure half-way; or one that ran out of its budget)
//! neither fetches nor uploads them again. File Manager uploads are not idempotent: without
//! this, every retry left one more private copy of each file there, and a message whose files
//! take longer than one request's budget ran out of it on every retry, never relayed.
//!
//! Kept in the idempotency ledger, one key per part, with the file's id as the key's outcome.
//! The message's own key keeps two attempts of it from running at once, so a part's key is the
//! attempt's to write whatever its claim found.

use super::once::{REMEMBER, claim_lease};
use super::{Relay, RelayError};
use crate::ports::{Claim, FileAttachment};

/// The parts of one message whose upload keys this attempt claimed, to record or release.
pub(super) struct FileUploads {
    prefix: String,
    claimed: Vec<String>,
}

impl FileUploads {
    /// The uploads of Botpress message `message_id` of bot `bot_id`.
    pub(super) fn of(bot_id: &str, message_id: &str) -> Self {
        Self {
            prefix: format!("botpress-upload:{bot_id}:{message_id}"),
            claimed: Vec::new(),
        }
    }

    fn key(&self, part: usize) -> String {
        format!("{}:{part}", self.prefix)
    }
}

impl Relay {
    /// The file an earlier attempt uploaded for `part`, if one did; else the part's key is
    /// claimed, for [`Self::remember_upload`] once the file is taken.
    pub(super) async fn earlier_upload(
        &self,
        uploads: &mut FileUploads,
        part: usize,
    ) -> Result<Option<FileAttachment>, RelayError> {
        let key = uploads.key(part);
        if let Claim::Completed(Some(recorded)) = self.store.claim(&key, claim_lease()).await? {
            if let Some(attachment) = decode(&recorded) {
                return Ok(Some(attachment));
            }
            tracing::warn!(
                key,
                "an earlier upload's record is unreadable; the file is sent again"
            );
        }
        // Acquired, or held by an attempt that died (this attempt holds the message's key).
        uploads.claimed.push(key);
        Ok(None)
    }

    /// Records that HubSpot took `part`'s file. Best effort: a failure is logged, and costs
    /// only a second upload should the message be retried.
    pub(super) async fn remember_upload(
        &self,
        uploads: &mut FileUploads,
        part: usize,
        attachment: &FileAttachment,
    ) {
        let key = uploads.key(part);
        match self
            .store
            .complete(&key, Some(&encode(attachment)), REMEMBER)
            .await
        {
            Ok(()) => uploads.claimed.retain(|claimed| *claimed != key),
            Err(error) => tracing::warn!(%error, key, "could not record a file's upload"),
        }
    }

    /// Gives up the keys of parts this attempt claimed and uploaded nothing for (a note took
    /// the file's place, or the attempt failed first), so a retry of the message does them.
    pub(super) async fn release_unrecorded(&self, uploads: FileUploads) {
        for key in uploads.claimed {
            if let Err(error) = self.store.release(&key).await {
                tracing::warn!(%error, key, "could not release a file's upload key; it will expire");
            }
        }
    }
}

/// An uploaded file as its key's outcome: `<fileUsageType> <fileId>`.
fn encode(attachment: &FileAttachment) -> String {
    format!("{} {}", attachment.usage, attachment.file_id)
}

fn decode(recorded: &str) -> Option<FileAttachment> {
    let (usage, file_id) = recorded.split_once(' ')?;
    let usage = ["IMAGE", "AUDIO", "OTHER"]
        .into_iter()
        .find(|known| *known == usage)?;
    (!file_id.is_empty()).then(|| FileAttachment {
        file_id: file_id.to_string(),
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::{FileAttachment, decode, encode};

    #[test]
    fn a_recorded_upload_reads_back_as_the_same_attachment() {
        for usage in ["IMAGE", "AUDIO", "OTHER"] {
            let attachment = FileAttachment {
                file_id: "1234567".to_string(),
                usage,
            };
            assert_eq!(decode(&encode(&attachment)), Some(attachment));
        }
        assert_eq!(decode("VIDEO 1"), None, "not a usage HubSpot knows");
        assert_eq!(decode("IMAGE "), None, "no file id");
        assert_eq!(decode("IMAGE"), None);
    }
}
