//! Campaign counters as a fold of message changes, decided without I/O.
//!
//! A message adds to its campaign: one `registered`, the funnel and current-state counts of its
//! delivery ([`Counters::of`]), and one on its error code when it failed. A change of a message
//! moves its campaign by `contribution(after) − contribution(before)`. Summed over every change
//! of every message, that telescopes to the sum of the messages' current contributions, in any
//! order the changes are counted. So the counters are exact whenever each change is counted
//! exactly once, which the store's ledger guarantees (see `crate::counters`).

use super::status::{Counters, Delivery};
use super::timeline::{self, Steps};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// A campaign across tenants: `(tenant_id, campaign_id)`.
pub type CampaignRef = (String, String);

/// The fields of a message item (a stream image) that counting reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct MessageImage {
    pub tenant_id: String,
    pub wamid: String,
    #[serde(default)]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub delivery: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    /// The kind of the first reply (`text`, `button`, `interactive`, ...), once replied.
    #[serde(default)]
    pub reply_kind: Option<String>,
    /// The first reply's quick-reply payload or interactive reply id, if it had one.
    #[serde(default)]
    pub reply_button: Option<String>,
    /// The recipient opted out with its reply.
    #[serde(default)]
    pub opted_out: Option<bool>,
    /// Meta's time (seconds) for each step the message reached: where the timeline counts it.
    #[serde(default)]
    pub sent_at: Option<u64>,
    #[serde(default)]
    pub delivered_at: Option<u64>,
    #[serde(default)]
    pub read_at: Option<u64>,
    #[serde(default)]
    pub failed_at: Option<u64>,
    /// The first reply's time.
    #[serde(default)]
    pub replied_at: Option<u64>,
}

impl MessageImage {
    pub fn delivery(&self) -> Delivery {
        self.delivery
            .as_deref()
            .and_then(Delivery::parse)
            .unwrap_or_default()
    }
}

/// What messages add to a campaign's counters (one message's contribution, or a sum of deltas).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    pub registered: i64,
    pub counters: Counters,
    /// Failed messages by error code (`error_<code>` on the campaign item).
    pub errors: BTreeMap<i64, i64>,
    /// Messages replied to (`replied`), by the first reply's kind (`reply_kind_<kind>`) and
    /// button (`button_<payload>`).
    pub replied: i64,
    pub reply_kinds: BTreeMap<String, i64>,
    pub buttons: BTreeMap<String, i64>,
    /// Recipients who opted out (a 131050 failure, or an opt-out button): `opted_out`.
    pub opted_out: i64,
}

/// Campaign attributes of replies by kind and by button.
pub const REPLY_KIND_PREFIX: &str = "reply_kind_";
pub const BUTTON_PREFIX: &str = "button_";

/// Meta's error code for a recipient who stopped marketing messages from the business.
pub const OPTED_OUT_CODE: i64 = 131050;

impl Tally {
    /// One registered message in state `delivery`, failed with `error_code` when it failed.
    pub fn of(delivery: Delivery, error_code: Option<i64>) -> Self {
        let mut errors = BTreeMap::new();
        if let (Delivery::Failed, Some(code)) = (delivery, error_code) {
            errors.insert(code, 1);
        }
        Self {
            registered: 1,
            counters: Counters::of(delivery),
            errors,
            ..Self::default()
        }
    }

    /// What one registered message in this image adds.
    pub fn of_image(image: &MessageImage) -> Self {
        let delivery = image.delivery();
        let mut tally = Self::of(delivery, image.error_code);
        if let Some(kind) = &image.reply_kind {
            tally.replied = 1;
            tally.reply_kinds.insert(kind.clone(), 1);
            if let Some(button) = &image.reply_button {
                tally.buttons.insert(button.clone(), 1);
            }
        }
        let failed_opted_out =
            delivery == Delivery::Failed && image.error_code == Some(OPTED_OUT_CODE);
        if failed_opted_out || image.opted_out == Some(true) {
            tally.opted_out = 1;
        }
        tally
    }

    /// Adds `other` times `sign` (1 or −1).
    fn add_signed(&mut self, other: &Tally, sign: i64) {
        self.registered += sign * other.registered;
        let mut scaled = other.counters;
        if sign < 0 {
            scaled = Counters::default().minus(&scaled);
        }
        self.counters.add(&scaled);
        for (code, count) in &other.errors {
            *self.errors.entry(*code).or_default() += sign * count;
        }
        self.errors.retain(|_, c| *c != 0);
        self.replied += sign * other.replied;
        self.opted_out += sign * other.opted_out;
        for (kind, count) in &other.reply_kinds {
            *self.reply_kinds.entry(kind.clone()).or_default() += sign * count;
        }
        self.reply_kinds.retain(|_, c| *c != 0);
        for (button, count) in &other.buttons {
            *self.buttons.entry(button.clone()).or_default() += sign * count;
        }
        self.buttons.retain(|_, c| *c != 0);
    }

    pub fn add(&mut self, other: &Tally) {
        self.add_signed(other, 1);
    }

    pub fn subtract(&mut self, other: &Tally) {
        self.add_signed(other, -1);
    }

    /// True when it moves nothing.
    pub fn is_zero(&self) -> bool {
        self.registered == 0
            && self.counters.is_zero()
            && self.errors.is_empty()
            && self.replied == 0
            && self.opted_out == 0
            && self.reply_kinds.is_empty()
            && self.buttons.is_empty()
    }

    /// The campaign attributes it moves and by how much, zeros left out.
    pub fn attributes(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        if self.registered != 0 {
            out.push(("registered".to_owned(), self.registered));
        }
        out.extend(
            self.counters
                .non_zero()
                .into_iter()
                .map(|(a, v)| (a.to_owned(), v)),
        );
        out.extend(self.errors.iter().map(|(c, v)| (format!("error_{c}"), *v)));
        for (name, value) in [("replied", self.replied), ("opted_out", self.opted_out)] {
            if value != 0 {
                out.push((name.to_owned(), value));
            }
        }
        out.extend(
            self.reply_kinds
                .iter()
                .map(|(k, v)| (format!("{REPLY_KIND_PREFIX}{k}"), *v)),
        );
        out.extend(
            self.buttons
                .iter()
                .map(|(b, v)| (format!("{BUTTON_PREFIX}{b}"), *v)),
        );
        out
    }
}

/// Whether a campaign attribute is one of the counters the fold keeps (what a recount checks).
pub fn is_counter_attribute(name: &str) -> bool {
    const PLAIN: [&str; 12] = [
        "registered",
        "reached_sent",
        "reached_delivered",
        "reached_read",
        "reached_failed",
        "current_sent",
        "current_delivered",
        "current_read",
        "current_played",
        "current_failed",
        "replied",
        "opted_out",
    ];
    PLAIN.contains(&name)
        || ["error_", REPLY_KIND_PREFIX, BUTTON_PREFIX]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// One counter that differs from what the messages say: `(attribute, stored, recounted)`.
pub type CounterDrift = (String, i64, i64);

/// The counters of a campaign (`stored`, its counter attributes) that differ from the sum of
/// its messages' contributions (`recounted`); an absent attribute is zero.
pub fn drift(stored: &BTreeMap<String, i64>, recounted: &Tally) -> Vec<CounterDrift> {
    let recounted: BTreeMap<String, i64> = recounted.attributes().into_iter().collect();
    let names: std::collections::BTreeSet<&String> = stored
        .keys()
        .filter(|k| is_counter_attribute(k))
        .chain(recounted.keys())
        .collect();
    names
        .into_iter()
        .filter_map(|name| {
            let have = stored.get(name).copied().unwrap_or(0);
            let want = recounted.get(name).copied().unwrap_or(0);
            (have != want).then(|| (name.clone(), have, want))
        })
        .collect()
}

/// What a message in this image adds to its campaign; `None` when it is not attributed.
pub fn contribution(image: &MessageImage) -> Option<(CampaignRef, Tally)> {
    let campaign_id = image.campaign_id.clone()?;
    Some((
        (image.tenant_id.clone(), campaign_id),
        Tally::of_image(image),
    ))
}

/// One change of a message item, as the table's stream carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChange {
    /// The stream record's id: unique, and the ledger key of a run that starts with it.
    pub event_id: String,
    /// The record's sequence number, padded by [`sequence_key`] so strings compare as numbers.
    pub sequence: String,
    /// When the stream record was made (its `ApproximateCreationDateTime`, in ms; whole seconds
    /// on AWS), 0 when the record does not say. A retried record keeps it.
    pub created_ms: u64,
    pub before: Option<MessageImage>,
    pub after: Option<MessageImage>,
}

impl StreamChange {
    /// Whether the message's delivery moved (what a feed item reports).
    pub fn moves_delivery(&self) -> bool {
        self.after.as_ref().is_some_and(|after| {
            let from = self
                .before
                .as_ref()
                .map(MessageImage::delivery)
                .unwrap_or_default();
            from != after.delivery()
        })
    }
}

/// Stream sequence numbers are decimal strings of up to 40 digits; padded to 40 they compare as
/// numbers, as strings (which is how DynamoDB compares them in the ledger too).
pub fn sequence_key(sequence_number: &str) -> String {
    format!("{sequence_number:0>40}")
}

/// One message's delivery moving: what realtime clients hear as a `report_update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub wamid: String,
    pub from: Delivery,
    pub to: Delivery,
    /// Meta's error code, when it moved to `failed` with one.
    pub error_code: Option<i64>,
}

/// Transitions of one kind (`from → to`), for a feed item: each wamid is written once, without
/// the two states beside it, which keeps a run's feed item about a third smaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moves<'a> {
    pub from: Delivery,
    pub to: Delivery,
    /// The error code of failures (a group per code).
    pub error_code: Option<i64>,
    pub wamids: Vec<&'a str>,
}

/// Groups transitions by kind, ordered by `to` (then `from`), each group in stream order. A
/// message only moves up the ladder (`failed` last and terminal), so its moves within a run keep
/// their order when the groups are read one after another.
pub fn group_moves(transitions: &[Transition]) -> Vec<Moves<'_>> {
    let mut groups: BTreeMap<(Delivery, Delivery, Option<i64>), Vec<&str>> = BTreeMap::new();
    for t in transitions {
        groups
            .entry((t.to, t.from, t.error_code))
            .or_default()
            .push(&t.wamid);
    }
    groups
        .into_iter()
        .map(|((to, from, error_code), wamids)| Moves {
            from,
            to,
            error_code,
            wamids,
        })
        .collect()
}

/// What a run of changes moves: counter deltas per campaign, and the deliveries that moved per
/// `(tenant, campaign)` (campaign `None` for messages not registered yet), in stream order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fold {
    pub deltas: BTreeMap<CampaignRef, Tally>,
    pub transitions: BTreeMap<(String, Option<String>), Vec<Transition>>,
    /// What the run adds to each campaign's timeline buckets (`(campaign, bucket start)`).
    pub timeline: BTreeMap<(CampaignRef, u64), Steps>,
}

impl Fold {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty() && self.transitions.is_empty() && self.timeline.is_empty()
    }
}

/// Folds a run of changes.
pub fn fold(changes: &[StreamChange]) -> Fold {
    let mut out = Fold::default();
    for change in changes {
        for (campaign, bucket, steps) in timeline::moves_of(change, change.created_ms / 1000) {
            out.timeline
                .entry((campaign, bucket))
                .or_default()
                .add(&steps);
        }
        if let Some((campaign, tally)) = change.before.as_ref().and_then(contribution) {
            out.deltas.entry(campaign).or_default().subtract(&tally);
        }
        if let Some((campaign, tally)) = change.after.as_ref().and_then(contribution) {
            out.deltas.entry(campaign).or_default().add(&tally);
        }
        if let Some(after) = change.after.as_ref().filter(|_| change.moves_delivery()) {
            let from = change
                .before
                .as_ref()
                .map(MessageImage::delivery)
                .unwrap_or_default();
            let to = after.delivery();
            out.transitions
                .entry((after.tenant_id.clone(), after.campaign_id.clone()))
                .or_default()
                .push(Transition {
                    wamid: after.wamid.clone(),
                    from,
                    to,
                    error_code: after.error_code.filter(|_| to == Delivery::Failed),
                });
        }
    }
    out.deltas.retain(|_, t| !t.is_zero());
    out.timeline.retain(|_, steps| !steps.is_zero());
    out
}

/// An item a run writes in its transaction besides the ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum RunWrite {
    Campaign(CampaignRef),
    Bucket(CampaignRef, u64),
}

/// The items a change writes in its run: the campaigns it touches (one, or two if it moved
/// between campaigns), and their timeline buckets it moves.
fn writes_of(change: &StreamChange) -> impl Iterator<Item = RunWrite> + '_ {
    let campaigns = [&change.before, &change.after]
        .into_iter()
        .flatten()
        .filter_map(|i| i.campaign_id.clone().map(|c| (i.tenant_id.clone(), c)))
        .map(RunWrite::Campaign);
    let buckets = timeline::moves_of(change, change.created_ms / 1000)
        .into_iter()
        .map(|(campaign, bucket, _)| RunWrite::Bucket(campaign, bucket));
    campaigns.chain(buckets)
}

/// The first run of `changes` that writes at most `max_writes` items besides its ledger entry
/// (campaigns and timeline buckets: one transaction's worth), taken greedily from the start: a
/// retried batch with the same beginning splits the same way. Never empty when `changes` is not.
pub fn first_run(changes: &[StreamChange], max_writes: usize) -> Range<usize> {
    let mut seen: BTreeSet<RunWrite> = BTreeSet::new();
    for (i, change) in changes.iter().enumerate() {
        let mut next = seen.clone();
        next.extend(writes_of(change));
        if i > 0 && next.len() > max_writes {
            return 0..i;
        }
        seen = next;
    }
    0..changes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn image(
        wamid: &str,
        campaign: Option<&str>,
        delivery: &str,
        code: Option<i64>,
    ) -> MessageImage {
        MessageImage {
            tenant_id: "acme".into(),
            wamid: wamid.into(),
            campaign_id: campaign.map(str::to_owned),
            delivery: Some(delivery.into()),
            error_code: code,
            ..MessageImage::default()
        }
    }

    #[test]
    fn a_reply_counts_once_and_an_earlier_reply_moves_its_kind_and_button() {
        let delivered = image("w1", Some("c1"), "delivered", None);
        let replied = MessageImage {
            reply_kind: Some("button".into()),
            reply_button: Some("STOP".into()),
            opted_out: Some(true),
            ..delivered.clone()
        };
        let earlier = MessageImage {
            reply_kind: Some("text".into()),
            reply_button: None,
            ..replied.clone()
        };
        let f = fold(&[
            change(1, Some(delivered.clone()), replied.clone()),
            change(2, Some(replied), earlier),
        ]);
        let t = &f.deltas[&campaign("c1")];
        assert_eq!((t.replied, t.opted_out), (1, 1));
        assert_eq!(t.reply_kinds, BTreeMap::from([("text".to_owned(), 1)]));
        assert!(
            t.buttons.is_empty(),
            "the button moved away with the later reply"
        );
        let attributes = t.attributes();
        assert!(attributes.contains(&("replied".to_owned(), 1)));
        assert!(attributes.contains(&("reply_kind_text".to_owned(), 1)));
        // A 131050 failure is an opt-out too.
        let opted = Tally::of_image(&image("w2", Some("c1"), "failed", Some(131050)));
        assert_eq!(opted.opted_out, 1);
    }

    fn change(seq: u64, before: Option<MessageImage>, after: MessageImage) -> StreamChange {
        StreamChange {
            event_id: format!("e{seq}"),
            sequence: sequence_key(&seq.to_string()),
            created_ms: 1_700_000_000_000 + seq * 1000,
            before,
            after: Some(after),
        }
    }

    fn campaign(c: &str) -> CampaignRef {
        ("acme".into(), c.into())
    }

    #[test]
    fn grouped_moves_keep_each_message_in_order_and_every_wamid_once() {
        let t = |wamid: &str, from, to| Transition {
            wamid: wamid.into(),
            from,
            to,
            error_code: None,
        };
        use Delivery::*;
        // Stream order: w9 is read before w1 is delivered, then w1 is read.
        let run = [
            t("w9", Delivered, Read),
            t("w1", Sent, Delivered),
            t("w2", Pending, Sent),
            t("w1", Delivered, Read),
            t("w3", Sent, Failed),
            t("w4", Pending, Sent),
        ];
        let groups = group_moves(&run);
        let flat: Vec<(&str, Delivery, Delivery)> = groups
            .iter()
            .flat_map(|g| g.wamids.iter().map(move |w| (*w, g.from, g.to)))
            .collect();
        assert_eq!(
            flat,
            [
                ("w2", Pending, Sent),
                ("w4", Pending, Sent),
                ("w1", Sent, Delivered),
                ("w9", Delivered, Read),
                ("w1", Delivered, Read),
                ("w3", Sent, Failed),
            ]
        );
        assert_eq!(groups.len(), 4, "one group per kind of move");
    }

    #[test]
    fn a_status_then_registration_counts_the_message_once_in_its_state() {
        let delivered = image("w1", None, "delivered", None);
        let registered = image("w1", Some("c1"), "delivered", None);
        let read = image("w1", Some("c1"), "read", None);
        let f = fold(&[
            change(1, None, delivered.clone()),
            change(2, Some(delivered), registered.clone()),
            change(3, Some(registered), read),
        ]);
        let t = &f.deltas[&campaign("c1")];
        assert_eq!(t.registered, 1);
        assert_eq!(t.counters, Counters::of(Delivery::Read));
        // The unregistered message's move is reported under no campaign; the later one under c1.
        assert_eq!(f.transitions[&("acme".into(), None)].len(), 1);
        assert_eq!(
            f.transitions[&("acme".into(), Some("c1".into()))],
            vec![Transition {
                wamid: "w1".into(),
                from: Delivery::Delivered,
                to: Delivery::Read,
                error_code: None,
            }]
        );
    }

    #[test]
    fn a_failure_counts_its_error_code_and_a_detail_only_change_moves_nothing() {
        let sent = image("w1", Some("c1"), "sent", None);
        let failed = image("w1", Some("c1"), "failed", Some(131026));
        let f = fold(&[change(1, Some(sent), failed.clone())]);
        let t = &f.deltas[&campaign("c1")];
        assert_eq!(t.errors, BTreeMap::from([(131026, 1)]));
        assert_eq!(t.counters.reached_failed, 1);
        assert_eq!(t.counters.current_sent, -1);
        assert_eq!(
            t.attributes()
                .iter()
                .find(|(a, _)| a == "error_131026")
                .map(|(_, v)| *v),
            Some(1)
        );
        // Same state, new billing details: no delta, no transition.
        assert!(fold(&[change(2, Some(failed.clone()), failed)]).is_empty());
    }

    #[test]
    fn runs_are_cut_before_the_change_that_would_exceed_the_write_limit() {
        let changes: Vec<StreamChange> = (0..10)
            .map(|i| {
                change(
                    i,
                    None,
                    image(&format!("w{i}"), Some(&format!("c{}", i / 2)), "sent", None),
                )
            })
            .collect();
        // Each campaign writes its counters and one timeline bucket: 2 items.
        assert_eq!(first_run(&changes, 6), 0..6);
        assert_eq!(first_run(&changes[6..], 6), 0..4);
        assert_eq!(first_run(&changes, 99), 0..10);
        assert_eq!(first_run(&[], 3), 0..0);
        assert!(sequence_key("99") < sequence_key("100"));
    }

    proptest! {
        /// However the changes of many messages are cut into runs, the runs' deltas add up to
        /// the messages' final contributions: exact counters in any batching.
        #[test]
        fn deltas_of_any_runs_telescope_to_the_final_contributions(
            steps in prop::collection::vec((0usize..4, 0usize..6, any::<bool>()), 1..40),
            cuts in prop::collection::vec(1usize..8, 1..10),
        ) {
            const LADDER: [&str; 6] = ["pending", "sent", "delivered", "read", "played", "failed"];
            let mut current: BTreeMap<usize, MessageImage> = BTreeMap::new();
            let mut changes = Vec::new();
            for (seq, (message, state, register)) in steps.into_iter().enumerate() {
                let before = current.get(&message).cloned();
                let campaign = before
                    .as_ref()
                    .and_then(|b| b.campaign_id.clone())
                    .or_else(|| register.then(|| format!("c{}", message % 2)));
                let delivery = LADDER[state];
                let after = image(
                    &format!("w{message}"),
                    campaign.as_deref(),
                    delivery,
                    (delivery == "failed").then_some(131000 + message as i64),
                );
                current.insert(message, after.clone());
                changes.push(change(seq as u64, before, after));
            }
            let mut total: BTreeMap<CampaignRef, Tally> = BTreeMap::new();
            let mut buckets: BTreeMap<CampaignRef, Steps> = BTreeMap::new();
            let mut rest = &changes[..];
            let mut cut = cuts.iter().cycle();
            while !rest.is_empty() {
                let n = (*cut.next().unwrap()).min(rest.len());
                let folded = fold(&rest[..n]);
                for (c, t) in folded.deltas {
                    total.entry(c).or_default().add(&t);
                }
                for ((c, _), steps) in folded.timeline {
                    buckets.entry(c).or_default().add(&steps);
                }
                rest = &rest[n..];
            }
            let mut expected: BTreeMap<CampaignRef, Tally> = BTreeMap::new();
            for image in current.values() {
                if let Some((c, t)) = contribution(image) {
                    expected.entry(c).or_default().add(&t);
                }
            }
            total.retain(|_, t| !t.is_zero());
            // A campaign's buckets sum to its `reached` counters.
            let reached: BTreeMap<CampaignRef, Steps> = expected
                .iter()
                .map(|(c, t)| {
                    (c.clone(), Steps {
                        sent: t.counters.reached_sent,
                        delivered: t.counters.reached_delivered,
                        read: t.counters.reached_read,
                        failed: t.counters.reached_failed,
                        replied: t.replied,
                    })
                })
                .filter(|(_, s)| !s.is_zero())
                .collect();
            buckets.retain(|_, s| !s.is_zero());
            prop_assert_eq!(buckets, reached);
            prop_assert_eq!(total, expected);
        }
    }

    #[test]
    fn drift_names_each_counter_that_differs_from_the_messages_and_nothing_else() {
        let image = |delivery: &str, code: Option<i64>| MessageImage {
            tenant_id: "t".into(),
            wamid: "w".into(),
            campaign_id: Some("c".into()),
            delivery: Some(delivery.into()),
            error_code: code,
            ..MessageImage::default()
        };
        let mut recounted = Tally::default();
        for i in [
            image("read", None),
            image("delivered", None),
            image("failed", Some(131049)),
        ] {
            recounted.add(&Tally::of_image(&i));
        }
        let mut stored: BTreeMap<String, i64> = recounted.attributes().into_iter().collect();
        stored.insert("name_length".into(), 7); // not a counter: ignored
        assert!(drift(&stored, &recounted).is_empty());
        // A batch skipped: one delivered never counted as read, and a stale error counter.
        *stored.get_mut("reached_read").unwrap() -= 1;
        stored.insert("error_131000".into(), 2);
        let found = drift(&stored, &recounted);
        assert_eq!(
            found,
            vec![
                ("error_131000".to_owned(), 2, 0),
                ("reached_read".to_owned(), 0, 1),
            ]
        );
        assert!(is_counter_attribute("button_YES") && !is_counter_attribute("status"));
    }
}
