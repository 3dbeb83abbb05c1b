//! Realtime: what a table change means to a connected client, and who may hear it.
//!
//! The processor and the counters fold append feed items for applied changes, and the fold moves
//! campaign counters in the same table; the table's stream carries both. [`plan`] turns one stream batch into the
//! messages to push, per tenant and per audience, coalescing per campaign: however many statuses
//! of a campaign a batch holds, subscribers of `reports` get one `campaign_progress` for it with
//! the counters of its last image. Per-message `report_update`s go only to connections
//! subscribed to that campaign.

pub mod push;
pub mod sse;

use crate::store::CampaignRecord;
use serde::Serialize;
use std::collections::BTreeMap;

/// The message format's version: clients check it before reading the rest.
pub const VERSION: u8 = 1;
/// API Gateway WebSocket frames are limited to 128 KB; messages stay well under it.
pub const MAX_MESSAGE_BYTES: usize = 96 * 1024;

/// How old a feed id must be before a reader that resumes by id (SSE, `GET /feed`) sends it:
/// the counters fold names its items by the second their stream record was made and writes
/// them up to about 2.5 s later, so a younger id may still be joined by items sorting below it.
pub const FEED_SETTLE_MILLIS: u64 = 3000;

/// What a client can listen to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Topic {
    /// Campaign progress, pauses and resumes of every campaign.
    Reports,
    /// Template status, quality and category changes.
    Templates,
    /// Alerts and account events.
    Alerts,
    /// One campaign: its progress, pauses, and every message's status.
    Campaign(String),
}

impl Topic {
    /// `reports`, `templates`, `alerts` or `campaign:<id>` (id: 1-128 of A-Z a-z 0-9 - _ .).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reports" => Some(Self::Reports),
            "templates" => Some(Self::Templates),
            "alerts" => Some(Self::Alerts),
            _ => {
                let id = s.strip_prefix("campaign:")?;
                let valid = (1..=128).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                valid.then(|| Self::Campaign(id.to_owned()))
            }
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            Self::Reports => "reports".into(),
            Self::Templates => "templates".into(),
            Self::Alerts => "alerts".into(),
            Self::Campaign(id) => format!("campaign:{id}"),
        }
    }

    /// What a connection listens to when it names nothing.
    pub fn defaults() -> Vec<Topic> {
        vec![Self::Reports, Self::Templates, Self::Alerts]
    }
}

/// The kinds of message a client receives (the replaced system's names, plus progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ReportUpdate,
    /// A contact's first reply to a campaign message.
    Reply,
    TemplateUpdate,
    CampaignPaused,
    CampaignResumed,
    CampaignProgress,
    Alert,
    AccountUpdate,
    /// An operator's test event (`POST /realtime/test`), to check a stream end to end.
    TestEvent,
}

impl Kind {
    /// The kind a feed item of `feed_kind` becomes.
    pub fn of_feed(feed_kind: &str) -> Option<Self> {
        Some(match feed_kind {
            "message_status" | "message_statuses" => Self::ReportUpdate,
            "reply" => Self::Reply,
            "template" => Self::TemplateUpdate,
            "campaign_paused" => Self::CampaignPaused,
            "campaign_resumed" => Self::CampaignResumed,
            "alert" => Self::Alert,
            "phone_quality"
            | "account_disable_scheduled"
            | "account_disabled"
            | "account_reinstated"
            | "account_alert" => Self::AccountUpdate,
            "test_event" => Self::TestEvent,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReportUpdate => "report_update",
            Self::Reply => "reply",
            Self::TemplateUpdate => "template_update",
            Self::CampaignPaused => "campaign_paused",
            Self::CampaignResumed => "campaign_resumed",
            Self::CampaignProgress => "campaign_progress",
            Self::Alert => "alert",
            Self::AccountUpdate => "account_update",
            Self::TestEvent => "test_event",
        }
    }

    /// Whether a SSE stream of `stream` carries this kind (`/realtime/reports` and
    /// `/realtime/templates`, as the replaced system split them).
    pub fn in_stream(self, stream: Stream) -> bool {
        match stream {
            _ if self == Self::TestEvent => true,
            Stream::Reports => matches!(
                self,
                Self::ReportUpdate
                    | Self::Reply
                    | Self::CampaignPaused
                    | Self::CampaignResumed
                    | Self::CampaignProgress
            ),
            Stream::Templates => matches!(
                self,
                Self::TemplateUpdate | Self::Alert | Self::AccountUpdate
            ),
        }
    }
}

/// The two SSE streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Reports,
    Templates,
}

/// One message to a client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub v: u8,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The feed item's sort key (UUIDv7, time-ordered): SSE's `id:`, and what to resume from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    pub data: serde_json::Value,
}

impl Message {
    /// The messages of a feed item; none for kinds clients do not receive. A
    /// `message_statuses` item (one run of the counters fold) holds many messages' moves and
    /// becomes one `report_update` each; only the last carries the item's id, so a client that
    /// resumes from it has had them all.
    pub fn from_feed(feed: &FeedImage) -> Vec<Self> {
        let Some(kind) = Kind::of_feed(&feed.kind) else {
            return Vec::new();
        };
        let Ok(data) = serde_json::from_str::<serde_json::Value>(&feed.summary) else {
            return Vec::new();
        };
        let campaign_id = data
            .get("campaign_id")
            .and_then(|c| c.as_str())
            .map(str::to_owned);
        if feed.kind != "message_statuses" {
            return vec![Self {
                v: VERSION,
                kind,
                id: Some(feed.sk.clone()),
                campaign_id,
                data,
            }];
        }
        let updates = updates_of(&data);
        let last = updates.len().saturating_sub(1);
        updates
            .iter()
            .enumerate()
            .map(|(i, update)| {
                let mut data = update.clone();
                if let Some(fields) = data.as_object_mut() {
                    fields.insert("campaign_id".into(), campaign_id.clone().into());
                }
                Self {
                    v: VERSION,
                    kind,
                    id: (i == last).then(|| feed.sk.clone()),
                    campaign_id: campaign_id.clone(),
                    data,
                }
            })
            .collect()
    }

    /// Who hears it: a connection hears a message when it listens to any of these topics.
    pub fn audience(&self) -> Vec<Topic> {
        let campaign = self.campaign_id.clone().map(Topic::Campaign);
        match self.kind {
            Kind::ReportUpdate | Kind::Reply => campaign.into_iter().collect(),
            Kind::CampaignProgress | Kind::CampaignPaused | Kind::CampaignResumed => {
                std::iter::once(Topic::Reports).chain(campaign).collect()
            }
            Kind::TemplateUpdate => vec![Topic::Templates],
            Kind::Alert | Kind::AccountUpdate => vec![Topic::Alerts],
            Kind::TestEvent => Topic::defaults(),
        }
    }

    /// Whether a connection listening to `topics` hears it.
    pub fn is_for(&self, topics: &[Topic]) -> bool {
        self.audience().iter().any(|t| topics.contains(t))
    }

    /// The JSON frame, or `None` when it would exceed [`MAX_MESSAGE_BYTES`] (never expected:
    /// summaries hold ids and states only).
    pub fn to_frame(&self) -> Option<String> {
        serde_json::to_string(self)
            .ok()
            .filter(|f| f.len() <= MAX_MESSAGE_BYTES)
    }
}

/// The message updates of a `message_statuses` summary, each `{"wamid", "from", "to"}`, in the
/// order clients hear them. Items are written with `moves` (grouped by kind); items written
/// before that (24 h TTL) hold `updates`, one object each.
fn updates_of(summary: &serde_json::Value) -> Vec<serde_json::Value> {
    if let Some(updates) = summary.get("updates").and_then(|u| u.as_array()) {
        return updates.clone();
    }
    let moves = summary
        .get("moves")
        .and_then(|m| m.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    moves
        .iter()
        .flat_map(|m| {
            let wamids = m
                .get("wamids")
                .and_then(|w| w.as_array())
                .map(Vec::as_slice)
                .unwrap_or_default();
            wamids.iter().map(move |wamid| {
                let mut update = serde_json::json!({
                    "wamid": wamid,
                    "from": m.get("from").cloned().unwrap_or_default(),
                    "to": m.get("to").cloned().unwrap_or_default(),
                });
                if let Some(error) = m.get("error") {
                    update["error"] = error.clone();
                }
                update
            })
        })
        .collect()
}

/// A feed item as stored: the store reads it, the realtime paths send it.
pub use crate::store::FeedImage;

/// The progress message of a campaign's current image.
fn progress(campaign: &CampaignRecord) -> Message {
    Message {
        v: VERSION,
        kind: Kind::CampaignProgress,
        id: None,
        campaign_id: Some(campaign.campaign_id.clone()),
        data: serde_json::json!({
            "campaign_id": campaign.campaign_id,
            "status": campaign.status,
            "registered": campaign.registered,
            "sent": campaign.reached_sent,
            "delivered": campaign.reached_delivered,
            "read": campaign.reached_read,
            "failed": campaign.reached_failed,
        }),
    }
}

/// One change of a stream batch, decoded: what [`plan`] reads.
#[derive(Debug, Clone)]
pub enum Change {
    /// A feed item was inserted.
    Feed { tenant_id: String, feed: FeedImage },
    /// A campaign item changed; `before` is its old image, if any.
    Campaign {
        before: Option<Box<CampaignRecord>>,
        after: Box<CampaignRecord>,
    },
}

/// The tenant of a feed partition key (`TENANT#<t>#FEED`).
pub fn feed_tenant(pk: &str) -> Option<&str> {
    pk.strip_prefix("TENANT#")?.strip_suffix("#FEED")
}

/// What one stream batch sends, per tenant, in stream order; campaign progress coalesced to one
/// message per campaign (its last image), after that campaign's other messages.
pub fn plan(changes: &[Change]) -> BTreeMap<String, Vec<Message>> {
    let mut out: BTreeMap<String, Vec<Message>> = BTreeMap::new();
    let mut latest: BTreeMap<(String, String), CampaignRecord> = BTreeMap::new();
    for change in changes {
        match change {
            Change::Feed { tenant_id, feed } => {
                let messages = Message::from_feed(feed);
                if !messages.is_empty() {
                    out.entry(tenant_id.clone()).or_default().extend(messages);
                }
            }
            Change::Campaign { before, after } => {
                let moved = before.as_ref().is_none_or(|b| b != after);
                if moved {
                    latest.insert(
                        (after.tenant_id.clone(), after.campaign_id.clone()),
                        (**after).clone(),
                    );
                }
            }
        }
    }
    for ((tenant_id, _), campaign) in latest {
        out.entry(tenant_id).or_default().push(progress(&campaign));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(sk: &str, kind: &str, summary: serde_json::Value) -> Change {
        Change::Feed {
            tenant_id: "acme".into(),
            feed: FeedImage {
                pk: "TENANT#acme#FEED".into(),
                sk: sk.into(),
                kind: kind.into(),
                summary: summary.to_string(),
            },
        }
    }

    fn campaign(id: &str, sent: i64) -> CampaignRecord {
        serde_json::from_value(serde_json::json!({
            "tenant_id": "acme", "campaign_id": id, "status": "ACTIVE", "template_id": 1,
            "phone_number_id": "1", "registered": 1000, "reached_sent": sent,
        }))
        .unwrap()
    }

    #[test]
    fn a_thousand_statuses_of_one_campaign_become_one_progress_message() {
        let mut changes = Vec::new();
        for i in 0..1000 {
            changes.push(feed(
                &format!("{i:04}"),
                "message_status",
                serde_json::json!({"wamid": format!("w{i}"), "campaign_id": "c1", "from": null, "to": "sent"}),
            ));
            changes.push(Change::Campaign {
                before: Some(Box::new(campaign("c1", i))),
                after: Box::new(campaign("c1", i + 1)),
            });
        }
        let plan = plan(&changes);
        let acme = &plan["acme"];
        let progress: Vec<_> = acme
            .iter()
            .filter(|m| m.kind == Kind::CampaignProgress)
            .collect();
        assert_eq!(progress.len(), 1);
        assert_eq!(progress[0].data["sent"], 1000);
        assert_eq!(
            acme.iter().filter(|m| m.kind == Kind::ReportUpdate).count(),
            1000
        );
        // Progress reaches `reports` listeners; per-message updates only the campaign's own.
        let reports = [Topic::Reports];
        assert_eq!(acme.iter().filter(|m| m.is_for(&reports)).count(), 1);
        let campaign_only = [Topic::Campaign("c1".into())];
        assert_eq!(
            acme.iter().filter(|m| m.is_for(&campaign_only)).count(),
            1001
        );
        assert!(acme.iter().all(|m| m.to_frame().is_some()));
    }

    #[test]
    fn a_feed_item_of_grouped_moves_becomes_the_same_report_updates_in_order() {
        let changes = vec![feed(
            "0193",
            "message_statuses",
            serde_json::json!({"campaign_id": "c1", "moves": [
                {"from": "pending", "to": "sent", "wamids": ["w1", "w2"]},
                {"from": "sent", "to": "delivered", "wamids": ["w1"]},
            ]}),
        )];
        let acme = &plan(&changes)["acme"];
        let heard: Vec<_> = acme
            .iter()
            .map(|m| {
                (
                    m.data["wamid"].as_str().unwrap_or_default(),
                    m.data["from"].as_str().unwrap_or_default(),
                    m.data["to"].as_str().unwrap_or_default(),
                    m.data["campaign_id"].as_str().unwrap_or_default(),
                    m.id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            heard,
            [
                ("w1", "pending", "sent", "c1", None),
                ("w2", "pending", "sent", "c1", None),
                ("w1", "sent", "delivered", "c1", Some("0193")),
            ]
        );
    }

    #[test]
    fn a_folded_feed_item_becomes_one_report_update_per_message_and_only_the_last_has_its_id() {
        let changes = vec![feed(
            "0192",
            "message_statuses",
            serde_json::json!({"campaign_id": "c1", "updates": [
                {"wamid": "w1", "from": "pending", "to": "sent"},
                {"wamid": "w2", "from": "sent", "to": "read"},
            ]}),
        )];
        let acme = &plan(&changes)["acme"];
        assert_eq!(acme.len(), 2);
        assert!(acme.iter().all(|m| m.kind == Kind::ReportUpdate
            && m.campaign_id.as_deref() == Some("c1")
            && m.data["campaign_id"] == "c1"));
        assert_eq!(acme[1].data["wamid"], "w2");
        assert_eq!(acme[1].data["to"], "read");
        assert_eq!(
            (acme[0].id.as_deref(), acme[1].id.as_deref()),
            (None, Some("0192"))
        );
        // An item without updates, or with a summary that is not JSON, sends nothing.
        let empty = vec![
            feed(
                "1",
                "message_statuses",
                serde_json::json!({"campaign_id": "c1"}),
            ),
            Change::Feed {
                tenant_id: "acme".into(),
                feed: FeedImage {
                    pk: "TENANT#acme#FEED".into(),
                    sk: "2".into(),
                    kind: "message_statuses".into(),
                    summary: "{".into(),
                },
            },
        ];
        assert!(plan(&empty).is_empty());
    }

    #[test]
    fn an_unchanged_campaign_image_sends_nothing_and_unknown_feed_kinds_are_skipped() {
        let changes = vec![
            Change::Campaign {
                before: Some(Box::new(campaign("c1", 3))),
                after: Box::new(campaign("c1", 3)),
            },
            feed("1", "something_new", serde_json::json!({})),
        ];
        assert!(plan(&changes).is_empty());
    }

    #[test]
    fn kinds_reach_their_topics() {
        let changes = vec![
            feed(
                "1",
                "template",
                serde_json::json!({"template_id": 1, "event": "PAUSED"}),
            ),
            feed(
                "2",
                "alert",
                serde_json::json!({"subject": "template:1", "kind": "template_paused", "severity": "critical"}),
            ),
            feed(
                "3",
                "campaign_paused",
                serde_json::json!({"campaign_id": "c1", "cause": "template:1"}),
            ),
        ];
        let acme = &plan(&changes)["acme"];
        assert_eq!(acme[0].kind, Kind::TemplateUpdate);
        assert!(acme[0].is_for(&[Topic::Templates]) && !acme[0].is_for(&[Topic::Reports]));
        assert!(acme[1].is_for(&[Topic::Alerts]));
        assert!(
            acme[2].is_for(&[Topic::Reports]) && acme[2].is_for(&[Topic::Campaign("c1".into())])
        );
        assert_eq!(acme[2].id.as_deref(), Some("3"));
        let frame: serde_json::Value = serde_json::from_str(&acme[2].to_frame().unwrap()).unwrap();
        assert_eq!(frame["type"], "campaign_paused");
        assert_eq!(frame["v"], 1);
    }

    #[test]
    fn topics_parse_strictly() {
        assert_eq!(Topic::parse("reports"), Some(Topic::Reports));
        assert_eq!(
            Topic::parse("campaign:c-acme-1"),
            Some(Topic::Campaign("c-acme-1".into()))
        );
        assert_eq!(Topic::parse("campaign:"), None);
        assert_eq!(Topic::parse("campaign:a b"), None);
        assert_eq!(Topic::parse("everything"), None);
        assert_eq!(feed_tenant("TENANT#acme#FEED"), Some("acme"));
        assert_eq!(feed_tenant("TENANT#acme"), None);
    }
}
