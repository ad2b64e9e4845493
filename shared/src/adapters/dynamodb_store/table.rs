//! Creating the table as template.yaml declares it, for tests and local experiments.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use crate::ports::StoreError;

use super::DynamoStore;
use super::items::{PK, TTL};
use super::writes::failure;

impl DynamoStore {
    /// Creates `table`: on-demand, hash key `pk` (S) only, TTL on `ttl` (epoch seconds).
    /// Returns once the table is ACTIVE.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        const OPERATION: &str = "create table";
        let build = |e| StoreError::new(OPERATION, e);
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PK)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| failure(OPERATION, e))?;
        client
            .wait_until_table_exists()
            .table_name(table)
            .wait(Duration::from_secs(120))
            .await
            .map_err(|e| StoreError::new(OPERATION, DisplayErrorContext(e)))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| failure("enable table TTL", e))?;
        Ok(())
    }
}
