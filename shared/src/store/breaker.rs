//! What the circuit breaker reads and keeps: a campaign's failure counts (its `error_<code>`
//! counters) and baseline, a tenant's `circuit_breaker` settings, a phone number's campaigns.

use super::expr::Expr;
use super::queries::{number, ListQuery};
use super::{key, keys, n, now, s, Item, Store, StoreError};
use crate::domain::breaker::{BreakerSettings, FailureCounts};
use crate::domain::campaign::CampaignRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};

/// The attribute prefix of a campaign's failures by error code.
const ERROR_PREFIX: &str = "error_";

/// A campaign with the counts the breaker and `GET /campaigns/{id}/failures` read.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignFailures {
    pub campaign: CampaignRecord,
    /// Now: attempted (reached sent + reached failed) and failures by code.
    pub counts: FailureCounts,
    /// The counts when a person last resumed it (zero before).
    pub baseline: FailureCounts,
}

/// Failures by error code from a campaign item's `error_<code>` counters.
pub fn error_counts(item: &Item) -> BTreeMap<i64, i64> {
    item.iter()
        .filter_map(|(name, value)| {
            let code = name.strip_prefix(ERROR_PREFIX)?.parse::<i64>().ok()?;
            let count = value.as_n().ok()?.parse::<i64>().ok()?;
            Some((code, count))
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

fn counts_of_map(map: Option<&HashMap<String, AttributeValue>>) -> BTreeMap<i64, i64> {
    map.into_iter()
        .flatten()
        .filter_map(|(code, v)| Some((code.parse().ok()?, v.as_n().ok()?.parse().ok()?)))
        .collect()
}

impl Store {
    /// A campaign with its failure counts and baseline (strongly consistent).
    pub async fn campaign_failures(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<Option<CampaignFailures>, StoreError> {
        let Some(item) = self
            .get(&keys::tenant(tenant_id), &keys::campaign(campaign_id))
            .await?
        else {
            return Ok(None);
        };
        let campaign: CampaignRecord = serde_dynamo::from_item(item.clone())?;
        let counts = FailureCounts {
            attempted: campaign.reached_sent + campaign.reached_failed,
            errors: error_counts(&item),
        };
        let baseline = FailureCounts {
            attempted: number(&item, "breaker_base_attempted").unwrap_or_default(),
            errors: counts_of_map(item.get("breaker_base_errors").and_then(|v| v.as_m().ok())),
        };
        Ok(Some(CampaignFailures {
            campaign,
            counts,
            baseline,
        }))
    }

    /// Sets a campaign's breaker baseline to `counts` (a person resumed it).
    pub async fn set_breaker_baseline(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        counts: &FailureCounts,
    ) -> Result<(), StoreError> {
        let errors = counts
            .errors
            .iter()
            .map(|(code, count)| (code.to_string(), n(count)))
            .collect();
        let mut e = Expr::new();
        e.set("breaker_base_attempted", n(counts.attempted))
            .set("breaker_base_errors", AttributeValue::M(errors))
            .set("updated_at", n(now()));
        let pk = e.name("pk");
        e.condition(format!("attribute_exists({pk})"));
        self.update(
            key(keys::tenant(tenant_id), keys::campaign(campaign_id)),
            e,
            None,
        )
        .await?;
        Ok(())
    }

    /// The tenant's `circuit_breaker` settings (the defaults until set).
    pub async fn breaker_settings(&self, tenant_id: &str) -> Result<BreakerSettings, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), keys::SETTINGS_SK)
            .await?
            .unwrap_or_default();
        let mut settings = BreakerSettings::default();
        if let Some(AttributeValue::Bool(on)) = item.get("breaker_enabled") {
            settings.enabled = *on;
        }
        if let Some(min) = number(&item, "breaker_min_failures") {
            settings.min_failures = min.max(1) as u64;
        }
        if let Some(rate) = item
            .get("breaker_failure_rate")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<f64>().ok())
        {
            settings.failure_rate = rate;
        }
        if let Some(AttributeValue::L(codes)) = item.get("breaker_extra_codes") {
            settings.extra_codes = codes
                .iter()
                .filter_map(|c| c.as_n().ok()?.parse().ok())
                .collect();
        }
        Ok(settings)
    }

    /// Stores the tenant's `circuit_breaker` settings (validated by the caller).
    pub async fn put_breaker_settings(
        &self,
        tenant_id: &str,
        settings: &BreakerSettings,
    ) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set("breaker_enabled", AttributeValue::Bool(settings.enabled))
            .set("breaker_min_failures", n(settings.min_failures))
            .set("breaker_failure_rate", n(settings.failure_rate))
            .set(
                "breaker_extra_codes",
                AttributeValue::L(settings.extra_codes.iter().map(n).collect()),
            )
            .set("entity", s("settings"))
            .set("updated_at", n(now()));
        self.update(key(keys::tenant(tenant_id), keys::SETTINGS_SK), e, None)
            .await?;
        Ok(())
    }

    /// A tenant's campaigns on one phone number (a block holds all of them): one Query of the
    /// tenant's partition, campaigns only.
    pub async fn campaigns_of_phone(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let mut q = ListQuery::partition(keys::tenant(tenant_id));
        q.sort_prefix = Some("CAMPAIGN#");
        q.filters.push(("phone_number_id", s(phone_number_id)));
        Ok(serde_dynamo::from_items(self.list_every(q).await?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_counters_are_read_by_code_and_other_attributes_ignored() {
        let item: Item = [
            ("error_131049", n(3)),
            ("error_130429", n(0)),
            ("error_x", n(2)),
            ("reached_failed", n(3)),
            ("error_368", s("1")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(error_counts(&item), BTreeMap::from([(131049, 3)]));
    }
}
