//! Campaign counters, moved by the counters fold once per run of stream records: one transaction
//! of a ledger entry (keyed by the run's first stream record, so a retried run finds it) and one
//! `ADD` per campaign. The ledger entry is the run's first feed item when the run's time is known
//! (so a run pays for one item, not two), or an entry of its own. See `crate::counters`.

use super::expr::Expr;
use super::{dynamo, key, keys, n, now, s, Item, Store, StoreError};
use crate::domain::counters::{CampaignRef, Tally};
use crate::domain::timeline::Steps;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use std::collections::BTreeMap;
use tracing::error;

/// Ledger entries outlive the stream's 24-hour retention, so no retry can miss its entry.
pub const LEDGER_TTL_SECONDS: u64 = 3 * 24 * 3600;

/// What applying a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunApplied {
    /// Applied now, at `at_ms`.
    Now { at_ms: u64 },
    /// A run starting with the same record was applied before, up to `last_sequence`, at `at_ms`.
    Earlier { last_sequence: String, at_ms: u64 },
}

/// The item that records a run as applied, written in the run's transaction only if no item
/// has its key. Its key must follow from the run's first record alone, so that a retried run,
/// however far its batch reaches, finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLedger {
    item: Item,
}

impl RunLedger {
    /// An entry of its own, named by the run's first record.
    pub fn entry(first_event_id: &str) -> Self {
        let mut item = key(keys::counted_run(first_event_id), keys::LEDGER_SK);
        item.insert("entity".into(), s("counted_run"));
        Self { item }
    }

    /// A feed item that doubles as the ledger entry (its key derived from the run's first
    /// record). It is kept as long as a ledger entry.
    pub fn feed_item(item: Item) -> Self {
        Self { item }
    }

    /// Whether `item`, with the fields the ledger adds at their largest, is at most 1 KB: a
    /// transaction bills it 2 write units, what a ledger entry of its own costs.
    pub fn fits_one_kilobyte(item: &Item) -> bool {
        let ledger_fields = [
            ("last_sequence", 40),
            ("at_ms", u64::MAX.to_string().len().div_ceil(2) + 1),
            ("campaigns", 2),
            ("expires_at", u64::MAX.to_string().len().div_ceil(2) + 1),
        ];
        let added: usize = ledger_fields
            .iter()
            .map(|(name, value)| name.len() + value)
            .sum();
        let kept: usize = item
            .iter()
            .filter(|(name, _)| !ledger_fields.iter().any(|(n, _)| n == name))
            .map(|(name, value)| name.len() + value_bytes(value))
            .sum();
        kept + added <= 1024
    }

    fn key(&self) -> Item {
        ["pk", "sk"]
            .into_iter()
            .filter_map(|k| self.item.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect()
    }
}

/// A value's size by DynamoDB's rule ("Item sizes and formats" in the developer guide): a string
/// its UTF-8 bytes, a number at most one byte per two digits plus one, a boolean or null one.
/// Other types (not in a ledger entry) are counted by their debug form, an overestimate.
fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(v) => v.len(),
        AttributeValue::N(v) => v.len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        other => format!("{other:?}").len(),
    }
}

impl Store {
    /// Applies a run's counter deltas and timeline buckets exactly once, with `ledger` as its
    /// record. `last_sequence` is its last stream record's padded sequence number. Deltas (and
    /// buckets) of campaigns that do not exist are dropped with an error log: retrying cannot
    /// create them.
    pub async fn apply_counter_run(
        &self,
        ledger: &RunLedger,
        last_sequence: &str,
        at_ms: u64,
        deltas: &BTreeMap<CampaignRef, Tally>,
        timeline: &BTreeMap<(CampaignRef, u64), Steps>,
    ) -> Result<RunApplied, StoreError> {
        let mut campaigns: Vec<(&CampaignRef, &Tally)> = deltas.iter().collect();
        let mut buckets: Vec<(&(CampaignRef, u64), &Steps)> = timeline.iter().collect();
        loop {
            let mut items = vec![TransactWriteItem::builder()
                .put(self.ledger_put(ledger, last_sequence, at_ms, campaigns.len())?)
                .build()];
            for ((tenant_id, campaign_id), tally) in &campaigns {
                let mut e = Expr::new();
                e.set("counted_at", n(now()));
                for (attribute, value) in tally.attributes() {
                    e.add(&attribute, n(value));
                }
                let pk = e.name("pk");
                e.condition(format!("attribute_exists({pk})"));
                items.push(
                    TransactWriteItem::builder()
                        .update(self.update_in_transaction(
                            key(keys::tenant(tenant_id), keys::campaign(campaign_id)),
                            e,
                        )?)
                        .build(),
                );
            }
            for (((tenant_id, campaign_id), start), steps) in &buckets {
                let mut e = Expr::new();
                e.set("entity", s("timeline")).set("start", n(*start));
                for (attribute, value) in steps.attributes() {
                    e.add(attribute, n(value));
                }
                items.push(
                    TransactWriteItem::builder()
                        .update(self.update_in_transaction(
                            key(
                                keys::campaign_timeline(tenant_id, campaign_id),
                                keys::timeline_bucket(*start),
                            ),
                            e,
                        )?)
                        .build(),
                );
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let cancelled = match result {
                Ok(_) => return Ok(RunApplied::Now { at_ms }),
                Err(e) => match e.into_service_error() {
                    TransactWriteItemsError::TransactionCanceledException(c) => c,
                    other => return Err(StoreError::Dynamo(Box::new(other.into()))),
                },
            };
            let failed: Vec<usize> = cancelled
                .cancellation_reasons()
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if failed.first() == Some(&0) {
                return self.ledger(ledger).await;
            }
            if failed.is_empty() {
                // Throttled or in conflict with another writer: transient, the batch is retried.
                return Err(StoreError::Dynamo(Box::new(
                    aws_sdk_dynamodb::Error::TransactionCanceledException(cancelled),
                )));
            }
            for i in failed.iter().rev() {
                let (missing, _) = campaigns.remove(i - 1);
                buckets.retain(|((campaign, _), _)| campaign != missing);
                let (tenant_id, campaign_id) = missing;
                error!(
                    metric = "counters_campaign_missing",
                    tenant_id,
                    campaign_id,
                    "counter deltas of a campaign that does not exist dropped"
                );
            }
        }
    }

    fn ledger_put(
        &self,
        ledger: &RunLedger,
        last_sequence: &str,
        at_ms: u64,
        campaigns: usize,
    ) -> Result<Put, StoreError> {
        let mut item = ledger.item.clone();
        item.insert("last_sequence".into(), s(last_sequence));
        item.insert("at_ms".into(), n(at_ms));
        item.insert("campaigns".into(), n(campaigns));
        item.insert("expires_at".into(), n(now() + LEDGER_TTL_SECONDS));
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|_| StoreError::Refused("ledger item could not be built"))
    }

    /// The ledger entry of a run already applied (strongly consistent).
    async fn ledger(&self, ledger: &RunLedger) -> Result<RunApplied, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(ledger.key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        let item = out.item.ok_or(StoreError::Refused(
            "ledger entry vanished while being read",
        ))?;
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        };
        let number = |name: &str| match item.get(name) {
            Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
            _ => None,
        };
        match (text("last_sequence"), number("at_ms")) {
            (Some(last_sequence), Some(at_ms)) => Ok(RunApplied::Earlier {
                last_sequence,
                at_ms,
            }),
            _ => Err(StoreError::Refused("ledger entry does not have its fields")),
        }
    }

    /// Writes a feed item under a sort key chosen by the caller: writing it again with the same
    /// key and content changes nothing, so a retried run repeats no realtime message.
    pub async fn put_feed_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}
