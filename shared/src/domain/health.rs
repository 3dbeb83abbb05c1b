//! Delivery health per template and per tenant, folded from the campaign counters the processor
//! keeps exactly once (no extra writes per status, no scans), and what a person should do about
//! a template in trouble. Pure.
//!
//! Definitions (the OpenAPI document states them too):
//! - `messages_sent`: messages of the template's campaigns that Meta answered for: reached
//!   `sent` (or later), or `failed`. Over the lifetime of the campaigns stored.
//! - `messages_failed`: of those, the ones that reached `failed`.
//! - `failure_rate` = failed / sent; `success_rate` = reached `delivered` / sent (0 when none).
//! - `campaigns_affected`: the template's campaigns that are ACTIVE or PAUSED (not completed).

use crate::domain::campaign::{CampaignRecord, ACTIVE, PAUSED};
use std::collections::BTreeMap;

/// One template's delivery figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeliveryHealth {
    pub messages_sent: i64,
    pub messages_failed: i64,
    pub messages_delivered: i64,
    pub campaigns_affected: u64,
}

impl DeliveryHealth {
    pub fn failure_rate(&self) -> f64 {
        ratio(self.messages_failed, self.messages_sent)
    }

    pub fn success_rate(&self) -> f64 {
        ratio(self.messages_delivered, self.messages_sent)
    }

    fn add(&mut self, c: &CampaignRecord) {
        self.messages_sent += c.reached_sent + c.reached_failed;
        self.messages_failed += c.reached_failed;
        self.messages_delivered += c.reached_delivered;
        if c.status == ACTIVE || c.status == PAUSED {
            self.campaigns_affected += 1;
        }
    }
}

/// A share rounded to four decimals; 0 when there is nothing to divide.
pub fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

/// Every template's figures from a tenant's campaigns.
pub fn by_template(campaigns: &[CampaignRecord]) -> BTreeMap<u64, DeliveryHealth> {
    let mut out: BTreeMap<u64, DeliveryHealth> = BTreeMap::new();
    for c in campaigns {
        out.entry(c.template_id).or_default().add(c);
    }
    out
}

/// The tenant's figures: totals, and the unweighted mean of the rates of the templates that
/// sent at least one message (a small template counts as much as a big one: the question is
/// "how healthy are my templates", not "how healthy is my traffic").
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TenantHealth {
    pub total_messages_sent: i64,
    pub total_messages_failed: i64,
    pub avg_success_rate: f64,
    pub avg_failure_rate: f64,
}

pub fn tenant(per_template: &BTreeMap<u64, DeliveryHealth>) -> TenantHealth {
    let sending: Vec<&DeliveryHealth> = per_template
        .values()
        .filter(|h| h.messages_sent > 0)
        .collect();
    let mean = |f: fn(&DeliveryHealth) -> f64| {
        if sending.is_empty() {
            0.0
        } else {
            let sum: f64 = sending.iter().map(|h| f(h)).sum();
            (sum / sending.len() as f64 * 10_000.0).round() / 10_000.0
        }
    };
    TenantHealth {
        total_messages_sent: per_template.values().map(|h| h.messages_sent).sum(),
        total_messages_failed: per_template.values().map(|h| h.messages_failed).sum(),
        avg_success_rate: mean(DeliveryHealth::success_rate),
        avg_failure_rate: mean(DeliveryHealth::failure_rate),
    }
}

/// What a person should do about a template, from its status, Meta's reason, the pause's
/// title and its quality; `None` when nothing is needed.
pub fn action_required(
    status: Option<&str>,
    reason: Option<&str>,
    pause_title: Option<&str>,
    quality: Option<&str>,
) -> Option<String> {
    let reason = reason.filter(|r| !r.is_empty() && *r != "NONE");
    Some(match status {
        Some("REJECTED") => match reason {
            Some(r) => format!("Edit the template and resubmit: rejected as {r}"),
            None => "Edit the template and resubmit: Meta rejected it".into(),
        },
        Some("DISABLED") => {
            "Create a new template: Meta disabled this one for low quality, and its campaigns stay paused".into()
        }
        Some("PAUSED") => format!(
            "Paused by Meta{}: review the content and who receives it; campaigns resume when Meta lifts the pause",
            pause_title.map(|t| format!(" ({t})")).unwrap_or_default()
        ),
        Some("FLAGGED") => {
            "Quality flagged: improve it within 7 days or Meta disables the template".into()
        }
        _ => match quality {
            Some("RED") => "Quality RED: reduce sending before Meta pauses it".into(),
            Some("YELLOW") => "Quality YELLOW: watch blocks and reports, and slow down if it drops".into(),
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(
        template_id: u64,
        status: &str,
        sent: i64,
        delivered: i64,
        failed: i64,
    ) -> CampaignRecord {
        CampaignRecord {
            campaign_id: format!("c{template_id}{status}{sent}"),
            tenant_id: "t".into(),
            name: None,
            template_id,
            phone_number_id: "p".into(),
            waba_id: None,
            status: status.into(),
            registered: sent + failed,
            reached_sent: sent,
            reached_delivered: delivered,
            reached_read: 0,
            reached_failed: failed,
            current_sent: 0,
            current_delivered: 0,
            current_read: 0,
            current_played: 0,
            current_failed: 0,
            replied: 0,
            opted_out: 0,
            holds: None,
            paused_by_user: None,
            auto_paused_by: None,
            pause_reason: None,
            paused_at: None,
        }
    }

    #[test]
    fn figures_fold_per_template_and_average_over_templates_that_sent() {
        let campaigns = [
            campaign(1, "ACTIVE", 80, 60, 20),
            campaign(1, "COMPLETED", 10, 10, 0),
            campaign(2, "PAUSED", 9, 9, 1),
            campaign(3, "ACTIVE", 0, 0, 0),
        ];
        let per = by_template(&campaigns);
        let one = per[&1];
        assert_eq!(
            (
                one.messages_sent,
                one.messages_failed,
                one.campaigns_affected
            ),
            (110, 20, 1)
        );
        assert_eq!(one.failure_rate(), 0.1818);
        assert_eq!(per[&2].failure_rate(), 0.1);
        let t = tenant(&per);
        assert_eq!((t.total_messages_sent, t.total_messages_failed), (120, 21));
        // (0.1818 + 0.1) / 2 and (70/110 + 9/10) / 2, template 3 sent nothing.
        assert_eq!(t.avg_failure_rate, 0.1409);
        assert_eq!(t.avg_success_rate, 0.7682);
    }

    #[test]
    fn actions_name_the_reason_and_the_quality() {
        assert_eq!(
            action_required(Some("REJECTED"), Some("INVALID_FORMAT"), None, None).unwrap(),
            "Edit the template and resubmit: rejected as INVALID_FORMAT"
        );
        assert_eq!(
            action_required(Some("APPROVED"), None, None, Some("RED")).unwrap(),
            "Quality RED: reduce sending before Meta pauses it"
        );
        assert!(
            action_required(Some("PAUSED"), None, Some("FIRST_PAUSE"), Some("RED"))
                .unwrap()
                .starts_with("Paused by Meta (FIRST_PAUSE)")
        );
        assert_eq!(
            action_required(Some("APPROVED"), Some("NONE"), None, Some("GREEN")),
            None
        );
    }
}
