//! What contacts do after a campaign reaches them: the first reply to a campaign message (on
//! the message item, so the counters fold counts it exactly once), opt-outs per phone number,
//! and the 24-hour customer-service window of each contact and number.
//!
//! Contact ids are personal data: a window expires by TTL 7 days after it closes; opt-outs are
//! kept until the contact is erased (a business must keep honouring them).

use super::expr::Expr;
use super::queries::{number, text, ListQuery, Page};
use super::{key, keys, n, now, s, Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// The customer-service window Meta opens with each inbound message.
pub const WINDOW_SECONDS: u64 = 24 * 3600;
/// A closed window's item is kept this long, then expires.
pub const WINDOW_KEPT_AFTER_CLOSE_SECONDS: u64 = 7 * 24 * 3600;

/// A first reply to a campaign message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The campaign message replied to (`context.id`).
    pub wamid: String,
    /// The inbound message's time (Unix seconds).
    pub at: u64,
    /// `text`, `button`, `interactive`, ...
    pub kind: String,
    /// A quick-reply payload or interactive reply id (never message text).
    pub button: Option<String>,
    /// The button is one of the tenant's opt-out payloads.
    pub opts_out: bool,
}

/// A contact's window with a phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub last_inbound_at: u64,
    pub closes_at: u64,
}

/// A recorded opt-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOut {
    pub contact: String,
    pub at: u64,
    /// `failure_131050` or `reply`.
    pub source: String,
    pub campaign_id: Option<String>,
}

/// A campaign's replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignReplies {
    pub replied: i64,
    pub by_kind: std::collections::BTreeMap<String, i64>,
    /// `(payload, count)`, most pressed first.
    pub buttons: Vec<(String, i64)>,
}

/// Longest button payload kept (a campaign attribute name is built from it).
const MAX_BUTTON_CHARS: usize = 100;

impl Store {
    /// Marks a campaign message replied, keeping the earliest reply: `Some(campaign_id)` when
    /// this reply is now the message's first; `None` for a message that no campaign registered
    /// (or that does not exist), or when an earlier reply is already recorded.
    pub async fn mark_replied(
        &self,
        tenant_id: &str,
        reply: &Reply,
    ) -> Result<Option<String>, StoreError> {
        let mut e = Expr::new();
        e.set("replied_at", n(reply.at))
            .set("reply_kind", s(super::clip(&reply.kind)))
            .set("updated_at", n(now()));
        match &reply.button {
            Some(b) => {
                let b: String = b.chars().take(MAX_BUTTON_CHARS).collect();
                e.set("reply_button", s(b));
            }
            None => {
                e.remove("reply_button");
            }
        }
        if reply.opts_out {
            e.set("opted_out", AttributeValue::Bool(true));
        }
        let (campaign, replied_at) = (e.name("campaign_id"), e.name("replied_at"));
        let at = e.value(n(reply.at));
        e.condition(format!(
            "attribute_exists({campaign}) AND (attribute_not_exists({replied_at}) OR {replied_at} > {at})"
        ));
        let message_key = key(keys::message(tenant_id, &reply.wamid), keys::MESSAGE_SK);
        match self.update(message_key, e, Some(ReturnValue::AllNew)).await {
            Ok(item) => Ok(item.as_ref().and_then(|i| text(i, "campaign_id"))),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens or extends a contact's window with a phone number to `at + 24 h`; an older
    /// inbound message changes nothing.
    pub async fn extend_window(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        contact: &str,
        at: u64,
    ) -> Result<(), StoreError> {
        let closes_at = at + WINDOW_SECONDS;
        let mut e = Expr::new();
        e.set("entity", s("window"))
            .set("tenant_id", s(tenant_id))
            .set("last_inbound_at", n(at))
            .set("closes_at", n(closes_at))
            .set("expires_at", n(closes_at + WINDOW_KEPT_AFTER_CLOSE_SECONDS));
        let last = e.name("last_inbound_at");
        let v = e.value(n(at));
        e.condition(format!("attribute_not_exists({last}) OR {last} < {v}"));
        match self
            .update(
                key(
                    keys::window(tenant_id, phone_number_id, contact),
                    keys::WINDOW_SK,
                ),
                e,
                None,
            )
            .await
        {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A contact's window with a phone number; `None` when it never wrote (or it expired).
    pub async fn window(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        contact: &str,
    ) -> Result<Option<Window>, StoreError> {
        let item = self
            .get(
                &keys::window(tenant_id, phone_number_id, contact),
                keys::WINDOW_SK,
            )
            .await?;
        Ok(item.and_then(|i| {
            Some(Window {
                last_inbound_at: number(&i, "last_inbound_at")?.max(0) as u64,
                closes_at: number(&i, "closes_at")?.max(0) as u64,
            })
        }))
    }

    /// Records that a contact opted out of a phone number's messages (the first record stays).
    /// It carries the contact, so it expires with the tenant's `retention_days` like every item
    /// that does (docs/privacy.md); an erasure deletes it sooner.
    pub async fn record_opt_out(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        opt_out: &OptOut,
    ) -> Result<bool, StoreError> {
        let retention_days = self.retention_days(tenant_id).await?;
        let mut item = key(
            keys::opt_outs(tenant_id, phone_number_id),
            opt_out.contact.clone(),
        );
        item.insert("entity".into(), s("opt_out"));
        item.insert("tenant_id".into(), s(tenant_id));
        item.insert("phone_number_id".into(), s(phone_number_id));
        item.insert("contact".into(), s(&opt_out.contact));
        item.insert("at".into(), n(opt_out.at));
        item.insert("source".into(), s(&opt_out.source));
        item.insert(
            "expires_at".into(),
            n(opt_out.at.max(now()) + retention_days * 86_400),
        );
        if let Some(c) = &opt_out.campaign_id {
            item.insert("campaign_id".into(), s(c));
        }
        self.put_new(item).await
    }

    /// A page of a phone number's opt-outs, by contact.
    pub async fn opt_outs(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        limit: i32,
        start: Option<super::Item>,
    ) -> Result<(Vec<OptOut>, Page), StoreError> {
        let mut q = ListQuery::partition(keys::opt_outs(tenant_id, phone_number_id));
        q.limit = limit;
        q.start = start;
        let page = self.list(q).await?;
        let items = page
            .items
            .iter()
            .map(|i| OptOut {
                contact: text(i, "contact").unwrap_or_default(),
                at: number(i, "at").unwrap_or_default().max(0) as u64,
                source: text(i, "source").unwrap_or_default(),
                campaign_id: text(i, "campaign_id"),
            })
            .collect();
        Ok((items, page))
    }

    /// The tenant's opt-out payloads, lower-cased for matching.
    pub async fn opt_out_payloads(&self, tenant_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .opt_out_payloads_as_set(tenant_id)
            .await?
            .iter()
            .map(|p| p.to_lowercase())
            .collect())
    }

    /// The tenant's opt-out payloads (setting `opt_out_payloads`) as set, or the defaults.
    pub async fn opt_out_payloads_as_set(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), keys::SETTINGS_SK)
            .await?
            .unwrap_or_default();
        Ok(match item.get("opt_out_payloads") {
            Some(AttributeValue::L(list)) => {
                list.iter().filter_map(|v| v.as_s().ok()).cloned().collect()
            }
            _ => DEFAULT_OPT_OUT_PAYLOADS.map(str::to_owned).to_vec(),
        })
    }

    /// A campaign's replies: how many, by kind, and by button (most pressed first), from its
    /// `replied`, `reply_kind_<kind>` and `button_<payload>` counters. `None` when it does not
    /// exist.
    pub async fn campaign_replies(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<Option<CampaignReplies>, StoreError> {
        use crate::domain::counters::{BUTTON_PREFIX, REPLY_KIND_PREFIX};
        let Some(item) = self
            .get(&keys::tenant(tenant_id), &keys::campaign(campaign_id))
            .await?
        else {
            return Ok(None);
        };
        let counted = |prefix: &str| -> Vec<(String, i64)> {
            item.iter()
                .filter_map(|(name, v)| {
                    let key = name.strip_prefix(prefix)?;
                    let count = v.as_n().ok()?.parse::<i64>().ok()?;
                    (count > 0).then(|| (key.to_owned(), count))
                })
                .collect()
        };
        let mut buttons = counted(BUTTON_PREFIX);
        buttons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Some(CampaignReplies {
            replied: number(&item, "replied").unwrap_or_default(),
            by_kind: counted(REPLY_KIND_PREFIX).into_iter().collect(),
            buttons,
        }))
    }

    /// Stores the tenant's opt-out payloads.
    pub async fn put_opt_out_payloads(
        &self,
        tenant_id: &str,
        payloads: &[String],
    ) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set(
            "opt_out_payloads",
            AttributeValue::L(payloads.iter().map(s).collect()),
        )
        .set("entity", s("settings"))
        .set("updated_at", n(now()));
        self.update(key(keys::tenant(tenant_id), keys::SETTINGS_SK), e, None)
            .await?;
        Ok(())
    }
}

/// Payloads that opt a contact out until the tenant sets its own.
pub const DEFAULT_OPT_OUT_PAYLOADS: [&str; 2] = ["STOP", "Stop promotions"];
