//! Template lifecycle: what a status / quality / category event does to a template, its
//! campaigns, and which alert it raises. Decided from the stored state without I/O.

use crate::meta::payload::{QualityScore, TemplateEvent};

/// The part of a template an event is about; each is ordered by its own `entry.time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aspect {
    Status,
    Quality,
    Category,
}

impl Aspect {
    /// Attribute-name stem (`status`, `quality`, `category`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Quality => "quality",
            Self::Category => "category",
        }
    }
}

/// How urgent an alert is. Critical and warning alerts stay open until acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// From its lower-case name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "info" => Self::Info,
            "warning" => Self::Warning,
            "critical" => Self::Critical,
            _ => return None,
        })
    }

    /// Whether the alert needs a person to acknowledge it.
    pub fn needs_acknowledgement(self) -> bool {
        self >= Self::Warning
    }
}

/// An alert to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSpec {
    pub severity: Severity,
    /// Stable machine name: `template_paused`, `quality_red`, ...
    pub kind: &'static str,
    pub title: String,
}

/// What to do to the campaigns that use the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignAction {
    None,
    /// Pause every ACTIVE campaign on the template (even for a stale event: safety first).
    Pause {
        reason: String,
    },
    /// Release this template's hold; campaigns resume only where the tenant enables auto_resume.
    Release,
}

/// A template event, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateChange {
    Status {
        event: TemplateEvent,
        reason: Option<String>,
        other_info_title: Option<String>,
    },
    Quality {
        previous: Option<QualityScore>,
        new: QualityScore,
    },
    Category {
        previous: Option<String>,
        new: Option<String>,
        /// Set on an impending change: the category Meta will move it to.
        correct: Option<String>,
        at: Option<u64>,
    },
}

impl TemplateChange {
    /// Which aspect the change is ordered against.
    pub fn aspect(&self) -> Aspect {
        match self {
            Self::Status { .. } => Aspect::Status,
            Self::Quality { .. } => Aspect::Quality,
            Self::Category { .. } => Aspect::Category,
        }
    }

    /// The raw event for history (`PAUSED`, `quality:RED`, `category:MARKETING`).
    pub fn history_event(&self) -> String {
        match self {
            Self::Status { event, .. } => event.as_str().to_owned(),
            Self::Quality { new, .. } => format!("QUALITY_{new}"),
            Self::Category {
                new,
                correct,
                previous,
                ..
            } => match (previous, correct) {
                (None, Some(c)) => format!("CATEGORY_IMPENDING_{c}"),
                _ => format!("CATEGORY_{}", new.as_deref().unwrap_or("UNKNOWN")),
            },
        }
    }
}

/// The template's current state as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateState {
    pub status: Option<String>,
    pub quality: Option<String>,
    pub category: Option<String>,
    /// `entry.time` of the last applied event, per aspect.
    pub status_time: Option<u64>,
    pub quality_time: Option<u64>,
    pub category_time: Option<u64>,
}

impl TemplateState {
    /// Whether the aspect was last set by an event later than `time`.
    pub fn newer_than(&self, aspect: Aspect, time: u64) -> bool {
        self.time_of(aspect).is_some_and(|t| t > time)
    }

    fn time_of(&self, aspect: Aspect) -> Option<u64> {
        match aspect {
            Aspect::Status => self.status_time,
            Aspect::Quality => self.quality_time,
            Aspect::Category => self.category_time,
        }
    }
}

/// The new values to write on the template item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateUpdate {
    pub status: Option<String>,
    pub quality: Option<String>,
    pub previous_quality: Option<String>,
    pub category: Option<String>,
    pub previous_category: Option<String>,
    pub pending_category: Option<(String, Option<u64>)>,
    pub reason: Option<String>,
    pub pause_title: Option<String>,
}

/// Everything an event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDecision {
    /// `None` for a stale event or an unknown status event: history only.
    pub update: Option<TemplateUpdate>,
    pub stale: bool,
    pub alert: Option<AlertSpec>,
    pub campaigns: CampaignAction,
}

/// The status a template has after a status event; `None` for an event this version does not
/// know (kept in history, status unchanged).
pub fn status_after(event: &TemplateEvent) -> Option<&'static str> {
    use TemplateEvent as E;
    Some(match event {
        E::Approved | E::Reinstated | E::Unarchived => "APPROVED",
        E::Rejected => "REJECTED",
        E::Pending => "PENDING",
        E::Paused => "PAUSED",
        E::Disabled => "DISABLED",
        E::Flagged => "FLAGGED",
        E::InAppeal => "IN_APPEAL",
        E::PendingDeletion => "PENDING_DELETION",
        E::Deleted => "DELETED",
        E::Archived => "ARCHIVED",
        E::LimitExceeded => "LIMIT_EXCEEDED",
        E::Other(_) => return None,
    })
}

/// Decides what an event at `time` does to a template in `state`.
pub fn decide(state: &TemplateState, change: &TemplateChange, time: u64) -> TemplateDecision {
    // Equal times re-apply (a redelivered event is idempotent); only strictly older is stale.
    let stale = state
        .time_of(change.aspect())
        .is_some_and(|last| time < last);
    match change {
        TemplateChange::Status {
            event,
            reason,
            other_info_title,
        } => {
            let campaigns = match event {
                TemplateEvent::Paused | TemplateEvent::Disabled => CampaignAction::Pause {
                    reason: format!(
                        "template {}{}",
                        event.as_str(),
                        other_info_title
                            .as_deref()
                            .map(|t| format!(" ({t})"))
                            .unwrap_or_default()
                    ),
                },
                TemplateEvent::Reinstated if !stale => CampaignAction::Release,
                TemplateEvent::Approved
                    if !stale && other_info_title.as_deref() == Some("UNPAUSE") =>
                {
                    CampaignAction::Release
                }
                _ => CampaignAction::None,
            };
            let new_status = status_after(event);
            let alert = status_alert(event, other_info_title.as_deref())
                .filter(|_| !stale || matches!(campaigns, CampaignAction::Pause { .. }));
            TemplateDecision {
                update: new_status.filter(|_| !stale).map(|s| TemplateUpdate {
                    status: Some(s.to_owned()),
                    reason: reason.clone().filter(|r| r != "NONE"),
                    pause_title: other_info_title.clone(),
                    ..TemplateUpdate::default()
                }),
                stale,
                alert,
                campaigns,
            }
        }
        TemplateChange::Quality { previous, new } => TemplateDecision {
            update: (!stale).then(|| TemplateUpdate {
                quality: Some(new.as_str().to_owned()),
                previous_quality: previous
                    .as_ref()
                    .map(|p| p.as_str().to_owned())
                    .or_else(|| state.quality.clone()),
                ..TemplateUpdate::default()
            }),
            stale,
            alert: (!stale).then(|| quality_alert(new)).flatten(),
            campaigns: CampaignAction::None,
        },
        TemplateChange::Category {
            previous,
            new,
            correct,
            at,
        } => {
            let impending = previous.is_none() && correct.is_some();
            let update = if impending {
                TemplateUpdate {
                    pending_category: correct.clone().map(|c| (c, *at)),
                    ..TemplateUpdate::default()
                }
            } else {
                TemplateUpdate {
                    category: new.clone(),
                    previous_category: previous.clone().or_else(|| state.category.clone()),
                    ..TemplateUpdate::default()
                }
            };
            let alert = AlertSpec {
                severity: Severity::Warning,
                kind: if impending {
                    "category_change_impending"
                } else {
                    "category_changed"
                },
                title: if impending {
                    format!(
                        "category will change to {}",
                        correct.as_deref().unwrap_or("?")
                    )
                } else {
                    format!(
                        "category changed to {} (pricing may change)",
                        new.as_deref().unwrap_or("?")
                    )
                },
            };
            TemplateDecision {
                update: (!stale).then_some(update),
                stale,
                alert: (!stale).then_some(alert),
                campaigns: CampaignAction::None,
            }
        }
    }
}

fn status_alert(event: &TemplateEvent, title: Option<&str>) -> Option<AlertSpec> {
    use TemplateEvent as E;
    let (severity, kind) = match event {
        E::Paused => (Severity::Critical, "template_paused"),
        E::Disabled => (Severity::Critical, "template_disabled"),
        E::Rejected => (Severity::Critical, "template_rejected"),
        E::Flagged => (Severity::Warning, "template_flagged"),
        E::LimitExceeded => (Severity::Warning, "template_limit_exceeded"),
        E::Approved if title == Some("UNPAUSE") => (Severity::Info, "template_unpaused"),
        E::Approved => (Severity::Info, "template_approved"),
        E::Reinstated => (Severity::Info, "template_reinstated"),
        E::Other(_) => return None,
        _ => (Severity::Info, "template_status_changed"),
    };
    let title = match title {
        Some(t) => format!("template {} ({t})", event.as_str()),
        None => format!("template {}", event.as_str()),
    };
    Some(AlertSpec {
        severity,
        kind,
        title,
    })
}

fn quality_alert(new: &QualityScore) -> Option<AlertSpec> {
    let (severity, kind) = match new {
        QualityScore::Red => (Severity::Critical, "quality_red"),
        QualityScore::Yellow => (Severity::Warning, "quality_yellow"),
        QualityScore::Green => (Severity::Info, "quality_green"),
        QualityScore::Unknown | QualityScore::Other(_) => return None,
    };
    Some(AlertSpec {
        severity,
        kind,
        title: format!("template quality {new}"),
    })
}

/// Whether a template in this state belongs on the "critical templates" list.
pub fn is_critical(status: Option<&str>, quality: Option<&str>) -> bool {
    matches!(status, Some("PAUSED" | "DISABLED" | "REJECTED" | "FLAGGED")) || quality == Some("RED")
}

/// The value of a field of an onboarded template no event or sync has told yet.
pub const NOT_YET_KNOWN: &str = "UNKNOWN";

/// The name an onboarded template has until an event carries its real one.
pub fn placeholder_name(template_id: u64) -> String {
    format!("template-{template_id}")
}

/// A template's descriptive fields: as stored, or as an event carries them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Description<'a> {
    pub name: Option<&'a str>,
    pub language: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// A placeholder an event replaces: the attribute, the placeholder it must still hold, and the
/// value the event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub attribute: &'static str,
    pub placeholder: String,
    pub value: String,
}

/// The placeholders an event fills. A field still at its placeholder takes the value of any
/// event that carries it, whatever the event's time: an older event still knows more than
/// nothing. A known field is left alone here; its own aspect's events order it by `entry.time`.
pub fn placeholder_fills(
    template_id: u64,
    stored: &Description,
    carried: &Description,
) -> Vec<Fill> {
    let name = placeholder_name(template_id);
    [
        ("name", name.as_str(), stored.name, carried.name),
        ("language", NOT_YET_KNOWN, stored.language, carried.language),
        ("category", NOT_YET_KNOWN, stored.category, carried.category),
    ]
    .into_iter()
    .filter_map(|(attribute, placeholder, stored, carried)| {
        let value =
            carried.filter(|v| !v.is_empty() && *v != placeholder && *v != NOT_YET_KNOWN)?;
        (stored == Some(placeholder)).then(|| Fill {
            attribute,
            placeholder: placeholder.to_owned(),
            value: value.to_owned(),
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(event: TemplateEvent, title: Option<&str>) -> TemplateChange {
        TemplateChange::Status {
            event,
            reason: None,
            other_info_title: title.map(str::to_owned),
        }
    }

    #[test]
    fn reinstated_and_unarchived_mean_approved_and_unknown_events_change_nothing() {
        assert_eq!(status_after(&TemplateEvent::Reinstated), Some("APPROVED"));
        assert_eq!(status_after(&TemplateEvent::Unarchived), Some("APPROVED"));
        let d = decide(
            &TemplateState::default(),
            &status(TemplateEvent::from_wire("X"), None),
            5,
        );
        assert_eq!(
            (d.update, d.alert, d.campaigns),
            (None, None, CampaignAction::None)
        );
    }

    #[test]
    fn a_stale_pause_still_pauses_campaigns_but_does_not_overwrite_status() {
        let state = TemplateState {
            status: Some("APPROVED".into()),
            status_time: Some(100),
            ..Default::default()
        };
        let d = decide(
            &state,
            &status(TemplateEvent::Paused, Some("FIRST_PAUSE")),
            50,
        );
        assert!(d.stale);
        assert_eq!(d.update, None);
        assert!(matches!(d.campaigns, CampaignAction::Pause { .. }));
    }

    #[test]
    fn a_stale_unpause_releases_nothing() {
        let state = TemplateState {
            status_time: Some(100),
            ..Default::default()
        };
        let d = decide(
            &state,
            &status(TemplateEvent::Approved, Some("UNPAUSE")),
            50,
        );
        assert_eq!(d.campaigns, CampaignAction::None);
        let d = decide(
            &state,
            &status(TemplateEvent::Approved, Some("UNPAUSE")),
            150,
        );
        assert_eq!(d.campaigns, CampaignAction::Release);
    }

    #[test]
    fn quality_and_status_are_ordered_separately() {
        let state = TemplateState {
            status_time: Some(100),
            quality_time: Some(10),
            ..Default::default()
        };
        let q = TemplateChange::Quality {
            previous: Some(QualityScore::Green),
            new: QualityScore::Red,
        };
        let d = decide(&state, &q, 50);
        assert!(!d.stale);
        assert_eq!(d.alert.unwrap().severity, Severity::Critical);
    }

    #[test]
    fn an_impending_category_change_keeps_the_category_and_records_the_pending_one() {
        let c = TemplateChange::Category {
            previous: None,
            new: Some("MARKETING".into()),
            correct: Some("MARKETING".into()),
            at: Some(9),
        };
        let d = decide(&TemplateState::default(), &c, 1);
        let u = d.update.unwrap();
        assert_eq!(u.category, None);
        assert_eq!(u.pending_category, Some(("MARKETING".into(), Some(9))));
        assert_eq!(d.alert.unwrap().kind, "category_change_impending");
    }

    #[test]
    fn critical_means_paused_disabled_rejected_flagged_or_red() {
        assert!(is_critical(Some("PAUSED"), Some("GREEN")));
        assert!(is_critical(Some("APPROVED"), Some("RED")));
        assert!(!is_critical(Some("APPROVED"), Some("YELLOW")));
    }

    #[test]
    fn an_unknown_field_is_filled_by_any_event_that_carries_it() {
        let placeholder = placeholder_name(7);
        let stored = Description {
            name: Some(&placeholder),
            language: Some(NOT_YET_KNOWN),
            category: Some(NOT_YET_KNOWN),
        };
        let carried = Description {
            name: Some("spring_sale"),
            language: None,
            category: Some("MARKETING"),
        };
        let fills = placeholder_fills(7, &stored, &carried);
        assert_eq!(
            fills,
            vec![
                Fill {
                    attribute: "name",
                    placeholder: placeholder.clone(),
                    value: "spring_sale".into()
                },
                Fill {
                    attribute: "category",
                    placeholder: NOT_YET_KNOWN.into(),
                    value: "MARKETING".into()
                },
            ]
        );
    }

    #[test]
    fn a_known_field_is_never_replaced_by_a_placeholder_fill() {
        let stored = Description {
            name: Some("spring_sale"),
            language: Some("en_US"),
            category: Some("UTILITY"),
        };
        let carried = Description {
            name: Some("other"),
            language: Some("pt_BR"),
            category: Some("MARKETING"),
        };
        assert!(placeholder_fills(7, &stored, &carried).is_empty());
        // Nor is a placeholder "filled" with the placeholder itself.
        let unknown = Description {
            category: Some(NOT_YET_KNOWN),
            ..Description::default()
        };
        assert!(placeholder_fills(7, &unknown, &unknown).is_empty());
    }
}
