//! What answers without a token: health, the live dashboard page and where it finds the streams.

use crate::http;
use crate::{Api, ApiError};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use utoipa::ToSchema;

/// The live dashboard: one static page, no build step (`functions/api/dashboard/`).
const DASHBOARD: &str = include_str!("../dashboard/index.html");

/// The page's entity tag: a digest of its bytes, so a browser revalidates it and a deploy that
/// changes it is seen at once.
fn dashboard_etag() -> &'static str {
    static ETAG: OnceLock<String> = OnceLock::new();
    ETAG.get_or_init(|| {
        let digest = Sha256::digest(DASHBOARD.as_bytes());
        format!("\"{}\"", hex::encode(&digest[..16]))
    })
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DashboardConfig {
    #[schema(required = true)]
    sse_url: Option<String>,
    #[schema(required = true)]
    websocket_url: Option<String>,
    /// Where to sign in; null when the stack has no Hosted UI configured
    #[schema(required = true)]
    sign_in: Option<SignIn>,
}

/// Cognito's Hosted UI, for the authorization-code flow with PKCE.
#[derive(Serialize, ToSchema)]
pub(crate) struct SignIn {
    authorize_url: String,
    token_url: String,
    logout_url: String,
    client_id: String,
}

/// Table reachability (no auth)
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    responses(
        (status = 200, description = "OK", body = inline(Health)),
        (status = 503, description = "Table unreachable", body = inline(Health)),
    ),
    security()
)]
pub(crate) async fn health(api: &Api) -> Result<Response<Body>, ApiError> {
    match api.store.ping().await {
        Ok(()) => http::ok(&Health { status: "ok" }),
        Err(e) => {
            tracing::error!(error = %e, "health check: table unreachable");
            http::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Health {
                    status: "unavailable",
                },
            )
        }
    }
}

/// The live dashboard page (no auth; it asks for a token)
#[utoipa::path(
    get,
    path = "/dashboard",
    operation_id = "dashboard",
    responses(
        (status = 200, description = "HTML, with its ETag", body = String, content_type = "text/html"),
        (status = 304, description = "Not modified (If-None-Match)"),
    ),
    security()
)]
pub(crate) fn dashboard(req: &Request) -> Result<Response<Body>, ApiError> {
    let etag = dashboard_etag();
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if unchanged {
        http::respond(
            StatusCode::NOT_MODIFIED,
            "text/html; charset=utf-8",
            String::new(),
        )
    } else {
        http::respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            DASHBOARD.to_owned(),
        )
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_static(etag));
    // Revalidated on every load (a 304 is a few bytes); the tokens are never in the page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Where the dashboard finds the live streams (no auth)
#[utoipa::path(
    get,
    path = "/dashboard/config.json",
    operation_id = "dashboardConfig",
    responses((status = 200, description = "OK", body = inline(DashboardConfig))),
    security()
)]
pub(crate) fn dashboard_config(api: &Api) -> Result<Response<Body>, ApiError> {
    http::ok(&DashboardConfig {
        sse_url: api.sse_url.clone(),
        websocket_url: api.websocket_url.clone(),
        sign_in: api.sign_in.as_ref().map(|s| SignIn {
            authorize_url: format!("{}/oauth2/authorize", s.url),
            token_url: format!("{}/oauth2/token", s.url),
            logout_url: format!("{}/logout", s.url),
            client_id: s.client_id.clone(),
        }),
    })
}
