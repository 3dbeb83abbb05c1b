//! Automatic holds on campaigns, with what goes with them: the audit entry and the realtime
//! `campaign_paused` / `campaign_resumed` feed item. Template events, account bans and the
//! circuit breaker all pause and release campaigns through here, so a pause reads the same
//! whatever placed it.

use crate::store::{s, stable_id, FeedEntry, HoldOutcome, ReleaseOutcome, Store, StoreError};
use tracing::info;

/// Places `hold` on a campaign. When that pauses an ACTIVE campaign, the pause is audited (once
/// per campaign, hold and time) and announced on the tenant's feed.
pub async fn place(
    store: &Store,
    tenant_id: &str,
    campaign_id: &str,
    hold: &str,
    reason: &str,
    time: u64,
) -> Result<HoldOutcome, StoreError> {
    let outcome = store
        .hold_campaign(tenant_id, campaign_id, hold, reason, time)
        .await?;
    if outcome == HoldOutcome::Paused {
        let id = stable_id(&["pause", campaign_id, hold, &time.to_string()]);
        store
            .audit(
                tenant_id,
                &id,
                time,
                &[
                    ("action", s("campaign_paused")),
                    ("actor", s("system")),
                    ("campaign_id", s(campaign_id)),
                    ("cause", s(hold)),
                    ("reason", s(reason)),
                ],
            )
            .await?;
        let feed = FeedEntry {
            kind: "campaign_paused",
            summary:
                serde_json::json!({"campaign_id": campaign_id, "cause": hold, "reason": reason})
                    .to_string(),
        };
        store.append_feed(tenant_id, &feed).await?;
        info!(
            tenant_id,
            campaign_id,
            cause = hold,
            "campaign paused automatically"
        );
    }
    Ok(outcome)
}

/// Releases `hold`; with `resume`, a campaign nothing else holds becomes ACTIVE again, audited
/// and announced.
pub async fn release(
    store: &Store,
    tenant_id: &str,
    campaign_id: &str,
    hold: &str,
    resume: bool,
    time: u64,
) -> Result<(), StoreError> {
    if store
        .release_campaign(tenant_id, campaign_id, hold, resume)
        .await?
        == ReleaseOutcome::Resumed
    {
        let id = stable_id(&["resume", campaign_id, hold, &time.to_string()]);
        store
            .audit(
                tenant_id,
                &id,
                time,
                &[
                    ("action", s("campaign_resumed")),
                    ("actor", s("system")),
                    ("campaign_id", s(campaign_id)),
                    ("cause", s(hold)),
                ],
            )
            .await?;
        let feed = FeedEntry {
            kind: "campaign_resumed",
            summary: serde_json::json!({"campaign_id": campaign_id, "cause": hold}).to_string(),
        };
        store.append_feed(tenant_id, &feed).await?;
        info!(
            tenant_id,
            campaign_id,
            cause = hold,
            "campaign resumed automatically"
        );
    }
    Ok(())
}
