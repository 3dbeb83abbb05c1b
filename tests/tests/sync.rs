//! The template sync against a local fake of Meta's Graph API (real HTTP, paging with
//! `paging.cursors.after`, a 429, a 500, an expired token, a body that is not JSON), writing to
//! the deployed table, with the tenant's token in the local Secrets Manager.

use pipeline_tests::deployed::store;
use pipeline_tests::http_stub::{HttpStub, StubRequest, StubResponse};
use pipeline_tests::local_aws;
use serde_json::json;
use shared::domain::template::{Aspect, TemplateUpdate};
use shared::graph::{GraphClient, GraphConfig, GraphError, GraphQualityScore, GraphTemplate};
use shared::secrets::{TenantSecret, TenantSecrets};
use shared::store::{NewCampaign, NewTemplate, Store};
use shared::sync::{SyncError, TemplateSync, WabaSync};
use std::time::Duration;

/// 2^53 + 1: a JavaScript number cannot hold it, a u64 can.
const BEYOND_2_53: u64 = 9_007_199_254_740_993;
const PAUSED_AT_META: u64 = 1_500_000_000_000_001;
const REJECTED_AT_META: u64 = 1_500_000_000_000_002;
const TOKEN: &str = "system-user-token-for-tests";

struct Tenant {
    store: Store,
    sync: TemplateSync,
    secrets: TenantSecrets,
    tenant_id: String,
    waba_id: String,
}

async fn tenant(graph_url: &str) -> Tenant {
    let aws = local_aws().await;
    let store = store().await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tenant_id = format!("sync-{}", &run[..12]);
    let waba_id = format!(
        "9{}",
        &run.chars().filter(char::is_ascii_digit).collect::<String>()[..6]
    );
    store.put_waba_route(&waba_id, &tenant_id).await.unwrap();
    let secrets = TenantSecrets::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        format!("tests-{}/tenants", &run[..8]),
    );
    let graph = GraphClient::new(GraphConfig {
        base_url: graph_url.to_owned(),
        version: "v23.0".into(),
        timeout: Duration::from_secs(3),
        max_attempts: 3,
        backoff: Duration::from_millis(10),
    })
    .unwrap();
    Tenant {
        sync: TemplateSync::new(store.clone(), graph, secrets.clone()),
        store,
        secrets,
        tenant_id,
        waba_id,
    }
}

fn template(
    id: &str,
    name: &str,
    status: &str,
    quality: &str,
    category: &str,
) -> serde_json::Value {
    json!({"id": id, "name": name, "language": "pt_BR", "status": status, "category": category,
           "quality_score": {"score": quality, "date": 1_764_000_000}, "rejected_reason": "NONE"})
}

/// The WABA's phone numbers, as Meta's phone_numbers edge lists them.
fn phone_numbers() -> StubResponse {
    StubResponse::json(
        200,
        json!({"data": [
            {"id": "106540352242922", "display_phone_number": "+1 555-000-1111",
             "quality_rating": "YELLOW", "messaging_limit_tier": "TIER_10K",
             "throughput": {"level": "STANDARD"}, "name_status": "APPROVED"},
            {"id": "106540352242923", "display_phone_number": "+1 555-000-1112",
             "quality_rating": "GREEN", "messaging_limit_tier": "TIER_1K",
             "throughput": {"level": "HIGH"}, "name_status": "APPROVED"},
            {"id": "not-an-id", "quality_rating": "GREEN"}
        ]}),
    )
}

/// Two pages; the first answers 429 (Meta's WABA rate-limit code) once, the second 500 once.
fn meta(request: &StubRequest, _: usize, calls: &std::sync::atomic::AtomicUsize) -> StubResponse {
    if request.target.contains("/phone_numbers?") {
        return phone_numbers();
    }
    let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    match (request.query("after").as_deref(), n) {
        (None, 0) => StubResponse::json(
            429,
            json!({"error": {"message": "(#80008) There have been too many calls to this WhatsApp Business account", "type": "OAuthException", "code": 80008, "fbtrace_id": "A1"}}),
        ),
        (None, _) => StubResponse::json(
            200,
            json!({
                "data": [
                    template(&BEYOND_2_53.to_string(), "promoção_verão_☀️", "APPROVED", "GREEN", "MARKETING"),
                    template("not-a-number", "broken", "APPROVED", "GREEN", "UTILITY"),
                ],
                "paging": {"cursors": {"before": "QVFIUm", "after": "QVFI+a/b="},
                           "next": "https://graph.facebook.com/v23.0/x/message_templates?after=QVFI"}
            }),
        ),
        (Some("QVFI%2Ba%2Fb%3D"), 2) => StubResponse::json(
            500,
            json!({"error": {"message": "An unknown error occurred", "code": 1}}),
        ),
        (Some("QVFI%2Ba%2Fb%3D"), _) => StubResponse::json(
            200,
            json!({
                "data": [
                    template(&PAUSED_AT_META.to_string(), "order_update", "PAUSED", "RED", "UTILITY"),
                    {"id": REJECTED_AT_META.to_string(), "name": "promo", "language": "en_US",
                     "status": "REJECTED", "category": "MARKETING", "rejected_reason": "INVALID_FORMAT"},
                ],
                "paging": {"cursors": {"before": "QVFJ", "after": "QVFK"}}
            }),
        ),
        (other, _) => StubResponse::json(
            400,
            json!({"error": {"message": format!("unexpected cursor {other:?}"), "code": 100}}),
        ),
    }
}

#[tokio::test]
async fn a_sync_pages_through_meta_retries_429_and_500_and_creates_updates_and_pauses() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let graph = HttpStub::start(move |r, i| meta(r, i, &counter)).await;
    let t = tenant(&graph.url).await;
    t.secrets
        .put(&t.tenant_id, TenantSecret::GraphToken, TOKEN)
        .await
        .unwrap();
    // Known here as APPROVED with an ACTIVE campaign; Meta paused it while we missed the webhook.
    t.store
        .create_template(
            &t.tenant_id,
            &NewTemplate {
                template_id: PAUSED_AT_META,
                waba_id: Some(t.waba_id.clone()),
                name: "order_update".into(),
                language: "pt_BR".into(),
                category: "UTILITY".into(),
                status: "APPROVED".into(),
                quality: "GREEN".into(),
            },
        )
        .await
        .unwrap();
    t.store
        .create_campaign(
            &t.tenant_id,
            &NewCampaign {
                campaign_id: "c-synced".into(),
                name: None,
                template_id: PAUSED_AT_META,
                phone_number_id: "106540352242922".into(),
                waba_id: Some(t.waba_id.clone()),
                status: "ACTIVE".into(),
            },
        )
        .await
        .unwrap();

    let reports = t.sync.sync_tenant(&t.tenant_id).await.unwrap();
    assert_eq!(
        reports,
        vec![WabaSync {
            waba_id: t.waba_id.clone(),
            fetched: 4,
            created: 2,
            updated: 1,
            unchanged: 0,
            skipped: 1,
            kept_newer: 0,
            phone_numbers: 2,
        }]
    );

    // The numbers' health, from the phone_numbers edge.
    let number = t
        .store
        .phone_number(&t.tenant_id, "106540352242922")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (number.quality.as_str(), number.messaging_limit.as_str()),
        ("YELLOW", "TIER_10K")
    );

    // Real HTTP: 429 and 500 each retried once; the token in the header, never in the URL.
    let requests: Vec<_> = graph
        .requests()
        .into_iter()
        .filter(|r| !r.target.contains("/phone_numbers?"))
        .collect();
    assert_eq!(requests.len(), 4);
    for r in &requests {
        assert_eq!(r.method, "GET");
        assert!(r
            .target
            .starts_with(&format!("/v23.0/{}/message_templates?", t.waba_id)));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(!r.target.contains(TOKEN));
        assert_eq!(
            r.query("fields").as_deref(),
            Some("id%2Cname%2Clanguage%2Cstatus%2Ccategory%2Cquality_score%2Crejected_reason")
        );
    }

    // Exact ids beyond 2^53 and Unicode names.
    let big = t
        .store
        .template(&t.tenant_id, BEYOND_2_53)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(big.template_id, BEYOND_2_53);
    assert_eq!(big.name.as_deref(), Some("promoção_verão_☀️"));
    assert_eq!(
        (
            big.status.as_deref(),
            big.quality.as_deref(),
            big.category.as_deref()
        ),
        (Some("APPROVED"), Some("GREEN"), Some("MARKETING"))
    );
    let rejected = t
        .store
        .template(&t.tenant_id, REJECTED_AT_META)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rejected.status.as_deref(), Some("REJECTED"));
    assert_eq!(rejected.quality.as_deref(), Some("UNKNOWN"));

    // The missed pause: status and quality moved, the campaign paused, alerts raised.
    let paused = t
        .store
        .template(&t.tenant_id, PAUSED_AT_META)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (paused.status.as_deref(), paused.quality.as_deref()),
        (Some("PAUSED"), Some("RED"))
    );
    let campaign = t
        .store
        .campaign(&t.tenant_id, "c-synced")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(campaign.status, "PAUSED");
    assert_eq!(
        campaign.holds,
        Some(vec![format!("template:{PAUSED_AT_META}")])
    );
    let kinds: Vec<String> = t
        .store
        .open_alerts(&t.tenant_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert!(kinds.contains(&"template_paused".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"quality_red".to_owned()), "{kinds:?}");

    // Idempotent: nothing changed at Meta, nothing written.
    let again = t.sync.sync_tenant(&t.tenant_id).await.unwrap();
    assert_eq!(
        (
            again[0].created,
            again[0].updated,
            again[0].unchanged,
            again[0].skipped
        ),
        (0, 0, 3, 1)
    );
}

#[tokio::test]
async fn a_sync_never_moves_a_newer_webhook_state_backwards() {
    let graph = HttpStub::start(|_, _| StubResponse::text(500, "unused")).await;
    let t = tenant(&graph.url).await;
    let id = 1_500_000_000_000_777;
    let webhook_time = 2_000_000_000;
    t.store
        .create_template(
            &t.tenant_id,
            &NewTemplate {
                template_id: id,
                waba_id: Some(t.waba_id.clone()),
                name: "n".into(),
                language: "en".into(),
                category: "UTILITY".into(),
                status: "PAUSED".into(),
                quality: "RED".into(),
            },
        )
        .await
        .unwrap();
    // A webhook (entry.time 2_000_000_000) said APPROVED; the listing was taken a second before.
    let update = TemplateUpdate {
        status: Some("APPROVED".into()),
        ..TemplateUpdate::default()
    };
    assert!(t
        .store
        .apply_template_update(&t.tenant_id, id, Aspect::Status, webhook_time, &update)
        .await
        .unwrap());
    let listed = GraphTemplate {
        id: id.to_string(),
        name: "n".into(),
        language: "en".into(),
        status: "PAUSED".into(),
        category: Some("UTILITY".into()),
        quality_score: Some(GraphQualityScore {
            score: "YELLOW".into(),
            date: None,
        }),
        rejected_reason: None,
    };
    let report = t
        .sync
        .apply(&t.tenant_id, &t.waba_id, &[listed], webhook_time - 1)
        .await
        .unwrap();
    assert_eq!((report.updated, report.kept_newer), (1, 1));
    let stored = t.store.template(&t.tenant_id, id).await.unwrap().unwrap();
    // Status stays the webhook's; quality (never set by a webhook) takes the listing's.
    assert_eq!(stored.status.as_deref(), Some("APPROVED"));
    assert_eq!(stored.status_time, Some(webhook_time));
    assert_eq!(stored.quality.as_deref(), Some("YELLOW"));
}

#[tokio::test]
async fn an_expired_token_a_body_that_is_not_json_and_no_token_are_clear_errors() {
    let graph = HttpStub::start(|r, _| {
        if r.header("authorization") == Some("Bearer expired") {
            StubResponse::json(
                400,
                json!({"error": {"message": "Error validating access token: Session has expired on Sunday, 29-Nov-26", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "B2"}}),
            )
        } else {
            StubResponse::text(200, "<html>upstream proxy error</html>")
        }
    })
    .await;
    let t = tenant(&graph.url).await;
    match t.sync.sync_tenant(&t.tenant_id).await {
        Err(SyncError::NoToken(name)) => {
            assert!(name.ends_with(&format!("/{}/graph-token", t.tenant_id)))
        }
        other => panic!("expected NoToken, got {other:?}"),
    }
    t.secrets
        .put(&t.tenant_id, TenantSecret::GraphToken, "expired")
        .await
        .unwrap();
    match t.sync.sync_tenant(&t.tenant_id).await {
        Err(SyncError::Graph(e @ GraphError::TokenRefused(_))) => {
            assert_eq!(e.code(), "graph_token_refused");
            assert!(!e.to_string().contains("expired\""));
        }
        other => panic!("expected TokenRefused, got {other:?}"),
    }
    // The token is rotated; the answer is not JSON: a clear error, not retried, nothing stored.
    t.secrets
        .put(&t.tenant_id, TenantSecret::GraphToken, "rotated")
        .await
        .unwrap();
    match t.sync.sync_tenant(&t.tenant_id).await {
        Err(SyncError::Graph(GraphError::Malformed(_))) => {}
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert_eq!(graph.requests().len(), 2, "neither error is retried");
    let partition = t
        .store
        .partition(&shared::store::keys::tenant(&t.tenant_id))
        .await
        .unwrap();
    assert!(partition.is_empty(), "nothing stored: {partition:?}");
}

#[tokio::test]
async fn the_scheduled_sync_runs_every_routed_tenant_and_one_failure_does_not_stop_the_others() {
    let graph = HttpStub::start(|_, _| {
        StubResponse::json(
            200,
            json!({"data": [template("1600000000000001", "scheduled", "APPROVED", "GREEN", "UTILITY")]}),
        )
    })
    .await;
    let t = tenant(&graph.url).await;
    t.secrets
        .put(&t.tenant_id, TenantSecret::GraphToken, TOKEN)
        .await
        .unwrap();
    // Every other routed tenant in the table (acme, globex, other tests') has no token under
    // this test's prefix: each fails on its own.
    let failed = t.sync.sync_everyone().await.unwrap();
    assert!(failed >= 1, "the world's tenants have no token here");
    let synced = t
        .store
        .template(&t.tenant_id, 1_600_000_000_000_001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(synced.name.as_deref(), Some("scheduled"));
}
