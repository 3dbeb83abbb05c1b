//! Template, phone-number and account events of one tenant: template item, history, alerts,
//! feed, and the campaigns they pause or release.

use crate::domain::template::{
    self, AlertSpec, CampaignAction, Description, Severity, TemplateChange, TemplateState,
    NOT_YET_KNOWN,
};
use crate::meta::{Event, EventKind};
use crate::store::{clip, now, s, FeedEntry, Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use tracing::{info, warn};

/// What an event says about its template: enough to create the item for a template the tenant
/// has at Meta but not here yet.
pub(crate) struct TemplateIdentity<'e> {
    /// The event's WABA, which routed to the tenant.
    pub waba_id: &'e str,
    pub name: Option<&'e str>,
    pub language: Option<&'e str>,
    pub category: Option<&'e str>,
}

/// A template's lifecycle over the store: the effects of a template, phone-number or account
/// event (template item, history, alerts, feed, campaign holds). The processor applies webhook
/// events through it, the Graph sync applies what Meta's API reports through it, so both follow
/// the same ordering rules and raise the same alerts.
#[derive(Clone, Copy)]
pub struct Lifecycle<'s> {
    store: &'s Store,
}

impl<'s> Lifecycle<'s> {
    /// The lifecycle over `store`.
    pub fn new(store: &'s Store) -> Self {
        Self { store }
    }

    /// Onboarding from the webhook: a template event for a template the tenant does not have,
    /// under a WABA that routes to the tenant, creates the template from what the event says
    /// (idempotent: a conditional put; a concurrent creation wins and is read back). Its status,
    /// quality and category are then set by the event itself, in `entry.time` order like any
    /// other, so a redelivered or older event cannot move it backwards.
    async fn onboard(
        &self,
        tenant_id: &str,
        template_id: u64,
        identity: &TemplateIdentity<'_>,
    ) -> Result<crate::store::TemplateRecord, StoreError> {
        let template = crate::store::NewTemplate {
            template_id,
            waba_id: Some(identity.waba_id.to_owned()),
            name: identity.name.map_or_else(
                || template::placeholder_name(template_id),
                |n| clip(n).to_owned(),
            ),
            language: identity.language.map_or(NOT_YET_KNOWN, clip).to_owned(),
            category: identity.category.map_or(NOT_YET_KNOWN, clip).to_owned(),
            status: NOT_YET_KNOWN.to_owned(),
            quality: NOT_YET_KNOWN.to_owned(),
        };
        if self.store.create_template(tenant_id, &template).await? {
            info!(
                metric = "template_onboarded",
                tenant_id, template_id, "template created from its first webhook event"
            );
        }
        self.store
            .template(tenant_id, template_id)
            .await?
            .ok_or(StoreError::Refused("onboarded template not readable"))
    }

    /// Applies one non-status event of a routed tenant.
    pub async fn apply_account_event(
        &self,
        tenant_id: &str,
        event: &Event<'_>,
    ) -> Result<(), StoreError> {
        // Meta always sends entry.time on these; without it the event is ordered as "now".
        let time = event.entry_time.unwrap_or_else(now);
        match &event.kind {
            EventKind::TemplateStatus(u) => {
                let change = TemplateChange::Status {
                    event: u.event.clone(),
                    reason: u.reason.as_deref().map(|r| clip(r).to_owned()),
                    other_info_title: u
                        .other_info
                        .as_ref()
                        .and_then(|o| o.title.as_deref())
                        .map(str::to_owned),
                };
                let mut details = Vec::new();
                if let Some(r) = &u.rejection_info {
                    details.push(("rejection_reason", r.reason.as_deref().map(|x| s(clip(x)))));
                    details.push((
                        "recommendation",
                        r.recommendation.as_deref().map(|x| s(clip(x))),
                    ));
                }
                if let Some(d) = u.disable_info.as_ref().and_then(|d| d.disable_date) {
                    details.push(("disable_date", Some(crate::store::n(d))));
                }
                if let Some(o) = &u.other_info {
                    details.push((
                        "other_info_description",
                        o.description.as_deref().map(|x| s(clip(x))),
                    ));
                }
                if let Some(c) = &u.message_template_category {
                    details.push(("category", Some(s(c.as_ref()))));
                }
                let identity = TemplateIdentity {
                    waba_id: &event.waba_id,
                    name: u.message_template_name.as_deref(),
                    language: u.message_template_language.as_deref(),
                    category: u.message_template_category.as_deref(),
                };
                self.apply_template_change(
                    tenant_id,
                    u.message_template_id,
                    time,
                    change,
                    details,
                    &identity,
                )
                .await
            }
            EventKind::TemplateQuality(u) => {
                let change = TemplateChange::Quality {
                    previous: u.previous_quality_score.clone(),
                    new: u.new_quality_score.clone(),
                };
                let identity = TemplateIdentity {
                    waba_id: &event.waba_id,
                    name: u.message_template_name.as_deref(),
                    language: u.message_template_language.as_deref(),
                    category: None,
                };
                self.apply_template_change(
                    tenant_id,
                    u.message_template_id,
                    time,
                    change,
                    Vec::new(),
                    &identity,
                )
                .await
            }
            EventKind::TemplateCategory(u) => {
                let change = TemplateChange::Category {
                    previous: u.previous_category.as_deref().map(str::to_owned),
                    new: u.new_category.as_deref().map(str::to_owned),
                    correct: u.correct_category.as_deref().map(str::to_owned),
                    at: u.category_update_timestamp,
                };
                let identity = TemplateIdentity {
                    waba_id: &event.waba_id,
                    name: u.message_template_name.as_deref(),
                    language: u.message_template_language.as_deref(),
                    category: u.new_category.as_deref().or(u.previous_category.as_deref()),
                };
                self.apply_template_change(
                    tenant_id,
                    u.message_template_id,
                    time,
                    change,
                    Vec::new(),
                    &identity,
                )
                .await
            }
            EventKind::PhoneNumberQuality(u) => {
                let Some(phone_number_id) = self
                    .store
                    .phone_by_display_number(tenant_id, &u.display_phone_number)
                    .await?
                else {
                    warn!(
                        metric = "unrouted",
                        reason = "unknown_display_number",
                        tenant_id,
                        "phone quality event for a number the tenant does not have"
                    );
                    return Ok(());
                };
                let limit = u.current_limit.as_deref().map(str::to_owned).or_else(|| {
                    u.max_daily_conversations_per_business
                        .map(|m| m.to_string())
                });
                let change = crate::domain::phone::quality_change(
                    &phone_number_id,
                    &u.event,
                    limit.as_deref(),
                );
                let applied = self
                    .store
                    .apply_phone_quality(tenant_id, &phone_number_id, &u.event, &change, time)
                    .await?;
                if !applied {
                    info!(tenant_id, event = %u.event, "older phone quality event kept in history only");
                    return Ok(());
                }
                let subject = format!("phone:{phone_number_id}");
                self.raise(tenant_id, &subject, &change.alert, time).await?;
                let feed = FeedEntry {
                    kind: "phone_quality",
                    summary: serde_json::json!({
                        "phone_number_id": phone_number_id,
                        "event": u.event,
                        "quality": change.quality,
                        "messaging_limit": change.messaging_limit,
                        "flagged": change.flagged,
                    })
                    .to_string(),
                };
                self.store.append_feed(tenant_id, &feed).await?;
                self.hold_flagged(tenant_id, &phone_number_id, change.flagged, time)
                    .await
            }
            EventKind::AccountUpdate(u) => {
                let ban_state = u.ban_info.as_ref().map(|b| b.waba_ban_state.as_ref());
                let ban_date = u.ban_info.as_ref().and_then(|b| b.waba_ban_date.as_deref());
                self.store
                    .record_account_state(
                        tenant_id,
                        &event.waba_id,
                        &u.event,
                        ban_state,
                        ban_date,
                        time,
                    )
                    .await?;
                let subject = format!("waba:{}", event.waba_id);
                let hold = format!("ban:{}", event.waba_id);
                match ban_state {
                    Some("SCHEDULE_FOR_DISABLE") => {
                        let spec = AlertSpec {
                            severity: Severity::Critical,
                            kind: "account_disable_scheduled",
                            title: format!(
                                "account scheduled for disable on {}",
                                ban_date.unwrap_or("an unknown date")
                            ),
                        };
                        self.raise(tenant_id, &subject, &spec, time).await
                    }
                    Some("DISABLE") => {
                        let spec = AlertSpec {
                            severity: Severity::Critical,
                            kind: "account_disabled",
                            title: "account disabled: every active campaign paused".into(),
                        };
                        self.raise(tenant_id, &subject, &spec, time).await?;
                        let campaigns = self
                            .store
                            .campaigns_of_waba(tenant_id, &event.waba_id)
                            .await?;
                        for c in campaigns {
                            self.hold(tenant_id, &c.campaign_id, &hold, "account disabled", time)
                                .await?;
                        }
                        Ok(())
                    }
                    Some("REINSTATE") => {
                        let resume = self.store.auto_resume(tenant_id).await?;
                        let campaigns = self
                            .store
                            .campaigns_of_waba(tenant_id, &event.waba_id)
                            .await?;
                        for c in campaigns.iter().filter(|c| holds(c, &hold)) {
                            self.release(tenant_id, &c.campaign_id, &hold, resume, time)
                                .await?;
                        }
                        let spec = AlertSpec {
                            severity: Severity::Info,
                            kind: "account_reinstated",
                            title: "account reinstated".into(),
                        };
                        self.raise(tenant_id, &subject, &spec, time).await
                    }
                    _ => {
                        info!(tenant_id, event = %u.event, "account update recorded");
                        Ok(())
                    }
                }
            }
            EventKind::AccountNews(news) => {
                let effect = crate::domain::account::news_effect(&event.waba_id, news);
                let applied = self
                    .store
                    .record_account_news(
                        tenant_id,
                        &event.waba_id,
                        effect.category,
                        &effect.event,
                        &effect.fields,
                        time,
                    )
                    .await?;
                if !applied {
                    info!(tenant_id, event = %effect.event, "older account news kept in history only");
                    return Ok(());
                }
                let subject = format!("waba:{}", event.waba_id);
                self.raise(tenant_id, &subject, &effect.alert, time).await?;
                let feed = FeedEntry {
                    kind: "account_alert",
                    summary: serde_json::json!({
                        "waba_id": event.waba_id,
                        "event": effect.event,
                        "title": effect.alert.title,
                    })
                    .to_string(),
                };
                self.store.append_feed(tenant_id, &feed).await
            }
            EventKind::ChangeErrors {
                phone_number_id,
                errors,
            } => {
                let subject = format!("phone:{phone_number_id}");
                for error in errors {
                    let meaning = crate::domain::errors::explain(error.code);
                    let kind = if meaning.class == crate::domain::errors::ErrorClass::RateLimit {
                        "rate_limited"
                    } else {
                        "phone_error"
                    };
                    let spec = AlertSpec {
                        severity: Severity::Warning,
                        kind,
                        title: format!(
                            "phone number {phone_number_id}: {} ({}). {}",
                            meaning.title, error.code, meaning.action
                        ),
                    };
                    self.raise(tenant_id, &subject, &spec, time).await?;
                }
                Ok(())
            }
            EventKind::Statuses { .. }
            | EventKind::Inbound { .. }
            | EventKind::Unhandled { .. } => Ok(()),
        }
    }

    pub(crate) async fn apply_template_change(
        &self,
        tenant_id: &str,
        template_id: u64,
        time: u64,
        change: TemplateChange,
        details: Vec<(&str, Option<AttributeValue>)>,
        identity: &TemplateIdentity<'_>,
    ) -> Result<(), StoreError> {
        let record = match self.store.template(tenant_id, template_id).await? {
            Some(record) => record,
            None => self.onboard(tenant_id, template_id, identity).await?,
        };
        // What an onboarded template does not know yet, any event that carries it tells,
        // however old; what it knows follows each aspect's own event order below.
        let stored = Description {
            name: record.name.as_deref(),
            language: record.language.as_deref(),
            category: record.category.as_deref(),
        };
        let carried = Description {
            name: identity.name.map(clip),
            language: identity.language.map(clip),
            category: identity.category.map(clip),
        };
        for fill in template::placeholder_fills(template_id, &stored, &carried) {
            if self
                .store
                .fill_template_placeholder(tenant_id, template_id, &fill)
                .await?
            {
                info!(
                    metric = "template_placeholder_filled",
                    tenant_id,
                    template_id,
                    attribute = fill.attribute,
                    "an onboarded template's unknown field filled from an event"
                );
            }
        }
        let state = TemplateState::from(&record);
        let decision = template::decide(&state, &change, time);
        let mut applied = false;
        if let Some(update) = &decision.update {
            applied = self
                .store
                .apply_template_update(tenant_id, template_id, change.aspect(), time, update)
                .await?;
        }
        let stale = decision.stale || (decision.update.is_some() && !applied);
        let history_event = change.history_event();
        let mut fields: Vec<(&str, AttributeValue)> = vec![("stale", AttributeValue::Bool(stale))];
        if let TemplateChange::Status {
            reason: Some(r), ..
        } = &change
        {
            fields.push(("reason", s(r.as_str())));
        }
        if let TemplateChange::Status {
            other_info_title: Some(t),
            ..
        } = &change
        {
            fields.push(("other_info_title", s(t.as_str())));
        }
        if let TemplateChange::Status { event, .. } = &change {
            if event.is_unknown() {
                warn!(metric = "unknown_template_event", tenant_id, template_id, event = %event, "template event not known; kept in history only");
            }
        }
        fields.extend(details.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        self.store
            .append_template_history(tenant_id, template_id, time, &history_event, &fields)
            .await?;
        if applied {
            let feed = FeedEntry {
                kind: "template",
                summary: serde_json::json!({"template_id": template_id, "event": history_event})
                    .to_string(),
            };
            self.store.append_feed(tenant_id, &feed).await?;
        }
        if let Some(spec) = &decision.alert {
            self.raise(tenant_id, &format!("template:{template_id}"), spec, time)
                .await?;
        }
        let hold = format!("template:{template_id}");
        match decision.campaigns {
            CampaignAction::None => {}
            CampaignAction::Pause { reason } => {
                for c in self
                    .store
                    .campaigns_using_template(tenant_id, template_id)
                    .await?
                {
                    self.hold(tenant_id, &c.campaign_id, &hold, &reason, time)
                        .await?;
                }
            }
            CampaignAction::Release => {
                let resume = self.store.auto_resume(tenant_id).await?;
                for c in self
                    .store
                    .campaigns_using_template(tenant_id, template_id)
                    .await?
                {
                    if holds(&c, &hold) {
                        self.release(tenant_id, &c.campaign_id, &hold, resume, time)
                            .await?;
                    }
                }
            }
        }
        info!(tenant_id, template_id, event = %history_event, stale, applied, "template event applied");
        Ok(())
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

    /// With the tenant's `pause_on_flagged`, a flagged number holds its active campaigns until
    /// it is unflagged (then released, resuming where `auto_resume` is on).
    async fn hold_flagged(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        flagged: Option<bool>,
        time: u64,
    ) -> Result<(), StoreError> {
        let Some(flagged) = flagged else {
            return Ok(());
        };
        let hold = crate::domain::phone::flagged_hold(phone_number_id);
        if flagged {
            if !self.store.pause_on_flagged(tenant_id).await? {
                return Ok(());
            }
            for c in self
                .store
                .campaigns_of_phone(tenant_id, phone_number_id)
                .await?
                .iter()
                .filter(|c| c.status == crate::store::ACTIVE)
            {
                let reason = format!("phone number {phone_number_id} flagged for low quality");
                self.hold(tenant_id, &c.campaign_id, &hold, &reason, time)
                    .await?;
            }
        } else {
            let resume = self.store.auto_resume(tenant_id).await?;
            for c in self
                .store
                .campaigns_of_phone(tenant_id, phone_number_id)
                .await?
                .iter()
                .filter(|c| holds(c, &hold))
            {
                self.release(tenant_id, &c.campaign_id, &hold, resume, time)
                    .await?;
            }
        }
        Ok(())
    }

    async fn hold(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        hold: &str,
        reason: &str,
        time: u64,
    ) -> Result<(), StoreError> {
        crate::holds::place(self.store, tenant_id, campaign_id, hold, reason, time)
            .await
            .map(|_| ())
    }

    async fn release(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        hold: &str,
        resume: bool,
        time: u64,
    ) -> Result<(), StoreError> {
        crate::holds::release(self.store, tenant_id, campaign_id, hold, resume, time).await
    }
}

fn holds(c: &crate::store::CampaignRecord, hold: &str) -> bool {
    c.holds
        .as_ref()
        .is_some_and(|h| h.iter().any(|x| x == hold))
}
