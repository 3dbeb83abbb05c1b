//! Alerts and the audit trail: open alerts, acknowledging a template's alerts, and the record
//! of who did what (every person's action is audited here).

use crate::http::{self, PageQuery, PhonePath, TemplatePath, TenantQuery};
use crate::responses::{Refused, RefusedOrMissing};
use crate::templates;
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Caller, Role};
use shared::domain::template::Severity;
use shared::store::queries::ListQuery;
use shared::store::{keys, s, AlertRecord, AttributeValue};
use std::collections::BTreeMap;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::{IntoParams, ToSchema};

/// An open alert.
#[derive(Clone, Serialize, ToSchema)]
pub(crate) struct Alert {
    alert_id: String,
    #[schema(schema_with = severities)]
    severity: String,
    kind: String,
    title: String,
    subject: String,
    event_time: u64,
}

fn severities() -> ObjectBuilder {
    http::string_enum(
        &[Severity::Info, Severity::Warning, Severity::Critical].map(Severity::as_str),
    )
}

impl From<AlertRecord> for Alert {
    fn from(a: AlertRecord) -> Self {
        Self {
            alert_id: a.alert_id,
            severity: a.severity,
            kind: a.kind,
            title: a.title,
            subject: a.subject,
            event_time: a.event_time,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Alerts {
    items: Vec<Alert>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Acknowledged {
    acknowledged: usize,
    by: String,
    at: u64,
}

/// Open alerts
#[utoipa::path(
    get,
    path = "/alerts",
    operation_id = "openAlerts",
    params(TenantQuery),
    responses((status = 200, description = "OK", body = inline(Alerts)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn open(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    let items = api
        .store
        .open_alerts(tenant)
        .await?
        .into_iter()
        .map(Alert::from)
        .collect();
    http::ok(&Alerts { items })
}

/// The tenant's open alerts by subject (`template:<id>`, ...).
pub(crate) async fn open_by_subject(
    api: &Api,
    tenant: &str,
) -> Result<BTreeMap<String, Vec<Alert>>, ApiError> {
    let mut alerts: BTreeMap<String, Vec<Alert>> = BTreeMap::new();
    for a in api.store.open_alerts(tenant).await? {
        alerts.entry(a.subject.clone()).or_default().push(a.into());
    }
    Ok(alerts)
}

/// Acknowledge the template's open alerts (org_admin+)
#[utoipa::path(
    post,
    path = "/numbers/{phone_number_id}/templates/{template_id}/acknowledge-alert",
    operation_id = "acknowledgeAlert",
    params(PhonePath, TemplatePath, TenantQuery),
    responses((status = 200, description = "OK", body = inline(Acknowledged)), RefusedOrMissing),
    security(("bearerAuth" = []))
)]
pub(crate) async fn acknowledge(
    api: &Api,
    caller: &Caller,
    tenant: &str,
    phone_number: PhonePath<'_>,
    template: TemplatePath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = template.id()?;
    caller.require(Role::OrgAdmin)?;
    templates::phone(api, tenant, phone_number.phone_number_id).await?;
    templates::stored_template(api, tenant, id).await?;
    let subject = format!("template:{id}");
    acknowledge_subject(api, caller, tenant, &subject).await
}

/// Closes the open alerts about `subject`, audited.
async fn acknowledge_subject(
    api: &Api,
    caller: &Caller,
    tenant: &str,
    subject: &str,
) -> Result<Response<Body>, ApiError> {
    let count = api
        .store
        .acknowledge_alerts(tenant, subject, &caller.subject)
        .await?;
    let at = record_action(
        api,
        tenant,
        caller,
        "alert_acknowledged",
        &[("subject", s(subject)), ("count", shared::store::n(count))],
    )
    .await?;
    http::ok(&Acknowledged {
        acknowledged: count,
        by: caller.subject.clone(),
        at,
    })
}

/// `/alerts/{alert_id}/...`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AlertPath<'a> {
    /// An open alert's id (from `GET /alerts`)
    #[param(pattern = "^[A-Za-z0-9_.:#-]{1,200}$")]
    pub(crate) alert_id: &'a str,
}

/// Acknowledge an open alert, and the other open alerts about the same subject (org_admin+)
#[utoipa::path(
    post,
    path = "/alerts/{alert_id}/acknowledge",
    operation_id = "acknowledgeAlertById",
    params(AlertPath, TenantQuery),
    responses((status = 200, description = "OK", body = inline(Acknowledged)), RefusedOrMissing),
    security(("bearerAuth" = []))
)]
pub(crate) async fn acknowledge_by_id(
    api: &Api,
    caller: &Caller,
    tenant: &str,
    alert: AlertPath<'_>,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let open = api.store.open_alerts(tenant).await?;
    let subject = open
        .into_iter()
        .find(|a| a.alert_id == alert.alert_id)
        .map(|a| a.subject)
        .ok_or(ApiError::NotFound)?;
    acknowledge_subject(api, caller, tenant, &subject).await
}

/// Who paused, resumed, acknowledged what; newest first
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "audit",
    params(TenantQuery, PageQuery),
    responses((status = 200, description = "OK", body = inline(http::Page)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn audit(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    let q = ListQuery {
        newest_first: true,
        ..ListQuery::partition(keys::audit(tenant))
    };
    http::page(api, req, tenant, "audit", q).await
}

/// Records a person's action in the tenant's audit trail: who, what, when. Returns when.
pub(crate) async fn record_action(
    api: &Api,
    tenant: &str,
    caller: &Caller,
    action: &str,
    fields: &[(&str, AttributeValue)],
) -> Result<u64, ApiError> {
    let now = shared::store::now();
    // Each call is its own event, so the id is random rather than derived.
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut all = vec![("action", s(action)), ("actor", s(&caller.subject))];
    all.extend(fields.iter().cloned());
    api.store.audit(tenant, &id, now, &all).await?;
    Ok(now)
}
