//! Realtime figures on the deployed local stack (`make bench-realtime`):
//! 1. end-to-end latency: a signed POST to the webhook's function URL -> queue -> processor ->
//!    table -> stream -> realtime function -> `@connections` -> a WebSocket client subscribed
//!    to the campaign; p50/p95 over 200 statuses sent one after another;
//! 2. fan-out: 1,000 WebSocket connections listening to `reports`, then one webhook body of 1,000
//!    statuses of one campaign: pushes received per connection (coalescing: one
//!    `campaign_progress` per campaign per stream batch) and messages per second pushed.
//!
//! Release builds of the functions (LOCAL_STACK_PROFILE=release); the emulator runs them.

use futures::{SinkExt, StreamExt};
use pipeline_tests::deployed::{campaign_with_messages, post_signed, stack as env, status_body};
use pipeline_tests::world::World;
use shared::store::Store;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Frame;

const LATENCY_SAMPLES: usize = 200;
const CONNECTIONS: usize = 1000;
const BURST: usize = 1000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let aws = pipeline_tests::local_aws().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), env("TABLE_NAME"));
    World::load().seed(&store, true).await;
    let token =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python"))
            .args([
                concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/dev-token"),
                "acme",
                "viewer",
            ])
            .output()
            .expect("scripts/dev-token");
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let ws_url = format!("{}?token={token}", env("WEB_SOCKET_API_URL"));
    let webhook = env("WEBHOOK_FUNCTION_URL");

    // 1. Latency, one status at a time.
    let (campaign_id, wamids) = campaign_with_messages(&store, "bench", LATENCY_SAMPLES).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .expect("connect");
    socket
        .send(Frame::text(format!(
            r#"{{"action":"subscribe","topics":["campaign:{campaign_id}"]}}"#
        )))
        .await
        .unwrap();
    let _ack = socket.next().await;
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for wamid in &wamids {
        let started = Instant::now();
        let answer = post_signed(&webhook, status_body(&[(wamid, "sent")])).await;
        assert_eq!(answer.status(), 200);
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("an update within 10 s")
                .expect("open")
                .expect("frame");
            if let Frame::Text(t) = frame {
                let m: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if m["type"] == "report_update" && m["data"]["wamid"] == wamid.as_str() {
                    break;
                }
            }
        }
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "end-to-end, signed POST -> WebSocket client, {LATENCY_SAMPLES} statuses: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies[latencies.len() - 1]
    );
    drop(socket);

    // 2. Fan-out to 1,000 connections listening to `reports`.
    let (burst_campaign, burst_wamids) = campaign_with_messages(&store, "burst", BURST).await;
    let received = Arc::new(AtomicUsize::new(0));
    let progress_of_burst = Arc::new(AtomicUsize::new(0));
    let first_last = Arc::new(std::sync::Mutex::new((None::<Instant>, None::<Instant>)));
    let mut readers = Vec::new();
    let connect_started = Instant::now();
    for _ in 0..CONNECTIONS {
        let (socket, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .expect("connect");
        let (received, progress, first_last, campaign) = (
            received.clone(),
            progress_of_burst.clone(),
            first_last.clone(),
            burst_campaign.clone(),
        );
        readers.push(tokio::spawn(async move {
            let (_, mut read) = socket.split();
            while let Some(Ok(frame)) = read.next().await {
                if let Frame::Text(t) = frame {
                    received.fetch_add(1, Ordering::Relaxed);
                    let now = Instant::now();
                    let mut fl = first_last.lock().unwrap();
                    fl.0.get_or_insert(now);
                    fl.1 = Some(now);
                    drop(fl);
                    let m: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                    if m["type"] == "campaign_progress" && m["campaign_id"] == campaign.as_str() {
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    println!(
        "opened {CONNECTIONS} WebSocket connections in {:.1} s",
        connect_started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    received.store(0, Ordering::Relaxed);
    *first_last.lock().unwrap() = (None, None);
    let body = status_body(
        &burst_wamids
            .iter()
            .map(|w| (w.as_str(), "sent"))
            .collect::<Vec<_>>(),
    );
    let started = Instant::now();
    assert_eq!(post_signed(&webhook, body).await.status(), 200);
    // Done when the campaign shows every status and no push arrived for 3 s.
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c = store
            .campaign("acme", &burst_campaign)
            .await
            .unwrap()
            .unwrap();
        let quiet = first_last
            .lock()
            .unwrap()
            .1
            .is_some_and(|t| t.elapsed() > Duration::from_secs(3));
        if c.reached_sent == BURST as i64 && quiet {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "burst not settled"
        );
    }
    let total = received.load(Ordering::Relaxed);
    let (first, last) = *first_last.lock().unwrap();
    let span = last
        .unwrap()
        .duration_since(first.unwrap())
        .as_secs_f64()
        .max(0.001);
    let progress = progress_of_burst.load(Ordering::Relaxed);
    println!(
        "burst of {BURST} statuses of one campaign to {CONNECTIONS} `reports` connections: {total} messages pushed \
         ({:.2} per connection, {:.2} campaign_progress of it per connection), first push {:.0} ms after the POST, \
         {:.0} messages/s from first to last push",
        total as f64 / CONNECTIONS as f64,
        progress as f64 / CONNECTIONS as f64,
        (first.unwrap() - started).as_secs_f64() * 1000.0,
        total as f64 / span
    );
    for r in readers {
        r.abort();
    }
}
