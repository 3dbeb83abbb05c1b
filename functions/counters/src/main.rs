//! Lambda entry point: read config, build the client once, serve stream batches.

use lambda_runtime::{run, service_fn, Error};
use shared::config::CountersConfig;
use shared::counters::CounterFold;
use shared::store::Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = CountersConfig::from_env()?;
    let aws = shared::aws::sdk_config().await;
    let fold = CounterFold::new(Store::new(
        aws_sdk_dynamodb::Client::new(&aws),
        &config.table_name,
    ));
    let fold = &fold;
    run(service_fn(move |event| counters::handle(fold, event))).await
}
