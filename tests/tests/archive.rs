//! The raw-body archive and replay (`shared::archive`, `tools/replay`), against the local
//! emulator's Firehose and S3:
//! - every body the processor handles is archived byte for byte, with its signature and message
//!   id; a body the archive cannot keep is reported failed (SQS keeps it) while the batch is
//!   still applied;
//! - the fault workload's archived bodies, replayed into an empty table (the same world and
//!   registrations), rebuild the state the run left, by the fault run's own comparison.

use aws_lambda_events::sqs::SqsEvent;
use pipeline_tests::counting::StreamCounter;
use pipeline_tests::fault_run::{
    counters_as_expected, differences, prepared_table, run_archived, snapshot,
};
use pipeline_tests::world::World;
use pipeline_tests::*;
use processor::archive::Archive;
use replay::{replay, ArchiveSource};
use shared::process::Processor;
use shared::queue::Queue;
use shared::store::Store;
use std::time::Instant;

#[tokio::test]
async fn a_batch_is_archived_with_its_signature_or_retried_when_the_archive_fails() {
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
    let mut event: SqsEvent =
        serde_json::from_slice(&fixture("lambda/sqs_batch_with_poison.json")).unwrap();
    let signature = "sha256=".to_owned() + &"ab".repeat(32);
    for r in &mut event.records {
        let mut attribute = aws_lambda_events::sqs::SqsMessageAttribute::default();
        attribute.string_value = Some(signature.clone());
        attribute.data_type = Some("String".into());
        r.message_attributes.insert("signature".into(), attribute);
        r.attributes
            .insert("SentTimestamp".into(), "1765000000000".into());
    }
    let ids: Vec<String> = event
        .records
        .iter()
        .filter_map(|r| r.message_id.clone())
        .collect();

    // No such stream: every message is reported failed, and the batch is applied all the same.
    let missing = Archive::new(aws_sdk_firehose::Client::new(&aws), "no-such-stream");
    let response = processor::handle(
        &processor,
        Some(&missing),
        lambda_runtime::LambdaEvent::new(event.clone(), Default::default()),
    )
    .await
    .unwrap();
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(failed, want, "not archived: kept on the queue");
    let parked = queues.drain(&queues.dead_letter_url).await;
    assert_eq!(
        parked.len(),
        1,
        "the poison body was handled (parked) meanwhile"
    );

    // The stream exists: nothing fails, and each body is in the bucket, byte for byte.
    let (archive, bucket) = test_archive(&aws).await;
    let response = processor::handle(
        &processor,
        Some(&archive),
        lambda_runtime::LambdaEvent::new(event.clone(), Default::default()),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let all = list_all_bodies(&aws, &bucket).await;
    assert_eq!(all.len(), event.records.len());
    for r in &event.records {
        let kept = all
            .iter()
            .find(|b| Some(&b.message_id) == r.message_id.as_ref())
            .expect("every message archived");
        assert_eq!(Some(&kept.body), r.body.as_ref(), "byte for byte");
        assert_eq!(kept.signature.as_deref(), Some(signature.as_str()));
        assert_eq!(kept.received_at_ms, 1_765_000_000_000);
    }
}

/// Every archived body in the bucket, whatever its hour.
async fn list_all_bodies(
    aws: &aws_config::SdkConfig,
    bucket: &str,
) -> Vec<shared::archive::ArchivedBody> {
    let s3 = ArchiveSource::client(aws);
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("bodies/")
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for o in listed.contents() {
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(o.key().unwrap())
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        out.extend(replay::parse_object(&bytes).unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_workloads_archived_bodies_replayed_into_an_empty_table_rebuild_its_state() {
    let aws = local_aws().await;
    let (archive, bucket) = test_archive(&aws).await;
    let started_ms = shared::store::now() * 1000;
    let original = run_archived(0, 600, 60, 11, Some(&archive)).await;
    assert_eq!(original.dead_letters, 0);

    let source = ArchiveSource::new(ArchiveSource::client(&aws), &bucket);
    let bodies = source
        .read(started_ms.saturating_sub(1000), shared::store::now() * 1000)
        .await
        .unwrap();
    assert!(
        bodies.len() >= original.bodies,
        "{} archived of {}",
        bodies.len(),
        original.bodies
    );

    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let fresh = prepared_table(&ddb, 600, 60, 11).await;
    let store = Store::new(ddb.clone(), &fresh);
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let processor = Processor::new(
        store.clone(),
        Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        16,
    );
    let counter = StreamCounter::new(&aws, &fresh, store.clone())
        .await
        .with_page(100);

    let dry = replay(&processor, &bodies, None, true, |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (dry.bodies, dry.applied),
        (bodies.len(), 0),
        "a dry run applies nothing"
    );
    assert!(dry.statuses >= 600 && dry.template_events == 3, "{dry:?}");
    let only_globex = replay(&processor, &bodies, Some("no-such-tenant"), true, |_, _| {})
        .await
        .unwrap();
    assert_eq!((only_globex.bodies, only_globex.skipped), (0, bodies.len()));

    let replay_started = Instant::now();
    let summary = replay(&processor, &bodies, None, false, |_, _| {})
        .await
        .unwrap();
    let folded = counter.catch_up().await;
    let seconds = replay_started.elapsed().as_secs_f64();
    assert!(
        summary.failed.is_empty() && summary.parked == 0,
        "{summary:?}"
    );
    assert_eq!(summary.applied, bodies.len());
    assert!(folded.runs_applied > 0);

    let rebuilt = snapshot(&ddb, &fresh).await;
    let diff = differences(&original.snapshot, &rebuilt, 10);
    assert!(
        diff.is_empty(),
        "the rebuilt table differs:\n{}",
        diff.join("\n")
    );
    let mut replayed_report = original;
    replayed_report.snapshot = rebuilt;
    let wrong = counters_as_expected(&replayed_report, &World::load());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    println!(
        "replay: {} archived bodies ({} statuses) replayed into an empty table in {seconds:.1} s; \
         {} state items equal to the original run's",
        bodies.len(),
        summary.statuses,
        replayed_report
            .snapshot
            .keys()
            .filter(|(pk, _)| pk != "LOG")
            .count()
    );
}
