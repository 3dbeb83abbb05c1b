//! The envelope of a webhook body (`{object, entry: [{id, time, changes: [{value, field}]}]}`),
//! read in one pass straight into events: each change becomes its events as soon as it is read,
//! so no entry, change or `value` is kept, boxed or moved again (the hot path's allocations are
//! the events and the statuses, nothing else).
//!
//! The members are Meta's, in any order: a change's `field` comes after its `value` (the value is
//! held on the stack until then), and an entry's `id` and `time` are written into its events when
//! the entry ends. Unknown members are skipped; a missing required one is the error serde's
//! derive would give. The payload types themselves (`value`'s members) stay derived, in
//! [`super::payload`].

use super::events::{push_events, Event};
use super::lenient::{opt_u64_or_string, CowStr};
use super::payload::{ChangeValue, MissingMember, ValueFields};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// A body's top level: Meta's `{object, entry}` envelope, or the dashboard "Test" button's
/// `{field, value}`.
#[derive(Debug, Default)]
pub(super) struct Envelope<'de> {
    pub object: Option<Cow<'de, str>>,
    /// `entry`, already flattened into events.
    pub events: Option<Vec<Event<'de>>>,
    pub field: Option<Cow<'de, str>>,
    /// Whether a `value` member was present (the dashboard body's; its content is not read).
    pub has_value: bool,
    /// The first change whose `value` lacks what its `field` requires (the parse goes on, so a
    /// later syntax error still makes the whole body invalid JSON).
    pub bad_change: Option<BadChange>,
}

/// A change that named a shape its `value` does not have.
#[derive(Debug)]
pub(super) struct BadChange {
    pub entry: usize,
    pub change: usize,
    pub source: MissingMember,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EnvelopeMember {
    Object,
    Entry,
    Field,
    Value,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EntryMember {
    Id,
    Time,
    Changes,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChangeMember {
    Field,
    Value,
    #[serde(other)]
    Other,
}

/// `entry[].time`: Unix seconds as a number or a string of digits.
struct EntryTime(Option<u64>);

impl<'de> Deserialize<'de> for EntryTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_u64_or_string(d).map(Self)
    }
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a webhook body object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut envelope = Envelope::default();
        while let Some(member) = map.next_key()? {
            match member {
                EnvelopeMember::Object => {
                    envelope.object = Some(map.next_value::<CowStr<'de>>()?.0);
                }
                EnvelopeMember::Entry => {
                    if envelope.events.is_some() {
                        return Err(de::Error::duplicate_field("entry"));
                    }
                    let mut events = Vec::new();
                    map.next_value_seed(Entries {
                        events: &mut events,
                        bad_change: &mut envelope.bad_change,
                    })?;
                    envelope.events = Some(events);
                }
                EnvelopeMember::Field => envelope.field = Some(map.next_value::<CowStr<'de>>()?.0),
                EnvelopeMember::Value => {
                    map.next_value::<IgnoredAny>()?;
                    envelope.has_value = true;
                }
                EnvelopeMember::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

/// `entry`: every entry's changes appended to `events`.
struct Entries<'s, 'de> {
    events: &'s mut Vec<Event<'de>>,
    bad_change: &'s mut Option<BadChange>,
}

impl<'de> DeserializeSeed<'de> for Entries<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Entry {
                events: self.events,
                bad_change: self.bad_change,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

/// One entry: its changes' events, then its WABA id and time written into them.
struct Entry<'s, 'de> {
    events: &'s mut Vec<Event<'de>>,
    bad_change: &'s mut Option<BadChange>,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for Entry<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entry object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first_event = self.events.len();
        let (mut id, mut time, mut changes_seen) = (None, None, false);
        while let Some(member) = map.next_key()? {
            match member {
                EntryMember::Id => id = Some(map.next_value::<CowStr<'de>>()?.0),
                EntryMember::Time => time = map.next_value::<EntryTime>()?.0,
                EntryMember::Changes => {
                    if changes_seen {
                        return Err(de::Error::duplicate_field("changes"));
                    }
                    changes_seen = true;
                    map.next_value_seed(Changes {
                        events: self.events,
                        bad_change: self.bad_change,
                        entry: self.index,
                    })?;
                }
                EntryMember::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        for event in &mut self.events[first_event..] {
            event.waba_id = id.clone();
            event.entry_time = time;
        }
        Ok(())
    }
}

/// `changes` of one entry.
struct Changes<'s, 'de> {
    events: &'s mut Vec<Event<'de>>,
    bad_change: &'s mut Option<BadChange>,
    entry: usize,
}

impl<'de> DeserializeSeed<'de> for Changes<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Changes<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of changes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut change = 0;
        while seq
            .next_element_seed(Change {
                events: self.events,
                bad_change: self.bad_change,
                entry: self.entry,
                change,
            })?
            .is_some()
        {
            change += 1;
        }
        Ok(())
    }
}

/// One change: its `value` held until `field` says which shape it is, then its events.
struct Change<'s, 'de> {
    events: &'s mut Vec<Event<'de>>,
    bad_change: &'s mut Option<BadChange>,
    entry: usize,
    change: usize,
}

impl<'de> DeserializeSeed<'de> for Change<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Change<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a change object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut field: Option<Cow<'de, str>> = None;
        let mut value: Option<ValueFields<'de>> = None;
        while let Some(member) = map.next_key()? {
            match member {
                ChangeMember::Field => field = Some(map.next_value::<CowStr<'de>>()?.0),
                ChangeMember::Value => {
                    if value.is_some() {
                        return Err(de::Error::duplicate_field("value"));
                    }
                    value = Some(map.next_value()?);
                }
                ChangeMember::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let field = field.ok_or_else(|| de::Error::missing_field("field"))?;
        let mut value = value.ok_or_else(|| de::Error::missing_field("value"))?;
        match ChangeValue::from_fields(&field, &mut value) {
            // The entry's id and time are written in when the entry ends.
            Ok(decoded) => push_events(self.events, Cow::Borrowed(""), None, field, decoded),
            Err(source) => {
                self.bad_change.get_or_insert(BadChange {
                    entry: self.entry,
                    change: self.change,
                    source,
                });
            }
        }
        Ok(())
    }
}
