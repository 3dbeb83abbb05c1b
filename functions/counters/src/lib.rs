//! The counters function: a batch of the table's stream in (the mapping's filter passes only
//! message items), campaign counters and `report_update` feed items out (`shared::counters`).
//!
//! A failed batch is returned as an error, never as a partial failure: Lambda then retries the
//! whole batch from its first record, which is what the ledger of runs is keyed by. Bisecting
//! is off for the same reason.

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent};
use shared::counters::{change_of_record, CounterFold};
use shared::domain::counters::StreamChange;
use tracing::{error, info};

/// The changes to count in a batch, in stream order. An unreadable message image is logged
/// and left out: no retry could read it.
pub fn changes(event: &Event) -> Vec<StreamChange> {
    event
        .records
        .iter()
        .filter_map(|record| {
            let sequence = record.change.sequence_number.as_deref().unwrap_or_default();
            match change_of_record(
                &record.event_id,
                &record.event_name,
                sequence,
                // 0 when absent: the event type reads a missing time as the epoch.
                u64::try_from(record.change.approximate_creation_date_time.timestamp_millis())
                    .unwrap_or(0),
                &record.change.old_image,
                &record.change.new_image,
            ) {
                Ok(change) => change,
                Err(e) => {
                    error!(metric = "counters_unreadable_record", event_id = %record.event_id, error = %e, "stream record skipped");
                    None
                }
            }
        })
        .collect()
}

/// Handles one stream batch.
pub async fn handle(fold: &CounterFold, event: LambdaEvent<Event>) -> Result<(), Error> {
    let changes = changes(&event.payload);
    let outcome = fold.apply(&changes).await.map_err(|e| {
        error!(error = %e, records = event.payload.records.len(), "counting failed; the batch will be retried");
        e
    })?;
    shared::metrics::Metrics::new("counters")
        .count("ChangesCounted", outcome.changes)
        .count("RunsWritten", outcome.runs_applied)
        .count("RunsFoundWritten", outcome.runs_found_applied)
        .count("CampaignUpdates", outcome.campaign_updates)
        .emit();
    info!(
        records = event.payload.records.len(),
        changes = outcome.changes,
        runs_applied = outcome.runs_applied,
        runs_found_applied = outcome.runs_found_applied,
        campaign_updates = outcome.campaign_updates,
        feed_items = outcome.feed_items,
        "stream batch counted"
    );
    Ok(())
}
