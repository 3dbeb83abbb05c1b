//! The notifier function: the table's stream in (the mapping's filter passes only new alert
//! items), each alert out to the tenant's channels (`shared::notify`). A record whose
//! notification failed is reported, with every record after it, so the stream retries from
//! there; channels already delivered are skipped on the retry.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use shared::config::NotifierConfig;
use shared::notify::Notifier;
use shared::secrets::TenantSecrets;
use shared::store::{AlertRecord, Store};
use tracing::{info, warn};

/// Builds the notifier (once per container).
pub fn build(
    config: &NotifierConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    secretsmanager: aws_sdk_secretsmanager::Client,
) -> Notifier {
    Notifier::new(
        Store::new(dynamodb, &config.table_name),
        sns,
        &config.topic_arn,
        TenantSecrets::new(secretsmanager, &config.tenant_secrets_prefix),
        config.slack.clone(),
    )
}

/// The new alert a stream record carries, with its tenant; `None` for any other record.
pub fn decode(record: &EventRecord) -> Option<(String, AlertRecord)> {
    if record.event_name != "INSERT" {
        return None;
    }
    let image = &record.change.new_image;
    let text = |k: &str| match image.get(k)? {
        serde_dynamo::AttributeValue::S(s) => Some(s.clone()),
        _ => None,
    };
    if text("entity")?.as_str() != "alert" {
        return None;
    }
    let tenant_id = text("tenant_id")?;
    let alert: AlertRecord = serde_dynamo::from_item(image.clone()).ok()?;
    Some((tenant_id, alert))
}

/// Handles one stream batch.
pub async fn handle(
    notifier: &Notifier,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    let mut response = DynamoDbEventResponse::default();
    let mut alerts = 0;
    for record in &event.payload.records {
        let Some((tenant_id, alert)) = decode(record) else {
            continue;
        };
        alerts += 1;
        if let Err(e) = notifier.notify(&tenant_id, &alert).await {
            // Stream batches retry from the first failed record on.
            warn!(tenant_id, alert_id = %alert.alert_id, error = %e, "notification failed; retrying from this record");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    info!(
        records = event.payload.records.len(),
        alerts,
        failed = response.batch_item_failures.len(),
        "notification batch"
    );
    Ok(response)
}
