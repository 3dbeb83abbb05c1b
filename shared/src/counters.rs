//! The counters feature: the table's stream of message changes, folded into campaign counters
//! and `report_update` feed items, each change counted exactly once.
//!
//! The processor writes a status as one plain conditional update of the message item (1 write
//! unit). The stream carries each change with its old and new image; this fold turns a batch
//! of them into runs of at most [`MAX_CAMPAIGNS_PER_RUN`] campaigns, and writes each run as one
//! transaction: a ledger entry keyed by the run's first record, plus one `ADD` per campaign.
//! Lambda retries a failed stream batch from its first record, so a retried run starts with the
//! same record, finds its ledger entry, and skips what it covers. Feed items get ids derived
//! from the run, so writing them again repeats nothing. Why this design: shared/docs/processing.md.

use crate::breaker::{BreakerOutcome, CircuitBreaker};
use crate::domain::counters::{
    first_run, fold, group_moves, sequence_key, Fold, MessageImage, StreamChange,
};
use crate::domain::errors::explain;
use crate::store::{stable_id, FeedEntry, RunApplied, Store, StoreError};
use sha2::{Digest, Sha256};

/// A transaction holds 100 items: the ledger entry and 99 campaigns.
pub const MAX_CAMPAIGNS_PER_RUN: usize = 99;
/// Message updates per feed item (a wamid each, about 60 bytes: feed items stay near 12 KB).
pub const UPDATES_PER_FEED_ITEM: usize = 200;

/// What folding a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldOutcome {
    pub changes: usize,
    /// Runs written now.
    pub runs_applied: usize,
    /// Runs a previous attempt had written (a retried batch).
    pub runs_found_applied: usize,
    /// Campaign counter updates written.
    pub campaign_updates: usize,
    pub feed_items: usize,
    /// Campaigns the circuit breaker read (their failures moved) and held.
    pub breaker: BreakerOutcome,
}

/// Folds stream batches into the table, with its store built once per container.
#[derive(Debug, Clone)]
pub struct CounterFold {
    store: Store,
}

impl CounterFold {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Folds one stream batch (one shard's records, in order). An error leaves the rest for
    /// Lambda's retry of the whole batch, which finds what was applied in the ledger.
    pub async fn apply(&self, changes: &[StreamChange]) -> Result<FoldOutcome, StoreError> {
        let mut outcome = FoldOutcome {
            changes: changes.len(),
            ..FoldOutcome::default()
        };
        let mut rest = changes;
        while let Some(first) = rest.first() {
            let run = &rest[first_run(rest, MAX_CAMPAIGNS_PER_RUN)];
            let folded = fold(run);
            if folded.is_empty() {
                rest = &rest[run.len()..];
                continue;
            }
            let last = &run[run.len() - 1].sequence;
            let applied = self
                .store
                .apply_counter_run(&first.event_id, last, now_ms(), &folded.deltas)
                .await?;
            let covered = match applied {
                RunApplied::Now { at_ms } => {
                    outcome.runs_applied += 1;
                    outcome.campaign_updates += folded.deltas.len();
                    outcome.feed_items += self.feed(&first.event_id, at_ms, &folded).await?;
                    self.check_breaker(&folded, at_ms, &mut outcome).await?;
                    run.len()
                }
                RunApplied::Earlier {
                    last_sequence,
                    at_ms,
                } => {
                    // The earlier attempt's run ended at `last_sequence`; this batch may reach
                    // further. Its feed items are written again, identically.
                    let covered = rest
                        .iter()
                        .take_while(|c| c.sequence <= last_sequence)
                        .count()
                        .max(1);
                    outcome.runs_found_applied += 1;
                    let earlier = fold(&rest[..covered]);
                    outcome.feed_items += self.feed(&first.event_id, at_ms, &earlier).await?;
                    // The attempt that applied it may have stopped before its check.
                    self.check_breaker(&earlier, at_ms, &mut outcome).await?;
                    covered
                }
            };
            rest = &rest[covered..];
        }
        Ok(outcome)
    }

    /// The circuit breaker over what a run moved (after its counters are written, so it reads
    /// them).
    async fn check_breaker(
        &self,
        folded: &Fold,
        at_ms: u64,
        outcome: &mut FoldOutcome,
    ) -> Result<(), StoreError> {
        let checked = CircuitBreaker::new(&self.store)
            .check(&folded.deltas, at_ms / 1000)
            .await?;
        outcome.breaker.checked += checked.checked;
        outcome.breaker.held += checked.held;
        Ok(())
    }

    /// One feed item per tenant and campaign (and per 200 updates), with ids derived from the
    /// run and its time: the same run always writes the same items.
    async fn feed(&self, run_id: &str, at_ms: u64, folded: &Fold) -> Result<usize, StoreError> {
        let mut written = 0;
        for ((tenant_id, campaign_id), transitions) in &folded.transitions {
            for (chunk, updates) in transitions.chunks(UPDATES_PER_FEED_ITEM).enumerate() {
                let moves: Vec<_> = group_moves(updates)
                    .into_iter()
                    .map(|m| {
                        let mut group = serde_json::json!({
                            "from": m.from.as_str(),
                            "to": m.to.as_str(),
                            "wamids": m.wamids,
                        });
                        // Failures carry the catalogue's words, not a bare number.
                        if let Some(code) = m.error_code {
                            let e = explain(code);
                            group["error"] = serde_json::json!({
                                "code": code,
                                "title": e.title,
                                "class": e.class.as_str(),
                            });
                        }
                        group
                    })
                    .collect();
                let entry = FeedEntry {
                    kind: "message_statuses",
                    summary: serde_json::json!({ "campaign_id": campaign_id, "moves": moves })
                        .to_string(),
                };
                let seed = stable_id(&[
                    run_id,
                    tenant_id,
                    campaign_id.as_deref().unwrap_or(""),
                    &chunk.to_string(),
                ]);
                let id = feed_id(at_ms, &seed);
                self.store
                    .put_feed_item(entry.item_with_id(tenant_id, id, at_ms / 1000))
                    .await?;
                written += 1;
            }
        }
        Ok(written)
    }
}

/// A stream record as a change to count: `None` for records of other items, and for removals
/// (the application never deletes a message, and counts outlive it); `Err` when a message image
/// does not have a message's shape.
pub fn change_of_record(
    event_id: &str,
    event_name: &str,
    sequence_number: &str,
    old_image: &serde_dynamo::Item,
    new_image: &serde_dynamo::Item,
) -> Result<Option<StreamChange>, serde_dynamo::Error> {
    let is_message = matches!(
        new_image.get("entity"),
        Some(serde_dynamo::AttributeValue::S(e)) if e == "message"
    );
    if !is_message || !matches!(event_name, "INSERT" | "MODIFY") {
        return Ok(None);
    }
    let image = |item: &serde_dynamo::Item| -> Result<Option<MessageImage>, serde_dynamo::Error> {
        if item.is_empty() {
            return Ok(None);
        }
        serde_dynamo::from_item(item.clone()).map(Some)
    };
    Ok(Some(StreamChange {
        event_id: event_id.to_owned(),
        sequence: sequence_key(sequence_number),
        before: image(old_image)?,
        after: image(new_image)?,
    }))
}

/// A UUIDv7 at `at_ms` whose other bits come from `seed`: time-ordered like every feed id, and
/// the same for the same seed.
fn feed_id(at_ms: u64, seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&digest[..10]);
    uuid::Builder::from_unix_timestamp_millis(at_ms, &bytes)
        .into_uuid()
        .to_string()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_ids_are_time_ordered_and_repeatable() {
        let a = feed_id(1_700_000_000_000, "run-1");
        assert_eq!(a, feed_id(1_700_000_000_000, "run-1"));
        assert_ne!(a, feed_id(1_700_000_000_000, "run-2"));
        assert!(a < feed_id(1_700_000_000_001, "run-0"));
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 7);
    }
}
