//! What the recording proxy writes down for each request (one JSON object a line): who sent
//! it, when in the workload, and for each item it wrote the images before and after and whether
//! its condition held; for each read, the sizes of what came back.

use crate::Item;
use serde::{Deserialize, Serialize};

/// One request as sent to DynamoDB (or another service, counted only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Request {
    /// The function (or tool) that sent it: the label of the proxy it went through.
    pub function: String,
    /// Which service: `dynamodb`, `sqs`, …
    pub service: String,
    /// The operation (`UpdateItem`, `TransactWriteItems`, `Query`, …).
    pub operation: String,
    /// Statuses the workload had handed to the pipeline when the request was sent: the clock a
    /// replay at a given rate turns into seconds.
    pub position: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<Write>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Read>,
}

/// One item a write request touched.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Write {
    pub table: String,
    /// The item's table key.
    pub key: Item,
    /// The item before the request (absent: there was none).
    pub before: Option<Item>,
    /// The item after it (absent: deleted, or never created).
    pub after: Option<Item>,
    /// Part of a `TransactWriteItems`.
    pub transactional: bool,
    /// Its condition failed (or its transaction was cancelled): nothing changed, still billed.
    pub condition_failed: bool,
}

/// How a read is consistent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    Eventual,
    Strong,
    Transactional,
}

/// What a read request returned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Read {
    pub table: String,
    /// The index a Query or Scan read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    pub consistency: Consistency,
    /// `true` for Query and Scan, whose units are the sum of what they read rounded once;
    /// `false` for GetItem and BatchGetItem, where each item is rounded by itself.
    pub summed: bool,
    /// The size of each item returned.
    pub item_sizes: Vec<u64>,
    /// Keys asked for that had no item (GetItem, BatchGetItem).
    #[serde(default)]
    pub missing: u64,
    /// Items a Query or Scan read but its filter dropped (counted at the returned items' mean
    /// size: the proxy does not see them).
    #[serde(default)]
    pub filtered_out: u64,
}

/// Reads a recording: one [`Request`] per line.
pub fn parse_lines(text: &str) -> Result<Vec<Request>, serde_json::Error> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}
