//! Lambda entry point: read config, build the clients once, sync on each scheduled event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::config::SyncConfig;
use shared::graph::GraphClient;
use shared::secrets::TenantSecrets;
use shared::store::Store;
use shared::sync::TemplateSync;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = SyncConfig::from_env()?;
    let aws = shared::aws::sdk_config().await;
    let sync = TemplateSync::new(
        Store::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_name),
        GraphClient::new(config.graph.clone())?,
        TenantSecrets::new(
            aws_sdk_secretsmanager::Client::new(&aws),
            &config.tenant_secrets_prefix,
        ),
    );
    let sync = &sync;
    run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move { template_sync::handle(sync).await },
    ))
    .await
}
