//! The library behind every function of the WhatsApp webhook pipeline.
//!
//! - [`meta`]: Meta's payloads, signatures, parsing and splitting (pure)
//! - [`ingest`]: the webhook feature: verify, classify, split, enqueue or park
//! - [`domain`]: status, counter and template rules (pure)
//! - [`process`]: the processor feature: queued webhooks into table state
//! - [`counters`]: the counters feature: the table's stream into campaign counters, exactly once
//! - [`breaker`]: the circuit breaker: campaigns paused on failure spikes, blocked numbers and
//!   refused templates, checked after each counted run
//! - [`holds`]: automatic holds on campaigns, with their audit entry and realtime message
//! - [`store`]: the DynamoDB adapter
//! - [`queue`]: the SQS adapter
//! - [`auth`]: JWT verification, roles, tenant scoping
//! - [`config`]: typed configuration read once at init

pub mod archive;
pub mod auth;
pub mod aws;
pub mod breaker;
pub mod config;
pub mod counters;
pub mod cursor;
pub mod domain;
pub mod graph;
pub mod holds;
pub mod http;
pub mod ingest;
pub mod meta;
pub mod metrics;
pub mod notify;
pub mod process;
pub mod queue;
pub mod realtime;
pub mod recount;
pub mod secrets;
pub mod store;
pub mod sync;
