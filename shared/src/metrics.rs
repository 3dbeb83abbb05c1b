//! Metrics in CloudWatch Embedded Metric Format: one JSON line per invocation on stdout (or per
//! interval, [`Batched`], for a function invoked once per status), which
//! CloudWatch Logs turns into metrics without a `PutMetricData` call (no request, no IAM grant,
//! no latency on the hot path).
//!
//! The only dimension is the function's name: no tenant, phone number, wamid or secret ever
//! becomes a dimension or a value, so metrics carry no personal data and stay cheap (one series
//! per function and metric). Per-tenant detail belongs in the logs.

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric (the alarms in infra/template.yaml use it).
pub const NAMESPACE: &str = "WhatsAppWebhook";

/// A metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
        }
    }
}

/// The metrics of one invocation.
#[derive(Debug, Clone)]
pub struct Metrics {
    function: &'static str,
    values: Vec<(&'static str, Unit, u64)>,
}

impl Metrics {
    /// Metrics of `function` (its dimension value).
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            values: Vec::new(),
        }
    }

    /// Adds `n` to a count (zeros are left out of the line).
    pub fn count(&mut self, name: &'static str, n: usize) -> &mut Self {
        self.add(name, Unit::Count, n as u64)
    }

    /// Records a duration in seconds (the largest recorded wins).
    pub fn seconds(&mut self, name: &'static str, seconds: u64) -> &mut Self {
        match self.values.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, v)) => *v = (*v).max(seconds),
            None => self.values.push((name, Unit::Seconds, seconds)),
        }
        self
    }

    fn add(&mut self, name: &'static str, unit: Unit, n: u64) -> &mut Self {
        if n == 0 {
            return self;
        }
        match self.values.iter_mut().find(|(m, _, _)| *m == name) {
            Some((_, _, v)) => *v += n,
            None => self.values.push((name, unit, n)),
        }
        self
    }

    /// Adds another invocation's values: counts add up, durations keep the largest.
    pub fn merge(&mut self, other: &Metrics) -> &mut Self {
        for (name, unit, n) in &other.values {
            match unit {
                Unit::Count => {
                    self.add(name, Unit::Count, *n);
                }
                Unit::Seconds => {
                    self.seconds(name, *n);
                }
            }
        }
        self
    }

    /// A recorded value (tests and logs).
    pub fn get(&self, name: &str) -> Option<u64> {
        self.values
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
    }

    /// The EMF line at `timestamp_ms`; `None` when nothing was recorded.
    pub fn to_emf(&self, timestamp_ms: u64) -> Option<String> {
        if self.values.is_empty() {
            return None;
        }
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }],
            }),
        );
        line.insert("Function".into(), Value::from(self.function));
        for (name, _, value) in &self.values {
            line.insert((*name).into(), Value::from(*value));
        }
        Some(Value::Object(line).to_string())
    }

    /// Writes the line to stdout, where Lambda hands it to CloudWatch Logs.
    pub fn emit(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        if let Some(line) = self.to_emf(now) {
            println!("{line}");
        }
    }
}

/// Metrics of many invocations of one container, written as one EMF line at most every
/// `interval_ms` (and at the first invocation). A function invoked once per status (the
/// webhook) would otherwise write a line per status: most of what a status costs in CloudWatch
/// Logs (docs/cost.md). The price: counts of the last interval before a container is reclaimed
/// are not written. Anything an alarm watches is written at once, not batched.
#[derive(Debug)]
pub struct Batched {
    pending: std::sync::Mutex<Option<Metrics>>,
    last_written_ms: std::sync::atomic::AtomicU64,
    interval_ms: u64,
}

impl Batched {
    pub const fn new(interval_ms: u64) -> Self {
        Self {
            pending: std::sync::Mutex::new(None),
            last_written_ms: std::sync::atomic::AtomicU64::new(0),
            interval_ms,
        }
    }

    /// Adds an invocation's metrics at `now_ms`; the EMF line to write when one is due.
    pub fn add(&self, metrics: &Metrics, now_ms: u64) -> Option<String> {
        use std::sync::atomic::Ordering;
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.as_mut() {
            Some(p) => {
                p.merge(metrics);
            }
            None => *pending = Some(metrics.clone()),
        }
        let last = self.last_written_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms.saturating_sub(last) < self.interval_ms {
            return None;
        }
        self.last_written_ms.store(now_ms.max(1), Ordering::Relaxed);
        pending.take().and_then(|p| p.to_emf(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_emf_with_the_function_as_its_only_dimension() {
        let mut m = Metrics::new("processor");
        m.count("StatusesReceived", 3)
            .count("StatusesReceived", 2)
            .count("Unrouted", 0)
            .seconds("ProcessingLag", 4)
            .seconds("ProcessingLag", 9)
            .seconds("ProcessingLag", 2);
        let line: Value = serde_json::from_str(&m.to_emf(1_700_000_000_000).unwrap()).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "StatusesReceived", "Unit": "Count"}, {"Name": "ProcessingLag", "Unit": "Seconds"}])
        );
        assert_eq!(line["Function"], "processor");
        assert_eq!(line["StatusesReceived"], 5);
        assert_eq!(line["ProcessingLag"], 9);
        assert!(line.get("Unrouted").is_none(), "zeros are left out");
        assert_eq!(Metrics::new("webhook").to_emf(1), None);
    }

    #[test]
    fn batched_metrics_write_the_first_invocation_then_one_line_per_interval() {
        let batched = Batched::new(10_000);
        let mut one = Metrics::new("webhook");
        one.count("BodiesQueued", 1).count("StatusesReceived", 2);
        let first = batched
            .add(&one, 1_000)
            .expect("the first invocation is written");
        assert!(first.contains("\"BodiesQueued\":1"));
        assert_eq!(batched.add(&one, 2_000), None);
        assert_eq!(batched.add(&one, 10_999), None);
        let due = batched
            .add(&one, 11_000)
            .expect("written after the interval");
        // The three invocations since the last line, summed.
        assert!(due.contains("\"BodiesQueued\":3"), "{due}");
        assert!(due.contains("\"StatusesReceived\":6"), "{due}");
        assert_eq!(batched.add(&one, 11_001), None);
    }
}
