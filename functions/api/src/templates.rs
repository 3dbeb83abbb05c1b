//! Templates: the critical ones, counts by quality and status, filtered lists, one template with
//! its open alerts, and a template's event history. Also the lookups other features check
//! against: the tenant's phone numbers and templates.

use crate::alerts::record_action;
use crate::alerts::{self, Alert};
use crate::http::{self, Item, Page, PageQuery, PhonePath, TemplatePath, TenantQuery};
use crate::responses::{Refused, RefusedOrMissing};
use crate::Problem;
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Caller, Role};
use shared::domain::health;
use shared::domain::template::is_critical;
use shared::graph::GraphError;
use shared::store::queries::{text, unsigned, ListQuery};
use shared::store::{keys, s};
use shared::sync::SyncError;
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
        let id = unsigned(item, "template_id").unwrap_or_default();
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

/// A critical template with its delivery health (folded from its campaigns' counters) and what
/// a person should do about it.
#[derive(Serialize, ToSchema)]
pub(crate) struct CriticalTemplate {
    #[serde(flatten)]
    template: Template,
    /// Messages of its campaigns that Meta answered for (reached sent or later, or failed),
    /// over the lifetime of the campaigns stored
    #[schema(minimum = 0)]
    messages_sent: i64,
    /// Of those, the ones that reached failed
    #[schema(minimum = 0)]
    messages_failed: i64,
    /// messages_failed / messages_sent, rounded to 4 decimals; 0 when none was sent
    #[schema(minimum = 0.0, maximum = 1.0)]
    failure_rate: f64,
    /// Its campaigns that are ACTIVE or PAUSED
    #[schema(minimum = 0)]
    campaigns_affected: u64,
    /// One sentence: what to do about it (null when nothing is needed)
    action_required: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CriticalTemplates {
    items: Vec<CriticalTemplate>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct QualitySummary {
    total: usize,
    by_quality: BTreeMap<String, u64>,
    by_status: BTreeMap<String, u64>,
    /// Messages of all the tenant's campaigns that Meta answered for (reached sent or later,
    /// or failed), over the lifetime of the campaigns stored
    #[schema(minimum = 0)]
    total_messages_sent: i64,
    /// Of those, the ones that reached failed
    #[schema(minimum = 0)]
    total_messages_failed: i64,
    /// Unweighted mean over the templates that sent at least one message of (reached
    /// delivered / sent), 4 decimals; 0 when none sent
    #[schema(minimum = 0.0, maximum = 1.0)]
    avg_success_rate: f64,
    /// Unweighted mean over the templates that sent at least one message of (failed / sent),
    /// 4 decimals; 0 when none sent
    #[schema(minimum = 0.0, maximum = 1.0)]
    avg_failure_rate: f64,
}

/// What a sync did for one WABA.
#[derive(Serialize, ToSchema)]
pub(crate) struct SyncedWaba {
    waba_id: String,
    /// Templates Meta listed
    fetched: usize,
    /// Created here from Meta's answer
    created: usize,
    /// Known here, with at least one aspect changed
    updated: usize,
    /// Known here and already as Meta says
    unchanged: usize,
    /// Listed by Meta but not storable (an id that is not a 64-bit number)
    skipped: usize,
    /// Aspects left as they are because a webhook event newer than the sync set them
    kept_newer: usize,
    /// Phone numbers whose quality, limit, throughput and name status were read
    phone_numbers: usize,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SyncResult {
    wabas: Vec<SyncedWaba>,
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
    let critical: Vec<_> = templates
        .iter()
        .filter(|t| is_critical(text(t, "status").as_deref(), text(t, "quality").as_deref()))
        .collect();
    // One Query of the tenant's campaigns, only when there is something to report on.
    let health = if critical.is_empty() {
        BTreeMap::new()
    } else {
        health::by_template(&api.store.campaigns_of_tenant(tenant).await?)
    };
    let items = critical
        .into_iter()
        .map(|t| {
            let id = unsigned(t, "template_id").unwrap_or_default();
            let h = health.get(&id).copied().unwrap_or_default();
            CriticalTemplate {
                messages_sent: h.messages_sent,
                messages_failed: h.messages_failed,
                failure_rate: h.failure_rate(),
                campaigns_affected: h.campaigns_affected,
                action_required: health::action_required(
                    text(t, "status").as_deref(),
                    text(t, "reason").as_deref(),
                    text(t, "pause_title").as_deref(),
                    text(t, "quality").as_deref(),
                ),
                template: Template::of(t, &alerts),
            }
        })
        .collect();
    http::ok(&CriticalTemplates { items })
}

/// Sync the tenant's templates from Meta's Graph API now (org_admin+)
///
/// Pages through every routed WABA's message templates with the tenant's system-user token:
/// creates the templates not known here, and applies what changed to the others, never moving
/// a newer webhook-applied state backwards. Idempotent.
#[utoipa::path(
    post,
    path = "/templates/sync",
    operation_id = "syncTemplates",
    params(TenantQuery),
    responses(
        (status = 200, description = "What the sync did per WABA", body = inline(SyncResult)),
        (status = 409, description = "No Graph API token is stored for the tenant (code graph_token_missing)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Meta refused the token (graph_token_refused), the request (graph_refused), or answered with something that is not its JSON (graph_malformed)", body = Problem, content_type = "application/problem+json"),
        Refused,
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn sync(
    api: &Api,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let reports = api.sync.sync_tenant(tenant).await.map_err(sync_error)?;
    record_action(
        api,
        tenant,
        caller,
        "templates_synced",
        &[("wabas", shared::store::n(reports.len()))],
    )
    .await?;
    http::ok(&SyncResult {
        wabas: reports
            .into_iter()
            .map(|r| SyncedWaba {
                waba_id: r.waba_id,
                fetched: r.fetched,
                created: r.created,
                updated: r.updated,
                unchanged: r.unchanged,
                skipped: r.skipped,
                kept_newer: r.kept_newer,
                phone_numbers: r.phone_numbers,
            })
            .collect(),
    })
}

fn sync_error(e: SyncError) -> ApiError {
    use lambda_http::http::StatusCode as S;
    match e {
        SyncError::Store(e) => ApiError::Store(e),
        SyncError::NoToken(name) => ApiError::Upstream(
            S::CONFLICT,
            "graph_token_missing",
            format!("store the tenant's Graph API system-user token in Secrets Manager as {name}"),
        ),
        SyncError::Secrets(e) => ApiError::Upstream(
            S::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the tenant's token could not be read ({})", e.code),
        ),
        SyncError::Graph(g) => {
            let status = match g {
                GraphError::Unavailable { .. } => S::SERVICE_UNAVAILABLE,
                _ => S::BAD_GATEWAY,
            };
            let detail = match &g {
                GraphError::TokenRefused(_) => {
                    "Meta refused the tenant's Graph API token (code 190): store a new one"
                        .to_owned()
                }
                other => other.to_string(),
            };
            ApiError::Upstream(status, g.code(), detail)
        }
    }
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
    let delivery = health::tenant(&health::by_template(
        &api.store.campaigns_of_tenant(tenant).await?,
    ));
    let mut summary = QualitySummary {
        total: templates.len(),
        by_quality: BTreeMap::new(),
        by_status: BTreeMap::new(),
        total_messages_sent: delivery.total_messages_sent,
        total_messages_failed: delivery.total_messages_failed,
        avg_success_rate: delivery.avg_success_rate,
        avg_failure_rate: delivery.avg_failure_rate,
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
