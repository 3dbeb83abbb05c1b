//! Campaigns: list, create, read, pause and resume (audited), and totals over a time range.

use crate::alerts::record_action;
use crate::http::{self, Page, TenantQuery};
use crate::responses::{Refused, RefusedOrMissing};
use crate::templates;
use crate::{Api, ApiError, Problem};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Caller, Role};
use shared::store::queries::{number, text, ListQuery};
use shared::store::{keys, s, CampaignRecord};
use std::collections::BTreeMap;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::{IntoParams, ToSchema};

const STATUSES: &[&str] = &["ACTIVE", "PAUSED", "COMPLETED"];

/// A campaign in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct CampaignPath<'r> {
    #[param(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub campaign_id: &'r str,
}

/// A campaign: its counters, rates and pause state.
#[derive(Serialize, ToSchema)]
pub(crate) struct Campaign {
    campaign_id: String,
    #[schema(required = true)]
    name: Option<String>,
    status: String,
    template_id: String,
    phone_number_id: String,
    #[schema(required = true)]
    waba_id: Option<String>,
    registered: i64,
    #[schema(inline)]
    reached: Reached,
    #[schema(inline)]
    current: Current,
    #[schema(inline)]
    rates: Rates,
    #[schema(inline)]
    pause: Pause,
    /// Recipients who opted out (a 131050 failure or an opt-out button)
    opted_out: i64,
}

/// How many messages ever reached each state.
#[derive(Serialize, ToSchema)]
pub(crate) struct Reached {
    sent: i64,
    delivered: i64,
    read: i64,
    failed: i64,
    /// Messages with a reply (the first reply of each)
    replied: i64,
}

/// How many messages are in each state now.
#[derive(Serialize, ToSchema)]
pub(crate) struct Current {
    sent: i64,
    delivered: i64,
    read: i64,
    played: i64,
    failed: i64,
}

/// delivery = delivered / (sent + failed); read = read / delivered; failure = failed / (sent + failed); reply = replied / delivered
#[derive(Serialize, ToSchema)]
pub(crate) struct Rates {
    #[schema(minimum = 0, maximum = 1)]
    delivery: f64,
    #[schema(minimum = 0, maximum = 1)]
    read: f64,
    #[schema(minimum = 0, maximum = 1)]
    failure: f64,
    #[schema(minimum = 0, maximum = 1)]
    reply: f64,
}

/// Why and since when the campaign is paused, and what holds it.
#[derive(Serialize, ToSchema)]
pub(crate) struct Pause {
    #[schema(required = true)]
    reason: Option<String>,
    #[schema(required = true)]
    paused_at: Option<u64>,
    #[schema(required = true)]
    auto_paused_by: Option<String>,
    paused_by_user: bool,
    holds: Vec<String>,
}

impl From<CampaignRecord> for Campaign {
    fn from(c: CampaignRecord) -> Self {
        // attempted = every message that got a final answer: reached sent, or failed.
        let attempted = c.reached_sent + c.reached_failed;
        Self {
            campaign_id: c.campaign_id,
            name: c.name,
            status: c.status,
            template_id: c.template_id.to_string(),
            phone_number_id: c.phone_number_id,
            waba_id: c.waba_id,
            registered: c.registered,
            rates: Rates {
                delivery: ratio(c.reached_delivered, attempted),
                read: ratio(c.reached_read, c.reached_delivered),
                failure: ratio(c.reached_failed, attempted),
                reply: ratio(c.replied, c.reached_delivered.max(c.replied)),
            },
            reached: Reached {
                sent: c.reached_sent,
                delivered: c.reached_delivered,
                read: c.reached_read,
                failed: c.reached_failed,
                replied: c.replied,
            },
            current: Current {
                sent: c.current_sent,
                delivered: c.current_delivered,
                read: c.current_read,
                played: c.current_played,
                failed: c.current_failed,
            },
            pause: Pause {
                reason: c.pause_reason,
                paused_at: c.paused_at,
                auto_paused_by: c.auto_paused_by,
                paused_by_user: c.paused_by_user.unwrap_or(false),
                holds: c.holds.unwrap_or_default(),
            },
            opted_out: c.opted_out,
        }
    }
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

/// A campaign to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCampaign {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    campaign_id: String,
    #[serde(default)]
    #[schema(nullable = false, max_length = 256)]
    name: Option<String>,
    #[schema(pattern = "^[0-9]{1,19}$")]
    template_id: String,
    #[schema(pattern = "^[0-9]{1,20}$")]
    phone_number_id: String,
}

// The body of pause, which may be left out.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PauseRequest {
    #[serde(default)]
    #[schema(nullable = false, max_length = 512)]
    reason: Option<String>,
}

// The body of resume, which may be left out.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResumeRequest {
    #[serde(default)]
    force: bool,
}

/// `GET /campaigns` filter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CampaignFilter {
    #[param(schema_with = statuses)]
    status: Option<String>,
}

fn statuses() -> ObjectBuilder {
    http::string_enum(STATUSES)
}

/// `?force=` of resume, as the body's `force`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ResumeQuery {
    #[param(schema_with = true_or_false)]
    force: Option<String>,
}

const TRUE_OR_FALSE: &[&str] = &["true", "false"];

fn true_or_false() -> ObjectBuilder {
    http::string_enum(TRUE_OR_FALSE)
}

/// `GET /stats` range: creation times in Unix seconds.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsRange {
    #[param(value_type = Option<i64>, minimum = 0, maximum = 9_999_999_999_i64)]
    from: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 9_999_999_999_i64)]
    to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Stats {
    from: u64,
    to: u64,
    campaigns: u64,
    campaigns_by_status: BTreeMap<String, u64>,
    totals: BTreeMap<String, i64>,
}

/// A tenant's campaigns fit a few pages of up to 500 (small items): the dashboard reads 500
/// campaigns in one request.
const MAX_CAMPAIGN_PAGE: i32 = 500;

/// `?limit=&cursor=` of the campaign list, as documented; `http::page_up_to` reads them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct CampaignPageQuery {
    #[param(value_type = Option<i32>, minimum = 1, maximum = 500, default = 50)]
    limit: Option<String>,
    /// next_cursor of the previous page
    #[param(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

/// Campaigns, optionally by status
#[utoipa::path(
    get,
    path = "/campaigns",
    operation_id = "listCampaigns",
    params(TenantQuery, CampaignPageQuery, CampaignFilter),
    responses((status = 200, description = "OK", body = inline(Page)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn list(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    let filter: CampaignFilter = http::query(req)?;
    let mut q = ListQuery::partition(keys::tenant(tenant));
    q.sort_prefix = Some("CAMPAIGN#");
    if let Some(status) = http::one_of("status", filter.status, STATUSES)? {
        q.filters.push(("status", s(status)));
    }
    http::page_up_to(api, req, tenant, "campaigns", q, MAX_CAMPAIGN_PAGE).await
}

/// Create a campaign (org_admin+)
#[utoipa::path(
    post,
    path = "/campaigns",
    operation_id = "createCampaign",
    params(TenantQuery),
    request_body = NewCampaign,
    responses(
        (status = 201, description = "Created", body = Campaign),
        Refused,
        (status = 409, description = "A campaign with this id exists", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn create(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let input: NewCampaign = http::body(req)?;
    if !http::valid_id(&input.campaign_id) {
        return Err(ApiError::bad(
            "invalid_campaign_id",
            "campaign ids are 1-128 of A-Z a-z 0-9 - _ .",
        ));
    }
    let template = http::template_id(&input.template_id)?;
    let phone = templates::phone(api, tenant, &input.phone_number_id)
        .await
        .map_err(|_| {
            ApiError::bad(
                "unknown_phone_number",
                "the phone number is not this tenant's",
            )
        })?;
    api.store
        .get(&keys::tenant(tenant), &keys::template(template))
        .await?
        .ok_or_else(|| ApiError::bad("unknown_template", "the template is not this tenant's"))?;
    let campaign = shared::store::NewCampaign {
        campaign_id: input.campaign_id.clone(),
        name: input.name,
        template_id: template,
        phone_number_id: input.phone_number_id,
        waba_id: text(&phone, "waba_id"),
        status: "ACTIVE".into(),
    };
    if !api.store.create_campaign(tenant, &campaign).await? {
        return Err(ApiError::Conflict(
            "campaign_exists",
            "a campaign with this id exists".into(),
        ));
    }
    let created = Campaign::from(campaign_record(api, tenant, &input.campaign_id).await?);
    http::json(StatusCode::CREATED, &created)
}

/// A campaign: counters, rates, pause state
#[utoipa::path(
    get,
    path = "/campaigns/{campaign_id}",
    operation_id = "getCampaign",
    params(CampaignPath, TenantQuery),
    responses((status = 200, description = "OK", body = Campaign), RefusedOrMissing),
    security(("bearerAuth" = []))
)]
pub(crate) async fn get(
    api: &Api,
    tenant: &str,
    campaign: CampaignPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = campaign.campaign_id;
    http::ok(&Campaign::from(campaign_record(api, tenant, id).await?))
}

/// Pause a campaign (org_admin+)
#[utoipa::path(
    post,
    path = "/campaigns/{campaign_id}/pause",
    operation_id = "pauseCampaign",
    params(CampaignPath, TenantQuery),
    request_body = inline(PauseRequest),
    responses(
        (status = 200, description = "OK", body = Campaign),
        RefusedOrMissing,
        (status = 409, description = "Not active or paused", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn pause(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
    campaign: CampaignPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = campaign.campaign_id;
    caller.require(Role::OrgAdmin)?;
    let input: PauseRequest = http::optional_body(req)?;
    campaign_record(api, tenant, id).await?;
    let reason = input.reason.unwrap_or_else(|| "paused by a person".into());
    let reason = shared::store::clip(&reason).to_owned();
    if !api
        .store
        .pause_campaign_by_user(tenant, id, &caller.subject, &reason)
        .await?
    {
        return Err(ApiError::Conflict(
            "not_pausable",
            "only an active or paused campaign can be paused".into(),
        ));
    }
    record_action(
        api,
        tenant,
        caller,
        "campaign_paused",
        &[("campaign_id", s(id))],
    )
    .await?;
    http::ok(&Campaign::from(campaign_record(api, tenant, id).await?))
}

/// Resume a campaign (org_admin+); refused while its template is PAUSED or DISABLED unless forced
#[utoipa::path(
    post,
    path = "/campaigns/{campaign_id}/resume",
    operation_id = "resumeCampaign",
    params(CampaignPath, TenantQuery, ResumeQuery),
    request_body = inline(ResumeRequest),
    responses(
        (status = 200, description = "OK", body = Campaign),
        RefusedOrMissing,
        (status = 409, description = "Template not sendable, or not paused", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
pub(crate) async fn resume(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
    campaign: CampaignPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = campaign.campaign_id;
    caller.require(Role::OrgAdmin)?;
    let mut input: ResumeRequest = http::optional_body(req)?;
    let ResumeQuery { force } = http::query(req)?;
    input.force |= http::one_of("force", force, TRUE_OR_FALSE)?.as_deref() == Some("true");
    let c = campaign_record(api, tenant, id).await?;
    let template = api.store.template(tenant, c.template_id).await?;
    let blocked = template
        .as_ref()
        .and_then(|t| t.status.as_deref())
        .is_some_and(|s| matches!(s, "PAUSED" | "DISABLED"));
    if blocked && !input.force {
        return Err(ApiError::Conflict(
            "template_not_sendable",
            "the template is PAUSED or DISABLED; resume with force to override".into(),
        ));
    }
    if !api
        .store
        .resume_campaign_by_user(tenant, id, &caller.subject, input.force)
        .await?
    {
        return Err(ApiError::Conflict(
            "not_resumable",
            "the campaign is not paused, or an automatic hold remains (use force)".into(),
        ));
    }
    // The circuit breaker counts from here: a resumed campaign is paused again only by new
    // failures, not by those a person has just looked at.
    if let Some(found) = api.store.campaign_failures(tenant, id).await? {
        api.store
            .set_breaker_baseline(tenant, id, &found.counts)
            .await?;
    }
    let action = if input.force {
        "campaign_resumed_forced"
    } else {
        "campaign_resumed"
    };
    record_action(api, tenant, caller, action, &[("campaign_id", s(id))]).await?;
    http::ok(&Campaign::from(campaign_record(api, tenant, id).await?))
}

/// Totals of the campaigns created in a time range
#[utoipa::path(
    get,
    path = "/stats",
    operation_id = "stats",
    params(TenantQuery, StatsRange),
    responses((status = 200, description = "OK", body = inline(Stats)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn stats(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    const LAST_SECOND: u64 = 9_999_999_999;
    let range: StatsRange = http::query(req)?;
    let bound = |value: Option<String>, default: u64| -> Result<u64, ApiError> {
        let invalid = || {
            ApiError::bad(
                "invalid_range",
                "from and to are Unix seconds up to 9999999999",
            )
        };
        value.map_or(Ok(default), |v| {
            v.parse::<u64>()
                .ok()
                .filter(|v| *v <= LAST_SECOND)
                .ok_or_else(invalid)
        })
    };
    let (from, to) = (bound(range.from, 0)?, bound(range.to, LAST_SECOND)?);
    if from > to {
        return Err(ApiError::bad("invalid_range", "from is after to"));
    }
    let campaigns = api.store.list_all(tenant, "CAMPAIGN#").await?;
    let mut stats = Stats {
        from,
        to,
        campaigns: 0,
        campaigns_by_status: BTreeMap::new(),
        totals: BTreeMap::new(),
    };
    for c in campaigns.iter().filter(|c| {
        let created = number(c, "created_at").unwrap_or_default().max(0) as u64;
        (from..=to).contains(&created)
    }) {
        stats.campaigns += 1;
        *stats
            .campaigns_by_status
            .entry(text(c, "status").unwrap_or_default())
            .or_default() += 1;
        for k in [
            "registered",
            "reached_sent",
            "reached_delivered",
            "reached_read",
            "reached_failed",
        ] {
            *stats.totals.entry(k.to_owned()).or_default() += number(c, k).unwrap_or_default();
        }
    }
    http::ok(&stats)
}

/// The campaign, if it is the tenant's.
pub(crate) async fn campaign_record(
    api: &Api,
    tenant: &str,
    id: &str,
) -> Result<CampaignRecord, ApiError> {
    api.store
        .campaign(tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}
