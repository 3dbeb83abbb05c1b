//! Failures explained: Meta's error catalogue (`GET /errors`) and a campaign's failures by code,
//! each with its meaning and what to do (`GET /campaigns/{id}/failures`).

use crate::campaigns::CampaignPath;
use crate::http::{self, TenantQuery};
use crate::responses::RefusedOrMissing;
use crate::{Api, ApiError};
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::domain::errors::{explain, ErrorClass, CATALOGUE};
use shared::domain::health::ratio;
use utoipa::ToSchema;

/// A failure class: what kind of failure a code is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Class {
    RateLimit,
    Engagement,
    OptOut,
    Recipient,
    Template,
    Account,
    Payment,
    Request,
    Transient,
    Unknown,
}

impl From<ErrorClass> for Class {
    fn from(c: ErrorClass) -> Self {
        match c {
            ErrorClass::RateLimit => Class::RateLimit,
            ErrorClass::Engagement => Class::Engagement,
            ErrorClass::OptOut => Class::OptOut,
            ErrorClass::Recipient => Class::Recipient,
            ErrorClass::Template => Class::Template,
            ErrorClass::Account => Class::Account,
            ErrorClass::Payment => Class::Payment,
            ErrorClass::Request => Class::Request,
            ErrorClass::Transient => Class::Transient,
            ErrorClass::Unknown => Class::Unknown,
        }
    }
}

/// One documented error code.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorEntry {
    code: i64,
    title: &'static str,
    class: Class,
    /// What a person should do
    action: &'static str,
}

/// The catalogue.
#[derive(Serialize, ToSchema)]
pub(crate) struct Catalogue {
    items: Vec<ErrorEntry>,
}

/// Meta's message delivery error codes: title, class and the action to take
#[utoipa::path(
    get,
    path = "/errors",
    operation_id = "listErrors",
    params(TenantQuery),
    responses((status = 200, description = "OK", body = inline(Catalogue)), crate::responses::Refused),
    security(("bearerAuth" = []))
)]
pub(crate) fn catalogue() -> Result<Response<Body>, ApiError> {
    http::ok(&Catalogue {
        items: CATALOGUE
            .iter()
            .map(|e| ErrorEntry {
                code: e.code,
                title: e.title,
                class: e.class.into(),
                action: e.action,
            })
            .collect(),
    })
}

/// A campaign's failures with one code.
#[derive(Serialize, ToSchema)]
pub(crate) struct Failure {
    code: i64,
    count: i64,
    /// count / total_failed
    #[schema(minimum = 0, maximum = 1)]
    share: f64,
    title: String,
    class: Class,
    action: String,
}

/// A campaign's failures by code, most frequent first.
#[derive(Serialize, ToSchema)]
pub(crate) struct Failures {
    total_failed: i64,
    items: Vec<Failure>,
}

/// A campaign's failures by error code, explained (codes Meta does not list are class unknown)
#[utoipa::path(
    get,
    path = "/campaigns/{campaign_id}/failures",
    operation_id = "getCampaignFailures",
    params(CampaignPath, TenantQuery),
    responses((status = 200, description = "OK", body = inline(Failures)), RefusedOrMissing),
    security(("bearerAuth" = []))
)]
pub(crate) async fn of_campaign(
    api: &Api,
    tenant: &str,
    campaign: CampaignPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let found = api
        .store
        .campaign_failures(tenant, campaign.campaign_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let total_failed = found.campaign.reached_failed;
    // Failures counted without a code (Meta sent none) are the rest of reached failed.
    let mut by_code: Vec<(i64, i64)> = found.counts.errors.into_iter().collect();
    by_code.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let items = by_code
        .into_iter()
        .map(|(code, count)| {
            let e = explain(code);
            Failure {
                code,
                count,
                share: ratio(count, total_failed.max(count)),
                title: e.title,
                class: e.class.into(),
                action: e.action,
            }
        })
        .collect();
    http::ok(&Failures {
        total_failed,
        items,
    })
}
