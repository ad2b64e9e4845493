//! The test playing a help-desk agent: each action changes the thread the way the HubSpot UI
//! would and then delivers, signed, the webhook HubSpot would send the bridge, returning how the
//! bridge answered.

use chrono::Utc;
use serde_json::json;

use super::model::{Message, Thread, ThreadStatus};
use super::{Delivery, HubSpotSim, SimError, messages, webhooks};

/// What an agent writes: the plain text, optionally the editor's HTML (`richText`; by default
/// the text, escaped, in a paragraph) and attachments (HubSpot's `attachments` array).
#[derive(Clone, Debug, Default)]
pub struct AgentContent {
    pub text: String,
    pub rich_text: Option<String>,
    pub attachments: serde_json::Value,
    /// HubSpot shows only this many characters of the text in the message itself
    /// (`truncationStatus: TRUNCATED`); the whole is read from `.../original-content`.
    pub shown_chars: Option<usize>,
}

impl AgentContent {
    pub fn text(text: &str) -> Self {
        Self {
            text: text.to_string(),
            rich_text: None,
            attachments: json!([]),
            shown_chars: None,
        }
    }

    /// The message as HubSpot truncates it: its first `chars` characters in the event and the
    /// history, the whole only from the original-content endpoint.
    pub fn truncated_to(mut self, chars: usize) -> Self {
        self.shown_chars = Some(chars);
        self
    }
}

/// An agent's message HubSpot recorded but has not delivered yet.
#[derive(Clone, Debug)]
pub struct HeldWebhook {
    pub url: String,
    pub body: String,
    /// HubSpot's id of the message.
    pub message_id: String,
}

impl HubSpotSim {
    /// An agent replies in the help desk: an OUTGOING message is added to the thread and an
    /// `OUTGOING_CHANNEL_MESSAGE_CREATED` event goes to the channel's `webhookUrl`.
    pub async fn agent_reply(
        &self,
        thread_id: &str,
        actor_id: &str,
        text: &str,
    ) -> Result<Delivery, SimError> {
        let held = self.agent_writes(thread_id, actor_id, AgentContent::text(text))?;
        self.deliver_held(&held).await
    }

    /// An agent's reply with rich text and attachments (HubSpot's `attachments` array, e.g.
    /// `[{"type":"FILE","fileId":"1","fileUsageType":"IMAGE","name":"a.png","url":"https://…"}]`).
    pub async fn agent_reply_with(
        &self,
        thread_id: &str,
        actor_id: &str,
        content: AgentContent,
    ) -> Result<Delivery, SimError> {
        let held = self.agent_writes(thread_id, actor_id, content)?;
        self.deliver_held(&held).await
    }

    /// The agent writes a message, which HubSpot records at once, but its webhook is held back:
    /// deliver it later with [`HubSpotSim::deliver_held`], in any order, as HubSpot's delayed
    /// and retried deliveries arrive.
    pub fn agent_writes(
        &self,
        thread_id: &str,
        actor_id: &str,
        content: AgentContent,
    ) -> Result<HeldWebhook, SimError> {
        let mut store = self.shared.store();
        let thread = store
            .thread(thread_id)
            .ok_or_else(|| SimError::UnknownThread(thread_id.to_string()))?;
        let (channel_id, account_id) =
            (thread.channel_id.clone(), thread.channel_account_id.clone());
        let integration_thread_id = thread.integration_thread_id.clone();
        let recipients: Vec<_> = thread.customer.clone().into_iter().collect();
        let channel = store
            .channel(&channel_id)
            .ok_or_else(|| SimError::UnknownChannel(channel_id.clone()))?;
        let url = channel.webhook_url.clone().ok_or_else(|| {
            SimError::NoWebhookUrl(format!("channel {channel_id} has no webhookUrl"))
        })?;
        let name = store
            .agent(actor_id)
            .map(|agent| agent.name.clone())
            .unwrap_or_else(|| actor_id.to_string());
        let now = Utc::now();
        let rich_text = content
            .rich_text
            .unwrap_or_else(|| format!("<p>{}</p>", escape_html(&content.text)));
        let message = Message {
            id: store.ids.message(),
            channel_id: channel_id.clone(),
            channel_account_id: account_id,
            thread_id: thread_id.to_string(),
            direction: "OUTGOING".to_string(),
            text: content.text,
            rich_text: Some(rich_text),
            senders: json!([{ "actorId": actor_id, "name": name }]),
            recipients: json!(recipients),
            attachments: if content.attachments.is_null() {
                json!([])
            } else {
                content.attachments
            },
            created_by: actor_id.to_string(),
            client: json!({ "clientType": "HUBSPOT" }),
            in_reply_to_id: None,
            integration_idempotency_id: None,
            status_type: "SENT".to_string(),
            error_message: None,
            created_at: now,
            updated_at: now,
            shown_chars: content.shown_chars,
        };
        if let Some(thread) = store.thread_mut(thread_id) {
            thread.latest_sent_at = Some(now);
        }
        let rendered = messages::render(&message);
        let message_id = message.id.clone();
        store.messages.push(message);
        let body = webhooks::outgoing_message_created(
            &self.shared,
            &channel_id,
            integration_thread_id.as_deref(),
            rendered,
        );
        Ok(HeldWebhook {
            url,
            body,
            message_id,
        })
    }

    /// Delivers a webhook [`HubSpotSim::agent_writes`] held back.
    pub async fn deliver_held(&self, held: &HeldWebhook) -> Result<Delivery, SimError> {
        webhooks::deliver(&self.shared, &held.url, held.body.clone()).await
    }

    /// The thread is reopened after a close: `status` becomes `OPEN`.
    pub async fn reopen(&self, thread_id: &str) -> Result<Delivery, SimError> {
        self.change_property(thread_id, "status", |thread| {
            thread.status = ThreadStatus::Open;
            thread.closed_at = None;
            ThreadStatus::Open.as_str().to_string()
        })
        .await
    }

    /// An agent takes the thread: `assignedTo` becomes `actor_id`.
    pub async fn assign(&self, thread_id: &str, actor_id: &str) -> Result<Delivery, SimError> {
        self.change_property(thread_id, "assignedTo", |thread| {
            thread.assigned_to = Some(actor_id.to_string());
            actor_id.to_string()
        })
        .await
    }

    /// The thread is unassigned: `assignedTo` becomes empty.
    pub async fn unassign(&self, thread_id: &str) -> Result<Delivery, SimError> {
        self.change_property(thread_id, "assignedTo", |thread| {
            thread.assigned_to = None;
            String::new()
        })
        .await
    }

    /// An agent closes the thread: `status` becomes `CLOSED`.
    pub async fn close(&self, thread_id: &str) -> Result<Delivery, SimError> {
        self.change_property(thread_id, "status", |thread| {
            thread.status = ThreadStatus::Closed;
            thread.closed_at = Some(Utc::now());
            ThreadStatus::Closed.as_str().to_string()
        })
        .await
    }

    /// Applies `change` to the thread and delivers the `conversation.propertyChange` app webhook
    /// (changeSource `AGENT`). Nothing changes when there is nowhere to deliver.
    async fn change_property(
        &self,
        thread_id: &str,
        property: &str,
        change: impl FnOnce(&mut Thread) -> String,
    ) -> Result<Delivery, SimError> {
        let (url, body) = {
            let mut store = self.shared.store();
            let url = store.app_webhook_url.clone().ok_or_else(|| {
                SimError::NoWebhookUrl("no app webhook URL set (set_app_webhook_url)".to_string())
            })?;
            let thread = store
                .thread_mut(thread_id)
                .ok_or_else(|| SimError::UnknownThread(thread_id.to_string()))?;
            let value = change(thread);
            let body = webhooks::property_change(
                &self.shared,
                &mut store,
                thread_id,
                property,
                &value,
                "AGENT",
            );
            (url, body)
        };
        webhooks::deliver(&self.shared, &url, body).await
    }
}

/// Agents type plain text; HubSpot's `richText` is its HTML rendering.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::test_support::{Harness, receiver};
    use super::super::{SimError, sign_v3};

    #[tokio::test]
    async fn an_agent_reply_is_posted_signed_to_the_channel_webhook() {
        let harness = Harness::start().await;
        let (url, received) = receiver().await;
        let (channel, account) = harness.channel_with_account(&url).await;
        let (_, message) = harness
            .publish_incoming(&channel, &account, "conv-9", "m1", "help")
            .await;
        let thread_id = message["conversationsThreadId"].as_str().unwrap();
        harness
            .sim
            .add_agent("A-12345", "Ada Agent", "ada@example.com");

        let delivery = harness
            .sim
            .agent_reply(thread_id, "A-12345", "Hi <you>")
            .await
            .unwrap();
        assert_eq!(delivery.status, 200);
        let call = &received.calls()[0];
        let timestamp: i64 = call
            .header("x-hubspot-request-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        let expected = sign_v3(
            "sandbox-client-secret",
            "POST",
            &url,
            call.body.as_bytes(),
            timestamp,
        );
        assert_eq!(
            call.header("x-hubspot-signature-v3"),
            Some(expected.as_str())
        );
        assert_eq!(call.header("content-type"), Some("application/json"));

        let event: Value = call.json();
        assert_eq!(event["type"], "OUTGOING_CHANNEL_MESSAGE_CREATED");
        assert_eq!(event["channelId"], channel.as_str());
        assert_eq!(event["channelIntegrationThreadIds"][0], "conv-9");
        assert_eq!(event["message"]["conversationsThreadId"], thread_id);
        assert_eq!(event["message"]["direction"], "OUTGOING");
        assert_eq!(event["message"]["text"], "Hi <you>");
        assert_eq!(event["message"]["richText"], "<p>Hi &lt;you&gt;</p>");
        assert_eq!(event["message"]["senders"][0]["name"], "Ada Agent");
        assert_eq!(
            event["message"]["recipients"][0]["deliveryIdentifier"]["value"],
            "user-1"
        );

        let thread = harness.sim.thread(thread_id).unwrap();
        assert_eq!(thread.messages.len(), 2);
        assert_eq!(thread.messages[1].direction, "OUTGOING");
    }

    #[tokio::test]
    async fn assign_unassign_and_close_send_property_changes_and_retries_count_attempts() {
        let harness = Harness::start().await;
        let (url, received) = receiver().await;
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let (_, message) = harness
            .publish_incoming(&channel, &account, "conv-1", "m1", "help")
            .await;
        let thread_id = message["conversationsThreadId"].as_str().unwrap();

        let missing = harness.sim.assign(thread_id, "A-1").await;
        assert!(matches!(missing, Err(SimError::NoWebhookUrl(_))));
        harness.sim.set_app_webhook_url(&url);
        assert!(matches!(
            harness.sim.close("404").await,
            Err(SimError::UnknownThread(_))
        ));

        harness.sim.assign(thread_id, "A-1").await.unwrap();
        assert_eq!(
            harness
                .sim
                .thread(thread_id)
                .unwrap()
                .assigned_to
                .as_deref(),
            Some("A-1")
        );
        harness.sim.unassign(thread_id).await.unwrap();
        assert_eq!(harness.sim.thread(thread_id).unwrap().assigned_to, None);
        let closed = harness.sim.close(thread_id).await.unwrap();
        assert_eq!(harness.sim.thread(thread_id).unwrap().status, "CLOSED");

        let events: Vec<Value> = received
            .calls()
            .iter()
            .map(|call| call.json()[0].clone())
            .collect();
        let changes: Vec<_> = events
            .iter()
            .map(|event| {
                (
                    event["propertyName"].as_str().unwrap(),
                    event["propertyValue"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            changes,
            [
                ("assignedTo", "A-1"),
                ("assignedTo", ""),
                ("status", "CLOSED")
            ]
        );
        assert!(
            events
                .iter()
                .all(|event| event["changeSource"] == "AGENT" && event["attemptNumber"] == 0)
        );
        assert_ne!(events[0]["eventId"], events[1]["eventId"]);

        let retry = harness.sim.redeliver(&closed).await.unwrap();
        let retried: Value = serde_json::from_str(&retry.body).unwrap();
        assert_eq!(retried[0]["attemptNumber"], 1);
        assert_eq!(retried[0]["eventId"], events[2]["eventId"]);
        assert_eq!(harness.sim.deliveries().len(), 4);
    }

    #[tokio::test]
    async fn an_unreachable_bridge_is_an_error_and_still_recorded() {
        let harness = Harness::start().await;
        let result = harness
            .sim
            .deliver_raw("http://127.0.0.1:9/nothing", "[]".to_string())
            .await;
        assert!(matches!(result, Err(SimError::Http(_))));
        assert_eq!(harness.sim.deliveries()[0].status, 0);
    }
}
