//! What a recount reads and writes: a campaign's counter attributes, every one of its messages
//! (as the counters fold reads them), and a repair that moves the counters by the difference
//! only if they are still what was read (the fold may be adding meanwhile).

use super::expr::Expr;
use super::queries::number;
use super::{key, keys, n, MessagesCursor, Store, StoreError};
use crate::domain::counters::{is_counter_attribute, CounterDrift, MessageImage};
use std::collections::BTreeMap;

/// Messages read per page.
const PAGE: i32 = 1000;

impl Store {
    /// A campaign's counter attributes (strongly consistent), `None` when it does not exist.
    pub async fn campaign_counters(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<Option<BTreeMap<String, i64>>, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), &keys::campaign(campaign_id))
            .await?;
        Ok(item.map(|item| {
            item.keys()
                .filter(|k| is_counter_attribute(k))
                .filter_map(|k| number(&item, k).map(|v| (k.clone(), v)))
                .collect()
        }))
    }

    /// Every message of a campaign, as the counters fold reads a message item, and the latest
    /// `updated_at` among them (seconds): a recount trusts only a campaign at rest.
    pub async fn campaign_message_images(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<(Vec<MessageImage>, u64), StoreError> {
        let mut images = Vec::new();
        let mut last_change = 0;
        let mut cursor = MessagesCursor::default();
        loop {
            let (items, next) = self
                .campaign_messages(tenant_id, campaign_id, None, PAGE, cursor)
                .await?;
            for item in items {
                let updated = number(&item, "updated_at").unwrap_or(0).max(0) as u64;
                last_change = last_change.max(updated);
                images.push(serde_dynamo::from_item(item)?);
            }
            match next {
                Some(next) => cursor = next,
                None => return Ok((images, last_change)),
            }
        }
    }

    /// Moves the drifting counters to their recounted values, by `ADD`ing the difference on
    /// condition that each still holds what was read. `Ok(false)` when one moved meanwhile
    /// (recount again).
    pub async fn repair_counters(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        drift: &[CounterDrift],
    ) -> Result<bool, StoreError> {
        if drift.is_empty() {
            return Ok(true);
        }
        let mut e = Expr::new();
        let mut clauses = Vec::new();
        for (attribute, stored, recounted) in drift {
            e.add(attribute, n(recounted - stored));
            let name = e.name(attribute);
            let was = e.value(n(*stored));
            clauses.push(if *stored == 0 {
                format!("(attribute_not_exists({name}) OR {name} = {was})")
            } else {
                format!("{name} = {was}")
            });
        }
        let pk = e.name("pk");
        e.condition(format!(
            "attribute_exists({pk}) AND {}",
            clauses.join(" AND ")
        ));
        match self
            .update(
                key(keys::tenant(tenant_id), keys::campaign(campaign_id)),
                e,
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }
}
