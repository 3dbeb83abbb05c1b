//! Which alerts are notified where, and what the notification says. Pure.

use super::template::Severity;

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// The stack's SNS topic: email, SMS or any endpoint the business subscribes.
    Sns,
    /// The tenant's Slack incoming webhook.
    Slack,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Sns, Channel::Slack];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sns => "sns",
            Self::Slack => "slack",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// A tenant's notification preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    pub channels: Vec<Channel>,
    /// Alerts below this are not notified (they stay in `GET /alerts` and the feed).
    pub min_severity: Severity,
    /// Another alert of the same subject and kind within this many seconds (by Meta's event
    /// time) is not notified again.
    pub quiet_window_seconds: u64,
    /// A Slack webhook URL is stored for the tenant.
    pub slack_configured: bool,
}

/// The default quiet window: a template flapping paused/unpaused does not page every minute.
pub const DEFAULT_QUIET_WINDOW_SECONDS: u64 = 600;
/// The longest quiet window a tenant can set (a day).
pub const MAX_QUIET_WINDOW_SECONDS: u64 = 86_400;

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            channels: vec![Channel::Sns],
            min_severity: Severity::Warning,
            quiet_window_seconds: DEFAULT_QUIET_WINDOW_SECONDS,
            slack_configured: false,
        }
    }
}

/// Why an alert was not sent on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    BelowMinSeverity,
    QuietWindow,
    SlackNotConfigured,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BelowMinSeverity => "below_min_severity",
            Self::QuietWindow => "quiet_window",
            Self::SlackNotConfigured => "slack_not_configured",
        }
    }
}

/// The channels an alert of `severity` goes to, or why none.
pub fn channels_for(
    settings: &NotificationSettings,
    severity: Severity,
) -> Result<Vec<Channel>, Skip> {
    if severity < settings.min_severity {
        return Err(Skip::BelowMinSeverity);
    }
    let mut channels = settings.channels.clone();
    channels.sort();
    channels.dedup();
    Ok(channels)
}

/// The one-line text of an alert (Slack `text`, SNS subject source).
pub fn headline(severity: &str, kind: &str, title: &str, tenant_id: &str) -> String {
    let icon = match severity {
        "critical" => ":rotating_light:",
        "warning" => ":warning:",
        _ => ":information_source:",
    };
    format!("{icon} [{severity}] {title} (tenant {tenant_id}, {kind})")
}

/// An SNS subject: printable ASCII only, at most 100 characters (SNS refuses others).
pub fn sns_subject(severity: &str, title: &str) -> String {
    let raw = format!("[{severity}] {title}");
    let mut subject: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect();
    if subject.trim().is_empty() {
        subject = "WhatsApp pipeline alert".into();
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_minimum_nothing_is_sent_and_channels_are_deduplicated() {
        let settings = NotificationSettings {
            channels: vec![Channel::Slack, Channel::Sns, Channel::Slack],
            ..NotificationSettings::default()
        };
        assert_eq!(
            channels_for(&settings, Severity::Info),
            Err(Skip::BelowMinSeverity)
        );
        assert_eq!(
            channels_for(&settings, Severity::Critical),
            Ok(vec![Channel::Sns, Channel::Slack])
        );
    }

    #[test]
    fn the_sns_subject_is_ascii_and_short() {
        let s = sns_subject("critical", &format!("template “{}”", "x".repeat(200)));
        assert!(s.len() <= 100 && s.is_ascii());
        assert!(s.starts_with("[critical] template ?x"));
    }

    #[test]
    fn channels_parse_from_their_names_only() {
        assert_eq!(Channel::parse("slack"), Some(Channel::Slack));
        assert_eq!(Channel::parse("email"), None);
    }
}
