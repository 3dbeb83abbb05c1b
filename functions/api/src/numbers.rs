//! Phone-number health: each number's quality rating, messaging limit tier and flag, and the
//! history of Meta's quality events.

use crate::http::{self, PageQuery, PhonePath, TenantQuery};
use crate::responses::{Refused, RefusedOrMissing};
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shared::store::queries::ListQuery;
use shared::store::{keys, PhoneNumberRecord};
use utoipa::ToSchema;

/// A quality rating.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Quality {
    Green,
    Yellow,
    Red,
    Unknown,
}

impl Quality {
    fn of(stored: &str) -> Self {
        match stored {
            "GREEN" => Self::Green,
            "YELLOW" => Self::Yellow,
            "RED" => Self::Red,
            _ => Self::Unknown,
        }
    }
}

/// A messaging limit tier.
#[derive(Serialize, ToSchema)]
pub(crate) enum Tier {
    #[serde(rename = "TIER_250")]
    Limit250,
    #[serde(rename = "TIER_1K")]
    Limit1K,
    #[serde(rename = "TIER_10K")]
    Limit10K,
    #[serde(rename = "TIER_100K")]
    Limit100K,
    #[serde(rename = "TIER_UNLIMITED")]
    Unlimited,
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

impl Tier {
    fn of(stored: &str) -> Self {
        match shared::domain::phone::tier(stored) {
            "TIER_250" => Self::Limit250,
            "TIER_1K" => Self::Limit1K,
            "TIER_10K" => Self::Limit10K,
            "TIER_100K" => Self::Limit100K,
            "TIER_UNLIMITED" => Self::Unlimited,
            _ => Self::Unknown,
        }
    }
}

/// A phone number's health.
#[derive(Serialize, ToSchema)]
pub(crate) struct Number {
    phone_number_id: String,
    #[schema(required = true)]
    display_phone_number: Option<String>,
    #[schema(required = true)]
    waba_id: Option<String>,
    quality: Quality,
    messaging_limit: Tier,
    flagged: bool,
    /// Meta's time of the last quality event applied (Unix seconds)
    #[schema(required = true)]
    updated_at: Option<u64>,
}

impl From<PhoneNumberRecord> for Number {
    fn from(p: PhoneNumberRecord) -> Self {
        Self {
            quality: Quality::of(&p.quality),
            messaging_limit: Tier::of(&p.messaging_limit),
            phone_number_id: p.phone_number_id,
            display_phone_number: p.display_phone_number,
            waba_id: p.waba_id,
            flagged: p.flagged,
            updated_at: p.updated_at,
        }
    }
}

/// The tenant's numbers.
#[derive(Serialize, ToSchema)]
pub(crate) struct Numbers {
    items: Vec<Number>,
}

/// The tenant's phone numbers: quality, messaging limit, flag
#[utoipa::path(
    get,
    path = "/numbers",
    operation_id = "listNumbers",
    params(TenantQuery),
    responses((status = 200, description = "OK", body = inline(Numbers)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn list(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    let items = api
        .store
        .phone_numbers(tenant)
        .await?
        .into_iter()
        .map(Number::from)
        .collect();
    http::ok(&Numbers { items })
}

/// One phone number's health
#[utoipa::path(
    get,
    path = "/numbers/{phone_number_id}",
    operation_id = "getNumber",
    params(PhonePath, TenantQuery),
    responses((status = 200, description = "OK", body = Number), RefusedOrMissing),
    security(("bearerAuth" = []))
)]
pub(crate) async fn get(
    api: &Api,
    tenant: &str,
    phone: PhonePath<'_>,
) -> Result<Response<Body>, ApiError> {
    http::check_phone_number_id(phone.phone_number_id)?;
    let number = api
        .store
        .phone_number(tenant, phone.phone_number_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    http::ok(&Number::from(number))
}

/// A phone number's quality events, newest first (paged)
#[utoipa::path(
    get,
    path = "/numbers/{phone_number_id}/history",
    operation_id = "getNumberHistory",
    params(PhonePath, TenantQuery, PageQuery),
    responses((status = 200, description = "OK", body = http::Page), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn history(
    api: &Api,
    req: &Request,
    tenant: &str,
    phone: PhonePath<'_>,
) -> Result<Response<Body>, ApiError> {
    http::check_phone_number_id(phone.phone_number_id)?;
    let mut q = ListQuery::partition(keys::phone_history(tenant, phone.phone_number_id));
    q.newest_first = true;
    http::page(
        api,
        req,
        tenant,
        &format!("phone-history|{}", phone.phone_number_id),
        q,
    )
    .await
}
