//! The counters feature: the table's stream of message changes, folded into campaign counters
//! and `message_statuses` feed items, each change counted exactly once.
//!
//! The processor writes a status as one plain conditional update of the message item (1 write
//! unit). The stream carries each change with its old and new image; this fold turns a batch
//! of them into runs of at most [`MAX_WRITES_PER_RUN`] writes, and writes each run as one
//! transaction: a ledger entry keyed by the run's first record, plus one `ADD` per campaign and
//! one per timeline bucket it moves (`domain::timeline`).
//! Lambda retries a failed stream batch from its first record, so a retried run starts with the
//! same record, finds its ledger entry, and skips what it covers.
//!
//! The ledger entry is the run's first feed item: its id is derived from the first record (its
//! id and creation time), and it holds as many moves as keep it under 1 KB, so the transaction
//! pays for it what a ledger entry of its own would cost and the run writes one item fewer.
//! A record without a creation time gets a ledger entry of its own. The other feed items get
//! ids derived from the run, so writing them again repeats nothing. Why this design:
//! shared/docs/processing.md.

use crate::breaker::{BreakerOutcome, CircuitBreaker};
use crate::domain::counters::{
    first_run, fold, group_moves, sequence_key, Fold, MessageImage, StreamChange, Transition,
};
use crate::domain::errors::explain;
use crate::store::{stable_id, FeedEntry, Item, RunApplied, RunLedger, Store, StoreError};
use sha2::{Digest, Sha256};

/// A transaction holds 100 items: the ledger entry and 99 campaign counters and timeline buckets.
pub const MAX_WRITES_PER_RUN: usize = 99;
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

/// A `(tenant, campaign)` group of a run's moves.
type Group = (String, Option<String>);

/// One feed item of a run, before its id is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FeedPiece {
    tenant_id: String,
    campaign_id: Option<String>,
    /// The piece's number within its group.
    chunk: usize,
    summary: String,
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
            let run = &rest[first_run(rest, MAX_WRITES_PER_RUN)];
            let folded = fold(run);
            if folded.is_empty() {
                rest = &rest[run.len()..];
                continue;
            }
            let ledger_group = ledger_group(first);
            let ledger_of_run = ledger_group.as_ref().map(|g| (first, g));
            let pieces = feed_pieces(&folded, ledger_of_run);
            let (ledger, others) = match &ledger_group {
                Some(_) => (
                    RunLedger::feed_item(ledger_feed_item(first, &pieces[0])),
                    &pieces[1..],
                ),
                None => (RunLedger::entry(&first.event_id), &pieces[..]),
            };
            let last = &run[run.len() - 1].sequence;
            let applied = self
                .store
                .apply_counter_run(&ledger, last, now_ms(), &folded.deltas, &folded.timeline)
                .await?;
            let covered = match applied {
                RunApplied::Now { at_ms } => {
                    outcome.runs_applied += 1;
                    outcome.campaign_updates += folded.deltas.len();
                    outcome.feed_items += pieces.len() - others.len();
                    outcome.feed_items += self.write_feed(first, at_ms, others).await?;
                    self.check_breaker(&folded, at_ms, &mut outcome).await?;
                    run.len()
                }
                RunApplied::Earlier {
                    last_sequence,
                    at_ms,
                } => {
                    // The earlier attempt's run ended at `last_sequence`; this batch may reach
                    // further. Its feed items (but the ledger) are written again, identically.
                    let covered = rest
                        .iter()
                        .take_while(|c| c.sequence <= last_sequence)
                        .count()
                        .max(1);
                    outcome.runs_found_applied += 1;
                    let earlier = fold(&rest[..covered]);
                    let pieces = feed_pieces(&earlier, ledger_of_run);
                    let skip = usize::from(ledger_group.is_some()).min(pieces.len());
                    outcome.feed_items += self.write_feed(first, at_ms, &pieces[skip..]).await?;
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

    /// Writes a run's feed items (but the ledger), with ids derived from the run and its time
    /// ([`feed_time_ms`]).
    async fn write_feed(
        &self,
        first: &StreamChange,
        applied_ms: u64,
        pieces: &[FeedPiece],
    ) -> Result<usize, StoreError> {
        let at_ms = feed_time_ms(first, applied_ms);
        for piece in pieces {
            let seed = stable_id(&[
                &first.event_id,
                &piece.tenant_id,
                piece.campaign_id.as_deref().unwrap_or(""),
                &piece.chunk.to_string(),
            ]);
            self.store
                .put_feed_item(piece_entry(piece).item_with_id(
                    &piece.tenant_id,
                    feed_id(at_ms, &seed),
                    at_ms / 1000,
                ))
                .await?;
        }
        Ok(pieces.len())
    }
}

/// The feed item that is the run's ledger: its id follows from the first record alone.
fn ledger_feed_item(first: &StreamChange, piece: &FeedPiece) -> Item {
    let at_ms = feed_time_ms(first, 0);
    let id = feed_id(at_ms, &stable_id(&[&first.event_id]));
    piece_entry(piece).item_with_id(&piece.tenant_id, id, at_ms / 1000)
}

/// The time in a run's feed ids: the time its first record was made (whole seconds from a
/// stream; readers of the feed let ids settle a few seconds before they send them, so an item
/// named a little before it is written is not passed over), else the time the run was applied.
fn feed_time_ms(first: &StreamChange, applied_ms: u64) -> u64 {
    if first.created_ms > 0 {
        first.created_ms
    } else {
        applied_ms
    }
}

/// The group whose first feed item is the run's ledger: the first record's, when that record
/// moves a delivery (so the item reports something) and says when it was made (so the item's
/// id follows from the record alone). Otherwise the run has a ledger entry of its own.
fn ledger_group(first: &StreamChange) -> Option<Group> {
    if first.created_ms == 0 || !first.moves_delivery() {
        return None;
    }
    first
        .after
        .as_ref()
        .map(|i| (i.tenant_id.clone(), i.campaign_id.clone()))
}

fn piece_entry(piece: &FeedPiece) -> FeedEntry {
    FeedEntry {
        kind: "message_statuses",
        summary: piece.summary.clone(),
    }
}

/// A run's feed items: one per group and per [`UPDATES_PER_FEED_ITEM`] updates. With a ledger
/// (`first`, the run's first record, whose group is `ledger_group`), the first piece is the
/// ledger's: the first group of that tenant that fits in it whole (the first record's first),
/// else as much of the first record's group as fits, the rest following in pieces of its own.
/// The choice depends only on the records the run covers, so a retry makes the same pieces.
fn feed_pieces(folded: &Fold, ledger: Option<(&StreamChange, &Group)>) -> Vec<FeedPiece> {
    let piece = |group: &Group, chunk: usize, updates: &[Transition]| FeedPiece {
        tenant_id: group.0.clone(),
        campaign_id: group.1.clone(),
        chunk,
        summary: summary(group.1.as_deref(), updates),
    };
    let updates_of = |group: &Group| folded.transitions.get(group).map_or(&[][..], Vec::as_slice);
    let mut pieces = Vec::new();
    let mut in_ledger = None;
    if let Some((first, first_group)) = ledger {
        let fits = |p: &FeedPiece| RunLedger::fits_one_kilobyte(&ledger_feed_item(first, p));
        let same_tenant = folded
            .transitions
            .keys()
            .filter(|g| g.0 == first_group.0 && *g != first_group);
        let whole = std::iter::once(first_group)
            .chain(same_tenant)
            .map(|g| (g, piece(g, 0, updates_of(g))))
            .find(|(g, p)| updates_of(g).len() <= UPDATES_PER_FEED_ITEM && fits(p));
        match whole {
            Some((group, p)) => {
                pieces.push(p);
                in_ledger = Some(group);
            }
            None => {
                let updates = updates_of(first_group);
                let cut = (1..=updates.len().min(UPDATES_PER_FEED_ITEM))
                    .take_while(|&k| fits(&piece(first_group, 0, &updates[..k])))
                    .last()
                    .unwrap_or(0);
                pieces.push(piece(first_group, 0, &updates[..cut]));
                for (i, chunk) in updates[cut..].chunks(UPDATES_PER_FEED_ITEM).enumerate() {
                    pieces.push(piece(first_group, i + 1, chunk));
                }
                in_ledger = Some(first_group);
            }
        }
    }
    for (group, transitions) in &folded.transitions {
        if Some(group) == in_ledger {
            continue;
        }
        for (i, chunk) in transitions.chunks(UPDATES_PER_FEED_ITEM).enumerate() {
            pieces.push(piece(group, i, chunk));
        }
    }
    pieces
}

/// A `message_statuses` summary: `{"campaign_id", "moves": [{"from","to","wamids","error"?}]}`.
fn summary(campaign_id: Option<&str>, updates: &[Transition]) -> String {
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
    serde_json::json!({ "campaign_id": campaign_id, "moves": moves }).to_string()
}

/// A stream record as a change to count: `None` for records of other items, and for removals
/// (the application never deletes a message, and counts outlive it); `Err` when a message image
/// does not have a message's shape. `created_ms` is the record's `ApproximateCreationDateTime`
/// (0 when absent).
pub fn change_of_record(
    event_id: &str,
    event_name: &str,
    sequence_number: &str,
    created_ms: u64,
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
        created_ms,
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
    use crate::domain::status::Delivery;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn change(seq: u64, tenant: &str, campaign: &str, wamid: &str, to: &str) -> StreamChange {
        let image = |delivery: Option<&str>| MessageImage {
            tenant_id: tenant.into(),
            wamid: wamid.into(),
            campaign_id: Some(campaign.into()),
            delivery: delivery.map(str::to_owned),
            ..MessageImage::default()
        };
        StreamChange {
            event_id: format!("event-{seq}"),
            sequence: sequence_key(&seq.to_string()),
            created_ms: 1_796_000_000_000,
            before: Some(image(None)),
            after: Some(image(Some(to))),
        }
    }

    /// An item's size by DynamoDB's rule for strings (names and values in UTF-8 bytes) and
    /// numbers (about one byte per two digits, plus one), as the capacity model counts it.
    fn item_bytes(item: &Item) -> usize {
        item.iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        AttributeValue::S(v) => v.len(),
                        AttributeValue::N(v) => v.len().div_ceil(2) + 1,
                        _ => 0,
                    }
            })
            .sum()
    }

    fn wamid(i: usize) -> String {
        format!("wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI{i:025}")
    }

    #[test]
    fn the_ledger_feed_item_stays_under_a_kilobyte_and_every_move_is_written_once() {
        let tenant = "t".repeat(64);
        let run: Vec<_> = (0..100)
            .map(|i| {
                change(
                    i as u64,
                    &tenant,
                    if i % 3 == 0 { "c2" } else { "c1" },
                    &wamid(i),
                    "sent",
                )
            })
            .collect();
        assert_eq!(wamid(0).len(), 58);
        let folded = fold(&run);
        let group = ledger_group(&run[0]).unwrap();
        let pieces = feed_pieces(&folded, Some((&run[0], &group)));

        // No group fits whole: the first piece is the first record's group, cut to fit.
        assert_eq!(pieces[0].campaign_id.as_deref(), Some("c2"));
        let mut ledger = ledger_feed_item(&run[0], &pieces[0]);
        assert!(RunLedger::fits_one_kilobyte(&ledger));
        assert!(pieces[0].summary.len() > 500, "the piece is filled");
        // The fields the store adds to a ledger entry, at their largest.
        ledger.insert(
            "last_sequence".into(),
            AttributeValue::S(sequence_key(&"9".repeat(40))),
        );
        ledger.insert("at_ms".into(), AttributeValue::N(u64::MAX.to_string()));
        ledger.insert("campaigns".into(), AttributeValue::N("99".into()));
        ledger.insert("expires_at".into(), AttributeValue::N(u64::MAX.to_string()));
        assert!(item_bytes(&ledger) <= 1024, "{} bytes", item_bytes(&ledger));

        // Every wamid once, across the pieces.
        let mut written: Vec<String> = pieces
            .iter()
            .flat_map(|p| {
                let summary: serde_json::Value = serde_json::from_str(&p.summary).unwrap();
                summary["moves"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|m| m["wamids"].as_array().unwrap().clone())
                    .map(|w| w.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        written.sort();
        let mut expected: Vec<String> = (0..100).map(wamid).collect();
        expected.sort();
        assert_eq!(written, expected);
        // The rest of the first group follows in a piece of its own, numbered after the first.
        assert_eq!(
            pieces
                .iter()
                .map(|p| (p.campaign_id.as_deref(), p.chunk))
                .collect::<Vec<_>>(),
            [(Some("c2"), 0), (Some("c2"), 1), (Some("c1"), 0)]
        );
    }

    #[test]
    fn a_run_whose_first_record_moves_nothing_or_has_no_time_has_a_ledger_entry_of_its_own() {
        let mut still = change(1, "acme", "c1", &wamid(1), "sent");
        still.before = still.after.clone();
        assert_eq!(ledger_group(&still), None);
        let mut untimed = change(1, "acme", "c1", &wamid(1), "sent");
        untimed.created_ms = 0;
        assert_eq!(ledger_group(&untimed), None);

        let run = [still, change(2, "acme", "c2", &wamid(2), "delivered")];
        let pieces = feed_pieces(&fold(&run), None);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].campaign_id.as_deref(), Some("c2"));
        assert!(pieces[0].summary.contains(Delivery::Delivered.as_str()));
    }

    #[test]
    fn a_group_of_the_same_tenant_that_fits_whole_is_the_ledgers() {
        // The first record's campaign moves 30 messages (too many for 1 KB), another campaign
        // of the tenant 2, a third tenant's 1.
        let mut run = vec![change(0, "acme", "big", &wamid(0), "sent")];
        run.extend((1..30).map(|i| change(i, "acme", "big", &wamid(i as usize), "sent")));
        run.push(change(30, "acme", "small", &wamid(30), "sent"));
        run.push(change(31, "acme", "small", &wamid(31), "read"));
        run.push(change(32, "globex", "other", &wamid(32), "sent"));
        let group = ledger_group(&run[0]).unwrap();
        let pieces = feed_pieces(&fold(&run), Some((&run[0], &group)));
        assert_eq!(
            pieces
                .iter()
                .map(|p| (p.tenant_id.as_str(), p.campaign_id.as_deref(), p.chunk))
                .collect::<Vec<_>>(),
            [
                ("acme", Some("small"), 0),
                ("acme", Some("big"), 0),
                ("globex", Some("other"), 0)
            ]
        );
        assert!(RunLedger::fits_one_kilobyte(&ledger_feed_item(
            &run[0], &pieces[0]
        )));
        // Whole-group pieces as without a ledger, but for which one comes first.
        let plain = feed_pieces(&fold(&run), None);
        assert_eq!(plain.len(), 3);
    }

    #[test]
    fn the_ledger_key_follows_from_the_first_record_alone() {
        let first = change(1, "acme", "c1", &wamid(1), "sent");
        let short = [first.clone()];
        let long = [first.clone(), change(2, "acme", "c0", &wamid(2), "sent")];
        let key = |run: &[StreamChange]| {
            let group = ledger_group(&run[0]).unwrap();
            let pieces = feed_pieces(&fold(run), Some((&run[0], &group)));
            let item = ledger_feed_item(&run[0], &pieces[0]);
            (item["pk"].clone(), item["sk"].clone())
        };
        // A retried batch that reaches further (and holds a campaign that sorts first) finds
        // the same ledger entry.
        assert_eq!(key(&short), key(&long));
    }

    #[test]
    fn feed_ids_are_time_ordered_and_repeatable() {
        let a = feed_id(1_700_000_000_000, "run-1");
        assert_eq!(a, feed_id(1_700_000_000_000, "run-1"));
        assert_ne!(a, feed_id(1_700_000_000_000, "run-2"));
        assert!(a < feed_id(1_700_000_000_001, "run-0"));
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 7);
    }
}
