//! Server-Sent Events from a response-streaming function URL (`InvokeMode: RESPONSE_STREAM`):
//! `GET /realtime/reports` and `/realtime/templates` stream the tenant's feed as it grows, with
//! `id:` = the feed item's sort key, so a browser that reconnects with `Last-Event-ID` resumes
//! right after the last event it saw: no gap, no repeat. A heartbeat comment keeps the
//! connection open; the stream ends cleanly before the function's deadline and the browser
//! reconnects after the `retry:` hint. Operators (org_admin+) also get `GET /realtime/stats`,
//! `POST /realtime/test` and `GET /realtime/health`.

use bytes::Bytes;
use futures::stream::{self, Stream};
use http_body::Frame;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Request, RequestExt, Response};
use shared::auth::{Caller, KeyedVerifier, Role};
use shared::config::{optional, ConfigError, TokenConfig};
use shared::realtime::{push::topics_of, sse, Message, Stream as FeedStream};
use shared::store::{feed_id_floor, FeedEntry, Store};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// A response body: one chunk, or an event stream.
pub type SseBody = http_body_util::StreamBody<
    Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>,
>;

/// Timing of a stream.
#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: String,
    /// How often the feed is read (each read is one Query).
    pub poll: Duration,
    pub heartbeat: Duration,
    /// How long an id waits before it is sent: the counters fold names its feed items by the
    /// second their stream record was made, and writes them up to a couple of seconds later.
    /// Waiting this long, a stream never sends an id before an item that sorts below it exists.
    pub settle: Duration,
    /// A stream ends this long before the invocation's deadline.
    pub end_margin: Duration,
    /// And at most this long after it started.
    pub max_stream: Duration,
}

impl Settings {
    /// Reads `TABLE_NAME`, and optionally `SSE_POLL_MILLIS` (1000), `SSE_HEARTBEAT_SECONDS`
    /// (15), `SSE_SETTLE_MILLIS` (3000), `SSE_END_MARGIN_SECONDS` (5), `SSE_MAX_SECONDS` (840).
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: shared::config::required("TABLE_NAME")?,
            poll: Duration::from_millis(optional("SSE_POLL_MILLIS", 1000)?),
            heartbeat: Duration::from_secs(optional("SSE_HEARTBEAT_SECONDS", 15)?),
            settle: Duration::from_millis(optional(
                "SSE_SETTLE_MILLIS",
                shared::realtime::FEED_SETTLE_MILLIS,
            )?),
            end_margin: Duration::from_secs(optional("SSE_END_MARGIN_SECONDS", 5)?),
            max_stream: Duration::from_secs(optional("SSE_MAX_SECONDS", 840)?),
        })
    }
}

/// Store, token verifier and timing, built once per container.
pub struct App {
    store: Store,
    auth: KeyedVerifier,
    settings: Settings,
}

impl App {
    pub async fn build(
        tokens: &TokenConfig,
        settings: Settings,
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> Self {
        Self {
            store: Store::new(dynamodb, &settings.table_name),
            auth: KeyedVerifier::new(
                tokens.auth.clone(),
                tokens.jwks_url.clone(),
                tokens.jwks_json.as_deref(),
            ),
            settings,
        }
    }

    /// The verifier (tests load keys into it).
    pub fn verifier(&self) -> &shared::auth::Verifier {
        self.auth.verifier()
    }
}

fn body_of(text: String) -> SseBody {
    let once = stream::once(async move { Ok(Frame::data(Bytes::from(text))) });
    http_body_util::StreamBody::new(Box::pin(once))
}

fn respond(status: StatusCode, content_type: &'static str, text: String) -> Response<SseBody> {
    let mut r = Response::new(body_of(text));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn problem(status: StatusCode, code: &str) -> Response<SseBody> {
    let body = serde_json::json!({
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "code": code,
    });
    respond(status, "application/problem+json", body.to_string())
}

fn query_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// The caller: `Authorization: Bearer`, or `?token=` (EventSource cannot set headers).
async fn caller(app: &App, request: &Request) -> Result<Caller, Response<SseBody>> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let verified = match (header, query_param(request, "token")) {
        (Some(h), _) => app.auth.verify_header(Some(h)).await,
        (None, Some(token)) => app.auth.verify(token).await,
        (None, None) => app.auth.verify_header(None).await,
    };
    verified.map_err(|e| {
        if e.is_forbidden() {
            problem(StatusCode::FORBIDDEN, "forbidden")
        } else {
            warn!(reason = %e, "token refused");
            problem(StatusCode::UNAUTHORIZED, "unauthorized")
        }
    })
}

/// Handles one request.
pub async fn handle(app: &'static App, request: Request) -> Result<Response<SseBody>, Infallible> {
    let mut response = route(app, &request).await;
    let headers = response.headers_mut();
    // Tokens travel in a header or the query string, never a cookie: any page may read.
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("authorization, last-event-id"),
    );
    Ok(response)
}

async fn route(app: &'static App, request: &Request) -> Response<SseBody> {
    let method = request.method();
    if method == Method::OPTIONS {
        return respond(StatusCode::NO_CONTENT, "text/plain", String::new());
    }
    let path = request.uri().path().trim_end_matches('/');
    let stream = match path {
        "/realtime/reports" => Some(FeedStream::Reports),
        "/realtime/templates" => Some(FeedStream::Templates),
        _ => None,
    };
    let caller = match caller(app, request).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    match (method.as_str(), path, stream) {
        ("GET", _, Some(stream)) => open(app, request, &caller, stream),
        ("GET", "/realtime/stats", None) => stats(app, &caller).await,
        ("POST", "/realtime/test", None) => test_event(app, &caller).await,
        ("GET", "/realtime/health", None) => health(app, &caller).await,
        (
            _,
            "/realtime/reports" | "/realtime/templates" | "/realtime/stats" | "/realtime/health",
            _,
        )
        | (_, "/realtime/test", _) => problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        _ => problem(StatusCode::NOT_FOUND, "not_found"),
    }
}

async fn stats(app: &App, caller: &Caller) -> Response<SseBody> {
    if caller.require(Role::OrgAdmin).is_err() {
        return problem(StatusCode::FORBIDDEN, "forbidden");
    }
    match app.store.tenant_connections(&caller.tenant_id).await {
        Ok(connections) => {
            let mut by_topic: BTreeMap<String, usize> = BTreeMap::new();
            for c in &connections {
                for t in topics_of(c) {
                    *by_topic.entry(t.as_string()).or_default() += 1;
                }
            }
            let body = serde_json::json!({
                "tenant_id": caller.tenant_id,
                "websocket_connections": connections.len(),
                "by_topic": by_topic,
            });
            respond(StatusCode::OK, "application/json", body.to_string())
        }
        Err(e) => {
            warn!(error = %e, "connections could not be read");
            problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    }
}

async fn test_event(app: &App, caller: &Caller) -> Response<SseBody> {
    if caller.require(Role::OrgAdmin).is_err() {
        return problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let entry = FeedEntry {
        kind: "test_event",
        summary: serde_json::json!({"by": caller.subject, "at": shared::store::now()}).to_string(),
    };
    match app.store.append_feed(&caller.tenant_id, &entry).await {
        Ok(()) => respond(
            StatusCode::ACCEPTED,
            "application/json",
            r#"{"queued":true}"#.into(),
        ),
        Err(e) => {
            warn!(error = %e, "test event could not be written");
            problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    }
}

async fn health(app: &App, caller: &Caller) -> Response<SseBody> {
    if caller.require(Role::OrgAdmin).is_err() {
        return problem(StatusCode::FORBIDDEN, "forbidden");
    }
    match app.store.ping().await {
        Ok(()) => respond(
            StatusCode::OK,
            "application/json",
            r#"{"status":"ok"}"#.into(),
        ),
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    }
}

/// Where a stream starts: right after `Last-Event-ID` (header, or `?last_event_id=` for a
/// first connection that resumes), else now.
fn start_after(request: &Request, settle: Duration) -> String {
    let given = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(request, "last_event_id"));
    match given.map(str::trim).filter(|id| sse::valid_event_id(id)) {
        Some(id) => id.to_owned(),
        // A new stream starts where ids have settled: it may repeat a few seconds from before
        // it opened, but loses nothing written after.
        None => feed_id_floor(settled_ms(settle)),
    }
}

/// Now less `settle`, in ms since the epoch.
fn settled_ms(settle: Duration) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.saturating_sub(settle).as_millis() as u64
}

/// The state of one open stream.
struct Feed {
    app: &'static App,
    tenant_id: String,
    stream: FeedStream,
    last: String,
    end: Instant,
    next_poll: Instant,
    next_heartbeat: Instant,
    queue: VecDeque<String>,
    finished: bool,
    sent: usize,
}

impl Feed {
    /// Reads what the feed holds after `last`, up to the ids that have settled; every item read
    /// moves `last`, sent or not.
    async fn poll(&mut self) {
        const PAGE: i32 = 100;
        let until = feed_id_floor(settled_ms(self.app.settings.settle));
        match self
            .app
            .store
            .feed_after(&self.tenant_id, &self.last, &until, PAGE)
            .await
        {
            Ok(items) => {
                let full = items.len() == PAGE as usize;
                for item in items {
                    for message in Message::from_feed(&item) {
                        if message.kind.in_stream(self.stream) {
                            if let Some(event) = sse::event(&message) {
                                self.queue.push_back(event);
                            }
                        }
                    }
                    self.last = item.sk;
                }
                // A full page: read on at once; otherwise wait for the next poll.
                self.next_poll = if full {
                    Instant::now()
                } else {
                    Instant::now() + self.app.settings.poll
                };
            }
            Err(e) => {
                warn!(error = %e, "feed read failed; retrying");
                self.next_poll = Instant::now() + self.app.settings.poll;
            }
        }
    }

    /// The next chunk, or `None` when the stream is over.
    async fn next_chunk(&mut self) -> Option<String> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                self.sent += 1;
                return Some(chunk);
            }
            if self.finished {
                info!(
                    tenant_id = self.tenant_id,
                    chunks = self.sent,
                    "stream ended"
                );
                return None;
            }
            let now = Instant::now();
            if now >= self.end {
                self.finished = true;
                self.queue
                    .push_back(": stream ends; reconnect with Last-Event-ID\n\n".into());
            } else if now >= self.next_heartbeat {
                self.next_heartbeat = now + self.app.settings.heartbeat;
                self.queue.push_back(sse::heartbeat().into());
            } else if now >= self.next_poll {
                self.poll().await;
            } else {
                let wake = self.next_poll.min(self.next_heartbeat).min(self.end);
                tokio::time::sleep_until(wake.into()).await;
            }
        }
    }
}

fn open(
    app: &'static App,
    request: &Request,
    caller: &Caller,
    stream: FeedStream,
) -> Response<SseBody> {
    let started = Instant::now();
    let settings = &app.settings;
    let by_deadline = request
        .lambda_context_ref()
        .map(|c| c.deadline)
        .filter(|d| *d > 0)
        .and_then(|deadline_ms| {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_millis() as u64;
            // A deadline already past is not one (`cargo lambda watch` sends its timeout, 600000,
            // instead of an epoch time): fall back to SSE_MAX_SECONDS.
            let left = deadline_ms.checked_sub(now_ms).map(Duration::from_millis)?;
            Some(left.saturating_sub(settings.end_margin))
        })
        .unwrap_or(settings.max_stream);
    let feed = Feed {
        app,
        tenant_id: caller.tenant_id.clone(),
        stream,
        last: start_after(request, settings.settle),
        end: started + by_deadline.min(settings.max_stream),
        next_poll: started,
        next_heartbeat: started + settings.heartbeat,
        queue: VecDeque::from([sse::retry_hint()]),
        finished: false,
        sent: 0,
    };
    info!(
        tenant_id = feed.tenant_id,
        from = feed.last,
        seconds = (feed.end - started).as_secs(),
        "stream opened"
    );
    let chunks = stream::unfold(feed, |mut feed| async move {
        let chunk = feed.next_chunk().await?;
        Some((Ok(Frame::data(Bytes::from(chunk))), feed))
    });
    let mut response =
        Response::new(http_body_util::StreamBody::new(Box::pin(chunks)
            as Pin<
                Box<dyn Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>,
            >));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
