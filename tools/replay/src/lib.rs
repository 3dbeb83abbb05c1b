//! `make replay`: archived webhook bodies (`shared::archive`, in S3 under
//! `bodies/yyyy/MM/dd/HH/`) fed back through the same path the processor function takes
//! (`shared::process::Processor`), in any order: applying a body twice changes nothing, so a
//! replay onto the live table is safe, and one onto a fresh table rebuilds what the bodies say.

use shared::archive::ArchivedBody;
use shared::meta::{EventCounts, Notification};
use shared::process::{Processor, QueuedRecord};
use std::collections::BTreeMap;
use std::io::Read;
use thiserror::Error;

/// Records per `Processor::process` call, as the processor function's batches.
const BATCH: usize = 100;
/// Attempts of a record that fails (throttling, a conflict) before the replay reports it.
const ATTEMPTS: usize = 5;

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("an archive object is not gzip or JSON lines: {0}")]
    Unreadable(String),
    #[error("an archive object is larger than {0} bytes once unpacked")]
    TooLarge(u64),
}

/// The most an object may unpack to (a Firehose object is at most its 128 MB buffer).
const MAX_OBJECT_BYTES: u64 = 256 * 1024 * 1024;

/// The bodies of one archive object: gzip (Firehose's compression, members concatenated) or
/// plain, one JSON line each. A line that is not an archived body is an error, never skipped.
pub fn parse_object(bytes: &[u8]) -> Result<Vec<ArchivedBody>, ArchiveError> {
    let mut text = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_OBJECT_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
        if text.len() as u64 > MAX_OBJECT_BYTES {
            return Err(ArchiveError::TooLarge(MAX_OBJECT_BYTES));
        }
    } else {
        text.extend_from_slice(bytes);
    }
    text.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| {
            serde_json::from_slice(line).map_err(|e| ArchiveError::Unreadable(e.to_string()))
        })
        .collect()
}

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("S3: {0}")]
    S3(String),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("routing: {0}")]
    Store(#[from] shared::store::StoreError),
}

/// The archive's bucket.
pub struct ArchiveSource {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl ArchiveSource {
    /// An S3 client for `aws`: path-style addressing when AWS_ENDPOINT_URL names a local
    /// endpoint (the emulator has no per-bucket host names).
    pub fn client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let local = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty());
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(aws)
                .force_path_style(local)
                .build(),
        )
    }

    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
        }
    }

    /// The bodies received in `from_ms..=to_ms`, oldest first. Objects are partitioned by the
    /// hour Firehose received them, never before the webhook did: the hours of the range and
    /// the one after are read.
    pub async fn read(&self, from_ms: u64, to_ms: u64) -> Result<Vec<ArchivedBody>, ReplayError> {
        let mut bodies = Vec::new();
        for prefix in hour_prefixes(from_ms, to_ms.saturating_add(3_600_000)) {
            let mut pages = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| ReplayError::S3(e.to_string()))?;
                for object in page.contents() {
                    let Some(key) = object.key() else { continue };
                    let got = self
                        .s3
                        .get_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .send()
                        .await
                        .map_err(|e| ReplayError::S3(format!("{key}: {e}")))?;
                    let bytes = got
                        .body
                        .collect()
                        .await
                        .map_err(|e| ReplayError::S3(format!("{key}: {e}")))?
                        .into_bytes();
                    bodies.extend(
                        parse_object(&bytes)?
                            .into_iter()
                            .filter(|b| (from_ms..=to_ms).contains(&b.received_at_ms)),
                    );
                }
            }
        }
        bodies.sort_by(|a, b| {
            (a.received_at_ms, &a.message_id).cmp(&(b.received_at_ms, &b.message_id))
        });
        // A body archived twice (its message was retried) is applied once here.
        bodies.dedup_by(|a, b| a.message_id == b.message_id);
        Ok(bodies)
    }
}

/// `bodies/yyyy/MM/dd/HH/` for every hour that overlaps `from_ms..=to_ms`.
pub fn hour_prefixes(from_ms: u64, to_ms: u64) -> Vec<String> {
    let hour = 3_600_000;
    let mut out = Vec::new();
    let mut at = from_ms - from_ms % hour;
    while at <= to_ms {
        if let Some(t) = chrono::DateTime::from_timestamp_millis(at as i64) {
            out.push(t.format("bodies/%Y/%m/%d/%H/").to_string());
        }
        at += hour;
    }
    out
}

/// What a replay read and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bodies: usize,
    /// Bodies of other tenants, left out by `TENANT=`.
    pub skipped: usize,
    pub statuses: usize,
    pub template_events: usize,
    pub inbound: usize,
    pub by_tenant: BTreeMap<String, usize>,
    /// Bodies applied (0 on a dry run).
    pub applied: usize,
    pub parked: usize,
    /// Bodies that still failed after every attempt.
    pub failed: Vec<String>,
}

/// Replays `bodies` through `processor` (or, with `dry_run`, only counts what it would apply),
/// keeping those of `tenant` when one is named. `progress(done, total)` after each batch.
pub async fn replay(
    processor: &Processor,
    bodies: &[ArchivedBody],
    tenant: Option<&str>,
    dry_run: bool,
    mut progress: impl FnMut(usize, usize),
) -> Result<Summary, ReplayError> {
    let mut summary = Summary::default();
    let mut chosen = Vec::new();
    for body in bodies {
        let tenants = processor.tenants_of(&body.body).await?;
        if tenant.is_some_and(|t| !tenants.contains(t)) {
            summary.skipped += 1;
            continue;
        }
        summary.bodies += 1;
        for t in tenants {
            *summary.by_tenant.entry(t).or_default() += 1;
        }
        if let Ok(Notification::Events(events)) = shared::meta::parse_str(&body.body) {
            let counts = EventCounts::of(&events);
            summary.statuses += counts.statuses;
            summary.template_events += counts.template;
            summary.inbound += counts.inbound;
        }
        chosen.push(body);
    }
    if dry_run {
        return Ok(summary);
    }
    let total = chosen.len();
    for (i, batch) in chosen.chunks(BATCH).enumerate() {
        let mut records: Vec<QueuedRecord> = batch
            .iter()
            .map(|b| QueuedRecord {
                message_id: b.message_id.clone(),
                body: b.body.clone(),
            })
            .collect();
        for attempt in 1..=ATTEMPTS {
            let outcome = processor.process(&records).await;
            summary.parked += outcome.parked.len();
            summary.applied += records.len() - outcome.failed.len() - outcome.parked.len();
            records.retain(|r| outcome.failed.contains(&r.message_id));
            if records.is_empty() {
                break;
            }
            if attempt == ATTEMPTS {
                summary
                    .failed
                    .extend(records.iter().map(|r| r.message_id.clone()));
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
        }
        progress((i * BATCH + batch.len()).min(total), total);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn body(id: &str, text: &str) -> ArchivedBody {
        ArchivedBody {
            message_id: id.into(),
            received_at_ms: 1_765_000_000_000,
            signature: Some("sha256=00".into()),
            part: None,
            body: text.into(),
        }
    }

    #[test]
    fn lines_round_trip_byte_for_byte_plain_and_gzipped() {
        let bodies = vec![
            body("a", "{\"object\":\"whatsapp_business_account\"}"),
            body("b", "line\nbreaks, \"quotes\", ünïcode and \u{1F600}"),
        ];
        let plain: Vec<u8> = bodies.iter().flat_map(ArchivedBody::line).collect();
        assert_eq!(parse_object(&plain).unwrap(), bodies);
        // Firehose concatenates gzip members when it joins records into one object.
        let mut gz = Vec::new();
        for b in &bodies {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&b.line()).unwrap();
            gz.extend(e.finish().unwrap());
        }
        assert_eq!(parse_object(&gz).unwrap(), bodies);
    }

    #[test]
    fn a_foreign_line_is_an_error() {
        assert!(parse_object(b"{\"not\":\"a body\"}\n").is_err());
        assert!(parse_object(&[0x1f, 0x8b, 0, 1, 2]).is_err());
        assert_eq!(parse_object(b"\n \n").unwrap(), vec![]);
    }

    #[test]
    fn every_hour_of_the_range_is_read() {
        // 2026-12-06 10:59:59.999 to 12:00:00.000: hours 10, 11 and 12.
        let from = 1_765_018_799_999;
        let prefixes = hour_prefixes(from, from + 3_600_001);
        assert_eq!(
            prefixes,
            vec![
                "bodies/2025/12/06/10/",
                "bodies/2025/12/06/11/",
                "bodies/2025/12/06/12/"
            ]
        );
        assert_eq!(hour_prefixes(from, from).len(), 1);
    }
}
