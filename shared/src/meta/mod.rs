//! Meta's webhook: payload types, signature check, one-pass parse into events, and splitting.
//! Pure: no AWS types here.

mod envelope;
pub mod events;
mod lenient;
mod open_enum;
pub mod payload;
pub mod signature;
pub mod split;

/// The deepest nesting a body may have: serde_json's recursion limit, which it counts as it parses,
/// unknown values included, and refuses past ([`ParseError::TooDeep`]). A stack overflow would
/// abort the whole process (for the webhook: no answer, Meta retrying the body for days), so no
/// parser that recurses without a bound reads input here. Meta's deepest payload today is 11
/// levels (a failed status, `entry[].changes[].value.statuses[].errors[].error_data`, counting
/// each array and object); a debug build parses 127 levels on a 2 MiB thread
/// (`cargo run -p shared --example deep_probe -- 127`).
pub const MAX_DEPTH: usize = 128;

pub use events::{parse, parse_str, Event, EventCounts, EventKind, Notification, ParseError};
pub use signature::{SignatureError, SignatureVerifier, SIGNATURE_HEADER};
