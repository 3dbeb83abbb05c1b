//! Recount: each campaign's counters recomputed from its message items with the fold's own
//! contribution rules (`domain::counters::Tally::of_image`), and any difference reported, and
//! with `repair`, corrected (with an audit entry). `make recount` runs it on demand; the drift
//! function runs it daily and emits `CounterDrift`.
//!
//! Stream records live 24 hours: a counters function broken for longer, or a batch skipped,
//! leaves counters wrong with nothing to fold them from again. Messages are the truth.

use crate::domain::counters::{drift, CounterDrift, Tally};
use crate::store::queries::{number, text};
use crate::store::{s, stable_id, Store, StoreError};
use std::collections::BTreeSet;

/// A campaign whose messages changed more recently than this may still be on its way through
/// the stream: it is checked, but not reported or repaired (seconds; the counters' iterator
/// age alarm fires long before).
pub const AT_REST_SECONDS: u64 = 600;

/// One campaign's recount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRecount {
    pub tenant_id: String,
    pub campaign_id: String,
    pub messages: usize,
    /// Counters that differ: (attribute, stored, recounted).
    pub drift: Vec<CounterDrift>,
    /// Its messages changed within `AT_REST_SECONDS`: the drift may be the stream's lag.
    pub moving: bool,
    /// The drift was corrected (with `repair`).
    pub repaired: bool,
}

/// Which campaigns to recount.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// One tenant, or every routed tenant.
    pub tenant: Option<String>,
    pub campaign: Option<String>,
    /// Only campaigns created or counted since (Unix seconds).
    pub active_since: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Recount {
    store: Store,
    at_rest_seconds: u64,
}

impl Recount {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            at_rest_seconds: AT_REST_SECONDS,
        }
    }

    /// Trusts campaigns whose messages last changed `seconds` ago (tests: 0, once the stream
    /// has been folded).
    pub fn at_rest_after(mut self, seconds: u64) -> Self {
        self.at_rest_seconds = seconds;
        self
    }

    /// Recounts the campaigns in `scope`; with `repair`, corrects the drift of those at rest,
    /// audited as done by `actor`.
    pub async fn run(
        &self,
        scope: &Scope,
        repair: bool,
        actor: &str,
    ) -> Result<Vec<CampaignRecount>, StoreError> {
        let tenants: BTreeSet<String> = match &scope.tenant {
            Some(t) => [t.clone()].into(),
            None => self
                .store
                .routed_wabas(None)
                .await?
                .into_iter()
                .map(|(tenant, _)| tenant)
                .collect(),
        };
        let mut out = Vec::new();
        for tenant in tenants {
            let campaigns = match &scope.campaign {
                Some(c) => vec![c.clone()],
                None => self
                    .store
                    .list_all(&tenant, "CAMPAIGN#")
                    .await?
                    .iter()
                    .filter(|c| {
                        let since = scope.active_since.unwrap_or(0) as i64;
                        number(c, "counted_at").unwrap_or(0) >= since
                            || number(c, "created_at").unwrap_or(0) >= since
                    })
                    .filter_map(|c| text(c, "campaign_id"))
                    .collect(),
            };
            for campaign in campaigns {
                if let Some(r) = self.campaign(&tenant, &campaign, repair, actor).await? {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// One campaign; `None` when it does not exist.
    pub async fn campaign(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        repair: bool,
        actor: &str,
    ) -> Result<Option<CampaignRecount>, StoreError> {
        // A repair that loses a race with the fold recounts, a few times at most.
        for _ in 0..3 {
            let Some(stored) = self.store.campaign_counters(tenant_id, campaign_id).await? else {
                return Ok(None);
            };
            let (images, last_change) = self
                .store
                .campaign_message_images(tenant_id, campaign_id)
                .await?;
            let mut recounted = Tally::default();
            for image in &images {
                recounted.add(&Tally::of_image(image));
            }
            let found = drift(&stored, &recounted);
            let moving = self.at_rest_seconds > 0
                && last_change + self.at_rest_seconds > crate::store::now();
            let mut result = CampaignRecount {
                tenant_id: tenant_id.to_owned(),
                campaign_id: campaign_id.to_owned(),
                messages: images.len(),
                drift: found,
                moving,
                repaired: false,
            };
            if !repair || moving || result.drift.is_empty() {
                return Ok(Some(result));
            }
            if self
                .store
                .repair_counters(tenant_id, campaign_id, &result.drift)
                .await?
            {
                let summary: Vec<String> = result
                    .drift
                    .iter()
                    .map(|(a, was, now)| format!("{a} {was}->{now}"))
                    .collect();
                let now = crate::store::now();
                self.store
                    .audit(
                        tenant_id,
                        &stable_id(&["recount", campaign_id, &now.to_string()]),
                        now,
                        &[
                            ("action", s("counters_repaired")),
                            ("actor", s(actor)),
                            ("campaign_id", s(campaign_id)),
                            ("reason", s(summary.join(", "))),
                        ],
                    )
                    .await?;
                result.repaired = true;
                return Ok(Some(result));
            }
        }
        Err(StoreError::Conflict)
    }
}

/// What a check found, as the drift function's metrics: `CounterDrift` (campaigns at rest whose
/// counters differ from their messages), `CampaignsRecounted`, `CampaignsMoving`.
pub fn metrics(found: &[CampaignRecount]) -> crate::metrics::Metrics {
    let mut m = crate::metrics::Metrics::new("drift");
    m.count("CampaignsRecounted", found.len())
        .count(
            "CounterDrift",
            found
                .iter()
                .filter(|r| !r.moving && !r.drift.is_empty())
                .count(),
        )
        .count("CampaignsMoving", found.iter().filter(|r| r.moving).count());
    m
}
