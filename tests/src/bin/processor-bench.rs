//! Processor throughput and DynamoDB requests per status against the local endpoint
//! (`make bench-processor`). Statuses arrive one per webhook, as Meta mostly sends them, for
//! registered messages of one campaign: sent, then delivered, then read; batches of 1, 10, 100.
//! The local endpoint (moto, Python) dominates the time: read the figures as ratios between
//! batch sizes and as request counts, not as Lambda latencies.

use pipeline_tests::faults::{FaultProxy, ThrottleRule};
use shared::process::{Processor, QueuedRecord};
use shared::queue::Queue;
use shared::store::{NewCampaign, Registration, Store};
use std::time::Instant;

const MESSAGES: usize = 200;

fn body(wamid: &str, status: &str, t: u64) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"106540352242922"}},"statuses":[{{"id":"{wamid}","status":"{status}","timestamp":"{t}","recipient_id":"15551230001"}}]}},"field":"messages"}}]}}]}}"#
    )
}

#[tokio::main]
async fn main() {
    let aws = pipeline_tests::local_aws().await;
    let upstream = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let proxy = FaultProxy::start(
        &upstream,
        ThrottleRule {
            operations: vec![],
            marker: String::new(),
        },
    )
    .await;
    let counted = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&aws)
            .endpoint_url(&proxy.endpoint)
            .build(),
    );
    let plain = aws_sdk_dynamodb::Client::new(&aws);
    let table = pipeline_tests::create_test_table(&plain).await;
    let store = Store::new(plain, &table);
    pipeline_tests::world::World::load()
        .seed(&store, true)
        .await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queues = pipeline_tests::TestQueues::create(sqs.clone()).await;

    println!("| batch size | statuses | seconds | statuses/s | DynamoDB requests per status |");
    println!("|---:|---:|---:|---:|---|");
    for batch in [1usize, 10, 100] {
        let campaign = format!("bench-{batch}");
        store
            .create_campaign(
                "acme",
                &NewCampaign {
                    campaign_id: campaign.clone(),
                    name: None,
                    template_id: 1407680283588702,
                    phone_number_id: "106540352242922".into(),
                    waba_id: Some("102290129340398".into()),
                    status: "ACTIVE".into(),
                },
            )
            .await
            .unwrap();
        let wamids: Vec<String> = (0..MESSAGES)
            .map(|i| format!("wamid.bench-{batch}-{i}"))
            .collect();
        for w in &wamids {
            let r = Registration {
                wamid: w.clone(),
                campaign_id: campaign.clone(),
                recipient_id: None,
                template_id: None,
            };
            store.register_message("acme", &r).await.unwrap();
        }
        let processor = Processor::new(
            Store::new(counted.clone(), &table),
            Queue::new(sqs.clone(), &queues.dead_letter_url, 256 * 1024),
            16,
        );
        proxy.requests.lock().unwrap().clear();
        let started = Instant::now();
        let mut statuses = 0;
        for (step, status) in ["sent", "delivered", "read"].iter().enumerate() {
            let records: Vec<QueuedRecord> = wamids
                .iter()
                .enumerate()
                .map(|(i, w)| QueuedRecord {
                    message_id: format!("{step}-{i}"),
                    body: body(w, status, 1_732_610_000 + step as u64),
                })
                .collect();
            for chunk in records.chunks(batch) {
                let outcome = processor.process(chunk).await;
                assert!(outcome.failed.is_empty() && outcome.parked.is_empty());
                statuses += chunk.len();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let requests = proxy.requests.lock().unwrap().clone();
        let per_status: Vec<String> = requests
            .iter()
            .map(|(op, count)| format!("{op} {:.2}", *count as f64 / statuses as f64))
            .collect();
        println!(
            "| {batch} | {statuses} | {seconds:.2} | {:.0} | {} |",
            statuses as f64 / seconds,
            per_status.join(", ")
        );
        let c = store.campaign("acme", &campaign).await.unwrap().unwrap();
        assert_eq!(
            (c.reached_sent, c.reached_delivered, c.reached_read),
            (MESSAGES as i64, MESSAGES as i64, MESSAGES as i64)
        );
    }

    // The 1000-status body: heavy duplication over a few messages.
    let body = String::from_utf8(pipeline_tests::fixture("meta/status_batch_1000.json")).unwrap();
    let processor = Processor::new(
        Store::new(counted.clone(), &table),
        Queue::new(sqs, &queues.dead_letter_url, 256 * 1024),
        16,
    );
    proxy.requests.lock().unwrap().clear();
    let started = Instant::now();
    let outcome = processor
        .process(&[QueuedRecord {
            message_id: "big".into(),
            body,
        }])
        .await;
    let requests: usize = proxy.requests.lock().unwrap().values().sum();
    println!(
        "\nstatus_batch_1000.json: {} statuses, {} messages written, {} DynamoDB requests, {:.0} ms",
        outcome.statuses,
        outcome.messages_written,
        requests,
        started.elapsed().as_secs_f64() * 1000.0
    );
}
