//! The raw-body archive's record: every body the processor receives, byte for byte, with the
//! request's signature header, its receive time and its queue message id, as one JSON line.
//! The processor puts them on Firehose (`processor::archive`), which delivers them to S3 (gzip,
//! by hour, encrypted, expired after `ArchiveRetentionDays`); `make replay` reads them back
//! (`replay::parse_object`). Why Firehose, and why a body not archived is retried with its
//! message: docs/operations.md, "Archive and replay".

use serde::{Deserialize, Serialize};

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

impl ArchivedBody {
    /// Its JSON line, newline-terminated, so that the objects Firehose concatenates split back.
    pub fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}
