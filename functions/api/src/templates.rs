//! Templates: the critical ones, counts by quality and status, filtered lists, one template with
//! its open alerts, and a template's event history. Also the lookups other features check
//! against: the tenant's phone numbers and templates.

use crate::alerts::{self, Alert};
use crate::http::{self, Item, Page, PageQuery, PhonePath, TemplatePath, TenantQuery};
use crate::openapi::{Refused, RefusedOrMissing};
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::domain::template::is_critical;
use shared::store::queries::{number, text, ListQuery};
use shared::store::{keys, s};
use std::collections::BTreeMap;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::{IntoParams, ToSchema};

const STATUSES: &[&str] = &[
    "APPROVED",
    "REJECTED",
    "PENDING",
    "PAUSED",
    "DISABLED",
    "FLAGGED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "DELETED",
    "ARCHIVED",
    "LIMIT_EXCEEDED",
];
const QUALITIES: &[&str] = &["GREEN", "YELLOW", "RED", "UNKNOWN"];
const CATEGORIES: &[&str] = &["MARKETING", "UTILITY", "AUTHENTICATION"];

/// A template with its open alerts: the attributes it has stored (keys left out), its id as a
/// string (ids go past 2^53).
#[derive(Serialize, ToSchema)]
pub(crate) struct Template {
    template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    quality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    previous_quality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pending_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<String>,
    // Its other attributes (tenant, WABA, times) go out as stored.
    #[serde(flatten)]
    #[schema(ignore)]
    stored: Item,
    open_alerts: Vec<Alert>,
}

impl Template {
    fn of(item: &shared::store::Item, alerts: &BTreeMap<String, Vec<Alert>>) -> Self {
        let id = number(item, "template_id").unwrap_or_default();
        let mut stored = Item::of(item);
        stored.remove("template_id");
        stored.remove("open_alerts");
        Self {
            template_id: id.to_string(),
            name: stored.take_text("name"),
            language: stored.take_text("language"),
            category: stored.take_text("category"),
            status: stored.take_text("status"),
            quality: stored.take_text("quality"),
            previous_quality: stored.take_text("previous_quality"),
            pending_category: stored.take_text("pending_category"),
            reason: stored.take_text("reason"),
            stored,
            open_alerts: alerts
                .get(&format!("template:{id}"))
                .cloned()
                .unwrap_or_default(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CriticalTemplates {
    items: Vec<Template>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct QualitySummary {
    total: usize,
    by_quality: BTreeMap<String, u64>,
    by_status: BTreeMap<String, u64>,
}

/// `GET /templates` filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TemplateFilters {
    #[param(schema_with = statuses)]
    status: Option<String>,
    #[param(schema_with = qualities)]
    quality: Option<String>,
    #[param(schema_with = categories)]
    category: Option<String>,
    /// phone_number_id: the templates of its WABA
    #[param(pattern = "^[0-9]{1,20}$")]
    number: Option<String>,
}

fn statuses() -> ObjectBuilder {
    http::string_enum(STATUSES)
}

fn qualities() -> ObjectBuilder {
    http::string_enum(QUALITIES)
}

fn categories() -> ObjectBuilder {
    http::string_enum(CATEGORIES)
}

/// Templates PAUSED, DISABLED, REJECTED, FLAGGED or RED, with open alerts
#[utoipa::path(
    get,
    path = "/templates/critical",
    operation_id = "criticalTemplates",
    params(TenantQuery),
    responses(
        (status = 200, description = "OK", body = inline(CriticalTemplates)),
        Refused,
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn critical(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    let templates = api.store.list_all(tenant, "TEMPLATE#").await?;
    let alerts = alerts::open_by_subject(api, tenant).await?;
    let items = templates
        .iter()
        .filter(|t| is_critical(text(t, "status").as_deref(), text(t, "quality").as_deref()))
        .map(|t| Template::of(t, &alerts))
        .collect();
    http::ok(&CriticalTemplates { items })
}

/// Template counts by quality and by status
#[utoipa::path(
    get,
    path = "/templates/quality-summary",
    operation_id = "qualitySummary",
    params(TenantQuery),
    responses(
        (status = 200, description = "OK", body = inline(QualitySummary)),
        Refused,
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn quality_summary(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    let templates = api.store.list_all(tenant, "TEMPLATE#").await?;
    let mut summary = QualitySummary {
        total: templates.len(),
        by_quality: BTreeMap::new(),
        by_status: BTreeMap::new(),
    };
    for t in &templates {
        *summary
            .by_quality
            .entry(text(t, "quality").unwrap_or_else(|| "UNKNOWN".into()))
            .or_default() += 1;
        *summary
            .by_status
            .entry(text(t, "status").unwrap_or_else(|| "UNKNOWN".into()))
            .or_default() += 1;
    }
    http::ok(&summary)
}

/// Templates, filtered
#[utoipa::path(
    get,
    path = "/templates",
    operation_id = "listTemplates",
    params(TenantQuery, PageQuery, TemplateFilters),
    responses(
        (status = 200, description = "OK", body = inline(Page)),
        Refused,
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn list(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    let filters: TemplateFilters = http::query(req)?;
    let mut q = ListQuery::partition(keys::tenant(tenant));
    q.sort_prefix = Some("TEMPLATE#");
    for (name, value, allowed) in [
        ("status", filters.status, STATUSES),
        ("quality", filters.quality, QUALITIES),
        ("category", filters.category, CATEGORIES),
    ] {
        if let Some(v) = http::one_of(name, value, allowed)? {
            q.filters.push((name, s(v)));
        }
    }
    // number: the templates of the WABA that phone number belongs to.
    if let Some(number) = filters.number {
        let phone = phone(api, tenant, &number).await.map_err(|_| {
            ApiError::bad(
                "unknown_phone_number",
                "the phone number is not this tenant's",
            )
        })?;
        let waba = text(&phone, "waba_id").unwrap_or_default();
        q.filters.push(("waba_id", s(waba)));
    }
    http::page(api, req, tenant, "templates", q).await
}

/// One template with its open alerts
#[utoipa::path(
    get,
    path = "/templates/{template_id}",
    operation_id = "getTemplate",
    params(TemplatePath, TenantQuery),
    responses(
        (status = 200, description = "OK", body = Template),
        RefusedOrMissing,
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn get(
    api: &Api,
    tenant: &str,
    template: TemplatePath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = template.id()?;
    let item = stored_template(api, tenant, id).await?;
    let alerts = alerts::open_by_subject(api, tenant).await?;
    http::ok(&Template::of(&item, &alerts))
}

/// A template's event history, newest first
#[utoipa::path(
    get,
    path = "/numbers/{phone_number_id}/templates/{template_id}/status-history",
    operation_id = "statusHistory",
    params(PhonePath, TemplatePath, TenantQuery, PageQuery),
    responses(
        (status = 200, description = "OK", body = inline(Page)),
        RefusedOrMissing,
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn status_history(
    api: &Api,
    req: &Request,
    tenant: &str,
    phone_number: PhonePath<'_>,
    template: TemplatePath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = template.id()?;
    phone(api, tenant, phone_number.phone_number_id).await?;
    stored_template(api, tenant, id).await?;
    let q = ListQuery {
        newest_first: true,
        ..ListQuery::partition(keys::template_history(tenant, id))
    };
    http::page(api, req, tenant, &format!("history:{id}"), q).await
}

/// The phone number, if it is the tenant's.
pub(crate) async fn phone(
    api: &Api,
    tenant: &str,
    phone_number_id: &str,
) -> Result<shared::store::Item, ApiError> {
    api.store
        .get(&keys::tenant(tenant), &keys::phone(phone_number_id))
        .await?
        .ok_or(ApiError::NotFound)
}

/// The template, if it is the tenant's.
pub(crate) async fn stored_template(
    api: &Api,
    tenant: &str,
    id: u64,
) -> Result<shared::store::Item, ApiError> {
    api.store
        .get(&keys::tenant(tenant), &keys::template(id))
        .await?
        .ok_or(ApiError::NotFound)
}
