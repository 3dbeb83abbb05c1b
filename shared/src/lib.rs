//! The library behind every function of the WhatsApp webhook pipeline.
//!
//! - [`meta`]: Meta's payloads, signatures, parsing and splitting (pure)
//! - [`ingest`]: the webhook feature: verify, classify, split, enqueue or park
//! - [`queue`]: the SQS adapter
//! - [`config`]: typed configuration read once at init

pub mod config;
pub mod ingest;
pub mod meta;
pub mod queue;
