//! Splits a body larger than one queue message into smaller, self-contained webhook bodies.
//!
//! Meta posts up to a few MB; SQS takes 256 KiB (classic) or 1 MiB. Each part is a complete
//! envelope (`object`, `entry[].id`, `entry[].time`, the change's `field` and the value's other
//! keys such as `metadata`), so the processor handles parts exactly like bodies Meta sent.
//! Changes are packed whole where they fit; a `messages` change too large alone is cut between
//! statuses (and inbound messages). The JSON of every status and change is copied byte for byte.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Strings longer than this are cut when a single change or status is larger than a whole part
/// (Meta's free-text fields such as `reason`; item stores cut them further anyway).
pub const TRUNCATED_STRING_BYTES: usize = 4096;

/// The marker added to a value whose long strings were cut to fit.
pub const TRUNCATED_MARKER: &str = "webhook_truncated";

/// Why a body could not be split.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("body is not a webhook envelope: {0}")]
    Json(#[from] serde_json::Error),
    #[error("one change is larger than {max} bytes even with long strings cut")]
    UnitTooLarge { max: usize },
}

#[derive(Deserialize)]
struct RawBody<'a> {
    #[serde(borrow)]
    object: &'a RawValue,
    #[serde(borrow)]
    entry: Vec<RawEntry<'a>>,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow, default)]
    time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    changes: Vec<RawChange<'a>>,
}

#[derive(Deserialize)]
struct RawChange<'a> {
    #[serde(borrow)]
    field: &'a RawValue,
    #[serde(borrow)]
    value: &'a RawValue,
}

/// One change's JSON (`{"value":…,"field":…}`) with the entry it belongs to.
struct Unit<'a> {
    entry: usize,
    change: Cow<'a, str>,
}

/// Splits `body` into envelopes of at most `max_bytes` each. A body that already fits is
/// returned as one part, unchanged.
pub fn split(body: &str, max_bytes: usize) -> Result<Vec<String>, SplitError> {
    if body.len() <= max_bytes {
        return Ok(vec![body.to_owned()]);
    }
    let raw: RawBody<'_> = serde_json::from_str(body)?;
    let prefix = format!("{{\"object\":{},\"entry\":[", raw.object.get());
    let suffix = "]}";
    let entry_headers: Vec<String> = raw
        .entry
        .iter()
        .map(|e| match e.time {
            Some(time) => format!(
                "{{\"id\":{},\"time\":{},\"changes\":[",
                e.id.get(),
                time.get()
            ),
            None => format!("{{\"id\":{},\"changes\":[", e.id.get()),
        })
        .collect();
    let envelope = prefix.len() + suffix.len();
    let longest_header = entry_headers.iter().map(String::len).max().unwrap_or(0);
    // Room for one unit in a part of its own: envelope, entry header, and the "]}" closing it.
    let unit_budget = max_bytes.saturating_sub(envelope + longest_header + 2);

    let mut units = Vec::new();
    for (entry_index, entry) in raw.entry.iter().enumerate() {
        for change in &entry.changes {
            units_of_change(entry_index, change, unit_budget, &mut units)?;
        }
    }
    Ok(pack(&prefix, suffix, &entry_headers, &units, max_bytes))
}

fn change_json(value: &str, field: &str) -> String {
    format!("{{\"value\":{value},\"field\":{field}}}")
}

fn units_of_change<'a>(
    entry: usize,
    change: &RawChange<'a>,
    budget: usize,
    units: &mut Vec<Unit<'a>>,
) -> Result<(), SplitError> {
    let field = change.field.get();
    let whole = change_json(change.value.get(), field);
    if whole.len() <= budget {
        units.push(Unit {
            entry,
            change: Cow::Owned(whole),
        });
        return Ok(());
    }
    if field == "\"messages\"" {
        if let Some(parts) = split_messages_value(change.value, field, budget)? {
            if parts.iter().any(|p| p.len() > budget) {
                return Err(SplitError::UnitTooLarge { max: budget });
            }
            units.extend(parts.into_iter().map(|change| Unit {
                entry,
                change: Cow::Owned(change),
            }));
            return Ok(());
        }
    }
    let cut = truncate_long_strings(change.value.get(), field)?;
    if cut.len() > budget {
        return Err(SplitError::UnitTooLarge { max: budget });
    }
    units.push(Unit {
        entry,
        change: Cow::Owned(cut),
    });
    Ok(())
}

/// Cuts a `messages` value between its statuses and inbound messages; every piece keeps the
/// value's other keys (`messaging_product`, `metadata`, `contacts`). `None` when there is nothing
/// to cut between (a single item).
fn split_messages_value(
    value: &RawValue,
    field: &str,
    budget: usize,
) -> Result<Option<Vec<String>>, SplitError> {
    let mut map: BTreeMap<Cow<'_, str>, &RawValue> = serde_json::from_str(value.get())?;
    let mut lists: Vec<(&'static str, Vec<&RawValue>)> = Vec::new();
    for key in ["statuses", "messages"] {
        if let Some(list) = map.remove(key) {
            lists.push((key, serde_json::from_str(list.get())?));
        }
    }
    if lists.iter().map(|(_, items)| items.len()).sum::<usize>() <= 1 {
        return Ok(None);
    }
    let mut common = String::from("{");
    for (key, v) in &map {
        common.push_str(&serde_json::to_string(key)?);
        common.push(':');
        common.push_str(v.get());
        common.push(',');
    }
    let wrap = |key: &str, items: &[&RawValue]| -> String {
        let mut value = common.clone();
        value.push('"');
        value.push_str(key);
        value.push_str("\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                value.push(',');
            }
            value.push_str(item.get());
        }
        value.push_str("]}");
        change_json(&value, field)
    };

    let mut out = Vec::new();
    for (key, items) in &lists {
        let empty = wrap(key, &[]).len();
        let mut start = 0;
        let mut size = empty;
        for (i, item) in items.iter().enumerate() {
            let add = item.get().len() + usize::from(i > start);
            if i > start && size + add > budget {
                out.push(wrap(key, &items[start..i]));
                start = i;
                size = empty + item.get().len();
            } else {
                size += add;
            }
        }
        if start < items.len() {
            out.push(wrap(key, &items[start..]));
        }
    }
    // A single status larger than a part: cut its long strings.
    out.into_iter()
        .map(|change| {
            if change.len() <= budget {
                return Ok(change);
            }
            let parsed: RawChange<'_> = serde_json::from_str(&change)?;
            truncate_long_strings(parsed.value.get(), field)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Re-serialises a change with every string over [`TRUNCATED_STRING_BYTES`] cut at a character
/// boundary, and marks the value with [`TRUNCATED_MARKER`].
fn truncate_long_strings(value: &str, field: &str) -> Result<String, SplitError> {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s.len() > TRUNCATED_STRING_BYTES => {
                let mut end = TRUNCATED_STRING_BYTES;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.truncate(end);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_str(value)?;
    walk(&mut value);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(TRUNCATED_MARKER.to_owned(), serde_json::Value::Bool(true));
    }
    Ok(change_json(&serde_json::to_string(&value)?, field))
}

/// Greedily packs units into envelopes of at most `max_bytes`, keeping units of one entry
/// together under one entry header while they fit.
fn pack(
    prefix: &str,
    suffix: &str,
    entry_headers: &[String],
    units: &[Unit<'_>],
    max_bytes: usize,
) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::with_capacity(max_bytes);
    let mut open_entry: Option<usize> = None;

    let close = |current: &mut String, open_entry: &mut Option<usize>, parts: &mut Vec<String>| {
        if open_entry.take().is_some() {
            current.push_str("]}");
            current.push_str(suffix);
            parts.push(std::mem::take(current));
        }
    };

    for unit in units {
        let same_entry = open_entry == Some(unit.entry);
        // Bytes this unit adds, plus what closing the part will add afterwards.
        let added = if same_entry {
            1 + unit.change.len()
        } else {
            usize::from(open_entry.is_some()) * 3
                + entry_headers[unit.entry].len()
                + unit.change.len()
        };
        if open_entry.is_some() && current.len() + added + 2 + suffix.len() > max_bytes {
            close(&mut current, &mut open_entry, &mut parts);
        }
        match open_entry {
            Some(e) if e == unit.entry => current.push(','),
            Some(_) => {
                current.push_str("]},");
                current.push_str(&entry_headers[unit.entry]);
            }
            None => {
                current.push_str(prefix);
                current.push_str(&entry_headers[unit.entry]);
            }
        }
        current.push_str(&unit.change);
        open_entry = Some(unit.entry);
    }
    close(&mut current, &mut open_entry, &mut parts);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::events::{parse, EventKind, Notification};

    const BATCH_1000: &str = include_str!("../../../events/meta/status_batch_1000.json");
    const HUGE_REASON: &str = include_str!("../../../events/meta/bad/huge_reason.json");
    const MIXED: &str = include_str!("../../../events/meta/status_batch_mixed.json");

    fn statuses(body: &str) -> Vec<(String, String, String, String)> {
        let Ok(Notification::Events(events)) = parse(body.as_bytes()) else {
            panic!("part does not parse");
        };
        events
            .into_iter()
            .flat_map(|e| match e.kind {
                EventKind::Statuses {
                    phone_number_id,
                    statuses,
                } => statuses
                    .into_iter()
                    .map(|status| {
                        (
                            e.waba_id.to_string(),
                            phone_number_id.to_string(),
                            status.id.into_owned(),
                            status.status.to_string(),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_body_that_fits_is_one_unchanged_part() {
        let parts = split(MIXED, 256 * 1024).unwrap();
        assert_eq!(parts, vec![MIXED.to_owned()]);
    }

    #[test]
    fn every_status_survives_a_split_in_order_with_its_routing() {
        for max in [256 * 1024, 64 * 1024, 8 * 1024, 2 * 1024] {
            let parts = split(BATCH_1000, max).unwrap();
            assert!(parts.len() > 1);
            for part in &parts {
                assert!(part.len() <= max, "part of {} bytes over {max}", part.len());
            }
            let rejoined: Vec<_> = parts.iter().flat_map(|p| statuses(p)).collect();
            assert_eq!(rejoined, statuses(BATCH_1000), "max {max}");
        }
    }

    #[test]
    fn mixed_entries_keep_their_waba_and_phone_number() {
        let parts = split(MIXED, 1200).unwrap();
        assert!(parts.len() > 2);
        let rejoined: Vec<_> = parts.iter().flat_map(|p| statuses(p)).collect();
        assert_eq!(rejoined, statuses(MIXED));
    }

    #[test]
    fn a_single_oversized_change_has_its_long_strings_cut_and_marked() {
        let parts = split(HUGE_REASON, 256 * 1024).unwrap();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].len() < 16 * 1024);
        let Ok(Notification::Events(events)) = parse(parts[0].as_bytes()) else {
            panic!("part does not parse");
        };
        let EventKind::TemplateStatus(update) = &events[0].kind else {
            panic!("expected a template status update");
        };
        assert_eq!(update.message_template_id, 1407680283588705);
        assert_eq!(
            update.reason.as_deref().map(str::len),
            Some(TRUNCATED_STRING_BYTES)
        );
        assert_eq!(events[0].entry_time, Some(1732614900));
        assert!(parts[0].contains(TRUNCATED_MARKER));
    }

    #[test]
    fn a_budget_too_small_for_one_status_is_an_error_not_a_panic() {
        assert!(matches!(
            split(MIXED, 100),
            Err(SplitError::UnitTooLarge { .. })
        ));
    }
}
