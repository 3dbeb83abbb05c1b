//! The capacity model on a small standard workload, through the real webhook, processor and
//! counters code (`pipeline_tests::capacity_run`): the write units per status of each place
//! (the table, each index of infra/template.yaml) must be the figures below. A new index, a
//! changed projection or a new write on the status path changes them: then this fails until the
//! figures here, and `docs/cost.md`, are updated with the change (`make capacity` measures the
//! full workload).

use capacity::report::Tally;
use capacity::schema::TableSchema;
use pipeline_tests::capacity_run::{run, Workload};

/// Write units per status of status processing (webhook, processor, counters) at runs of about
/// 100, by place; and per registered message.
const PROCESSING: [(&str, f64); 3] = [("gsi1", 0.0), ("gsi2", 0.0), ("table", 1.19)];
const REGISTRATION: [(&str, f64); 3] = [("gsi1", 0.0), ("gsi2", 1.0), ("table", 1.0)];
/// Rounding of item sizes and the make-up of stream runs move the figures a little.
const TOLERANCE: f64 = 0.05;

#[tokio::test]
async fn units_per_status_of_the_standard_workload_are_the_documented_ones() {
    let aws = pipeline_tests::local_aws().await;
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let schema = TableSchema::from_template(template.as_ref(), "Table").expect("the table");
    let workload = Workload::campaigns(300, 3, 60);
    let mut tally = Tally::new(&schema, &[]);
    let recording = run(&aws, &workload, &mut tally).await;
    assert_eq!(recording.statuses, workload.statuses());
    let (usage, _) = tally.finish(recording.statuses);

    let check = |what: &str, per: u64, keep: &dyn Fn(&str) -> bool, expected: &[(&str, f64)]| {
        let mut part = usage.by_function(keep);
        part.statuses = per;
        // Places in name order (the table is "table").
        let places: Vec<&str> = part.write_units.keys().map(String::as_str).collect();
        eprintln!("{what}:\n{}", part.units_table());
        let named: Vec<&str> = expected.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            places, named,
            "{what}: the template's indexes changed: update the figures"
        );
        for (place, figure) in expected {
            let measured = part.write_units[*place] as f64 / per as f64;
            assert!(
                (measured - figure).abs() <= TOLERANCE,
                "{what}: {place} takes {measured:.3} WRU, the documented figure is {figure}\n{}",
                part.units_table()
            );
        }
    };
    check(
        "status processing, per status",
        recording.statuses,
        &|f| f != "api",
        &PROCESSING,
    );
    check(
        "registration, per message",
        recording.registrations,
        &|f| f == "api",
        &REGISTRATION,
    );
}
