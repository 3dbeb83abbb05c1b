//! Message (campaign-log) items: one per (tenant, wamid). State changes are conditional on the
//! version read, so each real transition is written exactly once; the table's stream then moves
//! the campaign counters (`crate::counters`).

use super::expr::Expr;
use super::queries::{text, ListQuery};
use super::{dynamo, key, keys, n, now, s, Item, Store, StoreError};
use crate::domain::message::{MessageChange, MessageState};
use crate::domain::status::Delivery;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;
use std::collections::HashMap;

/// A message's identity: wamids are unique per business, and looked up within the tenant only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey {
    pub tenant_id: String,
    pub wamid: String,
}

impl MessageKey {
    fn item_key(&self) -> Item {
        key(
            keys::message(&self.tenant_id, &self.wamid),
            keys::MESSAGE_SK,
        )
    }
}

/// The stored shape of a message, as far as deciding needs it.
#[derive(Debug, Deserialize)]
struct MessageRecord {
    #[serde(default)]
    version: u64,
    #[serde(default)]
    delivery: Option<String>,
    #[serde(default)]
    campaign_id: Option<String>,
    #[serde(default)]
    sent_at: Option<u64>,
    #[serde(default)]
    delivered_at: Option<u64>,
    #[serde(default)]
    read_at: Option<u64>,
    #[serde(default)]
    played_at: Option<u64>,
    #[serde(default)]
    failed_at: Option<u64>,
    #[serde(default)]
    unknown_statuses: Option<Vec<String>>,
    #[serde(default)]
    billable: Option<bool>,
    #[serde(default)]
    pricing_model: Option<String>,
    #[serde(default)]
    pricing_category: Option<String>,
    #[serde(default)]
    pricing_type: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    conversation_origin: Option<String>,
    #[serde(default)]
    conversation_expires_at: Option<u64>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    recipient_id: Option<String>,
    /// The contact was erased: its recipient id is never written again.
    #[serde(default)]
    recipient_erased: Option<bool>,
}

impl From<MessageRecord> for MessageState {
    fn from(r: MessageRecord) -> Self {
        let reached_at = [
            (Delivery::Sent, r.sent_at),
            (Delivery::Delivered, r.delivered_at),
            (Delivery::Read, r.read_at),
            (Delivery::Played, r.played_at),
            (Delivery::Failed, r.failed_at),
        ]
        .into_iter()
        .filter_map(|(d, t)| t.map(|t| (d, t)))
        .collect();
        MessageState {
            version: r.version,
            delivery: r
                .delivery
                .as_deref()
                .and_then(Delivery::parse)
                .unwrap_or_default(),
            campaign_id: r.campaign_id,
            reached_at,
            unknown_statuses: r.unknown_statuses.unwrap_or_default(),
            billing: crate::domain::message::Billing {
                billable: r.billable,
                pricing_model: r.pricing_model,
                pricing_category: r.pricing_category,
                pricing_type: r.pricing_type,
                conversation_id: r.conversation_id,
                conversation_origin: r.conversation_origin,
                conversation_expires_at: r.conversation_expires_at,
            },
            failure_code: r.error_code,
            has_recipient: r.recipient_id.is_some() || r.recipient_erased == Some(true),
        }
    }
}

/// Attribute holding the first time a state was reached.
fn reached_attribute(d: Delivery) -> String {
    format!("{}_at", d.as_str())
}

/// Where a page of a campaign's messages starts: a source (each gsi2 shard in turn, then the
/// gsi1 partition of messages registered before gsi2) and the key to continue after.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessagesCursor {
    pub source: u8,
    pub after: Option<Item>,
}

/// The source after the shards: the gsi1 partition of messages registered before gsi2.
const LEGACY_SOURCE: u8 = keys::MESSAGE_SHARDS;

/// The sender's acknowledgement that it sent a message in a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub wamid: String,
    pub campaign_id: String,
    pub recipient_id: Option<String>,
    pub template_id: Option<u64>,
    /// When the message item expires (Unix seconds: registration plus the tenant's
    /// `retention_days`); `None` keeps the one it has, or the default retention.
    pub expires_at: Option<u64>,
}

/// Message items without a registration's expiry (a status that came first) expire after the
/// default retention; registration sets the tenant's.
pub const DEFAULT_RETENTION_SECONDS: u64 = 180 * 86_400;

/// What registering did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// Attributed now; `delivery` is the state statuses that came first had already reached.
    Registered { delivery: Delivery },
    /// Already registered to this campaign: nothing changed.
    AlreadyRegistered,
}

impl Store {
    /// Reads the state of many messages (eventually consistent, 100 keys a request: half the
    /// read units of a strongly consistent read). A stale state is harmless: the write that
    /// follows is conditional on the version read, fails, and the processor reads that message
    /// again strongly consistent ([`Store::message_state`]) before deciding again. Messages
    /// without an item yet have the default state (version 0).
    pub async fn message_states(
        &self,
        message_keys: &[MessageKey],
    ) -> Result<HashMap<MessageKey, MessageState>, StoreError> {
        let mut states: HashMap<MessageKey, MessageState> = message_keys
            .iter()
            .map(|k| (k.clone(), MessageState::default()))
            .collect();
        let by_pk: HashMap<String, MessageKey> = message_keys
            .iter()
            .map(|k| (keys::message(&k.tenant_id, &k.wamid), k.clone()))
            .collect();
        let item_keys: Vec<Item> = message_keys.iter().map(MessageKey::item_key).collect();
        for item in self.get_many(&item_keys, false).await? {
            let pk = match item.get("pk") {
                Some(AttributeValue::S(pk)) => pk.clone(),
                _ => continue,
            };
            if let Some(k) = by_pk.get(&pk) {
                let record: MessageRecord = serde_dynamo::from_item(item)?;
                states.insert(k.clone(), record.into());
            }
        }
        Ok(states)
    }

    /// One page of a campaign's messages (at most `limit`), optionally only those in
    /// `delivery`, from `start`; with where the next page starts, if anything may be left. Each
    /// shard's keys come from gsi2 and the messages from one BatchGetItem (eventually
    /// consistent); a filtered page may hold fewer than `limit`, as a filtered Query does.
    pub async fn campaign_messages(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        delivery: Option<&str>,
        limit: i32,
        start: MessagesCursor,
    ) -> Result<(Vec<Item>, Option<MessagesCursor>), StoreError> {
        let mut items = Vec::new();
        let MessagesCursor {
            mut source,
            mut after,
        } = start;
        while source <= LEGACY_SOURCE {
            let want = limit - items.len() as i32;
            if want <= 0 {
                break;
            }
            let mut q = if source < LEGACY_SOURCE {
                ListQuery::members(keys::campaign_messages_shard(
                    tenant_id,
                    campaign_id,
                    source,
                ))
            } else {
                let mut q = ListQuery::index(keys::campaign_messages(tenant_id, campaign_id));
                q.filters.extend(delivery.map(|d| ("delivery", s(d))));
                q
            };
            if let Some(key) = &after {
                if key.get(q.partition_attribute()) != Some(&s(&q.partition)) {
                    return Err(StoreError::Refused("the cursor is not of this campaign"));
                }
            }
            q.limit = want;
            q.start = after.take();
            let page = self.list(q).await?;
            if source < LEGACY_SOURCE {
                let mut members = self.get_many(&page.items, false).await?;
                if let Some(d) = delivery {
                    members.retain(|m| text(m, "delivery").as_deref() == Some(d));
                }
                items.extend(members);
            } else {
                items.extend(page.items);
            }
            match page.next {
                Some(next) => {
                    let next = MessagesCursor {
                        source,
                        after: Some(next),
                    };
                    return Ok((items, Some(next)));
                }
                None => source += 1,
            }
        }
        let next = (source <= LEGACY_SOURCE).then_some(MessagesCursor {
            source,
            after: None,
        });
        Ok((items, next))
    }

    /// Reads one message's state (strongly consistent).
    pub async fn message_state(&self, message: &MessageKey) -> Result<MessageState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(message.item_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        match out.item {
            Some(item) => Ok(serde_dynamo::from_item::<_, MessageRecord>(item)?.into()),
            None => Ok(MessageState::default()),
        }
    }

    /// Writes a decided change: one plain update, conditional on the version it was decided
    /// from (1 write unit). `Conflict` when the message changed since it was read: read again
    /// and decide again. Campaign counters and the realtime feed follow from the table's stream
    /// (`crate::counters`).
    pub async fn write_message(
        &self,
        message: &MessageKey,
        change: &MessageChange,
    ) -> Result<(), StoreError> {
        self.update(message.item_key(), message_update(message, change), None)
            .await
            .map(|_| ())
    }

    /// Attributes a message to its campaign (the send acknowledgement): one conditional update.
    /// Idempotent. Statuses may have come first: the counters fold counts the message in the
    /// state it has when it is attributed, so the totals end the same whichever came first.
    pub async fn register_message(
        &self,
        tenant_id: &str,
        registration: &Registration,
    ) -> Result<RegistrationOutcome, StoreError> {
        let message = MessageKey {
            tenant_id: tenant_id.to_owned(),
            wamid: registration.wamid.clone(),
        };
        for _ in 0..5 {
            let state = self.message_state(&message).await?;
            match &state.campaign_id {
                Some(c) if *c == registration.campaign_id => {
                    return Ok(RegistrationOutcome::AlreadyRegistered)
                }
                Some(_) => {
                    return Err(StoreError::Refused(
                        "message registered to another campaign",
                    ))
                }
                None => {}
            }
            let mut e = Expr::new();
            e.set("entity", s("message"))
                .set("tenant_id", s(tenant_id))
                .set("wamid", s(&registration.wamid))
                .set("campaign_id", s(&registration.campaign_id))
                .set("registered_at", n(now()))
                .set(
                    "gsi2pk",
                    s(keys::campaign_messages_shard(
                        tenant_id,
                        &registration.campaign_id,
                        keys::message_shard(&registration.wamid),
                    )),
                )
                .set("gsi2sk", s(keys::message_member(&registration.wamid)))
                .set_if_absent("delivery", s(Delivery::Pending.as_str()))
                .set("version", n(state.version + 1))
                .set_opt("recipient_id", registration.recipient_id.clone().map(s))
                .set_opt("template_id", registration.template_id.map(n));
            match registration.expires_at {
                Some(at) => e.set("expires_at", n(at)),
                None => e.set_if_absent("expires_at", n(now() + DEFAULT_RETENTION_SECONDS)),
            };
            version_condition(&mut e, state.version);
            match self.update(message.item_key(), e, None).await {
                Ok(_) => {
                    return Ok(RegistrationOutcome::Registered {
                        delivery: state.delivery,
                    })
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }
}

fn message_update(message: &MessageKey, change: &MessageChange) -> Expr {
    let mut e = Expr::new();
    e.set("entity", s("message"))
        .set("tenant_id", s(&message.tenant_id))
        .set("wamid", s(&message.wamid))
        .set("version", n(change.expected_version + 1))
        .set("delivery", s(change.delivery.as_str()))
        .set("updated_at", n(now()))
        // Registration sets the tenant's retention; a status that came first gets the default.
        .set_if_absent("expires_at", n(now() + DEFAULT_RETENTION_SECONDS));
    for (d, t) in &change.reached_at {
        e.set(&reached_attribute(*d), n(*t));
    }
    if !change.unknown_statuses.is_empty() {
        e.add(
            "unknown_statuses",
            AttributeValue::Ss(change.unknown_statuses.clone()),
        );
    }
    if let Some(b) = &change.billing {
        e.set_opt("billable", b.billable.map(AttributeValue::Bool))
            .set_opt("pricing_model", b.pricing_model.clone().map(s))
            .set_opt("pricing_category", b.pricing_category.clone().map(s))
            .set_opt("pricing_type", b.pricing_type.clone().map(s))
            .set_opt("conversation_id", b.conversation_id.clone().map(s))
            .set_opt("conversation_origin", b.conversation_origin.clone().map(s))
            .set_opt("conversation_expires_at", b.conversation_expires_at.map(n));
    }
    if let Some(f) = &change.failure {
        e.set("error_code", n(f.code))
            .set_opt("error_title", f.title.clone().map(s))
            .set_opt("error_message", f.message.clone().map(s))
            .set_opt("error_details", f.details.clone().map(s));
    }
    e.set_opt("recipient_id", change.recipient_id.clone().map(s))
        .set_opt(
            "biz_opaque_callback_data",
            change.biz_opaque_callback_data.clone().map(s),
        );
    version_condition(&mut e, change.expected_version);
    e
}

/// Condition: the item is at the version the change was decided from (absent for version 0).
fn version_condition(e: &mut Expr, expected: u64) {
    let version = e.name("version");
    if expected == 0 {
        let pk = e.name("pk");
        e.condition(format!("attribute_not_exists({pk})"));
    } else {
        let v = e.value(n(expected));
        e.condition(format!("{version} = {v}"));
    }
}
