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

/// Write units of an inbound message that replies to a campaign message (its window, the
/// message's first reply, the realtime `reply`, and its share of the counters fold), measured
/// through the processor and the fold with the recording proxy. Issue 18 states it; a change to
/// the reply path that costs more fails here.
#[tokio::test]
async fn an_inbound_reply_costs_its_documented_write_units() {
    use pipeline_tests::capacity_run::dynamodb_through;
    use pipeline_tests::recorder::Recorder;
    use shared::process::{Processor, QueuedRecord};
    use shared::store::{Registration, Store};
    const REPLIES: usize = 100;
    /// window 1 + message 1 + feed 1, and the fold's run (ledger and ADD in a transaction).
    const WRU_PER_REPLY: f64 = 3.04;

    let aws = pipeline_tests::local_aws().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let table = pipeline_tests::create_test_table(&ddb).await;
    let plain = Store::new(ddb, &table);
    pipeline_tests::world::World::load()
        .seed(&plain, true)
        .await;
    let wamid = |m: usize| format!("wamid.HBgL{:A>48}", format!("reply{m}"));
    for m in 0..REPLIES {
        plain
            .register_message(
                "acme",
                &Registration {
                    wamid: wamid(m),
                    campaign_id: "c-acme-1".into(),
                    recipient_id: Some(format!("1555123{m:04}")),
                    template_id: Some(1407680283588702),
                    expires_at: None,
                },
            )
            .await
            .expect("register");
    }
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let processor_rec = Recorder::start(&endpoint, "processor", Default::default()).await;
    let counters_rec = Recorder::start(&endpoint, "counters", Default::default()).await;
    let queues = pipeline_tests::TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let processor = Processor::new(
        Store::new(dynamodb_through(&aws, &processor_rec), &table),
        shared::queue::Queue::new(queues.sqs.clone(), &queues.dead_letter_url, 256 * 1024),
        16,
    );
    let counter = pipeline_tests::counting::StreamCounter::new(
        &aws,
        &table,
        Store::new(dynamodb_through(&aws, &counters_rec), &table),
    )
    .await;
    // The registrations are not the replies' cost.
    counter.catch_up().await;
    counters_rec.take();
    let bodies: Vec<QueuedRecord> = (0..REPLIES)
        .map(|m| QueuedRecord {
            message_id: format!("r{m}"),
            body: format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"A"}},"wa_id":"1555123{m:04}"}}],"messages":[{{"context":{{"from":"15550001111","id":"{}"}},"from":"1555123{m:04}","id":"wamid.in{m}","timestamp":"1732610400","type":"button","button":{{"payload":"YES","text":"Yes"}}}}]}},"field":"messages"}}]}}]}}"#,
                wamid(m)
            ),
        })
        .collect();
    for batch in bodies.chunks(10) {
        let outcome = processor.process(batch).await;
        assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
        assert_eq!(outcome.replies, batch.len());
    }
    counter.catch_up().await;
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let schema = TableSchema::from_template(template.as_ref(), "Table").expect("the table");
    let mut tally = Tally::new(&schema, &[]);
    for r in processor_rec
        .take()
        .iter()
        .chain(counters_rec.take().iter())
    {
        tally.add(r);
    }
    let (usage, _) = tally.finish(REPLIES as u64);
    eprintln!("an inbound reply:\n{}", usage.units_table());
    let per_reply = usage.total_write_units() as f64 / REPLIES as f64;
    assert!(
        (per_reply - WRU_PER_REPLY).abs() <= 0.15,
        "an inbound reply takes {per_reply:.2} WRU, the documented figure is {WRU_PER_REPLY}\n{}",
        usage.units_table()
    );
    let campaign = plain.campaign("acme", "c-acme-1").await.unwrap().unwrap();
    assert_eq!(campaign.replied, REPLIES as i64);
}
