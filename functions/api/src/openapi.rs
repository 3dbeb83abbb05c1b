//! The OpenAPI 3.1 document, derived from the handlers' `#[utoipa::path]` attributes and the
//! request and response types, so that it cannot drift from them. Served at
//! `GET /openapi.json`; `functions/api/openapi.json` is the same document, committed for
//! schemathesis (a test fails when the two differ; `cargo run -p api --example openapi` writes it).

use crate::http::{self, Item};
use crate::{
    admin, alerts, campaigns, contacts, engagement, failures, feed, messages, numbers, overview,
    public, settings, templates, timeline, ApiError, Problem,
};
use lambda_http::{Body, Response};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::Required;
use utoipa::{Modify, OpenApi};

/// The API's document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "WhatsApp webhook pipeline API",
        version = "1.0.0",
        description = "Monitoring and management. Tenant and role come only from the verified bearer token (claims org_id and role: viewer, org_admin, super_admin). Errors are application/problem+json with a stable code; every response carries x-request-id."
    ),
    paths(
        public::health,
        serve,
        public::dashboard,
        public::dashboard_config,
        public::dashboard_asset,
        templates::critical,
        templates::quality_summary,
        templates::sync,
        templates::list,
        templates::get,
        templates::status_history,
        alerts::acknowledge,
        alerts::acknowledge_by_id,
        campaigns::list,
        campaigns::create,
        campaigns::get,
        messages::of_campaign,
        failures::catalogue,
        feed::after,
        failures::of_campaign,
        numbers::list,
        numbers::get,
        numbers::history,
        engagement::replies,
        timeline::of_campaign,
        engagement::opt_outs,
        engagement::window,
        contacts::erase,
        campaigns::pause,
        campaigns::resume,
        campaigns::stats,
        overview::of_tenant,
        messages::register,
        alerts::open,
        settings::get,
        settings::put,
        alerts::audit,
        admin::unrouted,
        admin::route_phone,
        admin::route_waba,
    ),
    components(schemas(
        Problem,
        alerts::Alert,
        templates::Template,
        Item,
        campaigns::Campaign,
        campaigns::NewCampaign,
        messages::MessageRegistration
    )),
    modifiers(&BearerAuth, &PAUSE_AND_RESUME),
    security(("bearerAuth" = []))
)]
pub struct ApiDoc;

/// This document (no auth)
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    responses((status = 200, description = "OK", body = Object)),
    security()
)]
pub(crate) fn serve() -> Result<Response<Body>, ApiError> {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = match JSON.get() {
        Some(json) => json,
        None => {
            let json = ApiDoc::openapi().to_json()?;
            JSON.get_or_init(|| json)
        }
    };
    Ok(http::respond(
        lambda_http::http::StatusCode::OK,
        "application/json",
        json.clone(),
    ))
}

/// The document as the committed `functions/api/openapi.json` holds it.
pub fn pretty() -> Result<String, serde_json::Error> {
    Ok(ApiDoc::openapi().to_pretty_json()? + "\n")
}

/// Bearer JWTs, the scheme every secured operation names.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Operations whose body may be left out (read with `http::optional_body`): utoipa has no
/// attribute for that, and `Option<T>` would document `null`, which the body may not be.
struct BodyMayBeLeftOut(&'static [&'static str]);

const PAUSE_AND_RESUME: BodyMayBeLeftOut = BodyMayBeLeftOut(&["pauseCampaign", "resumeCampaign"]);

impl Modify for BodyMayBeLeftOut {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let operations = doc.paths.paths.values_mut();
        for operation in operations
            .flat_map(|item| [&mut item.post, &mut item.put])
            .flatten()
        {
            let named = operation.operation_id.as_deref();
            if named.is_some_and(|id| self.0.contains(&id)) {
                if let Some(body) = operation.request_body.as_mut() {
                    body.required = Some(Required::False);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_document_is_the_one_the_types_derive() {
        let committed: serde_json::Value =
            serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let derived = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(
            committed == derived,
            "functions/api/openapi.json differs from the document the API derives; regenerate it: \
             cargo run -p api --example openapi > functions/api/openapi.json"
        );
    }

    #[test]
    fn served_document_is_the_derived_one() {
        let response = serve().unwrap();
        let lambda_http::Body::Text(body) = response.body() else {
            panic!("a text body");
        };
        let served: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(served, serde_json::to_value(ApiDoc::openapi()).unwrap());
        assert_eq!(served["openapi"], "3.1.0");
    }

    #[test]
    fn bodies_of_pause_and_resume_may_be_left_out() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for path in [
            "/campaigns/{campaign_id}/pause",
            "/campaigns/{campaign_id}/resume",
        ] {
            let body = &doc["paths"][path]["post"]["requestBody"];
            assert_eq!(body["required"], false, "{path}");
            let schema = &body["content"]["application/json"]["schema"];
            assert_eq!(schema["type"], "object", "{path}: not nullable");
        }
        assert_eq!(
            doc["paths"]["/campaigns"]["post"]["requestBody"]["required"],
            true
        );
    }
}
