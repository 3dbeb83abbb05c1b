//! The real processor against DynamoDB and SQS on the local endpoint, fed the fixtures of
//! events/meta/ and asserting the effects events/README.md gives for each.

use aws_lambda_events::sqs::SqsEvent;
use pipeline_tests::counting::StreamCounter;
use pipeline_tests::faults::{FaultProxy, ThrottleRule};
use pipeline_tests::world::World;
use pipeline_tests::*;
use shared::domain::timeline::Steps;
use shared::process::{BatchOutcome, Processor, QueuedRecord};
use shared::queue::Queue;
use shared::store::{keys, CampaignRecord, Item, Store, TemplateRecord};

struct Pipeline {
    world: World,
    store: Store,
    processor: Processor,
    queues: TestQueues,
    /// The table's stream folded into counters, as the deployed counters function does.
    counter: StreamCounter,
}

async fn pipeline_with(register: bool, dynamodb: Option<aws_sdk_dynamodb::Client>) -> Pipeline {
    let aws = local_aws().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let table = create_test_table(&ddb).await;
    let store = Store::new(ddb, &table);
    let world = World::load();
    world.seed(&store, register).await;
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let processor_store = Store::new(
        dynamodb.unwrap_or_else(|| aws_sdk_dynamodb::Client::new(&aws)),
        &table,
    );
    let counter = StreamCounter::new(&aws, &table, processor_store.clone()).await;
    let processor = Processor::new(
        processor_store,
        Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        16,
    );
    Pipeline {
        world,
        store,
        processor,
        queues,
        counter,
    }
}

async fn pipeline() -> Pipeline {
    pipeline_with(true, None).await
}

fn record(id: &str, body: Vec<u8>) -> QueuedRecord {
    QueuedRecord {
        message_id: id.to_owned(),
        body: String::from_utf8(body).unwrap(),
    }
}

impl Pipeline {
    /// Delivers fixtures as one SQS batch, one record each.
    async fn batch(&self, paths: &[&str]) -> BatchOutcome {
        let records: Vec<QueuedRecord> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| record(&format!("m-{i}"), fixture(&format!("meta/{p}"))))
            .collect();
        self.processor.process(&records).await
    }

    /// Delivers fixtures one batch after another.
    async fn each(&self, paths: &[&str]) {
        for p in paths {
            let outcome = self.batch(&[p]).await;
            assert!(
                outcome.failed.is_empty() && outcome.parked.is_empty(),
                "{p}: {outcome:?}"
            );
        }
    }

    async fn message(&self, reference: &str) -> Option<Item> {
        let (tenant, wamid) = self.world.message(reference);
        self.store
            .partition(&keys::message(&tenant, &wamid))
            .await
            .unwrap()
            .into_iter()
            .next()
    }

    async fn delivery(&self, reference: &str) -> String {
        let item = self
            .message(reference)
            .await
            .unwrap_or_else(|| panic!("no item for {reference}"));
        item["delivery"].as_s().unwrap().clone()
    }

    /// The campaign, once the counters fold has caught up with every change so far.
    async fn campaign(&self, id: &str) -> CampaignRecord {
        self.counter.catch_up().await;
        let tenant = &self.world.campaign(id).tenant;
        self.store.campaign(tenant, id).await.unwrap().unwrap()
    }

    /// reached sent/delivered/read/failed.
    async fn reached(&self, id: &str) -> (i64, i64, i64, i64) {
        let c = self.campaign(id).await;
        (
            c.reached_sent,
            c.reached_delivered,
            c.reached_read,
            c.reached_failed,
        )
    }

    async fn template(&self, tenant: &str, id: u64) -> TemplateRecord {
        self.store.template(tenant, id).await.unwrap().unwrap()
    }

    async fn items(&self, pk: String) -> Vec<Item> {
        self.store.partition(&pk).await.unwrap()
    }
}

fn n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn st(item: &Item, key: &str) -> Option<String> {
    item.get(key).and_then(|v| v.as_s().ok()).cloned()
}

// ----------------------------------------------------------------- message statuses

#[tokio::test]
async fn each_status_fixture_alone_has_its_documented_effect() {
    /// fixture, message, its delivery, campaign, reached sent/delivered/read/failed
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, (i64, i64, i64, i64));
    let cases: &[Case] = &[
        (
            "status_sent.json",
            "c-acme-1/m1",
            "sent",
            "c-acme-1",
            (1, 0, 0, 0),
        ),
        (
            "status_delivered.json",
            "c-acme-1/m1",
            "delivered",
            "c-acme-1",
            (1, 1, 0, 0),
        ),
        (
            "status_read.json",
            "c-acme-1/m1",
            "read",
            "c-acme-1",
            (1, 1, 1, 0),
        ),
        (
            "status_failed.json",
            "c-acme-1/m2",
            "failed",
            "c-acme-1",
            (0, 0, 0, 1),
        ),
        (
            "status_failed_late_sent.json",
            "c-acme-1/m2",
            "sent",
            "c-acme-1",
            (1, 0, 0, 0),
        ),
        (
            "status_out_of_order_1_read.json",
            "c-acme-1/m3",
            "read",
            "c-acme-1",
            (1, 1, 1, 0),
        ),
        (
            "status_v24_no_conversation.json",
            "c-globex-1/m4",
            "delivered",
            "c-globex-1",
            (1, 1, 0, 0),
        ),
    ];
    for (file, message, delivery, campaign, reached) in cases {
        let p = pipeline().await;
        p.each(&[file]).await;
        assert_eq!(p.delivery(message).await, *delivery, "{file}");
        assert_eq!(p.reached(campaign).await, *reached, "{file}");
    }
}

#[tokio::test]
async fn pricing_conversation_and_errors_are_stored_on_the_message() {
    let p = pipeline().await;
    p.each(&[
        "status_sent.json",
        "status_failed.json",
        "status_v24_no_conversation.json",
    ])
    .await;
    let m1 = p.message("c-acme-1/m1").await.unwrap();
    assert_eq!(st(&m1, "pricing_model").as_deref(), Some("CBP"));
    assert_eq!(st(&m1, "conversation_origin").as_deref(), Some("marketing"));
    assert_eq!(n(&m1, "conversation_expires_at"), Some(1732696403));
    assert_eq!(n(&m1, "sent_at"), Some(1732610003));
    assert_eq!(
        st(&m1, "biz_opaque_callback_data").as_deref(),
        Some("c-acme-1")
    );
    let m2 = p.message("c-acme-1/m2").await.unwrap();
    assert_eq!(n(&m2, "error_code"), Some(131026));
    assert_eq!(
        st(&m2, "error_title").as_deref(),
        Some("Message undeliverable")
    );
    assert_eq!(p.campaign("c-acme-1").await.current_failed, 1);
    let m4 = p.message("c-globex-1/m4").await.unwrap();
    assert_eq!(st(&m4, "pricing_model").as_deref(), Some("PMP"));
    assert_eq!(st(&m4, "pricing_type").as_deref(), Some("regular"));
    assert!(!m4.contains_key("conversation_id"));
}

#[tokio::test]
async fn failed_error_codes_are_counted_per_campaign() {
    let p = pipeline().await;
    p.each(&["status_failed.json"]).await;
    p.counter.catch_up().await;
    let tenant = "acme";
    let item = p
        .store
        .partition(&keys::tenant(tenant))
        .await
        .unwrap()
        .into_iter()
        .find(|i| st(i, "sk").as_deref() == Some("CAMPAIGN#c-acme-1"))
        .unwrap();
    assert_eq!(n(&item, "error_131026"), Some(1));
}

#[tokio::test]
async fn any_order_and_any_repeat_of_sent_delivered_read_ends_the_same() {
    let orders: &[&[&str]] = &[
        &[
            "status_sent.json",
            "status_delivered.json",
            "status_read.json",
        ],
        &[
            "status_read.json",
            "status_delivered.json",
            "status_sent.json",
        ],
        &[
            "status_delivered.json",
            "status_read.json",
            "status_sent.json",
            "status_read.json",
        ],
        &[
            "status_read.json",
            "status_read.json",
            "status_sent.json",
            "status_sent.json",
        ],
    ];
    for order in orders {
        let p = pipeline().await;
        p.each(order).await;
        assert_eq!(p.delivery("c-acme-1/m1").await, "read", "{order:?}");
        assert_eq!(p.reached("c-acme-1").await, (1, 1, 1, 0), "{order:?}");
        let c = p.campaign("c-acme-1").await;
        assert_eq!(
            (c.current_read, c.current_sent, c.current_delivered),
            (1, 0, 0)
        );
        // The late sent still fills in its time.
        let m = p.message("c-acme-1/m1").await.unwrap();
        assert_eq!(n(&m, "sent_at"), Some(1732610003), "{order:?}");
    }
    // The same statuses in one batch, duplicated.
    let p = pipeline().await;
    let outcome = p
        .batch(&[
            "status_read.json",
            "status_sent.json",
            "status_delivered.json",
            "status_read.json",
        ])
        .await;
    assert!(outcome.failed.is_empty());
    assert_eq!(
        outcome.messages_written, 1,
        "one write for the message, whatever the duplication"
    );
    assert_eq!(p.reached("c-acme-1").await, (1, 1, 1, 0));
}

#[tokio::test]
async fn the_out_of_order_sequence_never_moves_back() {
    let p = pipeline().await;
    for (step, file) in [
        "status_out_of_order_1_read.json",
        "status_out_of_order_2_delivered.json",
        "status_out_of_order_3_sent.json",
    ]
    .iter()
    .enumerate()
    {
        p.each(&[file]).await;
        assert_eq!(p.delivery("c-acme-1/m3").await, "read", "step {}", step + 1);
        assert_eq!(
            p.reached("c-acme-1").await,
            (1, 1, 1, 0),
            "step {}",
            step + 1
        );
    }
}

#[tokio::test]
async fn failed_is_terminal_a_late_sent_changes_nothing() {
    let p = pipeline().await;
    p.each(&["status_failed.json", "status_failed_late_sent.json"])
        .await;
    assert_eq!(p.delivery("c-acme-1/m2").await, "failed");
    assert_eq!(p.reached("c-acme-1").await, (0, 0, 0, 1));
    // And sent-then-failed ends the same.
    let p = pipeline().await;
    p.each(&["status_failed_late_sent.json", "status_failed.json"])
        .await;
    assert_eq!(p.delivery("c-acme-1/m2").await, "failed");
    assert_eq!(p.reached("c-acme-1").await, (0, 0, 0, 1));
}

#[tokio::test]
async fn a_mixed_batch_keeps_tenants_apart_and_counts_the_in_body_duplicate_once() {
    let p = pipeline().await;
    p.each(&["status_batch_mixed.json"]).await;
    for (m, d) in [
        ("c-acme-1/m4", "delivered"),
        ("c-acme-3/m1", "delivered"),
        ("c-acme-2/m1", "read"),
        ("c-globex-1/m1", "delivered"),
        ("c-globex-1/m2", "read"),
        ("c-globex-1/m3", "failed"),
        ("c-globex-2/m1", "sent"),
    ] {
        assert_eq!(p.delivery(m).await, d, "{m}");
    }
    assert_eq!(p.reached("c-acme-1").await, (1, 1, 0, 0));
    assert_eq!(p.reached("c-acme-3").await, (1, 1, 0, 0));
    assert_eq!(p.reached("c-acme-2").await, (1, 1, 1, 0));
    assert_eq!(p.reached("c-globex-1").await, (2, 2, 1, 1));
    assert_eq!(p.reached("c-globex-2").await, (1, 0, 0, 0));
    let m3 = p.message("c-globex-1/m3").await.unwrap();
    assert_eq!(n(&m3, "error_code"), Some(131049));
}

#[tokio::test]
async fn a_status_before_registration_is_kept_and_counted_when_the_message_is_registered() {
    let p = pipeline_with(false, None).await;
    p.each(&["status_delivered.json"]).await;
    assert_eq!(p.delivery("c-acme-1/m1").await, "delivered");
    assert_eq!(
        p.reached("c-acme-1").await,
        (0, 0, 0, 0),
        "unattributed: no campaign moves"
    );
    p.world.register(&p.store, "c-acme-1/m1").await;
    assert_eq!(p.reached("c-acme-1").await, (1, 1, 0, 0));
    // Registering again changes nothing; later statuses count normally.
    p.world.register(&p.store, "c-acme-1/m1").await;
    p.each(&["status_read.json", "status_sent.json"]).await;
    assert_eq!(p.reached("c-acme-1").await, (1, 1, 1, 0));
    assert_eq!(p.campaign("c-acme-1").await.registered, 1);

    // The other order (registered first) ends with the same counters.
    let q = pipeline().await;
    q.each(&[
        "status_delivered.json",
        "status_read.json",
        "status_sent.json",
    ])
    .await;
    assert_eq!(q.reached("c-acme-1").await, p.reached("c-acme-1").await);
}

#[tokio::test]
async fn an_unknown_wamid_is_kept_unattributed_and_is_not_a_failure() {
    let p = pipeline().await;
    let outcome = p.batch(&["status_unknown_message.json"]).await;
    assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
    let item = p
        .store
        .partition(&keys::message("acme", &p.world.unregistered_wamid))
        .await
        .unwrap();
    assert_eq!(st(&item[0], "delivery").as_deref(), Some("delivered"));
    assert!(!item[0].contains_key("campaign_id"));
    for c in ["c-acme-1", "c-acme-2", "c-acme-3"] {
        assert_eq!(p.reached(c).await, (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn played_ranks_above_read_and_unknown_statuses_are_recorded_not_failed() {
    let p = pipeline().await;
    p.each(&["status_played.json"]).await;
    assert_eq!(p.delivery("direct/voice-1").await, "played");

    let body = String::from_utf8(fixture("meta/status_sent.json"))
        .unwrap()
        .replace("\"status\":\"sent\"", "\"status\":\"teleported\"");
    let outcome = p.processor.process(&[record("x", body.into_bytes())]).await;
    assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
    let m = p.message("c-acme-1/m1").await.unwrap();
    assert_eq!(st(&m, "delivery").as_deref(), Some("pending"));
    assert!(m["unknown_statuses"]
        .as_ss()
        .unwrap()
        .contains(&"teleported".to_owned()));
    assert_eq!(p.reached("c-acme-1").await, (0, 0, 0, 0));
}

#[tokio::test]
async fn the_1000_status_batch_reaches_the_generators_expected_state_in_one_invocation() {
    let p = pipeline().await;
    let outcome = p.batch(&["status_batch_1000.json"]).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!(outcome.statuses, 1000);
    let expected: serde_json::Value =
        serde_json::from_slice(&fixture("expected/status_batch_1000.json")).unwrap();
    for (wamid, status) in expected["messages"].as_object().unwrap() {
        let tenant = p
            .world
            .campaigns
            .iter()
            .find(|c| c.messages.iter().any(|m| &m.wamid == wamid))
            .map(|c| c.tenant.clone())
            .unwrap();
        let item = p
            .store
            .partition(&keys::message(&tenant, wamid))
            .await
            .unwrap();
        assert_eq!(
            st(&item[0], "delivery").as_deref(),
            status.as_str(),
            "{wamid}"
        );
    }
    for (campaign, want) in expected["campaigns"].as_object().unwrap() {
        let r = &want["reached"];
        let got = p.reached(campaign).await;
        let want = (
            r["sent"].as_i64().unwrap(),
            r["delivered"].as_i64().unwrap(),
            r["read"].as_i64().unwrap(),
            r["failed"].as_i64().unwrap(),
        );
        assert_eq!(got, want, "{campaign}");
    }
    // Delivering it again (SQS redelivery) changes nothing.
    let again = p.batch(&["status_batch_1000.json"]).await;
    assert_eq!(again.messages_written, 0);
    assert_eq!(p.reached("c-acme-1").await, (4, 2, 2, 0));
}

#[tokio::test]
async fn a_split_webhook_body_ends_in_the_same_state_as_the_whole() {
    // webhook -> queue parts -> processor, across functions.
    let p = pipeline().await;
    let config = shared::config::WebhookConfig {
        app_secrets: vec![FIXTURE_APP_SECRET.into()],
        verify_token: FIXTURE_VERIFY_TOKEN.into(),
        queue_url: p.queues.queue_url.clone(),
        dead_letter_queue_url: p.queues.dead_letter_url.clone(),
        limits: shared::ingest::Limits::default(),
    };
    let ingest = webhook::build(&config, p.queues.sqs.clone()).unwrap();
    let body = fixture("meta/status_batch_1000.json");
    let accepted = ingest
        .accept(
            Some(signature_of("meta/status_batch_1000.json").as_bytes()),
            &body,
            "req",
        )
        .await
        .unwrap();
    assert!(matches!(accepted, shared::ingest::Accepted::Queued { parts, .. } if parts >= 2));
    let parts = p.queues.drain(&p.queues.queue_url).await;
    let records: Vec<QueuedRecord> = parts
        .iter()
        .map(|m| QueuedRecord {
            message_id: m.message_id().unwrap().to_owned(),
            body: m.body().unwrap().to_owned(),
        })
        .collect();
    let outcome = p.processor.process(&records).await;
    assert!(outcome.failed.is_empty());
    assert_eq!(outcome.statuses, 1000);
    assert_eq!(p.reached("c-acme-1").await, (4, 2, 2, 0));
    assert_eq!(p.reached("c-globex-2").await, (2, 2, 2, 1));
}

// ----------------------------------------------------------------- routing and failures

#[tokio::test]
async fn a_phone_number_under_another_tenants_waba_is_refused() {
    let p = pipeline().await;
    // acme's phone number, but under globex's WABA entry.
    let body = String::from_utf8(fixture("meta/status_delivered.json"))
        .unwrap()
        .replace("\"id\":\"102290129340398\"", "\"id\":\"204470395512871\"");
    let outcome = p.processor.process(&[record("x", body.into_bytes())]).await;
    assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
    assert_eq!(outcome.unrouted, 1);
    assert_eq!(
        p.delivery("c-acme-1/m1").await,
        "pending",
        "no state change for anyone"
    );
    assert!(p
        .store
        .partition(&keys::message("globex", &p.world.message("c-acme-1/m1").1))
        .await
        .unwrap()
        .is_empty());
    let unrouted = p.items(keys::unrouted()).await;
    assert!(unrouted
        .iter()
        .any(|i| st(i, "reason").as_deref() == Some("phone_waba_mismatch")));
}

#[tokio::test]
async fn unknown_numbers_and_wabas_are_kept_as_unrouted_not_applied() {
    let p = pipeline().await;
    let status = String::from_utf8(fixture("meta/status_delivered.json"))
        .unwrap()
        .replace("106540352242922", "999999999999999");
    let template = String::from_utf8(fixture("meta/template_approved.json"))
        .unwrap()
        .replace("102290129340398", "888888888888888");
    let outcome = p
        .processor
        .process(&[
            record("a", status.into_bytes()),
            record("b", template.into_bytes()),
        ])
        .await;
    assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
    assert_eq!(outcome.unrouted, 2);
    let reasons: Vec<_> = p
        .items(keys::unrouted())
        .await
        .iter()
        .filter_map(|i| st(i, "reason"))
        .collect();
    assert!(reasons.contains(&"unknown_phone_number".to_owned()));
    assert!(reasons.contains(&"unknown_waba".to_owned()));
    assert_eq!(
        p.template("acme", 1407680283588704).await.status.as_deref(),
        Some("PENDING")
    );
}

#[tokio::test]
async fn a_poison_record_is_parked_with_its_reason_and_the_rest_of_the_batch_applies() {
    let p = pipeline().await;
    let event: SqsEvent =
        serde_json::from_slice(&fixture("lambda/sqs_batch_with_poison.json")).unwrap();
    let response = processor::handle(
        &p.processor,
        None,
        lambda_runtime::LambdaEvent::new(event, Default::default()),
    )
    .await
    .unwrap();
    // Parked, not retried: a body that cannot parse never will.
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let parked = p.queues.drain(&p.queues.dead_letter_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(attribute(&parked[0], "parked_reason"), Some("invalid_json"));
    assert_eq!(
        attribute(&parked[0], "source_message_id"),
        Some("28c3f7fe-35dd-4239-2450-977c8599c01e")
    );
    assert_eq!(p.delivery("c-acme-1/m1").await, "delivered");
    assert_eq!(
        p.template("acme", 1407680283588702).await.status.as_deref(),
        Some("PAUSED")
    );
    assert_eq!(p.campaign("c-acme-1").await.status, "PAUSED");
    assert_eq!(p.campaign("c-acme-3").await.status, "PAUSED");
}

#[tokio::test]
async fn malformed_bodies_never_half_apply() {
    let p = pipeline().await;
    let outcome = p.batch(&["bad/truncated.json", "bad/not_json.txt"]).await;
    assert_eq!(outcome.parked.len(), 2);
    assert!(outcome.failed.is_empty());
    for m in ["c-acme-1/m4", "c-globex-1/m1"] {
        assert_eq!(p.delivery(m).await, "pending", "{m} half-applied");
    }
    // No-op bodies are acknowledged, not parked.
    let outcome = p
        .batch(&[
            "bad/empty_entry.json",
            "bad/missing_statuses_value.json",
            "bad/wrong_object.json",
            "unknown_field.json",
            "dashboard_test_template_status.json",
            "inbound_text_message.json",
        ])
        .await;
    assert!(
        outcome.failed.is_empty() && outcome.parked.is_empty(),
        "{outcome:?}"
    );
    assert_eq!(p.reached("c-acme-1").await, (0, 0, 0, 0));
    // wrong_types is read leniently, with exactly the effect of the well-typed body.
    p.each(&["bad/wrong_types.json"]).await;
    assert_eq!(p.delivery("c-acme-1/m1").await, "delivered");
    assert_eq!(
        p.template("acme", 1407680283588703).await.status.as_deref(),
        Some("PAUSED")
    );
}

#[tokio::test]
async fn throttling_on_one_record_fails_only_that_record_and_the_retry_counts_once() {
    let aws = local_aws().await;
    let m2 = World::load().message("c-acme-1/m2").1;
    let proxy = FaultProxy::start(
        &std::env::var("AWS_ENDPOINT_URL").unwrap(),
        ThrottleRule {
            operations: vec!["TransactWriteItems", "UpdateItem"],
            marker: m2,
        },
    )
    .await;
    let throttled_client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&aws)
            .endpoint_url(&proxy.endpoint)
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(std::time::Duration::from_millis(5)),
            )
            .build(),
    );
    let p = pipeline_with(true, Some(throttled_client)).await;
    let records = vec![
        record("ok-record", fixture("meta/status_sent.json")),
        record("throttled-record", fixture("meta/status_failed.json")),
    ];
    let outcome = p.processor.process(&records).await;
    assert_eq!(outcome.failed, vec!["throttled-record".to_owned()]);
    assert!(proxy.throttled.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(p.delivery("c-acme-1/m1").await, "sent");
    assert!(
        p.message("c-acme-1/m2")
            .await
            .unwrap()
            .get("delivery")
            .unwrap()
            .as_s()
            .unwrap()
            == "pending"
    );

    // SQS redelivers the whole batch record and, with throttling gone, it counts exactly once.
    drop(proxy);
    let healthy = Processor::new(
        p.store.clone(),
        Queue::new(p.queues.sqs.clone(), &p.queues.dead_letter_url, 256 * 1024),
        4,
    );
    let outcome = healthy.process(&records).await;
    assert!(outcome.failed.is_empty());
    assert_eq!(p.reached("c-acme-1").await, (1, 0, 0, 1));
}

// ----------------------------------------------------------------- templates and campaigns

#[tokio::test]
async fn template_status_events_set_status_reason_history_and_alerts() {
    let p = pipeline().await;
    p.each(&[
        "template_approved.json",
        "template_rejected.json",
        "template_flagged.json",
        "unicode_escaped.json",
        "bad/huge_reason.json",
    ])
    .await;
    assert_eq!(
        p.template("acme", 1407680283588704).await.status.as_deref(),
        Some("APPROVED")
    );
    let rejected = p.template("acme", 1407680283588705).await;
    assert_eq!(rejected.status.as_deref(), Some("REJECTED"));
    assert!(
        rejected.reason.as_deref().unwrap().len() <= 2048,
        "huge reason stored cut"
    );
    assert_eq!(
        p.template("globex", 2319945622184402)
            .await
            .status
            .as_deref(),
        Some("FLAGGED")
    );
    assert_eq!(
        p.campaign("c-globex-2").await.status,
        "ACTIVE",
        "flagged does not pause"
    );
    let unicode = p.template("globex", 2319945622184403).await;
    assert_eq!(unicode.status.as_deref(), Some("REJECTED"));
    assert_eq!(unicode.name.as_deref(), Some("entrega_rápida"));
    let history = p
        .items(keys::template_history("globex", 2319945622184403))
        .await;
    assert!(st(&history[0], "rejection_reason")
        .unwrap()
        .contains("— não permitido 🚫"));

    let alerts = p.store.open_alerts("acme").await.unwrap();
    assert!(alerts
        .iter()
        .any(|a| a.kind == "template_rejected" && a.severity == "critical"));
    let globex = p.store.open_alerts("globex").await.unwrap();
    assert!(globex
        .iter()
        .any(|a| a.kind == "template_flagged" && a.severity == "warning"));
}

#[tokio::test]
async fn a_paused_template_pauses_every_active_campaign_on_it_with_audit_and_feed() {
    let p = pipeline().await;
    p.each(&["template_paused_first.json"]).await;
    assert_eq!(
        p.template("acme", 1407680283588702).await.status.as_deref(),
        Some("PAUSED")
    );
    assert_eq!(
        p.template("acme", 1407680283588702)
            .await
            .pause_title
            .as_deref(),
        Some("FIRST_PAUSE")
    );
    for c in ["c-acme-1", "c-acme-3"] {
        let campaign = p.campaign(c).await;
        assert_eq!(campaign.status, "PAUSED", "{c}");
        assert_eq!(
            campaign.auto_paused_by.as_deref(),
            Some("template:1407680283588702")
        );
        assert!(campaign.pause_reason.unwrap().contains("FIRST_PAUSE"));
    }
    assert_eq!(p.campaign("c-acme-0").await.status, "COMPLETED");
    assert_eq!(p.campaign("c-acme-2").await.status, "ACTIVE");
    assert_eq!(p.campaign("c-globex-1").await.status, "ACTIVE");
    let audit = p.items(keys::audit("acme")).await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| st(a, "action").as_deref() == Some("campaign_paused"))
            .count(),
        2
    );
    let feed = p.items(keys::feed("acme")).await;
    assert_eq!(
        feed.iter()
            .filter(|f| st(f, "kind").as_deref() == Some("campaign_paused"))
            .count(),
        2
    );
    assert!(p
        .store
        .open_alerts("acme")
        .await
        .unwrap()
        .iter()
        .any(|a| a.kind == "template_paused"));

    // The second pause (and a redelivery of the first) is idempotent.
    p.each(&["template_paused_second.json", "template_paused_first.json"])
        .await;
    let audit = p.items(keys::audit("acme")).await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| st(a, "action").as_deref() == Some("campaign_paused"))
            .count(),
        2
    );
    let alerts = p.store.open_alerts("acme").await.unwrap();
    assert!(alerts.iter().any(|a| a.title.contains("SECOND_PAUSE")));
}

#[tokio::test]
async fn rate_limiting_pause_and_disable_hit_only_their_campaigns() {
    let p = pipeline().await;
    p.each(&[
        "template_paused_rate_limiting.json",
        "template_disabled.json",
    ])
    .await;
    assert_eq!(p.campaign("c-globex-1").await.status, "PAUSED");
    assert_eq!(p.campaign("c-globex-2").await.status, "ACTIVE");
    assert_eq!(p.campaign("c-acme-2").await.status, "PAUSED");
    assert_eq!(p.campaign("c-acme-1").await.status, "ACTIVE");
    assert_eq!(
        p.template("acme", 1407680283588701).await.status.as_deref(),
        Some("DISABLED")
    );
    let alerts = p.store.open_alerts("acme").await.unwrap();
    assert!(alerts
        .iter()
        .any(|a| a.kind == "template_disabled" && a.severity == "critical"));
}

#[tokio::test]
async fn unpause_and_reinstate_leave_campaigns_paused_unless_auto_resume_is_on() {
    let p = pipeline().await;
    p.each(&[
        "template_paused_first.json",
        "template_unpaused.json",
        "template_disabled.json",
        "template_reinstated.json",
    ])
    .await;
    assert_eq!(
        p.template("acme", 1407680283588702).await.status.as_deref(),
        Some("APPROVED")
    );
    assert_eq!(
        p.template("acme", 1407680283588701).await.status.as_deref(),
        Some("APPROVED")
    );
    for c in ["c-acme-1", "c-acme-3", "c-acme-2"] {
        assert_eq!(
            p.campaign(c).await.status,
            "PAUSED",
            "{c} stays paused: resuming is a person's call"
        );
    }
    let history = p
        .items(keys::template_history("acme", 1407680283588701))
        .await;
    assert!(history
        .iter()
        .any(|h| st(h, "event").as_deref() == Some("REINSTATED")));

    let p = pipeline().await;
    p.store.set_auto_resume("acme", true).await.unwrap();
    p.each(&["template_paused_first.json", "template_disabled.json"])
        .await;
    p.each(&["template_unpaused.json", "template_reinstated.json"])
        .await;
    for c in ["c-acme-1", "c-acme-3", "c-acme-2"] {
        assert_eq!(p.campaign(c).await.status, "ACTIVE", "{c}");
    }
    assert_eq!(p.campaign("c-acme-0").await.status, "COMPLETED");
    let audit = p.items(keys::audit("acme")).await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| st(a, "action").as_deref() == Some("campaign_resumed"))
            .count(),
        3
    );
}

#[tokio::test]
async fn auto_resume_never_resumes_a_campaign_a_person_paused_or_another_hold_keeps() {
    let p = pipeline().await;
    p.store.set_auto_resume("acme", true).await.unwrap();
    // c-acme-3 is paused by a person before the template pauses.
    assert!(p
        .store
        .pause_campaign_by_user("acme", "c-acme-3", "ops@acme", "checking copy")
        .await
        .unwrap());
    // c-acme-1 is also held by an account ban.
    p.each(&["template_paused_first.json"]).await;
    p.store
        .hold_campaign(
            "acme",
            "c-acme-1",
            "ban:102290129340398",
            "account disabled",
            2,
        )
        .await
        .unwrap();
    p.each(&["template_unpaused.json"]).await;
    assert_eq!(
        p.campaign("c-acme-1").await.status,
        "PAUSED",
        "still held by the ban"
    );
    assert_eq!(
        p.campaign("c-acme-3").await.status,
        "PAUSED",
        "a person paused it"
    );
}

#[tokio::test]
async fn quality_events_apply_in_event_time_order_whatever_the_arrival_order() {
    let p = pipeline().await;
    p.each(&[
        "quality_red_to_green.json",
        "quality_yellow_to_red.json",
        "quality_green_to_yellow.json",
    ])
    .await;
    let t = p.template("acme", 1407680283588702).await;
    assert_eq!(t.quality.as_deref(), Some("GREEN"), "the newest event wins");
    let history = p
        .items(keys::template_history("acme", 1407680283588702))
        .await;
    assert_eq!(history.len(), 3, "stale events still go to history");
    assert_eq!(
        p.campaign("c-acme-1").await.status,
        "ACTIVE",
        "quality alone never pauses"
    );

    let q = pipeline().await;
    q.each(&["quality_green_to_yellow.json", "quality_yellow_to_red.json"])
        .await;
    let t = q.template("acme", 1407680283588702).await;
    assert_eq!(
        (t.quality.as_deref(), t.previous_quality.as_deref()),
        (Some("RED"), Some("YELLOW"))
    );
    let alerts = q.store.open_alerts("acme").await.unwrap();
    assert!(alerts
        .iter()
        .any(|a| a.kind == "quality_red" && a.severity == "critical"));
    assert!(alerts
        .iter()
        .any(|a| a.kind == "quality_yellow" && a.severity == "warning"));
}

#[tokio::test]
async fn category_phone_account_and_unknown_template_events() {
    let p = pipeline().await;
    p.each(&["category_impending.json"]).await;
    let t = p.template("globex", 2319945622184402).await;
    assert_eq!(
        (t.category.as_deref(), t.pending_category.as_deref()),
        (Some("UTILITY"), Some("MARKETING"))
    );
    p.each(&["category_completed.json"]).await;
    let t = p.template("globex", 2319945622184402).await;
    assert_eq!(
        (
            t.category.as_deref(),
            t.previous_category.as_deref(),
            t.pending_category
        ),
        (Some("MARKETING"), Some("UTILITY"), None)
    );

    p.each(&["template_unknown_event.json"]).await;
    assert_eq!(
        p.template("acme", 1407680283588703).await.status.as_deref(),
        Some("APPROVED")
    );
    assert_eq!(
        p.items(keys::template_history("acme", 1407680283588703))
            .await
            .len(),
        1
    );

    p.each(&["phone_quality_downgrade.json", "account_update_ban.json"])
        .await;
    let phone = p
        .items(keys::tenant("acme"))
        .await
        .into_iter()
        .find(|i| st(i, "sk").as_deref() == Some("PHONE#106540352242922"))
        .unwrap();
    assert_eq!(st(&phone, "messaging_limit").as_deref(), Some("TIER_1K"));
    assert!(p
        .store
        .open_alerts("acme")
        .await
        .unwrap()
        .iter()
        .any(|a| a.kind == "messaging_limit"));
    let globex = p.store.open_alerts("globex").await.unwrap();
    assert!(globex
        .iter()
        .any(|a| a.kind == "account_disable_scheduled" && a.severity == "critical"));
    assert_eq!(
        p.campaign("c-globex-1").await.status,
        "ACTIVE",
        "scheduled, not yet disabled"
    );
    assert!(p
        .store
        .open_alerts("acme")
        .await
        .unwrap()
        .iter()
        .all(|a| !a.kind.starts_with("account")));
}

#[tokio::test]
async fn an_account_ban_pauses_every_active_campaign_of_that_waba_only() {
    let p = pipeline().await;
    let body = String::from_utf8(fixture("meta/account_update_ban.json"))
        .unwrap()
        .replace("SCHEDULE_FOR_DISABLE", "DISABLE");
    let outcome = p
        .processor
        .process(&[record("ban", body.into_bytes())])
        .await;
    assert!(outcome.failed.is_empty());
    for c in ["c-globex-1", "c-globex-2"] {
        let campaign = p.campaign(c).await;
        assert_eq!(campaign.status, "PAUSED");
        assert_eq!(
            campaign.auto_paused_by.as_deref(),
            Some("ban:204470395512871")
        );
    }
    assert_eq!(p.campaign("c-acme-1").await.status, "ACTIVE");
}

#[tokio::test]
async fn every_applied_change_lands_in_the_tenants_feed_in_order_of_time() {
    let p = pipeline().await;
    p.counter.catch_up().await;
    // Statuses reach the feed through the counters fold, templates from the processor.
    for fixture in ["status_sent.json", "status_delivered.json"] {
        p.each(&[fixture]).await;
        p.counter.catch_up().await;
    }
    p.each(&["template_approved.json"]).await;
    let feed = p.items(keys::feed("acme")).await;
    let kinds: Vec<_> = feed.iter().filter_map(|f| st(f, "kind")).collect();
    // The fold names its items by the second their stream record was made, so they sort before
    // the template applied after them (two runs of one second sort by their ids' other bits).
    assert_eq!(
        kinds[..3],
        ["message_statuses", "message_statuses", "template"]
    );
    let mut updates: Vec<serde_json::Value> = feed[..2]
        .iter()
        .map(|f| serde_json::from_str(&st(f, "summary").unwrap()).unwrap())
        .collect();
    updates.sort_by_key(|u| u["moves"][0]["to"] == "delivered");
    let (_, m1) = p.world.message("c-acme-1/m1");
    assert_eq!(updates[0]["campaign_id"], "c-acme-1");
    assert_eq!(
        updates[0]["moves"],
        serde_json::json!([{"wamids": [m1], "from": "pending", "to": "sent"}])
    );
    assert_eq!(
        updates[1]["moves"],
        serde_json::json!([{"wamids": [m1], "from": "sent", "to": "delivered"}])
    );
    assert!(feed.iter().all(|f| n(f, "expires_at").is_some()));
    let ids: Vec<_> = feed.iter().filter_map(|f| st(f, "sk")).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "the feed is read in id order");
    // Each fold item is its run's ledger too (what makes a retried run count nothing twice).
    assert!(feed[..2].iter().all(|f| st(f, "last_sequence").is_some()));
    assert!(p.items(keys::feed("globex")).await.is_empty());
}

#[tokio::test]
async fn the_timeline_counts_each_step_once_in_the_bucket_of_metas_time_in_any_order() {
    let p = pipeline().await;
    p.counter.catch_up().await;
    // Read first, then sent and delivered, then read again: every step once, at Meta's times
    // (1732610003, ...08, ...97: one 5-minute bucket starting at 1732609800).
    p.each(&[
        "status_read.json",
        "status_sent.json",
        "status_delivered.json",
        "status_read.json",
    ])
    .await;
    // Folded, then folded again as Lambda retries a batch: the ledger skips the second.
    let changes = p.counter.read().await.concat();
    let fold = p.counter.fold();
    fold.apply(&changes).await.unwrap();
    let again = fold.apply(&changes).await.unwrap();
    assert_eq!(again.runs_applied, 0);
    let timeline = p
        .store
        .campaign_timeline("acme", "c-acme-1", 0, 9_999_999_999)
        .await
        .unwrap();
    let one_each = Steps {
        sent: 1,
        delivered: 1,
        read: 1,
        ..Steps::default()
    };
    assert_eq!(timeline, [(1_732_609_800, one_each)]);
    assert_eq!(p.reached("c-acme-1").await, (1, 1, 1, 0));
    // A range that misses the bucket reads nothing.
    assert!(p
        .store
        .campaign_timeline("acme", "c-acme-1", 1_732_610_100, 9_999_999_999)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_stream_batch_folded_again_counts_once_even_when_the_retry_reaches_further() {
    let p = pipeline().await;
    p.counter.catch_up().await;
    p.each(&["status_sent.json", "status_delivered.json"]).await;
    let first = p.counter.read().await.concat();
    p.each(&["status_read.json"]).await;
    let more = p.counter.read().await.concat();
    assert_eq!((first.len(), more.len()), (2, 1));

    let fold = p.counter.fold();
    let once = fold.apply(&first).await.unwrap();
    assert_eq!((once.runs_applied, once.runs_found_applied), (1, 0));
    let feed = p.items(keys::feed("acme")).await;
    assert_eq!(feed.len(), 1, "one feed item for the run");

    // Lambda retries the same batch: the ledger has it, nothing is counted twice, and the feed
    // item is written again identically.
    let again = fold.apply(&first).await.unwrap();
    assert_eq!((again.runs_applied, again.runs_found_applied), (0, 1));
    assert_eq!(p.items(keys::feed("acme")).await, feed);
    assert_eq!(p.reached("c-acme-1").await, (1, 1, 0, 0));

    // A retry that reaches further: the part applied before is found, the rest counted once.
    let longer: Vec<_> = first.iter().chain(&more).cloned().collect();
    let extended = fold.apply(&longer).await.unwrap();
    assert_eq!((extended.runs_applied, extended.runs_found_applied), (1, 1));
    let repeated = fold.apply(&longer).await.unwrap();
    assert_eq!((repeated.runs_applied, repeated.runs_found_applied), (0, 2));
    assert_eq!(p.reached("c-acme-1").await, (1, 1, 1, 0));
    let c = p.campaign("c-acme-1").await;
    assert_eq!(
        (c.current_sent, c.current_delivered, c.current_read),
        (0, 0, 1)
    );
    assert_eq!(p.items(keys::feed("acme")).await.len(), 2);
}

/// The EMF line a batch writes: counts of what arrived and moved, what was parked, and the lag
/// behind Meta's clock; the function as its only dimension, and nothing personal.
#[tokio::test]
async fn each_batch_writes_one_emf_line_with_its_counts_and_lag() {
    let p = pipeline().await;
    let mut records = vec![
        record("m-0", fixture("meta/status_batch_mixed.json")),
        record("m-1", b"{\"object\":".to_vec()),
    ];
    records.push(record("m-2", fixture("meta/template_approved.json")));
    let outcome = p.processor.process(&records).await;
    let now = shared::store::now();
    let line = outcome.metrics(now).to_emf(now * 1000).unwrap();
    let emf: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(emf["Function"], "processor");
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Function"]])
    );
    assert_eq!(emf["StatusesReceived"], 9);
    // What the statuses report (status_batch_mixed.json: 2 sent, 4 delivered, 2 read, 1 failed).
    assert_eq!(
        [
            &emf["StatusesSent"],
            &emf["StatusesDelivered"],
            &emf["StatusesRead"],
            &emf["StatusesFailed"]
        ],
        [2, 4, 2, 1]
    );
    assert_eq!(emf["Parked"], 1);
    assert_eq!(emf["TemplateEvents"], 1);
    assert!(emf["MessagesWritten"].as_u64().unwrap() >= 7);
    // The fixtures are from November 2024: the lag is their age.
    assert!(emf["ProcessingLag"].as_u64().unwrap() > 3600);
    for personal in ["106540352242922", "15551230004", "wamid.", "acme", "globex"] {
        assert!(!line.contains(personal), "{personal} in {line}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const STATUSES: [&str; 5] = [
        "status_sent.json",
        "status_delivered.json",
        "status_read.json",
        "status_failed.json",
        "status_failed_late_sent.json",
    ];

    proptest! {
        // Each case builds a fresh world on the local endpoint: a few cases, real writes.
        #![proptest_config(ProptestConfig { cases: 8, .. ProptestConfig::default() })]

        /// Any permutation and duplication of the same statuses, cut into any batches, ends in
        /// the same items and the same counters, against the real table.
        #[test]
        fn any_permutation_duplication_and_batching_converges(
            order in Just(STATUSES.to_vec()).prop_shuffle(),
            repeats in prop::collection::vec(0usize..5, 0..4),
            cuts in prop::collection::vec(any::<bool>(), 9),
        ) {
            let mut deliveries: Vec<&str> = order.clone();
            deliveries.extend(repeats.iter().map(|i| order[*i]));
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let (m1, m2, reached, current) = runtime.block_on(async {
                let p = pipeline().await;
                let mut batch = Vec::new();
                for (i, file) in deliveries.iter().enumerate() {
                    batch.push(*file);
                    if cuts[i % cuts.len()] {
                        let outcome = p.batch(&batch).await;
                        assert!(outcome.failed.is_empty(), "{outcome:?}");
                        batch.clear();
                    }
                }
                if !batch.is_empty() {
                    p.batch(&batch).await;
                }
                let c = p.campaign("c-acme-1").await;
                (
                    p.delivery("c-acme-1/m1").await,
                    p.delivery("c-acme-1/m2").await,
                    (c.reached_sent, c.reached_delivered, c.reached_read, c.reached_failed),
                    (c.current_sent, c.current_delivered, c.current_read, c.current_failed),
                )
            });
            prop_assert_eq!(m1, "read");
            prop_assert_eq!(m2, "failed");
            prop_assert_eq!(reached, (1, 1, 1, 1));
            prop_assert_eq!(current, (0, 0, 1, 1));
        }
    }
}

#[tokio::test]
async fn an_event_for_a_template_nobody_seeded_onboards_it_in_event_time_order() {
    let p = pipeline().await;
    // An id beyond 2^53 and a Unicode name: kept exactly.
    let template_id: u64 = 9_007_199_254_740_993;
    let body = |event: &str, time: u64| {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","time":{time},"changes":[{{"value":{{"event":"{event}","message_template_id":{template_id},"message_template_name":"rückkehr_angebot","message_template_language":"de","message_template_category":"MARKETING","reason":"NONE"}},"field":"message_template_status_update"}}]}}]}}"#
        )
    };
    let processor = &p.processor;
    let deliver = |id: &str, b: String| {
        let records = vec![record(id, b.into_bytes())];
        async move {
            let outcome = processor.process(&records).await;
            assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
        }
    };
    deliver("approved", body("APPROVED", 1_732_700_000)).await;
    let t = p.template("acme", template_id).await;
    assert_eq!(t.template_id, template_id);
    assert_eq!(
        (
            t.name.as_deref(),
            t.language.as_deref(),
            t.category.as_deref(),
            t.status.as_deref()
        ),
        (
            Some("rückkehr_angebot"),
            Some("de"),
            Some("MARKETING"),
            Some("APPROVED")
        )
    );
    let item = p
        .items(keys::tenant("acme"))
        .await
        .into_iter()
        .find(|i| st(i, "sk") == Some(keys::template(template_id)))
        .unwrap();
    assert_eq!(st(&item, "waba_id").as_deref(), Some("102290129340398"));

    // Redelivered: nothing twice. Older (reordered): does not move it back.
    deliver("again", body("APPROVED", 1_732_700_000)).await;
    deliver("older", body("PENDING", 1_732_600_000)).await;
    assert_eq!(
        p.template("acme", template_id).await.status.as_deref(),
        Some("APPROVED")
    );
    assert!(
        p.items(keys::unrouted()).await.is_empty(),
        "onboarded, not parked as unrouted"
    );

    // It is the tenant's now: a campaign can be created on it.
    let created = p
        .store
        .create_campaign(
            "acme",
            &shared::store::NewCampaign {
                campaign_id: "c-onboarded".into(),
                name: None,
                template_id,
                phone_number_id: "106540352242922".into(),
                waba_id: Some("102290129340398".into()),
                status: "ACTIVE".into(),
            },
        )
        .await;
    assert!(created.is_ok());
}

#[test]
fn a_queued_record_nested_50_000_deep_is_read_on_a_2_mib_stack_and_the_batch_applies() {
    let outcome = pipeline_tests::on_a_worker_sized_stack(async {
        let p = pipeline().await;
        let records = vec![
            QueuedRecord {
                message_id: "deep".into(),
                body: pipeline_tests::deeply_nested_body(50_000),
            },
            QueuedRecord {
                message_id: "fine".into(),
                body: String::from_utf8(fixture("meta/status_sent.json")).unwrap(),
            },
        ];
        let outcome = p.processor.process(&records).await;
        assert!(p.queues.drain(&p.queues.dead_letter_url).await.is_empty());
        outcome
    });
    // The deep unknown field is skipped; the other record's status applies.
    assert!(outcome.parked.is_empty() && outcome.failed.is_empty());
    assert_eq!(outcome.statuses, 1);
}

/// An onboarded template's placeholders (category, language, name) are filled by any event that
/// carries them, whatever its time; a known value still follows each aspect's `entry.time`.
#[tokio::test]
async fn an_onboarded_templates_unknown_category_is_filled_by_an_older_status_event() {
    let p = pipeline().await;
    let processor = &p.processor;
    let deliver = |id: &str, b: String| {
        let records = vec![record(id, b.into_bytes())];
        async move {
            let outcome = processor.process(&records).await;
            assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
        }
    };
    let status = |template_id: u64, category: &str, time: u64| {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","time":{time},"changes":[{{"value":{{"event":"APPROVED","message_template_id":{template_id},"message_template_name":"welcome_back","message_template_language":"en_US","message_template_category":"{category}","reason":"NONE"}},"field":"message_template_status_update"}}]}}]}}"#
        )
    };

    // 1. A quality event first: onboarded with the category and language unknown. Then the
    //    older status event that carries them: both are filled.
    let first: u64 = 8_100_000_000_000_001;
    deliver(
        "quality",
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","time":1732700000,"changes":[{{"value":{{"previous_quality_score":"GREEN","new_quality_score":"YELLOW","message_template_id":{first}}},"field":"message_template_quality_update"}}]}}]}}"#
        ),
    )
    .await;
    let t = p.template("acme", first).await;
    assert_eq!(
        (
            t.name.as_deref(),
            t.category.as_deref(),
            t.language.as_deref()
        ),
        (
            Some(format!("template-{first}").as_str()),
            Some("UNKNOWN"),
            Some("UNKNOWN")
        )
    );
    deliver("older status", status(first, "MARKETING", 1_732_600_000)).await;
    let t = p.template("acme", first).await;
    assert_eq!(
        (
            t.name.as_deref(),
            t.category.as_deref(),
            t.language.as_deref(),
            t.status.as_deref(),
            t.quality.as_deref()
        ),
        (
            Some("welcome_back"),
            Some("MARKETING"),
            Some("en_US"),
            Some("APPROVED"),
            Some("YELLOW")
        )
    );

    // 2. A category event first: the category is known, and an older status event that says
    //    otherwise does not replace it.
    let second: u64 = 8_100_000_000_000_002;
    deliver(
        "category",
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","time":1732700000,"changes":[{{"value":{{"message_template_id":{second},"message_template_name":"welcome_back","message_template_language":"en_US","previous_category":"UTILITY","new_category":"MARKETING"}},"field":"template_category_update"}}]}}]}}"#
        ),
    )
    .await;
    deliver("older status", status(second, "UTILITY", 1_732_600_000)).await;
    let t = p.template("acme", second).await;
    assert_eq!(
        (t.category.as_deref(), t.status.as_deref()),
        (Some("MARKETING"), Some("APPROVED"))
    );
}

// ----------------------------------------------------------------- replies, opt-outs, windows

const ACME_STORE_PHONE: &str = "106540352242922";

fn replies_feed(items: &[Item]) -> Vec<serde_json::Value> {
    items
        .iter()
        .filter(|f| st(f, "kind").as_deref() == Some("reply"))
        .map(|f| serde_json::from_str(&st(f, "summary").unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_reply_marks_its_campaign_message_once_counts_it_and_opens_the_window() {
    let p = pipeline().await;
    p.each(&["status_delivered.json"]).await;
    // Redelivered: the first reply is counted once.
    p.each(&["inbound_text_message.json", "inbound_text_message.json"])
        .await;
    let c = p.campaign("c-acme-1").await;
    assert_eq!(c.replied, 1);
    assert_eq!(
        p.reached("c-acme-1").await,
        (1, 1, 0, 0),
        "a reply is not a status"
    );
    let m1 = p.message("c-acme-1/m1").await.unwrap();
    assert_eq!(st(&m1, "reply_kind").as_deref(), Some("text"));
    assert_eq!(n(&m1, "replied_at"), Some(1_732_610_400));
    assert!(
        !m1.values()
            .any(|v| v.as_s().is_ok_and(|s| s.contains("Stop promotions please"))),
        "no message text is stored"
    );
    let window = p
        .store
        .window("acme", ACME_STORE_PHONE, "15551230001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (window.last_inbound_at, window.closes_at),
        (1_732_610_400, 1_732_610_400 + 86_400)
    );
    let replies = replies_feed(&p.items(keys::feed("acme")).await);
    assert_eq!(replies.len(), 1, "one realtime reply");
    assert_eq!(replies[0]["campaign_id"], "c-acme-1");
    assert_eq!(replies[0]["kind"], "text");
    // The other tenant sees none of it.
    assert!(p
        .store
        .window("globex", ACME_STORE_PHONE, "15551230001")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn button_replies_are_counted_per_campaign_and_an_opt_out_button_records_the_opt_out() {
    let p = pipeline().await;
    p.each(&[
        "inbound_button_reply.json",
        "inbound_interactive_reply.json",
    ])
    .await;
    let c1 = p.campaign("c-acme-1").await;
    assert_eq!((c1.replied, c1.opted_out), (1, 1));
    let r1 = p
        .store
        .campaign_replies("acme", "c-acme-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r1.buttons, vec![("Stop promotions".to_owned(), 1)]);
    assert_eq!(r1.by_kind.get("button"), Some(&1));
    let r3 = p
        .store
        .campaign_replies("acme", "c-acme-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r3.buttons, vec![("YES_INTERESTED".to_owned(), 1)]);
    assert_eq!(p.campaign("c-acme-3").await.opted_out, 0);
    let (opt_outs, _) = p
        .store
        .opt_outs("acme", ACME_STORE_PHONE, 50, None)
        .await
        .unwrap();
    assert_eq!(opt_outs.len(), 1);
    assert_eq!(opt_outs[0].contact, "15551230003");
    assert_eq!(opt_outs[0].source, "reply");
    assert_eq!(opt_outs[0].campaign_id.as_deref(), Some("c-acme-1"));
}

#[tokio::test]
async fn a_reply_to_an_unregistered_message_changes_no_campaign_but_opens_the_window() {
    let p = pipeline_with(false, None).await;
    p.each(&["inbound_text_message.json"]).await;
    p.counter.catch_up().await;
    let c = p.store.campaign("acme", "c-acme-1").await.unwrap().unwrap();
    assert_eq!(c.replied, 0);
    assert!(replies_feed(&p.items(keys::feed("acme")).await).is_empty());
    assert!(p
        .store
        .window("acme", ACME_STORE_PHONE, "15551230001")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_131050_failure_records_the_opt_out_and_counts_it_on_the_campaign() {
    let p = pipeline().await;
    p.each(&[
        "status_failed_opted_out.json",
        "status_failed_opted_out.json",
    ])
    .await;
    let c = p.campaign("c-acme-1").await;
    assert_eq!((c.reached_failed, c.opted_out), (1, 1));
    let (opt_outs, _) = p
        .store
        .opt_outs("acme", ACME_STORE_PHONE, 50, None)
        .await
        .unwrap();
    assert_eq!(opt_outs.len(), 1);
    assert_eq!(
        (opt_outs[0].contact.as_str(), opt_outs[0].source.as_str()),
        ("15551230004", "failure_131050")
    );
    // 131050 is not a breaker class: the campaign keeps sending.
    assert_eq!(c.status, "ACTIVE");
}

#[tokio::test]
async fn an_account_locked_failure_holds_every_active_campaign_of_that_number() {
    let p = pipeline().await;
    p.each(&["status_failed_account_locked.json"]).await;
    let hold = format!("blocked:{ACME_STORE_PHONE}");
    for id in ["c-acme-1", "c-acme-3"] {
        let c = p.campaign(id).await;
        assert_eq!(c.status, "PAUSED", "{id}");
        assert_eq!(c.holds.unwrap_or_default(), vec![hold.clone()], "{id}");
    }
    assert_eq!(p.campaign("c-acme-0").await.status, "COMPLETED");
    assert_eq!(
        p.campaign("c-acme-2").await.status,
        "ACTIVE",
        "another number"
    );
    assert_eq!(p.campaign("c-globex-1").await.status, "ACTIVE");
    let alerts = p.store.open_alerts("acme").await.unwrap();
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a.kind == "account_blocked")
            .count(),
        1
    );
}

// ----------------------------------------------------------------- phone-number health

#[tokio::test]
async fn phone_quality_events_in_every_shape_keep_the_newest_state_and_its_history() {
    let p = pipeline().await;
    // Newest first, then the older flag arriving late: it does not flag the number again.
    p.each(&[
        "phone_quality_unflagged.json",
        "phone_quality_flagged.json",
        "phone_quality_upgrade.json",
    ])
    .await;
    let number = p
        .store
        .phone_number("acme", ACME_STORE_PHONE)
        .await
        .unwrap()
        .unwrap();
    assert!(!number.flagged, "the older FLAGGED did not win");
    assert_eq!(
        number.messaging_limit, "TIER_100K",
        "max_daily_conversations_per_business read"
    );
    assert_eq!(number.updated_at, Some(1_732_614_600));
    assert_eq!(
        p.items(keys::phone_history("acme", ACME_STORE_PHONE))
            .await
            .len(),
        3,
        "every event is in the history"
    );
    let kinds: Vec<String> = p
        .store
        .open_alerts("acme")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    // Open alerts are those to acknowledge: the stale FLAGGED raised none; the newer events
    // are informational.
    assert!(!kinds.contains(&"phone_quality".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn with_pause_on_flagged_a_flagged_number_holds_its_campaigns_until_unflagged() {
    let p = pipeline().await;
    p.store.set_pause_on_flagged("acme", true).await.unwrap();
    p.store.set_auto_resume("acme", true).await.unwrap();
    p.each(&["phone_quality_flagged.json"]).await;
    let hold = format!("flagged:{ACME_STORE_PHONE}");
    for id in ["c-acme-1", "c-acme-3"] {
        let c = p.campaign(id).await;
        assert_eq!(c.status, "PAUSED", "{id}");
        assert_eq!(c.holds.unwrap_or_default(), vec![hold.clone()]);
    }
    assert_eq!(p.campaign("c-acme-2").await.status, "ACTIVE");
    let number = p
        .store
        .phone_number("acme", ACME_STORE_PHONE)
        .await
        .unwrap()
        .unwrap();
    assert!(number.flagged);
    assert_eq!(number.quality, "RED");
    p.each(&["phone_quality_unflagged.json"]).await;
    for id in ["c-acme-1", "c-acme-3"] {
        assert_eq!(
            p.campaign(id).await.status,
            "ACTIVE",
            "{id} resumed (auto_resume on)"
        );
    }
    // Without the setting, a flag holds nothing.
    let q = pipeline().await;
    q.each(&["phone_quality_flagged.json"]).await;
    assert_eq!(q.campaign("c-acme-1").await.status, "ACTIVE");
}

#[tokio::test]
async fn change_level_errors_alert_on_the_phone_number_in_the_catalogues_words() {
    let p = pipeline().await;
    p.each(&["messages_change_errors.json", "messages_change_errors.json"])
        .await;
    let alerts: Vec<_> = p
        .store
        .open_alerts("acme")
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "rate_limited")
        .collect();
    assert_eq!(alerts.len(), 1, "once");
    assert_eq!(alerts[0].subject, format!("phone:{ACME_STORE_PHONE}"));
    assert!(alerts[0].title.contains("130429"), "{}", alerts[0].title);
    assert_eq!(p.reached("c-acme-1").await, (0, 0, 0, 0));
}

#[tokio::test]
async fn account_alerts_capabilities_and_reviews_are_kept_on_the_waba_with_history() {
    let p = pipeline().await;
    p.each(&[
        "account_review_update.json",
        "account_alerts.json",
        "business_capability_update.json",
        "bad/account_alerts_malformed_info.json",
    ])
    .await;
    let waba = p
        .items(keys::tenant("acme"))
        .await
        .into_iter()
        .find(|i| st(i, "sk").as_deref() == Some("WABA#102290129340398"))
        .unwrap();
    // Newest entry.time wins: the malformed alert (1732615100) is the last news kept.
    assert_eq!(st(&waba, "news_event").as_deref(), Some("ALERT_UNKNOWN"));
    assert_eq!(st(&waba, "review_decision").as_deref(), Some("APPROVED"));
    assert_eq!(
        st(&waba, "max_daily_conversation_per_phone").as_deref(),
        Some("1000")
    );
    assert_eq!(
        p.items(keys::waba_history("acme", "102290129340398"))
            .await
            .len(),
        4
    );
    let alerts = p.store.open_alerts("acme").await.unwrap();
    let warning = alerts
        .iter()
        .find(|a| a.kind == "account_alert")
        .expect("the warning is open");
    assert!(
        warning.title.contains("profile picture"),
        "{}",
        warning.title
    );
    let feed = p.items(keys::feed("acme")).await;
    assert_eq!(
        feed.iter()
            .filter(|f| st(f, "kind").as_deref() == Some("account_alert"))
            .count(),
        4
    );
}

#[tokio::test]
async fn a_username_only_sender_is_known_by_its_business_scoped_user_id() {
    let p = pipeline().await;
    p.each(&["inbound_username_only.json"]).await;
    let window = p
        .store
        .window("acme", ACME_STORE_PHONE, "US.13491208655302741918")
        .await
        .unwrap()
        .expect("a window keyed by the BSUID");
    assert_eq!(window.closes_at, 1_732_611_000 + 86_400);
}
