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

/// Verify, parse, and extract every status as (phone_number_id, wamid, status, timestamp).
fn verify_parse_extract(verifier: &SignatureVerifier, header: &[u8], body: &[u8]) -> usize {
    verifier.verify(Some(header), body).expect("signed");
    let Ok(Notification::Events(events)) = parse(body) else {
        panic!("fixture parses");
    };
    let mut extracted: Vec<(&str, &str, &str, u64)> = Vec::new();
    for e in &events {
        if let EventKind::Statuses {
            phone_number_id,
            statuses,
        } = &e.kind
        {
            extracted.extend(statuses.iter().map(|status| {
                (
                    phone_number_id.as_ref(),
                    status.id.as_ref(),
                    status.status.as_str(),
                    status.timestamp,
                )
            }));
        }
    }
    black_box(&extracted).len()
}

/// The naive reference the issue measured against: `hmac` keyed per request, the hex header
/// compared with `verify_slice`, then `serde_json` into borrowed structs with only the fields
/// needed, extracting the same tuples. No depth bound, no UTF-8 check up front, no unknown
/// fields kept, no template or account events: the floor, not a product.
mod naive {
    use hmac::{Hmac, Mac};
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Body<'a> {
        #[serde(borrow)]
        entry: Vec<Entry<'a>>,
    }
    #[derive(Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        changes: Vec<Change<'a>>,
    }
    #[derive(Deserialize)]
    struct Change<'a> {
        #[serde(borrow)]
        value: Value<'a>,
    }
    #[derive(Deserialize)]
    struct Value<'a> {
        #[serde(borrow)]
        metadata: Option<Metadata<'a>>,
        #[serde(borrow, default)]
        statuses: Vec<Status<'a>>,
    }
    #[derive(Deserialize)]
    struct Metadata<'a> {
        phone_number_id: &'a str,
    }
    #[derive(Deserialize)]
    struct Status<'a> {
        id: &'a str,
        status: &'a str,
        timestamp: &'a str,
    }

    pub fn verify_parse_extract(secret: &[u8], header: &[u8], body: &[u8]) -> usize {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
        mac.update(body);
        let hex = header.strip_prefix(b"sha256=").expect("prefix");
        let mut expected = [0u8; 32];
        hex::decode_to_slice(hex, &mut expected).expect("hex");
        mac.verify_slice(&expected).expect("signed");
        let parsed: Body = serde_json::from_slice(body).expect("parses");
        let mut extracted: Vec<(&str, &str, &str, u64)> = Vec::new();
        for entry in &parsed.entry {
            for change in &entry.changes {
                let phone = change
                    .value
                    .metadata
                    .as_ref()
                    .map_or("", |m| m.phone_number_id);
                for s in &change.value.statuses {
                    extracted.push((phone, s.id, s.status, s.timestamp.parse().unwrap_or(0)));
                }
            }
        }
        std::hint::black_box(&extracted).len()
    }
}

#[allow(dead_code)] // the fields are read by the parse only: a floor for the product's rich parse
mod rich {
    use serde::Deserialize;
    use serde_json::value::RawValue;

    #[derive(Deserialize)]
    pub struct Body<'a> {
        #[serde(borrow)]
        entry: Vec<Entry<'a>>,
    }
    #[derive(Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        changes: Vec<Change<'a>>,
    }
    #[derive(Deserialize)]
    struct Change<'a> {
        #[serde(borrow)]
        value: Value<'a>,
    }
    #[derive(Deserialize)]
    struct Value<'a> {
        #[serde(borrow)]
        metadata: Option<Metadata<'a>>,
        #[serde(borrow, default)]
        statuses: Vec<Status<'a>>,
    }
    #[derive(Deserialize)]
    struct Metadata<'a> {
        phone_number_id: &'a str,
    }
    #[derive(Deserialize)]
    struct Status<'a> {
        id: &'a str,
        status: &'a str,
        timestamp: &'a str,
        recipient_id: Option<&'a str>,
        recipient_type: Option<&'a str>,
        #[serde(borrow)]
        conversation: Option<&'a RawValue>,
        #[serde(borrow)]
        pricing: Option<&'a RawValue>,
        #[serde(borrow)]
        errors: Option<&'a RawValue>,
        biz_opaque_callback_data: Option<&'a str>,
    }
}

fn webhook(c: &mut Criterion) {
    let verifier = SignatureVerifier::new(&[SecretString::from(SECRET)]).expect("secret");
    // The product and the naive reference side by side, in one run.
    let mut group = c.benchmark_group("verify_parse_extract");
    for (name, body) in bodies() {
        let header = sign(SECRET, body);
        assert_eq!(
            verify_parse_extract(&verifier, header.as_bytes(), body),
            naive::verify_parse_extract(SECRET.as_bytes(), header.as_bytes(), body),
            "both extract every status"
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("product", name), body, |b, body| {
            b.iter(|| verify_parse_extract(&verifier, header.as_bytes(), black_box(body)))
        });
        group.bench_with_input(BenchmarkId::new("naive", name), body, |b, body| {
            b.iter(|| {
                naive::verify_parse_extract(SECRET.as_bytes(), header.as_bytes(), black_box(body))
            })
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
criterion_main!(benches, probe);

fn deserializers(c: &mut Criterion) {
    let body = include_str!("../../events/bench/status_batch_1000.json");
    let mut group = c.benchmark_group("deserialize_body");
    group.bench_function("product_parse", |b| {
        b.iter(|| parse(black_box(body.as_bytes())).is_ok())
    });
    group.bench_function("serde_json_naive_types", |b| {
        b.iter(|| serde_json::from_slice::<naive::Body>(black_box(body.as_bytes())).is_ok())
    });
    group.bench_function("serde_json_rich_borrowed_types", |b| {
        b.iter(|| serde_json::from_str::<rich::Body>(black_box(body)).is_ok())
    });
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    group.bench_function("hmac_aws_lc_rs", |b| {
        b.iter(|| aws_lc_rs::hmac::sign(&key, black_box(body.as_bytes())))
    });
    group.bench_function("hmac_sha2", |b| {
        use hmac::Mac;
        b.iter(|| {
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
            mac.update(black_box(body.as_bytes()));
            mac.finalize()
        })
    });
    group.bench_function("utf8_check", |b| {
        b.iter(|| std::str::from_utf8(black_box(body.as_bytes())).is_ok())
    });
    group.finish();
}

criterion_group!(probe, deserializers);
