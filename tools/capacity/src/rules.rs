//! DynamoDB's on-demand billing rules, one function each. Each rule's test names the AWS
//! documentation page it comes from.

use crate::record::{Consistency, Read, Write};
use crate::schema::{Index, Projection, TableSchema};
use crate::size::{attributes_size, item_size};
use crate::Item;

/// One write request unit per started KB.
const WRITE_UNIT_BYTES: u64 = 1024;
/// One read request unit per started 4 KB (strongly consistent).
const READ_UNIT_BYTES: u64 = 4096;
/// The bytes DynamoDB adds to every index entry.
pub const INDEX_ENTRY_OVERHEAD: u64 = 100;

/// Write request units of one item written to the table: 1 per started KB of the larger of its
/// images before and after (at least 1); twice that in a transaction. A failed condition is
/// billed like a write of the item as it is.
pub fn table_write_units(w: &Write) -> u64 {
    let size = w
        .before
        .as_ref()
        .map(item_size)
        .max(w.after.as_ref().map(item_size))
        .unwrap_or(0);
    let units = size.div_ceil(WRITE_UNIT_BYTES).max(1);
    if w.transactional {
        2 * units
    } else {
        units
    }
}

/// One write to one index partition, caused by a table write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexWrite {
    pub index: String,
    /// The index partition key's value.
    pub partition: String,
    /// Write request units (1 per started KB of the index entry).
    pub units: u64,
}

/// The index writes a table write causes:
/// - none when its condition failed, or the item is in the index neither before nor after;
/// - a put when the item enters the index, a delete when it leaves;
/// - a delete and a put when an index key changes;
/// - one write when a projected attribute changes, and none when none does.
///
/// Each is billed by the size of the index entry: the table's and the index's keys, the
/// projected attributes, and 100 bytes.
pub fn index_writes(table: &TableSchema, w: &Write) -> Vec<IndexWrite> {
    if w.condition_failed {
        return Vec::new();
    }
    let mut out = Vec::new();
    for index in &table.indexes {
        let before = w.before.as_ref().filter(|i| in_index(index, i));
        let after = w.after.as_ref().filter(|i| in_index(index, i));
        let write = |item: &Item, units: u64| IndexWrite {
            index: index.name.clone(),
            partition: key_text(item, &index.partition_key),
            units,
        };
        match (before, after) {
            (None, None) => {}
            (None, Some(a)) => out.push(write(a, entry_units(table, index, a))),
            (Some(b), None) => out.push(write(b, entry_units(table, index, b))),
            (Some(b), Some(a)) => {
                let keys_changed = index.key_attributes().any(|k| b.get(k) != a.get(k));
                if keys_changed {
                    out.push(write(b, entry_units(table, index, b)));
                    out.push(write(a, entry_units(table, index, a)));
                } else if projection_changed(table, index, b, a) {
                    let units = entry_units(table, index, b).max(entry_units(table, index, a));
                    out.push(write(a, units));
                }
            }
        }
    }
    out
}

/// An item is in a (sparse) index when it has every key attribute of the index.
fn in_index(index: &Index, item: &Item) -> bool {
    index.key_attributes().all(|k| item.contains_key(k))
}

fn projected<'a>(table: &'a TableSchema, index: &'a Index, item: &'a Item) -> Vec<&'a str> {
    let keys = table.key_attributes().chain(index.key_attributes());
    match &index.projection {
        Projection::All => item.keys().map(String::as_str).collect(),
        Projection::KeysOnly => keys.collect(),
        Projection::Include(names) => keys.chain(names.iter().map(String::as_str)).collect(),
    }
}

fn projection_changed(table: &TableSchema, index: &Index, before: &Item, after: &Item) -> bool {
    let mut names = projected(table, index, before);
    names.extend(projected(table, index, after));
    names.into_iter().any(|n| before.get(n) != after.get(n))
}

/// The size of an item's entry in an index.
pub fn index_entry_size(table: &TableSchema, index: &Index, item: &Item) -> u64 {
    let mut names = projected(table, index, item);
    names.sort_unstable();
    names.dedup();
    attributes_size(item, names) + INDEX_ENTRY_OVERHEAD
}

fn entry_units(table: &TableSchema, index: &Index, item: &Item) -> u64 {
    index_entry_size(table, index, item)
        .div_ceil(WRITE_UNIT_BYTES)
        .max(1)
}

/// A key attribute's value as text (the partition a write lands on).
pub fn key_text(item: &Item, attribute: &str) -> String {
    item.get(attribute)
        .and_then(|v| v.as_object())
        .and_then(|o| o.values().next())
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Read request units of one read: 1 per started 4 KB strongly consistent, half that
/// eventually consistent, twice that in a transaction. GetItem and BatchGetItem round each
/// item by itself (a key without an item still costs the minimum); Query and Scan round the
/// sum of what they read, filtered out or not, once.
pub fn read_units(r: &Read) -> f64 {
    let factor = match r.consistency {
        Consistency::Eventual => 0.5,
        Consistency::Strong => 1.0,
        Consistency::Transactional => 2.0,
    };
    let units = |bytes: u64| bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if r.summed {
        let returned: u64 = r.item_sizes.iter().sum();
        let mean = returned.checked_div(r.item_sizes.len() as u64).unwrap_or(0);
        factor * units(returned + mean * r.filtered_out)
    } else {
        let found: f64 = r.item_sizes.iter().map(|s| units(*s)).sum();
        factor * (found + r.missing as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: serde_json::Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    /// A string attribute `pad` that makes the item exactly `bytes` long with `pk` and `sk`.
    fn sized(pk: &str, extra: serde_json::Value, bytes: u64) -> Item {
        let mut i = item(json!({"pk": {"S": pk}, "sk": {"S": "S"}}));
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            i.insert(k, v);
        }
        let used = item_size(&i) + 3; // "pad"
        i.insert(
            "pad".into(),
            json!({"S": "x".repeat((bytes - used) as usize)}),
        );
        assert_eq!(item_size(&i), bytes);
        i
    }

    fn write(before: Option<Item>, after: Option<Item>) -> Write {
        Write {
            table: "t".into(),
            key: item(json!({"pk": {"S": "p"}, "sk": {"S": "S"}})),
            before,
            after,
            transactional: false,
            condition_failed: false,
        }
    }

    fn schema(projection: Projection) -> TableSchema {
        TableSchema {
            logical_id: "Table".into(),
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
            indexes: vec![Index {
                name: "gsi".into(),
                partition_key: "gpk".into(),
                sort_key: None,
                projection,
            }],
        }
    }

    /// "Read/write capacity mode" (on-demand, write request units): "one write request unit
    /// ... for an item up to 1 KB"; larger items take one per started KB, of the larger of
    /// the item before and after an update; a transactional write takes two.
    /// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>
    #[test]
    fn write_units_per_started_kb_of_the_larger_image_doubled_in_transactions() {
        let small = sized("p", json!({}), 600);
        let large = sized("p", json!({}), 1500);
        assert_eq!(table_write_units(&write(None, Some(small.clone()))), 1);
        // grows from 600 B to 1,500 B: 2 units; shrinks back: still 2 (the larger image)
        assert_eq!(
            table_write_units(&write(Some(small.clone()), Some(large.clone()))),
            2
        );
        assert_eq!(
            table_write_units(&write(Some(large.clone()), Some(small.clone()))),
            2
        );
        assert_eq!(
            table_write_units(&write(Some(sized("p", json!({}), 1024)), None)),
            1
        );
        assert_eq!(
            table_write_units(&write(Some(sized("p", json!({}), 1025)), None)),
            2
        );
        let mut t = write(None, Some(large));
        t.transactional = true;
        assert_eq!(table_write_units(&t), 4);
    }

    /// "Condition expressions": "If the condition expression evaluates to false, DynamoDB
    /// still consumes write capacity from the table" (at least 1 unit, by the item's size).
    /// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html>
    #[test]
    fn a_failed_condition_is_billed_and_writes_no_index() {
        let before = sized("p", json!({"gpk": {"S": "g"}}), 2000);
        let mut w = write(Some(before.clone()), Some(before));
        w.condition_failed = true;
        assert_eq!(table_write_units(&w), 2);
        assert!(index_writes(&schema(Projection::All), &w).is_empty());
        let mut missing = write(None, None);
        missing.condition_failed = true;
        assert_eq!(table_write_units(&missing), 1);
    }

    /// "Provisioned throughput considerations for Global Secondary Indexes" (writes): no index
    /// write when neither its keys nor projected attributes change; one when a projected
    /// attribute changes; a delete and a put when an index key changes; one to add or remove
    /// an item. <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes>
    #[test]
    fn index_writes_follow_keys_and_projection() {
        let all = schema(Projection::All);
        let keys = schema(Projection::KeysOnly);
        let a = item(
            json!({"pk": {"S": "p"}, "sk": {"S": "S"}, "gpk": {"S": "g1"}, "status": {"S": "sent"}}),
        );
        let mut b = a.clone();
        b.insert("status".into(), json!({"S": "read"}));
        // a projected attribute changed: ALL writes once, KEYS_ONLY not at all
        assert_eq!(
            index_writes(&all, &write(Some(a.clone()), Some(b.clone()))).len(),
            1
        );
        assert!(index_writes(&keys, &write(Some(a.clone()), Some(b.clone()))).is_empty());
        // nothing changed: no write
        assert!(index_writes(&all, &write(Some(a.clone()), Some(a.clone()))).is_empty());
        // the index key changed: a delete from g1 and a put to g2
        let mut moved = a.clone();
        moved.insert("gpk".into(), json!({"S": "g2"}));
        let w = index_writes(&keys, &write(Some(a.clone()), Some(moved)));
        assert_eq!(
            w.iter().map(|w| w.partition.as_str()).collect::<Vec<_>>(),
            ["g1", "g2"]
        );
        // enters the index; leaves it; never in it (sparse)
        let mut out = a.clone();
        out.remove("gpk");
        assert_eq!(
            index_writes(&keys, &write(Some(out.clone()), Some(a.clone()))).len(),
            1
        );
        assert_eq!(
            index_writes(&keys, &write(Some(a.clone()), Some(out.clone()))).len(),
            1
        );
        assert!(index_writes(&all, &write(Some(out.clone()), Some(out))).is_empty());
        assert_eq!(index_writes(&all, &write(None, Some(a))).len(), 1);
    }

    /// "Projections" and "Storage considerations for Global Secondary Indexes": an index entry
    /// is the table's key, the index's key and the projected attributes, plus 100 bytes; its
    /// writes are billed by that size.
    /// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.StorageConsiderations>
    #[test]
    fn index_entries_are_sized_by_their_projection() {
        let i = sized(
            "p",
            json!({"gpk": {"S": "g"}, "status": {"S": "sent"}}),
            3000,
        );
        let keys_only = schema(Projection::KeysOnly);
        // pk + p, sk + S, gpk + g = 3 + 3 + 4, plus 100
        assert_eq!(index_entry_size(&keys_only, &keys_only.indexes[0], &i), 110);
        let include = schema(Projection::Include(vec!["status".into()]));
        assert_eq!(index_entry_size(&include, &include.indexes[0], &i), 120);
        let all = schema(Projection::All);
        assert_eq!(index_entry_size(&all, &all.indexes[0], &i), 3100);
        let w = index_writes(&all, &write(None, Some(i)));
        assert_eq!(w[0].units, 4);
    }

    /// "Read/write capacity mode" (read request units) and "Query" / "BatchGetItem" capacity:
    /// 1 unit per started 4 KB strongly consistent, half eventually consistent, two
    /// transactional; BatchGetItem rounds each item up by itself; Query sums what it read and
    /// rounds once; a filter does not lower what a Query consumes.
    /// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>
    #[test]
    fn read_units_by_consistency_and_rounding() {
        let read = |consistency, summed, item_sizes: Vec<u64>| Read {
            table: "t".into(),
            index: None,
            consistency,
            summed,
            item_sizes,
            missing: 0,
            filtered_out: 0,
        };
        // GetItem of 5 KB: 2 strong, 1 eventual, 4 transactional
        assert_eq!(
            read_units(&read(Consistency::Strong, false, vec![5000])),
            2.0
        );
        assert_eq!(
            read_units(&read(Consistency::Eventual, false, vec![5000])),
            1.0
        );
        assert_eq!(
            read_units(&read(Consistency::Transactional, false, vec![5000])),
            4.0
        );
        // BatchGetItem of 100 items of 600 B: each rounded to 4 KB, 100 units strong
        assert_eq!(
            read_units(&read(Consistency::Strong, false, vec![600; 100])),
            100.0
        );
        // a Query returning the same 60,000 B: 15 units, 7.5 eventually consistent
        assert_eq!(
            read_units(&read(Consistency::Eventual, true, vec![600; 100])),
            7.5
        );
        // an empty Query still costs the minimum
        assert_eq!(read_units(&read(Consistency::Eventual, true, vec![])), 0.5);
        // a key with no item costs the minimum too
        let mut miss = read(Consistency::Strong, false, vec![]);
        miss.missing = 3;
        assert_eq!(read_units(&miss), 3.0);
        // a filtered Query pays for what it read: 10 returned, 90 dropped, 600 B each
        let mut filtered = read(Consistency::Eventual, true, vec![600; 10]);
        filtered.filtered_out = 90;
        assert_eq!(read_units(&filtered), 7.5);
    }
}
