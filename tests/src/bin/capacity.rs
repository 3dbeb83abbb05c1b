//! `make capacity`: what a status costs and how hot its keys run on AWS, from a workload run
//! through the real webhook, processor and counters code on the local stack, every request
//! recorded and put through the capacity model (`tools/capacity`), which applies DynamoDB's
//! published rules to the indexes of infra/template.yaml as deployed.
//!
//! Two runs, in this order:
//! 1. the standard workload (one 100,000-message campaign and 50 small ones across three
//!    tenants; `CAPACITY_MESSAGES` sets the big one) with the counters read in runs of about
//!    100 changes, as AWS's one-second batching window gathers them: units per status, requests
//!    per status, the busiest key of the table and each index replayed at 1,000 and 3,000
//!    statuses a second, and dollars per million statuses;
//! 2. a smaller one with runs of about 10, as the emulator's mappings make them.
//!
//! The Markdown report is printed and written to `.local/capacity.md`.

use capacity::record::{Consistency, Read};
use capacity::report::{peaks_table, Tally, Usage};
use capacity::rules::read_units;
use capacity::schema::{function_memory_mb, resource_count, TableSchema};
use pipeline_tests::capacity_run::{listing_page, run, Recording, Workload};
use std::fmt::Write as _;

/// AWS's published prices, us-east-1, November 2026 (docs/cost.md names the pages).
mod price {
    pub const WRU: f64 = 0.625e-6;
    pub const RRU: f64 = 0.125e-6;
    pub const LAMBDA_REQUEST: f64 = 0.20e-6;
    pub const LAMBDA_GB_SECOND_ARM: f64 = 0.000_013_333_4;
    pub const SQS_REQUEST: f64 = 0.40e-6;
    pub const LOGS_GB: f64 = 0.50;
    pub const HTTP_API_REQUEST: f64 = 1.00e-6;
    pub const ALARM_MONTH: f64 = 0.10;
    pub const DASHBOARD_MONTH: f64 = 3.00;
    pub const SECRET_MONTH: f64 = 0.40;
    pub const KMS_KEY_MONTH: f64 = 1.00;
    pub const METRIC_MONTH: f64 = 0.30;
    /// Amazon Data Firehose, Direct PUT: per GB ingested, each record rounded up to 5 KB.
    pub const FIREHOSE_GB: f64 = 0.029;
    pub const FIREHOSE_RECORD_STEP_KB: f64 = 5.0;
    pub const S3_GB_MONTH: f64 = 0.023;
}

const RATES: [f64; 2] = [1000.0, 3000.0];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Lambda GB-seconds of invocations of `ms` each (billed by the started millisecond).
fn gb_seconds(ms: &[f64], memory_mb: u64) -> f64 {
    ms.iter().map(|m| m.ceil() / 1000.0).sum::<f64>() * memory_mb as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let template_path = format!("{root}/infra/template.yaml");
    let template = std::fs::read_to_string(&template_path).expect("read infra/template.yaml");
    let schema = TableSchema::from_yaml(&template, "Table").expect("the table in the template");
    let aws = pipeline_tests::local_aws().await;
    // The functions' log lines as Lambda's JSON log format writes them, counted, not printed.
    std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON");
    std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "INFO");
    // Each function at its level in infra/template.yaml: the webhook's code (its crate and the
    // ingest module) logs warnings and errors only.
    std::env::set_var("RUST_LOG", "info,webhook=warn,shared::ingest=warn");
    lambda_runtime::tracing::init_default_subscriber_with_writer(|| {
        pipeline_tests::capacity_run::CountingLog
    });

    let mut standard = Workload::standard();
    standard.campaigns[0].messages = env_usize("CAPACITY_MESSAGES", 100_000);
    let small = env_usize("CAPACITY_SMALL_MESSAGES", 300);
    for c in standard.campaigns.iter_mut().skip(1) {
        c.messages = small;
    }
    let mut tally = Tally::new(&schema, &RATES);
    eprintln!(
        "capacity: {} statuses (standard workload, runs of about 100)...",
        standard.statuses()
    );
    let recording = run(&aws, &standard, &mut tally).await;
    let (usage, peaks) = tally.finish(recording.statuses);

    let mut short = Workload::campaigns(env_usize("CAPACITY_SHORT_MESSAGES", 3_000), 6, 100);
    short.run_records = 10;
    short.fold_every = 1;
    eprintln!(
        "capacity: {} statuses (runs of about 10, as on the emulator)...",
        short.statuses()
    );
    let mut short_tally = Tally::new(&schema, &[]);
    let short_recording = run(&aws, &short, &mut short_tally).await;
    let (short_usage, _) = short_tally.finish(short_recording.statuses);

    let mut report = String::new();
    let _ = writeln!(
        report,
        "# Capacity (make capacity)\n\nIndexes of infra/template.yaml: {}.\n",
        schema
            .indexes
            .iter()
            .map(|i| format!("`{}` ({:?})", i.name, i.projection))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        report,
        "## Standard workload: {} statuses, {} registrations, counters runs of about 100\n\n{} s on the local stack.\n\nStatus processing (webhook, mapping, processor, counters):\n\n{}",
        recording.statuses,
        recording.registrations,
        recording.seconds.round(),
        processing(&usage).units_table()
    );
    let _ = writeln!(
        report,
        "Registration (`POST /messages`), per registered message:\n\n{}",
        registration(&usage, recording.registrations).units_table()
    );
    let _ = writeln!(report, "Requests per status:\n\n{}", usage.requests_table());
    let _ = writeln!(
        report,
        "Busiest partition key of each place, replayed at 1,000 and 3,000 statuses/s (1-second windows):\n\n{}",
        peaks_table(&RATES, &peaks)
    );
    let _ = writeln!(report, "{}", listing(&aws, &schema, &recording).await);
    let _ = writeln!(
        report,
        "## Runs of about 10 (the emulator's): {} statuses\n\n{}",
        short_recording.statuses,
        processing(&short_usage).units_table()
    );
    let _ = writeln!(report, "{}", cost(&template, &usage, &recording));
    eprintln!("{report}");
    let out = format!("{root}/.local/capacity.md");
    let _ = std::fs::create_dir_all(format!("{root}/.local"));
    std::fs::write(&out, &report).expect("write .local/capacity.md");
    eprintln!("capacity: report written to .local/capacity.md");
}

/// Read units of a page of a campaign's messages, now and as one Query of `gsi1` (projecting
/// every attribute) read the same page before.
async fn listing(aws: &aws_config::SdkConfig, schema: &TableSchema, r: &Recording) -> String {
    let mut out = String::from("A page of 50 of the big campaign's messages (`GET /campaigns/{id}/messages`):\n\n| page | requests | RRU now | RRU as one Query of gsi1 (ALL), before |\n|---|---|---:|---:|\n");
    for (label, delivery) in [
        ("first page", None),
        ("first page, status=read", Some("read")),
    ] {
        let requests = listing_page(aws, r, delivery).await;
        let mut tally = Tally::new(schema, &[]);
        let mut sizes = Vec::new();
        for q in &requests {
            tally.add(q);
            if let Some(read) = q.read.as_ref().filter(|read| !read.summed) {
                sizes.extend(&read.item_sizes);
            }
        }
        let (usage, _) = tally.finish(1);
        let before = read_units(&Read {
            table: String::new(),
            index: Some("gsi1".into()),
            consistency: Consistency::Eventual,
            summed: true,
            item_sizes: sizes,
            missing: 0,
            filtered_out: 0,
        });
        let names: Vec<String> = requests.iter().map(|q| q.operation.clone()).collect();
        let _ = writeln!(
            out,
            "| {label} | {} | {:.1} | {before:.1} |",
            names.join(", "),
            usage.total_read_units()
        );
    }
    out
}

/// The usage of status processing: every function but the API's registrations.
fn processing(usage: &Usage) -> Usage {
    only(usage, usage.statuses, |f| f != "api")
}

/// The usage of registrations, per registered message.
fn registration(usage: &Usage, registrations: u64) -> Usage {
    only(usage, registrations, |f| f == "api")
}

fn only(usage: &Usage, per: u64, keep: impl Fn(&str) -> bool) -> Usage {
    // Units are kept per request only through the totals: recompute from the requests of the
    // kept functions is not possible after the fact, so `Usage` carries them by function.
    let mut u = usage.by_function(&keep);
    u.statuses = per;
    u
}

/// What archiving the run's bodies costs: each processor batch is one Firehose record per
/// 1,000 KiB of its bodies' lines, billed in 5 KB steps; S3 keeps them gzipped (about a quarter
/// of their size) for `ArchiveRetentionDays`, 30 days.
fn archive_dollars(r: &Recording) -> f64 {
    const LINE_OVERHEAD: f64 = 160.0; // message id, receive time, signature, JSON quoting
    let batches = r.processor_ms.len().max(1) as f64;
    let line_bytes = r.body_bytes as f64 + LINE_OVERHEAD * r.bodies as f64;
    let per_batch_kb = line_bytes / batches / 1024.0;
    let billed_kb = batches
        * (per_batch_kb / price::FIREHOSE_RECORD_STEP_KB).ceil()
        * price::FIREHOSE_RECORD_STEP_KB;
    let gb = |kb: f64| kb / (1024.0 * 1024.0);
    gb(billed_kb) * price::FIREHOSE_GB + gb(line_bytes / 1024.0 / 4.0) * price::S3_GB_MONTH
}

/// Dollars per million statuses, and per month at three volumes.
fn cost(template: &str, usage: &Usage, r: &Recording) -> String {
    let memory = |id: &str| function_memory_mb(template, id).expect("MemorySize");
    let per_million = |dollars: f64| dollars / r.statuses as f64 * 1e6;
    let p = processing(usage);
    let reg = registration(usage, r.registrations);
    let api_calls = r.registrations.div_ceil(100) as f64;
    let invocations = r.bodies as f64 + r.processor_ms.len() as f64 + r.counters_ms.len() as f64;
    let rows = [
        (
            "DynamoDB writes, table and indexes (status processing)",
            per_million(p.total_write_units() as f64 * price::WRU),
        ),
        (
            "DynamoDB reads (status processing)",
            per_million(p.total_read_units() * price::RRU),
        ),
        (
            "Lambda requests (webhook per body, processor per batch, counters per batch)",
            per_million(invocations * price::LAMBDA_REQUEST),
        ),
        (
            "Lambda duration (measured here against the emulator, billed by the started ms, arm64)",
            per_million(
                (gb_seconds(&r.webhook_ms, memory("WebhookFunction")) * r.bodies as f64
                    / r.webhook_ms.len().max(1) as f64
                    + gb_seconds(&r.processor_ms, memory("ProcessorFunction"))
                    + gb_seconds(&r.counters_ms, memory("CountersFunction")))
                    * price::LAMBDA_GB_SECOND_ARM,
            ),
        ),
        (
            "SQS requests (send, receive, delete)",
            per_million(usage.requests_per_status("sqs") * r.statuses as f64 * price::SQS_REQUEST),
        ),
        (
            "CloudWatch Logs (bytes the functions write)",
            per_million(r.log_bytes as f64 / (1u64 << 30) as f64 * price::LOGS_GB),
        ),
        (
            "Archive: Firehose (a processor batch's bodies in one record, 5 KB steps) and S3 for 30 days",
            per_million(archive_dollars(r)),
        ),
    ];
    let processing_total: f64 = rows.iter().map(|(_, d)| d).sum();
    let registration_total = per_million(
        reg.total_write_units() as f64 * price::WRU
            + reg.total_read_units() * price::RRU
            + api_calls * (price::LAMBDA_REQUEST + price::HTTP_API_REQUEST),
    );
    let http_api = price::HTTP_API_REQUEST * r.bodies as f64 / r.statuses as f64 * 1e6;
    let mut out = String::from("## Dollars per million statuses (all in)\n\n| part | $ per million statuses |\n|---|---:|\n");
    for (name, dollars) in rows {
        let _ = writeln!(out, "| {name} | {dollars:.3} |");
    }
    let _ = writeln!(
        out,
        "| **status processing, webhook on its function URL** | **{processing_total:.3}** |\n| webhook through the HTTP API instead ($1 per million requests) | +{http_api:.3} |\n| registering the messages through the API (DynamoDB, Lambda, HTTP API) | +{registration_total:.3} |\n"
    );
    let count = |t: &str| resource_count(template, t).expect("template") as f64;
    let fixed = count("AWS::CloudWatch::Alarm") * price::ALARM_MONTH
        + count("AWS::CloudWatch::Dashboard") * price::DASHBOARD_MONTH
        + count("AWS::SecretsManager::Secret") * price::SECRET_MONTH
        + count("AWS::KMS::Key") * price::KMS_KEY_MONTH
        + r.metrics.len() as f64 * price::METRIC_MONTH;
    let _ = writeln!(
        out,
        "Fixed, per month whatever the traffic: {} alarms, {} dashboard, {} secret, {} KMS key, {} custom metrics (EMF): ${fixed:.2}.\n\n| statuses a month | variable (function URL, with registration) | fixed | total | per million |\n|---:|---:|---:|---:|---:|",
        count("AWS::CloudWatch::Alarm"),
        count("AWS::CloudWatch::Dashboard"),
        count("AWS::SecretsManager::Secret"),
        count("AWS::KMS::Key"),
        r.metrics.len()
    );
    for volume in [10_000f64, 100_000.0, 1_000_000.0] {
        let variable = (processing_total + registration_total) * volume / 1e6;
        let total = variable + fixed;
        let _ = writeln!(
            out,
            "| {volume:.0} | ${variable:.3} | ${fixed:.2} | ${total:.2} | ${:.2} |",
            total / volume * 1e6
        );
    }
    out
}
