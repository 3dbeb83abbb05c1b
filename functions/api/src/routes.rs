//! The routes. Every handler takes the caller from the verified token, scopes to its tenant
//! (a super admin may name one with `?tenant=`), checks the role, and reads with one Query.

use super::{json, Api, ApiError};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::{json as j, Map, Value};
use shared::auth::{Caller, Role};
use shared::domain::template::is_critical;
use shared::store::queries::{key_from_strings, key_strings, number, text, ListQuery};
use shared::store::{
    keys, s, CampaignRecord, Item, NewCampaign, PhoneRoute, Registration, RegistrationOutcome,
};
use std::collections::BTreeMap;

const OPENAPI: &str = include_str!("../openapi.json");
/// The live dashboard: one static page, no build step (`functions/api/dashboard/`).
const DASHBOARD: &str = include_str!("../dashboard/index.html");
const MAX_PAGE: i32 = 100;
const MAX_REGISTRATIONS: usize = 100;

/// A stable route name for logs (ids replaced).
pub(crate) fn route_name(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.chars().any(|c| c.is_ascii_digit()) || seg.starts_with("c-") {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub(crate) async fn route(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();

    // Unauthenticated.
    match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => return health(api).await,
        (&Method::GET, ["openapi.json"]) => {
            let doc: Value = serde_json::from_str(OPENAPI).unwrap_or(Value::Null);
            return Ok(json(StatusCode::OK, &doc));
        }
        (&Method::GET, ["dashboard"]) => {
            let mut page = Response::new(Body::Text(DASHBOARD.to_owned()));
            page.headers_mut().insert(
                lambda_http::http::header::CONTENT_TYPE,
                lambda_http::http::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return Ok(page);
        }
        (&Method::GET, ["dashboard", "config.json"]) => {
            return Ok(json(
                StatusCode::OK,
                &j!({ "sse_url": api.sse_url, "websocket_url": api.websocket_url }),
            ));
        }
        _ => {}
    }

    let caller = api.caller(req).await?;
    let requested = param(req, "tenant");
    if requested.is_some_and(|t| !valid_id(t)) {
        return Err(ApiError::bad(
            "invalid_tenant",
            "tenant ids are 1-128 of A-Z a-z 0-9 - _ .",
        ));
    }
    let tenant = caller.tenant(requested)?.to_owned();
    let c = &caller;
    let t = tenant.as_str();
    match (method, segments.as_slice()) {
        (Method::GET, ["templates", "critical"]) => critical_templates(api, t).await,
        (Method::GET, ["templates", "quality-summary"]) => quality_summary(api, t).await,
        (Method::GET, ["templates"]) => list_templates(api, req, t).await,
        (Method::GET, ["templates", id]) => get_template(api, t, template_id(id)?).await,
        (Method::GET, ["numbers", phone, "templates", id, "status-history"]) => {
            status_history(api, req, t, phone, template_id(id)?).await
        }
        (Method::POST, ["numbers", phone, "templates", id, "acknowledge-alert"]) => {
            acknowledge(api, c, t, phone, template_id(id)?).await
        }
        (Method::GET, ["campaigns"]) => list_campaigns(api, req, t).await,
        (Method::POST, ["campaigns"]) => create_campaign(api, req, c, t).await,
        (Method::GET, ["campaigns", id]) => Ok(json(
            StatusCode::OK,
            &campaign_json(&campaign(api, t, id).await?),
        )),
        (Method::GET, ["campaigns", id, "messages"]) => campaign_messages(api, req, t, id).await,
        (Method::POST, ["campaigns", id, "pause"]) => pause(api, req, c, t, id).await,
        (Method::POST, ["campaigns", id, "resume"]) => resume(api, req, c, t, id).await,
        (Method::GET, ["stats"]) => stats(api, req, t).await,
        (Method::POST, ["messages"]) => register(api, req, c, t).await,
        (Method::GET, ["alerts"]) => {
            let alerts = api.store.open_alerts(t).await?;
            let items: Vec<Value> = alerts.iter().map(alert_json).collect();
            Ok(json(StatusCode::OK, &j!({ "items": items })))
        }
        (Method::GET, ["settings"]) => {
            let auto_resume = api.store.auto_resume(t).await?;
            Ok(json(
                StatusCode::OK,
                &j!({ "tenant_id": t, "auto_resume": auto_resume }),
            ))
        }
        (Method::PUT, ["settings"]) => put_settings(api, req, c, t).await,
        (Method::GET, ["audit"]) => {
            let q = ListQuery {
                newest_first: true,
                ..ListQuery::partition(keys::audit(t))
            };
            page(api, req, t, "audit", q).await
        }
        (Method::GET, ["unrouted"]) => {
            c.require(Role::SuperAdmin)?;
            let q = ListQuery {
                newest_first: true,
                ..ListQuery::partition(keys::unrouted())
            };
            page(api, req, "*", "unrouted", q).await
        }
        (Method::PUT, ["admin", "routes", "phone-numbers", id]) => {
            route_phone(api, req, c, id).await
        }
        (Method::PUT, ["admin", "routes", "wabas", id]) => route_waba(api, req, c, id).await,
        (_, path) => match allowed_methods(path) {
            Some(allow) => Err(ApiError::MethodNotAllowed(allow)),
            None => Err(ApiError::NotFound),
        },
    }
}

// ----------------------------------------------------------------- helpers

/// The methods a known path takes (for 405's `Allow`); `None` for an unknown path.
fn allowed_methods(path: &[&str]) -> Option<&'static str> {
    Some(match path {
        ["health" | "openapi.json" | "alerts" | "stats" | "audit" | "unrouted" | "dashboard"] => {
            "GET"
        }
        ["dashboard", "config.json"] => "GET",
        ["templates"] | ["templates", _] => "GET",
        ["numbers", _, "templates", _, "status-history"] => "GET",
        ["numbers", _, "templates", _, "acknowledge-alert"] => "POST",
        ["campaigns"] => "GET, POST",
        ["campaigns", _] | ["campaigns", _, "messages"] => "GET",
        ["campaigns", _, "pause" | "resume"] | ["messages"] => "POST",
        ["settings"] => "GET, PUT",
        ["admin", "routes", "phone-numbers" | "wabas", _] => "PUT",
        _ => return None,
    })
}

/// A filter value from a closed set, or 400.
fn one_of(req: &Request, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match param(req, name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
        Some(_) => Err(ApiError::bad(
            "invalid_filter",
            format!("{name} must be one of {}", allowed.join(", ")),
        )),
    }
}

const TEMPLATE_STATUSES: &[&str] = &[
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
const CAMPAIGN_STATUSES: &[&str] = &["ACTIVE", "PAUSED", "COMPLETED"];

fn param<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

fn template_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad("invalid_template_id", "template ids are unsigned integers"))
}

fn limit(req: &Request) -> Result<i32, ApiError> {
    match param(req, "limit") {
        None => Ok(50),
        Some(raw) => match raw.parse::<i32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(ApiError::bad("invalid_limit", "limit must be 1 to 100")),
        },
    }
}

fn body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    serde_json::from_slice(bytes)
        .map_err(|_| ApiError::bad("invalid_body", "request body is not the expected JSON"))
}

/// An item as JSON, without keys and internal bookkeeping.
fn item_json(item: &Item) -> Value {
    let mut out = Map::new();
    for (k, v) in item {
        if matches!(
            k.as_str(),
            "pk" | "sk" | "gsi1pk" | "gsi1sk" | "version" | "entity" | "expires_at"
        ) {
            continue;
        }
        let value = match v {
            shared::store::AttributeValue::S(s) => Value::from(s.clone()),
            // Template ids are up to u64: JSON clients lose precision past 2^53, so they go out as strings.
            shared::store::AttributeValue::N(n) if k == "template_id" => Value::from(n.clone()),
            shared::store::AttributeValue::N(n) => n
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| n.parse::<f64>().map(Value::from))
                .unwrap_or(Value::Null),
            shared::store::AttributeValue::Bool(b) => Value::from(*b),
            shared::store::AttributeValue::Ss(list) => Value::from(list.clone()),
            _ => continue,
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

fn alert_json(a: &shared::store::AlertRecord) -> Value {
    j!({
        "alert_id": a.alert_id, "severity": a.severity, "kind": a.kind, "title": a.title,
        "subject": a.subject, "event_time": a.event_time,
    })
}

/// One page of a list, with an opaque cursor for the next.
async fn page(
    api: &Api,
    req: &Request,
    tenant: &str,
    scope: &str,
    mut q: ListQuery,
) -> Result<Response<Body>, ApiError> {
    q.limit = limit(req)?;
    // The scope includes the filters, so a cursor only continues the list it came from.
    let scope = format!(
        "{scope}|{}",
        q.filters
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Some(cursor) = param(req, "cursor") {
        let key = api
            .cursors
            .open(cursor, tenant, &scope)
            .map_err(|_| ApiError::bad("invalid_cursor", "cursor is not valid for this list"))?;
        // Belt and braces: the key must lie in the partition this query reads.
        if key.get(q.partition_attribute()) != Some(&q.partition) {
            return Err(ApiError::bad(
                "invalid_cursor",
                "cursor is not valid for this list",
            ));
        }
        q.start = Some(key_from_strings(key));
    }
    let attributes = q.key_attributes();
    let result = api.store.list(q).await?;
    let next = result.next.map(|k| {
        let mut key = key_strings(&k);
        key.retain(|name, _| attributes.contains(&name.as_str()));
        api.cursors.seal(tenant, &scope, key)
    });
    let items: Vec<Value> = result.items.iter().map(item_json).collect();
    Ok(json(
        StatusCode::OK,
        &j!({ "items": items, "next_cursor": next }),
    ))
}

async fn campaign(api: &Api, tenant: &str, id: &str) -> Result<CampaignRecord, ApiError> {
    api.store
        .campaign(tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The phone number, if it is the tenant's.
async fn phone(api: &Api, tenant: &str, phone_number_id: &str) -> Result<Item, ApiError> {
    api.store
        .get(&keys::tenant(tenant), &keys::phone(phone_number_id))
        .await?
        .ok_or(ApiError::NotFound)
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

fn campaign_json(c: &CampaignRecord) -> Value {
    // attempted = every message that got a final answer: reached sent, or failed.
    let attempted = c.reached_sent + c.reached_failed;
    j!({
        "campaign_id": c.campaign_id, "name": c.name, "status": c.status,
        "template_id": c.template_id.to_string(), "phone_number_id": c.phone_number_id, "waba_id": c.waba_id,
        "registered": c.registered,
        "reached": { "sent": c.reached_sent, "delivered": c.reached_delivered, "read": c.reached_read, "failed": c.reached_failed },
        "current": { "sent": c.current_sent, "delivered": c.current_delivered, "read": c.current_read, "played": c.current_played, "failed": c.current_failed },
        "rates": {
            "delivery": ratio(c.reached_delivered, attempted),
            "read": ratio(c.reached_read, c.reached_delivered),
            "failure": ratio(c.reached_failed, attempted),
        },
        "pause": {
            "reason": c.pause_reason, "paused_at": c.paused_at, "auto_paused_by": c.auto_paused_by,
            "paused_by_user": c.paused_by_user.unwrap_or(false), "holds": c.holds.clone().unwrap_or_default(),
        },
    })
}

// ----------------------------------------------------------------- handlers

async fn health(api: &Api) -> Result<Response<Body>, ApiError> {
    match api.store.ping().await {
        Ok(()) => Ok(json(StatusCode::OK, &j!({ "status": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: table unreachable");
            Ok(json(
                StatusCode::SERVICE_UNAVAILABLE,
                &j!({ "status": "unavailable" }),
            ))
        }
    }
}

async fn templates_with_alerts(
    api: &Api,
    tenant: &str,
) -> Result<(Vec<Item>, BTreeMap<String, Vec<Value>>), ApiError> {
    let templates = api.store.list_all(tenant, "TEMPLATE#").await?;
    let mut alerts: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for a in api.store.open_alerts(tenant).await? {
        alerts
            .entry(a.subject.clone())
            .or_default()
            .push(alert_json(&a));
    }
    Ok((templates, alerts))
}

fn template_json(item: &Item, alerts: &BTreeMap<String, Vec<Value>>) -> Value {
    let mut v = item_json(item);
    let id = number(item, "template_id").unwrap_or_default();
    v["template_id"] = Value::from(id.to_string());
    v["open_alerts"] = Value::from(
        alerts
            .get(&format!("template:{id}"))
            .cloned()
            .unwrap_or_default(),
    );
    v
}

async fn critical_templates(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    let (templates, alerts) = templates_with_alerts(api, tenant).await?;
    let items: Vec<Value> = templates
        .iter()
        .filter(|t| is_critical(text(t, "status").as_deref(), text(t, "quality").as_deref()))
        .map(|t| template_json(t, &alerts))
        .collect();
    Ok(json(StatusCode::OK, &j!({ "items": items })))
}

async fn quality_summary(api: &Api, tenant: &str) -> Result<Response<Body>, ApiError> {
    let templates = api.store.list_all(tenant, "TEMPLATE#").await?;
    let mut by_quality: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for t in &templates {
        *by_quality
            .entry(text(t, "quality").unwrap_or_else(|| "UNKNOWN".into()))
            .or_default() += 1;
        *by_status
            .entry(text(t, "status").unwrap_or_else(|| "UNKNOWN".into()))
            .or_default() += 1;
    }
    Ok(json(
        StatusCode::OK,
        &j!({ "total": templates.len(), "by_quality": by_quality, "by_status": by_status }),
    ))
}

async fn list_templates(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    let mut q = ListQuery::partition(keys::tenant(tenant));
    q.sort_prefix = Some("TEMPLATE#");
    for (name, allowed) in [
        ("status", TEMPLATE_STATUSES),
        ("quality", QUALITIES),
        ("category", CATEGORIES),
    ] {
        if let Some(v) = one_of(req, name, allowed)? {
            q.filters.push((name, s(v)));
        }
    }
    // number: the templates of the WABA that phone number belongs to.
    if let Some(number) = param(req, "number") {
        let phone = phone(api, tenant, number).await.map_err(|_| {
            ApiError::bad(
                "unknown_phone_number",
                "the phone number is not this tenant's",
            )
        })?;
        let waba = text(&phone, "waba_id").unwrap_or_default();
        q.filters.push(("waba_id", s(waba)));
    }
    page(api, req, tenant, "templates", q).await
}

async fn get_template(api: &Api, tenant: &str, id: u64) -> Result<Response<Body>, ApiError> {
    let item = api
        .store
        .get(&keys::tenant(tenant), &keys::template(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut alerts = BTreeMap::new();
    for a in api.store.open_alerts(tenant).await? {
        alerts
            .entry(a.subject.clone())
            .or_insert_with(Vec::new)
            .push(alert_json(&a));
    }
    Ok(json(StatusCode::OK, &template_json(&item, &alerts)))
}

async fn status_history(
    api: &Api,
    req: &Request,
    tenant: &str,
    phone_number_id: &str,
    id: u64,
) -> Result<Response<Body>, ApiError> {
    phone(api, tenant, phone_number_id).await?;
    api.store
        .get(&keys::tenant(tenant), &keys::template(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let q = ListQuery {
        newest_first: true,
        ..ListQuery::partition(keys::template_history(tenant, id))
    };
    page(api, req, tenant, &format!("history:{id}"), q).await
}

async fn acknowledge(
    api: &Api,
    caller: &Caller,
    tenant: &str,
    phone_number_id: &str,
    id: u64,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    phone(api, tenant, phone_number_id).await?;
    api.store
        .get(&keys::tenant(tenant), &keys::template(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let subject = format!("template:{id}");
    let count = api
        .store
        .acknowledge_alerts(tenant, &subject, &caller.subject)
        .await?;
    let now = record_action(
        api,
        tenant,
        caller,
        "alert_acknowledged",
        &[("subject", s(&subject)), ("count", shared::store::n(count))],
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &j!({ "acknowledged": count, "by": caller.subject, "at": now }),
    ))
}

async fn list_campaigns(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    let mut q = ListQuery::partition(keys::tenant(tenant));
    q.sort_prefix = Some("CAMPAIGN#");
    if let Some(status) = one_of(req, "status", CAMPAIGN_STATUSES)? {
        q.filters.push(("status", s(status)));
    }
    page(api, req, tenant, "campaigns", q).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCampaign {
    campaign_id: String,
    #[serde(default)]
    name: Option<String>,
    template_id: String,
    phone_number_id: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

async fn create_campaign(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let input: CreateCampaign = body(req)?;
    if !valid_id(&input.campaign_id) {
        return Err(ApiError::bad(
            "invalid_campaign_id",
            "campaign ids are 1-128 of A-Z a-z 0-9 - _ .",
        ));
    }
    let template = template_id(&input.template_id)?;
    let phone_item = phone(api, tenant, &input.phone_number_id)
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
    let campaign = NewCampaign {
        campaign_id: input.campaign_id.clone(),
        name: input.name,
        template_id: template,
        phone_number_id: input.phone_number_id,
        waba_id: text(&phone_item, "waba_id"),
        status: "ACTIVE".into(),
    };
    if !api.store.create_campaign(tenant, &campaign).await? {
        return Err(ApiError::Conflict(
            "campaign_exists",
            "a campaign with this id exists".into(),
        ));
    }
    let created = campaign_json(&self::campaign(api, tenant, &input.campaign_id).await?);
    Ok(json(StatusCode::CREATED, &created))
}

async fn campaign_messages(
    api: &Api,
    req: &Request,
    tenant: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    campaign(api, tenant, id).await?;
    let mut q = ListQuery::index(keys::campaign_messages(tenant, id));
    if let Some(status) = param(req, "status") {
        if shared::domain::status::Delivery::parse(status).is_none() {
            return Err(ApiError::bad(
                "invalid_status",
                "status is pending, sent, delivered, read, played or failed",
            ));
        }
        q.filters.push(("delivery", s(status)));
    }
    page(api, req, tenant, &format!("messages:{id}"), q).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PauseInput {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResumeInput {
    #[serde(default)]
    force: bool,
}

fn optional_body<T: serde::de::DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if req.body().as_ref().is_empty() {
        Ok(T::default())
    } else {
        body(req)
    }
}

async fn pause(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let input: PauseInput = optional_body(req)?;
    campaign(api, tenant, id).await?;
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
    Ok(json(
        StatusCode::OK,
        &campaign_json(&campaign(api, tenant, id).await?),
    ))
}

async fn resume(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let mut input: ResumeInput = optional_body(req)?;
    input.force |= one_of(req, "force", &["true", "false"])?.as_deref() == Some("true");
    let c = campaign(api, tenant, id).await?;
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
    let action = if input.force {
        "campaign_resumed_forced"
    } else {
        "campaign_resumed"
    };
    record_action(api, tenant, caller, action, &[("campaign_id", s(id))]).await?;
    Ok(json(
        StatusCode::OK,
        &campaign_json(&campaign(api, tenant, id).await?),
    ))
}

/// Records a person's action in the tenant's audit trail: who, what, when.
async fn record_action(
    api: &Api,
    tenant: &str,
    caller: &Caller,
    action: &str,
    fields: &[(&str, shared::store::AttributeValue)],
) -> Result<u64, ApiError> {
    let now = shared::store::now();
    // Each call is its own event, so the id is random rather than derived.
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut all = vec![("action", s(action)), ("actor", s(&caller.subject))];
    all.extend(fields.iter().cloned());
    api.store.audit(tenant, &id, now, &all).await?;
    Ok(now)
}

async fn stats(api: &Api, req: &Request, tenant: &str) -> Result<Response<Body>, ApiError> {
    const LAST_SECOND: u64 = 9_999_999_999;
    let bound = |name: &str, default: u64| -> Result<u64, ApiError> {
        let invalid = || {
            ApiError::bad(
                "invalid_range",
                "from and to are Unix seconds up to 9999999999",
            )
        };
        param(req, name).map_or(Ok(default), |v| {
            v.parse::<u64>()
                .ok()
                .filter(|v| *v <= LAST_SECOND)
                .ok_or_else(invalid)
        })
    };
    let (from, to) = (bound("from", 0)?, bound("to", LAST_SECOND)?);
    if from > to {
        return Err(ApiError::bad("invalid_range", "from is after to"));
    }
    let campaigns = api.store.list_all(tenant, "CAMPAIGN#").await?;
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut counted = 0;
    for c in campaigns.iter().filter(|c| {
        let created = number(c, "created_at").unwrap_or_default().max(0) as u64;
        (from..=to).contains(&created)
    }) {
        counted += 1;
        *by_status
            .entry(text(c, "status").unwrap_or_default())
            .or_default() += 1;
        for k in [
            "registered",
            "reached_sent",
            "reached_delivered",
            "reached_read",
            "reached_failed",
        ] {
            *totals.entry(k).or_default() += number(c, k).unwrap_or_default();
        }
    }
    Ok(json(
        StatusCode::OK,
        &j!({ "from": from, "to": to, "campaigns": counted, "campaigns_by_status": by_status, "totals": totals }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageInput {
    wamid: String,
    campaign_id: String,
    #[serde(default)]
    recipient_id: Option<String>,
    #[serde(default)]
    template_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(MessageInput),
    Many(Vec<MessageInput>),
}

async fn register(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let messages = match body::<OneOrMany>(req)? {
        OneOrMany::One(m) => vec![m],
        OneOrMany::Many(list) => list,
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
    let mut results = Vec::new();
    for m in messages {
        let registration = Registration {
            wamid: m.wamid.clone(),
            campaign_id: m.campaign_id.clone(),
            recipient_id: m.recipient_id,
            template_id: m.template_id.as_deref().and_then(|t| t.parse().ok()),
        };
        let result = match api.store.register_message(tenant, &registration).await {
            Ok(RegistrationOutcome::Registered { delivery }) => {
                j!({ "wamid": m.wamid, "result": "registered", "delivery": delivery.as_str() })
            }
            Ok(RegistrationOutcome::AlreadyRegistered) => {
                j!({ "wamid": m.wamid, "result": "already_registered" })
            }
            Err(shared::store::StoreError::Refused(_)) => {
                j!({ "wamid": m.wamid, "result": "conflict", "detail": "registered to another campaign" })
            }
            Err(e) => return Err(e.into()),
        };
        results.push(result);
    }
    Ok(json(StatusCode::OK, &j!({ "results": results })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsInput {
    auto_resume: bool,
}

async fn put_settings(
    api: &Api,
    req: &Request,
    caller: &Caller,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let input: SettingsInput = body(req)?;
    api.store.set_auto_resume(tenant, input.auto_resume).await?;
    record_action(
        api,
        tenant,
        caller,
        "settings_changed",
        &[(
            "auto_resume",
            shared::store::AttributeValue::Bool(input.auto_resume),
        )],
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &j!({ "tenant_id": tenant, "auto_resume": input.auto_resume }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneRouteInput {
    tenant_id: String,
    waba_id: String,
    #[serde(default)]
    display_phone_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WabaRouteInput {
    tenant_id: String,
}

/// Meta's ids and phone numbers: 1-20 digits.
fn is_meta_id(s: &str) -> bool {
    (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

async fn route_phone(
    api: &Api,
    req: &Request,
    caller: &Caller,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::SuperAdmin)?;
    let input: PhoneRouteInput = body(req)?;
    if !is_meta_id(id)
        || !valid_id(&input.tenant_id)
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
    Ok(json(
        StatusCode::OK,
        &j!({ "phone_number_id": id, "tenant_id": input.tenant_id, "waba_id": input.waba_id }),
    ))
}

async fn route_waba(
    api: &Api,
    req: &Request,
    caller: &Caller,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::SuperAdmin)?;
    let input: WabaRouteInput = body(req)?;
    if !is_meta_id(id) || !valid_id(&input.tenant_id) {
        return Err(ApiError::bad(
            "invalid_route",
            "ids are 1-20 digits; tenant ids are 1-128 of A-Z a-z 0-9 - _ .",
        ));
    }
    api.store.put_waba_route(id, &input.tenant_id).await?;
    Ok(json(
        StatusCode::OK,
        &j!({ "waba_id": id, "tenant_id": input.tenant_id }),
    ))
}
