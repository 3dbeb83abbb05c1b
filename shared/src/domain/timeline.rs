//! Campaign timelines: how many messages reached each step of the funnel (sent, delivered, read,
//! failed, replied) in each 5-minute bucket, decided without I/O.
//!
//! A bucket counts a step at the time Meta gave for it (the message's `<step>_at`), so a body
//! applied late, replayed or redelivered lands where it happened, not where it was processed.
//! Like the counters, a change of a message moves the buckets by what its new image reaches
//! less what its old image reached, so the buckets of a campaign sum to its `reached` counters
//! whatever the order, and the counters fold writes both in one transaction, exactly once.

use super::counters::{CampaignRef, MessageImage, StreamChange};
use super::status::{Counters, Delivery};

/// The width of a bucket.
pub const BUCKET_SECONDS: u64 = 300;

/// The steps a bucket counts, in funnel order, as attribute names.
pub const STEPS: [&str; 5] = ["sent", "delivered", "read", "failed", "replied"];

/// Messages that reached each step in one bucket (a delta while folding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Steps {
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    pub failed: i64,
    pub replied: i64,
}

impl Steps {
    fn slot(&mut self, step: usize) -> &mut i64 {
        match step {
            0 => &mut self.sent,
            1 => &mut self.delivered,
            2 => &mut self.read,
            3 => &mut self.failed,
            _ => &mut self.replied,
        }
    }

    /// The count of `STEPS[step]`.
    pub fn get(&self, step: usize) -> i64 {
        [
            self.sent,
            self.delivered,
            self.read,
            self.failed,
            self.replied,
        ]
        .get(step)
        .copied()
        .unwrap_or(0)
    }

    pub fn add(&mut self, other: &Steps) {
        for step in 0..STEPS.len() {
            *self.slot(step) += other.get(step);
        }
    }

    pub fn is_zero(&self) -> bool {
        (0..STEPS.len()).all(|step| self.get(step) == 0)
    }

    /// The non-zero counts as attribute names and values (what a bucket item gets `ADD`ed).
    pub fn attributes(&self) -> Vec<(&'static str, i64)> {
        STEPS
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, self.get(i)))
            .filter(|(_, v)| *v != 0)
            .collect()
    }
}

/// The start of the bucket holding `time` (seconds).
pub fn bucket_of(time: u64) -> u64 {
    time - time % BUCKET_SECONDS
}

/// Which steps a message in this image has reached (the counters' `reached_*`, and replied).
fn reached(image: &MessageImage) -> [bool; 5] {
    let c = Counters::of(image.delivery());
    [
        c.reached_sent > 0,
        c.reached_delivered > 0,
        c.reached_read > 0,
        c.reached_failed > 0,
        image.reply_kind.is_some(),
    ]
}

/// When this image's message reached `STEPS[step]`: Meta's time for it, else the time of its
/// current state (a message read before its `sent` status arrived was sent by then), else
/// `fallback`.
fn time_of(image: &MessageImage, step: usize, fallback: u64) -> u64 {
    let own = match step {
        0 => image.sent_at,
        1 => image.delivered_at,
        2 => image.read_at,
        3 => image.failed_at,
        _ => image.replied_at,
    };
    let current = match image.delivery() {
        Delivery::Sent => image.sent_at,
        Delivery::Delivered => image.delivered_at,
        Delivery::Read | Delivery::Played => image.read_at,
        Delivery::Failed => image.failed_at,
        Delivery::Pending => None,
    };
    own.or(current).unwrap_or(fallback)
}

/// What one change moves: `(campaign, bucket start, steps)` for each bucket it touches.
/// `fallback` (seconds) places a step whose image carries no time at all.
pub fn moves_of(change: &StreamChange, fallback: u64) -> Vec<(CampaignRef, u64, Steps)> {
    fn side(image: Option<&MessageImage>) -> Option<(CampaignRef, [bool; 5], &MessageImage)> {
        image.and_then(|i| {
            i.campaign_id
                .clone()
                .map(|c| ((i.tenant_id.clone(), c), reached(i), i))
        })
    }
    let (before, after) = (side(change.before.as_ref()), side(change.after.as_ref()));
    let mut out: Vec<(CampaignRef, u64, Steps)> = Vec::new();
    let mut put = |campaign: &CampaignRef, bucket: u64, step: usize, delta: i64| match out
        .iter_mut()
        .find(|(c, b, _)| c == campaign && *b == bucket)
    {
        Some((_, _, steps)) => *steps.slot(step) += delta,
        None => {
            let mut steps = Steps::default();
            *steps.slot(step) += delta;
            out.push((campaign.clone(), bucket, steps));
        }
    };
    for step in 0..STEPS.len() {
        let had = before.as_ref().filter(|(_, r, _)| r[step]);
        let has = after.as_ref().filter(|(_, r, _)| r[step]);
        // A step stays where it was unless its campaign or its bucket changed: a late status
        // with an earlier time (a `sent` after its `delivered`) moves the step to its own bucket,
        // so the buckets end the same in any order.
        let same_place =
            |(b, _, before): &(CampaignRef, [bool; 5], &MessageImage),
             (a, _, after): &(CampaignRef, [bool; 5], &MessageImage)| {
                a == b
                    && bucket_of(time_of(before, step, fallback))
                        == bucket_of(time_of(after, step, fallback))
            };
        match (had, has) {
            (Some(h), Some(n)) if same_place(h, n) => {}
            (had, has) => {
                if let Some((campaign, _, image)) = had {
                    put(
                        campaign,
                        bucket_of(time_of(image, step, fallback)),
                        step,
                        -1,
                    );
                }
                if let Some((campaign, _, image)) = has {
                    put(campaign, bucket_of(time_of(image, step, fallback)), step, 1);
                }
            }
        }
    }
    out.retain(|(_, _, steps)| !steps.is_zero());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::counters::sequence_key;

    fn image(delivery: &str, times: &[(&str, u64)]) -> MessageImage {
        let at = |step: &str| times.iter().find(|(s, _)| *s == step).map(|(_, t)| *t);
        MessageImage {
            tenant_id: "acme".into(),
            wamid: "w1".into(),
            campaign_id: Some("c1".into()),
            delivery: Some(delivery.into()),
            sent_at: at("sent"),
            delivered_at: at("delivered"),
            read_at: at("read"),
            failed_at: at("failed"),
            replied_at: at("replied"),
            reply_kind: at("replied").map(|_| "text".to_owned()),
            ..MessageImage::default()
        }
    }

    fn change(before: Option<MessageImage>, after: MessageImage) -> StreamChange {
        StreamChange {
            event_id: "e1".into(),
            sequence: sequence_key("1"),
            created_ms: 0,
            before,
            after: Some(after),
        }
    }

    fn campaign() -> CampaignRef {
        ("acme".into(), "c1".into())
    }

    #[test]
    fn a_step_lands_in_the_bucket_of_metas_time_for_it() {
        let pending = image("pending", &[]);
        let sent = image("sent", &[("sent", 1_000)]);
        let moves = moves_of(&change(Some(pending), sent.clone()), 9_999);
        assert_eq!(
            moves,
            [(
                campaign(),
                900,
                Steps {
                    sent: 1,
                    ..Steps::default()
                }
            )]
        );
        // Read an hour later: only the read step moves, in its own bucket.
        let read = image(
            "read",
            &[("sent", 1_000), ("delivered", 1_100), ("read", 4_700)],
        );
        let moves = moves_of(&change(Some(sent), read), 9_999);
        assert_eq!(
            moves,
            [
                (
                    campaign(),
                    900,
                    Steps {
                        delivered: 1,
                        ..Steps::default()
                    }
                ),
                (
                    campaign(),
                    4_500,
                    Steps {
                        read: 1,
                        ..Steps::default()
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_message_read_before_its_sent_status_counts_every_step_at_the_read_until_the_sent_comes() {
        let read = image("read", &[("read", 2_000)]);
        let moves = moves_of(&change(None, read.clone()), 9_999);
        assert_eq!(
            moves,
            [(
                campaign(),
                1_800,
                Steps {
                    sent: 1,
                    delivered: 1,
                    read: 1,
                    ..Steps::default()
                }
            )]
        );
        // The late `sent` status brings its own, earlier time: the sent step moves to its
        // bucket, so the buckets end as if the statuses had arrived in order.
        let later = image("read", &[("sent", 1_000), ("read", 2_000)]);
        let sent = |n: i64| Steps {
            sent: n,
            ..Steps::default()
        };
        assert_eq!(
            moves_of(&change(Some(read), later.clone()), 9_999),
            [(campaign(), 1_800, sent(-1)), (campaign(), 900, sent(1))]
        );
        // A time within the same bucket moves nothing.
        let same_bucket = image("read", &[("sent", 1_010), ("read", 2_000)]);
        assert!(moves_of(&change(Some(later), same_bucket), 9_999).is_empty());
    }

    #[test]
    fn a_failure_after_sent_moves_sent_out_and_failed_in_and_a_reply_counts_once() {
        let sent = image("sent", &[("sent", 1_000)]);
        let failed = image("failed", &[("sent", 1_000), ("failed", 1_300)]);
        let moves = moves_of(&change(Some(sent), failed), 0);
        assert_eq!(
            moves,
            [
                (
                    campaign(),
                    900,
                    Steps {
                        sent: -1,
                        ..Steps::default()
                    }
                ),
                (
                    campaign(),
                    1_200,
                    Steps {
                        failed: 1,
                        ..Steps::default()
                    }
                ),
            ]
        );
        let delivered = image("delivered", &[("sent", 1_000), ("delivered", 1_000)]);
        let replied = image(
            "delivered",
            &[("sent", 1_000), ("delivered", 1_000), ("replied", 1_900)],
        );
        let moves = moves_of(&change(Some(delivered), replied.clone()), 0);
        assert_eq!(
            moves,
            [(
                campaign(),
                1_800,
                Steps {
                    replied: 1,
                    ..Steps::default()
                }
            )]
        );
        assert!(moves_of(&change(Some(replied.clone()), replied), 0).is_empty());
    }

    #[test]
    fn an_unattributed_message_moves_no_bucket_and_registration_adds_what_it_reached() {
        let mut loose = image("delivered", &[("delivered", 600)]);
        loose.campaign_id = None;
        assert!(moves_of(&change(None, loose.clone()), 0).is_empty());
        let registered = MessageImage {
            campaign_id: Some("c1".into()),
            ..loose.clone()
        };
        assert_eq!(
            moves_of(&change(Some(loose), registered), 0),
            [(
                campaign(),
                600,
                Steps {
                    sent: 1,
                    delivered: 1,
                    ..Steps::default()
                }
            )]
        );
    }

    #[test]
    fn a_step_without_any_time_falls_back() {
        let sent = image("sent", &[]);
        assert_eq!(
            moves_of(&change(None, sent), 1_234),
            [(
                campaign(),
                1_200,
                Steps {
                    sent: 1,
                    ..Steps::default()
                }
            )]
        );
    }
}
