//! Template items: status, quality, category, each ordered by its own event time.

use super::expr::Expr;
use super::{dynamo, key, keys, n, now, s, Store, StoreError};
use crate::domain::template::{Aspect, Fill, TemplateState, TemplateUpdate};
use serde::Deserialize;

/// Free text from Meta (reasons, descriptions) is stored cut to this many bytes: Meta has sent
/// reasons of hundreds of KB, and an item must stay far below DynamoDB's 400 KB.
pub const MAX_TEXT_BYTES: usize = 2048;

/// Cuts `text` to at most [`MAX_TEXT_BYTES`] at a character boundary.
pub fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A template to create (the management API and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTemplate {
    pub template_id: u64,
    /// The WhatsApp Business Account the template belongs to.
    pub waba_id: Option<String>,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub quality: String,
}

/// A template as stored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TemplateRecord {
    pub template_id: u64,
    pub tenant_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub quality: Option<String>,
    #[serde(default)]
    pub previous_quality: Option<String>,
    #[serde(default)]
    pub previous_category: Option<String>,
    #[serde(default)]
    pub pending_category: Option<String>,
    #[serde(default)]
    pub pending_category_at: Option<u64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub pause_title: Option<String>,
    #[serde(default)]
    pub status_time: Option<u64>,
    #[serde(default)]
    pub quality_time: Option<u64>,
    #[serde(default)]
    pub category_time: Option<u64>,
}

impl From<&TemplateRecord> for TemplateState {
    fn from(r: &TemplateRecord) -> Self {
        TemplateState {
            status: r.status.clone(),
            quality: r.quality.clone(),
            category: r.category.clone(),
            status_time: r.status_time,
            quality_time: r.quality_time,
            category_time: r.category_time,
        }
    }
}

impl Store {
    /// Creates a template (`false` when it exists).
    pub async fn create_template(
        &self,
        tenant_id: &str,
        t: &NewTemplate,
    ) -> Result<bool, StoreError> {
        self.create_template_at(tenant_id, t, None).await
    }

    /// Creates a template whose status, quality and category were observed at `observed_at`
    /// (the Graph sync): later webhook events order against that time like any other.
    pub async fn create_template_at(
        &self,
        tenant_id: &str,
        t: &NewTemplate,
        observed_at: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut item = key(keys::tenant(tenant_id), keys::template(t.template_id));
        item.insert("entity".into(), s("template"));
        item.insert("tenant_id".into(), s(tenant_id));
        item.insert("template_id".into(), n(t.template_id));
        item.insert("name".into(), s(&t.name));
        item.insert("language".into(), s(&t.language));
        item.insert("category".into(), s(&t.category));
        item.insert("status".into(), s(&t.status));
        item.insert("quality".into(), s(&t.quality));
        if let Some(waba) = &t.waba_id {
            item.insert("waba_id".into(), s(waba));
        }
        item.insert("created_at".into(), n(now()));
        if let Some(at) = observed_at {
            for aspect in ["status_time", "quality_time", "category_time"] {
                item.insert(aspect.into(), n(at));
            }
        }
        self.put_new(item).await
    }

    /// One template.
    pub async fn template(
        &self,
        tenant_id: &str,
        template_id: u64,
    ) -> Result<Option<TemplateRecord>, StoreError> {
        let item = self
            .get(&keys::tenant(tenant_id), &keys::template(template_id))
            .await?;
        Ok(item.map(serde_dynamo::from_item).transpose()?)
    }

    /// Replaces a placeholder of an onboarded template with what an event carries, only while
    /// the placeholder is still there (`Ok(false)`: something filled it first).
    pub async fn fill_template_placeholder(
        &self,
        tenant_id: &str,
        template_id: u64,
        fill: &Fill,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::new();
        e.set(fill.attribute, s(&fill.value))
            .set("updated_at", n(now()));
        let (a, placeholder) = (e.name(fill.attribute), e.value(s(&fill.placeholder)));
        e.condition(format!("{a} = {placeholder}"));
        match self
            .update(
                key(keys::tenant(tenant_id), keys::template(template_id)),
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

    /// Writes an update unless a newer event for the same aspect was applied meanwhile
    /// (`Ok(false)`: the event turned out stale, or the template is gone).
    pub async fn apply_template_update(
        &self,
        tenant_id: &str,
        template_id: u64,
        aspect: Aspect,
        time: u64,
        u: &TemplateUpdate,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::new();
        let time_attribute = format!("{}_time", aspect.as_str());
        e.set(&time_attribute, n(time)).set("updated_at", n(now()));
        e.set_opt("status", u.status.clone().map(s))
            .set_opt("quality", u.quality.clone().map(s))
            .set_opt("previous_quality", u.previous_quality.clone().map(s))
            .set_opt("category", u.category.clone().map(s))
            .set_opt("previous_category", u.previous_category.clone().map(s))
            .set_opt("reason", u.reason.as_deref().map(|r| s(clip(r))))
            .set_opt("pause_title", u.pause_title.clone().map(s));
        match &u.pending_category {
            Some((category, at)) => {
                e.set("pending_category", s(category))
                    .set_opt("pending_category_at", at.map(n));
            }
            None if u.category.is_some() => {
                e.remove("pending_category").remove("pending_category_at");
            }
            None => {}
        }
        if u.status.is_some() && u.pause_title.is_none() {
            e.remove("pause_title");
        }
        let (pk, t) = (e.name("pk"), e.name(&time_attribute));
        let at = e.value(n(time));
        e.condition(format!(
            "attribute_exists({pk}) AND (attribute_not_exists({t}) OR {t} <= {at})"
        ));
        match self
            .update(
                key(keys::tenant(tenant_id), keys::template(template_id)),
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

    /// Tenant settings: whether campaigns resume by themselves when their template recovers.
    pub async fn auto_resume(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant(tenant_id), keys::SETTINGS_SK)))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out
            .item
            .and_then(|i| i.get("auto_resume").and_then(|v| v.as_bool().ok()).copied())
            .unwrap_or(false))
    }

    /// Sets the tenant's `auto_resume` setting.
    pub async fn set_auto_resume(&self, tenant_id: &str, on: bool) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set(
            "auto_resume",
            aws_sdk_dynamodb::types::AttributeValue::Bool(on),
        )
        .set("entity", s("settings"))
        .set("updated_at", n(now()));
        self.update(key(keys::tenant(tenant_id), keys::SETTINGS_SK), e, None)
            .await?;
        Ok(())
    }

    /// Records a WABA's account state (ban state and date).
    pub async fn record_account_state(
        &self,
        tenant_id: &str,
        waba_id: &str,
        event: &str,
        ban_state: Option<&str>,
        ban_date: Option<&str>,
        time: u64,
    ) -> Result<(), StoreError> {
        let mut e = Expr::new();
        e.set("entity", s("waba"))
            .set("waba_id", s(waba_id))
            .set("account_event", s(event))
            .set_opt("ban_state", ban_state.map(s))
            .set_opt("ban_date", ban_date.map(s))
            .set("account_time", n(time))
            .set("updated_at", n(now()));
        self.update(key(keys::tenant(tenant_id), keys::waba(waba_id)), e, None)
            .await?;
        Ok(())
    }

    /// The tenant's phone number id with this display number, if any.
    pub async fn phone_by_display_number(
        &self,
        tenant_id: &str,
        display: &str,
    ) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("display_phone_number = :d")
            .expression_attribute_values(":pk", s(keys::tenant(tenant_id)))
            .expression_attribute_values(":prefix", s("PHONE#"))
            .expression_attribute_values(":d", s(display))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out.items.unwrap_or_default().into_iter().find_map(|i| {
            i.get("phone_number_id")
                .and_then(|v| v.as_s().ok())
                .cloned()
        }))
    }
}
