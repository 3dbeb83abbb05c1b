//! Lambda entry point: read config, build the clients once, serve SQS batches.

use lambda_runtime::{run, service_fn, Error};
use shared::config::ProcessorConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = ProcessorConfig::from_env()?;
    let aws = shared::aws::sdk_config().await;
    let pipeline = processor::build(
        &config,
        aws_sdk_dynamodb::Client::new(&aws),
        aws_sdk_sqs::Client::new(&aws),
        aws_sdk_firehose::Client::new(&aws),
    );
    let pipeline = &pipeline;
    run(service_fn(move |event| {
        processor::handle(&pipeline.processor, pipeline.archive.as_ref(), event)
    }))
    .await
}
