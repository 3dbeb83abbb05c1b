//! `make faults`: the same workload (FAULT_STATUSES statuses, default 5,000, with duplicates and
//! reordering over the world's campaigns plus synthetic messages, and template events) through
//! webhook → queue → processor with 0, 5 and 20 % of DynamoDB and SQS requests answered by a
//! throttle, a 500 or a timeout. Prints the runs side by side; fails unless every run's table
//! equals the fault-free one and the counters `gen_batch --expected` gives, with nothing parked.

use pipeline_tests::counting::StreamCounter;
use pipeline_tests::fault_run::{
    counters_as_expected, differences, prepared_table, run, run_archived, snapshot,
};
use pipeline_tests::world::World;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let statuses: usize = std::env::var("FAULT_STATUSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let world = World::load();
    let mut reports = Vec::new();
    // The fault-free run archives its bodies, as the processor function does: replayed below.
    let aws = pipeline_tests::local_aws().await;
    let (archive, bucket) = pipeline_tests::test_archive(&aws).await;
    let started_ms = shared::store::now() * 1000;
    for percent in [0, 5, 20] {
        eprintln!("faults: {percent} % ...");
        reports.push(match percent {
            0 => run_archived(percent, statuses, statuses / 5, 7, Some(&archive)).await,
            _ => run(percent, statuses, statuses / 5, 7).await,
        });
    }
    let clean = &reports[0];
    println!(
        "{:>8} {:>8} {:>7} {:>9} {:>10} {:>6} {:>9} {:>13} {:>8} {:>8} {:>5} {:>14}",
        "faults",
        "statuses",
        "bodies",
        "requests",
        "throttled",
        "500s",
        "timeouts",
        "webhook retry",
        "batches",
        "seconds",
        "DLQ",
        "table"
    );
    let mut ok = true;
    for r in &reports {
        let diff = differences(&clean.snapshot, &r.snapshot, 5);
        let wrong = counters_as_expected(r, &world);
        let verdict = if diff.is_empty() && wrong.is_empty() && r.dead_letters == 0 {
            "equal".to_owned()
        } else {
            ok = false;
            format!("DIFFERS ({})", diff.len() + wrong.len())
        };
        println!(
            "{:>7}% {:>8} {:>7} {:>9} {:>10} {:>6} {:>9} {:>13} {:>8} {:>8.1} {:>5} {:>14}",
            r.percent,
            r.statuses,
            r.bodies,
            r.requests,
            r.throttled,
            r.server_errors,
            r.timeouts,
            r.webhook_retries,
            r.batches,
            r.seconds,
            r.dead_letters,
            verdict
        );
        for line in diff.iter().chain(wrong.iter()) {
            println!("    {line}");
        }
    }
    let logs = |r: &pipeline_tests::fault_run::RunReport| {
        r.snapshot
            .iter()
            .filter(|((pk, _), _)| pk == "LOG")
            .map(|((_, kind), c)| format!("{kind} {}", c.get("count").cloned().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "state items compared: {}; logs of arrival (not compared), per run:",
        clean.snapshot.keys().filter(|(pk, _)| pk != "LOG").count()
    );
    for r in &reports {
        println!("  {:>3}%: {}", r.percent, logs(r));
    }
    println!("counters fold (through the same proxy), per run:");
    for r in &reports {
        let f = &r.folded;
        println!(
            "  {:>3}%: {} changes in {} pages; {} runs written, {} failed attempts folded again, {} runs found already written by an attempt whose answer was lost",
            r.percent, f.changes, f.pages, f.runs_applied, f.failed_attempts, f.runs_found_applied
        );
    }
    ok &= replayed_equal(&aws, &bucket, started_ms, statuses, &reports[0]).await;
    if !ok {
        std::process::exit(1);
    }
}

/// The fault-free run's archived bodies replayed into an empty table (the same world and
/// registrations): the table must equal the run's by the same comparison.
async fn replayed_equal(
    aws: &aws_config::SdkConfig,
    bucket: &str,
    started_ms: u64,
    statuses: usize,
    clean: &pipeline_tests::fault_run::RunReport,
) -> bool {
    let source = replay::ArchiveSource::new(replay::ArchiveSource::client(aws), bucket);
    let bodies = source
        .read(started_ms.saturating_sub(1000), shared::store::now() * 1000)
        .await
        .expect("read the archive");
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    let fresh = prepared_table(&ddb, statuses, statuses / 5, 7).await;
    let store = shared::store::Store::new(ddb.clone(), &fresh);
    let queues = pipeline_tests::TestQueues::create(aws_sdk_sqs::Client::new(aws)).await;
    let processor = shared::process::Processor::new(
        store.clone(),
        shared::queue::Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        16,
    );
    let counter = StreamCounter::new(aws, &fresh, store).await;
    let started = std::time::Instant::now();
    let summary = replay::replay(&processor, &bodies, None, false, |_, _| {})
        .await
        .expect("replay");
    counter.catch_up().await;
    let seconds = started.elapsed().as_secs_f64();
    let diff = differences(&clean.snapshot, &snapshot(&ddb, &fresh).await, 5);
    println!(
        "replay: the 0 % run's {} archived bodies ({} statuses) into an empty table in {seconds:.1} s \
         (applied {}, parked {}, failed {}): {}",
        bodies.len(),
        summary.statuses,
        summary.applied,
        summary.parked,
        summary.failed.len(),
        if diff.is_empty() { "equal to the run's table".to_owned() } else { format!("DIFFERS ({})", diff.len()) }
    );
    for line in &diff {
        println!("    {line}");
    }
    diff.is_empty() && summary.failed.is_empty()
}
