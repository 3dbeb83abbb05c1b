//! Meta's webhook: payload types, signature check, one-pass parse into events, and splitting.
//! Pure: no AWS types here.

pub mod depth;
pub mod events;
mod lenient;
mod open_enum;
pub mod payload;
pub mod signature;
pub mod split;

pub use events::{parse, Event, EventCounts, EventKind, Notification, ParseError};
pub use signature::{SignatureError, SignatureVerifier, SIGNATURE_HEADER};
