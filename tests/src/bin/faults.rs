//! `make faults`: the same workload (FAULT_STATUSES statuses, default 5,000, with duplicates and
//! reordering over the world's campaigns plus synthetic messages, and template events) through
//! webhook → queue → processor with 0, 5 and 20 % of DynamoDB and SQS requests answered by a
//! throttle, a 500 or a timeout. Prints the runs side by side; fails unless every run's table
//! equals the fault-free one and the counters `gen_batch --expected` gives, with nothing parked.

use pipeline_tests::fault_run::{counters_as_expected, differences, run};
use pipeline_tests::world::World;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let statuses: usize = std::env::var("FAULT_STATUSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let world = World::load();
    let mut reports = Vec::new();
    for percent in [0, 5, 20] {
        eprintln!("faults: {percent} % ...");
        reports.push(run(percent, statuses, statuses / 5, 7).await);
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
    if !ok {
        std::process::exit(1);
    }
}
