//! A capacity model of DynamoDB: the published on-demand billing and partition rules applied to
//! requests recorded on the local stack (which neither bills nor throttles).
//!
//! - [`size`]: an item's size as DynamoDB counts it;
//! - [`schema`]: the table's keys and indexes, read from `infra/template.yaml` as deployed;
//! - [`rules`]: write and read units of one request, and the index writes it causes;
//! - [`record`]: what the recording proxy writes down per request;
//! - [`report`]: units per status by table and index, requests by function, peak writes per
//!   partition key in one-second windows at a given rate.

pub mod record;
pub mod report;
pub mod rules;
pub mod schema;
pub mod size;

/// An item in DynamoDB's JSON wire format (`{"pk": {"S": "…"}, "n": {"N": "1"}}`).
pub type Item = serde_json::Map<String, serde_json::Value>;
