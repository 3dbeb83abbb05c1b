//! One parse of a body into a flat list of tenant-routable events: one per status, per inbound
//! message and per non-`messages` change, across every entry and change (nothing past `entry[0]`
//! is dropped). Either the whole body parses or none of it does, so nothing is half-applied.

use super::payload::{
    AccountUpdate, Body, ChangeValue, InboundMessage, PhoneNumberQualityUpdate, Status,
    TemplateCategoryUpdate, TemplateQualityUpdate, TemplateStatusUpdate,
};
use std::borrow::Cow;

/// The `object` of a WhatsApp Business notification.
pub const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

/// What a signed body turned out to be.
#[derive(Debug)]
pub enum Notification<'a> {
    /// A WhatsApp Business Account notification, flattened into events.
    Events(Vec<Event<'a>>),
    /// The WhatsApp Manager "Test" button body (`{field, value}`, sample ids, no WABA).
    DashboardTest { field: Cow<'a, str> },
    /// A notification for another Meta product (`object` is not `whatsapp_business_account`).
    OtherObject { object: Cow<'a, str> },
}

/// One event, with what routing needs: the WABA it arrived under and the entry's time.
#[derive(Debug)]
pub struct Event<'a> {
    /// `entry[].id`: the WhatsApp Business Account.
    pub waba_id: Cow<'a, str>,
    /// `entry[].time` (Unix seconds) when Meta sent one.
    pub entry_time: Option<u64>,
    pub kind: EventKind<'a>,
}

/// The event itself.
#[derive(Debug)]
pub enum EventKind<'a> {
    /// A delivery status of a message sent from `phone_number_id`.
    Status {
        phone_number_id: Cow<'a, str>,
        status: Status<'a>,
    },
    /// A message a customer sent to `phone_number_id`.
    Inbound {
        phone_number_id: Cow<'a, str>,
        message: InboundMessage<'a>,
    },
    TemplateStatus(TemplateStatusUpdate<'a>),
    TemplateQuality(TemplateQualityUpdate<'a>),
    TemplateCategory(TemplateCategoryUpdate<'a>),
    PhoneNumberQuality(PhoneNumberQualityUpdate<'a>),
    AccountUpdate(AccountUpdate<'a>),
    /// A change whose `field` this version does not handle.
    Unhandled {
        field: Cow<'a, str>,
    },
}

/// Why a signed body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("body is not valid JSON for a webhook: {0}")]
    Json(#[source] serde_json::Error),
    #[error("entry {entry} change {change} (field {field}) has an unexpected shape: {source}")]
    Change {
        entry: usize,
        change: usize,
        field: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("body has neither an entry envelope nor a field/value pair")]
    UnknownShape,
}

impl ParseError {
    /// A short, stable reason for metrics and parked-message attributes (no payload content).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Json(_) => "invalid_json",
            Self::Change { .. } => "invalid_change",
            Self::UnknownShape => "unknown_shape",
        }
    }
}

/// Parses a (verified) body once into events.
pub fn parse(body: &[u8]) -> Result<Notification<'_>, ParseError> {
    let body: Body<'_> = serde_json::from_slice(body).map_err(ParseError::Json)?;
    match (body.object, body.entry, body.field, body.value) {
        (Some(object), _, _, _) if object != WHATSAPP_OBJECT => {
            Ok(Notification::OtherObject { object })
        }
        (Some(_), Some(entries), _, _) => {
            let mut events = Vec::new();
            for (entry_index, entry) in entries.into_iter().enumerate() {
                for (change_index, change) in entry.changes.into_iter().enumerate() {
                    let value =
                        ChangeValue::decode(&change.field, change.value).map_err(|source| {
                            ParseError::Change {
                                entry: entry_index,
                                change: change_index,
                                field: change.field.to_string(),
                                source,
                            }
                        })?;
                    push_events(
                        &mut events,
                        entry.id.clone(),
                        entry.time,
                        change.field,
                        value,
                    );
                }
            }
            Ok(Notification::Events(events))
        }
        (None, None, Some(field), Some(_)) => Ok(Notification::DashboardTest { field }),
        _ => Err(ParseError::UnknownShape),
    }
}

fn push_events<'a>(
    events: &mut Vec<Event<'a>>,
    waba_id: Cow<'a, str>,
    entry_time: Option<u64>,
    field: Cow<'a, str>,
    value: ChangeValue<'a>,
) {
    let event = |kind| Event {
        waba_id: waba_id.clone(),
        entry_time,
        kind,
    };
    match value {
        ChangeValue::Messages(messages) => {
            let phone_number_id = messages.metadata.phone_number_id;
            events.reserve(messages.statuses.len() + messages.messages.len());
            for status in messages.statuses {
                events.push(event(EventKind::Status {
                    phone_number_id: phone_number_id.clone(),
                    status,
                }));
            }
            for message in messages.messages {
                events.push(event(EventKind::Inbound {
                    phone_number_id: phone_number_id.clone(),
                    message,
                }));
            }
        }
        ChangeValue::TemplateStatus(v) => events.push(event(EventKind::TemplateStatus(v))),
        ChangeValue::TemplateQuality(v) => events.push(event(EventKind::TemplateQuality(v))),
        ChangeValue::TemplateCategory(v) => events.push(event(EventKind::TemplateCategory(v))),
        ChangeValue::PhoneNumberQuality(v) => events.push(event(EventKind::PhoneNumberQuality(v))),
        ChangeValue::AccountUpdate(v) => events.push(event(EventKind::AccountUpdate(v))),
        ChangeValue::Unhandled => events.push(event(EventKind::Unhandled { field })),
    }
}

/// Counts of what a notification carries, for logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventCounts {
    pub statuses: usize,
    pub inbound: usize,
    pub template: usize,
    pub other: usize,
}

impl EventCounts {
    /// Tallies events by kind.
    pub fn of(events: &[Event<'_>]) -> Self {
        let mut counts = Self::default();
        for e in events {
            match e.kind {
                EventKind::Status { .. } => counts.statuses += 1,
                EventKind::Inbound { .. } => counts.inbound += 1,
                EventKind::TemplateStatus(_)
                | EventKind::TemplateQuality(_)
                | EventKind::TemplateCategory(_) => counts.template += 1,
                _ => counts.other += 1,
            }
        }
        counts
    }
}
