//! Read paths for the API: every list is one Query on a key or an index (never a scan),
//! one page at a time.

use super::expr::Expr;
use super::{dynamo, key, keys, n, now, s, Item, Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use std::collections::HashMap;

/// One page of a list.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// The key to continue from, if there is more.
    pub next: Option<Item>,
}

/// A list query: a partition (of the table or of an index), optionally a sort-key prefix and a
/// filter on one attribute.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub index: Option<&'static str>,
    pub partition: String,
    pub sort_prefix: Option<&'static str>,
    /// `(attribute, value)`: keep only items whose attribute equals the value.
    pub filters: Vec<(&'static str, AttributeValue)>,
    pub newest_first: bool,
    pub limit: i32,
    pub start: Option<Item>,
}

impl ListQuery {
    /// A query over a table partition.
    pub fn partition(partition: String) -> Self {
        Self {
            index: None,
            partition,
            sort_prefix: None,
            filters: Vec::new(),
            newest_first: false,
            limit: 50,
            start: None,
        }
    }

    /// A query over a gsi1 partition.
    pub fn index(partition: String) -> Self {
        Self {
            index: Some(keys::GSI1),
            ..Self::partition(partition)
        }
    }

    /// A query over a gsi2 partition (keys only: the members of a parent).
    pub fn members(partition: String) -> Self {
        Self {
            index: Some(keys::GSI2),
            ..Self::partition(partition)
        }
    }

    /// The key attributes a continuation key of this query holds.
    pub fn key_attributes(&self) -> &'static [&'static str] {
        match self.index {
            Some(keys::GSI2) => &["pk", "sk", "gsi2pk", "gsi2sk"],
            Some(_) => &["pk", "sk", "gsi1pk", "gsi1sk"],
            None => &["pk", "sk"],
        }
    }

    /// The partition attribute this query reads.
    pub fn partition_attribute(&self) -> &'static str {
        self.key_attributes()[self.key_attributes().len() - 2]
    }

    /// The sort attribute this query reads.
    pub fn sort_attribute(&self) -> &'static str {
        self.key_attributes()[self.key_attributes().len() - 1]
    }
}

impl Store {
    /// One item by key (strongly consistent).
    pub async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_owned(), sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out.item)
    }

    /// Runs one page of a list query.
    pub async fn list(&self, q: ListQuery) -> Result<Page, StoreError> {
        let mut e = Expr::new();
        let pk = e.name(q.partition_attribute());
        let pv = e.value(s(&q.partition));
        let mut key_condition = format!("{pk} = {pv}");
        if let Some(prefix) = q.sort_prefix {
            let sk = e.name(q.sort_attribute());
            let v = e.value(s(prefix));
            key_condition.push_str(&format!(" AND begins_with({sk}, {v})"));
        }
        let mut filters = Vec::new();
        for (attribute, value) in &q.filters {
            let (a, v) = (e.name(attribute), e.value(value.clone()));
            filters.push(format!("{a} = {v}"));
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(str::to_owned))
            .key_condition_expression(key_condition)
            .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(!q.newest_first)
            .limit(q.limit)
            .set_exclusive_start_key(q.start)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next: out.last_evaluated_key.filter(|k| !k.is_empty()),
        })
    }

    /// Many items by key, in the order asked (eventually consistent unless `consistent`): 100
    /// keys a request, unprocessed keys asked again. Keys without an item are left out.
    pub async fn get_many(
        &self,
        item_keys: &[Item],
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let key_of = |i: &Item| (text(i, "pk"), text(i, "sk"));
        let mut found: HashMap<(Option<String>, Option<String>), Item> = HashMap::new();
        for chunk in item_keys.chunks(100) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(
                    chunk
                        .iter()
                        .map(|k| {
                            key(
                                text(k, "pk").unwrap_or_default(),
                                text(k, "sk").unwrap_or_default(),
                            )
                        })
                        .collect(),
                ))
                .consistent_read(consistent)
                .build()
                .map_err(|_| StoreError::Refused("empty key batch"))?;
            for attempt in 0u32.. {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(dynamo)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    found.insert(key_of(&item), item);
                }
                match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        if attempt >= 5 {
                            return Err(StoreError::Refused("batch read kept being throttled"));
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
                        pending = rest;
                    }
                    _ => break,
                }
            }
        }
        Ok(item_keys
            .iter()
            .filter_map(|k| found.remove(&key_of(k)))
            .collect())
    }

    /// Every item a list query matches, following pages (for bounded sets: a tenant's
    /// templates or campaigns, a template's campaigns).
    pub async fn list_every(&self, mut q: ListQuery) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        q.limit = 500;
        loop {
            let page = self.list(q.clone()).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => q.start = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// Every item of a tenant's partition under a sort-key prefix (templates, campaigns: a
    /// tenant has hundreds, not millions).
    pub async fn list_all(
        &self,
        tenant_id: &str,
        prefix: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut q = ListQuery::partition(keys::tenant(tenant_id));
        q.sort_prefix = Some(prefix);
        self.list_every(q).await
    }

    /// Acknowledges every open alert about `subject`: records who and when, and takes them off
    /// the open index. Returns how many were acknowledged.
    pub async fn acknowledge_alerts(
        &self,
        tenant_id: &str,
        subject: &str,
        who: &str,
    ) -> Result<usize, StoreError> {
        let open = self.open_alerts(tenant_id).await?;
        let mut count = 0;
        for alert in open.iter().filter(|a| a.subject == subject) {
            let mut e = Expr::new();
            e.set("acknowledged_by", s(who))
                .set("acknowledged_at", n(now()))
                .remove("gsi1pk")
                .remove("gsi1sk");
            let pk = e.name("pk");
            e.condition(format!("attribute_exists({pk})"));
            match self
                .update(
                    key(keys::tenant(tenant_id), keys::alert(&alert.alert_id)),
                    e,
                    None,
                )
                .await
            {
                Ok(_) => count += 1,
                Err(StoreError::Conflict) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(count)
    }

    /// A person resumes a campaign: clears the person's pause and, with `force`, automatic
    /// holds too. `false` when it is not paused.
    pub async fn resume_campaign_by_user(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        actor: &str,
        force: bool,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::new();
        e.set("status", s(super::campaigns::ACTIVE))
            .set("resumed_by", s(actor))
            .set("resumed_at", n(now()))
            .set("updated_at", n(now()))
            .remove("paused_by_user")
            .remove("pause_reason")
            .remove("paused_at")
            .remove("auto_paused_by");
        if force {
            e.remove("holds");
        }
        let status = e.name("status");
        let paused = e.value(s(super::campaigns::PAUSED));
        e.condition(format!("{status} = {paused}"));
        if !force {
            let holds = e.name("holds");
            e.condition(format!("attribute_not_exists({holds})"));
        }
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
            Err(err) => Err(err),
        }
    }
}

/// Reads a string attribute.
pub fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// Reads a number attribute.
pub fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// An unsigned number attribute, exact up to `u64::MAX` (template ids).
pub fn unsigned(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A continuation key as plain strings (all of this table's keys are strings).
pub fn key_strings(key: &Item) -> HashMap<String, String> {
    key.iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone())))
        .collect()
}

/// The inverse of [`key_strings`].
pub fn key_from_strings(key: HashMap<String, String>) -> Item {
    key.into_iter().map(|(k, v)| (k, s(v))).collect()
}
