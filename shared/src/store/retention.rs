//! Personal data: how long message items are kept (the tenant's `retention_days`), and a
//! contact's erasure: its recipient id taken off its messages (their counts stay), its
//! windows and opt-outs deleted. docs/privacy.md has the whole map.

use super::expr::Expr;
use super::queries::{number, text};
use super::{key, keys, n, now, s, Item, MessageKey, Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;

/// `retention_days`: the default and the bounds `PUT /settings` accepts.
pub const DEFAULT_RETENTION_DAYS: u64 = 180;
pub const MIN_RETENTION_DAYS: u64 = 7;
pub const MAX_RETENTION_DAYS: u64 = 3650;

/// An erasure's progress, kept under the tenant (`ERASURE#<job id>`): a request that could not
/// finish within the API's time goes on from `next_campaign` when it is made again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureJob {
    pub job_id: String,
    /// Campaigns before this index (in the tenant's campaign order) are done.
    pub next_campaign: u64,
    pub messages_erased: u64,
    pub windows_deleted: u64,
    pub opt_outs_deleted: u64,
    pub done: bool,
}

impl Store {
    /// The tenant's `retention_days` (the default until set).
    pub async fn retention_days(&self, tenant_id: &str) -> Result<u64, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), keys::SETTINGS_SK)
            .await?
            .unwrap_or_default();
        Ok(number(&item, "retention_days")
            .map(|d| d.max(0) as u64)
            .unwrap_or(DEFAULT_RETENTION_DAYS))
    }

    /// Sets `retention_days` (checked by the caller): message items registered from now on
    /// expire that long after their registration.
    pub async fn set_retention_days(&self, tenant_id: &str, days: u64) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set("retention_days", n(days))
            .set("entity", s("settings"))
            .set("updated_at", n(now()));
        self.update(key(keys::tenant(tenant_id), keys::SETTINGS_SK), e, None)
            .await?;
        Ok(())
    }

    /// Takes the recipient id off a message item and marks it erased, so that no later status
    /// writes it again; its delivery state and the campaign's counts stay. `false` when the
    /// item is gone.
    pub async fn erase_recipient(&self, tenant_id: &str, wamid: &str) -> Result<bool, StoreError> {
        let message = MessageKey {
            tenant_id: tenant_id.to_owned(),
            wamid: wamid.to_owned(),
        };
        let mut e = Expr::new();
        e.remove("recipient_id")
            .set("recipient_erased", AttributeValue::Bool(true));
        let pk = e.name("pk");
        e.condition(format!("attribute_exists({pk})"));
        match self.update(message_key(&message), e, None).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Deletes a contact's window and opt-out with a phone number: (window, opt-out) deleted.
    pub async fn delete_contact_state(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        contact: &str,
    ) -> Result<(bool, bool), StoreError> {
        let window = self
            .delete_existing(key(
                keys::window(tenant_id, phone_number_id, contact),
                keys::WINDOW_SK,
            ))
            .await?;
        let opt_out = self
            .delete_existing(key(keys::opt_outs(tenant_id, phone_number_id), contact))
            .await?;
        Ok((window, opt_out))
    }

    async fn delete_existing(&self, item_key: Item) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(super::dynamo)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// An erasure job as last saved, or a new one.
    pub async fn erasure_job(
        &self,
        tenant_id: &str,
        job_id: &str,
    ) -> Result<ErasureJob, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), &keys::erasure(job_id))
            .await?
            .unwrap_or_default();
        let count = |name: &str| number(&item, name).unwrap_or(0).max(0) as u64;
        Ok(ErasureJob {
            job_id: job_id.to_owned(),
            next_campaign: count("next_campaign"),
            messages_erased: count("messages_erased"),
            windows_deleted: count("windows_deleted"),
            opt_outs_deleted: count("opt_outs_deleted"),
            done: text(&item, "state").as_deref() == Some("done"),
        })
    }

    /// Saves an erasure job's progress (no contact id in it: the job id is a keyed hash).
    pub async fn save_erasure_job(
        &self,
        tenant_id: &str,
        job: &ErasureJob,
    ) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set("entity", s("erasure"))
            .set("job_id", s(&job.job_id))
            .set("next_campaign", n(job.next_campaign))
            .set("messages_erased", n(job.messages_erased))
            .set("windows_deleted", n(job.windows_deleted))
            .set("opt_outs_deleted", n(job.opt_outs_deleted))
            .set("state", s(if job.done { "done" } else { "running" }))
            .set("updated_at", n(now()));
        self.update(
            key(keys::tenant(tenant_id), keys::erasure(&job.job_id)),
            e,
            None,
        )
        .await?;
        Ok(())
    }
}

fn message_key(m: &MessageKey) -> Item {
    key(keys::message(&m.tenant_id, &m.wamid), keys::MESSAGE_SK)
}
