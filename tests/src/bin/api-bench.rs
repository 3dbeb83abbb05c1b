//! API latency and DynamoDB requests per call against the local endpoint (`make bench-api`):
//! a tenant with 200 templates and a campaign of 10 000 messages, the main queries called
//! through the real handler. moto (Python) dominates absolute times: compare endpoints with each
//! other and read the request counts, not the milliseconds, as what Lambda would see.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lambda_http::{Body, RequestExt};
use pipeline_tests::faults::{FaultProxy, ThrottleRule};
use shared::auth::AuthConfig;
use shared::config::ApiConfig;
use shared::store::{keys, n, s, Item, NewCampaign, NewTemplate, PhoneRoute, Store};
use std::collections::HashMap;
use std::time::Instant;

const TENANT: &str = "bench";
const PHONE: &str = "300000000000001";
const TEMPLATES: u64 = 200;
const MESSAGES: usize = 10_000;
const CALLS: usize = 50;

async fn load(ddb: &aws_sdk_dynamodb::Client, table: &str, store: &Store) {
    store
        .put_phone_route(
            PHONE,
            &PhoneRoute {
                tenant_id: TENANT.into(),
                waba_id: "300000000000000".into(),
                display_phone_number: Some("15550009999".into()),
            },
        )
        .await
        .unwrap();
    for i in 0..TEMPLATES {
        let (status, quality) = match i % 20 {
            0 => ("PAUSED", "RED"),
            1 => ("REJECTED", "UNKNOWN"),
            2 => ("APPROVED", "YELLOW"),
            _ => ("APPROVED", "GREEN"),
        };
        store
            .create_template(
                TENANT,
                &NewTemplate {
                    template_id: 5_000_000_000 + i,
                    waba_id: Some("300000000000000".into()),
                    name: format!("template_{i}"),
                    language: "en_US".into(),
                    category: "MARKETING".into(),
                    status: status.into(),
                    quality: quality.into(),
                },
            )
            .await
            .unwrap();
    }
    store
        .create_campaign(
            TENANT,
            &NewCampaign {
                campaign_id: "big".into(),
                name: None,
                template_id: 5_000_000_003,
                phone_number_id: PHONE.into(),
                waba_id: Some("300000000000000".into()),
                status: "ACTIVE".into(),
            },
        )
        .await
        .unwrap();
    // Bulk-load the messages as registration leaves them (BatchWriteItem: this is test data).
    let statuses = ["sent", "delivered", "read", "failed"];
    let items: Vec<Item> = (0..MESSAGES)
        .map(|i| {
            let wamid = format!("wamid.big-{i:05}");
            let mut item: Item = HashMap::new();
            item.insert("pk".into(), s(keys::message(TENANT, &wamid)));
            item.insert("sk".into(), s(keys::MESSAGE_SK));
            item.insert("gsi1pk".into(), s(keys::campaign_messages(TENANT, "big")));
            item.insert("gsi1sk".into(), s(format!("MESSAGE#{wamid}")));
            item.insert("entity".into(), s("message"));
            item.insert("wamid".into(), s(&wamid));
            item.insert("campaign_id".into(), s("big"));
            item.insert("delivery".into(), s(statuses[i % 4]));
            item.insert("version".into(), n(1));
            item
        })
        .collect();
    for chunk in items.chunks(25) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|i| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(i.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        ddb.batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let aws = pipeline_tests::local_aws().await;
    let plain = aws_sdk_dynamodb::Client::new(&aws);
    let table = pipeline_tests::create_test_table(&plain).await;
    let store = Store::new(plain.clone(), &table);
    let started = Instant::now();
    load(&plain, &table, &store).await;
    eprintln!(
        "loaded {TEMPLATES} templates and {MESSAGES} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let proxy = FaultProxy::start(
        &std::env::var("AWS_ENDPOINT_URL").unwrap(),
        ThrottleRule {
            operations: vec![],
            marker: String::new(),
        },
    )
    .await;
    let counted = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&aws)
            .endpoint_url(&proxy.endpoint)
            .build(),
    );
    let config = ApiConfig {
        table_name: table,
        auth: AuthConfig {
            issuer: "https://bench".into(),
            audience: "bench".into(),
            hs256_secret: Some("bench-secret".into()),
            tenant_claim: "org_id".into(),
            role_claim: "role".into(),
            leeway_seconds: 0,
        },
        jwks_url: None,
        jwks_json: None,
        cursor_secret: "bench-cursor".into(),
        sse_url: None,
        websocket_url: None,
        websocket_token_in: "subprotocol".to_owned(),
        sign_in: None,
        graph: shared::graph::GraphConfig::default(),
        tenant_secrets_prefix: "tests/tenants".into(),
        slack: shared::notify::SlackPolicy::default(),
    };
    let secretsmanager = aws_sdk_secretsmanager::Client::new(&aws);
    let api = api::Api::build(&config, counted, secretsmanager)
        .await
        .expect("the API builds");
    let now = shared::store::now();
    let claims = serde_json::json!({"sub": "bench", "iss": "https://bench", "aud": "bench", "exp": now + 3600, "org_id": TENANT, "role": "viewer"});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"bench-secret"),
    )
    .unwrap();

    println!("| endpoint | p50 ms | p99 ms | DynamoDB requests per call |");
    println!("|---|---:|---:|---|");
    let endpoints = [
        "/templates/critical",
        "/templates/quality-summary",
        "/templates?limit=50&quality=GREEN",
        "/campaigns?limit=50",
        "/campaigns/big",
        "/campaigns/big/messages?limit=50",
        "/campaigns/big/messages?limit=50&status=failed",
        "/numbers/300000000000001/templates/5000000000/status-history",
        "/stats",
    ];
    for uri in endpoints {
        proxy.requests.lock().unwrap().clear();
        let mut times = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let mut builder = lambda_http::http::Request::builder().method("GET").uri(uri);
            builder = builder.header("authorization", format!("Bearer {token}"));
            let query: HashMap<String, String> = uri
                .split_once('?')
                .map(|(_, q)| {
                    q.split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let request = builder
                .body(Body::Empty)
                .unwrap()
                .with_query_string_parameters(query);
            let t = Instant::now();
            let response = api::handle(&api, request).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(response.status(), 200, "{uri}");
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let requests = proxy.requests.lock().unwrap().clone();
        let per_call: Vec<String> = requests
            .iter()
            .map(|(op, c)| format!("{op} {:.0}", *c as f64 / CALLS as f64))
            .collect();
        println!(
            "| `GET {uri}` | {:.1} | {:.1} | {} |",
            times[CALLS / 2],
            times[(CALLS * 99 / 100).min(CALLS - 1)],
            per_call.join(", ")
        );
    }
}
