//! What answers without a token: health, the live dashboard page and where it finds the streams.

use crate::http;
use crate::{Api, ApiError};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use utoipa::ToSchema;

/// The dashboard: its page, and the bundle of its script and styles that `make build` and
/// `make dev` make from `functions/api/dashboard/src` (esbuild; committed in `dist/`, so a
/// plain `cargo build` serves it too).
pub(crate) struct Asset {
    content_type: &'static str,
    body: &'static str,
    /// A digest of the bytes, made on first use.
    etag: &'static LazyLock<String>,
}

const PAGE_BODY: &str = include_str!("../dashboard/index.html");
const SCRIPT_BODY: &str = include_str!("../dashboard/dist/app.js");
const STYLES_BODY: &str = include_str!("../dashboard/dist/app.css");
static PAGE_ETAG: LazyLock<String> = LazyLock::new(|| etag_of(PAGE_BODY));
static SCRIPT_ETAG: LazyLock<String> = LazyLock::new(|| etag_of(SCRIPT_BODY));
static STYLES_ETAG: LazyLock<String> = LazyLock::new(|| etag_of(STYLES_BODY));

static PAGE: Asset = Asset {
    content_type: "text/html; charset=utf-8",
    body: PAGE_BODY,
    etag: &PAGE_ETAG,
};
static SCRIPT: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    body: SCRIPT_BODY,
    etag: &SCRIPT_ETAG,
};
static STYLES: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    body: STYLES_BODY,
    etag: &STYLES_ETAG,
};

/// The entity tag of `body`: a digest of its bytes, so a browser revalidates and a deploy that
/// changes them is seen at once.
fn etag_of(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// The dashboard's asset named `name` (`app.js`, `app.css`).
pub(crate) fn asset(name: &str) -> Option<&'static Asset> {
    match name {
        "app.js" => Some(&SCRIPT),
        "app.css" => Some(&STYLES),
        _ => None,
    }
}

impl Asset {
    /// The asset, or 304 when the browser's copy (`If-None-Match`) is current.
    pub(crate) fn serve(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let etag = self.etag.as_str();
        let unchanged = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        let mut response = if unchanged {
            http::respond(StatusCode::NOT_MODIFIED, self.content_type, String::new())
        } else {
            http::respond(StatusCode::OK, self.content_type, self.body.to_owned())
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(etag) {
            headers.insert(header::ETAG, value);
        }
        // Revalidated on every load (a 304 is a few bytes); no token is ever in them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Ok(response)
    }
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
    /// How to hand the token to the WebSocket: the `bearer` subprotocol, or `?token=`
    #[schema(pattern = "^(subprotocol|query)$")]
    websocket_token_in: String,
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
    PAGE.serve(req)
}

/// The dashboard's script and styles (no auth)
#[utoipa::path(
    get,
    path = "/dashboard/{asset}",
    operation_id = "dashboardAsset",
    params(("asset" = String, Path, description = "app.js or app.css", pattern = "^app\\.(js|css)$")),
    responses(
        (status = 200, description = "The asset, with its ETag", content(
            (String = "text/javascript"),
            (String = "text/css"),
        )),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such asset"),
    ),
    security()
)]
pub(crate) fn dashboard_asset(req: &Request, name: &str) -> Result<Response<Body>, ApiError> {
    asset(name).ok_or(ApiError::NotFound)?.serve(req)
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
        websocket_token_in: api.websocket_token_in.clone(),
        sign_in: api.sign_in.as_ref().map(|s| SignIn {
            authorize_url: format!("{}/oauth2/authorize", s.url),
            token_url: format!("{}/oauth2/token", s.url),
            logout_url: format!("{}/logout", s.url),
            client_id: s.client_id.clone(),
        }),
    })
}
