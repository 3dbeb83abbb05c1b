//! Lambda entry point: read config, build the client and key cache once, stream responses.
// The streaming service stack nests deeply enough to pass the default type-layout limit.
#![recursion_limit = "256"]

use lambda_http::{run_with_streaming_response, service_fn, Error};
use shared::config::TokenConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let tokens = TokenConfig::from_env()?;
    let settings = sse::Settings::from_env()?;
    let aws = shared::aws::sdk_config().await;
    let app = sse::App::build(&tokens, settings, aws_sdk_dynamodb::Client::new(&aws)).await;
    let app: &'static sse::App = Box::leak(Box::new(app));
    run_with_streaming_response(service_fn(move |request| sse::handle(app, request))).await
}
