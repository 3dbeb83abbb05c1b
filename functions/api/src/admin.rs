//! Super admin: routing phone number and WABA ids to tenants, and the events no tenant could be
//! found for.

use crate::http::{self, Page, PageQuery, PhonePath};
use crate::responses::Refused;
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Caller, Role};
use shared::store::queries::ListQuery;
use shared::store::{keys, PhoneRoute};
use utoipa::{IntoParams, ToSchema};

/// A WABA in the path (a Meta id).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct WabaPath<'r> {
    #[param(pattern = "^[0-9]{1,20}$")]
    pub waba_id: &'r str,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhoneRouteRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    tenant_id: String,
    #[schema(pattern = "^[0-9]{1,20}$")]
    waba_id: String,
    /// null or absent: not known
    #[serde(default)]
    #[schema(pattern = "^[0-9]{1,20}$")]
    display_phone_number: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PhoneRouted {
    phone_number_id: String,
    tenant_id: String,
    waba_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WabaRouteRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    tenant_id: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WabaRouted {
    waba_id: String,
    tenant_id: String,
}

/// Meta's ids and phone numbers: 1-20 digits.
fn is_meta_id(s: &str) -> bool {
    (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Events no tenant could be found for (super_admin)
#[utoipa::path(
    get,
    path = "/unrouted",
    operation_id = "unrouted",
    params(PageQuery),
    responses((status = 200, description = "OK", body = inline(Page)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn unrouted(
    api: &Api,
    req: &Request,
    caller: &Caller,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::SuperAdmin)?;
    let q = ListQuery {
        newest_first: true,
        ..ListQuery::partition(keys::unrouted())
    };
    http::page(api, req, "*", "unrouted", q).await
}

/// Route a phone number id to a tenant (super_admin)
#[utoipa::path(
    put,
    path = "/admin/routes/phone-numbers/{phone_number_id}",
    operation_id = "routePhoneNumber",
    params(PhonePath),
    request_body = inline(PhoneRouteRequest),
    responses((status = 200, description = "OK", body = inline(PhoneRouted)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn route_phone(
    api: &Api,
    req: &Request,
    caller: &Caller,
    phone_number: PhonePath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = phone_number.phone_number_id;
    caller.require(Role::SuperAdmin)?;
    let input: PhoneRouteRequest = http::body(req)?;
    if !is_meta_id(id)
        || !http::valid_id(&input.tenant_id)
        || !is_meta_id(&input.waba_id)
        || !input.display_phone_number.as_deref().is_none_or(is_meta_id)
    {
        return Err(ApiError::bad(
            "invalid_route",
            "ids and phone numbers are 1-20 digits; tenant ids are 1-128 of A-Z a-z 0-9 - _ .",
        ));
    }
    let route = PhoneRoute {
        tenant_id: input.tenant_id.clone(),
        waba_id: input.waba_id.clone(),
        display_phone_number: input.display_phone_number,
    };
    api.store.put_phone_route(id, &route).await?;
    http::ok(&PhoneRouted {
        phone_number_id: id.to_owned(),
        tenant_id: input.tenant_id,
        waba_id: input.waba_id,
    })
}

/// Route a WABA id to a tenant (super_admin)
#[utoipa::path(
    put,
    path = "/admin/routes/wabas/{waba_id}",
    operation_id = "routeWaba",
    params(WabaPath),
    request_body = inline(WabaRouteRequest),
    responses((status = 200, description = "OK", body = inline(WabaRouted)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn route_waba(
    api: &Api,
    req: &Request,
    caller: &Caller,
    waba: WabaPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = waba.waba_id;
    caller.require(Role::SuperAdmin)?;
    let input: WabaRouteRequest = http::body(req)?;
    if !is_meta_id(id) || !http::valid_id(&input.tenant_id) {
        return Err(ApiError::bad(
            "invalid_route",
            "ids are 1-20 digits; tenant ids are 1-128 of A-Z a-z 0-9 - _ .",
        ));
    }
    api.store.put_waba_route(id, &input.tenant_id).await?;
    http::ok(&WabaRouted {
        waba_id: id.to_owned(),
        tenant_id: input.tenant_id,
    })
}
