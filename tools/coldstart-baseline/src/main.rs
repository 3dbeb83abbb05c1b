//! A bare `lambda_runtime` function that echoes its event: what a Rust Lambda costs before any of
//! our code runs. `make coldstart` builds it with the functions' profile and measures both.

use lambda_runtime::{service_fn, Error, LambdaEvent};

async fn echo(event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, Error> {
    Ok(event.payload)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
