//! DynamoDB adapter: the only module that speaks `aws_sdk_dynamodb`. One table, keys from
//! [`keys`], conditional writes for every state change.

mod breaker;
mod campaigns;
mod connections;
mod counters;
mod engagement;
mod expr;
pub mod keys;
mod messages;
mod migrate;
mod notifications;
mod phones;
pub mod queries;
mod records;
mod recount;
mod retention;
mod routing;
mod templates;
mod timeline;

pub use breaker::{error_counts, CampaignFailures};
pub use campaigns::{CampaignRecord, HoldOutcome, NewCampaign, ReleaseOutcome, ACTIVE, PAUSED};
pub use connections::{Connection, CONNECTION_TTL_SECONDS};
pub use counters::{RunApplied, RunLedger, LEDGER_TTL_SECONDS};
pub use engagement::{
    CampaignReplies, OptOut, Reply, Window, DEFAULT_OPT_OUT_PAYLOADS,
    WINDOW_KEPT_AFTER_CLOSE_SECONDS, WINDOW_SECONDS,
};
pub use messages::DEFAULT_RETENTION_SECONDS;
pub use messages::{MessageKey, MessagesCursor, Registration, RegistrationOutcome};
pub use migrate::MovePage;
pub use notifications::DELIVERY_TTL_SECONDS;
pub use phones::{PhoneNumberRecord, PhoneState};
pub use records::{feed_id_floor, stable_id, AlertRecord, FeedEntry, FeedImage};
pub use retention::{ErasureJob, DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
pub use routing::{PhoneRoute, Route};
pub use templates::{clip, NewTemplate, TemplateRecord};

use aws_sdk_dynamodb::error::SdkError;
pub use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed")]
    Dynamo(#[source] Box<aws_sdk_dynamodb::Error>),
    #[error("stored item does not have the expected shape")]
    Shape(#[from] serde_dynamo::Error),
    #[error("the item changed while it was being written; read it again")]
    Conflict,
    #[error("{0}")]
    Refused(&'static str),
}

impl StoreError {
    /// Transient failures are retried (throttling, 5xx, timeouts, races); the others are
    /// the request's own fault and retrying cannot help.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Dynamo(e) => {
                use aws_sdk_dynamodb::error::ProvideErrorMetadata;
                !matches!(
                    e.code(),
                    Some("ValidationException" | "ItemCollectionSizeLimitExceededException")
                )
            }
            Self::Shape(_) | Self::Refused(_) => false,
            Self::Conflict => true,
        }
    }
}

pub(crate) fn dynamo<E, R>(e: SdkError<E, R>) -> StoreError
where
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    StoreError::Dynamo(Box::new(aws_sdk_dynamodb::Error::from(e)))
}

/// The table, with its client built once per container.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
}

impl Store {
    /// A store over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Cheap reachability check (one DescribeTable).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}

/// A string attribute value.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute value.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
