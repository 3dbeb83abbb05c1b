//! SQS adapter: the only module that speaks `aws_sdk_sqs`.

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use futures::future::try_join_all;
use std::collections::HashMap;
use tracing::instrument;

/// SQS takes at most this many entries in one `SendMessageBatch`.
const MAX_BATCH_ENTRIES: usize = 10;

/// A message to send: its body and string attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    pub attributes: Vec<(&'static str, String)>,
}

impl OutgoingMessage {
    /// Bytes SQS counts against its message size limit: body plus attribute names, types and values.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + "String".len() + v.len())
                .sum::<usize>()
    }
}

/// Why a send failed. Any failure means the message may not be queued: the caller answers 5xx.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS request failed")]
    Sqs(#[source] Box<aws_sdk_sqs::Error>),
    #[error("SQS request could not be built")]
    Build(#[from] aws_sdk_sqs::error::BuildError),
    #[error("SQS refused {failed} of {total} messages in a batch (first code: {code})")]
    BatchEntries {
        failed: usize,
        total: usize,
        code: String,
    },
}

/// Sends messages to one queue.
#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
    /// Batches are packed to stay under this many bytes (SQS counts the whole request).
    max_batch_bytes: usize,
}

impl Queue {
    /// A queue at `url`; `max_batch_bytes` is the account's message size limit.
    pub fn new(
        client: aws_sdk_sqs::Client,
        url: impl Into<String>,
        max_batch_bytes: usize,
    ) -> Self {
        Self {
            client,
            url: url.into(),
            max_batch_bytes,
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends every message; `Ok` only when SQS accepted all of them. Batches go out concurrently.
    #[instrument(skip_all, fields(queue = %self.url, messages = messages.len()))]
    pub async fn send_all(&self, messages: Vec<OutgoingMessage>) -> Result<(), QueueError> {
        match messages.len() {
            0 => Ok(()),
            1 => {
                let message = messages
                    .into_iter()
                    .next()
                    .ok_or(QueueError::BatchEntries {
                        failed: 1,
                        total: 1,
                        code: "empty".into(),
                    })?;
                self.client
                    .send_message()
                    .queue_url(&self.url)
                    .message_body(message.body)
                    .set_message_attributes(Some(attributes(message.attributes)?))
                    .send()
                    .await
                    .map_err(sqs_error)?;
                Ok(())
            }
            _ => {
                let batches = pack_batches(messages, self.max_batch_bytes);
                try_join_all(batches.into_iter().map(|batch| self.send_batch(batch))).await?;
                Ok(())
            }
        }
    }

    async fn send_batch(&self, batch: Vec<OutgoingMessage>) -> Result<(), QueueError> {
        let total = batch.len();
        let entries = batch
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body)
                    .set_message_attributes(Some(attributes(m.attributes)?))
                    .build()
                    .map_err(QueueError::from)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(sqs_error)?;
        match out.failed().first() {
            None => Ok(()),
            Some(first) => Err(QueueError::BatchEntries {
                failed: out.failed().len(),
                total,
                code: first.code().to_owned(),
            }),
        }
    }
}

fn sqs_error<E>(e: E) -> QueueError
where
    aws_sdk_sqs::Error: From<E>,
{
    QueueError::Sqs(Box::new(aws_sdk_sqs::Error::from(e)))
}

fn attributes(
    attributes: Vec<(&'static str, String)>,
) -> Result<HashMap<String, MessageAttributeValue>, QueueError> {
    attributes
        .into_iter()
        .map(|(name, value)| {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()?;
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// Groups messages into batches of at most ten entries and `max_bytes` in total.
fn pack_batches(messages: Vec<OutgoingMessage>, max_bytes: usize) -> Vec<Vec<OutgoingMessage>> {
    let mut batches: Vec<Vec<OutgoingMessage>> = Vec::new();
    let mut size = 0;
    for message in messages {
        let add = message.size();
        match batches.last_mut() {
            Some(batch) if batch.len() < MAX_BATCH_ENTRIES && size + add <= max_bytes => {
                size += add;
                batch.push(message);
            }
            _ => {
                size = add;
                batches.push(vec![message]);
            }
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: usize) -> OutgoingMessage {
        OutgoingMessage {
            body: "x".repeat(bytes),
            attributes: vec![],
        }
    }

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let batches = pack_batches((0..25).map(|_| message(10)).collect(), 1 << 20);
        let sizes: Vec<_> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let batches = pack_batches((0..5).map(|_| message(100)).collect(), 250);
        let sizes: Vec<_> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }
}
