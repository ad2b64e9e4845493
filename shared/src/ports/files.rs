use async_trait::async_trait;

/// A file a customer sent, downloaded and checked against the channel's limits.
#[derive(Clone, Debug)]
pub struct FetchedFile {
    /// The last segment of the URL's path, for the file manager; `attachment` when there is none.
    pub name: String,
    /// The essence of the answer's `Content-Type` (`image/png`).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a file could not be fetched. `Refused` will never work (the caller must change the
/// message); `Unavailable` may work later (the source failed or timed out).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unavailable(String),
}

/// Downloads the files customers send, from URLs that arrive in messages: an SSRF surface,
/// so implementations decide what they are willing to reach.
#[async_trait]
pub trait FileSource: Send + Sync {
    async fn fetch(&self, url: &str) -> Result<FetchedFile, FetchError>;
}
