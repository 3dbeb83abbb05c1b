//! One message's record: what a set of observed statuses changes in it, decided without I/O.

use super::status::Delivery;
use std::collections::BTreeMap;

/// Why a failed message failed (the first error of a `failed` status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReason {
    pub code: i64,
    pub title: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
}

/// Billing facts Meta attaches to a status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Billing {
    pub billable: Option<bool>,
    pub pricing_model: Option<String>,
    pub pricing_category: Option<String>,
    pub pricing_type: Option<String>,
    pub conversation_id: Option<String>,
    pub conversation_origin: Option<String>,
    pub conversation_expires_at: Option<u64>,
}

impl Billing {
    /// True when the status carried no pricing and no conversation.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Takes each field of `seen` that neither `self` nor `stored` has yet.
    pub fn fill_from(&mut self, seen: &Billing, stored: &Billing) {
        fn fill<T: Clone>(slot: &mut Option<T>, seen: &Option<T>, stored: &Option<T>) {
            if slot.is_none() && stored.is_none() {
                slot.clone_from(seen);
            }
        }
        fill(&mut self.billable, &seen.billable, &stored.billable);
        fill(
            &mut self.pricing_model,
            &seen.pricing_model,
            &stored.pricing_model,
        );
        fill(
            &mut self.pricing_category,
            &seen.pricing_category,
            &stored.pricing_category,
        );
        fill(
            &mut self.pricing_type,
            &seen.pricing_type,
            &stored.pricing_type,
        );
        fill(
            &mut self.conversation_id,
            &seen.conversation_id,
            &stored.conversation_id,
        );
        fill(
            &mut self.conversation_origin,
            &seen.conversation_origin,
            &stored.conversation_origin,
        );
        fill(
            &mut self.conversation_expires_at,
            &seen.conversation_expires_at,
            &stored.conversation_expires_at,
        );
    }
}

/// One status seen for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The raw status string (kept for statuses outside the ladder).
    pub status: String,
    /// Its place on the ladder; `None` for an unknown status.
    pub delivery: Option<Delivery>,
    pub timestamp: u64,
    pub recipient_id: Option<String>,
    pub billing: Billing,
    pub failure: Option<FailureReason>,
    pub biz_opaque_callback_data: Option<String>,
}

/// What the table holds for a message, as read before deciding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageState {
    /// 0 when there is no item yet; every write increments it (optimistic concurrency).
    pub version: u64,
    pub delivery: Delivery,
    /// Set when the sender registered the message; counters move only for attributed messages.
    pub campaign_id: Option<String>,
    /// First time each state was reached.
    pub reached_at: BTreeMap<Delivery, u64>,
    pub unknown_statuses: Vec<String>,
    /// The billing facts stored so far, field by field.
    pub billing: Billing,
    /// The error code stored when the message failed.
    pub failure_code: Option<i64>,
    pub has_recipient: bool,
}

/// A change to write: the new record fields and, for an attributed message, the counter deltas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageChange {
    pub expected_version: u64,
    pub delivery: Delivery,
    /// Status timestamps to set (only those the record lacks or that are earlier).
    pub reached_at: Vec<(Delivery, u64)>,
    pub unknown_statuses: Vec<String>,
    pub billing: Option<Billing>,
    pub failure: Option<FailureReason>,
    pub recipient_id: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
}

impl MessageChange {
    /// True when the change moved the message's state (not only filled in details).
    pub fn transitioned(&self, from: Delivery) -> bool {
        self.delivery != from
    }
}

/// Decides what `observations` change in a message in `state`. `None` when nothing changes
/// (a duplicate, or a lower status whose timestamp is already recorded).
pub fn decide(state: &MessageState, observations: &[Observation]) -> Option<MessageChange> {
    let mut delivery = state.delivery;
    let mut reached_at = Vec::new();
    let mut unknown = Vec::new();
    let mut billing = None;
    let mut failure = None;
    let mut recipient_id = None;
    let mut callback = None;

    // Deterministic regardless of arrival order: earliest timestamp per state, first-seen details
    // taken from the lowest (state, timestamp) observation carrying them.
    let mut sorted: Vec<&Observation> = observations.iter().collect();
    sorted.sort_by_key(|o| (o.delivery, o.timestamp));

    for o in sorted {
        match o.delivery {
            Some(d) => {
                delivery = delivery.merge(d);
                // Earliest time per state: a later batch with an earlier time still wins.
                let pending = reached_at.iter_mut().find(|(x, _)| *x == d);
                let earliest = match &pending {
                    Some((_, t)) => Some(*t),
                    None => state.reached_at.get(&d).copied(),
                };
                if earliest.is_none_or(|t| o.timestamp < t) {
                    match pending {
                        Some(slot) => slot.1 = o.timestamp,
                        None => reached_at.push((d, o.timestamp)),
                    }
                }
                if d == Delivery::Failed && state.failure_code.is_none() && failure.is_none() {
                    failure = o.failure.clone();
                }
            }
            None => {
                if !state.unknown_statuses.contains(&o.status) && !unknown.contains(&o.status) {
                    unknown.push(o.status.clone());
                }
            }
        }
        // Field by field, each filled once: `sent` alone carries the conversation's expiry,
        // so a late `sent` after `delivered` still adds it, and the end is the same in any order.
        billing
            .get_or_insert_with(Billing::default)
            .fill_from(&o.billing, &state.billing);
        if !state.has_recipient && recipient_id.is_none() {
            recipient_id = o.recipient_id.clone();
        }
        if callback.is_none() {
            callback = o.biz_opaque_callback_data.clone();
        }
    }

    let billing = billing.filter(|b| !b.is_empty());
    let moved = delivery != state.delivery;
    let nothing_new = !moved
        && reached_at.is_empty()
        && unknown.is_empty()
        && billing.is_none()
        && failure.is_none()
        && recipient_id.is_none();
    if nothing_new {
        return None;
    }
    Some(MessageChange {
        expected_version: state.version,
        delivery,
        reached_at,
        unknown_statuses: unknown,
        billing,
        failure,
        recipient_id,
        biz_opaque_callback_data: callback,
    })
}

/// Applies a decided change to a state, as the store does (for tests and the in-batch fold).
pub fn apply(state: &MessageState, change: &MessageChange) -> MessageState {
    let mut next = state.clone();
    next.version += 1;
    next.delivery = change.delivery;
    for (d, t) in &change.reached_at {
        next.reached_at.insert(*d, *t);
    }
    next.unknown_statuses
        .extend(change.unknown_statuses.iter().cloned());
    if let Some(b) = &change.billing {
        let stored = next.billing.clone();
        next.billing.fill_from(b, &stored);
    }
    if let Some(f) = &change.failure {
        next.failure_code = Some(f.code);
    }
    next.has_recipient |= change.recipient_id.is_some();
    next
}

#[cfg(test)]
mod billing_order_tests {
    use super::*;

    fn seen(delivery: Delivery, ts: u64, expires: Option<u64>) -> Observation {
        Observation {
            status: delivery.as_str().into(),
            delivery: Some(delivery),
            timestamp: ts,
            recipient_id: None,
            billing: Billing {
                pricing_model: Some("CBP".into()),
                conversation_id: Some("c1".into()),
                conversation_expires_at: expires,
                ..Billing::default()
            },
            failure: None,
            biz_opaque_callback_data: None,
        }
    }

    #[test]
    fn a_late_sent_still_adds_the_conversation_expiry_so_billing_ends_the_same_in_any_order() {
        let sent = seen(Delivery::Sent, 1, Some(86_401));
        let delivered = seen(Delivery::Delivered, 6, None);
        let fold = |order: &[&Observation]| {
            let mut state = MessageState::default();
            for o in order {
                if let Some(change) = decide(&state, &[(*o).clone()]) {
                    state = apply(&state, &change);
                }
            }
            state.billing
        };
        let in_order = fold(&[&sent, &delivered]);
        assert_eq!(in_order.conversation_expires_at, Some(86_401));
        assert_eq!(fold(&[&delivered, &sent]), in_order);
        // And a late sent with nothing new to add writes nothing.
        let mut state = MessageState::default();
        for o in [&sent, &delivered] {
            state = apply(&state, &decide(&state, std::slice::from_ref(o)).unwrap());
        }
        assert_eq!(decide(&state, std::slice::from_ref(&sent)), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obs(status: &str, timestamp: u64) -> Observation {
        let delivery = Delivery::parse(status);
        Observation {
            status: status.to_owned(),
            delivery,
            timestamp,
            recipient_id: Some("15551230001".into()),
            billing: Billing::default(),
            failure: (status == "failed").then(|| FailureReason {
                code: 131026,
                title: Some("Message undeliverable".into()),
                message: None,
                details: None,
            }),
            biz_opaque_callback_data: None,
        }
    }

    fn attributed() -> MessageState {
        MessageState {
            campaign_id: Some("c-1".into()),
            ..MessageState::default()
        }
    }

    #[test]
    fn a_duplicate_changes_nothing() {
        let state = attributed();
        let change = decide(&state, &[obs("delivered", 10)]).unwrap();
        let after = apply(&state, &change);
        assert_eq!(decide(&after, &[obs("delivered", 10)]), None);
    }

    #[test]
    fn a_late_lower_status_only_fills_its_timestamp() {
        let state = attributed();
        let after = apply(&state, &decide(&state, &[obs("read", 95)]).unwrap());
        let late = decide(&after, &[obs("sent", 1)]).unwrap();
        assert_eq!(late.delivery, Delivery::Read);
        assert_eq!(late.reached_at, vec![(Delivery::Sent, 1)]);
    }

    #[test]
    fn an_unattributed_message_keeps_its_state() {
        let change = decide(&MessageState::default(), &[obs("delivered", 6)]).unwrap();
        assert_eq!(change.delivery, Delivery::Delivered);
        let state = apply(&MessageState::default(), &change);
        assert_eq!(state.delivery, Delivery::Delivered);
        assert_eq!(state.campaign_id, None);
    }

    #[test]
    fn becoming_failed_keeps_its_first_error_once() {
        let state = attributed();
        let change = decide(&state, &[obs("sent", 1), obs("failed", 3)]).unwrap();
        assert_eq!(change.delivery, Delivery::Failed);
        assert_eq!(change.failure.as_ref().map(|f| f.code), Some(131026));
        let after = apply(&state, &change);
        assert_eq!(decide(&after, &[obs("failed", 3), obs("sent", 1)]), None);
    }

    #[test]
    fn an_unknown_status_is_recorded_once_and_counts_nothing() {
        let state = attributed();
        let change = decide(&state, &[obs("teleported", 5)]).unwrap();
        assert_eq!(change.unknown_statuses, vec!["teleported".to_owned()]);
        assert_eq!(change.delivery, Delivery::Pending);
        assert_eq!(
            decide(&apply(&state, &change), &[obs("teleported", 5)]),
            None
        );
    }

    proptest! {
        /// Any split of any permutation of statuses into successive batches ends in the same
        /// state as processing them all at once (the counters follow from the state:
        /// `domain::counters`).
        #[test]
        fn batches_in_any_order_converge(
            picks in prop::collection::vec(0usize..5, 1..10),
            cuts in prop::collection::vec(any::<bool>(), 10),
            rotate in 0usize..10,
        ) {
            let all = [obs("sent", 1), obs("delivered", 6), obs("read", 95), obs("failed", 3), obs("teleported", 7)];
            let mut list: Vec<Observation> = picks.iter().map(|i| all[*i].clone()).collect();
            let r = rotate % list.len();
            list.rotate_left(r);

            let run = |batches: Vec<Vec<Observation>>| {
                let mut state = attributed();
                for batch in batches {
                    if let Some(change) = decide(&state, &batch) {
                        state = apply(&state, &change);
                    }
                }
                (state.delivery, state.reached_at, state.failure_code)
            };
            let mut batches = vec![vec![]];
            for (i, o) in list.iter().enumerate() {
                if cuts[i % cuts.len()] { batches.push(vec![]); }
                batches.last_mut().unwrap().push(o.clone());
            }
            let once = run(vec![list.clone()]);
            let split = run(batches);
            prop_assert_eq!(&once, &split);
        }
    }
}
