//! Tenant settings: whether campaigns resume by themselves when their template recovers, how
//! alerts are notified (channels, minimum severity, quiet window, the Slack webhook URL, which is
//! stored in Secrets Manager and never returned), and the campaign circuit breaker.

use crate::alerts::record_action;
use crate::http::{self, TenantQuery};
use crate::responses::Refused;
use crate::{Api, ApiError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Deserializer, Serialize};
use shared::auth::{Caller, Role};
use shared::domain::breaker::BreakerSettings;
use shared::domain::notify::{Channel, NotificationSettings, MAX_QUIET_WINDOW_SECONDS};
use shared::domain::template::Severity;
use shared::secrets::TenantSecret;
use shared::store::{s, AttributeValue, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
use utoipa::ToSchema;

/// Where alerts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChannelName {
    /// The stack's SNS topic (subscribe email, SMS, endpoints; filter on tenant/severity/kind)
    Sns,
    /// The tenant's Slack incoming webhook
    Slack,
}

impl From<ChannelName> for Channel {
    fn from(c: ChannelName) -> Self {
        match c {
            ChannelName::Sns => Channel::Sns,
            ChannelName::Slack => Channel::Slack,
        }
    }
}

impl From<Channel> for ChannelName {
    fn from(c: Channel) -> Self {
        match c {
            Channel::Sns => ChannelName::Sns,
            Channel::Slack => ChannelName::Slack,
        }
    }
}

/// An alert's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SeverityName {
    Info,
    Warning,
    Critical,
}

impl From<SeverityName> for Severity {
    fn from(s: SeverityName) -> Self {
        match s {
            SeverityName::Info => Severity::Info,
            SeverityName::Warning => Severity::Warning,
            SeverityName::Critical => Severity::Critical,
        }
    }
}

impl From<Severity> for SeverityName {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Info => SeverityName::Info,
            Severity::Warning => SeverityName::Warning,
            Severity::Critical => SeverityName::Critical,
        }
    }
}

/// How the tenant's alerts are notified.
#[derive(Serialize, ToSchema)]
pub(crate) struct Notifications {
    channels: Vec<ChannelName>,
    /// Alerts below this are not notified (they stay in GET /alerts)
    min_severity: SeverityName,
    /// Another alert of the same subject and kind within this many seconds (Meta's event
    /// time) is not notified again
    #[schema(minimum = 0, maximum = 86400)]
    quiet_window_seconds: u64,
    /// A Slack webhook URL is stored (the URL itself is never returned)
    slack_configured: bool,
}

impl From<&NotificationSettings> for Notifications {
    fn from(n: &NotificationSettings) -> Self {
        Self {
            channels: n.channels.iter().map(|c| (*c).into()).collect(),
            min_severity: n.min_severity.into(),
            quiet_window_seconds: n.quiet_window_seconds,
            slack_configured: n.slack_configured,
        }
    }
}

/// The campaign circuit breaker: a campaign whose failures in the classes rate_limit and
/// engagement (and the extra codes) reach min_failures and failure_rate of its attempted
/// messages is paused with the hold failure_spike
#[derive(Serialize, ToSchema)]
pub(crate) struct CircuitBreaker {
    enabled: bool,
    #[schema(minimum = 1, maximum = 100000)]
    min_failures: u64,
    #[schema(minimum = 0, maximum = 1)]
    failure_rate: f64,
    extra_codes: Vec<i64>,
}

impl From<&BreakerSettings> for CircuitBreaker {
    fn from(b: &BreakerSettings) -> Self {
        Self {
            enabled: b.enabled,
            min_failures: b.min_failures,
            failure_rate: b.failure_rate,
            extra_codes: b.extra_codes.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Settings {
    tenant_id: String,
    auto_resume: bool,
    notifications: Notifications,
    circuit_breaker: CircuitBreaker,
    /// A FLAGGED phone number holds its ACTIVE campaigns (hold flagged:<phone_number_id>) until UNFLAGGED
    pause_on_flagged: bool,
    /// Reply button payloads that opt the contact out (case-insensitive)
    opt_out_payloads: Vec<String>,
    /// Days a message item (and everything else that names a recipient or contact) is kept
    /// after its registration; campaigns, their counters and timelines stay (docs/privacy.md)
    #[schema(minimum = 7, maximum = 3650)]
    retention_days: u64,
}

/// A change to the settings: what is left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsChange {
    auto_resume: Option<bool>,
    #[serde(default, deserialize_with = "object")]
    notifications: Option<NotificationsChange>,
    #[serde(default, deserialize_with = "object")]
    circuit_breaker: Option<BreakerChange>,
    pause_on_flagged: Option<bool>,
    /// At most 20 payloads of 1-256 characters
    #[schema(max_items = 20)]
    opt_out_payloads: Option<Vec<String>>,
    /// 7 to 3650 days; applies to messages registered after the change
    #[schema(value_type = Option<u64>, minimum = 7, maximum = 3650)]
    retention_days: Option<serde_json::Value>,
}

/// A change to the circuit breaker: what is left out stays as it is. Values are checked here,
/// so that a wrong one is refused with its field named.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreakerChange {
    #[schema(value_type = Option<bool>)]
    enabled: Option<serde_json::Value>,
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 100000)]
    min_failures: Option<serde_json::Value>,
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1)]
    failure_rate: Option<serde_json::Value>,
    /// Error codes that count as breaker failures besides rate_limit and engagement
    #[schema(value_type = Option<Vec<i64>>, max_items = 50)]
    extra_codes: Option<serde_json::Value>,
}

impl BreakerChange {
    /// The settings after this change, or 400 naming the field that is wrong.
    fn applied_to(&self, mut settings: BreakerSettings) -> Result<BreakerSettings, ApiError> {
        let invalid = |field: &str, why: &str| {
            ApiError::bad(
                "invalid_circuit_breaker",
                format!("circuit_breaker.{field}: {why}"),
            )
        };
        if let Some(v) = &self.enabled {
            settings.enabled = v
                .as_bool()
                .ok_or_else(|| invalid("enabled", "true or false"))?;
        }
        if let Some(v) = &self.min_failures {
            settings.min_failures = v
                .as_u64()
                .ok_or_else(|| invalid("min_failures", "an integer from 1 to 100000"))?;
        }
        if let Some(v) = &self.failure_rate {
            settings.failure_rate = v
                .as_f64()
                .ok_or_else(|| invalid("failure_rate", "a number from 0 to 1"))?;
        }
        if let Some(v) = &self.extra_codes {
            settings.extra_codes = v
                .as_array()
                .and_then(|codes| codes.iter().map(|c| c.as_i64()).collect::<Option<Vec<_>>>())
                .ok_or_else(|| invalid("extra_codes", "a list of error codes"))?;
            settings.extra_codes.sort_unstable();
            settings.extra_codes.dedup();
        }
        settings.validate().map_err(|e| {
            ApiError::bad(
                "invalid_circuit_breaker",
                format!("{}: {}", e.field, e.reason),
            )
        })?;
        Ok(settings)
    }
}

/// A change to the notification preferences: what is left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationsChange {
    #[schema(max_items = 2)]
    channels: Option<Vec<ChannelName>>,
    min_severity: Option<SeverityName>,
    #[schema(minimum = 0, maximum = 86400)]
    quiet_window_seconds: Option<u64>,
    /// Write-only: an https://hooks.slack.com/ URL stores it (in Secrets Manager), null
    /// removes it; any other URL is 400 invalid_slack_webhook_url
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 2048)]
    slack_webhook_url: Option<Option<String>>,
}

/// A struct of optional fields from a JSON object only (serde would also read one from an
/// array, `[null, null]`).
fn object<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    match Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)? {
        None => Ok(None),
        Some(map) => serde_json::from_value(serde_json::Value::Object(map))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// `Some(None)` for an explicit `null`, `None` (by `default`) when left out.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Tenant settings
#[utoipa::path(
    get,
    path = "/settings",
    operation_id = "getSettings",
    params(TenantQuery),
    responses((status = 200, description = "OK", body = inline(Settings)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn get(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    http::ok(&Settings {
        tenant_id: tenant.to_owned(),
        auto_resume: api.store.auto_resume(tenant).await?,
        notifications: (&api.store.notification_settings(tenant).await?).into(),
        circuit_breaker: (&api.store.breaker_settings(tenant).await?).into(),
        pause_on_flagged: api.store.pause_on_flagged(tenant).await?,
        retention_days: api.store.retention_days(tenant).await?,
        opt_out_payloads: opt_out_payloads(api, tenant).await?,
    })
}

/// Change tenant settings (org_admin+)
#[utoipa::path(
    put,
    path = "/settings",
    operation_id = "putSettings",
    params(TenantQuery),
    request_body = inline(SettingsChange),
    responses((status = 200, description = "OK", body = inline(Settings)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn put(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    // Every field may be left out, so serde would also read `[null, null]` as a change.
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad(
            "invalid_body",
            "request body is not the expected JSON",
        ));
    }
    let input: SettingsChange = http::body(req)?;
    let mut audit: Vec<(&str, AttributeValue)> = Vec::new();
    // Checked before anything is stored: a refused change stores nothing.
    let mut breaker = api.store.breaker_settings(tenant).await?;
    if let Some(change) = &input.circuit_breaker {
        breaker = change.applied_to(breaker)?;
    }
    if let Some(payloads) = &input.opt_out_payloads {
        if payloads.len() > 20
            || payloads
                .iter()
                .any(|p| p.is_empty() || p.chars().count() > 256)
        {
            return Err(ApiError::bad(
                "invalid_opt_out_payloads",
                "opt_out_payloads: at most 20 payloads of 1-256 characters",
            ));
        }
    }
    let retention_days = input
        .retention_days
        .as_ref()
        .map(|v| {
            v.as_u64()
                .filter(|d| (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(d))
                .ok_or_else(|| {
                    ApiError::bad(
                        "invalid_retention_days",
                        "retention_days: a whole number of days from 7 to 3650",
                    )
                })
        })
        .transpose()?;
    let mut notifications = api.store.notification_settings(tenant).await?;
    if let Some(change) = &input.notifications {
        apply(api, tenant, &mut notifications, change, &mut audit).await?;
    }
    if let Some(on) = input.auto_resume {
        api.store.set_auto_resume(tenant, on).await?;
        audit.push(("auto_resume", AttributeValue::Bool(on)));
    }
    if let Some(on) = input.pause_on_flagged {
        api.store.set_pause_on_flagged(tenant, on).await?;
        audit.push(("pause_on_flagged", AttributeValue::Bool(on)));
    }
    if let Some(days) = retention_days {
        api.store.set_retention_days(tenant, days).await?;
        audit.push(("retention_days", shared::store::n(days)));
    }
    if let Some(payloads) = &input.opt_out_payloads {
        api.store.put_opt_out_payloads(tenant, payloads).await?;
        audit.push((
            "opt_out_payloads",
            AttributeValue::L(payloads.iter().map(s).collect()),
        ));
    }
    if input.circuit_breaker.is_some() {
        api.store.put_breaker_settings(tenant, &breaker).await?;
        audit.push((
            "circuit_breaker_enabled",
            AttributeValue::Bool(breaker.enabled),
        ));
        audit.push((
            "circuit_breaker_min_failures",
            shared::store::n(breaker.min_failures),
        ));
        audit.push((
            "circuit_breaker_failure_rate",
            shared::store::n(breaker.failure_rate),
        ));
        audit.push((
            "circuit_breaker_extra_codes",
            AttributeValue::L(breaker.extra_codes.iter().map(shared::store::n).collect()),
        ));
    }
    if !audit.is_empty() {
        record_action(api, tenant, caller, "settings_changed", &audit).await?;
    }
    http::ok(&Settings {
        tenant_id: tenant.to_owned(),
        auto_resume: api.store.auto_resume(tenant).await?,
        notifications: (&notifications).into(),
        circuit_breaker: (&breaker).into(),
        pause_on_flagged: api.store.pause_on_flagged(tenant).await?,
        retention_days: api.store.retention_days(tenant).await?,
        opt_out_payloads: opt_out_payloads(api, tenant).await?,
    })
}

/// The tenant's opt-out payloads as set (the defaults until then).
async fn opt_out_payloads(api: &Api, tenant: &str) -> Result<Vec<String>, ApiError> {
    Ok(api.store.opt_out_payloads_as_set(tenant).await?)
}

/// Checks a notification change, stores the Slack URL first (so `slack_configured` is never
/// true without one), then the preferences.
async fn apply(
    api: &Api,
    tenant: &str,
    settings: &mut NotificationSettings,
    change: &NotificationsChange,
    audit: &mut Vec<(&str, AttributeValue)>,
) -> Result<(), ApiError> {
    if change
        .quiet_window_seconds
        .is_some_and(|q| q > MAX_QUIET_WINDOW_SECONDS)
    {
        return Err(ApiError::bad(
            "invalid_quiet_window",
            "quiet_window_seconds is at most 86400",
        ));
    }
    if change.channels.as_ref().is_some_and(|c| c.len() > 2) {
        return Err(ApiError::bad(
            "invalid_channels",
            "at most the two channels, sns and slack",
        ));
    }
    if let Some(Some(url)) = &change.slack_webhook_url {
        if url.len() > 2048 {
            return Err(ApiError::bad(
                "invalid_slack_webhook_url",
                "the Slack webhook URL is at most 2048 bytes",
            ));
        }
        api.slack
            .check(url)
            .map_err(|e| ApiError::bad("invalid_slack_webhook_url", e.to_string()))?;
    }
    let slack_after = match &change.slack_webhook_url {
        Some(url) => url.is_some(),
        None => settings.slack_configured,
    };
    if let Some(channels) = &change.channels {
        if channels.contains(&ChannelName::Slack) && !slack_after {
            return Err(ApiError::bad(
                "slack_not_configured",
                "the slack channel needs a slack_webhook_url",
            ));
        }
        let mut channels: Vec<Channel> = channels.iter().map(|c| (*c).into()).collect();
        channels.sort();
        channels.dedup();
        audit.push((
            "channels",
            AttributeValue::L(channels.iter().map(|c| s(c.as_str())).collect()),
        ));
        settings.channels = channels;
    }
    match &change.slack_webhook_url {
        Some(Some(url)) => {
            api.secrets
                .put(tenant, TenantSecret::SlackWebhook, url)
                .await
                .map_err(secrets_error)?;
            audit.push(("slack_webhook_url", s("set")));
        }
        Some(None) => {
            api.secrets
                .delete(tenant, TenantSecret::SlackWebhook)
                .await
                .map_err(secrets_error)?;
            // Without a URL the slack channel cannot deliver: it is dropped.
            settings.channels.retain(|c| *c != Channel::Slack);
            audit.push(("slack_webhook_url", s("removed")));
        }
        None => {}
    }
    settings.slack_configured = slack_after;
    if let Some(severity) = change.min_severity {
        settings.min_severity = severity.into();
        audit.push(("min_severity", s(settings.min_severity.as_str())));
    }
    if let Some(q) = change.quiet_window_seconds {
        settings.quiet_window_seconds = q;
        audit.push(("quiet_window_seconds", shared::store::n(q)));
    }
    api.store
        .put_notification_settings(tenant, settings)
        .await?;
    Ok(())
}

fn secrets_error(e: shared::secrets::SecretsError) -> ApiError {
    ApiError::Upstream(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the Slack webhook URL could not be stored ({})", e.code),
    )
}
