//! A campaign as the store keeps it: the counters the counters fold moves, its status and the
//! holds that pause it. Plain data, so the pure rules (`domain::health`) and the store share it
//! without the domain knowing the store.

use serde::Deserialize;

/// Campaign statuses.
pub const ACTIVE: &str = "ACTIVE";
pub const PAUSED: &str = "PAUSED";

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CampaignRecord {
    pub campaign_id: String,
    pub tenant_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub template_id: u64,
    pub phone_number_id: String,
    #[serde(default)]
    pub waba_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub registered: i64,
    #[serde(default)]
    pub reached_sent: i64,
    #[serde(default)]
    pub reached_delivered: i64,
    #[serde(default)]
    pub reached_read: i64,
    #[serde(default)]
    pub reached_failed: i64,
    #[serde(default)]
    pub current_sent: i64,
    #[serde(default)]
    pub current_delivered: i64,
    #[serde(default)]
    pub current_read: i64,
    #[serde(default)]
    pub current_played: i64,
    #[serde(default)]
    pub current_failed: i64,
    /// Messages replied to, and recipients who opted out (folded from the stream).
    #[serde(default)]
    pub replied: i64,
    #[serde(default)]
    pub opted_out: i64,
    #[serde(default)]
    pub holds: Option<Vec<String>>,
    #[serde(default)]
    pub paused_by_user: Option<bool>,
    #[serde(default)]
    pub auto_paused_by: Option<String>,
    #[serde(default)]
    pub pause_reason: Option<String>,
    #[serde(default)]
    pub paused_at: Option<u64>,
}
