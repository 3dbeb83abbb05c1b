//! Counter drift: a stream batch dropped on purpose (the last page of moves, never folded) leaves a campaign's counters
//! short of what its messages say. The recount finds exactly that drift, the drift function
//! reports it in `CounterDrift`, and `--repair` makes the counters equal to a run that dropped
//! nothing, with an audit entry. Against the local emulator's DynamoDB and its stream.

use pipeline_tests::counting::StreamCounter;
use pipeline_tests::deployed::{status_body, ACME_PHONE, ACME_TEMPLATE, ACME_WABA};
use pipeline_tests::world::World;
use pipeline_tests::*;
use shared::process::{Processor, QueuedRecord};
use shared::queue::Queue;
use shared::recount::{Recount, Scope};
use shared::store::{keys, NewCampaign, Registration, Store};
use std::collections::BTreeMap;

const CAMPAIGN: &str = "c-drift";
const MESSAGES: usize = 40;

/// A table where 40 messages of one campaign were sent, delivered, some read, and the stream
/// folded page by page (pages of at most 10 records), except, with `drop_one`, the last page:
/// a batch of status moves.
async fn run(drop_one: bool) -> (Store, String) {
    let aws = local_aws().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let table = create_test_table(&ddb).await;
    let store = Store::new(ddb, &table);
    World::load().seed(&store, true).await;
    let counter = StreamCounter::new(&aws, &table, store.clone())
        .await
        .with_page(10);
    store
        .create_campaign(
            "acme",
            &NewCampaign {
                campaign_id: CAMPAIGN.into(),
                name: None,
                template_id: ACME_TEMPLATE,
                phone_number_id: ACME_PHONE.into(),
                waba_id: Some(ACME_WABA.into()),
                status: "ACTIVE".into(),
            },
        )
        .await
        .unwrap();
    let wamids: Vec<String> = (0..MESSAGES).map(|i| format!("wamid.drift-{i}")).collect();
    for wamid in &wamids {
        store
            .register_message(
                "acme",
                &Registration {
                    wamid: wamid.clone(),
                    campaign_id: CAMPAIGN.into(),
                    recipient_id: None,
                    template_id: Some(ACME_TEMPLATE),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
    }
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let processor = Processor::new(
        store.clone(),
        Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        8,
    );
    let mut records = Vec::new();
    for (i, wamid) in wamids.iter().enumerate() {
        let last = match i % 4 {
            0 => "read",
            1 | 2 => "delivered",
            _ => "sent",
        };
        records.push(QueuedRecord {
            message_id: format!("m{i}"),
            body: status_body(&[(wamid, "sent"), (wamid, last)]),
        });
    }
    assert!(processor.process(&records).await.failed.is_empty());
    let pages = counter.read().await;
    assert!(pages.len() > 1, "the stream came in pages");
    let last = pages.len() - 1;
    for (i, page) in pages.into_iter().enumerate() {
        if !(drop_one && i == last) {
            counter.fold().apply(&page).await.unwrap();
        }
    }
    (store, table)
}

async fn counters(store: &Store) -> BTreeMap<String, i64> {
    store
        .campaign_counters("acme", CAMPAIGN)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_batch_is_found_reported_and_repaired_to_a_clean_runs_counters() {
    let (clean, _) = run(false).await;
    let (dropped, _) = run(true).await;
    let recount = |store: &Store| Recount::new(store.clone()).at_rest_after(0);
    let scope = Scope {
        tenant: Some("acme".into()),
        campaign: Some(CAMPAIGN.into()),
        active_since: None,
    };

    let found = recount(&clean).run(&scope, false, "test").await.unwrap();
    assert!(
        found[0].drift.is_empty(),
        "a clean run has no drift: {:?}",
        found[0].drift
    );
    assert_eq!(found[0].messages, MESSAGES);
    let want = counters(&clean).await;
    assert_eq!(want.get("registered"), Some(&(MESSAGES as i64)));

    let found = recount(&dropped).run(&scope, false, "test").await.unwrap();
    assert!(
        !found[0].drift.is_empty(),
        "the dropped batch's moves are missing"
    );
    for (attribute, stored, recounted) in &found[0].drift {
        assert_eq!(
            want.get(attribute).copied().unwrap_or(0),
            *recounted,
            "{attribute}"
        );
        assert_ne!(stored, recounted);
    }
    // The daily check (the drift function's handler) reports it, in its metric too.
    let report = drift::handle(&recount(&dropped), 7).await.unwrap();
    assert_eq!((report.drifting, report.moving), (1, 0), "{report:?}");
    let emf = shared::recount::metrics(&found).to_emf(0).unwrap();
    assert!(emf.contains("\"CounterDrift\":1"), "{emf}");

    let repaired = recount(&dropped).run(&scope, true, "test").await.unwrap();
    assert!(repaired[0].repaired);
    assert_eq!(counters(&dropped).await, want, "equal to the clean run's");
    let again = recount(&dropped).run(&scope, false, "test").await.unwrap();
    assert!(again[0].drift.is_empty());
    assert_eq!(
        drift::handle(&recount(&dropped), 7).await.unwrap().drifting,
        0
    );
    let entries = dropped
        .list_every(shared::store::queries::ListQuery::partition(keys::audit(
            "acme",
        )))
        .await
        .unwrap();
    assert!(entries.iter().any(|e| {
        e.get("action")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            == Some("counters_repaired")
    }));
}
