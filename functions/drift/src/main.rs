//! Lambda entry point: read config, build the store once, check on each scheduled event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::recount::Recount;
use shared::store::Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let table = shared::config::required("TABLE_NAME")?;
    let lookback_days = std::env::var("DRIFT_LOOKBACK_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let aws = shared::aws::sdk_config().await;
    let recount = Recount::new(Store::new(aws_sdk_dynamodb::Client::new(&aws), &table));
    let recount = &recount;
    run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            drift::handle(recount, lookback_days).await
        },
    ))
    .await
}
