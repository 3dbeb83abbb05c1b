//! Lambda entry point: read config, build the SQS client once, serve requests.

use lambda_http::{run, service_fn, Error};
use shared::config::WebhookConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = WebhookConfig::from_env()?;
    let aws = shared::aws::sdk_config().await;
    let ingest = webhook::build(&config, aws_sdk_sqs::Client::new(&aws))?;
    let ingest = &ingest;
    run(service_fn(move |request| webhook::handle(ingest, request))).await
}
