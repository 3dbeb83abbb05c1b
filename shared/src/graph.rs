//! Meta's Graph API, the part the template sync reads: a WABA's message templates, paged.
//!
//! One `reqwest` client per container. Every request has a timeout; throttling (HTTP 429, or
//! Meta's rate-limit error codes, which Meta also sends with HTTP 400) and 5xx are retried with
//! exponential backoff; anything else ends in a [`GraphError`] that says what to do. Paging
//! follows `paging.cursors.after` on our own URL (never the `next` URL Meta returns, so a body
//! cannot point the client at another host). The access token travels in the `Authorization`
//! header, never in a URL that could be logged.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use tracing::warn;

/// The fields the sync asks Meta for.
pub const TEMPLATE_FIELDS: &str = "id,name,language,status,category,quality_score,rejected_reason";
/// The phone-number fields the sync asks Meta for.
pub const PHONE_FIELDS: &str =
    "id,display_phone_number,quality_rating,messaging_limit_tier,throughput,name_status";
/// Templates per page (Meta's maximum for this edge is larger; 100 keeps answers small).
const PAGE_SIZE: &str = "100";
/// A WABA holds at most a few thousand templates; more pages than this is a paging loop.
const MAX_PAGES: usize = 200;
/// Meta's error text is cut to this in errors and logs.
const MAX_MESSAGE_CHARS: usize = 200;

/// Where Meta's Graph API is and how to call it.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// `https://graph.facebook.com` in production; a local fake in tests.
    pub base_url: String,
    /// `v23.0`, ...
    pub version: String,
    /// Per request, connect to last byte.
    pub timeout: Duration,
    /// Attempts per page, retries included.
    pub max_attempts: u32,
    /// First retry delay; doubled each retry.
    pub backoff: Duration,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            base_url: "https://graph.facebook.com".into(),
            version: "v23.0".into(),
            timeout: Duration::from_secs(10),
            max_attempts: 4,
            backoff: Duration::from_millis(250),
        }
    }
}

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Code 190: the system-user token is expired, revoked or wrong. Not retried.
    #[error("the access token was refused (code 190): {0}")]
    TokenRefused(String),
    /// Still throttled or failing after every attempt.
    #[error("Graph API unavailable after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },
    /// Meta answered with an error that retrying will not fix.
    #[error("Graph API error {code} (HTTP {status}): {message}")]
    Refused {
        status: u16,
        code: i64,
        message: String,
    },
    /// The answer is not the JSON Meta documents.
    #[error("Graph API answer is not valid: {0}")]
    Malformed(String),
    /// More pages than any WABA has: the cursor does not advance.
    #[error("Graph API paging did not end after {0} pages")]
    EndlessPaging(usize),
    #[error("the Graph API base URL is not valid")]
    BadBaseUrl,
}

impl GraphError {
    /// A stable machine name for problem+json codes and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TokenRefused(_) => "graph_token_refused",
            Self::Unavailable { .. } => "graph_unavailable",
            Self::Refused { .. } => "graph_refused",
            Self::Malformed(_) => "graph_malformed",
            Self::EndlessPaging(_) => "graph_endless_paging",
            Self::BadBaseUrl => "graph_misconfigured",
        }
    }
}

/// One template as Meta's API describes it. Ids stay strings here: Meta sends them as strings,
/// and they can exceed 2^53.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphTemplate {
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub quality_score: Option<GraphQualityScore>,
    /// `NONE` unless rejected.
    #[serde(default)]
    pub rejected_reason: Option<String>,
}

/// `quality_score` of a template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphQualityScore {
    pub score: String,
    #[serde(default)]
    pub date: Option<u64>,
}

/// One business phone number as Meta's API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphPhoneNumber {
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// `GREEN`, `YELLOW`, `RED`, `UNKNOWN`.
    #[serde(default)]
    pub quality_rating: Option<String>,
    /// `TIER_250`, `TIER_1K`, ...
    #[serde(default)]
    pub messaging_limit_tier: Option<String>,
    #[serde(default)]
    pub throughput: Option<GraphThroughput>,
    /// The display name's review: `APPROVED`, `DECLINED`, ...
    #[serde(default)]
    pub name_status: Option<String>,
}

/// `throughput` of a phone number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphThroughput {
    /// `STANDARD`, `HIGH`, ...
    #[serde(default)]
    pub level: Option<String>,
}

#[derive(Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    /// Present only when there is a next page.
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

/// Meta's error body: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: MetaError,
}

#[derive(Deserialize)]
struct MetaError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
}

/// Meta's throttling codes (app, user, page, WABA and pair rate limits), sent with HTTP 400 too.
fn is_rate_limit(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80004 | 80007 | 80008)
}

/// The Graph API client.
#[derive(Debug, Clone)]
pub struct GraphClient {
    config: GraphConfig,
}

enum Attempt<T> {
    Done(Page<T>),
    Retry(String),
}

impl GraphClient {
    /// A client on the process's HTTPS client ([`crate::http`]), each request bounded by
    /// `config.timeout`.
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        Ok(Self { config })
    }

    /// Every template of a WABA, all pages.
    pub async fn message_templates(
        &self,
        waba_id: &str,
        token: &SecretString,
    ) -> Result<Vec<GraphTemplate>, GraphError> {
        self.all_pages(waba_id, "message_templates", TEMPLATE_FIELDS, token)
            .await
    }

    /// Every phone number of a WABA, all pages.
    pub async fn phone_numbers(
        &self,
        waba_id: &str,
        token: &SecretString,
    ) -> Result<Vec<GraphPhoneNumber>, GraphError> {
        self.all_pages(waba_id, "phone_numbers", PHONE_FIELDS, token)
            .await
    }

    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        waba_id: &str,
        edge: &str,
        fields: &str,
        token: &SecretString,
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = self.edge_url(waba_id, edge, fields, after.as_deref())?;
            let page: Page<T> = self.page(waba_id, &url, token).await?;
            items.extend(page.data);
            let next = page.paging.and_then(|p| {
                p.next.as_ref()?;
                p.cursors.and_then(|c| c.after)
            });
            match next {
                Some(cursor) if after.as_deref() != Some(cursor.as_str()) => after = Some(cursor),
                Some(_) => return Err(GraphError::EndlessPaging(MAX_PAGES)),
                None => return Ok(items),
            }
        }
        Err(GraphError::EndlessPaging(MAX_PAGES))
    }

    #[cfg(test)]
    fn page_url(&self, waba_id: &str, after: Option<&str>) -> Result<reqwest::Url, GraphError> {
        self.edge_url(waba_id, "message_templates", TEMPLATE_FIELDS, after)
    }

    fn edge_url(
        &self,
        waba_id: &str,
        edge: &str,
        fields: &str,
        after: Option<&str>,
    ) -> Result<reqwest::Url, GraphError> {
        let base = self.config.base_url.trim_end_matches('/');
        let mut url =
            reqwest::Url::parse(&format!("{base}/{}/{waba_id}/{edge}", self.config.version))
                .map_err(|_| GraphError::BadBaseUrl)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("fields", fields)
                .append_pair("limit", PAGE_SIZE);
            if let Some(after) = after {
                q.append_pair("after", after);
            }
        }
        Ok(url)
    }

    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        waba_id: &str,
        url: &reqwest::Url,
        token: &SecretString,
    ) -> Result<Page<T>, GraphError> {
        let attempts = self.config.max_attempts.max(1);
        let mut delay = self.config.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.attempt(url, token).await? {
                Attempt::Done(page) => return Ok(page),
                Attempt::Retry(why) => {
                    warn!(waba_id, attempt, reason = %why, "Graph API call will be retried");
                    last = why;
                }
            }
            if attempt < attempts {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
        Err(GraphError::Unavailable { attempts, last })
    }

    async fn attempt<T: serde::de::DeserializeOwned>(
        &self,
        url: &reqwest::Url,
        token: &SecretString,
    ) -> Result<Attempt<T>, GraphError> {
        let sent = crate::http::client()
            .get(url.clone())
            .timeout(self.config.timeout)
            .bearer_auth(token.expose_secret())
            .header("accept", "application/json")
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Ok(Attempt::Retry("timeout".into())),
            Err(e) if e.is_connect() => return Ok(Attempt::Retry("connection failed".into())),
            Err(e) => return Ok(Attempt::Retry(format!("request failed: {e}"))),
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(_) => return Ok(Attempt::Retry("body not received".into())),
        };
        if status.is_success() {
            return serde_json::from_slice::<Page<T>>(&body)
                .map(Attempt::Done)
                .map_err(|e| GraphError::Malformed(e.to_string()));
        }
        let error = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        let code = error.as_ref().map_or(0, |e| e.code);
        let message: String = error
            .map(|e| e.message)
            .unwrap_or_else(|| "no Graph error body".into())
            .chars()
            .take(MAX_MESSAGE_CHARS)
            .collect();
        if code == 190 {
            return Err(GraphError::TokenRefused(message));
        }
        if status.as_u16() == 429 || status.is_server_error() || is_rate_limit(code) {
            return Ok(Attempt::Retry(format!("HTTP {status}, code {code}")));
        }
        Err(GraphError::Refused {
            status: status.as_u16(),
            code,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_meta_s_shape_with_ids_as_strings_beyond_2_pow_53() {
        let body = r#"{"data":[{"name":"order_update","language":"pt_BR","status":"APPROVED",
            "category":"UTILITY","id":"18446744073709551615",
            "quality_score":{"score":"GREEN","date":1700000000},"rejected_reason":"NONE"}],
            "paging":{"cursors":{"before":"QVFI","after":"QVFJ"},"next":"https://x/y"}}"#;
        let page: Page<GraphTemplate> = serde_json::from_str(body).unwrap();
        assert_eq!(page.data[0].id, "18446744073709551615");
        assert_eq!(page.data[0].quality_score.as_ref().unwrap().score, "GREEN");
        let paging = page.paging.unwrap();
        assert_eq!(paging.cursors.unwrap().after.as_deref(), Some("QVFJ"));
    }

    #[test]
    fn the_page_url_keeps_the_host_and_encodes_the_cursor() {
        let client = GraphClient::new(GraphConfig {
            base_url: "http://127.0.0.1:9/".into(),
            ..GraphConfig::default()
        })
        .unwrap();
        let url = client.page_url("102290129340398", Some("a+b=/c")).unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        assert_eq!(url.path(), "/v23.0/102290129340398/message_templates");
        assert!(url.query().unwrap().contains("after=a%2Bb%3D%2Fc"));
    }

    #[test]
    fn rate_limit_codes_are_retried_and_others_are_not() {
        assert!(is_rate_limit(80008) && is_rate_limit(4));
        assert!(!is_rate_limit(100) && !is_rate_limit(190));
    }
}
