//! The processor's archive writer: a batch's bodies (`shared::archive::ArchivedBody` lines)
//! packed into Firehose records and put with one `PutRecordBatch`, beside the processing.

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use shared::archive::ArchivedBody;
use tracing::warn;

/// Firehose takes at most 500 records and 4 MiB per `PutRecordBatch`.
const MAX_RECORDS_PER_PUT: usize = 500;
const MAX_BYTES_PER_PUT: usize = 4 * 1024 * 1024;

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
    fn bodies_are_packed_into_records_and_calls_within_firehose_limits() {
        let many: Vec<ArchivedBody> = (0..1201).map(|i| body(&i.to_string(), "x")).collect();
        let packed = records(&many);
        assert_eq!(packed.len(), 1, "small bodies share one record");
        assert_eq!(packed[0].message_ids.len(), 1201);
        let lines: Vec<u8> = many.iter().flat_map(ArchivedBody::line).collect();
        assert_eq!(packed[0].data, lines);
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
