//! A recording through the rules: units per status by table and index, requests by function
//! and service, and the busiest partition key of the table and of each index in one-second
//! windows, with the recording replayed at a given rate of statuses.

use crate::record::Request;
use crate::rules::{index_writes, key_text, read_units, table_write_units};
use crate::schema::TableSchema;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// Where a write lands: the table, or an index by name.
pub const TABLE: &str = "table";

/// Units and requests of a recording.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Statuses the workload handed to the pipeline.
    pub statuses: u64,
    /// Write request units by where they land (`table`, then each index).
    pub write_units: BTreeMap<String, u64>,
    /// Read request units by what was read (`table`, or an index).
    pub read_units: BTreeMap<String, f64>,
    /// Writes whose condition failed (billed, changed nothing).
    pub failed_conditions: u64,
    /// Requests by (service, function, operation).
    pub requests: BTreeMap<(String, String, String), u64>,
    /// Write and read units by the function that caused them, then by place.
    pub by_function: BTreeMap<String, FunctionUnits>,
}

/// The units one function's requests caused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionUnits {
    pub write_units: BTreeMap<String, u64>,
    pub read_units: BTreeMap<String, f64>,
    pub failed_conditions: u64,
}

impl Usage {
    /// Applies the rules to every request of a recording.
    pub fn of(schema: &TableSchema, statuses: u64, requests: &[Request]) -> Self {
        let mut tally = Tally::new(schema, &[]);
        for r in requests {
            tally.add(r);
        }
        tally.finish(statuses).0
    }

    /// The part of this usage that the functions `keep` accepts caused, over `statuses`.
    pub fn by_function(&self, keep: impl Fn(&str) -> bool) -> Usage {
        let mut u = Usage {
            statuses: self.statuses,
            write_units: self.write_units.keys().map(|k| (k.clone(), 0)).collect(),
            ..Usage::default()
        };
        for (function, units) in self.by_function.iter().filter(|(f, _)| keep(f)) {
            for (place, n) in &units.write_units {
                *u.write_units.entry(place.clone()).or_default() += n;
            }
            for (place, n) in &units.read_units {
                *u.read_units.entry(place.clone()).or_default() += n;
            }
            u.failed_conditions += units.failed_conditions;
            u.by_function.insert(function.clone(), units.clone());
        }
        u.requests = self
            .requests
            .iter()
            .filter(|((_, f, _), _)| keep(f))
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        u
    }

    /// All write units (table and every index).
    pub fn total_write_units(&self) -> u64 {
        self.write_units.values().sum()
    }

    /// All read units.
    pub fn total_read_units(&self) -> f64 {
        self.read_units.values().sum()
    }

    /// `units / statuses`.
    pub fn per_status(&self, units: f64) -> f64 {
        if self.statuses == 0 {
            0.0
        } else {
            units / self.statuses as f64
        }
    }

    /// Requests of one service per status.
    pub fn requests_per_status(&self, service: &str) -> f64 {
        let n: u64 = self
            .requests
            .iter()
            .filter(|((s, _, _), _)| s == service)
            .map(|(_, n)| n)
            .sum();
        self.per_status(n as f64)
    }

    /// A Markdown table of units per status by table and index.
    pub fn units_table(&self) -> String {
        let mut out =
            String::from("| where | WRU per status | RRU per status |\n|---|---:|---:|\n");
        for (place, units) in &self.write_units {
            let reads = self.read_units.get(place).copied().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "| {place} | {:.3} | {:.3} |",
                self.per_status(*units as f64),
                self.per_status(reads)
            );
        }
        let _ = writeln!(
            out,
            "| **total** | **{:.3}** | **{:.3}** |",
            self.per_status(self.total_write_units() as f64),
            self.per_status(self.total_read_units())
        );
        out
    }

    /// A Markdown table of requests per status by service, function and operation.
    pub fn requests_table(&self) -> String {
        let mut out = String::from(
            "| service | function | operation | requests per status |\n|---|---|---|---:|\n",
        );
        for ((service, function, operation), n) in &self.requests {
            let _ = writeln!(
                out,
                "| {service} | {function} | {operation} | {:.4} |",
                self.per_status(*n as f64)
            );
        }
        out
    }
}

/// The busiest partition key of one place (the table or an index) in any one-second window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peak {
    /// `table`, or the index's name.
    pub place: String,
    /// The partition key's value, with its variable parts shortened for reading.
    pub key: String,
    /// Writes to it in its busiest second.
    pub writes: u64,
    /// Write units to it in its busiest second.
    pub units: u64,
}

/// The busiest key of the table and of each index when the recording is replayed at `rate`
/// statuses a second: a request at position `p` falls in second `⌊p / rate⌋`. A failed
/// conditional write counts against its key too: it takes the partition's throughput.
pub fn peaks(schema: &TableSchema, requests: &[Request], rate: f64) -> Vec<Peak> {
    let mut tally = Tally::new(schema, &[rate]);
    for r in requests {
        tally.add(r);
    }
    tally.finish(0).1.remove(0)
}

/// The rules applied to requests one at a time, so a long recording need not be held: usage,
/// and for each rate the busiest key of each place. Requests must come in the order of their
/// positions (a replay's time only moves forward).
pub struct Tally<'s> {
    schema: &'s TableSchema,
    usage: Usage,
    rates: Vec<Replay>,
}

/// One replay rate: the second being counted, and the busiest keys of the seconds before.
struct Replay {
    rate: f64,
    second: u64,
    /// (place, key) → (writes, units) in `second`.
    current: HashMap<(String, String), (u64, u64)>,
    best: BTreeMap<String, Peak>,
}

impl Replay {
    fn close_second(&mut self) {
        for ((place, key), (writes, units)) in self.current.drain() {
            let peak = self.best.entry(place.clone()).or_insert_with(|| Peak {
                place,
                key: String::new(),
                writes: 0,
                units: 0,
            });
            if (writes, units) > (peak.writes, peak.units) {
                peak.key = readable_key(&key);
                peak.writes = writes;
                peak.units = units;
            }
        }
    }
}

impl<'s> Tally<'s> {
    pub fn new(schema: &'s TableSchema, rates: &[f64]) -> Self {
        let places: Vec<String> = std::iter::once(TABLE.to_owned())
            .chain(schema.indexes.iter().map(|i| i.name.clone()))
            .collect();
        Self {
            schema,
            usage: Usage {
                write_units: places.iter().map(|p| (p.clone(), 0)).collect(),
                ..Usage::default()
            },
            rates: rates
                .iter()
                .map(|rate| Replay {
                    rate: *rate,
                    second: 0,
                    current: HashMap::new(),
                    best: places
                        .iter()
                        .map(|p| {
                            let peak = Peak {
                                place: p.clone(),
                                key: String::new(),
                                writes: 0,
                                units: 0,
                            };
                            (p.clone(), peak)
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Counts one request.
    pub fn add(&mut self, r: &Request) {
        let u = &mut self.usage;
        *u.requests
            .entry((r.service.clone(), r.function.clone(), r.operation.clone()))
            .or_default() += 1;
        let f = u.by_function.entry(r.function.clone()).or_default();
        if let Some(read) = &r.read {
            let place = read.index.clone().unwrap_or_else(|| TABLE.into());
            let units = read_units(read);
            *u.read_units.entry(place.clone()).or_default() += units;
            *f.read_units.entry(place).or_default() += units;
        }
        let mut landed: Vec<(String, String, u64)> = Vec::new();
        for w in &r.writes {
            let units = table_write_units(w);
            *u.write_units.entry(TABLE.into()).or_default() += units;
            *f.write_units.entry(TABLE.into()).or_default() += units;
            u.failed_conditions += u64::from(w.condition_failed);
            f.failed_conditions += u64::from(w.condition_failed);
            landed.push((
                TABLE.into(),
                key_text(&w.key, &self.schema.partition_key),
                units,
            ));
            for iw in index_writes(self.schema, w) {
                *u.write_units.entry(iw.index.clone()).or_default() += iw.units;
                *f.write_units.entry(iw.index.clone()).or_default() += iw.units;
                landed.push((iw.index, iw.partition, iw.units));
            }
        }
        for replay in &mut self.rates {
            let second = (r.position as f64 / replay.rate).floor() as u64;
            if second != replay.second {
                replay.close_second();
                replay.second = second;
            }
            for (place, key, units) in &landed {
                let slot = replay
                    .current
                    .entry((place.clone(), key.clone()))
                    .or_default();
                slot.0 += 1;
                slot.1 += units;
            }
        }
    }

    /// The usage of `statuses`, and for each rate the busiest key of each place.
    pub fn finish(mut self, statuses: u64) -> (Usage, Vec<Vec<Peak>>) {
        self.usage.statuses = statuses;
        let peaks = self
            .rates
            .into_iter()
            .map(|mut replay| {
                replay.close_second();
                replay.best.into_values().collect()
            })
            .collect();
        (self.usage, peaks)
    }
}

/// A key with its ids (wamids, uuids, numbers) shortened, so a report shows its shape.
fn readable_key(key: &str) -> String {
    key.split('#')
        .map(|part| {
            if part.len() > 24 {
                format!(
                    "{}…",
                    &part[..part.char_indices().nth(12).map_or(part.len(), |(i, _)| i)]
                )
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("#")
}

/// A Markdown table of the busiest keys, one list of peaks per rate.
pub fn peaks_table(rates: &[f64], peaks: &[Vec<Peak>]) -> String {
    let mut out = String::from("| statuses/s | where | busiest partition key | writes/s | WCU/s |\n|---:|---|---|---:|---:|\n");
    for (rate, list) in rates.iter().zip(peaks) {
        for p in list {
            let _ = writeln!(
                out,
                "| {rate:.0} | {} | `{}` | {} | {} |",
                p.place,
                if p.key.is_empty() { "(none)" } else { &p.key },
                p.writes,
                p.units
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Write;
    use crate::schema::{Index, Projection};
    use crate::Item;
    use serde_json::json;

    fn item(v: serde_json::Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    fn schema() -> TableSchema {
        TableSchema {
            logical_id: "Table".into(),
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
            indexes: vec![Index {
                name: "gsi".into(),
                partition_key: "gpk".into(),
                sort_key: None,
                projection: Projection::All,
            }],
        }
    }

    fn update(position: u64, pk: &str, status: &str) -> Request {
        let before = item(json!({"pk": {"S": pk}, "sk": {"S": "M"}, "gpk": {"S": "CAMPAIGN"}}));
        let mut after = before.clone();
        after.insert("status".into(), json!({"S": status}));
        Request {
            function: "processor".into(),
            service: "dynamodb".into(),
            operation: "UpdateItem".into(),
            position,
            writes: vec![Write {
                table: "t".into(),
                key: item(json!({"pk": {"S": pk}, "sk": {"S": "M"}})),
                before: Some(before),
                after: Some(after),
                transactional: false,
                condition_failed: false,
            }],
            read: None,
        }
    }

    #[test]
    fn units_per_status_count_the_index() {
        let requests: Vec<Request> = (0..10)
            .map(|i| update(i, &format!("m{i}"), "sent"))
            .collect();
        let u = Usage::of(&schema(), 10, &requests);
        assert_eq!(u.write_units[TABLE], 10);
        assert_eq!(u.write_units["gsi"], 10);
        assert_eq!(u.per_status(u.total_write_units() as f64), 2.0);
        assert_eq!(u.requests_per_status("dynamodb"), 1.0);
    }

    /// One-second windows: 3,000 updates of distinct items that share one index key, replayed
    /// at 1,000 statuses/s, put 1,000 writes a second on that index key and 1 on each item.
    #[test]
    fn peaks_per_key_in_one_second_windows() {
        let requests: Vec<Request> = (0..3000)
            .map(|i| update(i, &format!("m{i}"), "sent"))
            .collect();
        let p = peaks(&schema(), &requests, 1000.0);
        let gsi = p.iter().find(|p| p.place == "gsi").unwrap();
        assert_eq!((gsi.key.as_str(), gsi.writes), ("CAMPAIGN", 1000));
        let table = p.iter().find(|p| p.place == TABLE).unwrap();
        assert_eq!(table.writes, 1);
        let slower = peaks(&schema(), &requests, 100.0);
        assert_eq!(
            slower.iter().find(|p| p.place == "gsi").unwrap().writes,
            100
        );
    }
}
