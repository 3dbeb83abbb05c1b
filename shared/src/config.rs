//! Configuration, read once from the environment at init: a missing or bad variable fails the
//! cold start, never a request. Secrets stay in `SecretString` and never reach a log.

use secrecy::SecretString;
use std::str::FromStr;

/// A variable that is missing or does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, &'static str),
}

/// Reads a required variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// Reads an optional variable, parsed, with a default.
pub fn optional<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid(name, "cannot be parsed")),
        _ => Ok(default),
    }
}

/// The webhook function's configuration.
#[derive(Debug)]
pub struct WebhookConfig {
    /// Accepted app secrets: the current one first, the previous one too while it rotates.
    pub app_secrets: Vec<SecretString>,
    /// The token Meta echoes in the subscription check.
    pub verify_token: SecretString,
    pub queue_url: String,
    /// Where verified bodies that cannot be processed are parked, with a reason.
    pub dead_letter_queue_url: String,
    pub limits: crate::ingest::Limits,
}

impl WebhookConfig {
    /// Reads `META_APP_SECRETS` (comma-separated), `META_VERIFY_TOKEN`, `WEBHOOK_QUEUE_URL`,
    /// `WEBHOOK_DLQ_URL`, and optionally `MAX_BODY_BYTES` and `SQS_MAX_MESSAGE_BYTES`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let app_secrets: Vec<SecretString> = required("META_APP_SECRETS")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SecretString::from)
            .collect();
        let defaults = crate::ingest::Limits::default();
        Ok(Self {
            app_secrets,
            verify_token: required("META_VERIFY_TOKEN")?.into(),
            queue_url: required("WEBHOOK_QUEUE_URL")?,
            dead_letter_queue_url: required("WEBHOOK_DLQ_URL")?,
            limits: crate::ingest::Limits {
                max_body_bytes: optional("MAX_BODY_BYTES", defaults.max_body_bytes)?,
                max_message_bytes: optional("SQS_MAX_MESSAGE_BYTES", defaults.max_message_bytes)?,
            },
        })
    }
}

/// The processor function's configuration.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    pub table_name: String,
    /// Where records that can never be processed are parked, with a reason.
    pub dead_letter_queue_url: String,
    pub max_message_bytes: usize,
    /// Message writes in flight at once within a batch.
    pub concurrency: usize,
    /// The Firehose stream every received body is archived to (`ARCHIVE_STREAM_NAME`); none
    /// archives nothing (`cargo lambda watch` without a deployed stack).
    pub archive_stream: Option<String>,
}

impl ProcessorConfig {
    /// Reads `TABLE_NAME`, `WEBHOOK_DLQ_URL`, and optionally `SQS_MAX_MESSAGE_BYTES`,
    /// `PROCESSOR_CONCURRENCY` and `ARCHIVE_STREAM_NAME`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            dead_letter_queue_url: required("WEBHOOK_DLQ_URL")?,
            max_message_bytes: optional(
                "SQS_MAX_MESSAGE_BYTES",
                crate::ingest::Limits::default().max_message_bytes,
            )?,
            concurrency: optional("PROCESSOR_CONCURRENCY", crate::process::DEFAULT_CONCURRENCY)?,
            archive_stream: std::env::var("ARCHIVE_STREAM_NAME")
                .ok()
                .filter(|v| !v.is_empty()),
        })
    }
}

/// The counters function's configuration.
#[derive(Debug, Clone)]
pub struct CountersConfig {
    pub table_name: String,
}

impl CountersConfig {
    /// Reads `TABLE_NAME`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
        })
    }
}

/// The dashboard's sign-in: Cognito's Hosted UI (authorization code with PKCE) for a public
/// app client. Neither is a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInConfig {
    /// The Hosted UI's base URL (`/oauth2/authorize`, `/oauth2/token` and `/logout` below it).
    pub url: String,
    pub client_id: String,
}

impl SignInConfig {
    /// `SIGN_IN_URL` and `SIGN_IN_CLIENT_ID`, when both are set.
    pub fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Self {
            url: var("SIGN_IN_URL")?.trim_end_matches('/').to_owned(),
            client_id: var("SIGN_IN_CLIENT_ID")?,
        })
    }
}

/// The API function's configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub table_name: String,
    pub auth: crate::auth::AuthConfig,
    /// JWKS location (Cognito: `https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json`).
    pub jwks_url: Option<String>,
    /// A JWKS document given directly (tests, or a pinned key set).
    pub jwks_json: Option<String>,
    /// Signs pagination cursors.
    pub cursor_secret: SecretString,
    /// The live streams the dashboard connects to.
    pub sse_url: Option<String>,
    pub websocket_url: Option<String>,
    /// How browsers hand their token to the WebSocket API: `subprotocol` (`bearer`, the
    /// default) or `query` (`?token=`, the local emulator).
    pub websocket_token_in: String,
    /// Where the dashboard signs in: the Hosted UI's base URL and the app client.
    pub sign_in: Option<SignInConfig>,
    /// `POST /templates/sync` calls Meta's Graph API with the tenant's token.
    pub graph: crate::graph::GraphConfig,
    pub tenant_secrets_prefix: String,
    /// Which Slack webhook URLs `PUT /settings` accepts.
    pub slack: crate::notify::SlackPolicy,
}

impl ApiConfig {
    /// Reads `TABLE_NAME`, `CURSOR_SECRET`, `TENANT_SECRETS_PREFIX`, the token settings
    /// ([`TokenConfig::from_env`]), the Graph settings ([`graph_from_env`]) and optionally
    /// `SLACK_WEBHOOK_URL_PREFIXES`, `SSE_URL`, `WEBSOCKET_URL`, `SIGN_IN_URL` and
    /// `SIGN_IN_CLIENT_ID`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let tokens = TokenConfig::from_env()?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            auth: tokens.auth,
            jwks_url: tokens.jwks_url,
            jwks_json: tokens.jwks_json,
            cursor_secret: required("CURSOR_SECRET")?.into(),
            sse_url: std::env::var("SSE_URL").ok().filter(|v| !v.is_empty()),
            websocket_url: std::env::var("WEBSOCKET_URL")
                .ok()
                .filter(|v| !v.is_empty()),
            websocket_token_in: match std::env::var("WEBSOCKET_TOKEN_IN").as_deref() {
                Ok("query") => "query".to_owned(),
                _ => "subprotocol".to_owned(),
            },
            sign_in: SignInConfig::from_env(),
            graph: graph_from_env()?,
            tenant_secrets_prefix: tenant_secrets_prefix()?,
            slack: crate::notify::SlackPolicy::from_env(),
        })
    }
}

/// How a function that takes tokens verifies them (api, websocket, sse).
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub auth: crate::auth::AuthConfig,
    pub jwks_url: Option<String>,
    pub jwks_json: Option<String>,
}

impl TokenConfig {
    /// Reads `JWT_ISSUER`, `JWT_AUDIENCE`, and optionally `JWT_JWKS_URL`, `JWT_JWKS`,
    /// `JWT_HS256_SECRET` (tests), `JWT_TENANT_CLAIM` (default `org_id`), `JWT_ROLE_CLAIM`
    /// (default `role`), `JWT_LEEWAY_SECONDS` (default 30).
    pub fn from_env() -> Result<Self, ConfigError> {
        let opt = |name: &'static str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let config = Self {
            auth: crate::auth::AuthConfig {
                issuer: required("JWT_ISSUER")?,
                audience: required("JWT_AUDIENCE")?,
                hs256_secret: opt("JWT_HS256_SECRET").map(SecretString::from),
                tenant_claim: optional("JWT_TENANT_CLAIM", "org_id".to_owned())?,
                role_claim: optional("JWT_ROLE_CLAIM", "role".to_owned())?,
                leeway_seconds: optional("JWT_LEEWAY_SECONDS", 30)?,
            },
            jwks_url: opt("JWT_JWKS_URL"),
            jwks_json: opt("JWT_JWKS"),
        };
        if config.jwks_url.is_none()
            && config.jwks_json.is_none()
            && config.auth.hs256_secret.is_none()
        {
            return Err(ConfigError::Invalid(
                "JWT_JWKS_URL",
                "one of JWT_JWKS_URL, JWT_JWKS or JWT_HS256_SECRET is needed",
            ));
        }
        Ok(config)
    }
}

/// The realtime (stream fan-out) function's configuration.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    pub table_name: String,
    /// The WebSocket API's `@connections` endpoint: `https://<api>.execute-api.<region>.amazonaws.com/<stage>`.
    pub management_url: String,
    /// Posts in flight at once.
    pub concurrency: usize,
}

impl RealtimeConfig {
    /// Reads `TABLE_NAME`, `WEBSOCKET_MANAGEMENT_URL`, and optionally `PUSH_CONCURRENCY`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            management_url: required("WEBSOCKET_MANAGEMENT_URL")?,
            concurrency: optional(
                "PUSH_CONCURRENCY",
                crate::realtime::push::DEFAULT_PUSH_CONCURRENCY,
            )?,
        })
    }
}

/// Where tenant secrets live: `TENANT_SECRETS_PREFIX` (e.g. `<stack>/tenants`).
pub fn tenant_secrets_prefix() -> Result<String, ConfigError> {
    required("TENANT_SECRETS_PREFIX")
}

/// The Graph API settings: `GRAPH_API_BASE_URL` (default `https://graph.facebook.com`),
/// `GRAPH_API_VERSION` (default `v23.0`), `GRAPH_API_TIMEOUT_MS`, `GRAPH_API_MAX_ATTEMPTS`,
/// `GRAPH_API_BACKOFF_MS`.
pub fn graph_from_env() -> Result<crate::graph::GraphConfig, ConfigError> {
    let d = crate::graph::GraphConfig::default();
    Ok(crate::graph::GraphConfig {
        base_url: optional("GRAPH_API_BASE_URL", d.base_url)?,
        version: optional("GRAPH_API_VERSION", d.version)?,
        timeout: std::time::Duration::from_millis(optional(
            "GRAPH_API_TIMEOUT_MS",
            d.timeout.as_millis() as u64,
        )?),
        max_attempts: optional("GRAPH_API_MAX_ATTEMPTS", d.max_attempts)?,
        backoff: std::time::Duration::from_millis(optional(
            "GRAPH_API_BACKOFF_MS",
            d.backoff.as_millis() as u64,
        )?),
    })
}

/// The scheduled template sync's configuration.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub table_name: String,
    pub graph: crate::graph::GraphConfig,
    pub tenant_secrets_prefix: String,
}

impl SyncConfig {
    /// Reads `TABLE_NAME`, `TENANT_SECRETS_PREFIX` and the Graph settings ([`graph_from_env`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            graph: graph_from_env()?,
            tenant_secrets_prefix: tenant_secrets_prefix()?,
        })
    }
}

/// The notifier's configuration.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub table_name: String,
    pub topic_arn: String,
    pub tenant_secrets_prefix: String,
    pub slack: crate::notify::SlackPolicy,
}

impl NotifierConfig {
    /// Reads `TABLE_NAME`, `ALERTS_TOPIC_ARN`, `TENANT_SECRETS_PREFIX`, and optionally
    /// `SLACK_WEBHOOK_URL_PREFIXES`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            topic_arn: required("ALERTS_TOPIC_ARN")?,
            tenant_secrets_prefix: tenant_secrets_prefix()?,
            slack: crate::notify::SlackPolicy::from_env(),
        })
    }
}
