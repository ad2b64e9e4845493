//! What the simulated Botpress holds: users, conversations, messages and events, in creation order,
//! plus the get-or-create matching rules of the Runtime API.

use super::{
    ids::new_id,
    model::{Conversation, Direction, Event, Message, Tags, User, now},
};
use serde_json::{Map, Value};

/// Everything the simulated bot has seen. Vectors, not maps: tests read them in creation order and
/// the volumes are tiny.
#[derive(Debug, Default)]
pub struct Store {
    pub users: Vec<User>,
    pub conversations: Vec<Conversation>,
    pub messages: Vec<Message>,
    pub events: Vec<Event>,
}

/// Whether a resource with `existing` tags is the one a get-or-create call with `given` tags asks for.
///
/// The spec: without `discriminateByTags`, all given tags must match; with it, only the listed ones.
/// Matching on no tag at all would hand every caller the first resource ever created, so an empty
/// set of keys never matches and the call creates a new resource instead.
pub fn tags_match(existing: &Tags, given: &Tags, discriminate_by: Option<&[String]>) -> bool {
    let keys: Vec<&String> = match discriminate_by {
        Some(keys) => keys.iter().collect(),
        None => given.keys().collect(),
    };
    !keys.is_empty()
        && keys.into_iter().all(|key| {
            given
                .get(key)
                .is_some_and(|value| existing.get(key) == Some(value))
        })
}

/// Applies tags the way Botpress does: an empty value unsets the key.
fn apply_tags(target: &mut Tags, given: &Tags) {
    for (key, value) in given {
        if value.is_empty() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
}

/// A message to create, already validated.
pub struct NewMessage {
    pub kind: String,
    pub payload: Map<String, Value>,
    pub direction: Direction,
    pub user_id: String,
    pub conversation_id: String,
    pub tags: Tags,
    pub origin: Option<String>,
}

/// An event to create, already validated.
pub struct NewEvent {
    pub kind: String,
    pub payload: Map<String, Value>,
    pub conversation_id: Option<String>,
    pub user_id: Option<String>,
    pub message_id: Option<String>,
    pub scheduled: bool,
}

impl Store {
    /// The matching user, updated with the given name, picture and tags unless `keep_found`,
    /// or a new one. `updatedAt` moves only when something actually changed, so a repeated
    /// lookup returns an identical object.
    pub fn get_or_create_user(
        &mut self,
        tags: &Tags,
        name: Option<String>,
        picture_url: Option<String>,
        discriminate_by: Option<&[String]>,
        keep_found: bool,
    ) -> User {
        if let Some(user) = self
            .users
            .iter_mut()
            .find(|user| tags_match(&user.tags, tags, discriminate_by))
        {
            if keep_found {
                return user.clone();
            }
            let before = (
                user.tags.clone(),
                user.name.clone(),
                user.picture_url.clone(),
            );
            apply_tags(&mut user.tags, tags);
            if name.is_some() {
                user.name = name;
            }
            if picture_url.is_some() {
                user.picture_url = picture_url;
            }
            if before
                != (
                    user.tags.clone(),
                    user.name.clone(),
                    user.picture_url.clone(),
                )
            {
                user.updated_at = now();
            }
            return user.clone();
        }
        self.create_user(tags, name, picture_url)
    }

    /// `updateUser`: the tags given merged in, and the name and picture given set (`Some(None)`
    /// clears one); `None` when there is no such user.
    pub fn update_user(
        &mut self,
        id: &str,
        tags: Option<&Tags>,
        name: Option<Option<String>>,
        picture_url: Option<Option<String>>,
    ) -> Option<User> {
        let user = self.users.iter_mut().find(|user| user.id == id)?;
        if let Some(tags) = tags {
            apply_tags(&mut user.tags, tags);
        }
        if let Some(name) = name {
            user.name = name;
        }
        if let Some(picture_url) = picture_url {
            user.picture_url = picture_url;
        }
        user.updated_at = now();
        Some(user.clone())
    }

    /// A new user, whatever users have the same tags (`createUser`).
    pub fn create_user(
        &mut self,
        tags: &Tags,
        name: Option<String>,
        picture_url: Option<String>,
    ) -> User {
        let created_at = now();
        let mut user_tags = Tags::new();
        apply_tags(&mut user_tags, tags);
        let user = User {
            id: new_id("user"),
            created_at: created_at.clone(),
            updated_at: created_at,
            tags: user_tags,
            name,
            picture_url,
        };
        self.users.push(user.clone());
        user
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|user| user.id == id)
    }

    /// The conversation on `channel` whose tags match, or a new one created by `integration`.
    pub fn get_or_create_conversation(
        &mut self,
        channel: &str,
        integration: &str,
        tags: &Tags,
        discriminate_by: Option<&[String]>,
    ) -> Conversation {
        if let Some(conversation) = self.conversations.iter_mut().find(|conversation| {
            conversation.channel == channel && tags_match(&conversation.tags, tags, discriminate_by)
        }) {
            let before = conversation.tags.clone();
            apply_tags(&mut conversation.tags, tags);
            if before != conversation.tags {
                conversation.updated_at = now();
            }
            return conversation.clone();
        }
        let created_at = now();
        let mut conversation_tags = Tags::new();
        apply_tags(&mut conversation_tags, tags);
        let conversation = Conversation {
            id: new_id("conv"),
            created_at: created_at.clone(),
            updated_at: created_at,
            channel: channel.to_string(),
            integration: integration.to_string(),
            tags: conversation_tags,
        };
        self.conversations.push(conversation.clone());
        conversation
    }

    pub fn conversation(&self, id: &str) -> Option<&Conversation> {
        self.conversations
            .iter()
            .find(|conversation| conversation.id == id)
    }

    pub fn message(&self, id: &str) -> Option<&Message> {
        self.messages.iter().find(|message| message.id == id)
    }

    /// An existing message of `conversation_id` whose tags match (for getOrCreateMessage).
    pub fn find_message(
        &self,
        conversation_id: &str,
        tags: &Tags,
        discriminate_by: Option<&[String]>,
    ) -> Option<&Message> {
        self.messages.iter().find(|message| {
            message.conversation_id == conversation_id
                && tags_match(&message.tags, tags, discriminate_by)
        })
    }

    pub fn create_message(&mut self, new: NewMessage) -> Message {
        let created_at = now();
        let mut tags = Tags::new();
        apply_tags(&mut tags, &new.tags);
        let message = Message {
            id: new_id("msg"),
            created_at: created_at.clone(),
            updated_at: created_at,
            kind: new.kind,
            payload: new.payload,
            direction: new.direction,
            user_id: new.user_id,
            conversation_id: new.conversation_id,
            tags,
            origin: new.origin,
        };
        self.messages.push(message.clone());
        message
    }

    pub fn create_event(&mut self, new: NewEvent) -> Event {
        let event = Event {
            id: new_id("evt"),
            created_at: now(),
            kind: new.kind,
            payload: new.payload,
            conversation_id: new.conversation_id,
            user_id: new.user_id,
            message_id: new.message_id,
            status: if new.scheduled {
                "scheduled"
            } else {
                "pending"
            },
            failure_reason: None,
        };
        self.events.push(event.clone());
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn same_tags_give_the_same_user_and_other_tags_a_new_one() {
        let mut store = Store::default();
        let first = store.get_or_create_user(
            &tags(&[("agentId", "7")]),
            Some("Ann".into()),
            None,
            None,
            false,
        );
        let again = store.get_or_create_user(&tags(&[("agentId", "7")]), None, None, None, false);
        let other = store.get_or_create_user(&tags(&[("agentId", "8")]), None, None, None, false);
        assert_eq!(first.id, again.id);
        assert_eq!(again.name.as_deref(), Some("Ann"));
        assert_ne!(first.id, other.id);
        assert_eq!(store.users.len(), 2);
    }

    #[test]
    fn a_match_updates_name_and_picture() {
        let mut store = Store::default();
        let first =
            store.get_or_create_user(&tags(&[("a", "1")]), Some("Old".into()), None, None, false);
        let again = store.get_or_create_user(
            &tags(&[("a", "1")]),
            Some("New".into()),
            Some("https://example.com/p.png".into()),
            None,
            false,
        );
        assert_eq!(first.id, again.id);
        assert_eq!(store.users[0].name.as_deref(), Some("New"));
        assert_eq!(
            store.users[0].picture_url.as_deref(),
            Some("https://example.com/p.png")
        );
    }

    #[test]
    fn a_match_kept_as_it_is_ignores_the_name_and_picture_given() {
        let mut store = Store::default();
        let first = store.get_or_create_user(&tags(&[("a", "1")]), None, None, None, false);
        let again =
            store.get_or_create_user(&tags(&[("a", "1")]), Some("New".into()), None, None, true);
        assert_eq!(first.id, again.id);
        assert_eq!(again.name, None);
        assert_eq!(store.users[0].name, None);
    }

    #[test]
    fn update_user_sets_and_clears_what_it_is_given_and_knows_only_existing_users() {
        let mut store = Store::default();
        let user = store.create_user(&tags(&[("a", "1")]), None, Some("p.png".into()));
        let named = store
            .update_user(&user.id, None, Some(Some("Ann".into())), None)
            .unwrap();
        assert_eq!(named.name.as_deref(), Some("Ann"));
        assert_eq!(named.picture_url.as_deref(), Some("p.png"));
        let cleared = store.update_user(&user.id, None, None, Some(None)).unwrap();
        assert_eq!(cleared.name.as_deref(), Some("Ann"));
        assert_eq!(cleared.picture_url, None);
        assert!(
            store
                .update_user("user_unknown", None, None, None)
                .is_none()
        );
    }

    #[test]
    fn discriminate_by_tags_only_compares_the_listed_keys() {
        let mut store = Store::default();
        let first = store.get_or_create_user(
            &tags(&[("id", "1"), ("email", "a@x")]),
            None,
            None,
            None,
            false,
        );
        let keys = vec!["id".to_string()];
        let again = store.get_or_create_user(
            &tags(&[("id", "1"), ("email", "b@x")]),
            None,
            None,
            Some(&keys),
            false,
        );
        assert_eq!(first.id, again.id);
        assert_eq!(again.tags.get("email").map(String::as_str), Some("b@x"));
        let without = store.get_or_create_user(
            &tags(&[("id", "1"), ("email", "c@x")]),
            None,
            None,
            None,
            false,
        );
        assert_ne!(first.id, without.id);
    }

    #[test]
    fn empty_tags_never_match_an_existing_resource() {
        let mut store = Store::default();
        let first = store.get_or_create_user(&Tags::new(), None, None, None, false);
        let second = store.get_or_create_user(&Tags::new(), None, None, None, false);
        assert_ne!(first.id, second.id);
    }

    #[test]
    fn conversations_match_on_channel_and_tags() {
        let mut store = Store::default();
        let hitl =
            store.get_or_create_conversation("hitl", "hubspot-hitl", &tags(&[("t", "1")]), None);
        let same =
            store.get_or_create_conversation("hitl", "hubspot-hitl", &tags(&[("t", "1")]), None);
        let other_channel =
            store.get_or_create_conversation("chat", "hubspot-hitl", &tags(&[("t", "1")]), None);
        assert_eq!(hitl.id, same.id);
        assert_ne!(hitl.id, other_channel.id);
    }
}
