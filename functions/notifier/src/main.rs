//! Lambda entry point: read config, build the clients once, serve stream batches.

use lambda_runtime::{run, service_fn, Error};
use shared::config::NotifierConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = NotifierConfig::from_env()?;
    let aws = shared::aws::sdk_config().await;
    let notifier = notifier::build(
        &config,
        aws_sdk_dynamodb::Client::new(&aws),
        aws_sdk_sns::Client::new(&aws),
        aws_sdk_secretsmanager::Client::new(&aws),
    );
    let notifier = &notifier;
    run(service_fn(move |event| notifier::handle(notifier, event))).await
}
