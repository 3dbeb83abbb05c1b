//! Faults end to end, short version (`make faults` runs 5,000 statuses at 0, 5 and 20 %): the
//! same workload through webhook → queue → processor with none and with 20 % of DynamoDB and SQS
//! requests faulted (throttles, 500s, timeouts) ends in exactly the same table, the one
//! `gen_batch --expected` describes, with nothing on the dead-letter queue. The counters fold
//! writes through the same faults.

use pipeline_tests::fault_run::{counters_as_expected, differences, run};
use pipeline_tests::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_faults_end_in_the_same_table_as_none() {
    let clean = run(0, 600, 60, 11).await;
    let faulty = run(20, 600, 60, 11).await;
    assert!(faulty.throttled > 0 && faulty.server_errors > 0 && faulty.timeouts > 0);
    assert!(clean.folded.runs_applied > 0 && clean.folded.failed_attempts == 0);
    assert_eq!((clean.dead_letters, faulty.dead_letters), (0, 0));
    let diff = differences(&clean.snapshot, &faulty.snapshot, 10);
    assert!(diff.is_empty(), "tables differ:\n{}", diff.join("\n"));
    let wrong = counters_as_expected(&clean, &World::load());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
