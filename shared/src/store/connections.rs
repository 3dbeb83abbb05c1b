//! Realtime connections: one item per open WebSocket connection, keyed by connection id and
//! indexed per tenant in gsi1, so fan-out is one Query per tenant and never a scan.

use super::queries::ListQuery;
use super::{dynamo, key, keys, n, now, s, Item, Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

/// A connection forgotten by `$disconnect` is deleted; one that never said goodbye expires.
pub const CONNECTION_TTL_SECONDS: u64 = 2 * 3600;

/// An open connection as stored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Connection {
    pub connection_id: String,
    pub tenant_id: String,
    /// The token's subject.
    pub user: String,
    pub role: String,
    /// What it listens to: `reports`, `templates`, `alerts`, `campaign:<id>`.
    pub topics: Vec<String>,
    pub connected_at: u64,
}

impl Store {
    /// Records a connection the `$connect` route admitted.
    pub async fn put_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let mut item = key(keys::connection(&c.connection_id), "CONNECTION");
        item.insert("entity".into(), s("connection"));
        item.insert("connection_id".into(), s(&c.connection_id));
        item.insert("tenant_id".into(), s(&c.tenant_id));
        item.insert("user".into(), s(&c.user));
        item.insert("role".into(), s(&c.role));
        item.insert("topics".into(), topics(&c.topics));
        item.insert("connected_at".into(), n(c.connected_at));
        item.insert("expires_at".into(), n(now() + CONNECTION_TTL_SECONDS));
        item.insert("gsi1pk".into(), s(keys::tenant_connections(&c.tenant_id)));
        item.insert("gsi1sk".into(), s(&c.connection_id));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// One connection by id.
    pub async fn connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        match self
            .get(&keys::connection(connection_id), "CONNECTION")
            .await?
        {
            Some(item) => Ok(Some(serde_dynamo::from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Replaces what a connection listens to. `Ok(false)` when the connection is gone.
    pub async fn set_topics(
        &self,
        connection_id: &str,
        new_topics: &[String],
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::connection(connection_id), "CONNECTION")))
            .update_expression("SET #topics = :topics")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#topics", "topics")
            .expression_attribute_values(":topics", topics(new_topics))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(StoreError::Dynamo(Box::new(other.into()))),
            },
        }
    }

    /// Forgets a connection (idempotent).
    pub async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::connection(connection_id), "CONNECTION")))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// A tenant's open connections: one Query on gsi1, every page.
    pub async fn tenant_connections(&self, tenant_id: &str) -> Result<Vec<Connection>, StoreError> {
        let items: Vec<Item> = self
            .list_every(ListQuery::index(keys::tenant_connections(tenant_id)))
            .await?;
        items
            .into_iter()
            .map(|i| serde_dynamo::from_item(i).map_err(StoreError::from))
            .collect()
    }
}

fn topics(list: &[String]) -> AttributeValue {
    AttributeValue::L(list.iter().map(s).collect())
}
