//! Lambda entry point: read config, build the clients once, serve stream batches.

use lambda_runtime::{run, service_fn, Error};
use shared::config::RealtimeConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = RealtimeConfig::from_env()?;
    let aws = shared::aws::sdk_config().await;
    // The @connections API lives on the WebSocket API's own URL, not a regional endpoint.
    let management = aws_sdk_apigatewaymanagement::Client::from_conf(
        aws_sdk_apigatewaymanagement::config::Builder::from(&aws)
            .endpoint_url(&config.management_url)
            .build(),
    );
    let pusher = realtime::build(&config, aws_sdk_dynamodb::Client::new(&aws), management);
    let pusher = &pusher;
    run(service_fn(move |event| realtime::handle(pusher, event))).await
}
