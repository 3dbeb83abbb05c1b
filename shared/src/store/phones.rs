//! Phone numbers of a tenant: quality, flag and messaging limit (newest event wins), and their
//! history.

use super::expr::Expr;
use super::queries::{number, text, ListQuery};
use super::{key, keys, n, now, s, Item, Store, StoreError};
use crate::domain::phone::PhoneChange;
use aws_sdk_dynamodb::types::AttributeValue;

/// A phone number as `GET /numbers` serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumberRecord {
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    pub waba_id: Option<String>,
    pub quality: String,
    pub messaging_limit: String,
    pub flagged: bool,
    pub updated_at: Option<u64>,
}

/// What the Graph API reports about a number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneState {
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    pub quality: Option<String>,
    pub messaging_limit: Option<String>,
    pub throughput: Option<String>,
    pub name_status: Option<String>,
}

impl PhoneNumberRecord {
    fn of(item: &Item) -> Option<Self> {
        Some(Self {
            phone_number_id: text(item, "phone_number_id")?,
            display_phone_number: text(item, "display_phone_number"),
            waba_id: text(item, "waba_id"),
            quality: text(item, "quality").unwrap_or_else(|| "UNKNOWN".into()),
            messaging_limit: text(item, "messaging_limit")
                .map(|l| crate::domain::phone::tier(&l).to_owned())
                .unwrap_or_else(|| "UNKNOWN".into()),
            flagged: matches!(item.get("flagged"), Some(AttributeValue::Bool(true))),
            updated_at: number(item, "quality_time").map(|t| t.max(0) as u64),
        })
    }
}

impl Store {
    /// Applies a quality event of `time` to a phone number unless a newer one was applied:
    /// `false` for a stale event (its history entry is still written).
    pub async fn apply_phone_quality(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        event: &str,
        change: &PhoneChange,
        time: u64,
    ) -> Result<bool, StoreError> {
        let mut entry = key(
            keys::phone_history(tenant_id, phone_number_id),
            keys::timed(time, event),
        );
        entry.insert("entity".into(), s("phone_history"));
        entry.insert("event".into(), s(event));
        entry.insert("time".into(), n(time));
        if let Some(l) = change.messaging_limit {
            entry.insert("messaging_limit".into(), s(l));
        }
        if let Some(q) = change.quality {
            entry.insert("quality".into(), s(q));
        }
        if let Some(f) = change.flagged {
            entry.insert("flagged".into(), AttributeValue::Bool(f));
        }
        self.put_new(entry).await?;

        let mut e = Expr::new();
        e.set("entity", s("phone_number"))
            .set("phone_number_id", s(phone_number_id))
            .set("quality_event", s(event))
            .set("quality_time", n(time))
            .set_opt("quality", change.quality.map(s))
            .set_opt("messaging_limit", change.messaging_limit.map(s))
            .set_opt("flagged", change.flagged.map(AttributeValue::Bool))
            .set("updated_at", n(now()));
        let t = e.name("quality_time");
        let v = e.value(n(time));
        e.condition(format!("attribute_not_exists({t}) OR {t} <= {v}"));
        match self
            .update(
                key(keys::tenant(tenant_id), keys::phone(phone_number_id)),
                e,
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets what the Graph API reports for a number of `waba_id` (the scheduled sync): quality
    /// rating, messaging limit tier, throughput level and display name status. The webhook's
    /// flag stays as its events set it.
    pub async fn set_phone_state(
        &self,
        tenant_id: &str,
        waba_id: &str,
        number: &PhoneState,
    ) -> Result<(), StoreError> {
        let clip = |v: &Option<String>| v.as_deref().map(|x| s(super::clip(x)));
        let mut e = Expr::new();
        e.set("entity", s("phone_number"))
            .set("phone_number_id", s(&number.phone_number_id))
            .set("waba_id", s(waba_id))
            .set_opt("display_phone_number", clip(&number.display_phone_number))
            .set_opt("quality", clip(&number.quality))
            .set_opt(
                "messaging_limit",
                number
                    .messaging_limit
                    .as_deref()
                    .map(|t| s(crate::domain::phone::tier(t))),
            )
            .set_opt("throughput", clip(&number.throughput))
            .set_opt("name_status", clip(&number.name_status))
            .set("synced_at", n(now()))
            .set("updated_at", n(now()));
        self.update(
            key(
                keys::tenant(tenant_id),
                keys::phone(&number.phone_number_id),
            ),
            e,
            None,
        )
        .await?;
        Ok(())
    }

    /// The tenant's phone numbers (a tenant has a handful).
    pub async fn phone_numbers(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<PhoneNumberRecord>, StoreError> {
        let mut q = ListQuery::partition(keys::tenant(tenant_id));
        q.sort_prefix = Some("PHONE#");
        Ok(self
            .list_every(q)
            .await?
            .iter()
            .filter_map(PhoneNumberRecord::of)
            .collect())
    }

    /// One phone number of the tenant.
    pub async fn phone_number(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
    ) -> Result<Option<PhoneNumberRecord>, StoreError> {
        Ok(self
            .get(&keys::tenant(tenant_id), &keys::phone(phone_number_id))
            .await?
            .as_ref()
            .and_then(PhoneNumberRecord::of))
    }

    /// Keeps news about a WABA (for each `category`, the newest `entry.time` wins on the WABA
    /// item; every piece goes to its history). `false` when newer news of its category was kept.
    pub async fn record_account_news(
        &self,
        tenant_id: &str,
        waba_id: &str,
        category: &str,
        event: &str,
        fields: &[(&'static str, String)],
        time: u64,
    ) -> Result<bool, StoreError> {
        let mut entry = key(
            keys::waba_history(tenant_id, waba_id),
            keys::timed(time, event),
        );
        entry.insert("entity".into(), s("waba_history"));
        entry.insert("event".into(), s(event));
        entry.insert("time".into(), n(time));
        for (k, v) in fields {
            entry.insert((*k).to_owned(), s(v));
        }
        self.put_new(entry).await?;
        let mut e = Expr::new();
        e.set("entity", s("waba"))
            .set("waba_id", s(waba_id))
            .set("news_event", s(event))
            .set("news_time", n(time))
            .set("updated_at", n(now()));
        for (k, v) in fields {
            e.set(k, s(v));
        }
        let t = e.name(&format!("{category}_time"));
        e.set(&format!("{category}_time"), n(time));
        let v = e.value(n(time));
        e.condition(format!("attribute_not_exists({t}) OR {t} <= {v}"));
        match self
            .update(key(keys::tenant(tenant_id), keys::waba(waba_id)), e, None)
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The tenant's `pause_on_flagged` setting (off until set).
    pub async fn pause_on_flagged(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), keys::SETTINGS_SK)
            .await?
            .unwrap_or_default();
        Ok(matches!(
            item.get("pause_on_flagged"),
            Some(AttributeValue::Bool(true))
        ))
    }

    /// Sets `pause_on_flagged`.
    pub async fn set_pause_on_flagged(&self, tenant_id: &str, on: bool) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set("pause_on_flagged", AttributeValue::Bool(on))
            .set("entity", s("settings"))
            .set("updated_at", n(now()));
        self.update(key(keys::tenant(tenant_id), keys::SETTINGS_SK), e, None)
            .await?;
        Ok(())
    }
}
