//! The processor function: an SQS batch in, the ids of the records to retry out
//! (ReportBatchItemFailures). The work happens in `shared::process`.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use shared::config::ProcessorConfig;
use shared::process::{Processor, QueuedRecord};
use shared::queue::Queue;
use shared::store::Store;
use tracing::error;

/// Builds the processor from its configuration and clients (once per container).
pub fn build(
    config: &ProcessorConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
) -> Processor {
    Processor::new(
        Store::new(dynamodb, &config.table_name),
        Queue::new(sqs, &config.dead_letter_queue_url, config.max_message_bytes),
        config.concurrency,
    )
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
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let mut anonymous = Vec::new();
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
            QueuedRecord {
                message_id,
                body: r.body.unwrap_or_default(),
            }
        })
        .collect();
    let outcome = processor.process(&records).await;
    outcome.metrics(shared::store::now()).emit();
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
