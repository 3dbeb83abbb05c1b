//! Processor throughput and DynamoDB requests per status on the deployed local stack
//! (`make bench-processor`): statuses go onto the deployed queue and the emulator's real SQS
//! event source mapping delivers them to the deployed processor (release build), which writes
//! the deployed table. Webhook bodies carry 1, 10 or 100 statuses (Meta sends one or many per
//! POST) for registered messages of the seeded world's acme number: sent, delivered, then read.
//!
//! The DynamoDB calls of the processor and of the counters function (which folds the table's
//! stream into the campaign counters) are routed through a recording proxy each (their
//! `AWS_ENDPOINT_URL_DYNAMODB`, set on the deployed functions by infra/local/function-env.py), so
//! requests per status are each function's own, whatever the emulator's speed, and the capacity
//! model (`tools/capacity`) prices them: write units per status by table and index.

use capacity::report::Tally;
use capacity::schema::TableSchema;
use pipeline_tests::deployed::{campaign_with_messages, stack as env, status_body};
use pipeline_tests::recorder::Recorder;
use pipeline_tests::world::World;
use shared::store::Store;
use std::process::Command;
use std::time::{Duration, Instant};

const MESSAGES: usize = 300;

/// Sets variables of a deployed function (the emulator restarts its processes).
fn set_function_env(function: &str, vars: &[(&str, &str)]) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let status = Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/infra/local/function-env.py"))
        .arg(function)
        .args(vars.iter().map(|(k, v)| format!("{k}={v}")))
        .status()
        .expect("run infra/local/function-env.py");
    assert!(status.success(), "function-env.py failed");
}

async fn enqueue(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String]) {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    for (n, chunk) in bodies.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("{n}-{i}"))
                    .message_body(b)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("send batch");
        assert!(out.failed().is_empty(), "queue refused a message");
    }
}

#[tokio::main]
async fn main() {
    let aws = pipeline_tests::local_aws().await;
    let table = env("TABLE_NAME");
    let queue = env("WEBHOOK_QUEUE_URL");
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), &table);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    World::load().seed(&store, true).await;

    let endpoint = env("AWS_ENDPOINT_URL");
    let schema = TableSchema::from_template(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml").as_ref(),
        "Table",
    )
    .expect("the table of infra/template.yaml");
    let clock = std::sync::Arc::default();
    let proxy = Recorder::start(&endpoint, "processor", std::sync::Arc::clone(&clock)).await;
    let counters_proxy = Recorder::start(&endpoint, "counters", clock).await;
    set_function_env(
        "processor",
        &[("AWS_ENDPOINT_URL_DYNAMODB", &proxy.endpoint)],
    );
    set_function_env(
        "counters",
        &[("AWS_ENDPOINT_URL_DYNAMODB", &counters_proxy.endpoint)],
    );

    println!("Deployed processor and counters functions (release), real SQS and stream mappings (the emulator caps an SQS batch at 10 records), {MESSAGES} messages x 3 statuses per row.\n");
    println!(
        "| statuses per body | statuses | seconds (to counted) | statuses/s | processor: DynamoDB requests per status | counters: DynamoDB requests per status | WRU per status (table + indexes) |"
    );
    println!("|---:|---:|---:|---:|---|---|---:|");
    for per_body in [1usize, 10, 100] {
        let (campaign, wamids) =
            campaign_with_messages(&store, &format!("bench-{per_body}"), MESSAGES).await;
        let mut bodies = Vec::new();
        for status in ["sent", "delivered", "read"] {
            let statuses: Vec<(&str, &str)> = wamids.iter().map(|w| (w.as_str(), status)).collect();
            bodies.extend(statuses.chunks(per_body).map(status_body));
        }
        let statuses = MESSAGES * 3;

        proxy.take();
        counters_proxy.take();
        let started = Instant::now();
        enqueue(&sqs, &queue, &bodies).await;
        loop {
            let c = store.campaign("acme", &campaign).await.unwrap().unwrap();
            if c.reached_read == MESSAGES as i64 {
                assert_eq!(
                    (c.reached_sent, c.reached_delivered),
                    (MESSAGES as i64, MESSAGES as i64)
                );
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "not applied in 10 minutes: {c:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let mut tally = Tally::new(&schema, &[]);
        let mut per_function = Vec::new();
        for recorder in [&proxy, &counters_proxy] {
            let requests = recorder.take();
            let mut counts = std::collections::BTreeMap::<String, usize>::new();
            for r in &requests {
                *counts.entry(r.operation.clone()).or_default() += 1;
                tally.add(r);
            }
            per_function.push(
                counts
                    .iter()
                    .map(|(op, n)| format!("{op} {:.3}", *n as f64 / statuses as f64))
                    .collect::<Vec<String>>()
                    .join(", "),
            );
        }
        let (usage, _) = tally.finish(statuses as u64);
        println!(
            "| {per_body} | {statuses} | {seconds:.2} | {:.0} | {} | {} | {:.3} |",
            statuses as f64 / seconds,
            per_function[0],
            per_function[1],
            usage.per_status(usage.total_write_units() as f64)
        );
    }

    // The 1000-status body (288 KB, heavy duplication over the world's messages) the way Meta
    // sends it: signed, to the webhook's function URL, which splits it into queue messages.
    // Done when the processor's requests stop for a second.
    let big = pipeline_tests::fixture("meta/status_batch_1000.json");
    proxy.take();
    let started = Instant::now();
    let answer = reqwest::Client::new()
        .post(env("WEBHOOK_FUNCTION_URL"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            pipeline_tests::signature_of("meta/status_batch_1000.json"),
        )
        .body(big)
        .send()
        .await
        .expect("POST the webhook");
    assert_eq!(answer.status(), 200);
    let total = || proxy.len();
    let (mut last, mut last_change) = (0, Instant::now());
    while last == 0 || last_change.elapsed() < Duration::from_secs(1) {
        assert!(started.elapsed() < Duration::from_secs(120), "no requests");
        let now = total();
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut requests = std::collections::BTreeMap::<String, usize>::new();
    for r in proxy.take() {
        *requests.entry(r.operation).or_default() += 1;
    }
    println!(
        "\nstatus_batch_1000.json through the webhook: {last} DynamoDB requests ({requests:?}), {:.0} ms from the POST to the last request",
        (last_change - started).as_secs_f64() * 1000.0
    );
}
