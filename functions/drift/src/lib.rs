//! The drift function: once a day (reserved concurrency 1), every campaign created or counted
//! in the last `DRIFT_LOOKBACK_DAYS` is recounted from its message items (`shared::recount`),
//! read only. A campaign at rest whose counters differ is logged with the counters that differ
//! and counted in the `CounterDrift` metric, which an alarm watches; `make recount --repair`
//! corrects it (docs/operations.md, "Counter drift").

use serde::Serialize;
use shared::recount::{metrics, Recount, Scope};
use tracing::{error, info};

/// What one check found.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DriftReport {
    pub campaigns: usize,
    pub drifting: usize,
    pub moving: usize,
}

pub async fn handle(
    recount: &Recount,
    lookback_days: u64,
) -> Result<DriftReport, lambda_runtime::Error> {
    let since = shared::store::now().saturating_sub(lookback_days * 86_400);
    let scope = Scope {
        active_since: Some(since),
        ..Scope::default()
    };
    let found = recount.run(&scope, false, "drift-check").await?;
    for r in found.iter().filter(|r| !r.moving && !r.drift.is_empty()) {
        let counters: Vec<String> = r
            .drift
            .iter()
            .map(|(a, stored, recounted)| format!("{a} {stored} (messages say {recounted})"))
            .collect();
        error!(
            metric = "counter_drift",
            tenant_id = %r.tenant_id,
            campaign_id = %r.campaign_id,
            counters = %counters.join(", "),
            "campaign counters differ from its messages: make recount TENANT=… CAMPAIGN=… ARGS=--repair"
        );
    }
    let m = metrics(&found);
    m.emit();
    let report = DriftReport {
        campaigns: found.len(),
        drifting: m.get("CounterDrift").unwrap_or(0) as usize,
        moving: m.get("CampaignsMoving").unwrap_or(0) as usize,
    };
    info!(?report, "counter check done");
    Ok(report)
}
