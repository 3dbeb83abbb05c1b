//! The notification feature: each new alert, once per channel, to the stack's SNS topic and the
//! tenant's Slack incoming webhook.
//!
//! Alerts reach the notifier through the table's stream (an alert item is written once, by a
//! conditional put), so the processor never waits on a notification, and a notifier failure is
//! retried by the stream mapping, then parked on its dead-letter queue. Per alert and channel a
//! delivery record is written after the channel accepted it: a retried batch skips the channels
//! already done. (A crash between the channel's answer and that write can repeat one message:
//! that is the at-most-once boundary no HTTP receiver can close.)

use crate::domain::notify::{self, Channel, Skip};
use crate::domain::template::Severity;
use crate::secrets::{SecretsError, TenantSecret, TenantSecrets};
use crate::store::{AlertRecord, Store, StoreError};
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::MessageAttributeValue;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tracing::{info, warn};

/// Why notifying failed (the record is retried).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("SNS publish failed: {0}")]
    Sns(String),
    #[error("Slack delivery failed after {attempts} attempts: {last}")]
    Slack { attempts: u32, last: String },
}

/// What happened on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sent now, after this many attempts.
    Sent(u32),
    /// Sent by an earlier attempt at this record.
    AlreadySent,
    Skipped(Skip),
}

/// Which Slack webhook URLs are accepted.
#[derive(Debug, Clone)]
pub struct SlackPolicy {
    /// URL prefixes accepted (`https://hooks.slack.com/` in production).
    pub allowed_prefixes: Vec<String>,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff: Duration,
}

impl Default for SlackPolicy {
    fn default() -> Self {
        Self {
            allowed_prefixes: vec!["https://hooks.slack.com/".into()],
            timeout: Duration::from_secs(5),
            max_attempts: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

/// Why a Slack URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlackUrlError {
    #[error("the Slack webhook URL must be an https URL")]
    NotHttps,
    #[error("the Slack webhook URL must start with an allowed prefix (https://hooks.slack.com/)")]
    NotAllowed,
}

impl SlackPolicy {
    /// Reads `SLACK_WEBHOOK_URL_PREFIXES` (comma-separated; default Slack's own).
    pub fn from_env() -> Self {
        let mut policy = Self::default();
        if let Ok(v) = std::env::var("SLACK_WEBHOOK_URL_PREFIXES") {
            let prefixes: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            if !prefixes.is_empty() {
                policy.allowed_prefixes = prefixes;
            }
        }
        policy
    }

    /// Checks a URL a tenant gives (and again before each post). An `http://` URL passes only
    /// when an operator listed its prefix explicitly (the local stack's receiver).
    pub fn check(&self, url: &str) -> Result<(), SlackUrlError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| SlackUrlError::NotHttps)?;
        let allowed = self
            .allowed_prefixes
            .iter()
            .any(|p| url.starts_with(p.as_str()) && url.len() > p.len());
        match (parsed.scheme(), allowed) {
            (_, true) => Ok(()),
            ("https", false) => Err(SlackUrlError::NotAllowed),
            _ => Err(SlackUrlError::NotHttps),
        }
    }
}

/// The notifier: built once per container.
#[derive(Debug, Clone)]
pub struct Notifier {
    store: Store,
    sns: aws_sdk_sns::Client,
    topic_arn: String,
    secrets: TenantSecrets,
    slack: SlackPolicy,
}

impl Notifier {
    pub fn new(
        store: Store,
        sns: aws_sdk_sns::Client,
        topic_arn: impl Into<String>,
        secrets: TenantSecrets,
        slack: SlackPolicy,
    ) -> Self {
        Self {
            store,
            sns,
            topic_arn: topic_arn.into(),
            secrets,
            slack,
        }
    }

    /// Notifies one alert on each channel the tenant chose, at most once per channel.
    pub async fn notify(
        &self,
        tenant_id: &str,
        alert: &AlertRecord,
    ) -> Result<Vec<(Channel, Delivery)>, NotifyError> {
        let settings = self.store.notification_settings(tenant_id).await?;
        let severity = Severity::parse(&alert.severity).unwrap_or(Severity::Info);
        let channels = match notify::channels_for(&settings, severity) {
            Ok(c) => c,
            Err(skip) => return Ok(skipped(&settings.channels, skip)),
        };
        if settings.quiet_window_seconds > 0
            && !self
                .store
                .claim_quiet_window(
                    tenant_id,
                    &alert.subject,
                    &alert.kind,
                    &alert.alert_id,
                    alert.event_time,
                    settings.quiet_window_seconds,
                )
                .await?
        {
            return Ok(skipped(&channels, Skip::QuietWindow));
        }
        let mut outcome = Vec::with_capacity(channels.len());
        let mut first_error = None;
        for channel in channels {
            if self
                .store
                .notification_delivered(tenant_id, &alert.alert_id, channel)
                .await?
            {
                outcome.push((channel, Delivery::AlreadySent));
                continue;
            }
            let sent = match channel {
                Channel::Sns => self.publish(tenant_id, alert).await.map(Some),
                Channel::Slack => self.post_to_slack(tenant_id, alert).await,
            };
            match sent {
                Ok(Some(attempts)) => {
                    self.store
                        .record_notification(tenant_id, &alert.alert_id, channel, attempts)
                        .await?;
                    info!(metric = "notification_sent", tenant_id, alert_id = %alert.alert_id, channel = channel.as_str(), attempts, "alert notified");
                    outcome.push((channel, Delivery::Sent(attempts)));
                }
                Ok(None) => outcome.push((channel, Delivery::Skipped(Skip::SlackNotConfigured))),
                Err(e) => {
                    warn!(metric = "notification_failed", tenant_id, alert_id = %alert.alert_id, channel = channel.as_str(), error = %e, "alert not notified; the record is retried");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }

    async fn publish(&self, tenant_id: &str, alert: &AlertRecord) -> Result<u32, NotifyError> {
        let attribute = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| NotifyError::Sns(e.to_string()))
        };
        let message = serde_json::json!({
            "tenant_id": tenant_id,
            "alert_id": alert.alert_id,
            "severity": alert.severity,
            "kind": alert.kind,
            "title": alert.title,
            "subject": alert.subject,
            "event_time": alert.event_time,
        });
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notify::sns_subject(&alert.severity, &alert.title))
            .message(message.to_string())
            .message_attributes("tenant", attribute(tenant_id)?)
            .message_attributes("severity", attribute(&alert.severity)?)
            .message_attributes("kind", attribute(&alert.kind)?)
            .send()
            .await
            .map_err(|e| NotifyError::Sns(e.code().unwrap_or("unreachable").to_owned()))?;
        Ok(1)
    }

    /// Posts to the tenant's Slack webhook with retries; `None` when none is stored.
    async fn post_to_slack(
        &self,
        tenant_id: &str,
        alert: &AlertRecord,
    ) -> Result<Option<u32>, NotifyError> {
        let Some(url) = self
            .secrets
            .get(tenant_id, TenantSecret::SlackWebhook)
            .await?
        else {
            return Ok(None);
        };
        if let Err(e) = self.slack.check(url.expose_secret()) {
            return Err(NotifyError::Slack {
                attempts: 0,
                last: e.to_string(),
            });
        }
        let body = serde_json::json!({
            "text": notify::headline(&alert.severity, &alert.kind, &alert.title, tenant_id),
        })
        .to_string();
        let attempts = self.slack.max_attempts.max(1);
        let mut delay = self.slack.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.post_once(&url, &body).await {
                Ok(()) => return Ok(Some(attempt)),
                // The URL is a secret: only the status or the error kind is kept.
                Err(why) => last = why,
            }
            if attempt < attempts {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
        Err(NotifyError::Slack { attempts, last })
    }

    async fn post_once(&self, url: &SecretString, body: &str) -> Result<(), String> {
        // The process's client never follows a redirect: a URL that redirects elsewhere fails.
        let response = crate::http::client()
            .post(url.expose_secret())
            .timeout(self.slack.timeout)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_owned()
                } else {
                    "request failed".to_owned()
                }
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", response.status().as_u16()))
        }
    }
}

fn skipped(channels: &[Channel], skip: Skip) -> Vec<(Channel, Delivery)> {
    channels
        .iter()
        .map(|c| (*c, Delivery::Skipped(skip)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_urls_must_be_https_and_slack_s_unless_an_operator_allowed_more() {
        let policy = SlackPolicy::default();
        assert_eq!(
            policy.check("https://hooks.slack.com/services/T/B/x"),
            Ok(())
        );
        assert_eq!(
            policy.check("http://hooks.slack.com/services/T/B/x"),
            Err(SlackUrlError::NotHttps)
        );
        assert_eq!(
            policy.check("https://169.254.169.254/latest"),
            Err(SlackUrlError::NotAllowed)
        );
        assert_eq!(policy.check("not a url"), Err(SlackUrlError::NotHttps));
        let local = SlackPolicy {
            allowed_prefixes: vec!["http://127.0.0.1:".into()],
            ..SlackPolicy::default()
        };
        assert_eq!(local.check("http://127.0.0.1:8080/hook"), Ok(()));
        assert_eq!(
            local.check("http://127.0.0.1:"),
            Err(SlackUrlError::NotHttps)
        );
    }
}
