//! The realtime function: a batch of the table's stream in, live messages out to the WebSocket
//! connections of each change's tenant (`shared::realtime`: what to send; `push`: sending it).
//! Records of a tenant whose connections could not be read are reported as failures, from the
//! first of them, so Lambda retries from there.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use shared::config::RealtimeConfig;
use shared::realtime::push::Pusher;
use shared::realtime::{feed_tenant, plan, Change, FeedImage};
use shared::store::CampaignRecord;
use shared::store::Store;
use tracing::{info, warn};

/// Builds the pusher (once per container).
pub fn build(
    config: &RealtimeConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    management: aws_sdk_apigatewaymanagement::Client,
) -> Pusher {
    Pusher::new(
        management,
        Store::new(dynamodb, &config.table_name),
        config.concurrency,
    )
}

fn entity(image: &serde_dynamo::Item) -> Option<&str> {
    match image.get("entity")? {
        serde_dynamo::AttributeValue::S(s) => Some(s.as_str()),
        _ => None,
    }
}

/// What a stream record means to realtime clients, with its tenant; `None` for the rest.
pub fn decode(record: &EventRecord) -> Option<(String, Change)> {
    let new = &record.change.new_image;
    match (record.event_name.as_str(), entity(new)?) {
        ("INSERT", "feed") => {
            let feed: FeedImage = serde_dynamo::from_item(new.clone()).ok()?;
            let tenant_id = feed_tenant(&feed.pk)?.to_owned();
            Some((tenant_id.clone(), Change::Feed { tenant_id, feed }))
        }
        ("INSERT" | "MODIFY", "campaign") => {
            let after: Box<CampaignRecord> = Box::new(serde_dynamo::from_item(new.clone()).ok()?);
            let before = serde_dynamo::from_item(record.change.old_image.clone())
                .ok()
                .map(Box::new);
            Some((after.tenant_id.clone(), Change::Campaign { before, after }))
        }
        _ => None,
    }
}

/// Handles one stream batch.
pub async fn handle(
    pusher: &Pusher,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    let records = event.payload.records;
    let decoded: Vec<(usize, String, Change)> = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| decode(r).map(|(tenant, change)| (i, tenant, change)))
        .collect();
    let changes: Vec<Change> = decoded.iter().map(|(_, _, c)| c.clone()).collect();
    let plan = plan(&changes);
    let outcome = pusher.push(&plan).await;
    outcome.metrics().emit();
    info!(
        records = records.len(),
        changes = changes.len(),
        tenants = plan.len(),
        messages = plan.values().map(Vec::len).sum::<usize>(),
        "stream batch"
    );
    let mut response = DynamoDbEventResponse::default();
    // Stream batches are retried from the first failed record on: report the earliest.
    let first_failed = decoded
        .iter()
        .find(|(_, tenant, _)| outcome.failed_tenants.contains(tenant))
        .and_then(|(i, _, _)| records[*i].change.sequence_number.clone());
    if let Some(sequence) = first_failed {
        warn!(
            sequence,
            "retrying the batch from a tenant whose connections could not be read"
        );
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}
