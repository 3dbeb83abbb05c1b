//! Lambda entry point: read config, build the client and key cache once, serve requests.

use lambda_http::{run, service_fn, Error};
use shared::config::ApiConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = ApiConfig::from_env()?;
    let aws = shared::aws::sdk_config().await;
    let api = api::Api::build(
        &config,
        aws_sdk_dynamodb::Client::new(&aws),
        aws_sdk_secretsmanager::Client::new(&aws),
    )
    .await?;
    let api = &api;
    run(service_fn(move |request| api::handle(api, request))).await
}
