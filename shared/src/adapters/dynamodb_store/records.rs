//! The plain records: the channel setup, customers and agent users. Last write wins, as in
//! the SQLite store's upserts.

use async_trait::async_trait;

use crate::model::{AgentUser, CUSTOMER_RETENTION, ChannelSetup, Customer};
use crate::ports::{AgentStore, ChannelStore, CustomerStore, StoreError};

use super::{DynamoStore, items, keys};

#[async_trait]
impl ChannelStore for DynamoStore {
    async fn channel_setup(&self) -> Result<Option<ChannelSetup>, StoreError> {
        self.get("read channel setup", keys::CHANNEL.to_string())
            .await?
            .map(|item| items::channel_from_item(&item))
            .transpose()
    }

    async fn save_channel_setup(&self, setup: &ChannelSetup) -> Result<(), StoreError> {
        self.put("save channel setup", items::channel_item(setup))
            .await
    }
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn save_customer(&self, customer: &Customer) -> Result<(), StoreError> {
        let ttl = self.now_secs() + CUSTOMER_RETENTION.num_seconds();
        self.put("save customer", items::customer_item(customer, ttl))
            .await
    }

    async fn customer(
        &self,
        bot_id: &str,
        botpress_user_id: &str,
    ) -> Result<Option<Customer>, StoreError> {
        self.get("read customer", keys::customer(bot_id, botpress_user_id))
            .await?
            .map(|item| items::customer_from_item(&item))
            .transpose()
    }
}

#[async_trait]
impl AgentStore for DynamoStore {
    async fn agent_user(
        &self,
        bot_id: &str,
        actor_id: &str,
    ) -> Result<Option<AgentUser>, StoreError> {
        self.get("read agent user", keys::agent(bot_id, actor_id))
            .await?
            .map(|item| items::agent_from_item(&item))
            .transpose()
    }

    async fn save_agent_user(&self, agent: &AgentUser) -> Result<(), StoreError> {
        self.put("save agent user", items::agent_item(agent)).await
    }
}
