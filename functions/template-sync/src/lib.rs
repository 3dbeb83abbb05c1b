//! The scheduled template sync: every routed WABA of every tenant, through `shared::sync`.
//! A tenant whose sync fails (an expired token, Meta unavailable) is logged with a metric and
//! does not stop the others; the invocation fails only when the routes cannot be read.

use lambda_runtime::Error;
use serde_json::{json, Value};
use shared::sync::TemplateSync;

/// Runs one scheduled sync; returns how many tenants failed.
pub async fn handle(sync: &TemplateSync) -> Result<Value, Error> {
    let failed_tenants = sync.sync_everyone().await?;
    Ok(json!({ "failed_tenants": failed_tenants }))
}
