//! A business phone number's health, decided without I/O: what a `phone_number_quality_update`
//! event means for the number's quality, flag and messaging limit, and the alert it raises.
//!
//! Meta's events (webhooks reference, `phone_number_quality_update`):
//! - `FLAGGED`: the quality rating fell to low; unless it recovers within 7 days the messaging
//!   limit is lowered. `UNFLAGGED`: it recovered (to medium or high: the Graph sync reads which).
//! - `DOWNGRADE` / `UPGRADE`: the messaging limit moved (`current_limit`, or the newer
//!   `max_daily_conversations_per_business`); a downgrade ends a flag.
//! - other strings (Meta adds some, e.g. throughput changes) are recorded with their limit.

use super::template::{AlertSpec, Severity};

/// Messaging limit tiers served by `GET /numbers`.
pub const TIERS: [&str; 6] = [
    "TIER_250",
    "TIER_1K",
    "TIER_10K",
    "TIER_100K",
    "TIER_UNLIMITED",
    "UNKNOWN",
];

/// What a quality event changes on the number.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneChange {
    /// `None`: unchanged.
    pub quality: Option<&'static str>,
    pub flagged: Option<bool>,
    /// The messaging limit tier (`UNKNOWN` for a value outside [`TIERS`]), when the event has one.
    pub messaging_limit: Option<&'static str>,
    pub alert: AlertSpec,
}

/// A messaging limit as Meta sends it (`TIER_1K`, `TIER_UNLIMITED`, or a number of daily
/// conversations), as a tier of [`TIERS`].
pub fn tier(limit: &str) -> &'static str {
    let upper = limit.trim().to_ascii_uppercase();
    if let Some(t) = TIERS.iter().find(|t| **t == upper) {
        return t;
    }
    match upper.parse::<u64>() {
        Ok(250) => "TIER_250",
        Ok(1_000) => "TIER_1K",
        Ok(10_000) => "TIER_10K",
        Ok(100_000) => "TIER_100K",
        _ if upper == "UNLIMITED" => "TIER_UNLIMITED",
        _ => "UNKNOWN",
    }
}

/// What `event` means for `phone_number_id`. `limit` is `current_limit` or, in newer payloads,
/// `max_daily_conversations_per_business`.
pub fn quality_change(phone_number_id: &str, event: &str, limit: Option<&str>) -> PhoneChange {
    let messaging_limit = limit.map(tier);
    let limit_words = messaging_limit
        .map(|l| format!(" to {l}"))
        .unwrap_or_default();
    let (quality, flagged, severity, kind, title) = match event {
        "FLAGGED" => (
            Some("RED"),
            Some(true),
            Severity::Warning,
            "phone_quality",
            format!("phone number {phone_number_id} flagged: its quality rating is low; unless it improves within 7 days its messaging limit is lowered. Check which templates are reported or blocked, and slow down sends to unengaged users."),
        ),
        "UNFLAGGED" => (
            Some("UNKNOWN"),
            Some(false),
            Severity::Info,
            "phone_quality",
            format!("phone number {phone_number_id} unflagged: its quality rating recovered"),
        ),
        "DOWNGRADE" => (
            None,
            Some(false),
            Severity::Warning,
            "messaging_limit",
            format!("phone number {phone_number_id} messaging limit lowered{limit_words}: plan campaigns within the new daily limit"),
        ),
        "UPGRADE" => (
            None,
            None,
            Severity::Info,
            "messaging_limit",
            format!("phone number {phone_number_id} messaging limit raised{limit_words}"),
        ),
        other => (
            None,
            None,
            Severity::Info,
            "messaging_limit",
            format!(
                "phone number {phone_number_id}: {}{limit_words}",
                other.to_lowercase()
            ),
        ),
    };
    PhoneChange {
        quality,
        flagged,
        messaging_limit,
        alert: AlertSpec {
            severity,
            kind,
            title,
        },
    }
}

/// The hold a flagged number places on its campaigns when the tenant's `pause_on_flagged` is on.
pub fn flagged_hold(phone_number_id: &str) -> String {
    format!("flagged:{phone_number_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_every_shape_become_tiers() {
        assert_eq!(tier("TIER_1K"), "TIER_1K");
        assert_eq!(tier("tier_10k"), "TIER_10K");
        assert_eq!(tier("1000"), "TIER_1K");
        assert_eq!(tier("100000"), "TIER_100K");
        assert_eq!(tier("UNLIMITED"), "TIER_UNLIMITED");
        assert_eq!(tier("TIER_2K"), "UNKNOWN");
        assert_eq!(tier("banana"), "UNKNOWN");
    }

    #[test]
    fn each_event_sets_what_it_means() {
        let f = quality_change("106", "FLAGGED", None);
        assert_eq!((f.quality, f.flagged), (Some("RED"), Some(true)));
        assert_eq!(
            (f.alert.kind, f.alert.severity),
            ("phone_quality", Severity::Warning)
        );
        let u = quality_change("106", "UNFLAGGED", None);
        assert_eq!(u.flagged, Some(false));
        let d = quality_change("106", "DOWNGRADE", Some("TIER_1K"));
        assert_eq!(
            (d.messaging_limit, d.flagged, d.alert.kind),
            (Some("TIER_1K"), Some(false), "messaging_limit")
        );
        assert!(d.alert.title.contains("TIER_1K"));
        let up = quality_change("106", "UPGRADE", Some("10000"));
        assert_eq!(up.messaging_limit, Some("TIER_10K"));
        assert_eq!(up.alert.severity, Severity::Info);
        let other = quality_change("106", "THROUGHPUT_UPGRADE", None);
        assert_eq!((other.quality, other.flagged), (None, None));
    }
}
