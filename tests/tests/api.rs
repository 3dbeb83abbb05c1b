//! The real API function against the local endpoint, over data the processor produced from the
//! fixtures: endpoints, roles, tenant isolation, tokens, pagination, input errors.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt};
use pipeline_tests::world::World;
use pipeline_tests::*;
use serde_json::{json, Value};
use shared::auth::AuthConfig;
use shared::config::ApiConfig;
use shared::process::{Processor, QueuedRecord};
use shared::queue::Queue;
use shared::store::Store;
use std::collections::HashMap;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "whatsapp-pipeline";
const HS_SECRET: &str = "local-dev-secret";

struct Harness {
    api: api::Api,
    store: Store,
}

async fn harness() -> Harness {
    let aws = local_aws().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let table = create_test_table(&ddb).await;
    let store = Store::new(ddb.clone(), &table);
    World::load().seed(&store, true).await;
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let processor = Processor::new(
        store.clone(),
        Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        8,
    );
    let records: Vec<QueuedRecord> = [
        "status_batch_mixed.json",
        "status_read.json",
        "status_failed.json",
        "template_paused_first.json",
        "quality_green_to_yellow.json",
        "quality_yellow_to_red.json",
        "template_rejected.json",
        "template_flagged.json",
    ]
    .iter()
    .enumerate()
    .map(|(i, f)| QueuedRecord {
        message_id: i.to_string(),
        body: String::from_utf8(fixture(&format!("meta/{f}"))).unwrap(),
    })
    .collect();
    for r in records {
        let outcome = processor.process(&[r]).await;
        assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
    }
    let config = ApiConfig {
        table_name: table,
        auth: AuthConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            hs256_secret: Some(HS_SECRET.into()),
            tenant_claim: "org_id".into(),
            role_claim: "role".into(),
            leeway_seconds: 0,
        },
        jwks_url: None,
        jwks_json: Some(
            String::from_utf8(std::fs::read(keys_dir().join("jwks.json")).unwrap()).unwrap(),
        ),
        cursor_secret: "cursor-secret".into(),
        sse_url: None,
        websocket_url: None,
    };
    Harness {
        api: api::Api::build(&config, ddb).await,
        store,
    }
}

fn keys_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keys")
}

fn now() -> i64 {
    shared::store::now() as i64
}

fn claims(tenant: &str, role: &str) -> Value {
    json!({"sub": format!("{role}@{tenant}"), "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "nbf": now() - 5, "org_id": tenant, "role": role})
}

fn hs256(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
    )
    .unwrap()
}

fn rs256(claims: &Value, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let pem = std::fs::read(keys_dir().join("rs256-test.pem")).unwrap();
    encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

fn token(tenant: &str, role: &str) -> String {
    hs256(&claims(tenant, role))
}

fn request(method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(uri);
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    let req = builder.body(body).unwrap();
    let query: HashMap<String, String> = uri
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    req.with_query_string_parameters(query)
}

async fn call(h: &Harness, req: Request) -> (StatusCode, Value, String) {
    let response = api::handle(&h.api, req).await.unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(response.headers().contains_key("x-request-id"));
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (response.status(), body, content_type)
}

async fn get(h: &Harness, uri: &str, token: &str) -> (StatusCode, Value) {
    let (s, b, _) = call(h, request("GET", uri, Some(token), None)).await;
    (s, b)
}

async fn post(h: &Harness, uri: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let (s, b, _) = call(h, request("POST", uri, Some(token), body)).await;
    (s, b)
}

const PHONE: &str = "106540352242922";
const SPRING_SALE: &str = "1407680283588702";

#[tokio::test]
async fn monitoring_endpoints_answer_from_processed_data() {
    let h = harness().await;
    let viewer = token("acme", "viewer");

    let (s, b) = get(&h, "/templates/critical", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let critical: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["template_id"].as_str().unwrap())
        .collect();
    assert!(critical.contains(&SPRING_SALE), "paused and RED");
    assert!(critical.contains(&"1407680283588705"), "rejected");
    let spring = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["template_id"] == SPRING_SALE)
        .unwrap();
    assert!(!spring["open_alerts"].as_array().unwrap().is_empty());

    let (s, b) = get(&h, "/templates/quality-summary", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["total"], 5);
    assert_eq!(b["by_quality"]["RED"], 1);
    assert_eq!(b["by_status"]["PAUSED"], 1);

    let (s, b) = get(&h, "/templates?status=APPROVED", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "APPROVED"));

    let (s, b) = get(
        &h,
        &format!("/templates?number={PHONE}&quality=RED"),
        &viewer,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["template_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![SPRING_SALE]);
    let (s, b) = get(&h, "/templates?number=209860513372014", &viewer).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_phone_number")),
        "globex's number"
    );

    let (s, b) = get(&h, &format!("/templates/{SPRING_SALE}"), &viewer).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("PAUSED")));

    let (s, b) = get(
        &h,
        &format!("/numbers/{PHONE}/templates/{SPRING_SALE}/status-history"),
        &viewer,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let events: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        vec!["QUALITY_RED", "QUALITY_YELLOW", "PAUSED"],
        "newest first"
    );

    let (s, b) = get(&h, "/campaigns/c-acme-1", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["status"], "PAUSED");
    assert_eq!(
        b["reached"],
        json!({"sent": 2, "delivered": 2, "read": 1, "failed": 1})
    );
    assert_eq!(b["rates"]["failure"], 0.3333);
    assert!(b["pause"]["reason"].as_str().unwrap().contains("PAUSED"));

    let (s, b) = get(&h, "/campaigns?status=PAUSED", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["campaign_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["c-acme-1", "c-acme-3"]);

    let (s, b) = get(&h, "/campaigns/c-acme-1/messages?status=failed", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let failed = b["items"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["error_code"], 131026);

    let (s, b) = get(&h, "/stats", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["campaigns"], 4);
    assert_eq!(b["totals"]["registered"], 10);

    let (s, b) = get(&h, "/audit", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["items"].as_array().unwrap().len(),
        2,
        "two automatic pauses"
    );
    let (s, b) = get(&h, "/alerts", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!b["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn health_and_the_openapi_document_need_no_token() {
    let h = harness().await;
    let (s, b, _) = call(&h, request("GET", "/health", None, None)).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, b, _) = call(&h, request("GET", "/openapi.json", None, None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["openapi"], "3.1.0");
    assert!(b["paths"]
        .as_object()
        .unwrap()
        .contains_key("/campaigns/{campaign_id}/messages"));
}

#[tokio::test]
async fn management_actions_need_org_admin_and_are_audited() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    let admin = token("acme", "org_admin");
    let ack = format!("/numbers/{PHONE}/templates/{SPRING_SALE}/acknowledge-alert");
    let new_campaign = json!({"campaign_id": "c-new", "template_id": "1407680283588701", "phone_number_id": PHONE});
    for (method, uri, body) in [
        ("POST", ack.as_str(), None),
        ("POST", "/campaigns", Some(new_campaign.clone())),
        ("POST", "/campaigns/c-acme-2/pause", None),
        ("POST", "/campaigns/c-acme-1/resume", None),
        (
            "POST",
            "/messages",
            Some(json!({"wamid": "wamid.x", "campaign_id": "c-acme-2"})),
        ),
        ("PUT", "/settings", Some(json!({"auto_resume": true}))),
    ] {
        let (s, b, ct) = call(&h, request(method, uri, Some(&viewer), body)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "viewer {method} {uri}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(b["code"], "forbidden");
    }

    let (s, b) = post(&h, &ack, &admin, None).await;
    assert_eq!(
        (s, b["by"].as_str()),
        (StatusCode::OK, Some("org_admin@acme"))
    );
    assert!(b["acknowledged"].as_i64().unwrap() >= 1);
    let (_, b) = get(&h, &format!("/templates/{SPRING_SALE}"), &admin).await;
    assert!(
        b["open_alerts"].as_array().unwrap().is_empty(),
        "acknowledged alerts are closed"
    );

    let (s, b) = post(&h, "/campaigns", &admin, Some(new_campaign.clone())).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::CREATED, Some("ACTIVE"))
    );
    let (s, b) = post(&h, "/campaigns", &admin, Some(new_campaign)).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("campaign_exists"))
    );

    // Resume refuses while the template is still PAUSED, unless forced.
    let (s, b) = post(&h, "/campaigns/c-acme-1/resume", &admin, None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("template_not_sendable"))
    );
    let (s, b) = post(&h, "/campaigns/c-acme-1/resume?force=true", &admin, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ACTIVE")));

    let (s, b) = post(
        &h,
        "/campaigns/c-acme-2/pause",
        &admin,
        Some(json!({"reason": "copy review"})),
    )
    .await;
    assert_eq!(
        (s, b["pause"]["paused_by_user"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (s, b) = post(&h, "/campaigns/c-acme-2/resume", &admin, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ACTIVE")));

    // Registration: single and batch, idempotent, counted once.
    let wamid = "wamid.api-registered-1";
    let (s, b) = post(
        &h,
        "/messages",
        &admin,
        Some(json!({"wamid": wamid, "campaign_id": "c-acme-2"})),
    )
    .await;
    assert_eq!(
        (s, b["results"][0]["result"].as_str()),
        (StatusCode::OK, Some("registered"))
    );
    let batch = json!([{"wamid": wamid, "campaign_id": "c-acme-2"}, {"wamid": "wamid.api-registered-2", "campaign_id": "c-acme-2"}]);
    let (_, b) = post(&h, "/messages", &admin, Some(batch)).await;
    assert_eq!(b["results"][0]["result"], "already_registered");
    assert_eq!(b["results"][1]["result"], "registered");
    let (_, b) = get(&h, "/campaigns/c-acme-2", &admin).await;
    assert_eq!(b["registered"], 5);

    let (s, _, _) = call(
        &h,
        request(
            "PUT",
            "/settings",
            Some(&admin),
            Some(json!({"auto_resume": true})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.store.auto_resume("acme").await.unwrap());

    let (_, b) = get(&h, "/audit", &admin).await;
    let actions: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for action in [
        "alert_acknowledged",
        "campaign_resumed_forced",
        "campaign_paused",
        "campaign_resumed",
        "settings_changed",
    ] {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }
}

#[tokio::test]
async fn another_tenants_token_reads_and_writes_nothing_of_acme() {
    let h = harness().await;
    let foreign = token("globex", "org_admin");
    let ack = format!("/numbers/{PHONE}/templates/{SPRING_SALE}/acknowledge-alert");
    let history = format!("/numbers/{PHONE}/templates/{SPRING_SALE}/status-history");
    let template = format!("/templates/{SPRING_SALE}");
    // Every acme resource, addressed directly: not found in globex's tenant.
    for (method, uri, body) in [
        ("GET", template.as_str(), None),
        ("GET", history.as_str(), None),
        ("POST", ack.as_str(), None),
        ("GET", "/campaigns/c-acme-1", None),
        ("GET", "/campaigns/c-acme-1/messages", None),
        ("POST", "/campaigns/c-acme-2/pause", None),
        ("POST", "/campaigns/c-acme-1/resume?force=true", None),
        (
            "POST",
            "/campaigns",
            Some(json!({"campaign_id": "x", "template_id": SPRING_SALE, "phone_number_id": PHONE})),
        ),
        (
            "POST",
            "/messages",
            Some(json!({"wamid": "wamid.x", "campaign_id": "c-acme-1"})),
        ),
    ] {
        let (s, b, _) = call(&h, request(method, uri, Some(&foreign), body)).await;
        assert!(
            matches!(s, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
            "{method} {uri}: {s}"
        );
        assert!(
            !b.to_string().contains("c-acme"),
            "{method} {uri} leaked acme data"
        );
    }
    // Naming acme explicitly is refused for everything but a super admin.
    for uri in [
        "/campaigns?tenant=acme",
        "/templates/critical?tenant=acme",
        "/stats?tenant=acme",
        "/audit?tenant=acme",
        "/alerts?tenant=acme",
        "/settings?tenant=acme",
    ] {
        let (s, _) = get(&h, uri, &foreign).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}");
    }
    // Lists only ever show the caller's own tenant.
    let (_, b) = get(&h, "/campaigns", &foreign).await;
    assert!(b["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["tenant_id"] == "globex"));
    assert_eq!(
        h.store
            .campaign("acme", "c-acme-2")
            .await
            .unwrap()
            .unwrap()
            .status,
        "ACTIVE",
        "no foreign write landed"
    );

    let root = token("globex", "super_admin");
    let (s, b) = get(&h, "/campaigns?tenant=acme", &root).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!b["items"].as_array().unwrap().is_empty());
    let (s, _) = get(&h, "/unrouted", &root).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = get(&h, "/unrouted", &foreign).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(
        &h,
        request(
            "PUT",
            "/admin/routes/wabas/123",
            Some(&foreign),
            Some(json!({"tenant_id": "globex"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(
        &h,
        request(
            "PUT",
            "/admin/routes/wabas/123",
            Some(&root),
            Some(json!({"tenant_id": "globex"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn expired_unsigned_foreign_issuer_and_audience_tokens_are_401() {
    let h = harness().await;
    let mut expired = claims("acme", "viewer");
    expired["exp"] = json!(now() - 60);
    let mut issuer = claims("acme", "viewer");
    issuer["iss"] = json!("https://evil.test");
    let mut audience = claims("acme", "viewer");
    audience["aud"] = json!("another-app");
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims("acme", "super_admin"))
    );
    let wrong_key = encode(
        &Header::new(Algorithm::HS256),
        &claims("acme", "viewer"),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    let unknown_kid = rs256(&claims("acme", "viewer"), "rotated-away");
    for (name, t) in [
        ("expired", hs256(&expired)),
        ("wrong issuer", hs256(&issuer)),
        ("wrong audience", hs256(&audience)),
        ("alg none", none),
        ("wrong key", wrong_key),
        ("unknown kid", unknown_kid),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let (s, b, ct) = call(&h, request("GET", "/campaigns", Some(&t), None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            (ct.as_str(), b["code"].as_str()),
            ("application/problem+json", Some("unauthorized")),
            "{name}"
        );
        assert!(!b.to_string().contains("InvalidSignature"), "no internals");
    }
    let (s, _, _) = call(&h, request("GET", "/campaigns", None, None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A token signed with the JWKS key is accepted.
    let (s, _) = get(
        &h,
        "/campaigns",
        &rs256(&claims("acme", "viewer"), "test-key-1"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn pagination_round_trips_and_cursors_cannot_cross_tenants_or_be_forged() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    let mut seen = Vec::new();
    let mut uri = "/campaigns/c-acme-1/messages?limit=1".to_owned();
    loop {
        let (s, b) = get(&h, &uri, &viewer).await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["wamid"].as_str().unwrap().to_owned()),
        );
        match b["next_cursor"].as_str() {
            Some(c) => uri = format!("/campaigns/c-acme-1/messages?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "every message once");
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 4);

    let (_, b) = get(&h, "/campaigns?limit=1", &viewer).await;
    let cursor_of_first_page = b["next_cursor"].as_str().unwrap().to_owned();
    // Another tenant, another list, or a changed cursor: 400, never data.
    let foreign = token("globex", "viewer");
    let (s, b) = get(
        &h,
        &format!("/campaigns?limit=1&cursor={cursor_of_first_page}"),
        &foreign,
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
    let (s, _) = get(
        &h,
        &format!("/templates?limit=1&cursor={cursor_of_first_page}"),
        &viewer,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = get(
        &h,
        &format!("/campaigns?limit=1&status=ACTIVE&cursor={cursor_of_first_page}"),
        &viewer,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a cursor continues only the list (and filters) it came from"
    );
    let mut forged = cursor_of_first_page.clone();
    forged.replace_range(0..2, "ey");
    let (s, _) = get(&h, &format!("/campaigns?limit=1&cursor=x{forged}"), &viewer).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_input_is_400_problem_json_with_a_stable_code() {
    let h = harness().await;
    let admin = token("acme", "org_admin");
    for (method, uri, body, code) in [
        ("GET", "/campaigns?limit=0", None, "invalid_limit"),
        ("GET", "/campaigns?limit=abc", None, "invalid_limit"),
        (
            "GET",
            "/templates/not-a-number",
            None,
            "invalid_template_id",
        ),
        (
            "GET",
            "/campaigns/c-acme-1/messages?status=teleported",
            None,
            "invalid_status",
        ),
        ("GET", "/stats?from=10&to=5", None, "invalid_range"),
        (
            "POST",
            "/campaigns",
            Some(json!({"campaign_id": "bad id!", "template_id": "1", "phone_number_id": PHONE})),
            "invalid_campaign_id",
        ),
        (
            "POST",
            "/campaigns",
            Some(json!({"unexpected": true})),
            "invalid_body",
        ),
        ("POST", "/messages", Some(json!([])), "invalid_batch"),
        (
            "POST",
            "/messages",
            Some(json!({"wamid": "nope", "campaign_id": "c-acme-1"})),
            "invalid_wamid",
        ),
        (
            "PUT",
            "/settings",
            Some(json!({"auto_resume": "yes"})),
            "invalid_body",
        ),
    ] {
        let (s, b, ct) = call(&h, request(method, uri, Some(&admin), body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {uri}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(b["code"], code, "{method} {uri}");
        assert_eq!(b["status"], 400);
        assert!(b["request_id"].is_string());
    }
    // Routing ids (found by schemathesis against the deployed API): empty or non-digit numbers.
    let root = token("acme", "super_admin");
    for (uri, body) in [
        (
            "/admin/routes/phone-numbers/106540352242922",
            json!({"tenant_id": "acme", "waba_id": "102290129340398", "display_phone_number": ""}),
        ),
        (
            "/admin/routes/phone-numbers/106540352242922",
            json!({"tenant_id": "acme", "waba_id": ""}),
        ),
        (
            "/admin/routes/wabas/123456789012345678901",
            json!({"tenant_id": "acme"}),
        ),
    ] {
        let (s, b, _) = call(&h, request("PUT", uri, Some(&root), Some(body.clone()))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "PUT {uri} {body}");
        assert_eq!(b["code"], "invalid_route");
    }
    let (s, _, _) = call(&h, request("DELETE", "/campaigns", Some(&admin), None)).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, _, _) = call(&h, request("GET", "/nothing-here", Some(&admin), None)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
