//! The real API function against the local endpoint, over data the processor produced from the
//! fixtures: endpoints, roles, tenant isolation, tokens, pagination, input errors.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt};
use pipeline_tests::counting::StreamCounter;
use pipeline_tests::world::World;
use pipeline_tests::*;
use serde_json::{json, Value};
use shared::auth::AuthConfig;
use shared::config::ApiConfig;
use shared::process::{Processor, QueuedRecord};
use shared::queue::Queue;
use shared::secrets::TenantSecrets;
use shared::store::Store;
use std::collections::HashMap;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "whatsapp-pipeline";
const HS_SECRET: &str = "local-dev-secret";

struct Harness {
    api: api::Api,
    store: Store,
    /// The tenant secrets the API reads and writes (a prefix of this harness's own).
    secrets: TenantSecrets,
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    /// The table's stream folded into counters, as the deployed counters function does.
    counter: StreamCounter,
}

async fn harness() -> Harness {
    harness_with_graph("http://127.0.0.1:9").await
}

/// The harness with the Graph API at `graph_url` (a stub).
async fn harness_with_graph(graph_url: &str) -> Harness {
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
    let counter = StreamCounter::new(&aws, &table, store.clone()).await;
    counter.catch_up().await;
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
        websocket_token_in: "subprotocol".to_owned(),
        sign_in: None,
        graph: shared::graph::GraphConfig {
            base_url: graph_url.into(),
            max_attempts: 2,
            backoff: std::time::Duration::from_millis(10),
            ..shared::graph::GraphConfig::default()
        },
        tenant_secrets_prefix: format!(
            "tests-{}/tenants",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        slack: shared::notify::SlackPolicy {
            allowed_prefixes: vec![
                "https://hooks.slack.com/".into(),
                "http://127.0.0.1:".into(),
            ],
            ..shared::notify::SlackPolicy::default()
        },
    };
    let secretsmanager = aws_sdk_secretsmanager::Client::new(&aws);
    Harness {
        api: api::Api::build(&config, ddb.clone(), secretsmanager.clone())
            .await
            .unwrap(),
        store,
        secrets: TenantSecrets::new(secretsmanager, &config.tenant_secrets_prefix),
        ddb,
        table: config.table_name.clone(),
        counter,
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
        json!({"sent": 2, "delivered": 2, "read": 1, "failed": 1, "replied": 0})
    );
    assert_eq!(b["rates"]["failure"], 0.3333);
    assert_eq!(
        (b["rates"]["reply"].clone(), b["opted_out"].clone()),
        (json!(0.0), json!(0))
    );
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
    h.counter.catch_up().await;
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
        ("GET", "/campaigns/c-acme-1/failures", None),
        ("GET", "/campaigns/c-acme-1/timeline", None),
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
        "/errors?tenant=acme",
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

// ----------------------------------------------------------------- delivery health

#[tokio::test]
async fn failures_are_explained_by_the_catalogue_and_unknown_codes_are_kept() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    let (s, b) = get(&h, "/errors", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let items = b["items"].as_array().unwrap();
    let entry = |code: i64| items.iter().find(|e| e["code"] == code).cloned();
    for code in [130429, 131049, 131050, 132015, 368] {
        let e = entry(code).unwrap_or_else(|| panic!("{code} in the catalogue"));
        assert!(!e["title"].as_str().unwrap().is_empty());
        assert!(!e["action"].as_str().unwrap().is_empty());
    }
    assert_eq!(entry(131049).unwrap()["class"], "engagement");
    assert_eq!(entry(131031).unwrap()["class"], "account");

    campaign_with_counters(
        &h,
        "acme",
        "c-fail",
        SPRING_SALE.parse().unwrap(),
        "ACTIVE",
        (90, 80, 10),
    )
    .await;
    use shared::store::n;
    h.ddb
        .update_item()
        .table_name(&h.table)
        .key("pk", shared::store::s(shared::store::keys::tenant("acme")))
        .key(
            "sk",
            shared::store::s(shared::store::keys::campaign("c-fail")),
        )
        .update_expression("SET error_131049 = :a, error_131026 = :b, error_999001 = :c")
        .expression_attribute_values(":a", n(6))
        .expression_attribute_values(":b", n(3))
        .expression_attribute_values(":c", n(1))
        .send()
        .await
        .unwrap();
    let (s, b) = get(&h, "/campaigns/c-fail/failures", &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["total_failed"], 10);
    let items = b["items"].as_array().unwrap();
    let codes: Vec<i64> = items.iter().map(|i| i["code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [131049, 131026, 999001], "by count, descending");
    assert_eq!(items[0]["count"], 6);
    assert_eq!(items[0]["share"], 0.6);
    assert_eq!(items[0]["class"], "engagement");
    assert!(items[0]["title"]
        .as_str()
        .unwrap()
        .contains("healthy ecosystem engagement"));
    assert_eq!(
        items[2]["class"], "unknown",
        "an unknown code is listed, not dropped"
    );
    assert!(items[2]["title"].as_str().unwrap().contains("999001"));
    let (s, _) = get(&h, "/campaigns/c-missing/failures", &viewer).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dashboard_page_is_revalidated_by_its_etag_and_its_config_names_the_sign_in() {
    let h = harness().await;
    let page = api::handle(&h.api, request("GET", "/dashboard", None, None))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let etag = page.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let Body::Text(html) = page.body() else {
        panic!("the page")
    };
    assert!(
        html.contains("dashboard/app.js"),
        "the page loads its bundle"
    );
    let script = api::handle(&h.api, request("GET", "/dashboard/app.js", None, None))
        .await
        .unwrap();
    let Body::Text(script) = script.body() else {
        panic!("the script")
    };
    assert!(script.contains("code_challenge_method"), "PKCE sign-in");
    assert!(
        !script.contains(r#"get("token")"#),
        "the page takes no token from its address"
    );

    let mut again = request("GET", "/dashboard", None, None);
    again
        .headers_mut()
        .insert("if-none-match", etag.parse().unwrap());
    let unchanged = api::handle(&h.api, again).await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), etag);

    // The bundle beside it: script and styles, each with its ETag.
    for (asset, kind) in [("app.js", "text/javascript"), ("app.css", "text/css")] {
        let uri = format!("/dashboard/{asset}");
        let r = api::handle(&h.api, request("GET", &uri, None, None))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{uri}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        assert!(r.headers().contains_key("etag"));
    }
    let (status, _, _) = call(&h, request("GET", "/dashboard/other.js", None, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the bundle is there");

    // The harness has no Hosted UI configured: the page is told so (null), not given a guess.
    let (status, config, _) = call(&h, request("GET", "/dashboard/config.json", None, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(config["sign_in"].is_null(), "{config}");
}

#[tokio::test]
async fn the_campaign_list_pages_up_to_500_and_other_lists_up_to_100() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    let (status, b) = get(&h, "/campaigns?limit=500", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let (status, b) = get(&h, "/campaigns?limit=501", &viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(b["code"], "invalid_limit");
    let (status, _) = get(&h, "/templates?limit=101", &viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_feed_since_an_id_gives_what_a_client_missed_once_its_ids_have_settled() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    let now_ms = shared::store::now_ms();
    let before = shared::store::feed_id_floor(now_ms - 60_000);
    // Two items a while ago (settled), one just now (not yet: ids wait 3 s).
    let entry = |campaign: &str| shared::store::FeedEntry {
        kind: "campaign_paused",
        summary: json!({"campaign_id": campaign, "cause": "manual"}).to_string(),
    };
    let id = |ms: u64, n: u8| {
        uuid::Builder::from_unix_timestamp_millis(ms, &[n; 10])
            .into_uuid()
            .to_string()
    };
    for (ms, n, campaign) in [
        (now_ms - 30_000, 1, "c-feed-1"),
        (now_ms - 20_000, 2, "c-feed-2"),
        (now_ms, 3, "c-feed-3"),
    ] {
        h.ddb
            .put_item()
            .table_name(&h.table)
            .set_item(Some(entry(campaign).item_with_id(
                "acme",
                id(ms, n),
                ms / 1000,
            )))
            .send()
            .await
            .unwrap();
    }
    let (status, b) = get(&h, &format!("/feed?after={before}"), &viewer).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let campaigns: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["campaign_id"].as_str())
        .filter(|c| c.starts_with("c-feed-"))
        .collect();
    assert_eq!(
        campaigns,
        ["c-feed-1", "c-feed-2"],
        "the unsettled one waits"
    );
    let last = b["last"].as_str().unwrap().to_owned();
    // From `last` on: nothing settled is repeated.
    let (_, b) = get(&h, &format!("/feed?after={last}&limit=1"), &viewer).await;
    assert!(b["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| !m["campaign_id"]
            .as_str()
            .unwrap_or("")
            .starts_with("c-feed-1")));
    // Another tenant's feed is its own.
    let (_, b) = get(
        &h,
        &format!("/feed?after={before}"),
        &token("globex", "viewer"),
    )
    .await;
    assert!(!b.to_string().contains("c-feed-"), "{b}");
    for uri in [
        "/feed",
        "/feed?after=nope",
        &format!("/feed?after={before}&limit=0"),
    ] {
        let (status, _) = get(&h, uri, &viewer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
    }
}

#[tokio::test]
async fn a_campaigns_timeline_is_served_zero_filled_and_summed_into_wider_buckets() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    campaign_with_counters(
        &h,
        "acme",
        "c-timeline",
        SPRING_SALE.parse().unwrap(),
        "ACTIVE",
        (3, 2, 1),
    )
    .await;
    // Two 5-minute buckets as the counters fold writes them.
    use shared::store::{keys, n, s};
    for (start, sent, read) in [(1_800_000_000u64, 2, 0), (1_800_000_300, 1, 1)] {
        h.ddb
            .update_item()
            .table_name(&h.table)
            .key("pk", s(keys::campaign_timeline("acme", "c-timeline")))
            .key("sk", s(keys::timeline_bucket(start)))
            .update_expression("SET entity = :e, #start = :start ADD sent :sent, #read :read")
            .expression_attribute_names("#start", "start")
            .expression_attribute_names("#read", "read")
            .expression_attribute_values(":e", s("timeline"))
            .expression_attribute_values(":start", n(start))
            .expression_attribute_values(":sent", n(sent))
            .expression_attribute_values(":read", n(read))
            .send()
            .await
            .unwrap();
    }
    let uri = "/campaigns/c-timeline/timeline?from=1799999700&to=1800000600";
    let (status, b) = get(&h, uri, &viewer).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["bucket"], 300);
    let points: Vec<(i64, i64, i64)> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_i64().unwrap(),
                p["sent"].as_i64().unwrap(),
                p["read"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        points,
        [
            (1_799_999_700, 0, 0),
            (1_800_000_000, 2, 0),
            (1_800_000_300, 1, 1),
            (1_800_000_600, 0, 0)
        ]
    );
    let wide = "/campaigns/c-timeline/timeline?from=1799996400&to=1800000000&bucket=3600";
    let (status, b) = get(&h, wide, &viewer).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["items"][1]["start"], 1_800_000_000u64);
    assert_eq!(b["items"][1]["sent"], 3);
    assert_eq!(b["items"][1]["delivered"], 0);

    for (uri, code) in [
        (
            "/campaigns/c-timeline/timeline?bucket=301",
            "invalid_bucket",
        ),
        (
            "/campaigns/c-timeline/timeline?from=10&to=5",
            "invalid_range",
        ),
        (
            "/campaigns/c-timeline/timeline?from=0&to=1800000000",
            "range_too_large",
        ),
    ] {
        let (status, b) = get(&h, uri, &viewer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(b["code"], code, "{uri}");
    }
    // No range: the day up to the campaign's latest bucket, however long ago it ran.
    let (status, b) = get(&h, "/campaigns/c-timeline/timeline", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 289);
    assert_eq!(items[288]["start"], 1_800_000_300u64);
    assert_eq!(items[288]["read"], 1);
    let (status, _) = get(&h, "/campaigns/c-missing/timeline", &viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_overview_sums_the_last_24_hours_and_7_days_beside_the_periods_before() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    let to: u64 = 1_800_000_000;
    const DAY: u64 = 86_400;
    campaign_with_counters(
        &h,
        "acme",
        "c-overview",
        SPRING_SALE.parse().unwrap(),
        "ACTIVE",
        (9, 9, 0),
    )
    .await;
    use shared::store::{keys, n, s};
    // The fold marks the campaigns it counts (`counted_at`); the overview reads their timelines.
    h.ddb
        .update_item()
        .table_name(&h.table)
        .key("pk", s(keys::tenant("acme")))
        .key("sk", s(keys::campaign("c-overview")))
        .update_expression("SET counted_at = :t")
        .expression_attribute_values(":t", n(to))
        .send()
        .await
        .unwrap();
    for (start, sent, delivered) in [
        (to - 300, 4, 3),          // the last 24 h
        (to - DAY - 300, 2, 2),    // the 24 h before; within the last 7 d
        (to - 3 * DAY, 1, 0),      // the last 7 d
        (to - 8 * DAY, 5, 5),      // the 7 d before
        (to - 20 * DAY, 100, 100), // older: not read
    ] {
        h.ddb
            .update_item()
            .table_name(&h.table)
            .key("pk", s(keys::campaign_timeline("acme", "c-overview")))
            .key("sk", s(keys::timeline_bucket(start)))
            .update_expression("SET entity = :e, #start = :start ADD sent :sent, delivered :d")
            .expression_attribute_names("#start", "start")
            .expression_attribute_values(":e", s("timeline"))
            .expression_attribute_values(":start", n(start))
            .expression_attribute_values(":sent", n(sent))
            .expression_attribute_values(":d", n(delivered))
            .send()
            .await
            .unwrap();
    }
    let (status, b) = get(&h, &format!("/overview?to={to}"), &viewer).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["to"], to);
    assert_eq!(b["last_24h"]["current"]["sent"], 4);
    assert_eq!(b["last_24h"]["current"]["delivered"], 3);
    assert_eq!(b["last_24h"]["previous"]["sent"], 2);
    assert_eq!(b["last_7d"]["current"]["sent"], 7);
    assert_eq!(b["last_7d"]["previous"]["sent"], 5);
    assert_eq!(b["last_7d"]["previous"]["delivered"], 5);
    assert_eq!(
        b["campaigns_read"], 1,
        "only campaigns counted in the last 14 days"
    );
    assert!(b["campaigns_by_status"]["ACTIVE"].as_u64().unwrap() >= 1);
    // Another tenant sees none of it.
    let (_, b) = get(
        &h,
        &format!("/overview?to={to}"),
        &token("globex", "viewer"),
    )
    .await;
    assert_eq!(b["last_7d"]["current"]["sent"], 0);
    let (status, b) = get(&h, "/overview?to=soon", &viewer).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
}

#[tokio::test]
async fn an_alert_is_acknowledged_by_its_id_by_an_operator_and_audited() {
    let h = harness().await;
    let (viewer, admin) = (token("acme", "viewer"), token("acme", "org_admin"));
    let (_, b) = get(&h, "/alerts", &viewer).await;
    let alert = b["items"][0].clone();
    let id = alert["alert_id"]
        .as_str()
        .expect("the fixtures raise alerts")
        .to_owned();
    let uri = format!("/alerts/{id}/acknowledge");
    let (status, b) = post(&h, &uri, &viewer, None).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = post(&h, &uri, &token("globex", "org_admin"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's alert");
    let (status, b) = post(&h, &uri, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert!(b["acknowledged"].as_u64().unwrap() >= 1);
    let (_, b) = get(&h, "/alerts", &viewer).await;
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["subject"] != alert["subject"]),
        "the subject's alerts are closed"
    );
    let (status, _) = post(&h, &uri, &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer open");
    let (_, b) = get(&h, "/audit", &viewer).await;
    assert_eq!(b["items"][0]["action"], "alert_acknowledged");
    assert_eq!(b["items"][0]["subject"], alert["subject"]);
}

#[tokio::test]
async fn retention_days_is_validated_and_sets_the_expiry_of_messages_registered_after_it() {
    let h = harness().await;
    let admin = token("acme", "org_admin");
    let (_, b) = get(&h, "/settings", &admin).await;
    assert_eq!(b["retention_days"], 180, "the default");
    for bad in [json!(6), json!(3651), json!("30"), json!(-1), json!(30.5)] {
        let (status, b, _) = call(
            &h,
            request(
                "PUT",
                "/settings",
                Some(&admin),
                Some(json!({ "retention_days": bad })),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(b["code"], "invalid_retention_days", "{bad}");
        assert!(b["detail"].as_str().unwrap().contains("retention_days"));
    }
    let (status, b, _) = call(
        &h,
        request(
            "PUT",
            "/settings",
            Some(&admin),
            Some(json!({ "retention_days": 30 })),
        ),
    )
    .await;
    assert_eq!(
        (status, b["retention_days"].as_u64()),
        (StatusCode::OK, Some(30))
    );
    let (status, _) = post(
        &h,
        "/messages",
        &admin,
        Some(json!({"wamid": "wamid.retained-1", "campaign_id": "c-acme-2", "recipient_id": "15559990009"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let item = h
        .store
        .get(
            &shared::store::keys::message("acme", "wamid.retained-1"),
            shared::store::keys::MESSAGE_SK,
        )
        .await
        .unwrap()
        .unwrap();
    let expires = shared::store::queries::number(&item, "expires_at").unwrap();
    let want = now() + 30 * 86_400;
    assert!(
        (want - 5..=want + 5).contains(&expires),
        "{expires} vs {want}"
    );
    // Another tenant keeps the default.
    let (_, b) = get(&h, "/settings", &token("globex", "org_admin")).await;
    assert_eq!(b["retention_days"], 180);
}

#[tokio::test]
async fn a_campaign_whose_messages_expired_says_so_and_keeps_its_counters() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    campaign_with_counters(
        &h,
        "acme",
        "c-expired",
        SPRING_SALE.parse().unwrap(),
        "COMPLETED",
        (5, 4, 1),
    )
    .await;
    let (status, b) = get(&h, "/campaigns/c-expired/messages", &viewer).await;
    assert_eq!(status, StatusCode::GONE, "{b}");
    assert_eq!(b["code"], "messages_expired");
    assert!(b["detail"].as_str().unwrap().contains("retention_days"));
    let (status, b) = get(&h, "/campaigns/c-expired", &viewer).await;
    assert_eq!(
        (status, b["reached"]["sent"].as_i64()),
        (StatusCode::OK, Some(5))
    );
    // A campaign with no message yet is an empty page, not gone.
    let (status, _) = post(
        &h,
        "/campaigns",
        &token("acme", "org_admin"),
        Some(json!({
        "campaign_id": "c-empty", "template_id": SPRING_SALE, "phone_number_id": PHONE})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, b) = get(&h, "/campaigns/c-empty/messages", &viewer).await;
    assert_eq!(
        (status, b["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
}

#[tokio::test]
async fn erasing_a_contact_removes_its_ids_in_every_campaign_of_the_tenant_only() {
    let h = harness().await;
    let (viewer, admin) = (token("acme", "viewer"), token("acme", "org_admin"));
    const CONTACT: &str = "15559990001";
    for (tenant, wamid, campaign) in [
        ("acme", "wamid.erase-a1", "c-acme-1"),
        ("acme", "wamid.erase-a2", "c-acme-2"),
        ("globex", "wamid.erase-g1", "c-globex-1"),
    ] {
        let (status, b) = post(
            &h,
            "/messages",
            &token(tenant, "org_admin"),
            Some(json!({"wamid": wamid, "campaign_id": campaign, "recipient_id": CONTACT})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    h.store
        .extend_window("acme", PHONE, CONTACT, now() as u64)
        .await
        .unwrap();
    h.store
        .record_opt_out(
            "acme",
            PHONE,
            &shared::store::OptOut {
                contact: CONTACT.into(),
                at: now() as u64,
                source: "reply".into(),
                campaign_id: None,
            },
        )
        .await
        .unwrap();
    let opt_out = h
        .store
        .get(&shared::store::keys::opt_outs("acme", PHONE), CONTACT)
        .await
        .unwrap()
        .unwrap();
    let expires = shared::store::queries::number(&opt_out, "expires_at").unwrap();
    assert!(
        (now() + 179 * 86_400..=now() + 181 * 86_400).contains(&expires),
        "an opt-out expires with the retention"
    );
    h.counter.catch_up().await;
    let (_, before) = get(&h, "/campaigns/c-acme-1", &viewer).await;

    let uri = format!("/contacts/{CONTACT}");
    let (status, b, _) = call(&h, request("DELETE", &uri, Some(&viewer), None)).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, b, _) = call(&h, request("DELETE", &uri, Some(&admin), None)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["state"], "done");
    assert_eq!(
        (
            b["messages_erased"].as_u64(),
            b["windows_deleted"].as_u64(),
            b["opt_outs_deleted"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let job = b["job_id"].as_str().unwrap().to_owned();
    assert!(!job.contains(CONTACT));

    let message = |tenant: &'static str, wamid: &'static str| {
        let store = h.store.clone();
        async move {
            store
                .get(
                    &shared::store::keys::message(tenant, wamid),
                    shared::store::keys::MESSAGE_SK,
                )
                .await
                .unwrap()
                .unwrap()
        }
    };
    for wamid in ["wamid.erase-a1", "wamid.erase-a2"] {
        let item = message("acme", wamid).await;
        assert!(!item.contains_key("recipient_id"), "{wamid}");
        assert_eq!(
            item.get("recipient_erased").and_then(|v| v.as_bool().ok()),
            Some(&true)
        );
    }
    let other = message("globex", "wamid.erase-g1").await;
    assert_eq!(
        shared::store::queries::text(&other, "recipient_id").as_deref(),
        Some(CONTACT),
        "another tenant's contact with the same number is untouched"
    );
    assert!(h
        .store
        .window("acme", PHONE, CONTACT)
        .await
        .unwrap()
        .is_none());
    h.counter.catch_up().await;
    let (_, after) = get(&h, "/campaigns/c-acme-1", &viewer).await;
    assert_eq!(before["reached"], after["reached"], "the counts stay");
    assert_eq!(before["registered"], after["registered"]);

    // A later status that names the recipient does not write it back.
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&local_aws().await)).await;
    let processor = Processor::new(
        h.store.clone(),
        Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        4,
    );
    let body = pipeline_tests::deployed::status_body(&[("wamid.erase-a1", "delivered")])
        .replace("15551230001", CONTACT);
    let outcome = processor
        .process(&[QueuedRecord {
            message_id: "late".into(),
            body,
        }])
        .await;
    assert!(outcome.failed.is_empty());
    let item = message("acme", "wamid.erase-a1").await;
    assert!(!item.contains_key("recipient_id"), "erased stays erased");
    assert_eq!(
        shared::store::queries::text(&item, "delivery").as_deref(),
        Some("delivered")
    );

    // Audited by whom, under the pseudonym; idempotent; unknown and malformed contacts.
    let (_, audit) = get(&h, "/audit", &viewer).await;
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "contact_erased")
        .expect("audited")
        .clone();
    assert_eq!(entry["actor"], "org_admin@acme");
    assert_eq!(entry["subject"], format!("contact:{job}"));
    assert!(!entry.to_string().contains(CONTACT));
    let (status, b, _) = call(&h, request("DELETE", &uri, Some(&admin), None)).await;
    assert_eq!(
        (status, b["messages_erased"].as_u64()),
        (StatusCode::ACCEPTED, Some(0))
    );
    let (status, b, _) = call(
        &h,
        request("DELETE", "/contacts/15550000000", Some(&admin), None),
    )
    .await;
    assert_eq!(
        (status, b["state"].as_str(), b["messages_erased"].as_u64()),
        (StatusCode::ACCEPTED, Some("done"), Some(0))
    );
    let (status, b, _) = call(
        &h,
        request("DELETE", "/contacts/not%20a%20contact", Some(&admin), None),
    )
    .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_contact"))
    );
}

#[tokio::test]
async fn circuit_breaker_settings_are_validated_with_the_field_named_and_audited() {
    let h = harness().await;
    let admin = token("acme", "org_admin");
    let (s, b) = get(&h, "/settings", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["circuit_breaker"],
        json!({"enabled": true, "min_failures": 20, "failure_rate": 0.1, "extra_codes": []})
    );
    let put = |body: Value| request("PUT", "/settings", Some(&admin), Some(body));
    for (change, field) in [
        (json!({"min_failures": 0}), "circuit_breaker.min_failures"),
        (
            json!({"min_failures": 100001}),
            "circuit_breaker.min_failures",
        ),
        (
            json!({"min_failures": "many"}),
            "circuit_breaker.min_failures",
        ),
        (json!({"failure_rate": 1.2}), "circuit_breaker.failure_rate"),
        (
            json!({"failure_rate": -0.1}),
            "circuit_breaker.failure_rate",
        ),
        (json!({"enabled": "yes"}), "circuit_breaker.enabled"),
        (
            json!({"extra_codes": [131026, "x"]}),
            "circuit_breaker.extra_codes",
        ),
    ] {
        let (s, b, _) = call(&h, put(json!({ "circuit_breaker": change }))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{change}");
        assert!(b.to_string().contains(field), "{change}: {b}");
    }
    let change = json!({"circuit_breaker": {"min_failures": 50, "failure_rate": 0.25, "extra_codes": [131026, 131026]}});
    let (s, b, _) = call(&h, put(change)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["circuit_breaker"],
        json!({"enabled": true, "min_failures": 50, "failure_rate": 0.25, "extra_codes": [131026]})
    );
    let stored = h.store.breaker_settings("acme").await.unwrap();
    assert_eq!(
        (stored.min_failures, stored.extra_codes),
        (50, vec![131026])
    );
    let (_, audit) = get(&h, "/audit", &admin).await;
    assert!(audit.to_string().contains("circuit_breaker_min_failures"));
    // A viewer cannot change it.
    let viewer = token("acme", "viewer");
    let off = json!({"circuit_breaker": {"enabled": false}});
    let (s, _, _) = call(&h, request("PUT", "/settings", Some(&viewer), Some(off))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(h.store.breaker_settings("acme").await.unwrap().enabled);
}

/// A campaign with exactly these counters.
async fn campaign_with_counters(
    h: &Harness,
    tenant: &str,
    id: &str,
    template_id: u64,
    status: &str,
    (sent, delivered, failed): (i64, i64, i64),
) {
    use shared::store::{n, NewCampaign};
    assert!(h
        .store
        .create_campaign(
            tenant,
            &NewCampaign {
                campaign_id: id.into(),
                name: None,
                template_id,
                phone_number_id: "1".into(),
                waba_id: None,
                status: status.into(),
            },
        )
        .await
        .unwrap());
    // Counters as the processor would have left them.
    h.ddb
        .update_item()
        .table_name(&h.table)
        .key("pk", shared::store::s(shared::store::keys::tenant(tenant)))
        .key("sk", shared::store::s(shared::store::keys::campaign(id)))
        .update_expression(
            "SET reached_sent = :s, reached_delivered = :d, reached_failed = :f, registered = :r",
        )
        .expression_attribute_values(":s", n(sent))
        .expression_attribute_values(":d", n(delivered))
        .expression_attribute_values(":f", n(failed))
        .expression_attribute_values(":r", n(sent + failed))
        .send()
        .await
        .unwrap();
}

async fn template_in(
    h: &Harness,
    tenant: &str,
    id: u64,
    status: &str,
    quality: &str,
    reason: Option<&str>,
) {
    use shared::domain::template::{Aspect, TemplateUpdate};
    use shared::store::NewTemplate;
    h.store
        .create_template(
            tenant,
            &NewTemplate {
                template_id: id,
                waba_id: None,
                name: format!("t{id}"),
                language: "en_US".into(),
                category: "MARKETING".into(),
                status: status.into(),
                quality: quality.into(),
            },
        )
        .await
        .unwrap();
    if let Some(reason) = reason {
        let update = TemplateUpdate {
            status: Some(status.into()),
            reason: Some(reason.into()),
            ..TemplateUpdate::default()
        };
        h.store
            .apply_template_update(tenant, id, Aspect::Status, 1, &update)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn critical_templates_and_the_quality_summary_report_delivery_health_exactly() {
    let h = harness().await;
    let tenant = "health-co";
    template_in(&h, tenant, 1, "REJECTED", "GREEN", Some("INVALID_FORMAT")).await;
    template_in(&h, tenant, 2, "APPROVED", "RED", None).await;
    template_in(&h, tenant, 3, "APPROVED", "GREEN", None).await;
    campaign_with_counters(&h, tenant, "c1", 1, "ACTIVE", (80, 60, 20)).await;
    campaign_with_counters(&h, tenant, "c2", 1, "COMPLETED", (10, 10, 0)).await;
    campaign_with_counters(&h, tenant, "c3", 2, "PAUSED", (9, 9, 1)).await;
    campaign_with_counters(&h, tenant, "c4", 3, "ACTIVE", (0, 0, 0)).await;
    let viewer = token(tenant, "viewer");

    let (s, b) = get(&h, "/templates/critical", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let items = b["items"].as_array().unwrap();
    let by_id = |id: &str| {
        items
            .iter()
            .find(|t| t["template_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(items.len(), 2);
    let rejected = by_id("1");
    assert_eq!(rejected["messages_sent"], 110);
    assert_eq!(rejected["messages_failed"], 20);
    assert_eq!(rejected["failure_rate"], 0.1818);
    assert_eq!(rejected["campaigns_affected"], 1, "c2 is completed");
    assert_eq!(
        rejected["action_required"],
        "Edit the template and resubmit: rejected as INVALID_FORMAT"
    );
    let red = by_id("2");
    assert_eq!(
        (
            red["messages_sent"].clone(),
            red["messages_failed"].clone(),
            red["failure_rate"].clone(),
            red["campaigns_affected"].clone()
        ),
        (json!(10), json!(1), json!(0.1), json!(1))
    );
    assert_eq!(
        red["action_required"],
        "Quality RED: reduce sending before Meta pauses it"
    );

    let (s, b) = get(&h, "/templates/quality-summary", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["total"], 3);
    assert_eq!(b["total_messages_sent"], 120);
    assert_eq!(b["total_messages_failed"], 21);
    // Unweighted over templates 1 and 2 (3 sent nothing): (20/110 + 1/10) / 2, (70/110 + 9/10) / 2.
    assert_eq!(b["avg_failure_rate"], 0.1409);
    assert_eq!(b["avg_success_rate"], 0.7682);
}

// ----------------------------------------------------------------- template sync

#[tokio::test]
async fn templates_sync_on_demand_for_admins_and_a_campaign_can_then_use_one() {
    use pipeline_tests::http_stub::{HttpStub, StubResponse};
    let graph = HttpStub::start(|r, _| match r.header("authorization") {
        Some("Bearer good") if r.target.contains("/phone_numbers?") => StubResponse::json(
            200,
            json!({"data": [{"id": "880000000000099", "quality_rating": "GREEN",
                             "messaging_limit_tier": "TIER_1K"}]}),
        ),
        Some("Bearer good") => StubResponse::json(
            200,
            json!({"data": [{"id": "1777000000000001", "name": "bem_vindo_🎉", "language": "pt_BR",
                             "status": "APPROVED", "category": "UTILITY",
                             "quality_score": {"score": "GREEN"}, "rejected_reason": "NONE"}]}),
        ),
        Some("Bearer expired") => StubResponse::json(
            400,
            json!({"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}),
        ),
        _ => StubResponse::text(200, "<html>not json</html>"),
    })
    .await;
    let h = harness_with_graph(&graph.url).await;
    let tenant = "syncer";
    h.store
        .put_waba_route("880000000000001", tenant)
        .await
        .unwrap();
    h.store
        .put_phone_route(
            "880000000000002",
            &shared::store::PhoneRoute {
                tenant_id: tenant.into(),
                waba_id: "880000000000001".into(),
                display_phone_number: Some("15550009999".into()),
            },
        )
        .await
        .unwrap();
    let admin = token(tenant, "org_admin");
    let sync = |t: &str| request("POST", "/templates/sync", Some(t), None);

    let (s, b, _) = call(&h, sync(&token(tenant, "viewer"))).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (s, b, ct) = call(&h, sync(&admin)).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("graph_token_missing"))
    );
    assert_eq!(ct, "application/problem+json");

    for (token_value, status, code) in [
        ("expired", StatusCode::BAD_GATEWAY, "graph_token_refused"),
        ("other", StatusCode::BAD_GATEWAY, "graph_malformed"),
    ] {
        h.secrets
            .put(
                tenant,
                shared::secrets::TenantSecret::GraphToken,
                token_value,
            )
            .await
            .unwrap();
        let (s, b, _) = call(&h, sync(&admin)).await;
        assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{b}");
        assert!(!b.to_string().contains(token_value) || token_value == "other");
    }
    h.secrets
        .put(tenant, shared::secrets::TenantSecret::GraphToken, "good")
        .await
        .unwrap();
    let (s, b, _) = call(&h, sync(&admin)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["wabas"],
        json!([{"waba_id": "880000000000001", "fetched": 1, "created": 1, "updated": 0,
                "unchanged": 0, "skipped": 0, "kept_newer": 0, "phone_numbers": 1}])
    );
    let (s, t) = get(&h, "/templates/1777000000000001", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["name"], "bem_vindo_🎉");
    // The synced template is the tenant's: a campaign can use it.
    let (s, b, _) = call(
        &h,
        request(
            "POST",
            "/campaigns",
            Some(&admin),
            Some(json!({"campaign_id": "c-synced", "template_id": "1777000000000001", "phone_number_id": "880000000000002"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Again: idempotent.
    let (_, b, _) = call(&h, sync(&admin)).await;
    assert_eq!(b["wabas"][0]["unchanged"], 1);
    let (s, _, _) = call(&h, request("GET", "/templates/sync", Some(&admin), None)).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}

// ----------------------------------------------------------------- notification settings

#[tokio::test]
async fn notification_settings_store_the_slack_url_as_a_secret_and_refuse_bad_input() {
    let h = harness().await;
    let tenant = "notifier-co";
    let admin = token(tenant, "org_admin");
    let put = |body: Value| request("PUT", "/settings", Some(&admin), Some(body));

    let (s, b) = get(&h, "/settings", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["notifications"],
        json!({"channels": ["sns"], "min_severity": "warning", "quiet_window_seconds": 600, "slack_configured": false})
    );
    let url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
    let (s, b, _) = call(
        &h,
        put(
            json!({"notifications": {"channels": ["slack", "sns"], "min_severity": "critical",
                                      "quiet_window_seconds": 0, "slack_webhook_url": url}}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["notifications"],
        json!({"channels": ["sns", "slack"], "min_severity": "critical", "quiet_window_seconds": 0, "slack_configured": true})
    );
    assert!(
        !b.to_string().contains("XXXXSECRET"),
        "the URL is never returned"
    );
    let stored = h
        .secrets
        .get(tenant, shared::secrets::TenantSecret::SlackWebhook)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&stored), url);
    // Other settings are left as they are.
    let (_, b, _) = call(&h, put(json!({"auto_resume": true}))).await;
    assert_eq!(
        (
            b["auto_resume"].clone(),
            b["notifications"]["min_severity"].clone()
        ),
        (json!(true), json!("critical"))
    );

    for (body, code) in [
        (
            json!({"notifications": {"slack_webhook_url": "http://hooks.slack.com/services/T/B/x"}}),
            "invalid_slack_webhook_url",
        ),
        (
            json!({"notifications": {"slack_webhook_url": "https://evil.example/hook"}}),
            "invalid_slack_webhook_url",
        ),
        (
            json!({"notifications": {"channels": ["email"]}}),
            "invalid_body",
        ),
        (
            json!({"notifications": {"channels": ["sns"], "pager": true}}),
            "invalid_body",
        ),
        (
            json!({"notifications": {"quiet_window_seconds": 90000}}),
            "invalid_quiet_window",
        ),
        (
            json!({"notifications": {"min_severity": "loud"}}),
            "invalid_body",
        ),
    ] {
        let (s, b, ct) = call(&h, put(body.clone())).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}"
        );
        assert_eq!(ct, "application/problem+json");
    }
    // Nothing of that was stored.
    let (_, b) = get(&h, "/settings", &admin).await;
    assert_eq!(b["notifications"]["channels"], json!(["sns", "slack"]));

    // Removing the URL drops the slack channel; asking for it without a URL is refused.
    let (s, b, _) = call(
        &h,
        put(json!({"notifications": {"slack_webhook_url": null}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["notifications"]["channels"], json!(["sns"]));
    assert_eq!(b["notifications"]["slack_configured"], false);
    assert!(h
        .secrets
        .get(tenant, shared::secrets::TenantSecret::SlackWebhook)
        .await
        .unwrap()
        .is_none());
    let (s, b, _) = call(&h, put(json!({"notifications": {"channels": ["slack"]}}))).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("slack_not_configured"))
    );
    let (s, _, _) = call(
        &h,
        request(
            "PUT",
            "/settings",
            Some(&token(tenant, "viewer")),
            Some(json!({"auto_resume": false})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn replies_opt_outs_and_windows_are_served_to_their_tenant_only() {
    use shared::store::{n, OptOut};
    let h = harness().await;
    let viewer = token("acme", "viewer");
    campaign_with_counters(
        &h,
        "acme",
        "c-reply",
        1407680283588702,
        "ACTIVE",
        (10, 8, 0),
    )
    .await;
    h.ddb
        .update_item()
        .table_name(&h.table)
        .key("pk", shared::store::s(shared::store::keys::tenant("acme")))
        .key(
            "sk",
            shared::store::s(shared::store::keys::campaign("c-reply")),
        )
        .update_expression(
            "SET replied = :r, reply_kind_button = :b, reply_kind_text = :t, #yes = :y, #stop = :s",
        )
        .expression_attribute_names("#yes", "button_YES")
        .expression_attribute_names("#stop", "button_Stop promotions")
        .expression_attribute_values(":r", n(4))
        .expression_attribute_values(":b", n(3))
        .expression_attribute_values(":t", n(1))
        .expression_attribute_values(":y", n(2))
        .expression_attribute_values(":s", n(1))
        .send()
        .await
        .unwrap();
    let (s, b) = get(&h, "/campaigns/c-reply/replies", &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        json!({"replied": 4, "by_kind": {"button": 3, "text": 1},
               "buttons": [{"payload": "YES", "count": 2}, {"payload": "Stop promotions", "count": 1}]})
    );
    let (_, c) = get(&h, "/campaigns/c-reply", &viewer).await;
    assert_eq!(c["reached"]["replied"], 4);
    assert_eq!(c["rates"]["reply"], 0.5);

    let phone = "106540352242922";
    h.store
        .record_opt_out(
            "acme",
            phone,
            &OptOut {
                contact: "15551230004".into(),
                at: 1_732_610_700,
                source: "failure_131050".into(),
                campaign_id: Some("c-reply".into()),
            },
        )
        .await
        .unwrap();
    let (s, b) = get(&h, &format!("/numbers/{phone}/opt-outs"), &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["items"][0]["contact"], "15551230004");
    assert_eq!(b["items"][0]["source"], "failure_131050");

    let now = shared::store::now();
    h.store
        .extend_window("acme", phone, "15551230001", now - 3600)
        .await
        .unwrap();
    let window = format!("/numbers/{phone}/contacts/15551230001/window");
    let (s, b) = get(&h, &window, &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        json!({"open": true, "last_inbound_at": now - 3600, "closes_at": now - 3600 + 86400})
    );
    // An unknown contact: the same shape, closed, nothing revealed.
    let (s, b) = get(
        &h,
        &format!("/numbers/{phone}/contacts/15559999999/window"),
        &viewer,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        json!({"open": false, "last_inbound_at": null, "closes_at": null})
    );
    let (s, _) = get(
        &h,
        &format!("/numbers/{phone}/contacts/bad%20id/window"),
        &viewer,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Another tenant: nothing of acme's.
    let foreign = token("globex", "org_admin");
    let (s, _) = get(&h, "/campaigns/c-reply/replies", &foreign).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, b) = get(&h, &format!("/numbers/{phone}/opt-outs"), &foreign).await;
    assert_eq!(b["items"], json!([]));
    let (_, b) = get(&h, &window, &foreign).await;
    assert_eq!(b["open"], false);
}

#[tokio::test]
async fn numbers_show_quality_limit_and_flag_with_history_to_their_tenant_only() {
    let h = harness().await;
    let viewer = token("acme", "viewer");
    let phone = "106540352242922";
    let change = shared::domain::phone::quality_change(phone, "FLAGGED", Some("TIER_10K"));
    assert!(h
        .store
        .apply_phone_quality("acme", phone, "FLAGGED", &change, 1_732_614_400)
        .await
        .unwrap());
    let (s, b) = get(&h, "/numbers", &viewer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let items = b["items"].as_array().unwrap();
    assert!(items.len() >= 2, "both of acme's numbers: {b}");
    let flagged = items
        .iter()
        .find(|n| n["phone_number_id"] == phone)
        .unwrap();
    assert_eq!(
        flagged,
        &json!({"phone_number_id": phone, "display_phone_number": "15550001111",
                "waba_id": "102290129340398", "quality": "RED", "messaging_limit": "TIER_10K",
                "flagged": true, "updated_at": 1_732_614_400})
    );
    let other = items
        .iter()
        .find(|n| n["phone_number_id"] != phone)
        .unwrap();
    assert_eq!(
        (other["quality"].clone(), other["flagged"].clone()),
        (json!("UNKNOWN"), json!(false))
    );
    let (s, b) = get(&h, &format!("/numbers/{phone}"), &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["flagged"], true);
    let (s, b) = get(&h, &format!("/numbers/{phone}/history"), &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"][0]["event"], "FLAGGED");
    let (s, _) = get(&h, "/numbers/999", &viewer).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let foreign = token("globex", "viewer");
    let (s, _) = get(&h, &format!("/numbers/{phone}"), &foreign).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, b) = get(&h, &format!("/numbers/{phone}/history"), &foreign).await;
    assert_eq!(b["items"], json!([]));
    let (_, b) = get(&h, "/numbers", &foreign).await;
    assert!(b["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["phone_number_id"] != phone));

    // The settings that go with it.
    let admin = token("acme", "org_admin");
    let (s, b, _) = call(
        &h,
        request(
            "PUT",
            "/settings",
            Some(&admin),
            Some(json!({"pause_on_flagged": true, "opt_out_payloads": ["STOP", "Baja"]})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["pause_on_flagged"].clone(), b["opt_out_payloads"].clone()),
        (json!(true), json!(["STOP", "Baja"]))
    );
    assert_eq!(
        h.store.opt_out_payloads("acme").await.unwrap(),
        ["stop", "baja"]
    );
    let (s, _, _) = call(
        &h,
        request(
            "PUT",
            "/settings",
            Some(&admin),
            Some(json!({"opt_out_payloads": [""]})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
