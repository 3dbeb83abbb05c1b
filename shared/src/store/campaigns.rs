//! Campaign items: counters (moved by message writes), and holds that pause and resume them.
//!
//! A campaign is paused by *holds*: `template:<id>` (a template PAUSED or DISABLED), `ban:<waba>`
//! (an account ban), plus `paused_by_user` for a person's pause. It may resume automatically only
//! when it was paused automatically, no hold is left, and no person paused it.

use super::expr::Expr;
use super::queries::{text, ListQuery};
use super::{key, keys, n, now, s, Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

pub use crate::domain::campaign::{CampaignRecord, ACTIVE, PAUSED};

/// A campaign to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    pub campaign_id: String,
    pub name: Option<String>,
    pub template_id: u64,
    pub phone_number_id: String,
    pub waba_id: Option<String>,
    pub status: String,
}

/// What placing a hold did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The campaign was ACTIVE and is now PAUSED.
    Paused,
    /// Already paused automatically: the hold was added (or was there already).
    AlreadyPaused,
    /// Not ACTIVE and not automatically paused (completed, or paused by a person): untouched.
    Untouched,
}

/// What releasing a hold did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// No hold left, paused automatically, not by a person, and resuming allowed: ACTIVE again.
    Resumed,
    /// The hold is gone; the campaign stays as it is.
    Released,
}

impl Store {
    /// Creates a campaign (`false` when it exists).
    pub async fn create_campaign(
        &self,
        tenant_id: &str,
        c: &NewCampaign,
    ) -> Result<bool, StoreError> {
        let mut item = key(keys::tenant(tenant_id), keys::campaign(&c.campaign_id));
        item.insert("entity".into(), s("campaign"));
        item.insert("campaign_id".into(), s(&c.campaign_id));
        item.insert("tenant_id".into(), s(tenant_id));
        item.insert("template_id".into(), n(c.template_id));
        item.insert("phone_number_id".into(), s(&c.phone_number_id));
        item.insert("status".into(), s(&c.status));
        item.insert("created_at".into(), n(now()));
        item.insert(
            "gsi2pk".into(),
            s(keys::template_campaigns(tenant_id, c.template_id)),
        );
        item.insert("gsi2sk".into(), s(keys::campaign(&c.campaign_id)));
        if let Some(name) = &c.name {
            item.insert("name".into(), s(name));
        }
        if let Some(waba) = &c.waba_id {
            item.insert("waba_id".into(), s(waba));
        }
        self.put_new(item).await
    }

    /// One campaign.
    pub async fn campaign(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<Option<CampaignRecord>, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), &keys::campaign(campaign_id))
            .await?;
        Ok(item.map(serde_dynamo::from_item).transpose()?)
    }

    /// The campaigns that use a template, through the template's members in gsi2 (never a
    /// scan), read strongly consistent; and those created before gsi2, through gsi1.
    pub async fn campaigns_using_template(
        &self,
        tenant_id: &str,
        template_id: u64,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let partition = keys::template_campaigns(tenant_id, template_id);
        let members = self
            .list_every(ListQuery::members(partition.clone()))
            .await?;
        let mut items = self.get_many(&members, true).await?;
        let known: std::collections::HashSet<Option<String>> =
            items.iter().map(|i| text(i, "sk")).collect();
        let legacy = self.list_every(ListQuery::index(partition)).await?;
        items.extend(
            legacy
                .into_iter()
                .filter(|l| !known.contains(&text(l, "sk"))),
        );
        Ok(serde_dynamo::from_items(items)?)
    }

    /// Every campaign of a tenant: one Query of its partition (delivery health folds their
    /// counters per template).
    pub async fn campaigns_of_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let mut q = ListQuery::partition(keys::tenant(tenant_id));
        q.sort_prefix = Some("CAMPAIGN#");
        Ok(serde_dynamo::from_items(self.list_every(q).await?)?)
    }

    /// A tenant's campaigns on one WABA (a ban holds all of them): one Query of the tenant's
    /// partition, campaigns only.
    pub async fn campaigns_of_waba(
        &self,
        tenant_id: &str,
        waba_id: &str,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        let mut q = ListQuery::partition(keys::tenant(tenant_id));
        q.sort_prefix = Some("CAMPAIGN#");
        q.filters.push(("waba_id", s(waba_id)));
        Ok(serde_dynamo::from_items(self.list_every(q).await?)?)
    }

    /// Places an automatic hold: an ACTIVE campaign pauses (recording the reason and which
    /// hold paused it); one already paused automatically keeps the extra hold.
    pub async fn hold_campaign(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        hold: &str,
        reason: &str,
        time: u64,
    ) -> Result<HoldOutcome, StoreError> {
        let mut e = Expr::new();
        e.set("status", s(PAUSED))
            .set_if_absent("pause_reason", s(reason))
            .set_if_absent("paused_at", n(time))
            .set_if_absent("auto_paused_by", s(hold))
            .set("updated_at", n(now()))
            .add("holds", AttributeValue::Ss(vec![hold.to_owned()]));
        let (status, holds) = (e.name("status"), e.name("holds"));
        let (active, paused) = (e.value(s(ACTIVE)), e.value(s(PAUSED)));
        e.condition(format!(
            "{status} = {active} OR ({status} = {paused} AND attribute_exists({holds}))"
        ));
        let campaign_key = key(keys::tenant(tenant_id), keys::campaign(campaign_id));
        match self
            .update(campaign_key, e, Some(ReturnValue::UpdatedOld))
            .await
        {
            Ok(old) => {
                let was = old
                    .as_ref()
                    .and_then(|a| a.get("status"))
                    .and_then(|v| v.as_s().ok());
                Ok(if was.map(String::as_str) == Some(ACTIVE) {
                    HoldOutcome::Paused
                } else {
                    HoldOutcome::AlreadyPaused
                })
            }
            Err(StoreError::Conflict) => Ok(HoldOutcome::Untouched),
            Err(e) => Err(e),
        }
    }

    /// A person pauses a campaign: it stays paused until a person resumes it, whatever
    /// automatic holds come and go. `false` when the campaign is neither active nor paused.
    pub async fn pause_campaign_by_user(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::new();
        e.set("status", s(PAUSED))
            .set("paused_by_user", AttributeValue::Bool(true))
            .set("paused_by", s(actor))
            .set("pause_reason", s(reason))
            .set("paused_at", n(now()))
            .set("updated_at", n(now()));
        let status = e.name("status");
        let (active, paused) = (e.value(s(ACTIVE)), e.value(s(PAUSED)));
        e.condition(format!("{status} IN ({active}, {paused})"));
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
            Err(e) => Err(e),
        }
    }

    /// Releases an automatic hold; with `resume`, a campaign paused automatically that has no
    /// hold left and that no person paused becomes ACTIVE again.
    pub async fn release_campaign(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        hold: &str,
        resume: bool,
    ) -> Result<ReleaseOutcome, StoreError> {
        let campaign_key = key(keys::tenant(tenant_id), keys::campaign(campaign_id));
        let mut e = Expr::new();
        e.delete("holds", AttributeValue::Ss(vec![hold.to_owned()]))
            .set("updated_at", n(now()));
        let pk = e.name("pk");
        e.condition(format!("attribute_exists({pk})"));
        match self.update(campaign_key.clone(), e, None).await {
            Ok(_) => {}
            Err(StoreError::Conflict) => {
                return Err(StoreError::Refused("campaign does not exist"))
            }
            Err(e) => return Err(e),
        }
        if !resume {
            return Ok(ReleaseOutcome::Released);
        }
        let mut e = Expr::new();
        e.set("status", s(ACTIVE))
            .set("resumed_at", n(now()))
            .set("updated_at", n(now()))
            .remove("pause_reason")
            .remove("paused_at")
            .remove("auto_paused_by");
        let (status, holds, auto, by_user) = (
            e.name("status"),
            e.name("holds"),
            e.name("auto_paused_by"),
            e.name("paused_by_user"),
        );
        let (paused, yes) = (e.value(s(PAUSED)), e.value(AttributeValue::Bool(true)));
        e.condition(format!(
            "{status} = {paused} AND attribute_not_exists({holds}) AND attribute_exists({auto}) AND (attribute_not_exists({by_user}) OR {by_user} <> {yes})"
        ));
        match self.update(campaign_key, e, None).await {
            Ok(_) => Ok(ReleaseOutcome::Resumed),
            Err(StoreError::Conflict) => Ok(ReleaseOutcome::Released),
            Err(e) => Err(e),
        }
    }
}
