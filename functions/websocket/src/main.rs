//! Lambda entry point: read config, build the client and key cache once, serve route events.

use lambda_runtime::{run, service_fn, Error};
use shared::config::TokenConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let tokens = TokenConfig::from_env()?;
    let table = shared::config::required("TABLE_NAME")?;
    let aws = shared::aws::sdk_config().await;
    let management_url = shared::config::required("WEBSOCKET_MANAGEMENT_URL")?;
    let replies = aws_sdk_apigatewaymanagement::Client::from_conf(
        aws_sdk_apigatewaymanagement::config::Builder::from(&aws)
            .endpoint_url(management_url)
            .build(),
    );
    let routes = websocket::Routes::build(
        &tokens,
        aws_sdk_dynamodb::Client::new(&aws),
        &table,
        Some(replies),
    )
    .await;
    let routes = &routes;
    run(service_fn(move |event| websocket::handle(routes, event))).await
}
