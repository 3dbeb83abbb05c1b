//! Pure rules: no AWS types, no I/O. The store executes what these decide.

pub mod account;
pub mod breaker;
pub mod campaign;
pub mod counters;
pub mod errors;
pub mod health;
pub mod message;
pub mod notify;
pub mod phone;
pub mod status;
pub mod template;
pub mod timeline;
