//! Message delivery state: the rules that make statuses order-insensitive and idempotent.
//!
//! The final state of a message is a pure function of the *set* of statuses observed for it:
//! `failed` if a `failed` was ever seen (failed is terminal, even after `delivered`), otherwise the
//! highest rank seen (`sent` < `delivered` < `read` < `played`). Campaign counters are a pure
//! function of each message's final state, so a change moves them by `counters(new) - counters(old)`,
//! once, whatever order or how often the statuses arrive.

use crate::meta::payload::StatusKind;

/// A message's final delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Delivery {
    /// No status seen yet (registered, or not even that).
    #[default]
    Pending,
    Sent,
    Delivered,
    Read,
    /// Voice messages only: played implies read.
    Played,
    /// Terminal: no later status moves it.
    Failed,
}

impl Delivery {
    /// Every state with a status of its own, in rank order (failed last).
    pub const OBSERVABLE: [Delivery; 5] = [
        Delivery::Sent,
        Delivery::Delivered,
        Delivery::Read,
        Delivery::Played,
        Delivery::Failed,
    ];

    /// The state a status moves towards; `None` for a status outside the delivery ladder
    /// (`deleted`, or a string Meta adds later): recorded, never ranked or counted.
    pub fn of_status(status: &StatusKind) -> Option<Self> {
        match status {
            StatusKind::Sent => Some(Self::Sent),
            StatusKind::Delivered => Some(Self::Delivered),
            StatusKind::Read => Some(Self::Read),
            StatusKind::Played => Some(Self::Played),
            StatusKind::Failed => Some(Self::Failed),
            StatusKind::Deleted | StatusKind::Other(_) => None,
        }
    }

    /// Position on the ladder; failed ranks above everything because it is terminal.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The state after also observing `incoming`: failed wins, otherwise the higher rank.
    /// Commutative, associative and idempotent, which is what makes order irrelevant.
    pub fn merge(self, incoming: Delivery) -> Delivery {
        self.max(incoming)
    }

    /// Meta's word for the state (`pending` before any status).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
        }
    }

    /// Parses [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// Campaign counters: `reached_*` is the funnel (read implies delivered implies sent; failed is
/// apart), `current_*` counts messages by final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub reached_sent: i64,
    pub reached_delivered: i64,
    pub reached_read: i64,
    pub reached_failed: i64,
    pub current_sent: i64,
    pub current_delivered: i64,
    pub current_read: i64,
    pub current_played: i64,
    pub current_failed: i64,
}

impl Counters {
    /// What one message in state `d` contributes.
    pub fn of(d: Delivery) -> Self {
        let rank = d.rank();
        let not_failed = d != Delivery::Failed;
        let one = |b: bool| i64::from(b);
        Self {
            reached_sent: one(not_failed && rank >= Delivery::Sent.rank()),
            reached_delivered: one(not_failed && rank >= Delivery::Delivered.rank()),
            reached_read: one(not_failed && rank >= Delivery::Read.rank()),
            reached_failed: one(d == Delivery::Failed),
            current_sent: one(d == Delivery::Sent),
            current_delivered: one(d == Delivery::Delivered),
            current_read: one(d == Delivery::Read),
            current_played: one(d == Delivery::Played),
            current_failed: one(d == Delivery::Failed),
        }
    }

    /// `counters(new) - counters(old)`: what a change of one message moves.
    pub fn delta(old: Delivery, new: Delivery) -> Self {
        Self::of(new).minus(&Self::of(old))
    }

    /// `self - o`.
    pub fn minus(&self, o: &Self) -> Self {
        Self {
            reached_sent: self.reached_sent - o.reached_sent,
            reached_delivered: self.reached_delivered - o.reached_delivered,
            reached_read: self.reached_read - o.reached_read,
            reached_failed: self.reached_failed - o.reached_failed,
            current_sent: self.current_sent - o.current_sent,
            current_delivered: self.current_delivered - o.current_delivered,
            current_read: self.current_read - o.current_read,
            current_played: self.current_played - o.current_played,
            current_failed: self.current_failed - o.current_failed,
        }
    }

    /// Adds another set of counters (or a delta).
    pub fn add(&mut self, o: &Self) {
        self.reached_sent += o.reached_sent;
        self.reached_delivered += o.reached_delivered;
        self.reached_read += o.reached_read;
        self.reached_failed += o.reached_failed;
        self.current_sent += o.current_sent;
        self.current_delivered += o.current_delivered;
        self.current_read += o.current_read;
        self.current_played += o.current_played;
        self.current_failed += o.current_failed;
    }

    /// The counters as (attribute name, value) pairs, zeros left out.
    pub fn non_zero(&self) -> Vec<(&'static str, i64)> {
        [
            ("reached_sent", self.reached_sent),
            ("reached_delivered", self.reached_delivered),
            ("reached_read", self.reached_read),
            ("reached_failed", self.reached_failed),
            ("current_sent", self.current_sent),
            ("current_delivered", self.current_delivered),
            ("current_read", self.current_read),
            ("current_played", self.current_played),
            ("current_failed", self.current_failed),
        ]
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .collect()
    }

    /// True when nothing moves.
    pub fn is_zero(&self) -> bool {
        self.non_zero().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use Delivery::*;

    #[test]
    fn read_first_also_counts_the_inferred_sent_and_delivered() {
        let d = Counters::delta(Pending, Read);
        assert_eq!(
            (d.reached_sent, d.reached_delivered, d.reached_read),
            (1, 1, 1)
        );
        assert_eq!(d.current_read, 1);
    }

    #[test]
    fn a_lower_or_equal_status_later_changes_nothing() {
        for (old, late) in [
            (Read, Delivered),
            (Read, Sent),
            (Delivered, Delivered),
            (Failed, Sent),
        ] {
            assert_eq!(old.merge(late), old);
            assert!(Counters::delta(old, old.merge(late)).is_zero());
        }
    }

    #[test]
    fn failed_is_terminal_and_leaves_the_sent_funnel() {
        assert_eq!(Sent.merge(Failed), Failed);
        let d = Counters::delta(Sent, Failed);
        assert_eq!(
            (
                d.reached_sent,
                d.reached_failed,
                d.current_sent,
                d.current_failed
            ),
            (-1, 1, -1, 1)
        );
        // Documented choice: a failed after delivered still ends failed (terminal).
        assert_eq!(Delivered.merge(Failed), Failed);
    }

    #[test]
    fn played_ranks_above_read_and_counts_as_read() {
        assert_eq!(Read.merge(Played), Played);
        let c = Counters::of(Played);
        assert_eq!(
            (c.reached_read, c.current_played, c.current_read),
            (1, 1, 0)
        );
    }

    #[test]
    fn unknown_statuses_have_no_rank() {
        assert_eq!(
            Delivery::of_status(&StatusKind::from_wire("teleported")),
            None
        );
        assert_eq!(Delivery::of_status(&StatusKind::Deleted), None);
    }

    fn any_delivery() -> impl Strategy<Value = Delivery> {
        prop::sample::select(vec![Sent, Delivered, Read, Played, Failed])
    }

    proptest! {
        /// Any permutation and duplication of the same statuses ends in the same state, and the
        /// deltas applied one status at a time add up to the counters of that final state.
        #[test]
        fn order_and_duplicates_do_not_change_state_or_counters(
            statuses in prop::collection::vec(any_delivery(), 0..12),
            seed in any::<u64>(),
        ) {
            let fold = |list: &[Delivery]| {
                let mut state = Pending;
                let mut total = Counters::default();
                for s in list {
                    let next = state.merge(*s);
                    total.add(&Counters::delta(state, next));
                    state = next;
                }
                (state, total)
            };
            let (state, total) = fold(&statuses);
            let mut shuffled = statuses.clone();
            shuffled.extend(statuses.iter().copied().filter(|_| seed % 2 == 0));
            let n = shuffled.len();
            for i in 0..n {
                let j = (seed.rotate_left(i as u32) as usize) % n;
                shuffled.swap(i, j);
            }
            let (state2, total2) = fold(&shuffled);
            prop_assert_eq!(state, state2);
            prop_assert_eq!(total, total2);
            prop_assert_eq!(total, Counters::of(state));
        }
    }
}
