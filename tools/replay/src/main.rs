//! `make replay FROM=… TO=… [TENANT=…] [TARGET=fresh|live] [DRY_RUN=1]`: the archived bodies
//! received in the range (RFC 3339, a date, `YYYY-MM-DDTHH:MM`, or Unix seconds), through the
//! processor's own path, with progress and a summary.
//! - `TARGET=live` (the default) re-applies them to TABLE_NAME: safe, applying twice changes
//!   nothing.
//! - `TARGET=fresh` applies them to FRESH_TABLE_NAME: a point-in-time restore of the table from
//!   before the bad release (docs/operations.md, "Archive and replay"), or any table of its schema.
//!
//! ARCHIVE_BUCKET_NAME, TABLE_NAME and WEBHOOK_DLQ_URL come from the stack (.local/stack.env
//! under `make dev`).

use replay::{replay, ArchiveSource};
use shared::process::Processor;
use shared::queue::Queue;
use shared::store::Store;
use std::process::ExitCode;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

/// Milliseconds of a time given as RFC 3339, a date, a date and minute, or Unix seconds.
fn parse_time(name: &str, text: &str, end_of: bool) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds * 1000);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis().max(0) as u64);
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        let extra = if end_of { 59_999 } else { 0 };
        return Ok(t.and_utc().timestamp_millis().max(0) as u64 + extra);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(0);
        let extra = if end_of { 86_399_999 } else { 0 };
        return Ok(start.max(0) as u64 + extra);
    }
    Err(format!(
        "{name}={text}: not RFC 3339, YYYY-MM-DD, YYYY-MM-DDTHH:MM or Unix seconds"
    ))
}

async fn run() -> Result<bool, String> {
    let from = parse_time("FROM", &env("FROM")?, false)?;
    let to = match env("TO") {
        Ok(to) => parse_time("TO", &to, true)?,
        Err(_) => shared::store::now() * 1000,
    };
    if from > to {
        return Err("FROM is after TO".into());
    }
    let tenant = env("TENANT").ok();
    let target = env("TARGET").unwrap_or_else(|_| "live".into());
    let dry_run = env("DRY_RUN").is_ok_and(|v| v != "0");
    let table = match target.as_str() {
        "live" => env("TABLE_NAME")?,
        "fresh" => env("FRESH_TABLE_NAME")?,
        other => return Err(format!("TARGET={other}: fresh or live")),
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let source = ArchiveSource::new(ArchiveSource::client(&aws), env("ARCHIVE_BUCKET_NAME")?);
    let processor = Processor::new(
        Store::new(aws_sdk_dynamodb::Client::new(&aws), &table),
        Queue::new(
            aws_sdk_sqs::Client::new(&aws),
            env("WEBHOOK_DLQ_URL")?,
            256 * 1024,
        ),
        16,
    );
    eprintln!("replay: reading the archive from {from} to {to} (ms) ...");
    let bodies = source.read(from, to).await.map_err(|e| e.to_string())?;
    eprintln!(
        "replay: {} bodies; {} into {table}{}",
        bodies.len(),
        if dry_run {
            "counting what would be applied"
        } else {
            "applying"
        },
        tenant
            .as_deref()
            .map(|t| format!(", tenant {t} only"))
            .unwrap_or_default()
    );
    let started = std::time::Instant::now();
    let summary = replay(
        &processor,
        &bodies,
        tenant.as_deref(),
        dry_run,
        |done, total| {
            eprintln!(
                "replay: {done}/{total} bodies ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "replay{}: {} bodies ({} of other tenants skipped): {} statuses, {} template events, {} inbound; \
         applied {}, parked {}, failed {}; by tenant {:?}; {:.1} s",
        if dry_run { " (dry run)" } else { "" },
        summary.bodies,
        summary.skipped,
        summary.statuses,
        summary.template_events,
        summary.inbound,
        summary.applied,
        summary.parked,
        summary.failed.len(),
        summary.by_tenant,
        started.elapsed().as_secs_f64()
    );
    Ok(summary.failed.is_empty())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::from(2)
        }
    }
}
