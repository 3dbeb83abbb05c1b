//! Redrive: parked webhook bodies back from the dead-letter queue to the main queue, after the
//! fix that makes them processable has been deployed.
//!
//! - A **survey** (the dry run) counts what is parked by `parked_reason`, and moves nothing: every
//!   message it received is made visible again at once.
//! - A **move** sends each parked body to the main queue, then deletes it from the dead-letter
//!   queue. A body is moved once per run: a message SQS delivers twice, or a second copy of the
//!   same body (Meta retried it and both were parked), is deleted without being sent again. The
//!   processor is idempotent anyway, so a body sent twice after a crash between send and delete
//!   changes nothing; the tool itself never sends one twice.
//!
//! The moved message keeps the body byte for byte, and its attributes, with `parked_reason`
//! renamed `redriven_from_reason` so that the processor's logs tell a redriven body apart.

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The attribute a parked message carries (`shared::ingest::ATTR_PARKED_REASON`).
pub const PARKED_REASON: &str = "parked_reason";
/// What the attribute is called on the moved message.
pub const REDRIVEN_FROM_REASON: &str = "redriven_from_reason";
/// Seconds a received message stays invisible while this tool handles it.
const HOLD_SECONDS: i32 = 120;

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("SQS request failed: {0}")]
    Sqs(String),
}

fn sqs<E: std::fmt::Debug>(e: E) -> RedriveError {
    RedriveError::Sqs(format!("{e:?}"))
}

/// What a move did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Moved {
    /// Bodies sent to the main queue, by the reason they had been parked for.
    pub by_reason: BTreeMap<String, usize>,
    /// Copies of a body already moved in this run: deleted, not sent.
    pub duplicates: usize,
    /// Messages that could not be sent; they stay on the dead-letter queue.
    pub failed: usize,
}

impl Moved {
    pub fn moved(&self) -> usize {
        self.by_reason.values().sum()
    }
}

/// One dead-letter queue and the queue its messages go back to.
pub struct Redrive {
    sqs: aws_sdk_sqs::Client,
    dead_letter_url: String,
    queue_url: String,
}

fn reason(m: &Message) -> String {
    m.message_attributes()
        .and_then(|a| a.get(PARKED_REASON))
        .and_then(|v| v.string_value())
        .unwrap_or("unknown")
        .to_owned()
}

impl Redrive {
    pub fn new(sqs: aws_sdk_sqs::Client, dead_letter_url: &str, queue_url: &str) -> Self {
        Self {
            sqs,
            dead_letter_url: dead_letter_url.to_owned(),
            queue_url: queue_url.to_owned(),
        }
    }

    async fn receive(&self, hold_seconds: i32) -> Result<Vec<Message>, RedriveError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.dead_letter_url)
            .max_number_of_messages(10)
            .visibility_timeout(hold_seconds)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(sqs)?;
        Ok(out.messages.unwrap_or_default())
    }

    /// The dry run: what is parked, by reason. Moves nothing; everything it received is visible
    /// again when it returns.
    pub async fn survey(&self) -> Result<BTreeMap<String, usize>, RedriveError> {
        let mut counts = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut held: Vec<String> = Vec::new();
        loop {
            let messages = self.receive(HOLD_SECONDS).await?;
            if messages.is_empty() {
                break;
            }
            for m in messages {
                if let Some(handle) = m.receipt_handle() {
                    held.push(handle.to_owned());
                }
                if seen.insert(m.message_id().unwrap_or_default().to_owned()) {
                    *counts.entry(reason(&m)).or_default() += 1;
                }
            }
        }
        self.release_handles(&held).await?;
        Ok(counts)
    }

    /// Makes received messages visible again at once.
    async fn release(&self, messages: &[&Message]) -> Result<(), RedriveError> {
        let handles: Vec<String> = messages
            .iter()
            .filter_map(|m| m.receipt_handle().map(str::to_owned))
            .collect();
        self.release_handles(&handles).await
    }

    async fn release_handles(&self, handles: &[String]) -> Result<(), RedriveError> {
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, handle)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            self.sqs
                .change_message_visibility_batch()
                .queue_url(&self.dead_letter_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs)?;
        }
        Ok(())
    }

    /// Moves every parked message (at most `limit`) back to the main queue.
    pub async fn run(&self, limit: usize) -> Result<Moved, RedriveError> {
        let mut moved = Moved::default();
        let mut sent_ids: HashSet<String> = HashSet::new();
        let mut sent_bodies: HashSet<[u8; 32]> = HashSet::new();
        while moved.moved() + moved.duplicates < limit {
            let messages = self.receive(HOLD_SECONDS).await?;
            if messages.is_empty() {
                break;
            }
            let mut to_send: Vec<&Message> = Vec::new();
            let mut to_delete: Vec<&Message> = Vec::new();
            let mut over_limit: Vec<&Message> = Vec::new();
            for m in &messages {
                let id = m.message_id().unwrap_or_default().to_owned();
                let digest: [u8; 32] = Sha256::digest(m.body().unwrap_or_default()).into();
                if sent_ids.contains(&id) || sent_bodies.contains(&digest) {
                    moved.duplicates += 1;
                    to_delete.push(m);
                } else if to_send.len() + moved.moved() + moved.duplicates < limit {
                    sent_ids.insert(id);
                    sent_bodies.insert(digest);
                    to_send.push(m);
                } else {
                    over_limit.push(m);
                }
            }
            self.release(&over_limit).await?;
            if !to_send.is_empty() {
                let entries = to_send
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(m.body().unwrap_or_default())
                            .set_message_attributes(Some(moved_attributes(m)))
                            .build()
                            .ok()
                    })
                    .collect();
                let out = self
                    .sqs
                    .send_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(sqs)?;
                let failed: HashSet<&str> = out.failed().iter().map(|f| f.id()).collect();
                for (i, m) in to_send.iter().enumerate() {
                    if failed.contains(i.to_string().as_str()) {
                        moved.failed += 1;
                    } else {
                        *moved.by_reason.entry(reason(m)).or_default() += 1;
                        to_delete.push(m);
                    }
                }
            }
            self.delete(&to_delete).await?;
        }
        Ok(moved)
    }

    async fn delete(&self, messages: &[&Message]) -> Result<(), RedriveError> {
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .ok()
                })
                .collect();
            self.sqs
                .delete_message_batch()
                .queue_url(&self.dead_letter_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs)?;
        }
        Ok(())
    }
}

/// The parked message's attributes for the main queue: `parked_reason` becomes
/// `redriven_from_reason`, the rest is kept.
fn moved_attributes(m: &Message) -> HashMap<String, MessageAttributeValue> {
    m.message_attributes()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            if name == PARKED_REASON {
                (REDRIVEN_FROM_REASON.to_owned(), value)
            } else {
                (name, value)
            }
        })
        .collect()
}
