//! The campaign circuit breaker through the real processor and counters fold, against the local
//! endpoint: a failure spike pauses its campaign once (whatever the order and redelivery), an
//! account failure holds every active campaign of that number only, a refused template holds
//! its campaign, and a person's resume starts the count again.

use pipeline_tests::counting::StreamCounter;
use pipeline_tests::world::World;
use pipeline_tests::{create_test_table, local_aws, TestQueues};
use shared::domain::breaker::BreakerSettings;
use shared::process::{Processor, QueuedRecord};
use shared::queue::Queue;
use shared::store::{keys, NewCampaign, Registration, Store};

const ACME_WABA: &str = "102290129340398";
const ACME_PHONE: &str = "106540352242922";
/// Another number of acme's (routed by the test).
const OTHER_PHONE: &str = "106540352242999";
const TEMPLATE: u64 = 1407680283588702;

struct Breaker {
    store: Store,
    processor: Processor,
    counter: StreamCounter,
    _queues: TestQueues,
}

async fn breaker() -> Breaker {
    let aws = local_aws().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let table = create_test_table(&ddb).await;
    let store = Store::new(ddb, &table);
    World::load().seed(&store, true).await;
    store
        .put_phone_route(
            OTHER_PHONE,
            &shared::store::PhoneRoute {
                tenant_id: "acme".into(),
                waba_id: ACME_WABA.into(),
                display_phone_number: None,
            },
        )
        .await
        .expect("route");
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let processor = Processor::new(
        store.clone(),
        Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        16,
    );
    let counter = StreamCounter::new(&aws, &table, store.clone()).await;
    Breaker {
        store,
        processor,
        counter,
        _queues: queues,
    }
}

fn wamid(campaign: &str, m: usize) -> String {
    format!("wamid.HBgL{:A>48}", format!("brk{campaign}m{m}"))
}

/// A status body as Meta posts it; `code` makes it a failure with that error.
fn status(phone: &str, wamid: &str, status: &str, code: Option<i64>) -> String {
    let errors = code.map_or(String::new(), |c| {
        format!(r#","errors":[{{"code":{c},"title":"Failure {c}","message":"Failure {c}"}}]"#)
    });
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{ACME_WABA}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"{phone}"}},"statuses":[{{"id":"{wamid}","status":"{status}","timestamp":"1732610000","recipient_id":"15551230001"{errors}}}]}},"field":"messages"}}]}}]}}"#
    )
}

impl Breaker {
    async fn campaign(&self, id: &str, phone: &str, messages: usize) {
        self.store
            .create_campaign(
                "acme",
                &NewCampaign {
                    campaign_id: id.into(),
                    name: None,
                    template_id: TEMPLATE,
                    phone_number_id: phone.into(),
                    waba_id: Some(ACME_WABA.into()),
                    status: "ACTIVE".into(),
                },
            )
            .await
            .expect("campaign");
        for m in 0..messages {
            self.store
                .register_message(
                    "acme",
                    &Registration {
                        wamid: wamid(id, m),
                        campaign_id: id.into(),
                        recipient_id: Some("15551230001".into()),
                        template_id: Some(TEMPLATE),
                        expires_at: None,
                    },
                )
                .await
                .expect("register");
        }
    }

    /// Applies bodies as batches of `per_batch`, folding the stream after each batch.
    async fn deliver(&self, bodies: &[String], per_batch: usize) {
        for (b, chunk) in bodies.chunks(per_batch).enumerate() {
            let records: Vec<QueuedRecord> = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| QueuedRecord {
                    message_id: format!("b{b}-{i}"),
                    body: body.clone(),
                })
                .collect();
            let outcome = self.processor.process(&records).await;
            assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
            self.counter.catch_up().await;
        }
    }

    async fn record(&self, id: &str) -> shared::store::CampaignRecord {
        self.store
            .campaign("acme", id)
            .await
            .expect("read")
            .expect("campaign")
    }

    async fn alerts(&self, kind: &str) -> Vec<shared::store::AlertRecord> {
        self.store
            .open_alerts("acme")
            .await
            .expect("alerts")
            .into_iter()
            .filter(|a| a.kind == kind)
            .collect()
    }

    async fn audit_pauses(&self, campaign: &str) -> usize {
        self.store
            .partition(&keys::audit("acme"))
            .await
            .expect("audit")
            .iter()
            .filter(|i| {
                i.get("action")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some("campaign_paused")
                    && i.get("campaign_id")
                        .and_then(|v| v.as_s().ok())
                        .map(String::as_str)
                        == Some(campaign)
            })
            .count()
    }
}

/// 100 messages sent; 25 fail with 131048 (spam rate limit) or 131049, the rest are delivered.
fn spike_bodies(campaign: &str) -> Vec<String> {
    let mut bodies: Vec<String> = (0..100)
        .map(|m| status(ACME_PHONE, &wamid(campaign, m), "sent", None))
        .collect();
    for m in 0..100 {
        let code = match m % 4 {
            0 => Some(131048),
            1 if m < 20 => Some(131049),
            _ => None,
        };
        let s = if code.is_some() {
            "failed"
        } else {
            "delivered"
        };
        bodies.push(status(ACME_PHONE, &wamid(campaign, m), s, code));
    }
    bodies
}

#[tokio::test]
async fn a_failure_spike_pauses_its_campaign_once_in_any_order_and_redelivery() {
    let b = breaker().await;
    b.campaign("c-spike", ACME_PHONE, 100).await;
    b.campaign("c-calm", ACME_PHONE, 10).await;
    let mut bodies = spike_bodies("c-spike");
    // Reordered (failures before some sends) and redelivered (every tenth body twice).
    bodies.reverse();
    let again: Vec<String> = bodies.iter().step_by(10).cloned().collect();
    bodies.extend(again);
    // The calm campaign: one rate-limit failure in ten is under min_failures.
    bodies.push(status(
        ACME_PHONE,
        &wamid("c-calm", 0),
        "failed",
        Some(131048),
    ));
    b.deliver(&bodies, 7).await;

    let c = b.record("c-spike").await;
    assert_eq!(c.status, "PAUSED");
    assert_eq!(c.auto_paused_by.as_deref(), Some("failure_spike"));
    assert!(c
        .holds
        .unwrap_or_default()
        .contains(&"failure_spike".to_owned()));
    assert_eq!(b.audit_pauses("c-spike").await, 1, "paused once");
    let alerts = b.alerts("failure_spike").await;
    assert_eq!(alerts.len(), 1, "one alert");
    assert_eq!(alerts[0].severity, "critical");
    assert_eq!(alerts[0].subject, "campaign:c-spike");
    assert!(
        alerts[0].title.contains("131048") && alerts[0].title.contains("Spam rate limit hit"),
        "the alert names the top code and its meaning: {}",
        alerts[0].title
    );
    // The realtime message.
    let feed = b.store.partition(&keys::feed("acme")).await.expect("feed");
    let paused: Vec<_> = feed
        .iter()
        .filter(|i| {
            i.get("kind")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("campaign_paused")
        })
        .collect();
    assert_eq!(paused.len(), 1);
    assert_eq!(b.record("c-calm").await.status, "ACTIVE");

    // Everything delivered again (a redriven queue): nothing more happens.
    b.deliver(&spike_bodies("c-spike"), 50).await;
    assert_eq!(b.audit_pauses("c-spike").await, 1);
    assert_eq!(b.alerts("failure_spike").await.len(), 1);
}

#[tokio::test]
async fn a_disabled_breaker_or_higher_thresholds_leave_the_campaign_sending() {
    let b = breaker().await;
    b.campaign("c-spike", ACME_PHONE, 100).await;
    b.store
        .put_breaker_settings(
            "acme",
            &BreakerSettings {
                min_failures: 30,
                ..BreakerSettings::default()
            },
        )
        .await
        .expect("settings");
    b.deliver(&spike_bodies("c-spike"), 20).await;
    // 25 + 5 = 30 breaker failures... of which 25 are 131048 and 5 are 131049: 30 reach it.
    assert_eq!(b.record("c-spike").await.status, "PAUSED");

    let b = breaker().await;
    b.campaign("c-spike", ACME_PHONE, 100).await;
    b.store
        .put_breaker_settings(
            "acme",
            &BreakerSettings {
                enabled: false,
                ..BreakerSettings::default()
            },
        )
        .await
        .expect("settings");
    b.deliver(&spike_bodies("c-spike"), 20).await;
    assert_eq!(b.record("c-spike").await.status, "ACTIVE");
}

#[tokio::test]
async fn an_account_failure_holds_every_active_campaign_of_that_number_only() {
    let b = breaker().await;
    b.campaign("c-a", ACME_PHONE, 2).await;
    b.campaign("c-b", ACME_PHONE, 1).await;
    b.campaign("c-other", OTHER_PHONE, 1).await;
    let bodies = vec![
        status(ACME_PHONE, &wamid("c-a", 0), "sent", None),
        status(ACME_PHONE, &wamid("c-a", 1), "failed", Some(131031)),
        status(OTHER_PHONE, &wamid("c-other", 0), "delivered", None),
    ];
    b.deliver(&bodies, 3).await;
    let hold = format!("blocked:{ACME_PHONE}");
    for c in ["c-a", "c-b"] {
        let r = b.record(c).await;
        assert_eq!(r.status, "PAUSED", "{c}");
        assert!(r.holds.unwrap_or_default().contains(&hold), "{c}");
    }
    assert_eq!(b.record("c-other").await.status, "ACTIVE");
    let alerts = b.alerts("account_blocked").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].subject, format!("phone:{ACME_PHONE}"));
    assert!(alerts[0].title.contains("131031"), "{}", alerts[0].title);
    // The same failure again changes nothing.
    b.deliver(&bodies[1..2], 1).await;
    assert_eq!(b.alerts("account_blocked").await.len(), 1);
}

#[tokio::test]
async fn a_template_refused_at_send_holds_its_campaign_on_the_template() {
    let b = breaker().await;
    b.campaign("c-t", ACME_PHONE, 1).await;
    b.deliver(
        &[status(ACME_PHONE, &wamid("c-t", 0), "failed", Some(132015))],
        1,
    )
    .await;
    let r = b.record("c-t").await;
    assert_eq!(r.status, "PAUSED");
    assert_eq!(
        r.holds.unwrap_or_default(),
        vec![format!("template:{TEMPLATE}")]
    );
}

#[tokio::test]
async fn after_a_resume_only_new_failures_trip_it_again() {
    let b = breaker().await;
    b.campaign("c-spike", ACME_PHONE, 200).await;
    b.deliver(&spike_bodies("c-spike"), 50).await;
    assert_eq!(b.record("c-spike").await.status, "PAUSED");
    // A person resumes it (forced: the hold is automatic), as the API does.
    assert!(b
        .store
        .resume_campaign_by_user("acme", "c-spike", "ops", true)
        .await
        .expect("resume"));
    let found = b
        .store
        .campaign_failures("acme", "c-spike")
        .await
        .expect("read")
        .expect("campaign");
    b.store
        .set_breaker_baseline("acme", "c-spike", &found.counts)
        .await
        .expect("baseline");
    // 100 more messages, 5 rate-limit failures: under the thresholds since the resume.
    let more: Vec<String> = (100..200)
        .flat_map(|m| {
            let w = wamid("c-spike", m);
            let last = if m % 20 == 0 {
                status(ACME_PHONE, &w, "failed", Some(131056))
            } else {
                status(ACME_PHONE, &w, "delivered", None)
            };
            [status(ACME_PHONE, &w, "sent", None), last]
        })
        .collect();
    b.deliver(&more, 50).await;
    assert_eq!(b.record("c-spike").await.status, "ACTIVE");
}
