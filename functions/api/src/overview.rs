//! The tenant's overview (`GET /overview`): what its campaigns' messages reached in the last 24
//! hours and 7 days, beside the period before each, and its campaigns by status. The dashboard's
//! first page.
//!
//! Folded from the campaigns' 5-minute timelines, so it costs nothing on the hot path: it reads
//! the timelines of the campaigns the counters fold touched in the last 14 days (`counted_at`),
//! at most 4,032 small buckets each, 8 at a time.

use crate::http::{self, TenantQuery};
use crate::responses::Refused;
use crate::{Api, ApiError};
use futures::{StreamExt, TryStreamExt};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::domain::timeline::Steps;
use shared::store::queries::{number, text};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

const DAY: u64 = 86_400;
/// How far back the overview reads: the 7 days shown and the 7 before them.
const READ_BACK: u64 = 14 * DAY;
/// Timelines read at once.
const CONCURRENT_READS: usize = 8;

/// `?to=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OverviewQuery {
    /// End of the periods, Unix seconds (default: now)
    #[param(value_type = Option<i64>, minimum = 0)]
    to: Option<String>,
}

/// Messages that reached each step in a period.
#[derive(Serialize, ToSchema, Default, Debug, PartialEq, Eq)]
pub(crate) struct Reached {
    sent: i64,
    delivered: i64,
    read: i64,
    failed: i64,
    replied: i64,
}

impl From<&Steps> for Reached {
    fn from(s: &Steps) -> Self {
        Self {
            sent: s.sent,
            delivered: s.delivered,
            read: s.read,
            failed: s.failed,
            replied: s.replied,
        }
    }
}

/// A period and the one of the same length before it.
#[derive(Serialize, ToSchema, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    /// Length, seconds
    seconds: u64,
    /// Start, Unix seconds (the end is the overview's `to`)
    from: u64,
    current: Reached,
    /// The period of the same length that ends at `from`
    previous: Reached,
}

/// The tenant's last 24 hours and 7 days, and its campaigns by status.
#[derive(Serialize, ToSchema)]
pub(crate) struct Overview {
    /// End of both periods, Unix seconds
    to: u64,
    last_24h: Period,
    last_7d: Period,
    /// Campaigns by status (ACTIVE, PAUSED, COMPLETED)
    campaigns_by_status: BTreeMap<String, u64>,
    /// Campaigns whose timelines were read (those counted in the last 14 days)
    campaigns_read: u64,
}

/// The tenant's last 24 hours and 7 days (sent, delivered, read, failed, replied, each at the
/// time Meta gave for it), beside the period before each, and its campaigns by status
#[utoipa::path(
    get,
    path = "/overview",
    operation_id = "getOverview",
    params(TenantQuery, OverviewQuery),
    responses((status = 200, description = "OK", body = inline(Overview)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn of_tenant(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    let q: OverviewQuery = http::query(req)?;
    let to = match q.to.as_deref() {
        None => shared::store::now(),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|v| *v <= 9_999_999_999)
            .ok_or_else(|| ApiError::bad("invalid_query", "to is Unix seconds up to 9999999999"))?,
    };
    let campaigns = api.store.list_all(tenant, "CAMPAIGN#").await?;
    let mut by_status = BTreeMap::new();
    for c in &campaigns {
        *by_status
            .entry(text(c, "status").unwrap_or_default())
            .or_insert(0) += 1;
    }
    let since = to.saturating_sub(READ_BACK);
    let recent: Vec<String> = campaigns
        .iter()
        .filter(|c| number(c, "counted_at").is_some_and(|at| at >= since as i64))
        .filter_map(|c| text(c, "campaign_id"))
        .collect();
    let store = &api.store;
    let buckets: Vec<(u64, Steps)> = futures::stream::iter(recent.iter().cloned())
        .map(|id| async move { store.campaign_timeline(tenant, &id, since, to).await })
        .buffer_unordered(CONCURRENT_READS)
        .try_concat()
        .await?;
    http::ok(&Overview {
        to,
        last_24h: period(&buckets, to, DAY),
        last_7d: period(&buckets, to, 7 * DAY),
        campaigns_by_status: by_status,
        campaigns_read: recent.len() as u64,
    })
}

/// Sums the buckets that start in `(to - length, to]` and in the `length` before.
fn period(buckets: &[(u64, Steps)], to: u64, length: u64) -> Period {
    let from = to.saturating_sub(length);
    let before = from.saturating_sub(length);
    let (mut current, mut previous) = (Steps::default(), Steps::default());
    for (start, steps) in buckets {
        if *start > from && *start <= to {
            current.add(steps);
        } else if *start > before && *start <= from {
            previous.add(steps);
        }
    }
    Period {
        seconds: length,
        from,
        current: Reached::from(&current),
        previous: Reached::from(&previous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(n: i64) -> Steps {
        Steps {
            sent: n,
            ..Steps::default()
        }
    }

    #[test]
    fn buckets_fall_in_the_period_or_the_one_before() {
        let to = 30 * DAY;
        let buckets = vec![
            (to, sent(1)),             // the period's last bucket
            (to - DAY + 300, sent(2)), // its first
            (to - DAY, sent(4)),       // the previous period's last
            (to - 2 * DAY + 300, sent(8)),
            (to - 2 * DAY, sent(16)), // older: neither
        ];
        let p = period(&buckets, to, DAY);
        assert_eq!(p.from, to - DAY);
        assert_eq!(p.current.sent, 3);
        assert_eq!(p.previous.sent, 12);
        let week = period(&buckets, to, 7 * DAY);
        assert_eq!(week.current.sent, 31);
        assert_eq!(week.previous.sent, 0);
    }

    #[test]
    fn an_early_end_does_not_underflow() {
        let p = period(&[(0, sent(1))], 100, DAY);
        assert_eq!((p.from, p.current.sent, p.previous.sent), (0, 0, 0));
    }
}
