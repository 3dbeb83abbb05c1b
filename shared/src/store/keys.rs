//! Every key of the single table, and nothing else builds one. Tenant-first and prefixed, so one
//! tenant's items never share a partition or a key prefix with another's.

/// Sort key of one-of-a-kind items under their partition.
pub const MESSAGE_SK: &str = "MESSAGE";
pub const ROUTE_SK: &str = "ROUTE";
pub const SETTINGS_SK: &str = "SETTINGS";
pub const LEDGER_SK: &str = "LEDGER";
/// The index whose keys are `gsi1pk` / `gsi1sk`.
pub const GSI1: &str = "gsi1";

/// A tenant's own partition: campaigns, templates, alerts, phone numbers, settings.
pub fn tenant(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

/// One message's partition, found by wamid within a tenant.
pub fn message(tenant_id: &str, wamid: &str) -> String {
    format!("TENANT#{tenant_id}#WAMID#{wamid}")
}

/// Sort key of a campaign under [`tenant`].
pub fn campaign(campaign_id: &str) -> String {
    format!("CAMPAIGN#{campaign_id}")
}

/// Sort key of a template under [`tenant`].
pub fn template(template_id: u64) -> String {
    format!("TEMPLATE#{template_id}")
}

/// Sort key of a phone number under [`tenant`].
pub fn phone(phone_number_id: &str) -> String {
    format!("PHONE#{phone_number_id}")
}

/// Sort key of a WhatsApp Business Account under [`tenant`].
pub fn waba(waba_id: &str) -> String {
    format!("WABA#{waba_id}")
}

/// Sort key of an alert under [`tenant`].
pub fn alert(alert_id: &str) -> String {
    format!("ALERT#{alert_id}")
}

/// gsi1 partition: the campaigns that use a template (auto-pause finds them here).
pub fn template_campaigns(tenant_id: &str, template_id: u64) -> String {
    format!("TENANT#{tenant_id}#TEMPLATE#{template_id}#CAMPAIGNS")
}

/// gsi1 partition: the messages of a campaign.
pub fn campaign_messages(tenant_id: &str, campaign_id: &str) -> String {
    format!("TENANT#{tenant_id}#CAMPAIGN#{campaign_id}#MESSAGES")
}

/// gsi1 partition: a tenant's open (unacknowledged) alerts.
pub fn open_alerts(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}#ALERTS#OPEN")
}

/// A template's status history.
pub fn template_history(tenant_id: &str, template_id: u64) -> String {
    format!("TENANT#{tenant_id}#TEMPLATE#{template_id}#HISTORY")
}

/// A tenant's audit trail (who or what paused, resumed, acknowledged).
pub fn audit(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}#AUDIT")
}

/// A tenant's change feed for realtime clients.
pub fn feed(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}#FEED")
}

/// The counters fold's ledger entry of a run of stream records, named by its first record.
pub fn counted_run(first_event_id: &str) -> String {
    format!("COUNTED#{first_event_id}")
}

/// Events no tenant could be found for.
pub fn unrouted() -> String {
    "UNROUTED".to_owned()
}

/// Routing item of a phone number id.
pub fn phone_route(phone_number_id: &str) -> String {
    format!("ROUTE#PHONE#{phone_number_id}")
}

/// gsi1 partition: every routed WABA (the scheduled template sync pages through it), sorted by
/// [`tenant_waba`] so one tenant's WABAs are a key prefix.
pub const ROUTED_WABAS: &str = "ROUTES#WABA";

/// gsi1 sort key of a routed WABA under [`ROUTED_WABAS`].
pub fn tenant_waba(tenant_id: &str, waba_id: &str) -> String {
    format!("{tenant_id}#{waba_id}")
}

/// Routing item of a WABA id.
pub fn waba_route(waba_id: &str) -> String {
    format!("ROUTE#WABA#{waba_id}")
}

/// A time-ordered sort key: zero-padded seconds, then a discriminator.
pub fn timed(time: u64, id: &str) -> String {
    format!("{time:010}#{id}")
}

/// Sort key of the quiet window of alerts about one subject and kind, under [`tenant`].
pub fn notify_window(subject: &str, kind: &str) -> String {
    format!("NOTIFYWINDOW#{subject}#{kind}")
}

/// Sort key of one alert's delivery on one channel, under [`tenant`].
pub fn notification(alert_id: &str, channel: &str) -> String {
    format!("NOTIFIED#{alert_id}#{channel}")
}

/// A realtime connection's own item (found by connection id on `$disconnect` and `subscribe`).
pub fn connection(connection_id: &str) -> String {
    format!("CONNECTION#{connection_id}")
}

/// gsi1 partition: a tenant's open realtime connections (fan-out finds them here).
pub fn tenant_connections(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}#CONNECTIONS")
}
