//! The real webhook handler against SQS on the local endpoint.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use pipeline_tests::*;
use secrecy::SecretString;
use shared::config::WebhookConfig;
use shared::ingest::Ingest;
use shared::ingest::{Limits, ATTR_ENCODING, ATTR_KIND, ATTR_PARKED_REASON, ATTR_PART};
use shared::meta::{self, signature::sign, EventKind, Notification};

struct Harness {
    queues: TestQueues,
    ingest: Ingest,
}

async fn harness_with(secrets: &[&str], limits: Limits) -> Harness {
    let aws = local_aws().await;
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let config = WebhookConfig {
        app_secrets: secrets.iter().map(|s| SecretString::from(*s)).collect(),
        verify_token: FIXTURE_VERIFY_TOKEN.into(),
        queue_url: queues.queue_url.clone(),
        dead_letter_queue_url: queues.dead_letter_url.clone(),
        limits,
    };
    let ingest = webhook::build(&config, queues.sqs.clone()).expect("a secret is configured");
    Harness { queues, ingest }
}

async fn harness() -> Harness {
    harness_with(&[FIXTURE_APP_SECRET], Limits::default()).await
}

/// A Lambda event fixture from `events/lambda/`, as lambda_http hands it to the function.
fn lambda_request(name: &str) -> Request {
    let json = String::from_utf8(fixture(&format!("lambda/{name}"))).expect("UTF-8");
    lambda_http::request::from_str(&json).expect("a valid API Gateway v2 / function URL event")
}

/// An API Gateway POST /webhook carrying `body`, with the given signature header (if any).
fn post(body: &[u8], signature: Option<&str>) -> Request {
    let json = String::from_utf8(fixture("lambda/apigw_v2_post_status_sent.json")).expect("UTF-8");
    let mut event: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let headers = event["headers"].as_object_mut().expect("headers");
    headers.remove("x-hub-signature");
    headers.remove("x-hub-signature-256");
    headers.insert("content-length".into(), body.len().to_string().into());
    if let Some(sig) = signature {
        headers.insert("x-hub-signature-256".into(), sig.into());
    }
    match std::str::from_utf8(body) {
        Ok(text) => event["body"] = text.into(),
        Err(_) => {
            use base64::Engine;
            event["body"] = base64::engine::general_purpose::STANDARD
                .encode(body)
                .into();
            event["isBase64Encoded"] = true.into();
        }
    }
    lambda_http::request::from_str(&event.to_string()).expect("valid event")
}

async fn call(h: &Harness, request: Request) -> (StatusCode, String) {
    let response = webhook::handle(&h.ingest, request)
        .await
        .expect("infallible");
    let body = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Empty => String::new(),
        _ => String::new(),
    };
    (response.status(), body)
}

fn statuses_in(body: &str) -> Vec<(String, String)> {
    match meta::parse(body.as_bytes()).expect("queued body parses") {
        Notification::Events(events) => events
            .into_iter()
            .flat_map(|e| match e.kind {
                EventKind::Statuses { statuses, .. } => statuses
                    .into_iter()
                    .map(|status| (status.id.into_owned(), status.status.to_string()))
                    .collect(),
                _ => Vec::new(),
            })
            .collect(),
        other => panic!("not a notification: {other:?}"),
    }
}

#[tokio::test]
async fn subscription_check_echoes_the_challenge_as_plain_text() {
    let h = harness().await;
    let response = webhook::handle(&h.ingest, lambda_request("apigw_v2_get_verify.json"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(response.body().as_ref(), b"1158201444");
}

#[tokio::test]
async fn subscription_check_with_a_wrong_token_is_forbidden_and_not_echoed() {
    let h = harness().await;
    let (status, body) = call(&h, lambda_request("apigw_v2_get_verify_wrong_token.json")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.contains("1158201444"));
}

#[tokio::test]
async fn signed_post_puts_the_exact_raw_body_on_the_queue_before_answering_200() {
    let h = harness().await;
    let (status, _) = call(&h, lambda_request("apigw_v2_post_status_sent.json")).await;
    assert_eq!(status, StatusCode::OK);
    let queued = h.queues.drain(&h.queues.queue_url).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].body().unwrap().as_bytes(),
        fixture("meta/status_sent.json")
    );
    assert_eq!(attribute(&queued[0], ATTR_KIND), Some("notification"));
    assert!(h.queues.drain(&h.queues.dead_letter_url).await.is_empty());
}

#[tokio::test]
async fn base64_function_url_body_is_verified_over_the_decoded_bytes() {
    let h = harness().await;
    let (status, _) = call(
        &h,
        lambda_request("function_url_post_status_sent_base64.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let queued = h.queues.drain(&h.queues.queue_url).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].body().unwrap().as_bytes(),
        fixture("meta/status_sent.json")
    );
}

#[tokio::test]
async fn bad_or_missing_signature_is_401_and_nothing_is_queued() {
    let h = harness().await;
    for event in [
        "apigw_v2_post_bad_signature.json",
        "apigw_v2_post_missing_signature.json",
    ] {
        let (status, _) = call(&h, lambda_request(event)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{event}");
    }
    // A signature over other bytes, a malformed header, and a body that is not even JSON.
    let body = fixture("meta/status_sent.json");
    let other = sign(FIXTURE_APP_SECRET, b"something else");
    for sig in [
        other.as_str(),
        "sha256=nothex",
        "sha1=30efecdb6a012f8eb371e1c1607fcaad147c52aa",
    ] {
        let (status, _) = call(&h, post(&body, Some(sig))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{sig}");
    }
    let (status, _) = call(&h, post(b"not json at all", Some(&other))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(h.queues.drain(&h.queues.queue_url).await.is_empty());
    assert!(h.queues.drain(&h.queues.dead_letter_url).await.is_empty());
}

#[tokio::test]
async fn every_signed_fixture_is_accepted_and_lands_on_a_queue() {
    let h = harness().await;
    for (path, signature) in signed_fixtures() {
        let (status, _) = call(&h, post(&fixture(&path), Some(&signature))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let queued = h.queues.drain(&h.queues.queue_url).await;
        let parked = h.queues.drain(&h.queues.dead_letter_url).await;
        assert!(
            !queued.is_empty() || !parked.is_empty(),
            "{path} was answered 200 but is on no queue"
        );
        let unreadable = matches!(
            path.as_str(),
            "meta/bad/not_json.txt" | "meta/bad/truncated.json" | "meta/bad/wrong_object.json"
        );
        assert_eq!(parked.is_empty(), !unreadable, "{path}");
    }
}

#[tokio::test]
async fn a_secret_being_rotated_out_is_still_accepted() {
    let h = harness_with(&["the-new-secret", FIXTURE_APP_SECRET], Limits::default()).await;
    let (status, _) = call(&h, lambda_request("apigw_v2_post_status_sent.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.queues.drain(&h.queues.queue_url).await.len(), 1);
}

#[tokio::test]
async fn a_body_over_the_message_limit_is_split_into_parts_that_keep_every_status() {
    let h = harness().await;
    let path = "meta/status_batch_1000.json";
    let body = fixture(path);
    assert!(body.len() > 256 * 1024);
    let (status, _) = call(&h, post(&body, Some(&signature_of(path)))).await;
    assert_eq!(status, StatusCode::OK);

    let mut queued = h.queues.drain(&h.queues.queue_url).await;
    assert!(queued.len() >= 2, "split into {} parts", queued.len());
    queued.sort_by_key(|m| {
        let part = attribute(m, ATTR_PART).expect("part attribute");
        part.split('/').next().unwrap().parse::<usize>().unwrap()
    });
    let rejoined: Vec<_> = queued
        .iter()
        .flat_map(|m| {
            assert!(m.body().unwrap().len() <= 256 * 1024);
            statuses_in(m.body().unwrap())
        })
        .collect();
    assert_eq!(rejoined, statuses_in(std::str::from_utf8(&body).unwrap()));
    assert_eq!(rejoined.len(), 1000);
}

#[tokio::test]
async fn a_single_change_over_the_limit_is_queued_with_long_strings_cut() {
    let h = harness().await;
    let path = "meta/bad/huge_reason.json";
    let (status, _) = call(&h, post(&fixture(path), Some(&signature_of(path)))).await;
    assert_eq!(status, StatusCode::OK);
    let queued = h.queues.drain(&h.queues.queue_url).await;
    assert_eq!(queued.len(), 1);
    let Notification::Events(events) = meta::parse(queued[0].body().unwrap().as_bytes()).unwrap()
    else {
        panic!("not a notification");
    };
    let EventKind::TemplateStatus(update) = &events[0].kind else {
        panic!("not a template status update");
    };
    assert_eq!(update.message_template_id, 1407680283588705);
    assert_eq!(update.event.as_str(), "REJECTED");
}

#[tokio::test]
async fn the_dashboard_test_body_is_accepted_and_queued_as_such() {
    let h = harness().await;
    let path = "meta/dashboard_test_template_status.json";
    let (status, _) = call(&h, post(&fixture(path), Some(&signature_of(path)))).await;
    assert_eq!(status, StatusCode::OK);
    let queued = h.queues.drain(&h.queues.queue_url).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(attribute(&queued[0], ATTR_KIND), Some("dashboard_test"));
}

#[tokio::test]
async fn a_verified_body_that_cannot_be_read_is_parked_with_its_reason_not_refused() {
    let h = harness().await;
    for (path, reason) in [
        ("meta/bad/not_json.txt", "invalid_json"),
        ("meta/bad/truncated.json", "invalid_json"),
        ("meta/bad/wrong_object.json", "other_object"),
    ] {
        let body = fixture(path);
        let (status, _) = call(&h, post(&body, Some(&signature_of(path)))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let parked = h.queues.drain(&h.queues.dead_letter_url).await;
        assert_eq!(parked.len(), 1, "{path}");
        assert_eq!(attribute(&parked[0], ATTR_PARKED_REASON), Some(reason));
        assert_eq!(attribute(&parked[0], ATTR_ENCODING), Some("text"));
        assert_eq!(
            parked[0].body().unwrap().as_bytes(),
            body,
            "{path} parked intact"
        );
        assert!(h.queues.drain(&h.queues.queue_url).await.is_empty());
    }
}

#[tokio::test]
async fn a_signed_binary_body_is_parked_as_base64() {
    let h = harness().await;
    let body = b"\x00\x9f\x92\x96 binary".to_vec();
    let (status, _) = call(&h, post(&body, Some(&sign(FIXTURE_APP_SECRET, &body)))).await;
    assert_eq!(status, StatusCode::OK);
    let parked = h.queues.drain(&h.queues.dead_letter_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(attribute(&parked[0], ATTR_ENCODING), Some("base64"));
    assert_eq!(attribute(&parked[0], ATTR_PARKED_REASON), Some("not_utf8"));
}

#[tokio::test]
async fn when_sqs_fails_the_answer_is_5xx_so_meta_retries() {
    let h = harness().await;
    // The queue disappears: SQS answers with an error for every send.
    h.queues
        .sqs
        .delete_queue()
        .queue_url(&h.queues.queue_url)
        .send()
        .await
        .unwrap();
    let (status, body) = call(&h, lambda_request("apigw_v2_post_status_sent.json")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!body.contains("EVENT_RECEIVED"));
    assert!(
        !body.to_lowercase().contains("queue"),
        "no internals in the answer"
    );

    // SQS unreachable altogether (nothing listens on the port).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let aws = local_aws().await;
    let unreachable = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&aws)
            .endpoint_url(endpoint)
            .build(),
    );
    let config = WebhookConfig {
        app_secrets: vec![FIXTURE_APP_SECRET.into()],
        verify_token: FIXTURE_VERIFY_TOKEN.into(),
        queue_url: h.queues.dead_letter_url.clone(),
        dead_letter_queue_url: h.queues.dead_letter_url.clone(),
        limits: Limits::default(),
    };
    let down = Harness {
        ingest: webhook::build(&config, unreachable).unwrap(),
        queues: TestQueues::create(h.queues.sqs.clone()).await,
    };
    let (status, _) = call(&down, lambda_request("apigw_v2_post_status_sent.json")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_413_before_any_work() {
    let limits = Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    };
    let h = harness_with(&[FIXTURE_APP_SECRET], limits).await;
    let path = "meta/status_batch_mixed.json";
    let (status, _) = call(&h, post(&fixture(path), Some(&signature_of(path)))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(h.queues.drain(&h.queues.queue_url).await.is_empty());
}

#[tokio::test]
async fn other_methods_are_405() {
    let h = harness().await;
    let json = String::from_utf8(fixture("lambda/apigw_v2_get_verify.json")).unwrap();
    let json = json.replace("\"method\": \"GET\"", "\"method\": \"PUT\"");
    let (status, _) = call(&h, lambda_http::request::from_str(&json).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn signed_bodies_nested_50_000_deep_are_answered_on_a_2_mib_stack_never_a_crash() {
    // ~100 KB of valid JSON each; a recursive parser overflows a 2 MiB stack on them.
    let unknown_field = deeply_nested_body(50_000);
    let in_statuses = unknown_field.replace("\"unknown_field\":", "\"statuses\":");
    assert!(unknown_field.len() > 100_000);
    let whole = unknown_field.len();
    let (queued, parked) = on_a_worker_sized_stack(async move {
        let h = harness().await;
        let mut results = Vec::new();
        for body in [&unknown_field, &in_statuses] {
            let signature = sign(FIXTURE_APP_SECRET, body.as_bytes());
            let (status, _) = call(&h, post(body.as_bytes(), Some(&signature))).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "answered, so Meta does not retry it"
            );
            results.push((
                h.queues.drain(&h.queues.queue_url).await,
                h.queues.drain(&h.queues.dead_letter_url).await,
            ));
        }
        let queued = results[0]
            .0
            .iter()
            .map(|m| m.body().unwrap_or_default().len())
            .collect::<Vec<_>>();
        let parked = results[1]
            .1
            .iter()
            .map(|m| attribute(m, ATTR_PARKED_REASON).map(str::to_owned))
            .collect::<Vec<_>>();
        assert!(results[0].1.is_empty() && results[1].0.is_empty());
        (queued, parked)
    });
    // An unknown field is skipped without recursion: the body is valid and queued whole.
    assert_eq!(queued, vec![whole]);
    // Nesting where Meta's shape has objects is not a webhook: parked with its reason.
    assert_eq!(parked, vec![Some("invalid_json".to_owned())]);
}

/// The EMF line a POST writes: valid EMF, the function as its only dimension, the counts of what
/// arrived, and nothing personal (no phone number, wamid or secret).
#[tokio::test]
async fn each_post_writes_one_emf_line_with_counts_and_nothing_personal() {
    let h = harness().await;
    let body = fixture("meta/status_batch_mixed.json");
    let accepted = h
        .ingest
        .accept(
            Some(signature_of("meta/status_batch_mixed.json").as_bytes()),
            &body,
            "r-1",
        )
        .await;
    let line = webhook::metrics_of(&accepted)
        .to_emf(1_700_000_000_000)
        .unwrap();
    let emf: serde_json::Value = serde_json::from_str(&line).unwrap();
    let directive = &emf["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], shared::metrics::NAMESPACE);
    assert_eq!(directive["Dimensions"], serde_json::json!([["Function"]]));
    assert_eq!(emf["Function"], "webhook");
    assert_eq!(
        (
            emf["BodiesQueued"].as_u64(),
            emf["StatusesReceived"].as_u64()
        ),
        (Some(1), Some(9))
    );
    for name in directive["Metrics"].as_array().unwrap() {
        assert!(
            emf[name["Name"].as_str().unwrap()].is_u64(),
            "{name} has a value"
        );
    }
    let text = String::from_utf8(body.clone()).unwrap();
    for personal in [
        "106540352242922",
        "15550001111",
        "15551230004",
        "wamid.",
        FIXTURE_APP_SECRET,
    ] {
        assert!(text.contains(personal) || personal == FIXTURE_APP_SECRET);
        assert!(!line.contains(personal), "{personal} in {line}");
    }

    let forged = h
        .ingest
        .accept(Some(sign("wrong-secret", &body).as_bytes()), &body, "r-2")
        .await;
    let line = webhook::metrics_of(&forged).to_emf(1).unwrap();
    let emf: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(emf["SignatureFailures"], 1);
    assert!(emf.get("StatusesReceived").is_none());
}
