//! Every key of the single table, and nothing else builds one. Tenant-first and prefixed, so one
//! tenant's items never share a partition or a key prefix with another's.

/// Sort key of one-of-a-kind items under their partition.
pub const MESSAGE_SK: &str = "MESSAGE";
pub const ROUTE_SK: &str = "ROUTE";
pub const SETTINGS_SK: &str = "SETTINGS";
pub const LEDGER_SK: &str = "LEDGER";
/// The index whose keys are `gsi1pk` / `gsi1sk` (projects every attribute): alerts, routes,
/// connections; campaigns and messages written before `gsi2` existed.
pub const GSI1: &str = "gsi1";
/// The index whose keys are `gsi2pk` / `gsi2sk`, KEYS_ONLY: the members of a parent (a
/// campaign's messages, a template's campaigns), written once when the member is created.
/// Updates of a member never write it (its keys never change and nothing else is projected),
/// so a status costs no index write; readers fetch the members with BatchGetItem.
pub const GSI2: &str = "gsi2";
/// Index partitions a campaign's messages are spread over, so registering a campaign's
/// messages at 1,000 a second puts about 125 writes a second on each (a partition takes 1,000).
pub const MESSAGE_SHARDS: u8 = 8;

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

/// gsi2 (gsi1 before it) partition: the campaigns that use a template (auto-pause finds them
/// here).
pub fn template_campaigns(tenant_id: &str, template_id: u64) -> String {
    format!("TENANT#{tenant_id}#TEMPLATE#{template_id}#CAMPAIGNS")
}

/// gsi1 partition of the messages of a campaign registered before `gsi2` (read until they are
/// moved: README, "Migrating a deployed table").
pub fn campaign_messages(tenant_id: &str, campaign_id: &str) -> String {
    format!("TENANT#{tenant_id}#CAMPAIGN#{campaign_id}#MESSAGES")
}

/// gsi2 partition: one shard of the messages of a campaign.
pub fn campaign_messages_shard(tenant_id: &str, campaign_id: &str, shard: u8) -> String {
    format!("TENANT#{tenant_id}#CAMPAIGN#{campaign_id}#MESSAGES#{shard}")
}

/// The shard of a campaign's messages a wamid belongs to: stable, and even over wamids.
pub fn message_shard(wamid: &str) -> u8 {
    use sha2::{Digest, Sha256};
    Sha256::digest(wamid.as_bytes())[0] % MESSAGE_SHARDS
}

/// gsi2 sort key of a message under its shard.
pub fn message_member(wamid: &str) -> String {
    format!("MESSAGE#{wamid}")
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

/// A campaign's timeline: one item per bucket of [`crate::domain::timeline::BUCKET_SECONDS`],
/// under a partition of its own (the tenant's partition takes the campaign counters already).
pub fn campaign_timeline(tenant_id: &str, campaign_id: &str) -> String {
    format!("TENANT#{tenant_id}#CAMPAIGN#{campaign_id}#TIMELINE")
}

/// A timeline bucket's sort key: its start, zero-padded so keys sort by time.
pub fn timeline_bucket(start: u64) -> String {
    format!("{start:010}")
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

/// A contact erasure's progress, under the tenant's partition.
pub fn erasure(job_id: &str) -> String {
    format!("ERASURE#{job_id}")
}

/// A contact's 24-hour customer-service window with a phone number of the tenant.
pub fn window(tenant_id: &str, phone_number_id: &str, contact: &str) -> String {
    format!("TENANT#{tenant_id}#WINDOW#{phone_number_id}#{contact}")
}
pub const WINDOW_SK: &str = "WINDOW";

/// The contacts who opted out of a phone number's messages (sort key: the contact).
pub fn opt_outs(tenant_id: &str, phone_number_id: &str) -> String {
    format!("TENANT#{tenant_id}#OPTOUTS#{phone_number_id}")
}

/// A phone number's quality history (sort key: time and event).
pub fn phone_history(tenant_id: &str, phone_number_id: &str) -> String {
    format!("TENANT#{tenant_id}#PHONE#{phone_number_id}#HISTORY")
}

/// A WABA's account news history (sort key: time and event).
pub fn waba_history(tenant_id: &str, waba_id: &str) -> String {
    format!("TENANT#{tenant_id}#WABA#{waba_id}#HISTORY")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_spread_evenly_over_their_shards() {
        let mut per_shard = [0usize; MESSAGE_SHARDS as usize];
        for i in 0..8000 {
            let shard = message_shard(&format!("wamid.HBgLMTU1NTEyMzAwMDEVAgARGBI{i}"));
            per_shard[shard as usize] += 1;
        }
        // 1,000 expected each; a hot shard would defeat the point.
        assert!(
            per_shard.iter().all(|n| (850..1150).contains(n)),
            "{per_shard:?}"
        );
        assert_eq!(message_shard("wamid.A"), message_shard("wamid.A"));
    }
}
