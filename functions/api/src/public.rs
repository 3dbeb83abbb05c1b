//! What answers without a token: health, the live dashboard page and where it finds the streams.

use crate::http;
use crate::{Api, ApiError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The live dashboard: one static page, no build step (`functions/api/dashboard/`).
const DASHBOARD: &str = include_str!("../dashboard/index.html");

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
    responses((status = 200, description = "HTML", body = String, content_type = "text/html")),
    security()
)]
pub(crate) fn dashboard() -> Result<Response<Body>, ApiError> {
    Ok(http::respond(
        StatusCode::OK,
        "text/html; charset=utf-8",
        DASHBOARD.to_owned(),
    ))
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
    })
}
