//! The campaign circuit breaker, decided without I/O: which failures pause a campaign, and when.
//!
//! Three rules, each read from the campaign counters the stream fold keeps exactly once:
//! - **spike**: failures in the breaker classes (`rate_limit`, `engagement`, and the tenant's extra
//!   codes) reach `min_failures` **and** their share of the attempted messages (reached sent +
//!   reached failed) reaches `failure_rate`. Counted since the campaign's baseline: the counts
//!   when a person last resumed it, so a resumed campaign trips again only on new failures.
//! - **block**: one failure of class `account` (the number or account cannot send) holds every
//!   active campaign of that phone number.
//! - **template refused**: 132015 (template paused) or 132016 (template disabled) holds the
//!   campaign on its template, as the template's own pause would.
//!
//! The counters only move by exact deltas and a hold is placed at most once (a held campaign is
//! not held again), so the same set of statuses pauses a campaign once, in any order and under
//! any redelivery.

use super::errors::{lookup, ErrorClass};
use std::collections::BTreeMap;

/// Default failures in the breaker classes before the rate is looked at.
pub const DEFAULT_MIN_FAILURES: u64 = 20;
/// Default share of attempted messages.
pub const DEFAULT_FAILURE_RATE: f64 = 0.10;
/// Bounds of `min_failures`.
pub const MIN_FAILURES_RANGE: std::ops::RangeInclusive<u64> = 1..=100_000;
/// At most this many extra codes.
pub const MAX_EXTRA_CODES: usize = 50;

/// The hold a spike places.
pub const SPIKE_HOLD: &str = "failure_spike";
/// Codes that hold the campaign on its template: template paused, template disabled.
pub const TEMPLATE_REFUSED: [i64; 2] = [132015, 132016];

/// A tenant's breaker settings (`circuit_breaker` in `PUT /settings`).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    pub enabled: bool,
    pub min_failures: u64,
    pub failure_rate: f64,
    /// Codes counted as breaker failures besides the `rate_limit` and `engagement` classes.
    pub extra_codes: Vec<i64>,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            min_failures: DEFAULT_MIN_FAILURES,
            failure_rate: DEFAULT_FAILURE_RATE,
            extra_codes: Vec::new(),
        }
    }
}

/// A settings field that is out of bounds: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    pub field: &'static str,
    pub reason: &'static str,
}

impl BreakerSettings {
    /// Checks the bounds; the first field out of them is named.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !MIN_FAILURES_RANGE.contains(&self.min_failures) {
            return Err(InvalidSetting {
                field: "circuit_breaker.min_failures",
                reason: "min_failures is 1 to 100000",
            });
        }
        if !(0.0..=1.0).contains(&self.failure_rate) || self.failure_rate.is_nan() {
            return Err(InvalidSetting {
                field: "circuit_breaker.failure_rate",
                reason: "failure_rate is 0 to 1",
            });
        }
        if self.extra_codes.len() > MAX_EXTRA_CODES
            || self
                .extra_codes
                .iter()
                .any(|c| !(1..=9_999_999).contains(c))
        {
            return Err(InvalidSetting {
                field: "circuit_breaker.extra_codes",
                reason: "extra_codes are at most 50 error codes, each 1 to 9999999",
            });
        }
        Ok(())
    }

    /// Whether failures with `code` count towards a spike.
    pub fn counts(&self, code: i64) -> bool {
        self.extra_codes.contains(&code)
            || matches!(
                lookup(code).map(|e| e.class),
                Some(ErrorClass::RateLimit | ErrorClass::Engagement)
            )
    }
}

/// A campaign's counts, as the breaker reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Reached sent + reached failed.
    pub attempted: i64,
    /// Failed messages by error code.
    pub errors: BTreeMap<i64, i64>,
}

impl FailureCounts {
    /// These counts less a baseline (never below zero).
    pub fn since(&self, base: &FailureCounts) -> FailureCounts {
        FailureCounts {
            attempted: (self.attempted - base.attempted).max(0),
            errors: self
                .errors
                .iter()
                .map(|(code, n)| (*code, (n - base.errors.get(code).unwrap_or(&0)).max(0)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}

/// A spike: what tripped, for the alert and the audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    pub failures: i64,
    pub attempted: i64,
    pub share: f64,
    /// The breaker code with the most failures (the lowest code on a tie).
    pub top_code: i64,
    pub top_count: i64,
}

/// Whether `counts` (since the baseline) trip the breaker under `settings`.
pub fn spike(counts: &FailureCounts, settings: &BreakerSettings) -> Option<Spike> {
    if !settings.enabled {
        return None;
    }
    let mut failures = 0;
    let mut top: Option<(i64, i64)> = None;
    for (code, n) in counts.errors.iter().filter(|(c, _)| settings.counts(**c)) {
        failures += n;
        if top.is_none_or(|(_, best)| *n > best) {
            top = Some((*code, *n));
        }
    }
    let (top_code, top_count) = top?;
    let attempted = counts.attempted.max(failures);
    let share = failures as f64 / attempted.max(1) as f64;
    (failures as u64 >= settings.min_failures && share >= settings.failure_rate).then_some(Spike {
        failures,
        attempted,
        share: super::health::ratio(failures, attempted),
        top_code,
        top_count,
    })
}

/// The hold that one failure with `code` places at once, whatever the counts: `blocked:<phone>`
/// for an account failure (on every active campaign of the number), `template:<id>` when Meta
/// refused the template at send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImmediateHold {
    Blocked,
    TemplateRefused,
}

/// What a failure code does at once, if anything.
pub fn immediate_hold(code: i64) -> Option<ImmediateHold> {
    if TEMPLATE_REFUSED.contains(&code) {
        return Some(ImmediateHold::TemplateRefused);
    }
    (lookup(code).map(|e| e.class) == Some(ErrorClass::Account)).then_some(ImmediateHold::Blocked)
}

/// The hold name of a blocked phone number.
pub fn blocked_hold(phone_number_id: &str) -> String {
    format!("blocked:{phone_number_id}")
}

/// The hold name of a template (the same the template's own pause places).
pub fn template_hold(template_id: u64) -> String {
    format!("template:{template_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(attempted: i64, errors: &[(i64, i64)]) -> FailureCounts {
        FailureCounts {
            attempted,
            errors: errors.iter().copied().collect(),
        }
    }

    #[test]
    fn a_spike_needs_both_the_count_and_the_share() {
        let s = BreakerSettings::default();
        // 19 rate-limit failures of 19 attempted: the share is there, the count is not.
        assert_eq!(spike(&counts(19, &[(131048, 19)]), &s), None);
        // 20 of 201: the count is there, the share (9.95 %) is not.
        assert_eq!(spike(&counts(201, &[(130429, 20)]), &s), None);
        // 20 of 200: both.
        let tripped = spike(&counts(200, &[(130429, 12), (131049, 8)]), &s).unwrap();
        assert_eq!(
            (tripped.failures, tripped.top_code, tripped.top_count),
            (20, 130429, 12)
        );
        assert_eq!(tripped.share, 0.1);
    }

    #[test]
    fn only_breaker_classes_and_extra_codes_count() {
        let mut s = BreakerSettings::default();
        // Recipient failures (131026) and an opt-out (131050) never trip it.
        assert_eq!(spike(&counts(40, &[(131026, 30), (131050, 10)]), &s), None);
        s.extra_codes = vec![131026];
        assert_eq!(
            spike(&counts(40, &[(131026, 30)]), &s).map(|t| t.top_code),
            Some(131026)
        );
        s.enabled = false;
        assert_eq!(spike(&counts(40, &[(131048, 40)]), &s), None);
    }

    #[test]
    fn counts_since_a_baseline_trip_only_on_new_failures() {
        let s = BreakerSettings::default();
        let now = counts(300, &[(131048, 40)]);
        let base = counts(250, &[(131048, 35)]);
        assert_eq!(spike(&now.since(&base), &s), None);
        let later = counts(320, &[(131048, 56)]);
        assert_eq!(spike(&later.since(&base), &s).map(|t| t.failures), Some(21));
    }

    #[test]
    fn settings_out_of_bounds_name_their_field() {
        let bad = |f: fn(&mut BreakerSettings)| {
            let mut s = BreakerSettings::default();
            f(&mut s);
            s.validate().unwrap_err().field
        };
        assert_eq!(bad(|s| s.min_failures = 0), "circuit_breaker.min_failures");
        assert_eq!(
            bad(|s| s.min_failures = 100_001),
            "circuit_breaker.min_failures"
        );
        assert_eq!(
            bad(|s| s.failure_rate = 1.5),
            "circuit_breaker.failure_rate"
        );
        assert_eq!(
            bad(|s| s.failure_rate = f64::NAN),
            "circuit_breaker.failure_rate"
        );
        assert_eq!(
            bad(|s| s.extra_codes = vec![0]),
            "circuit_breaker.extra_codes"
        );
        assert!(BreakerSettings::default().validate().is_ok());
    }

    #[test]
    fn account_and_template_refusals_hold_at_once() {
        for code in [131031, 368, 131042, 133010, 131057] {
            assert_eq!(immediate_hold(code), Some(ImmediateHold::Blocked), "{code}");
        }
        for code in TEMPLATE_REFUSED {
            assert_eq!(immediate_hold(code), Some(ImmediateHold::TemplateRefused));
        }
        for code in [131049, 131026, 130429, 999_999] {
            assert_eq!(immediate_hold(code), None, "{code}");
        }
        assert_eq!(blocked_hold("106540352242922"), "blocked:106540352242922");
    }

    /// A campaign's runs as the fold applies them: counters move by each run's delta, the
    /// breaker is checked after each, and a held campaign is not held again.
    fn trips(runs: &[Vec<(bool, bool)>], settings: &BreakerSettings) -> usize {
        let mut total = FailureCounts::default();
        let mut held = false;
        let mut trips = 0;
        for run in runs {
            for (attempted, failed) in run {
                if *attempted {
                    total.attempted += 1;
                }
                if *failed {
                    *total.errors.entry(131048).or_default() += 1;
                }
            }
            if !held && spike(&total, settings).is_some() {
                held = true;
                trips += 1;
            }
        }
        trips
    }

    proptest! {
        /// Whatever the order, batching and redelivery of a campaign's statuses: it pauses at
        /// most once, and exactly once when the final counts cross the thresholds.
        #[test]
        fn the_same_statuses_pause_once_in_any_order_and_batching(
            outcomes in proptest::collection::vec(any::<bool>(), 0..300),
            cuts in proptest::collection::vec(1usize..40, 1..40),
            seed in any::<u64>(),
            redelivered in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let settings = BreakerSettings { min_failures: 5, ..BreakerSettings::default() };
            // Each message attempted once; `true` means it failed with a rate-limit code.
            let mut statuses: Vec<(bool, bool)> = outcomes.iter().map(|f| (true, *f)).collect();
            // A shuffle from the seed (reordered webhooks).
            let mut state = seed | 1;
            for i in (1..statuses.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                statuses.swap(i, (state % (i as u64 + 1)) as usize);
            }
            // Cut into runs; a redelivered run adds nothing (the ledger skips it) but is
            // checked again.
            let mut runs: Vec<Vec<(bool, bool)>> = Vec::new();
            let mut rest = statuses.as_slice();
            for (i, cut) in cuts.iter().cycle().enumerate() {
                if rest.is_empty() {
                    break;
                }
                let (run, tail) = rest.split_at((*cut).min(rest.len()));
                runs.push(run.to_vec());
                if redelivered[i % redelivered.len()] {
                    runs.push(Vec::new());
                }
                rest = tail;
            }
            let failed = outcomes.iter().filter(|f| **f).count() as i64;
            let final_counts = counts(outcomes.len() as i64, &[(131048, failed)]);
            let n = trips(&runs, &settings);
            prop_assert!(n <= 1);
            if spike(&final_counts, &settings).is_some() {
                prop_assert_eq!(n, 1);
            }
        }
    }
}
