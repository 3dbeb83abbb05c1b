//! Append-only items: feed entries, alerts, audit entries, template history, unrouted events.
//! Every id that must not repeat is derived from the event, and written with
//! `attribute_not_exists`, so a redelivered webhook adds nothing twice.

use super::{dynamo, key, keys, n, now, s, Item, Store, StoreError};
use crate::domain::template::AlertSpec;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Feed entries live a day: realtime clients resume from them, the table is not an archive.
pub const FEED_TTL_SECONDS: u64 = 24 * 3600;
/// Unrouted events are kept 30 days for someone to look at.
pub const UNROUTED_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// A short, stable id from parts (hex of a SHA-256 prefix).
pub fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

/// The attributes of a feed item (what the stream carries, and what a realtime stream resumes
/// from).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FeedImage {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub summary: String,
}

/// A change a realtime client should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// `message_status`, `template_status`, `campaign_paused`, `alert`, ...
    pub kind: &'static str,
    /// Small JSON summary (ids and states only; no message content, no phone numbers).
    pub summary: String,
}

impl FeedEntry {
    /// The feed item; its sort key is a UUIDv7, time-ordered and unique.
    pub fn item(&self, tenant_id: &str) -> Item {
        self.item_with_id(tenant_id, uuid::Uuid::now_v7().to_string(), now())
    }

    /// The feed item under a given sort key, created at `created_at` (both derived by the
    /// caller, so that writing it again is idempotent).
    pub fn item_with_id(&self, tenant_id: &str, id: String, created_at: u64) -> Item {
        let mut item = key(keys::feed(tenant_id), id.clone());
        item.insert("entity".into(), s("feed"));
        item.insert("id".into(), s(id));
        item.insert("kind".into(), s(self.kind));
        item.insert("summary".into(), s(&self.summary));
        item.insert("created_at".into(), n(created_at));
        item.insert("expires_at".into(), n(created_at + FEED_TTL_SECONDS));
        item
    }
}

/// The smallest feed id at `at_ms`: every feed id made at or after that millisecond sorts
/// above it (feed ids are UUIDv7, time first).
pub fn feed_id_floor(at_ms: u64) -> String {
    uuid::Builder::from_unix_timestamp_millis(at_ms, &[0; 10])
        .into_uuid()
        .to_string()
}

/// A stored alert.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AlertRecord {
    pub alert_id: String,
    pub severity: String,
    pub kind: String,
    pub title: String,
    /// `template:<id>`, `phone:<id>`, `waba:<id>`.
    pub subject: String,
    pub event_time: u64,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
}

impl Store {
    /// Puts an item unless one with its key exists. `Ok(false)` when it already did.
    pub(crate) async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(StoreError::Dynamo(Box::new(other.into()))),
            },
        }
    }

    /// Appends a feed entry.
    pub async fn append_feed(&self, tenant_id: &str, entry: &FeedEntry) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(entry.item(tenant_id)))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Raises an alert once per (subject, kind, event time). Critical and warning alerts are
    /// indexed as open until acknowledged. `Ok(true)` when it is new.
    pub async fn raise_alert(
        &self,
        tenant_id: &str,
        subject: &str,
        spec: &AlertSpec,
        event_time: u64,
    ) -> Result<bool, StoreError> {
        let alert_id = stable_id(&[subject, spec.kind, &event_time.to_string()]);
        let mut item = key(keys::tenant(tenant_id), keys::alert(&alert_id));
        item.insert("entity".into(), s("alert"));
        item.insert("alert_id".into(), s(&alert_id));
        item.insert("tenant_id".into(), s(tenant_id));
        item.insert("severity".into(), s(spec.severity.as_str()));
        item.insert("kind".into(), s(spec.kind));
        item.insert("title".into(), s(&spec.title));
        item.insert("subject".into(), s(subject));
        item.insert("event_time".into(), n(event_time));
        item.insert("created_at".into(), n(now()));
        if spec.severity.needs_acknowledgement() {
            item.insert("gsi1pk".into(), s(keys::open_alerts(tenant_id)));
            item.insert("gsi1sk".into(), s(keys::timed(event_time, &alert_id)));
        }
        self.put_new(item).await
    }

    /// Open (unacknowledged) alerts of a tenant, newest first.
    pub async fn open_alerts(&self, tenant_id: &str) -> Result<Vec<AlertRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(keys::open_alerts(tenant_id)))
            .scan_index_forward(false)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(serde_dynamo::from_items(out.items.unwrap_or_default())?)
    }

    /// Appends an audit entry once per id.
    pub async fn audit(
        &self,
        tenant_id: &str,
        id: &str,
        time: u64,
        fields: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let mut item = key(keys::audit(tenant_id), keys::timed(time, id));
        item.insert("entity".into(), s("audit"));
        item.insert("tenant_id".into(), s(tenant_id));
        item.insert("time".into(), n(time));
        for (k, v) in fields {
            item.insert((*k).to_owned(), v.clone());
        }
        self.put_new(item).await
    }

    /// A template history entry, once per (time, event).
    pub async fn append_template_history(
        &self,
        tenant_id: &str,
        template_id: u64,
        time: u64,
        event: &str,
        fields: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let mut item = key(
            keys::template_history(tenant_id, template_id),
            keys::timed(time, event),
        );
        item.insert("entity".into(), s("template_history"));
        item.insert("template_id".into(), n(template_id));
        item.insert("event".into(), s(event));
        item.insert("time".into(), n(time));
        for (k, v) in fields {
            item.insert((*k).to_owned(), v.clone());
        }
        self.put_new(item).await
    }

    /// Keeps an event no tenant could be found for (once per id), for an operator to look at.
    pub async fn record_unrouted(
        &self,
        id: &str,
        reason: &'static str,
        fields: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let t = now();
        let mut item = key(keys::unrouted(), keys::timed(t, id));
        item.insert("entity".into(), s("unrouted"));
        item.insert("reason".into(), s(reason));
        item.insert("created_at".into(), n(t));
        item.insert("expires_at".into(), n(t + UNROUTED_TTL_SECONDS));
        for (k, v) in fields {
            item.insert((*k).to_owned(), v.clone());
        }
        self.put_new(item).await
    }

    /// Items under one partition key (tests and small lists; paginates fully).
    pub async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        self.list_every(super::queries::ListQuery::partition(pk.to_owned()))
            .await
    }
}

impl Store {
    /// A tenant's feed items after `after` and up to `until` (feed sort keys), oldest first, up
    /// to `limit`: what a realtime stream sends next, and how it resumes without a gap or a
    /// repeat. `until` holds back ids that may still be joined by items written late (see
    /// [`feed_id_floor`]).
    pub async fn feed_after(
        &self,
        tenant_id: &str,
        after: &str,
        until: &str,
        limit: i32,
    ) -> Result<Vec<FeedImage>, StoreError> {
        if until <= after {
            return Ok(Vec::new());
        }
        // BETWEEN includes `after` itself: one more item is asked for, and it is left out.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :after AND :until")
            .expression_attribute_values(":pk", s(keys::feed(tenant_id)))
            .expression_attribute_values(":after", s(after))
            .expression_attribute_values(":until", s(until))
            .consistent_read(true)
            .limit(limit.saturating_add(1))
            .send()
            .await
            .map_err(dynamo)?;
        let mut items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| serde_dynamo::from_item::<_, FeedImage>(i).map_err(StoreError::from))
            .filter(|i| !matches!(i, Ok(image) if image.sk == after))
            .collect::<Result<Vec<_>, _>>()?;
        items.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(items)
    }
}
