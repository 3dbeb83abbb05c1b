//! The routes: method and path to a feature's handler. Every route past the public ones takes
//! the caller from the verified token and scopes to its tenant (a super admin may name one with
//! `?tenant=`); the handler checks the role.

use crate::admin::WabaPath;
use crate::campaigns::CampaignPath;
use crate::engagement::{self, ContactPath};
use crate::http::{self, PhonePath, TemplatePath, TenantQuery};
use crate::{
    admin, alerts, campaigns, contacts, failures, feed, messages, numbers, openapi, overview,
    public, settings, templates, timeline,
};
use crate::{Api, ApiError};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

/// A stable route name for logs (ids replaced).
pub(crate) fn route_name(path: &str) -> String {
    let mut previous = "";
    path.split('/')
        .map(|seg| {
            // A contact id is personal data, whatever it looks like.
            let masked = if previous == "contacts"
                || seg.chars().any(|c| c.is_ascii_digit())
                || seg.starts_with("c-")
            {
                "{id}"
            } else {
                seg
            };
            previous = seg;
            masked
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
        (&Method::GET, ["health"]) => return public::health(api).await,
        (&Method::GET, ["openapi.json"]) => return openapi::serve(),
        (&Method::GET, ["dashboard"]) => return public::dashboard(req),
        (&Method::GET, ["dashboard", "config.json"]) => return public::dashboard_config(api),
        (&Method::GET, ["dashboard", name]) => return public::dashboard_asset(req, name),
        _ => {}
    }

    let caller = api.caller(req).await?;
    let TenantQuery { tenant } = http::query(req)?;
    if tenant.as_deref().is_some_and(|t| !http::valid_id(t)) {
        return Err(ApiError::bad(
            "invalid_tenant",
            "tenant ids are 1-128 of A-Z a-z 0-9 - _ .",
        ));
    }
    let tenant = caller.tenant(tenant.as_deref())?.to_owned();
    let (c, t) = (&caller, tenant.as_str());
    match (method, segments.as_slice()) {
        (Method::GET, ["templates", "critical"]) => templates::critical(api, t).await,
        (Method::GET, ["templates", "quality-summary"]) => templates::quality_summary(api, t).await,
        (Method::GET, ["templates"]) => templates::list(api, req, t).await,
        (Method::POST, ["templates", "sync"]) => templates::sync(api, c, t).await,
        (Method::GET, ["templates", template_id]) if *template_id != "sync" => {
            templates::get(api, t, TemplatePath { template_id }).await
        }
        (Method::GET, ["numbers", phone_number_id, "templates", template_id, "status-history"]) => {
            let (phone, template) = (PhonePath { phone_number_id }, TemplatePath { template_id });
            templates::status_history(api, req, t, phone, template).await
        }
        (
            Method::POST,
            ["numbers", phone_number_id, "templates", template_id, "acknowledge-alert"],
        ) => {
            let (phone, template) = (PhonePath { phone_number_id }, TemplatePath { template_id });
            alerts::acknowledge(api, c, t, phone, template).await
        }
        (Method::GET, ["campaigns"]) => campaigns::list(api, req, t).await,
        (Method::POST, ["campaigns"]) => campaigns::create(api, req, c, t).await,
        (Method::GET, ["campaigns", campaign_id]) => {
            campaigns::get(api, t, CampaignPath { campaign_id }).await
        }
        (Method::GET, ["errors"]) => failures::catalogue(),
        (Method::GET, ["feed"]) => feed::after(api, req, t).await,
        (Method::GET, ["campaigns", campaign_id, "failures"]) => {
            failures::of_campaign(api, t, CampaignPath { campaign_id }).await
        }
        (Method::GET, ["campaigns", campaign_id, "timeline"]) => {
            timeline::of_campaign(api, req, t, CampaignPath { campaign_id }).await
        }
        (Method::GET, ["campaigns", campaign_id, "replies"]) => {
            engagement::replies(api, t, CampaignPath { campaign_id }).await
        }
        (Method::GET, ["numbers"]) => numbers::list(api, t).await,
        (Method::GET, ["numbers", phone_number_id]) => {
            numbers::get(api, t, PhonePath { phone_number_id }).await
        }
        (Method::GET, ["numbers", phone_number_id, "history"]) => {
            numbers::history(api, req, t, PhonePath { phone_number_id }).await
        }
        (Method::GET, ["numbers", phone_number_id, "opt-outs"]) => {
            engagement::opt_outs(api, req, t, PhonePath { phone_number_id }).await
        }
        (Method::GET, ["numbers", phone_number_id, "contacts", contact, "window"]) => {
            let (phone, contact) = (PhonePath { phone_number_id }, ContactPath { contact });
            engagement::window(api, t, phone, contact).await
        }
        (Method::GET, ["campaigns", campaign_id, "messages"]) => {
            messages::of_campaign(api, req, t, CampaignPath { campaign_id }).await
        }
        (Method::POST, ["campaigns", campaign_id, "pause"]) => {
            campaigns::pause(api, req, c, t, CampaignPath { campaign_id }).await
        }
        (Method::POST, ["campaigns", campaign_id, "resume"]) => {
            campaigns::resume(api, req, c, t, CampaignPath { campaign_id }).await
        }
        (Method::GET, ["stats"]) => campaigns::stats(api, req, t).await,
        (Method::GET, ["overview"]) => overview::of_tenant(api, req, t).await,
        (Method::POST, ["messages"]) => messages::register(api, req, c, t).await,
        (Method::GET, ["alerts"]) => alerts::open(api, t).await,
        (Method::POST, ["alerts", alert_id, "acknowledge"]) => {
            alerts::acknowledge_by_id(api, c, t, alerts::AlertPath { alert_id }).await
        }
        (Method::DELETE, ["contacts", contact]) => {
            contacts::erase(api, c, t, ContactPath { contact }).await
        }
        (Method::GET, ["settings"]) => settings::get(api, t).await,
        (Method::PUT, ["settings"]) => settings::put(api, req, c, t).await,
        (Method::GET, ["audit"]) => alerts::audit(api, req, t).await,
        (Method::GET, ["unrouted"]) => admin::unrouted(api, req, c).await,
        (Method::PUT, ["admin", "routes", "phone-numbers", phone_number_id]) => {
            admin::route_phone(api, req, c, PhonePath { phone_number_id }).await
        }
        (Method::PUT, ["admin", "routes", "wabas", waba_id]) => {
            admin::route_waba(api, req, c, WabaPath { waba_id }).await
        }
        (_, path) => match allowed_methods(path) {
            Some(allow) => Err(ApiError::MethodNotAllowed(allow)),
            None => Err(ApiError::NotFound),
        },
    }
}

/// The methods a known path takes (for 405's `Allow`); `None` for an unknown path.
fn allowed_methods(path: &[&str]) -> Option<&'static str> {
    Some(match path {
        ["health" | "openapi.json" | "alerts" | "stats" | "audit" | "unrouted" | "dashboard"
        | "errors" | "feed" | "overview"] => "GET",
        ["dashboard", "config.json"] => "GET",
        ["dashboard", _] => "GET",
        ["templates", "sync"] => "POST",
        ["templates"] | ["templates", _] => "GET",
        ["numbers", _, "templates", _, "status-history"] => "GET",
        ["numbers", _, "templates", _, "acknowledge-alert"] => "POST",
        ["campaigns"] => "GET, POST",
        ["campaigns", _] | ["campaigns", _, "messages" | "failures" | "replies" | "timeline"] => {
            "GET"
        }
        ["numbers"] | ["numbers", _] | ["numbers", _, "history" | "opt-outs"] => "GET",
        ["numbers", _, "contacts", _, "window"] => "GET",
        ["campaigns", _, "pause" | "resume"] | ["messages"] => "POST",
        ["settings"] => "GET, PUT",
        ["alerts", _, "acknowledge"] => "POST",
        ["contacts", _] => "DELETE",
        ["admin", "routes", "phone-numbers" | "wabas", _] => "PUT",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    #[test]
    fn every_documented_operation_is_routed_and_every_route_documented() {
        let doc = serde_json::to_value(openapi::ApiDoc::openapi()).unwrap();
        let mut documented = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            // Any id fits the router's patterns.
            let segments: Vec<&str> = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect();
            let allowed = allowed_methods(&segments).unwrap_or_default();
            for method in item.as_object().unwrap().keys() {
                documented += 1;
                assert!(
                    allowed.split(", ").any(|m| m.eq_ignore_ascii_case(method)),
                    "{method} {path} is documented but not routed"
                );
            }
        }
        // The arms of `route`: 4 public, 33 behind a token.
        assert_eq!(documented, 40, "a route is not documented");
    }
}
