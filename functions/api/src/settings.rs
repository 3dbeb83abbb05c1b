//! Tenant settings: whether campaigns resume by themselves when their template recovers.

use crate::alerts::record_action;
use crate::http::{self, TenantQuery};
use crate::openapi::Refused;
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Caller, Role};
use shared::store::AttributeValue;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct Settings {
    tenant_id: String,
    auto_resume: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsChange {
    auto_resume: bool,
}

/// Tenant settings
#[utoipa::path(
    get,
    path = "/settings",
    operation_id = "getSettings",
    params(TenantQuery),
    responses((status = 200, description = "OK", body = inline(Settings)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn get(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    http::ok(&Settings {
        tenant_id: tenant.to_owned(),
        auto_resume: api.store.auto_resume(tenant).await?,
    })
}

/// Change tenant settings (org_admin+)
#[utoipa::path(
    put,
    path = "/settings",
    operation_id = "putSettings",
    params(TenantQuery),
    request_body = inline(SettingsChange),
    responses((status = 200, description = "OK", body = inline(Settings)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn put(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let input: SettingsChange = http::body(req)?;
    api.store.set_auto_resume(tenant, input.auto_resume).await?;
    record_action(
        api,
        tenant,
        caller,
        "settings_changed",
        &[("auto_resume", AttributeValue::Bool(input.auto_resume))],
    )
    .await?;
    http::ok(&Settings {
        tenant_id: tenant.to_owned(),
        auto_resume: input.auto_resume,
    })
}
