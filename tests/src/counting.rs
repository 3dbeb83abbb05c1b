//! The counters fold for tests: reads a test table's stream over the real DynamoDB Streams API
//! and folds each page with `shared::counters`, as the deployed stream mapping does, so tests
//! see the counters the deployed system keeps.

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use shared::counters::{change_of_record, CounterFold, FoldOutcome};
use shared::domain::counters::StreamChange;
use shared::store::Store;
use tokio::sync::Mutex;

/// Follows one test table's stream from its beginning.
pub struct StreamCounter {
    streams: aws_sdk_dynamodbstreams::Client,
    fold: CounterFold,
    iterator: Mutex<Option<String>>,
    /// Records per page (a Lambda batch): up to 1000, as the deployed mapping.
    page: i32,
}

impl StreamCounter {
    /// Follows `table`'s stream; `store` is what the fold writes with (it may go through a
    /// fault proxy: a failed page is then folded again, like Lambda's retry of a batch).
    pub async fn new(aws: &aws_config::SdkConfig, table: &str, store: Store) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(aws);
        let streams = aws_sdk_dynamodbstreams::Client::new(aws);
        let arn = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .expect("describe the test table")
            .table
            .and_then(|t| t.latest_stream_arn)
            .expect("the test table has a stream");
        let shard = streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .expect("describe the stream")
            .stream_description
            .and_then(|d| d.shards)
            .and_then(|s| s.into_iter().next())
            .and_then(|s| s.shard_id)
            .expect("the stream has a shard");
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("a shard iterator")
            .shard_iterator;
        Self {
            streams,
            fold: CounterFold::new(store),
            iterator: Mutex::new(iterator),
            page: 1000,
        }
    }

    /// Reads pages of at most `records` (small pages make many runs: more writes to fault).
    pub fn with_page(mut self, records: i32) -> Self {
        self.page = records;
        self
    }

    /// The fold this counter applies pages with.
    pub fn fold(&self) -> &CounterFold {
        &self.fold
    }

    /// Reads the changes written since the last read, as pages of the stream (Lambda's
    /// batches), without folding them.
    pub async fn read(&self) -> Vec<Vec<StreamChange>> {
        let mut pages = Vec::new();
        let mut iterator = self.iterator.lock().await;
        while let Some(current) = iterator.clone() {
            let page = self
                .streams
                .get_records()
                .shard_iterator(&current)
                .limit(self.page)
                .send()
                .await
                .expect("read the stream");
            let records = page.records.unwrap_or_default();
            if records.is_empty() {
                break;
            }
            pages.push(
                records
                    .into_iter()
                    .filter_map(|r| {
                        let event_name = r.event_name.as_ref().map(|n| n.as_str().to_owned())?;
                        let record = r.dynamodb?;
                        let image = |i: Option<std::collections::HashMap<_, _>>| {
                            serde_dynamo::Item::from(i.unwrap_or_default())
                        };
                        change_of_record(
                            r.event_id.as_deref().unwrap_or_default(),
                            &event_name,
                            record.sequence_number.as_deref().unwrap_or_default(),
                            record
                                .approximate_creation_date_time
                                .and_then(|t| u64::try_from(t.to_millis().ok()?).ok())
                                .unwrap_or(0),
                            &image(record.old_image),
                            &image(record.new_image),
                        )
                        .expect("a message image")
                    })
                    .collect(),
            );
            *iterator = page.next_shard_iterator;
        }
        pages
    }

    /// Folds every change written so far; the outcomes of all pages, summed. A page whose fold
    /// fails is folded again (up to 50 times), as Lambda retries a batch.
    pub async fn catch_up(&self) -> FoldTotals {
        let mut total = FoldTotals::default();
        for changes in self.read().await {
            total.pages += 1;
            let outcome = loop {
                match self.fold.apply(&changes).await {
                    Ok(outcome) => break outcome,
                    Err(_) if total.failed_attempts < 50 => {
                        total.failed_attempts += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    Err(e) => panic!("the fold kept failing: {e}"),
                }
            };
            total.outcome(&outcome);
        }
        total
    }
}

/// What folding pages did, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldTotals {
    pub pages: usize,
    /// Attempts that failed and were folded again.
    pub failed_attempts: usize,
    pub changes: usize,
    pub runs_applied: usize,
    pub runs_found_applied: usize,
    pub campaign_updates: usize,
    pub feed_items: usize,
}

impl FoldTotals {
    fn outcome(&mut self, o: &FoldOutcome) {
        self.changes += o.changes;
        self.runs_applied += o.runs_applied;
        self.runs_found_applied += o.runs_found_applied;
        self.campaign_updates += o.campaign_updates;
        self.feed_items += o.feed_items;
    }

    pub fn add(&mut self, o: &FoldTotals) {
        self.pages += o.pages;
        self.failed_attempts += o.failed_attempts;
        self.changes += o.changes;
        self.runs_applied += o.runs_applied;
        self.runs_found_applied += o.runs_found_applied;
        self.campaign_updates += o.campaign_updates;
        self.feed_items += o.feed_items;
    }
}
