//! The template sync feature: what Meta's Graph API says a tenant's WABAs hold, into the table.
//!
//! A business that connects its account has templates at Meta we have never seen. The sync
//! pages through `GET /{version}/{waba_id}/message_templates` with the tenant's system-user
//! token and, per template:
//! - unknown here: creates it with Meta's status, quality and category, observed at the sync's
//!   start time (so a webhook event older than the sync cannot move it back, a newer one can);
//! - known: each aspect that differs is applied as a change at that time through the same
//!   [`Lifecycle`] as a webhook event, so a newer webhook-applied state is never moved
//!   backwards, and a template Meta paused while we missed the webhook pauses its campaigns.
//!
//! Idempotent: a second sync with nothing changed at Meta writes nothing.

use crate::domain::template::TemplateChange;
use crate::graph::{GraphClient, GraphError, GraphTemplate};
use crate::meta::payload::{QualityScore, TemplateEvent};
use crate::process::{Lifecycle, TemplateIdentity};
use crate::secrets::{SecretsError, TenantSecret, TenantSecrets};
use crate::store::{clip, now, NewTemplate, Store, StoreError};
use serde::Serialize;
use tracing::{info, warn};

/// Why a sync could not run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The tenant has no system-user token stored.
    #[error("no Graph API token is stored as {0}")]
    NoToken(String),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one WABA's sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct WabaSync {
    pub waba_id: String,
    /// Templates Meta listed.
    pub fetched: usize,
    /// Created here from Meta's answer.
    pub created: usize,
    /// Known here, with at least one aspect changed.
    pub updated: usize,
    /// Known here and already as Meta says.
    pub unchanged: usize,
    /// Listed by Meta but not storable (e.g. an id that is not a 64-bit number).
    pub skipped: usize,
    /// Aspects (status, quality, category) left as they are because a webhook event newer
    /// than the sync set them.
    pub kept_newer: usize,
    /// Phone numbers of the WABA whose quality, limit, throughput and name status were read.
    pub phone_numbers: usize,
}

/// The sync: store, Graph client and tenant secrets, built once per container.
#[derive(Debug, Clone)]
pub struct TemplateSync {
    store: Store,
    graph: GraphClient,
    secrets: TenantSecrets,
}

impl TemplateSync {
    pub fn new(store: Store, graph: GraphClient, secrets: TenantSecrets) -> Self {
        Self {
            store,
            graph,
            secrets,
        }
    }

    /// Syncs every WABA routed to the tenant.
    pub async fn sync_tenant(&self, tenant_id: &str) -> Result<Vec<WabaSync>, SyncError> {
        let wabas = self.store.routed_wabas(Some(tenant_id)).await?;
        let token = self
            .secrets
            .get(tenant_id, TenantSecret::GraphToken)
            .await?
            .ok_or_else(|| {
                SyncError::NoToken(self.secrets.name(tenant_id, TenantSecret::GraphToken))
            })?;
        let mut reports = Vec::with_capacity(wabas.len());
        for (_, waba_id) in wabas {
            let observed_at = now();
            let templates = self.graph.message_templates(&waba_id, &token).await?;
            let mut report = self
                .apply(tenant_id, &waba_id, &templates, observed_at)
                .await?;
            // The numbers' health is a second read: its failure is logged and counted, and
            // does not undo the templates.
            match self.graph.phone_numbers(&waba_id, &token).await {
                Ok(numbers) => {
                    // Meta's ids are digits; anything else is not a number this keeps.
                    let valid = numbers.iter().filter(|n| {
                        (1..=20).contains(&n.id.len()) && n.id.bytes().all(|b| b.is_ascii_digit())
                    });
                    for number in valid {
                        let state = crate::store::PhoneState {
                            phone_number_id: number.id.clone(),
                            display_phone_number: number.display_phone_number.clone(),
                            quality: number.quality_rating.clone(),
                            messaging_limit: number.messaging_limit_tier.clone(),
                            throughput: number.throughput.as_ref().and_then(|t| t.level.clone()),
                            name_status: number.name_status.clone(),
                        };
                        self.store
                            .set_phone_state(tenant_id, &waba_id, &state)
                            .await?;
                        report.phone_numbers += 1;
                    }
                }
                Err(e) => {
                    warn!(metric = "phone_sync_failed", tenant_id, waba_id, error = %e, "phone numbers not read");
                }
            }
            reports.push(report);
        }
        Ok(reports)
    }

    /// Syncs every routed WABA of every tenant (the schedule). One tenant's failure (an expired
    /// token) is logged and does not stop the others; returns how many tenants failed.
    pub async fn sync_everyone(&self) -> Result<usize, StoreError> {
        let mut tenants: Vec<String> = self
            .store
            .routed_wabas(None)
            .await?
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        tenants.dedup();
        let mut failed = 0;
        for tenant_id in tenants {
            match self.sync_tenant(&tenant_id).await {
                Ok(reports) => info!(tenant_id, wabas = reports.len(), "tenant templates synced"),
                Err(e) => {
                    failed += 1;
                    warn!(metric = "template_sync_failed", tenant_id, error = %e, "tenant template sync failed");
                }
            }
        }
        Ok(failed)
    }

    /// Applies one WABA's listing, observed at `observed_at`.
    pub async fn apply(
        &self,
        tenant_id: &str,
        waba_id: &str,
        templates: &[GraphTemplate],
        observed_at: u64,
    ) -> Result<WabaSync, StoreError> {
        let mut report = WabaSync {
            waba_id: waba_id.to_owned(),
            fetched: templates.len(),
            ..WabaSync::default()
        };
        for t in templates {
            let Ok(template_id) = t.id.parse::<u64>() else {
                report.skipped += 1;
                warn!(
                    metric = "template_sync_skipped",
                    tenant_id,
                    waba_id,
                    reason = "id_not_u64",
                    "Graph listed a template whose id is not a 64-bit number"
                );
                continue;
            };
            let (applied, kept_newer) = self
                .apply_one(tenant_id, waba_id, template_id, t, observed_at)
                .await?;
            report.kept_newer += kept_newer;
            match applied {
                Applied::Created => report.created += 1,
                Applied::Updated => report.updated += 1,
                Applied::Unchanged => report.unchanged += 1,
            }
        }
        info!(
            tenant_id,
            waba_id,
            fetched = report.fetched,
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            skipped = report.skipped,
            kept_newer = report.kept_newer,
            "WABA templates synced"
        );
        Ok(report)
    }

    async fn apply_one(
        &self,
        tenant_id: &str,
        waba_id: &str,
        template_id: u64,
        t: &GraphTemplate,
        observed_at: u64,
    ) -> Result<(Applied, usize), StoreError> {
        let quality = t.quality_score.as_ref().map(|q| q.score.as_str());
        let stored = match self.store.template(tenant_id, template_id).await? {
            Some(stored) => stored,
            None => {
                let new = NewTemplate {
                    template_id,
                    waba_id: Some(waba_id.to_owned()),
                    name: clip(&t.name).to_owned(),
                    language: clip(&t.language).to_owned(),
                    category: clip(t.category.as_deref().unwrap_or("UNKNOWN")).to_owned(),
                    status: clip(&t.status).to_owned(),
                    quality: clip(quality.unwrap_or("UNKNOWN")).to_owned(),
                };
                if self
                    .store
                    .create_template_at(tenant_id, &new, Some(observed_at))
                    .await?
                {
                    return Ok((Applied::Created, 0));
                }
                // A webhook onboarded it meanwhile: compare with what it wrote.
                self.store
                    .template(tenant_id, template_id)
                    .await?
                    .ok_or(StoreError::Refused("synced template not readable"))?
            }
        };
        let all = changes(
            stored.status.as_deref(),
            stored.quality.as_deref(),
            stored.category.as_deref(),
            t,
        );
        // An aspect a webhook event newer than this listing set stays as it is: the listing
        // is the older news (and a stale pause must not pause campaigns again).
        let state = crate::domain::template::TemplateState::from(&stored);
        let (changes, newer): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|c| !state.newer_than(c.aspect(), observed_at));
        if changes.is_empty() {
            return Ok((Applied::Unchanged, newer.len()));
        }
        let identity = TemplateIdentity {
            waba_id,
            name: Some(&t.name),
            language: Some(&t.language),
            category: t.category.as_deref(),
        };
        let lifecycle = Lifecycle::new(&self.store);
        for change in changes {
            lifecycle
                .apply_template_change(
                    tenant_id,
                    template_id,
                    observed_at,
                    change,
                    vec![("source", Some(crate::store::s("graph_sync")))],
                    &identity,
                )
                .await?;
        }
        Ok((Applied::Updated, newer.len()))
    }
}

enum Applied {
    Created,
    Updated,
    Unchanged,
}

/// The changes that bring a stored template to what Meta lists (pure).
pub fn changes(
    status: Option<&str>,
    quality: Option<&str>,
    category: Option<&str>,
    t: &GraphTemplate,
) -> Vec<TemplateChange> {
    let mut out = Vec::new();
    if status != Some(t.status.as_str()) {
        // Back to APPROVED from a pause or disable is Meta's REINSTATED: it releases the holds.
        let event = match (status, t.status.as_str()) {
            (Some("PAUSED" | "DISABLED"), "APPROVED") => TemplateEvent::Reinstated,
            (_, wire) => TemplateEvent::from_wire(wire),
        };
        out.push(TemplateChange::Status {
            event,
            reason: t
                .rejected_reason
                .as_deref()
                .filter(|r| *r != "NONE")
                .map(|r| clip(r).to_owned()),
            other_info_title: None,
        });
    }
    if let Some(q) = t.quality_score.as_ref().map(|q| q.score.as_str()) {
        if quality != Some(q) && q != "UNKNOWN" {
            out.push(TemplateChange::Quality {
                previous: quality.map(QualityScore::from_wire),
                new: QualityScore::from_wire(q),
            });
        }
    }
    if let Some(c) = t.category.as_deref() {
        if category != Some(c) {
            out.push(TemplateChange::Category {
                previous: category.map(str::to_owned),
                new: Some(c.to_owned()),
                correct: None,
                at: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphQualityScore;

    fn listed(status: &str, quality: &str, category: &str) -> GraphTemplate {
        GraphTemplate {
            id: "1".into(),
            name: "n".into(),
            language: "en".into(),
            status: status.into(),
            category: Some(category.into()),
            quality_score: Some(GraphQualityScore {
                score: quality.into(),
                date: None,
            }),
            rejected_reason: Some("NONE".into()),
        }
    }

    #[test]
    fn a_template_as_meta_lists_it_needs_no_change() {
        let t = listed("APPROVED", "GREEN", "UTILITY");
        assert!(changes(Some("APPROVED"), Some("GREEN"), Some("UTILITY"), &t).is_empty());
    }

    #[test]
    fn approved_after_a_pause_is_a_reinstatement_and_unknown_quality_is_no_news() {
        let t = listed("APPROVED", "UNKNOWN", "UTILITY");
        let c = changes(Some("PAUSED"), Some("RED"), Some("UTILITY"), &t);
        assert_eq!(c.len(), 1);
        assert!(matches!(
            &c[0],
            TemplateChange::Status {
                event: TemplateEvent::Reinstated,
                reason: None,
                ..
            }
        ));
    }

    #[test]
    fn each_differing_aspect_is_one_change() {
        let mut t = listed("REJECTED", "RED", "MARKETING");
        t.rejected_reason = Some("INVALID_FORMAT".into());
        let c = changes(Some("PENDING"), Some("GREEN"), Some("UTILITY"), &t);
        assert_eq!(c.len(), 3);
        assert!(
            matches!(&c[0], TemplateChange::Status { reason: Some(r), .. } if r == "INVALID_FORMAT")
        );
    }
}
