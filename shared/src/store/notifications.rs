//! Notification state: a tenant's preferences (on its settings item), the quiet window per
//! (subject, kind), and one delivery record per (alert, channel), so a retried stream batch
//! never notifies a channel twice.

use super::expr::Expr;
use super::{dynamo, key, keys, n, now, s, Store, StoreError};
use crate::domain::notify::{Channel, NotificationSettings};
use crate::domain::template::Severity;
use aws_sdk_dynamodb::types::AttributeValue;

/// Delivery records are kept 30 days: far longer than any stream retry.
pub const DELIVERY_TTL_SECONDS: u64 = 30 * 24 * 3600;

impl Store {
    /// The tenant's notification preferences (defaults where never set).
    pub async fn notification_settings(
        &self,
        tenant_id: &str,
    ) -> Result<NotificationSettings, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), keys::SETTINGS_SK)
            .await?
            .unwrap_or_default();
        let mut settings = NotificationSettings::default();
        if let Some(AttributeValue::L(list)) = item.get("notify_channels") {
            settings.channels = list
                .iter()
                .filter_map(|v| v.as_s().ok())
                .filter_map(|c| Channel::parse(c))
                .collect();
        }
        if let Some(sev) = item
            .get("notify_min_severity")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| Severity::parse(v))
        {
            settings.min_severity = sev;
        }
        if let Some(q) = item
            .get("notify_quiet_seconds")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
        {
            settings.quiet_window_seconds = q;
        }
        settings.slack_configured = matches!(
            item.get("slack_configured"),
            Some(AttributeValue::Bool(true))
        );
        Ok(settings)
    }

    /// Stores the tenant's notification preferences.
    pub async fn put_notification_settings(
        &self,
        tenant_id: &str,
        settings: &NotificationSettings,
    ) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set(
            "notify_channels",
            AttributeValue::L(settings.channels.iter().map(|c| s(c.as_str())).collect()),
        )
        .set("notify_min_severity", s(settings.min_severity.as_str()))
        .set("notify_quiet_seconds", n(settings.quiet_window_seconds))
        .set(
            "slack_configured",
            AttributeValue::Bool(settings.slack_configured),
        )
        .set("entity", s("settings"))
        .set("updated_at", n(now()));
        self.update(key(keys::tenant(tenant_id), keys::SETTINGS_SK), e, None)
            .await?;
        Ok(())
    }

    /// Claims the quiet window of (subject, kind) for an alert at `event_time`: `false` when
    /// another alert of the same subject and kind was notified less than `window` seconds
    /// before it. Re-claiming for the same alert succeeds (a retried batch).
    pub async fn claim_quiet_window(
        &self,
        tenant_id: &str,
        subject: &str,
        kind: &str,
        alert_id: &str,
        event_time: u64,
        window: u64,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::new();
        e.set("entity", s("notify_window"))
            .set("last_alert_id", s(alert_id))
            .set("last_time", n(event_time))
            .set("expires_at", n(now() + window + DELIVERY_TTL_SECONDS));
        let (pk, last_id, last_time) = (e.name("pk"), e.name("last_alert_id"), e.name("last_time"));
        let id = e.value(s(alert_id));
        let cutoff = e.value(n(event_time.saturating_sub(window)));
        e.condition(format!(
            "attribute_not_exists({pk}) OR {last_id} = {id} OR {last_time} <= {cutoff}"
        ));
        match self
            .update(
                key(keys::tenant(tenant_id), keys::notify_window(subject, kind)),
                e,
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the alert was already delivered on the channel.
    pub async fn notification_delivered(
        &self,
        tenant_id: &str,
        alert_id: &str,
        channel: Channel,
    ) -> Result<bool, StoreError> {
        Ok(self
            .get(
                &keys::tenant(tenant_id),
                &keys::notification(alert_id, channel.as_str()),
            )
            .await?
            .is_some())
    }

    /// Records a delivery (after the channel accepted it).
    pub async fn record_notification(
        &self,
        tenant_id: &str,
        alert_id: &str,
        channel: Channel,
        attempts: u32,
    ) -> Result<(), StoreError> {
        let mut item = key(
            keys::tenant(tenant_id),
            keys::notification(alert_id, channel.as_str()),
        );
        item.insert("entity".into(), s("notification"));
        item.insert("alert_id".into(), s(alert_id));
        item.insert("channel".into(), s(channel.as_str()));
        item.insert("attempts".into(), n(attempts));
        item.insert("delivered_at".into(), n(now()));
        item.insert("expires_at".into(), n(now() + DELIVERY_TTL_SECONDS));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}
