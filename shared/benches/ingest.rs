//! Webhook hot path: signature check + one parse into events (every status extracted), and the
//! split path for bodies over the queue's message limit. `make bench`.
#![allow(clippy::expect_used)] // known fixtures: a failure is a bug to see

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use secrecy::SecretString;
use shared::ingest::plan;
use shared::meta::{parse, signature::sign, EventKind, Notification, SignatureVerifier};

const SECRET: &str = "fixture-app-secret";

fn bodies() -> Vec<(&'static str, &'static [u8])> {
    vec![
        (
            "1_status",
            include_bytes!("../../events/bench/status_batch_1.json"),
        ),
        (
            "50_statuses",
            include_bytes!("../../events/bench/status_batch_50.json"),
        ),
        (
            "1000_statuses",
            include_bytes!("../../events/bench/status_batch_1000.json"),
        ),
    ]
}

/// Verify, parse, and touch every status the way the processor does.
fn verify_parse_extract(verifier: &SignatureVerifier, header: &[u8], body: &[u8]) -> usize {
    verifier.verify(Some(header), body).expect("signed");
    let Ok(Notification::Events(events)) = parse(body) else {
        panic!("fixture parses");
    };
    events
        .iter()
        .filter(|e| match &e.kind {
            EventKind::Status { status, .. } => black_box(status.timestamp) > 0,
            _ => false,
        })
        .count()
}

fn webhook(c: &mut Criterion) {
    let verifier = SignatureVerifier::new(&[SecretString::from(SECRET)]).expect("secret");
    let mut group = c.benchmark_group("verify_parse_extract");
    for (name, body) in bodies() {
        let header = sign(SECRET, body);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| verify_parse_extract(&verifier, header.as_bytes(), black_box(body)))
        });
    }
    group.finish();

    // The two halves apart, to see where the time goes.
    let mut group = c.benchmark_group("verify_only");
    for (name, body) in bodies() {
        let header = sign(SECRET, body);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| verifier.verify(Some(header.as_bytes()), black_box(body)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("parse_only");
    for (name, body) in bodies() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| parse(black_box(body)).map(|n| matches!(n, Notification::Events(_))))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("parts");
    for (name, body) in bodies() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        // 256 KiB: the 1000-status body (282 KiB) needs two parts.
        group.bench_with_input(BenchmarkId::new("plan_256KiB", name), body, |b, body| {
            b.iter(|| plan(black_box(body), 256 * 1024))
        });
        // 16 KiB forces a split of the 50-status body too.
        group.bench_with_input(BenchmarkId::new("plan_16KiB", name), body, |b, body| {
            b.iter(|| plan(black_box(body), 16 * 1024))
        });
    }
    group.finish();
}

criterion_group!(benches, webhook);
criterion_main!(benches);
