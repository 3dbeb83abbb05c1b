//! The monitoring and management API: JWT-authenticated, tenant-scoped, role-checked.
//! `routes` maps a request to a feature; each feature module (`templates`, `campaigns`,
//! `messages`, `alerts`, `settings`, `admin`) holds its handlers, its queries through
//! `shared::store` and its request and response types, from which `openapi` derives the
//! document. The caller comes only from `shared::auth`.

mod admin;
mod alerts;
mod campaigns;
mod contacts;
mod engagement;
mod failures;
mod feed;
mod http;
mod messages;
mod numbers;
pub mod openapi;
mod overview;
mod public;
mod responses;
mod routes;
mod settings;
mod templates;
mod timeline;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use shared::auth::{AuthError, Caller, KeyedVerifier, Verifier};
use shared::config::ApiConfig;
use shared::cursor::CursorSigner;
use shared::graph::{GraphClient, GraphError};
use shared::notify::SlackPolicy;
use shared::secrets::TenantSecrets;
use shared::store::{Store, StoreError};
use shared::sync::TemplateSync;
use std::convert::Infallible;
use std::time::Instant;
use tracing::{error, info, warn};
use utoipa::ToSchema;

/// The API: store, token verifier and cursor signer, built once per container.
pub struct Api {
    store: Store,
    auth: KeyedVerifier,
    cursors: CursorSigner,
    /// Where the dashboard's live streams are (`GET /dashboard/config.json`).
    sse_url: Option<String>,
    websocket_url: Option<String>,
    websocket_token_in: String,
    sign_in: Option<shared::config::SignInConfig>,
    /// `POST /templates/sync`.
    sync: TemplateSync,
    /// Tenants' Slack webhook URLs (`PUT /settings`).
    secrets: TenantSecrets,
    slack: SlackPolicy,
}

impl Api {
    /// Builds the API; fetches the JWKS when one is configured.
    pub async fn build(
        config: &ApiConfig,
        dynamodb: aws_sdk_dynamodb::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
    ) -> Result<Self, GraphError> {
        let store = Store::new(dynamodb, &config.table_name);
        let secrets = TenantSecrets::new(secretsmanager, &config.tenant_secrets_prefix);
        Ok(Self {
            sync: TemplateSync::new(
                store.clone(),
                GraphClient::new(config.graph.clone())?,
                secrets.clone(),
            ),
            secrets,
            slack: config.slack.clone(),
            store,
            auth: KeyedVerifier::new(
                config.auth.clone(),
                config.jwks_url.clone(),
                config.jwks_json.as_deref(),
            ),
            cursors: CursorSigner::new(&config.cursor_secret),
            sse_url: config.sse_url.clone(),
            websocket_url: config.websocket_url.clone(),
            websocket_token_in: config.websocket_token_in.clone(),
            sign_in: config.sign_in.clone(),
        })
    }

    /// The verifier (tests load keys into it).
    pub fn verifier(&self) -> &Verifier {
        self.auth.verifier()
    }

    async fn caller(&self, request: &Request) -> Result<Caller, ApiError> {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Ok(self.auth.verify_header(authorization).await?)
    }
}

/// Why a request failed; each maps to one status and a stable code. Internals are logged, not
/// returned.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized: {0}")]
    Unauthorized(#[source] AuthError),
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("bad request: {1}")]
    BadRequest(&'static str, String),
    #[error("conflict: {1}")]
    Conflict(&'static str, String),
    /// What was asked for existed and was deleted on purpose (410 with a stable code).
    #[error("gone: {1}")]
    Gone(&'static str, String),
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("store failed")]
    Store(#[from] StoreError),
    #[error("response could not be encoded")]
    Encode(#[from] serde_json::Error),
    /// A third party (Meta's Graph API, Secrets Manager) refused or failed: 409, 502 or 503
    /// with a stable code; the detail names no secret.
    #[error("upstream {1}: {2}")]
    Upstream(StatusCode, &'static str, String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        if e.is_forbidden() {
            Self::Forbidden
        } else {
            Self::Unauthorized(e)
        }
    }
}

impl ApiError {
    /// 400 with a stable code and a short, input-free explanation.
    pub fn bad(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest(code, detail.into())
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Unauthorized(e) => {
                warn!(reason = %e, "token refused");
                (
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "a valid bearer token is required".into(),
                )
            }
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "not allowed for this caller".into(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such resource".into(),
            ),
            Self::BadRequest(code, detail) => (StatusCode::BAD_REQUEST, code, detail.clone()),
            Self::Conflict(code, detail) => (StatusCode::CONFLICT, code, detail.clone()),
            Self::Gone(code, detail) => (StatusCode::GONE, code, detail.clone()),
            Self::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this path".into(),
            ),
            Self::Store(e) if e.is_transient() => {
                error!(error = %e, "store unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "temporarily unavailable, retry".into(),
                )
            }
            Self::Store(e) => {
                error!(error = %e, "store refused");
                internal()
            }
            Self::Encode(e) => {
                error!(error = %e, "response encoding failed");
                internal()
            }
            Self::Upstream(status, code, detail) => {
                warn!(code, detail = %detail, "upstream refused or failed");
                (*status, code, detail.clone())
            }
        }
    }
}

fn internal() -> (StatusCode, &'static str, String) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error".into(),
    )
}

/// Handles one request; every outcome is an HTTP response with the request id.
pub async fn handle(api: &Api, request: Request) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let request_id = request
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = match routes::route(api, &request).await {
        Ok(response) => response,
        Err(e) => problem(&e, &request_id),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    info!(
        request_id,
        method = %method,
        route = routes::route_name(&path),
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "api request"
    );
    Ok(response)
}

/// An error as `application/problem+json` (RFC 9457), with a stable `code`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    type_: String,
    title: String,
    status: u16,
    code: String,
    detail: String,
    request_id: String,
}

fn problem(e: &ApiError, request_id: &str) -> Response<Body> {
    let (status, code, detail) = e.parts();
    let body = Problem {
        type_: format!("https://errors.whatsapp-pipeline.dev/{code}"),
        title: status.canonical_reason().unwrap_or("error").to_owned(),
        status: status.as_u16(),
        code: code.to_owned(),
        detail,
        request_id: request_id.to_owned(),
    };
    // Plain strings and a number: encoding cannot fail.
    let body = serde_json::to_string(&body).unwrap_or_default();
    let mut response = http::respond(status, "application/problem+json", body);
    if let ApiError::MethodNotAllowed(allow) = e {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
