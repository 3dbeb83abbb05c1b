//! The webhook function: Meta's GET subscription check and signed POST notifications.
//! HTTP in and out here; the decisions live in `shared::ingest`.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use shared::config::WebhookConfig;
use shared::ingest::{Accepted, Ingest, IngestError};
use shared::meta::SIGNATURE_HEADER;
use shared::metrics::Metrics;
use shared::queue::Queue;
use std::convert::Infallible;
use std::time::Instant;
use tracing::{error, info, warn};

/// No app secret configured: the function refuses to start rather than accept unsigned bodies.
#[derive(Debug)]
pub struct NoAppSecret;

impl std::fmt::Display for NoAppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("META_APP_SECRETS holds no secret")
    }
}

impl std::error::Error for NoAppSecret {}

/// Builds the webhook from its configuration and an SQS client (once per container).
pub fn build(config: &WebhookConfig, sqs: aws_sdk_sqs::Client) -> Result<Ingest, NoAppSecret> {
    let max = config.limits.max_message_bytes;
    Ingest::new(
        &config.app_secrets,
        config.verify_token.clone(),
        Queue::new(sqs.clone(), &config.queue_url, max),
        Queue::new(sqs, &config.dead_letter_queue_url, max),
        config.limits,
    )
    .ok_or(NoAppSecret)
}

/// Handles one request. Never fails: every outcome is an HTTP status.
pub async fn handle(ingest: &Ingest, request: Request) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let response = match *request.method() {
        Method::GET => verify_subscription(ingest, &request),
        Method::POST => receive(ingest, &request, &request_id).await,
        _ => respond(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    };
    info!(
        request_id,
        method = %request.method(),
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "webhook request"
    );
    Ok(response)
}

fn verify_subscription(ingest: &Ingest, request: &Request) -> Response<Body> {
    let query = request.query_string_parameters_ref();
    let param = |name| query.and_then(|q| q.first(name));
    match ingest.verify_subscription(
        param("hub.mode"),
        param("hub.verify_token"),
        param("hub.challenge"),
    ) {
        Some(challenge) => respond(StatusCode::OK, challenge.to_owned()),
        None => {
            warn!("subscription check refused");
            respond(StatusCode::FORBIDDEN, "forbidden")
        }
    }
}

async fn receive(ingest: &Ingest, request: &Request, request_id: &str) -> Response<Body> {
    // lambda_http has already decoded an `isBase64Encoded` body: these are the bytes Meta signed.
    let body: &[u8] = request.body().as_ref();
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|value| value.as_bytes());
    let result = ingest.accept(signature, body, request_id).await;
    let metrics = metrics_of(&result);
    match &result {
        // A queued body's counts go out once per interval per container; anything an alarm
        // watches (signature failures, parked, too large, queue failures) at once.
        Ok(Accepted::Queued { .. } | Accepted::DashboardTest) => {
            if let Some(line) = QUEUED_METRICS.add(&metrics, now_ms()) {
                println!("{line}");
            }
        }
        _ => metrics.emit(),
    }
    match result {
        Ok(Accepted::Queued { .. } | Accepted::DashboardTest | Accepted::Parked { .. }) => {
            respond(StatusCode::OK, "EVENT_RECEIVED")
        }
        Err(IngestError::Signature(e)) => {
            warn!(reason = %e, "signature refused");
            respond(StatusCode::UNAUTHORIZED, "invalid signature")
        }
        Err(e @ IngestError::TooLarge { .. }) => {
            warn!(error = %e, "body too large");
            respond(StatusCode::PAYLOAD_TOO_LARGE, "body too large")
        }
        Err(IngestError::Queue(e)) => {
            // Meta retries 5xx answers: the body is not lost, it comes again.
            error!(error = %e, source = ?std::error::Error::source(&e), "queue send failed");
            respond(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable")
        }
    }
}

/// The counts of queued bodies, written at most every 10 s per container.
static QUEUED_METRICS: shared::metrics::Batched = shared::metrics::Batched::new(10_000);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A POST's metrics (EMF): signature failures (an alarm watches their spikes), parked bodies,
/// and what the accepted bodies carried, by kind.
pub fn metrics_of(result: &Result<Accepted, IngestError>) -> Metrics {
    let mut m = Metrics::new("webhook");
    match result {
        Ok(Accepted::Queued { parts, counts }) => {
            m.count("BodiesQueued", 1)
                .count("BodiesSplit", usize::from(*parts > 1))
                .count("StatusesReceived", counts.statuses)
                .count("InboundMessages", counts.inbound)
                .count("TemplateEvents", counts.template)
                .count("OtherEvents", counts.other);
        }
        Ok(Accepted::DashboardTest) => {
            m.count("DashboardTests", 1);
        }
        Ok(Accepted::Parked { .. }) => {
            m.count("BodiesParked", 1);
        }
        Err(IngestError::Signature(_)) => {
            m.count("SignatureFailures", 1);
        }
        Err(IngestError::TooLarge { .. }) => {
            m.count("BodiesTooLarge", 1);
        }
        Err(IngestError::Queue(_)) => {
            m.count("QueueFailures", 1);
        }
    }
    m
}

fn respond(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    let mut response = Response::new(Body::Text(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn request_id(request: &Request) -> String {
    if let Some(context) = request.lambda_context_ref() {
        return context.request_id.clone();
    }
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.request_id.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}
