//! Implementations of the ports: HTTP clients for HubSpot and Botpress, the OAuth token
//! manager, the SQLite store for local runs, and HubSpot's request signatures.

pub mod aws_http;
pub mod botpress_http;
pub mod budget;
pub mod dynamodb_store;
pub mod file_fetch;
pub(crate) mod http_client;
pub mod hubspot_admin;
pub mod hubspot_http;
pub mod hubspot_message;
pub mod oauth;
pub mod retry;
pub mod rich_text;
pub mod secrets_manager;
pub mod signature;
pub mod sqlite_store;
pub mod tls;

pub use http_client::build_http_client;
