//! Campaign timelines: the buckets the counters fold adds to (`domain::timeline`), read back for
//! a time chart.

use super::{dynamo, keys, s, Store, StoreError};
use crate::domain::timeline::Steps;
use aws_sdk_dynamodb::types::AttributeValue;

impl Store {
    /// A campaign's buckets that start in `from..=to` (seconds), oldest first; buckets nothing
    /// reached are absent. One Query (paged: a week of 5-minute buckets is about 2,000 small
    /// items), eventually consistent.
    pub async fn campaign_timeline(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Steps)>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(
                    ":pk",
                    s(keys::campaign_timeline(tenant_id, campaign_id)),
                )
                .expression_attribute_values(":from", s(keys::timeline_bucket(from)))
                .expression_attribute_values(":to", s(keys::timeline_bucket(to)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            for item in page.items.unwrap_or_default() {
                let number = |name: &str| match item.get(name) {
                    Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
                    _ => None,
                };
                let Some(bucket) = number("start").and_then(|b| u64::try_from(b).ok()) else {
                    continue;
                };
                let count = |name: &str| number(name).unwrap_or(0);
                out.push((
                    bucket,
                    Steps {
                        sent: count("sent"),
                        delivered: count("delivered"),
                        read: count("read"),
                        failed: count("failed"),
                        replied: count("replied"),
                    },
                ));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// The start of a campaign's latest bucket (one Query of one key), if it has any.
    pub async fn latest_timeline_bucket(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::campaign_timeline(tenant_id, campaign_id)))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(page
            .items
            .unwrap_or_default()
            .first()
            .and_then(|item| match item.get("start") {
                Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
                _ => None,
            }))
    }
}
