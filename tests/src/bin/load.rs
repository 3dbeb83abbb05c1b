//! `make load`: the deployed webhook under concurrent signed POSTs on the local stack (loopback
//! only, bounded in count and time). Prints requests/s and latency percentiles, and checks that
//! every accepted body is on the queue exactly once: for the run, the deployed webhook's queue is
//! a fresh one of this tool (infra/local/function-env.py), so the processor does not consume it.
//!
//! LOAD_REQUESTS (default 2000), LOAD_CONCURRENCY (default 16), LOAD_MAX_SECONDS (default 120).

use pipeline_tests::deployed::{post_signed, stack as env, status_body};
use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let requests = setting("LOAD_REQUESTS", 2000);
    let concurrency = setting("LOAD_CONCURRENCY", 16).max(1);
    let max = Duration::from_secs(setting("LOAD_MAX_SECONDS", 120) as u64);
    let url = env("WEBHOOK_FUNCTION_URL");
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "load runs against the local stack only"
    );
    let aws = pipeline_tests::local_aws().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = sqs
        .create_queue()
        .queue_name(format!("load-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .expect("create the load queue")
        .queue_url
        .expect("queue url");
    set_function_env("webhook", &[("WEBHOOK_QUEUE_URL", &queue)]);
    let run = uuid::Uuid::new_v4().simple().to_string();
    // Warm the function's processes so the figures are of a warm webhook.
    for i in 0..concurrency {
        let answer = post_signed(&url, status_body(&[(&format!("warm-{run}-{i}"), "sent")])).await;
        assert_eq!(answer.status(), 200, "warm-up");
    }

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, url, run) = (next.clone(), url.clone(), run.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= requests || started.elapsed() > max {
                    return (latencies, errors);
                }
                let body = status_body(&[(&format!("load-{run}-{i}"), "delivered")]);
                let sent = Instant::now();
                let status = post_signed(&url, body).await.status();
                latencies.push(sent.elapsed());
                if status != 200 {
                    errors += 1;
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    let wall = started.elapsed();
    latencies.sort();
    let sent = latencies.len();

    // Every accepted body on the queue exactly once (the warm-up's too, counted apart).
    let mut seen: HashMap<String, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < sent + concurrency && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for m in out.messages.unwrap_or_default() {
            let body = m.body().unwrap_or_default();
            let wamid = body
                .split("\"id\":\"")
                .nth(2)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned();
            *seen.entry(wamid).or_default() += 1;
            sqs.delete_message()
                .queue_url(&queue)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
    set_function_env(
        "webhook",
        &[("WEBHOOK_QUEUE_URL", &env("WEBHOOK_QUEUE_URL"))],
    );
    let _ = sqs.delete_queue().queue_url(&queue).send().await;

    let loaded: Vec<(&String, &usize)> = seen
        .iter()
        .filter(|(w, _)| w.starts_with("load-"))
        .collect();
    let missing = (0..sent)
        .filter(|i| !seen.contains_key(&format!("load-{run}-{i}")))
        .count();
    let duplicated = loaded.iter().filter(|(_, n)| **n > 1).count();
    println!(
        "webhook under load: {sent} signed POSTs, {concurrency} at a time, in {:.1} s",
        wall.as_secs_f64()
    );
    println!(
        "  {:.0} requests/s   p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        sent as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "  errors {errors}   on the queue: {} of {sent} bodies, {missing} missing, {duplicated} duplicated",
        loaded.len()
    );
    if errors > 0 || missing > 0 || duplicated > 0 || sent < requests {
        eprintln!("load: FAILED (every request must be answered 200 and queued exactly once, within LOAD_MAX_SECONDS)");
        std::process::exit(1);
    }
}
