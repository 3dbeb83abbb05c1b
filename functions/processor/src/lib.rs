//! The processor function: an SQS batch in, the ids of the records to retry out
//! (ReportBatchItemFailures). The work happens in `shared::process`; beside it, every body is
//! archived (`archive`), and a body not archived is retried like one not processed.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
pub mod archive;

use archive::Archive;
use shared::archive::ArchivedBody;
use shared::config::ProcessorConfig;
use shared::ingest::{ATTR_PART, ATTR_SIGNATURE};
use shared::process::{BatchOutcome, Processor, QueuedRecord};
use shared::queue::Queue;
use shared::store::Store;
use tracing::error;

/// The processor and the archive, built once per container.
pub struct Pipeline {
    pub processor: Processor,
    pub archive: Option<Archive>,
}

/// Builds the pipeline from its configuration and clients (once per container).
pub fn build(
    config: &ProcessorConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    firehose: aws_sdk_firehose::Client,
) -> Pipeline {
    Pipeline {
        processor: Processor::new(
            Store::new(dynamodb, &config.table_name),
            Queue::new(sqs, &config.dead_letter_queue_url, config.max_message_bytes),
            config.concurrency,
        ),
        archive: config
            .archive_stream
            .as_ref()
            .map(|stream| Archive::new(firehose, stream)),
    }
}

/// A record without a message id cannot be reported alone.
#[derive(Debug)]
pub struct UnreportableFailure;

impl std::fmt::Display for UnreportableFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a record without a message id failed; the whole batch is retried")
    }
}

impl std::error::Error for UnreportableFailure {}

/// Handles one batch. Failed records are reported by their real message id; a record without
/// one (never seen from SQS) that fails makes the whole invocation fail, so it is retried too.
pub async fn handle(
    processor: &Processor,
    archive: Option<&Archive>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let mut anonymous = Vec::new();
    let mut archived = Vec::new();
    let records: Vec<QueuedRecord> = event
        .payload
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let message_id = match r.message_id.filter(|id| !id.is_empty()) {
                Some(id) => id,
                None => {
                    let placeholder = format!("record-without-id-{i}");
                    anonymous.push(placeholder.clone());
                    placeholder
                }
            };
            let attribute = |name: &str| {
                r.message_attributes
                    .get(name)
                    .and_then(|a| a.string_value.clone())
            };
            let body = r.body.unwrap_or_default();
            if archive.is_some() {
                archived.push(ArchivedBody {
                    message_id: message_id.clone(),
                    received_at_ms: r
                        .attributes
                        .get("SentTimestamp")
                        .and_then(|t| t.parse().ok())
                        .unwrap_or_else(|| shared::store::now() * 1000),
                    signature: attribute(ATTR_SIGNATURE),
                    part: attribute(ATTR_PART),
                    body: body.clone(),
                });
            }
            QueuedRecord { message_id, body }
        })
        .collect();
    let outcome = process_and_archive(processor, archive, &records, &archived).await;
    if outcome.failed.iter().any(|id| anonymous.contains(id)) {
        error!("a record without a message id failed");
        return Err(Box::new(UnreportableFailure));
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = outcome
        .failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}

/// Processes a batch and archives its bodies side by side (the archive adds no wait to
/// processing), and emits the batch's metrics. A body the archive could not keep is reported
/// failed, so SQS keeps its message and both happen again: applying a body twice changes nothing.
pub async fn process_and_archive(
    processor: &Processor,
    archive: Option<&Archive>,
    records: &[QueuedRecord],
    archived: &[ArchivedBody],
) -> BatchOutcome {
    let (mut outcome, not_archived) = tokio::join!(processor.process(records), async {
        match archive {
            Some(archive) => archive.put(archived).await,
            None => Vec::new(),
        }
    });
    let mut metrics: shared::metrics::Metrics = outcome.metrics(shared::store::now());
    if archive.is_some() {
        metrics
            .count("BodiesArchived", archived.len() - not_archived.len())
            .count("ArchiveFailures", not_archived.len());
    }
    metrics.emit();
    for id in not_archived {
        if !outcome.failed.contains(&id) {
            outcome.failed.push(id);
        }
    }
    outcome
}
