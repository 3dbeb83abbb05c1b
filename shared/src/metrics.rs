//! Metrics in CloudWatch Embedded Metric Format: one JSON line per invocation on stdout, which
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
}
