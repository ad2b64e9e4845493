//! The files of a customer's message that HubSpot has taken, remembered per part, so a retry
//! of the message (Botpress's, after a failure half-way; or one that ran out of its budget)
//! neither fetches nor uploads them again. File Manager uploads are not idempotent: without
//! this, every retry left one more private copy of each file there, and a message whose files
//! take longer than one request's budget ran out of it on every retry, never relayed.
//!
//! Kept in the idempotency ledger, one key per part, with the file's id as the key's outcome.
//! The key names the part's place and its file's address, so a retry whose parts fall
//! otherwise (a deploy in between that cuts texts differently) never attaches one file in
//! another's place. The message's own key keeps two attempts of it from running at once, so a
//! part's key is the attempt's to write whatever its claim found. Best effort throughout: the
//! ledger failing costs only a second upload on a retry, never the message.

use sha2::{Digest, Sha256};

use super::Relay;
use super::once::{REMEMBER, claim_lease};
use crate::ports::{Claim, FileAttachment};

/// The parts of one message whose upload keys this attempt claimed, to record or release.
pub(super) struct FileUploads {
    prefix: String,
    /// Each claimed part's place in the message and its key.
    claimed: Vec<(usize, String)>,
}

impl FileUploads {
    /// The uploads of Botpress message `message_id` of bot `bot_id`.
    pub(super) fn of(bot_id: &str, message_id: &str) -> Self {
        Self {
            prefix: format!("botpress-upload:{bot_id}:{message_id}"),
            claimed: Vec::new(),
        }
    }

    /// The key of the file at `url` as part `part` (the address hashed: a signed URL is long,
    /// and may carry what the log and the ledger need not keep).
    fn key(&self, part: usize, url: &str) -> String {
        let digest = Sha256::digest(url.as_bytes());
        let short = hex::encode(&digest[..12]);
        format!("{}:{part}:{short}", self.prefix)
    }
}

impl Relay {
    /// The file an earlier attempt uploaded from `url` as `part`, if one did; else the part's
    /// key is claimed, for [`Self::remember_upload`] once the file is taken.
    pub(super) async fn earlier_upload(
        &self,
        uploads: &mut FileUploads,
        part: usize,
        url: &str,
    ) -> Option<FileAttachment> {
        let key = uploads.key(part, url);
        match self.store.claim(&key, claim_lease()).await {
            Ok(Claim::Completed(Some(recorded))) => match decode(&recorded) {
                Some(attachment) => return Some(attachment),
                None => tracing::warn!(
                    key,
                    "an earlier upload's record is unreadable; the file is sent again"
                ),
            },
            // Acquired, or held by an attempt that died (this one holds the message's key).
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, key, "could not read whether the file was uploaded before; it is sent, and not remembered");
                return None;
            }
        }
        uploads.claimed.push((part, key));
        None
    }

    /// Records that HubSpot took `part`'s file, when its key was claimed. A failure is logged,
    /// and costs only a second upload should the message be retried.
    pub(super) async fn remember_upload(
        &self,
        uploads: &mut FileUploads,
        part: usize,
        attachment: &FileAttachment,
    ) {
        let Some(at) = uploads
            .claimed
            .iter()
            .position(|(claimed, _)| *claimed == part)
        else {
            return;
        };
        let key = &uploads.claimed[at].1;
        match self
            .store
            .complete(key, Some(&encode(attachment)), REMEMBER)
            .await
        {
            Ok(()) => {
                uploads.claimed.remove(at);
            }
            Err(error) => tracing::warn!(%error, key, "could not record a file's upload"),
        }
    }

    /// Gives up the keys of parts this attempt claimed and uploaded nothing for (a note took
    /// the file's place, or the attempt failed first), so a retry of the message does them.
    pub(super) async fn release_unrecorded(&self, uploads: FileUploads) {
        for (_, key) in uploads.claimed {
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
    use super::{FileAttachment, FileUploads, decode, encode};

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

    #[test]
    fn a_parts_key_names_its_place_and_its_file() {
        let uploads = FileUploads::of("bot_1", "msg_1");
        let key = uploads.key(2, "https://files.example/a.png?sig=secret");
        assert!(key.starts_with("botpress-upload:bot_1:msg_1:2:"), "{key}");
        assert!(!key.contains("secret"), "{key}");
        assert_ne!(key, uploads.key(2, "https://files.example/b.png"));
        assert_ne!(
            key,
            uploads.key(1, "https://files.example/a.png?sig=secret")
        );
        assert_eq!(
            key,
            uploads.key(2, "https://files.example/a.png?sig=secret")
        );
    }
}
