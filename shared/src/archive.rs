//! The raw-body archive: every body the processor receives, byte for byte, with the request's
//! signature header, its receive time and its queue message id, as one JSON line each, put on
//! an Amazon Data Firehose stream that delivers them to S3 (gzip, by hour, encrypted, expired
//! after `ArchiveRetentionDays`). `make replay` reads them back (`ArchivedBody::parse_object`).
//!
//! Why Firehose and not a `PutObject` per batch, and why an archive failure retries the
//! message rather than a queue of its own: docs/operations.md, "Archive and replay".

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use serde::{Deserialize, Serialize};
use std::io::Read;
use thiserror::Error;
use tracing::warn;

/// One archived body: a JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedBody {
    /// The SQS message id it arrived as.
    pub message_id: String,
    /// When the webhook queued it (SQS `SentTimestamp`), Unix milliseconds.
    pub received_at_ms: u64,
    /// The request's `X-Hub-Signature-256` (absent for bodies put on the queue by other means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// `i/n` when the webhook split the request's body into n messages (the signature then
    /// verifies their concatenation, not one part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    /// The body, exactly as the queue held it.
    pub body: String,
}

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("an archive object is not gzip or JSON lines: {0}")]
    Unreadable(String),
    #[error("an archive object is larger than {0} bytes once unpacked")]
    TooLarge(u64),
}

/// The most an object may unpack to (a Firehose object is at most its 128 MB buffer).
const MAX_OBJECT_BYTES: u64 = 256 * 1024 * 1024;
/// Firehose takes at most 500 records and 4 MiB per `PutRecordBatch`.
const MAX_RECORDS_PER_PUT: usize = 500;
const MAX_BYTES_PER_PUT: usize = 4 * 1024 * 1024;

impl ArchivedBody {
    /// Its JSON line, newline-terminated, so that the objects Firehose concatenates split back.
    pub fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// The bodies of one archive object: gzip (Firehose's compression) or plain, one JSON line
    /// each. A line that is not an archived body is an error, never skipped silently.
    pub fn parse_object(bytes: &[u8]) -> Result<Vec<Self>, ArchiveError> {
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
}

/// The Firehose stream the processor archives to, its client built once per container.
#[derive(Debug, Clone)]
pub struct Archive {
    client: aws_sdk_firehose::Client,
    stream: String,
}

impl Archive {
    pub fn new(client: aws_sdk_firehose::Client, stream: impl Into<String>) -> Self {
        Self {
            client,
            stream: stream.into(),
        }
    }

    /// Puts the bodies on the stream: their lines packed into records of up to 1,000 KiB
    /// (Firehose bills each record in 5 KB steps, so a batch's bodies in one record cost a
    /// fraction of a record each), one `PutRecordBatch` for a batch of SQS messages. Returns the
    /// message ids that were not archived (the caller reports them as batch item failures, so
    /// SQS keeps them and they come back; applying a body again changes nothing).
    pub async fn put(&self, bodies: &[ArchivedBody]) -> Vec<String> {
        let mut not_archived = Vec::new();
        for call in calls(&records(bodies)) {
            let built: Result<Vec<Record>, _> = call
                .iter()
                .map(|r| Record::builder().data(Blob::new(r.data.clone())).build())
                .collect();
            let answer = match built {
                Ok(built) => {
                    self.client
                        .put_record_batch()
                        .delivery_stream_name(&self.stream)
                        .set_records(Some(built))
                        .send()
                        .await
                }
                Err(e) => {
                    warn!(error = %e, "archive records could not be built");
                    not_archived.extend(call.iter().flat_map(|r| r.message_ids.clone()));
                    continue;
                }
            };
            match answer {
                Ok(out) if out.failed_put_count() == 0 => {}
                Ok(out) => {
                    for (record, response) in call.iter().zip(out.request_responses()) {
                        if response.error_code().is_some() {
                            not_archived.extend(record.message_ids.clone());
                        }
                    }
                    warn!(
                        failed = out.failed_put_count(),
                        "some records were not archived: their messages are retried"
                    );
                }
                Err(e) => {
                    warn!(error = %aws_sdk_firehose::error::DisplayErrorContext(&e), "archive put failed: the batch's messages are retried");
                    not_archived.extend(call.iter().flat_map(|r| r.message_ids.clone()));
                }
            }
        }
        not_archived
    }
}

/// One Firehose record: bodies' lines, and whose they are.
#[derive(Debug)]
struct PackedRecord {
    data: Vec<u8>,
    message_ids: Vec<String>,
}

/// Firehose's largest record is 1,000 KiB.
const MAX_RECORD_BYTES: usize = 1000 * 1024;

/// The bodies' lines packed into as few records as fit (a line larger than a record, which the
/// queue's 256 KB messages never make, goes alone and Firehose refuses it: retried, then parked).
fn records(bodies: &[ArchivedBody]) -> Vec<PackedRecord> {
    let mut out: Vec<PackedRecord> = Vec::new();
    for body in bodies {
        let line = body.line();
        match out.last_mut() {
            Some(last) if last.data.len() + line.len() <= MAX_RECORD_BYTES => {
                last.data.extend_from_slice(&line);
                last.message_ids.push(body.message_id.clone());
            }
            _ => out.push(PackedRecord {
                data: line,
                message_ids: vec![body.message_id.clone()],
            }),
        }
    }
    out
}

/// The records in `PutRecordBatch`-sized calls.
fn calls(records: &[PackedRecord]) -> Vec<&[PackedRecord]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, record) in records.iter().enumerate() {
        let size = record.data.len();
        if i > start && (i - start == MAX_RECORDS_PER_PUT || bytes + size > MAX_BYTES_PER_PUT) {
            out.push(&records[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < records.len() {
        out.push(&records[start..]);
    }
    out
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
        assert_eq!(ArchivedBody::parse_object(&plain).unwrap(), bodies);
        // Firehose concatenates gzip members when it joins records into one object.
        let mut gz = Vec::new();
        for b in &bodies {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&b.line()).unwrap();
            gz.extend(e.finish().unwrap());
        }
        assert_eq!(ArchivedBody::parse_object(&gz).unwrap(), bodies);
    }

    #[test]
    fn a_foreign_line_is_an_error() {
        assert!(ArchivedBody::parse_object(b"{\"not\":\"a body\"}\n").is_err());
        assert!(ArchivedBody::parse_object(&[0x1f, 0x8b, 0, 1, 2]).is_err());
        assert_eq!(ArchivedBody::parse_object(b"\n \n").unwrap(), vec![]);
    }

    #[test]
    fn bodies_are_packed_into_records_and_calls_within_firehose_limits() {
        let many: Vec<ArchivedBody> = (0..1201).map(|i| body(&i.to_string(), "x")).collect();
        let packed = records(&many);
        assert_eq!(packed.len(), 1, "small bodies share one record");
        assert_eq!(packed[0].message_ids.len(), 1201);
        assert_eq!(ArchivedBody::parse_object(&packed[0].data).unwrap(), many);
        let big = "y".repeat(300 * 1024);
        let large: Vec<ArchivedBody> = (0..20).map(|i| body(&i.to_string(), &big)).collect();
        let packed = records(&large);
        assert!(packed.iter().all(|r| r.data.len() <= MAX_RECORD_BYTES));
        assert_eq!(
            packed.iter().map(|r| r.message_ids.len()).sum::<usize>(),
            20
        );
        let per_call = calls(&packed);
        assert!(per_call
            .iter()
            .all(|c| c.iter().map(|r| r.data.len()).sum::<usize>() <= MAX_BYTES_PER_PUT));
        assert_eq!(
            per_call.iter().map(|c| c.len()).sum::<usize>(),
            packed.len()
        );
        assert!(calls(&[]).is_empty());
    }
}
