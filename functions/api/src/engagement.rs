//! Replies and what follows them: a campaign's replies by kind and button, a number's opt-outs,
//! and a contact's 24-hour customer-service window.

use crate::campaigns::CampaignPath;
use crate::http::{self, PageQuery, PhonePath, TenantQuery};
use crate::responses::RefusedOrMissing;
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shared::store::keys;
use shared::store::queries::ListQuery;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Buttons listed, most pressed first.
const TOP_BUTTONS: usize = 20;

/// A button and how many first replies pressed it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ButtonCount {
    /// The quick-reply payload or interactive reply id
    payload: String,
    count: i64,
}

/// A campaign's replies (each message's first reply).
#[derive(Serialize, ToSchema)]
pub(crate) struct Replies {
    replied: i64,
    /// By the first reply's type: text, button, interactive, ...
    by_kind: BTreeMap<String, i64>,
    /// The top 20 buttons
    buttons: Vec<ButtonCount>,
}

/// A campaign's replies: by kind, and the buttons pressed
#[utoipa::path(
    get,
    path = "/campaigns/{campaign_id}/replies",
    operation_id = "getCampaignReplies",
    params(CampaignPath, TenantQuery),
    responses((status = 200, description = "OK", body = inline(Replies)), RefusedOrMissing),
    security(("bearerAuth" = []))
)]
pub(crate) async fn replies(
    api: &Api,
    tenant: &str,
    campaign: CampaignPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let r = api
        .store
        .campaign_replies(tenant, campaign.campaign_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    http::ok(&Replies {
        replied: r.replied,
        by_kind: r.by_kind,
        buttons: r
            .buttons
            .into_iter()
            .take(TOP_BUTTONS)
            .map(|(payload, count)| ButtonCount { payload, count })
            .collect(),
    })
}

/// A phone number's opt-outs, by contact (paged)
#[utoipa::path(
    get,
    path = "/numbers/{phone_number_id}/opt-outs",
    operation_id = "listOptOuts",
    params(PhonePath, TenantQuery, PageQuery),
    responses((status = 200, description = "OK", body = http::Page), crate::responses::Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn opt_outs(
    api: &Api,
    req: &Request,
    tenant: &str,
    phone: PhonePath<'_>,
) -> Result<Response<Body>, ApiError> {
    http::check_phone_number_id(phone.phone_number_id)?;
    let q = ListQuery::partition(keys::opt_outs(tenant, phone.phone_number_id));
    http::page(
        api,
        req,
        tenant,
        &format!("opt-outs|{}", phone.phone_number_id),
        q,
    )
    .await
}

/// A contact in the path: a WhatsApp id (digits) or a business-scoped user id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ContactPath<'r> {
    #[param(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub contact: &'r str,
}

/// Whether a contact's customer-service window with a number is open.
#[derive(Serialize, ToSchema)]
pub(crate) struct WindowState {
    open: bool,
    #[schema(required = true)]
    last_inbound_at: Option<u64>,
    #[schema(required = true)]
    closes_at: Option<u64>,
}

/// A contact's 24-hour customer-service window with a phone number (an unknown contact has the
/// same answer as a closed window with no history)
#[utoipa::path(
    get,
    path = "/numbers/{phone_number_id}/contacts/{contact}/window",
    operation_id = "getContactWindow",
    params(PhonePath, ContactPath, TenantQuery),
    responses((status = 200, description = "OK", body = inline(WindowState)), crate::responses::Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn window(
    api: &Api,
    tenant: &str,
    phone: PhonePath<'_>,
    contact: ContactPath<'_>,
) -> Result<Response<Body>, ApiError> {
    http::check_phone_number_id(phone.phone_number_id)?;
    if !valid_contact(contact.contact) {
        return Err(ApiError::bad(
            "invalid_contact",
            "a contact is 1-64 of A-Z a-z 0-9 . _ -",
        ));
    }
    let window = api
        .store
        .window(tenant, phone.phone_number_id, contact.contact)
        .await?;
    let now = shared::store::now();
    http::ok(&match window {
        Some(w) => WindowState {
            open: w.closes_at > now,
            last_inbound_at: Some(w.last_inbound_at),
            closes_at: Some(w.closes_at),
        },
        None => WindowState {
            open: false,
            last_inbound_at: None,
            closes_at: None,
        },
    })
}

fn valid_contact(contact: &str) -> bool {
    (1..=64).contains(&contact.len())
        && contact
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
