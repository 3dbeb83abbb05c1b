//! Messages: the sender registers what it sent (idempotent), and a campaign's delivery report.

use crate::campaigns::{campaign_record, CampaignPath};
use crate::http::{self, Page, PageQuery, TenantQuery};
use crate::responses::{Refused, RefusedOrMissing};
use crate::{Api, ApiError, Problem};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Caller, Role};
use shared::domain::status::Delivery;
use shared::store::queries::{key_from_strings, key_strings};
use shared::store::{MessagesCursor, Registration, RegistrationOutcome, StoreError};
use std::collections::BTreeMap;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

const MAX_REGISTRATIONS: usize = 100;

/// A message the sender sent in a campaign.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageRegistration {
    #[schema(pattern = r"^wamid\.[A-Za-z0-9+/=_-]{1,240}$")]
    wamid: String,
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    campaign_id: String,
    #[serde(default)]
    #[schema(nullable = false)]
    recipient_id: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[0-9]{1,19}$")]
    template_id: Option<String>,
}

/// The body of `POST /messages`: one registration, or 1 to 100.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Registrations {
    One(MessageRegistration),
    Many(Vec<MessageRegistration>),
}

impl PartialSchema for Registrations {
    fn schema() -> RefOr<Schema> {
        let one = Ref::from_schema_name(MessageRegistration::name());
        OneOfBuilder::new()
            .item(one.clone())
            .item(
                ArrayBuilder::new()
                    .items(one)
                    .min_items(Some(1))
                    .max_items(Some(MAX_REGISTRATIONS)),
            )
            .into()
    }
}

impl ToSchema for Registrations {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            MessageRegistration::name().into_owned(),
            MessageRegistration::schema(),
        ));
        <MessageRegistration as ToSchema>::schemas(schemas);
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Registered {
    #[schema(inline)]
    results: Vec<RegistrationResult>,
}

/// What registering one message did.
#[derive(Serialize, ToSchema)]
pub(crate) struct RegistrationResult {
    wamid: String,
    #[schema(inline)]
    result: Outcome,
    /// The state statuses that arrived before the registration had already reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = deliveries)]
    delivery: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    detail: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Registered,
    AlreadyRegistered,
    Conflict,
}

/// Delivery states, from the domain's own list.
fn deliveries() -> ObjectBuilder {
    let states: Vec<&str> = std::iter::once(Delivery::Pending)
        .chain(Delivery::OBSERVABLE)
        .map(Delivery::as_str)
        .collect();
    http::string_enum(&states)
}

/// `GET /campaigns/{campaign_id}/messages` filter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryFilter {
    #[param(schema_with = deliveries)]
    status: Option<String>,
}

/// Register sent messages (the send acknowledgement), 1 to 100, idempotent (org_admin+)
#[utoipa::path(
    post,
    path = "/messages",
    operation_id = "registerMessages",
    params(TenantQuery),
    request_body = inline(Registrations),
    responses((status = 200, description = "OK", body = inline(Registered)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn register(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let messages = match http::body::<Registrations>(req)? {
        Registrations::One(m) => vec![m],
        Registrations::Many(list) => list,
    };
    if messages.is_empty() || messages.len() > MAX_REGISTRATIONS {
        return Err(ApiError::bad("invalid_batch", "send 1 to 100 messages"));
    }
    let mut known_campaigns = BTreeMap::new();
    for m in &messages {
        if !m.wamid.starts_with("wamid.") || m.wamid.len() > 256 {
            return Err(ApiError::bad("invalid_wamid", "wamids start with 'wamid.'"));
        }
        if !known_campaigns.contains_key(&m.campaign_id) {
            let exists = api.store.campaign(tenant, &m.campaign_id).await?.is_some();
            known_campaigns.insert(m.campaign_id.clone(), exists);
        }
        if !known_campaigns[&m.campaign_id] {
            return Err(ApiError::bad(
                "unknown_campaign",
                "a message names a campaign this tenant does not have",
            ));
        }
    }
    // Message items expire the tenant's retention after their registration (docs/privacy.md).
    let expires_at = shared::store::now() + api.store.retention_days(tenant).await? * 86_400;
    let mut results = Vec::new();
    for m in messages {
        let registration = Registration {
            wamid: m.wamid.clone(),
            campaign_id: m.campaign_id,
            recipient_id: m.recipient_id,
            template_id: m.template_id.as_deref().and_then(|t| t.parse().ok()),
            expires_at: Some(expires_at),
        };
        let (result, delivery, detail) =
            match api.store.register_message(tenant, &registration).await {
                Ok(RegistrationOutcome::Registered { delivery }) => {
                    (Outcome::Registered, Some(delivery.as_str()), None)
                }
                Ok(RegistrationOutcome::AlreadyRegistered) => {
                    (Outcome::AlreadyRegistered, None, None)
                }
                Err(StoreError::Refused(_)) => (
                    Outcome::Conflict,
                    None,
                    Some("registered to another campaign"),
                ),
                Err(e) => return Err(e.into()),
            };
        results.push(RegistrationResult {
            wamid: m.wamid,
            result,
            delivery,
            detail,
        });
    }
    http::ok(&Registered { results })
}

/// A campaign's messages (delivery report), optionally by status
#[utoipa::path(
    get,
    path = "/campaigns/{campaign_id}/messages",
    operation_id = "campaignMessages",
    params(CampaignPath, TenantQuery, PageQuery, DeliveryFilter),
    responses(
        (status = 200, description = "OK", body = inline(Page)),
        (status = 410, description = "Its messages were deleted after the tenant's retention (code messages_expired); its counters remain", body = Problem, content_type = "application/problem+json"),
        RefusedOrMissing
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn of_campaign(
    api: &Api,
    req: &Request,
    tenant: &str,
    campaign: CampaignPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = campaign.campaign_id;
    let record = campaign_record(api, tenant, id).await?;
    let filter: DeliveryFilter = http::query(req)?;
    if let Some(status) = &filter.status {
        if Delivery::parse(status).is_none() {
            return Err(ApiError::bad(
                "invalid_status",
                "status is pending, sent, delivered, read, played or failed",
            ));
        }
    }
    // The scope includes the filter, so a cursor only continues the list it came from.
    let scope = format!("messages:{id}|delivery={:?}", filter.status);
    let (limit, start) = http::page_request(api, req, tenant, &scope)?;
    let start = match start {
        None => MessagesCursor::default(),
        Some(mut key) => {
            let source = key
                .remove(CURSOR_SOURCE)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    ApiError::bad("invalid_cursor", "cursor is not valid for this list")
                })?;
            MessagesCursor {
                source,
                after: (!key.is_empty()).then(|| key_from_strings(key)),
            }
        }
    };
    let (items, next) = api
        .store
        .campaign_messages(tenant, id, filter.status.as_deref(), limit, start)
        .await
        .map_err(|e| match e {
            StoreError::Refused(_) => {
                ApiError::bad("invalid_cursor", "cursor is not valid for this list")
            }
            other => other.into(),
        })?;
    // Messages registered and none left: the retention deleted them (the counters stay).
    let first_page = req.uri().query().is_none_or(|q| !q.contains("cursor="));
    if items.is_empty()
        && next.is_none()
        && first_page
        && filter.status.is_none()
        && record.registered > 0
    {
        return Err(ApiError::Gone(
            "messages_expired",
            format!(
                "this campaign's {} messages were deleted after the tenant's retention_days \
                 (GET /settings); its counters, failures and timeline remain",
                record.registered
            ),
        ));
    }
    let next = next.map(|n| {
        let mut key = n.after.as_ref().map(key_strings).unwrap_or_default();
        key.insert(CURSOR_SOURCE.to_owned(), n.source.to_string());
        key
    });
    http::page_response(api, tenant, &scope, &items, next)
}

/// The cursor's entry naming the shard (or the legacy partition) the next page reads.
const CURSOR_SOURCE: &str = "source";
