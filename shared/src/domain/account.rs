//! News about a business account (`account_alerts`, `business_capability_update`,
//! `account_review_update`), decided without I/O: what is kept on the WABA and the alert raised.

use super::template::{AlertSpec, Severity};
use crate::meta::payload::AccountNews;

/// Meta's strings as kept: at most 512 characters.
fn clip(s: &str) -> String {
    s.chars().take(512).collect()
}

/// What one piece of news keeps and raises.
#[derive(Debug, Clone, PartialEq)]
pub struct NewsEffect {
    /// `alert`, `capability` or `review`: each kind is newest-wins on its own.
    pub category: &'static str,
    /// The history entry's event name.
    pub event: String,
    /// Attributes kept on the WABA item (and in the history entry).
    pub fields: Vec<(&'static str, String)>,
    pub alert: AlertSpec,
}

/// The effect of `news` about `waba_id`.
pub fn news_effect(waba_id: &str, news: &AccountNews<'_>) -> NewsEffect {
    match news {
        AccountNews::Alert {
            entity_type,
            entity_id,
            alert_info,
        } => {
            let info = alert_info.as_ref();
            let text = |v: Option<&std::borrow::Cow<'_, str>>| v.map(|s| clip(s));
            let kind =
                text(info.and_then(|i| i.alert_type.as_ref())).unwrap_or_else(|| "UNKNOWN".into());
            let severity = match info.and_then(|i| i.alert_severity.as_deref()) {
                Some("CRITICAL") => Severity::Critical,
                Some("WARNING") => Severity::Warning,
                _ => Severity::Info,
            };
            let status = text(info.and_then(|i| i.alert_status.as_ref()));
            let description = text(info.and_then(|i| i.alert_description.as_ref()));
            let entity = match (entity_type.as_deref(), entity_id.as_deref()) {
                (Some(t), Some(id)) => format!("{} {}", t.to_lowercase().replace('_', " "), id),
                _ => format!("account {waba_id}"),
            };
            let mut fields = vec![("alert_type", kind.clone())];
            fields.extend(status.clone().map(|s| ("alert_status", s)));
            fields.extend(
                entity_type
                    .as_deref()
                    .map(|t| ("alert_entity_type", t.to_owned())),
            );
            fields.extend(
                entity_id
                    .as_deref()
                    .map(|t| ("alert_entity_id", t.to_owned())),
            );
            NewsEffect {
                category: "alert",
                event: format!("ALERT_{kind}"),
                fields,
                alert: AlertSpec {
                    severity,
                    kind: "account_alert",
                    title: format!(
                        "Meta alert for {entity}: {}{}",
                        kind.to_lowercase().replace('_', " "),
                        description.map(|d| format!(". {d}")).unwrap_or_default()
                    ),
                },
            }
        }
        AccountNews::Capability {
            max_daily_conversation_per_phone,
            max_daily_conversations_per_business,
            max_phone_numbers_per_business,
            max_phone_numbers_per_waba,
        } => {
            let mut fields = Vec::new();
            for (name, value) in [
                (
                    "max_daily_conversation_per_phone",
                    max_daily_conversation_per_phone,
                ),
                (
                    "max_daily_conversations_per_business",
                    max_daily_conversations_per_business,
                ),
                (
                    "max_phone_numbers_per_business",
                    max_phone_numbers_per_business,
                ),
                ("max_phone_numbers_per_waba", max_phone_numbers_per_waba),
            ] {
                if let Some(v) = value {
                    fields.push((name, v.to_string()));
                }
            }
            let words: Vec<String> = fields
                .iter()
                .map(|(n, v)| format!("{} {v}", n.replace('_', " ")))
                .collect();
            NewsEffect {
                category: "capability",
                event: "CAPABILITY_UPDATE".into(),
                fields,
                alert: AlertSpec {
                    severity: Severity::Info,
                    kind: "account_alert",
                    title: format!("account {waba_id} capabilities: {}", words.join(", ")),
                },
            }
        }
        AccountNews::Review { decision } => {
            let decision = clip(decision);
            let severity = if decision == "REJECTED" {
                Severity::Critical
            } else {
                Severity::Info
            };
            NewsEffect {
                category: "review",
                event: format!("REVIEW_{decision}"),
                fields: vec![("review_decision", decision.clone())],
                alert: AlertSpec {
                    severity,
                    kind: "account_alert",
                    title: format!(
                        "account {waba_id} review: {}",
                        decision.to_lowercase().replace('_', " ")
                    ),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::payload::AlertInfo;
    use std::borrow::Cow;

    #[test]
    fn each_kind_of_news_keeps_its_facts_and_raises_an_account_alert() {
        let alert = AccountNews::Alert {
            entity_type: Some(Cow::Borrowed("PHONE_NUMBER")),
            entity_id: Some(Cow::Borrowed("106540352242922")),
            alert_info: Some(AlertInfo {
                alert_severity: Some(Cow::Borrowed("WARNING")),
                alert_status: Some(Cow::Borrowed("ACTIVE")),
                alert_type: Some(Cow::Borrowed("PROFILE_PICTURE_LOST")),
                alert_description: Some(Cow::Borrowed("Your profile picture was removed.")),
            }),
        };
        let e = news_effect("102", &alert);
        assert_eq!(e.event, "ALERT_PROFILE_PICTURE_LOST");
        assert_eq!(
            (e.alert.kind, e.alert.severity),
            ("account_alert", Severity::Warning)
        );
        assert!(e.alert.title.contains("phone number 106540352242922"));
        let capability = AccountNews::Capability {
            max_daily_conversation_per_phone: Some(1000),
            max_daily_conversations_per_business: None,
            max_phone_numbers_per_business: Some(2),
            max_phone_numbers_per_waba: None,
        };
        let c = news_effect("102", &capability);
        assert_eq!(c.fields.len(), 2);
        assert!(c
            .alert
            .title
            .contains("max daily conversation per phone 1000"));
        let review = news_effect(
            "102",
            &AccountNews::Review {
                decision: Cow::Borrowed("REJECTED"),
            },
        );
        assert_eq!(review.alert.severity, Severity::Critical);
        // An alert without its info still says what it can.
        let bare = news_effect(
            "102",
            &AccountNews::Alert {
                entity_type: None,
                entity_id: None,
                alert_info: None,
            },
        );
        assert_eq!(bare.event, "ALERT_UNKNOWN");
    }
}
