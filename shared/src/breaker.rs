//! The circuit breaker feature: after the counters fold applies a run, the campaigns whose
//! failures moved are checked against the rules of `domain::breaker` and held when they trip:
//! `failure_spike` on a spike, `blocked:<phone>` on every active campaign of a number that
//! cannot send, `template:<id>` when Meta refused the template at send.
//!
//! It reads the counters the fold has just written (strongly consistent), so it sees every run
//! applied before; a held campaign is never held again, so a redelivered run, or the same
//! statuses in another order, pause a campaign once. Runs without failures cost nothing here.

use crate::domain::breaker::{
    blocked_hold, immediate_hold, spike, template_hold, BreakerSettings, ImmediateHold, SPIKE_HOLD,
};
use crate::domain::counters::{CampaignRef, Tally};
use crate::domain::errors::explain;
use crate::domain::template::{AlertSpec, Severity};
use crate::store::{FeedEntry, HoldOutcome, Store, StoreError, ACTIVE, PAUSED};
use std::collections::{BTreeMap, BTreeSet};
use tracing::{info, warn};

/// What checking a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BreakerOutcome {
    /// Campaigns read because their failures moved.
    pub checked: usize,
    /// Campaigns newly held (spike, block or template refused).
    pub held: usize,
}

/// The breaker over a store.
#[derive(Debug, Clone, Copy)]
pub struct CircuitBreaker<'s> {
    store: &'s Store,
}

impl<'s> CircuitBreaker<'s> {
    pub fn new(store: &'s Store) -> Self {
        Self { store }
    }

    /// Checks the campaigns of a run's deltas whose failures grew. `time` stamps the holds,
    /// alerts and audit entries (seconds).
    pub async fn check(
        &self,
        deltas: &BTreeMap<CampaignRef, Tally>,
        time: u64,
    ) -> Result<BreakerOutcome, StoreError> {
        let mut outcome = BreakerOutcome::default();
        let mut settings: BTreeMap<&str, BreakerSettings> = BTreeMap::new();
        let mut blocked: BTreeSet<(String, String)> = BTreeSet::new();
        for ((tenant_id, campaign_id), tally) in deltas {
            let failed: Vec<i64> = tally
                .errors
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(code, _)| *code)
                .collect();
            if failed.is_empty() {
                continue;
            }
            let Some(found) = self.store.campaign_failures(tenant_id, campaign_id).await? else {
                continue;
            };
            outcome.checked += 1;
            let campaign = &found.campaign;
            for code in &failed {
                match immediate_hold(*code) {
                    Some(ImmediateHold::Blocked) => {
                        blocked.insert((tenant_id.clone(), campaign.phone_number_id.clone()));
                    }
                    Some(ImmediateHold::TemplateRefused) => {
                        let hold = template_hold(campaign.template_id);
                        if holds(campaign, &hold) || !sendable(campaign) {
                            continue;
                        }
                        let reason = format!(
                            "Meta refused template {} at send ({code}: {})",
                            campaign.template_id,
                            explain(*code).title
                        );
                        if self
                            .hold(tenant_id, campaign_id, &hold, &reason, time)
                            .await?
                        {
                            outcome.held += 1;
                        }
                    }
                    None => {}
                }
            }
            if !settings.contains_key(tenant_id.as_str()) {
                let s = self.store.breaker_settings(tenant_id).await?;
                settings.insert(tenant_id, s);
            }
            let tenant_settings = &settings[tenant_id.as_str()];
            if holds(campaign, SPIKE_HOLD) || !sendable(campaign) {
                continue;
            }
            let Some(tripped) = spike(&found.counts.since(&found.baseline), tenant_settings) else {
                continue;
            };
            let top = explain(tripped.top_code);
            let reason = format!(
                "failure spike: {} of {} attempted messages failed ({:.1} %), most with {} ({})",
                tripped.failures,
                tripped.attempted,
                tripped.share * 100.0,
                tripped.top_code,
                top.title
            );
            if self
                .hold(tenant_id, campaign_id, SPIKE_HOLD, &reason, time)
                .await?
            {
                outcome.held += 1;
                warn!(
                    metric = "breaker_tripped",
                    tenant_id,
                    campaign_id,
                    failures = tripped.failures,
                    attempted = tripped.attempted,
                    top_code = tripped.top_code,
                    "campaign paused by the circuit breaker"
                );
                let spec = AlertSpec {
                    severity: Severity::Critical,
                    kind: "failure_spike",
                    title: format!(
                        "Campaign {campaign_id} paused: {} of {} messages failed, most with {} ({}). {}",
                        tripped.failures, tripped.attempted, tripped.top_code, top.title, top.action
                    ),
                };
                self.raise(tenant_id, &format!("campaign:{campaign_id}"), &spec, time)
                    .await?;
            }
        }
        for (tenant_id, phone) in blocked {
            outcome.held += self.block(&tenant_id, &phone, deltas, time).await?;
        }
        Ok(outcome)
    }

    /// Holds every active campaign of a number that cannot send; one alert when any was held.
    async fn block(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        deltas: &BTreeMap<CampaignRef, Tally>,
        time: u64,
    ) -> Result<usize, StoreError> {
        let hold = blocked_hold(phone_number_id);
        // The account code that blocked it, for the alert's words.
        let code = deltas
            .iter()
            .filter(|((t, _), _)| t == tenant_id)
            .flat_map(|(_, tally)| tally.errors.iter())
            .filter(|(c, n)| **n > 0 && immediate_hold(**c) == Some(ImmediateHold::Blocked))
            .map(|(c, _)| *c)
            .next()
            .unwrap_or_default();
        let meaning = explain(code);
        let reason = format!(
            "phone number {phone_number_id} cannot send ({code}: {})",
            meaning.title
        );
        let mut held = 0;
        for campaign in self
            .store
            .campaigns_of_phone(tenant_id, phone_number_id)
            .await?
        {
            if holds(&campaign, &hold) || !sendable(&campaign) {
                continue;
            }
            if self
                .hold(tenant_id, &campaign.campaign_id, &hold, &reason, time)
                .await?
            {
                held += 1;
            }
        }
        if held > 0 {
            warn!(
                metric = "number_blocked",
                tenant_id,
                phone_number_id,
                code,
                campaigns = held,
                "campaigns of a blocked number held"
            );
            let spec = AlertSpec {
                severity: Severity::Critical,
                kind: "account_blocked",
                title: format!(
                    "Phone number {phone_number_id} cannot send: {code} ({}). {held} campaign(s) paused. {}",
                    meaning.title, meaning.action
                ),
            };
            self.raise(tenant_id, &format!("phone:{phone_number_id}"), &spec, time)
                .await?;
        }
        Ok(held)
    }

    /// Places a hold; `true` when the campaign is newly held by it.
    async fn hold(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        hold: &str,
        reason: &str,
        time: u64,
    ) -> Result<bool, StoreError> {
        let outcome =
            crate::holds::place(self.store, tenant_id, campaign_id, hold, reason, time).await?;
        info!(
            tenant_id,
            campaign_id,
            cause = hold,
            ?outcome,
            "breaker hold"
        );
        Ok(outcome != HoldOutcome::Untouched)
    }

    async fn raise(
        &self,
        tenant_id: &str,
        subject: &str,
        spec: &AlertSpec,
        time: u64,
    ) -> Result<(), StoreError> {
        if self
            .store
            .raise_alert(tenant_id, subject, spec, time)
            .await?
        {
            let feed = FeedEntry {
                kind: "alert",
                summary: serde_json::json!({"subject": subject, "kind": spec.kind, "severity": spec.severity.as_str()}).to_string(),
            };
            self.store.append_feed(tenant_id, &feed).await?;
        }
        Ok(())
    }
}

fn holds(c: &crate::store::CampaignRecord, hold: &str) -> bool {
    c.holds
        .as_ref()
        .is_some_and(|h| h.iter().any(|x| x == hold))
}

/// A campaign a hold can still pause or keep paused: active, or paused automatically.
fn sendable(c: &crate::store::CampaignRecord) -> bool {
    c.status == ACTIVE || (c.status == PAUSED && c.holds.as_ref().is_some_and(|h| !h.is_empty()))
}
