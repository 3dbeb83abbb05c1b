//! A campaign's timeline (`GET /campaigns/{id}/timeline`): how many messages reached each step of
//! the funnel in each bucket, for the dashboard's time chart.

use crate::campaigns::CampaignPath;
use crate::http::{self, TenantQuery};
use crate::responses::RefusedOrMissing;
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::domain::timeline::{bucket_of, Steps, BUCKET_SECONDS};
use utoipa::{IntoParams, ToSchema};

/// The most buckets one answer holds (a week of 5-minute buckets).
const MAX_POINTS: u64 = 2016;
/// The widest bucket: a day.
const MAX_BUCKET: u64 = 86_400;

/// `?from=&to=&bucket=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TimelineQuery {
    /// Start, Unix seconds (default: 24 hours before `to`)
    #[param(value_type = Option<i64>, minimum = 0)]
    from: Option<String>,
    /// End, Unix seconds (default: the end of the campaign's latest bucket, or now when it has
    /// none, so a campaign that ran earlier shows its last day)
    #[param(value_type = Option<i64>, minimum = 0)]
    to: Option<String>,
    /// Bucket width in seconds: a multiple of 300, up to 86400
    #[param(value_type = Option<i64>, minimum = 300, maximum = 86400, multiple_of = 300, default = 300)]
    bucket: Option<String>,
}

/// Messages that reached each step in one bucket.
#[derive(Serialize, ToSchema)]
pub(crate) struct Point {
    /// The bucket's start, Unix seconds
    start: u64,
    sent: i64,
    delivered: i64,
    read: i64,
    failed: i64,
    replied: i64,
}

/// A campaign's timeline: every bucket from `from` to `to`, empty ones with zeros.
#[derive(Serialize, ToSchema)]
pub(crate) struct Timeline {
    campaign_id: String,
    /// Bucket width, seconds
    bucket: u64,
    from: u64,
    to: u64,
    items: Vec<Point>,
}

/// A campaign's statuses over time: messages that reached sent, delivered, read, failed and
/// replied per bucket (each at the time Meta gave for it)
#[utoipa::path(
    get,
    path = "/campaigns/{campaign_id}/timeline",
    operation_id = "getCampaignTimeline",
    params(CampaignPath, TenantQuery, TimelineQuery),
    responses((status = 200, description = "OK", body = inline(Timeline)), RefusedOrMissing),
    security(("bearerAuth" = []))
)]
pub(crate) async fn of_campaign(
    api: &Api,
    req: &Request,
    tenant: &str,
    campaign: CampaignPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let q: TimelineQuery = http::query(req)?;
    Range::parse(&q, shared::store::now())?;
    api.store
        .campaign(tenant, campaign.campaign_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Without a range, the day up to the campaign's latest activity.
    let end = match (&q.from, &q.to) {
        (None, None) => api
            .store
            .latest_timeline_bucket(tenant, campaign.campaign_id)
            .await?
            .map(|start| start + BUCKET_SECONDS - 1),
        _ => None,
    };
    let range = Range::parse(&q, end.unwrap_or_else(shared::store::now))?;
    let stored = api
        .store
        .campaign_timeline(tenant, campaign.campaign_id, range.first, range.end())
        .await?;
    http::ok(&Timeline {
        campaign_id: campaign.campaign_id.to_owned(),
        bucket: range.bucket,
        from: range.first,
        to: range.to,
        items: range.points(&stored),
    })
}

/// A valid `?from=&to=&bucket=`.
#[derive(Debug, PartialEq, Eq)]
struct Range {
    /// The first bucket's start (`from` rounded down to the bucket).
    first: u64,
    to: u64,
    bucket: u64,
}

impl Range {
    fn parse(q: &TimelineQuery, now: u64) -> Result<Self, ApiError> {
        let number = |value: &Option<String>, name: &str| -> Result<Option<u64>, ApiError> {
            value
                .as_deref()
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        ApiError::bad(
                            "invalid_query",
                            format!("{name} is a whole number of seconds"),
                        )
                    })
                })
                .transpose()
        };
        let bucket = number(&q.bucket, "bucket")?.unwrap_or(BUCKET_SECONDS);
        if bucket == 0 || bucket % BUCKET_SECONDS != 0 || bucket > MAX_BUCKET {
            return Err(ApiError::bad(
                "invalid_bucket",
                "bucket is a multiple of 300 seconds, up to 86400",
            ));
        }
        let to = number(&q.to, "to")?.unwrap_or(now);
        let from = number(&q.from, "from")?.unwrap_or(to.saturating_sub(86_400));
        if from > to {
            return Err(ApiError::bad("invalid_range", "from is after to"));
        }
        let first = from - from % bucket;
        if (to - first) / bucket >= MAX_POINTS {
            return Err(ApiError::bad(
                "range_too_large",
                "at most 2016 buckets: narrow the range or widen the bucket",
            ));
        }
        Ok(Self { first, to, bucket })
    }

    /// The last second of the last bucket: a wide bucket that starts before `to` is read whole.
    fn end(&self) -> u64 {
        self.first + ((self.to - self.first) / self.bucket + 1) * self.bucket - 1
    }

    /// Every bucket of the range, the stored 5-minute buckets summed into it.
    fn points(&self, stored: &[(u64, Steps)]) -> Vec<Point> {
        let count = (self.to - self.first) / self.bucket + 1;
        let mut sums = vec![Steps::default(); count as usize];
        for (start, steps) in stored {
            let index = (bucket_of(*start).max(self.first) - self.first) / self.bucket;
            if let Some(sum) = sums.get_mut(index as usize) {
                sum.add(steps);
            }
        }
        sums.iter()
            .enumerate()
            .map(|(i, s)| Point {
                start: self.first + i as u64 * self.bucket,
                sent: s.sent,
                delivered: s.delivered,
                read: s.read,
                failed: s.failed,
                replied: s.replied,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: Option<&str>, to: Option<&str>, bucket: Option<&str>) -> TimelineQuery {
        TimelineQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            bucket: bucket.map(str::to_owned),
        }
    }

    #[test]
    fn the_range_defaults_to_a_day_of_five_minute_buckets_and_refuses_what_it_cannot_serve() {
        let r = Range::parse(&query(None, None, None), 90_000).unwrap();
        assert_eq!(
            r,
            Range {
                first: 3_600,
                to: 90_000,
                bucket: 300
            }
        );
        assert_eq!(r.points(&[]).len(), 289);
        for (q, code) in [
            (query(None, None, Some("301")), "invalid_bucket"),
            (query(None, None, Some("0")), "invalid_bucket"),
            (query(None, None, Some("172800")), "invalid_bucket"),
            (query(Some("10"), Some("5"), None), "invalid_range"),
            (query(Some("x"), None, None), "invalid_query"),
            (query(Some("0"), Some("700000"), None), "range_too_large"),
        ] {
            let e = Range::parse(&q, 90_000).unwrap_err();
            assert!(format!("{e:?}").contains(code), "{code}: {e:?}");
        }
    }

    #[test]
    fn stored_buckets_are_summed_into_wider_ones_and_empty_ones_are_zeros() {
        let r = Range::parse(&query(Some("3600"), Some("10800"), Some("3600")), 0).unwrap();
        assert_eq!(r.end(), 14_399, "the last bucket is read whole");
        let one = |sent| Steps {
            sent,
            ..Steps::default()
        };
        let points = r.points(&[(3_600, one(1)), (3_900, one(2)), (10_800, one(5))]);
        let sent: Vec<(u64, i64)> = points.iter().map(|p| (p.start, p.sent)).collect();
        assert_eq!(sent, [(3_600, 3), (7_200, 0), (10_800, 5)]);
    }
}
