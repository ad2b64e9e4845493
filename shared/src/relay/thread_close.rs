//! Closing a HubSpot thread, for every caller that does: the bot ending a handoff, an opening
//! given up, and a close left for later. They differ in what a failure means to them, not in
//! what a close is.

use super::Relay;
use crate::ports::{ThreadStatus, UpstreamError};

/// How a thread the bridge asked HubSpot to close ended up closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ThreadClosed {
    /// HubSpot closed it (or it already was).
    Now,
    /// HubSpot has no such thread any more (moved to the trash: 404): nothing is left open,
    /// so it counts as closed, but the caller may want to say so.
    Gone,
}

impl Relay {
    /// Asks HubSpot to close `thread_id`. Any other failure is the caller's to weigh.
    pub(super) async fn close_thread(
        &self,
        thread_id: &str,
    ) -> Result<ThreadClosed, UpstreamError> {
        match self
            .hubspot
            .set_thread_status(thread_id, ThreadStatus::Closed)
            .await
        {
            Ok(()) => Ok(ThreadClosed::Now),
            Err(error) if error.status == Some(404) => Ok(ThreadClosed::Gone),
            Err(error) => Err(error),
        }
    }
}
