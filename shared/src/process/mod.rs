//! The processor feature: a batch of queued webhooks into table state.
//!
//! Per batch: parse every record once; route every event to its tenant (phone number id for
//! statuses, WABA id for the rest; routes cached per container); group statuses by message so
//! one batch makes at most one write per message, whatever the duplication; read those messages'
//! states in bulk; decide (pure) and write each change conditionally on the state read.
//! Records whose writes failed transiently are reported as batch item failures; records that can
//! never succeed are parked on the dead-letter queue with their reason and not retried.

mod routing;
mod templates;

pub use templates::Lifecycle;
pub(crate) use templates::TemplateIdentity;

use crate::domain::counters::OPTED_OUT_CODE;
use crate::domain::message::{self, Billing, FailureReason, MessageState, Observation};
use crate::domain::status::Delivery;
use crate::meta::payload::{Status, StatusKind};
use crate::meta::{self, Event, EventKind, Notification};
use crate::queue::{OutgoingMessage, Queue};
use crate::store::{FeedEntry, MessageKey, OptOut, Reply, Store, StoreError};
use futures::stream::{self, StreamExt};
use routing::{RouteCache, Routes};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tracing::{error, info, info_span, warn, Instrument};

/// How many message writes run at once within a batch.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Conditional writes that lose a race are decided again from a fresh read this many times.
const MAX_ATTEMPTS: usize = 5;

/// The statuses seen for one message, each with the index of the record it came in.
type Sightings = Vec<(usize, Observation)>;
/// The records a message's statuses came in, and how writing it went.
type MessageResult = (Vec<usize>, Result<bool, StoreError>);

/// One SQS record, as the processor needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecord {
    pub message_id: String,
    pub body: String,
}

/// What a batch did, for logs, the handler and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Message ids to report as batch item failures (retried by SQS, then the DLQ).
    pub failed: Vec<String>,
    /// Message ids parked on the dead-letter queue: they can never succeed.
    pub parked: Vec<String>,
    pub statuses: usize,
    /// Statuses received by what they report: sent, delivered, read, failed (others are counted
    /// in `statuses` only).
    pub statuses_by_kind: [usize; 4],
    /// Message items written (at most one per message per batch).
    pub messages_written: usize,
    /// Statuses that changed nothing (duplicates, late lower statuses with their time known).
    pub messages_unchanged: usize,
    pub unrouted: usize,
    pub template_events: usize,
    /// Inbound messages (customer messages), and those that were a campaign message's first reply.
    pub inbound: usize,
    pub replies: usize,
    pub ignored: usize,
    /// Meta's earliest status timestamp in the batch (Unix seconds): processing lag is now minus it.
    pub oldest_status_time: Option<u64>,
}

impl BatchOutcome {
    /// The batch's metrics (EMF): what arrived, what moved, what could not be routed or read,
    /// and how far behind Meta's clock the oldest status was applied.
    pub fn metrics(&self, now: u64) -> crate::metrics::Metrics {
        let mut m = crate::metrics::Metrics::new("processor");
        let [sent, delivered, read, failed] = self.statuses_by_kind;
        m.count("StatusesReceived", self.statuses)
            .count("StatusesSent", sent)
            .count("StatusesDelivered", delivered)
            .count("StatusesRead", read)
            .count("StatusesFailed", failed)
            .count("MessagesWritten", self.messages_written)
            .count("StatusesUnchanged", self.messages_unchanged)
            .count("TemplateEvents", self.template_events)
            .count("InboundMessages", self.inbound)
            .count("Replies", self.replies)
            .count("Unrouted", self.unrouted)
            .count("Parked", self.parked.len())
            .count("RecordsRetried", self.failed.len());
        if let Some(oldest) = self.oldest_status_time {
            m.seconds("ProcessingLag", now.saturating_sub(oldest));
        }
        m
    }
}

/// A batch's events, sorted by what applies them.
struct Sorted<'p, 'a> {
    statuses: BTreeMap<MessageKey, Sightings>,
    account_events: Vec<(usize, &'p Event<'a>)>,
    inbound: Vec<(usize, &'p Event<'a>)>,
    /// `(record, tenant, phone number, opt-out)` of 131050 failures.
    opt_outs: Vec<(usize, String, String, OptOut)>,
}

/// The processor: store, dead-letter queue and route cache, built once per container.
#[derive(Debug)]
pub struct Processor {
    store: Store,
    dead_letters: Queue,
    concurrency: usize,
    routes: RouteCache,
}

/// A record's fate so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Ok,
    Retry,
    Park(&'static str),
}

impl Processor {
    /// A processor writing to `store`, parking to `dead_letters`.
    pub fn new(store: Store, dead_letters: Queue, concurrency: usize) -> Self {
        Self {
            store,
            dead_letters,
            concurrency: concurrency.max(1),
            routes: RouteCache::default(),
        }
    }

    /// The store it writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Processes a batch. Never fails as a whole: each record ends applied, failed (retry) or
    /// parked. The phases, each below: parse, route, sort the events, apply the statuses, apply
    /// the template and account events, settle (report failures, park the unreadable).
    pub async fn process(&self, records: &[QueuedRecord]) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let mut fates = vec![Fate::Ok; records.len()];
        let parsed = parse(records, &mut fates);
        let routes = match self.route(&parsed).await {
            Ok(r) => r,
            Err(e) => {
                error!(error = %e, "routing lookup failed; the whole batch is retried");
                outcome.failed = records.iter().map(|r| r.message_id.clone()).collect();
                return outcome;
            }
        };
        let Sorted {
            statuses,
            account_events,
            inbound,
            opt_outs,
        } = self
            .sort_events(&parsed, &routes, &mut fates, &mut outcome)
            .await;
        self.apply_status_batch(statuses, &mut fates, &mut outcome)
            .await;
        self.apply_account_events(account_events, &routes, &mut fates, &mut outcome)
            .await;
        self.apply_inbound(inbound, &routes, &mut fates, &mut outcome)
            .await;
        self.apply_opt_outs(opt_outs, &mut fates).await;
        self.settle(records, &fates, &mut outcome).await;
        info!(
            records = records.len(),
            statuses = outcome.statuses,
            messages_written = outcome.messages_written,
            messages_unchanged = outcome.messages_unchanged,
            unrouted = outcome.unrouted,
            template_events = outcome.template_events,
            ignored = outcome.ignored,
            failed = outcome.failed.len(),
            parked = outcome.parked.len(),
            "batch processed"
        );
        outcome
    }

    /// Routing: one lookup for every phone number and WABA of the batch not cached yet.
    /// The tenants a body's events route to (what `make replay TENANT=` filters by); none for a
    /// body that does not parse or names no routed number or WABA.
    pub async fn tenants_of(&self, body: &str) -> Result<BTreeSet<String>, StoreError> {
        let Ok(notification) = crate::meta::parse_str(body) else {
            return Ok(BTreeSet::new());
        };
        let parsed = [(0, notification)];
        let routes = self.route(&parsed).await?;
        let mut tenants = BTreeSet::new();
        if let Notification::Events(events) = &parsed[0].1 {
            for e in events {
                let tenant = match &e.kind {
                    EventKind::Statuses {
                        phone_number_id, ..
                    }
                    | EventKind::Inbound {
                        phone_number_id, ..
                    } => routes.phone(phone_number_id, &e.waba_id).ok(),
                    _ => routes.waba(&e.waba_id),
                };
                tenants.extend(tenant.map(str::to_owned));
            }
        }
        Ok(tenants)
    }

    async fn route(&self, parsed: &[(usize, Notification<'_>)]) -> Result<Routes, StoreError> {
        let mut phones = BTreeSet::new();
        let mut wabas = BTreeSet::new();
        for (_, n) in parsed {
            if let Notification::Events(events) = n {
                for e in events {
                    wabas.insert(e.waba_id.to_string());
                    if let EventKind::Statuses {
                        phone_number_id, ..
                    }
                    | EventKind::Inbound {
                        phone_number_id, ..
                    } = &e.kind
                    {
                        phones.insert(phone_number_id.to_string());
                    }
                }
            }
        }
        self.routes.resolve(&self.store, &phones, &wabas).await
    }

    /// Sorting: statuses grouped per routed message (unroutable ones kept as `UNROUTED`), the
    /// other events of the batch set aside for their own phase, the rest counted as ignored.
    async fn sort_events<'p, 'a>(
        &self,
        parsed: &'p [(usize, Notification<'a>)],
        routes: &Routes,
        fates: &mut [Fate],
        outcome: &mut BatchOutcome,
    ) -> Sorted<'p, 'a> {
        let mut statuses: BTreeMap<MessageKey, Sightings> = BTreeMap::new();
        let mut account_events = Vec::new();
        let mut inbound = Vec::new();
        let mut opt_outs = Vec::new();
        for (i, notification) in parsed {
            let events = match notification {
                Notification::Events(events) => events,
                Notification::DashboardTest { field } => {
                    info!(metric = "dashboard_test", field = %field, "WhatsApp Manager test webhook ignored");
                    outcome.ignored += 1;
                    continue;
                }
                Notification::OtherObject { object } => {
                    info!(metric = "other_object", object = %object, "not a WhatsApp notification; ignored");
                    outcome.ignored += 1;
                    continue;
                }
            };
            for event in events {
                match &event.kind {
                    EventKind::Statuses {
                        phone_number_id,
                        statuses: listed,
                    } => {
                        outcome.statuses += listed.len();
                        for status in listed {
                            let kind = match status.status {
                                StatusKind::Sent => 0,
                                StatusKind::Delivered => 1,
                                StatusKind::Read => 2,
                                StatusKind::Failed => 3,
                                _ => continue,
                            };
                            outcome.statuses_by_kind[kind] += 1;
                        }
                        if let Some(oldest) = listed.iter().map(|s| s.timestamp).min() {
                            outcome.oldest_status_time =
                                Some(outcome.oldest_status_time.map_or(oldest, |o| o.min(oldest)));
                        }
                        let route = routes.phone(phone_number_id, &event.waba_id);
                        for status in listed {
                            match route {
                                Ok(tenant_id) => {
                                    let key = MessageKey {
                                        tenant_id: tenant_id.to_owned(),
                                        wamid: status.id.to_string(),
                                    };
                                    let seen = observation(status);
                                    // 131050: the recipient stopped marketing messages.
                                    if let (Some(f), Some(contact)) =
                                        (&seen.failure, &seen.recipient_id)
                                    {
                                        if f.code == OPTED_OUT_CODE {
                                            opt_outs.push((
                                                *i,
                                                tenant_id.to_owned(),
                                                phone_number_id.to_string(),
                                                OptOut {
                                                    contact: contact.clone(),
                                                    at: seen.timestamp,
                                                    source: format!("failure_{OPTED_OUT_CODE}"),
                                                    campaign_id: None,
                                                },
                                            ));
                                        }
                                    }
                                    statuses.entry(key).or_default().push((*i, seen));
                                }
                                Err(reason) => {
                                    outcome.unrouted += 1;
                                    let fields = [
                                        (
                                            "phone_number_id",
                                            crate::store::s(phone_number_id.as_ref()),
                                        ),
                                        ("waba_id", crate::store::s(event.waba_id.as_ref())),
                                        ("wamid", crate::store::s(status.id.as_ref())),
                                        ("status", crate::store::s(status.status.as_str())),
                                    ];
                                    let id = crate::store::stable_id(&[
                                        reason,
                                        &status.id,
                                        status.status.as_str(),
                                    ]);
                                    if let Err(e) =
                                        self.store.record_unrouted(&id, reason, &fields).await
                                    {
                                        fates[*i] = fates[*i].max(fate_of(&e));
                                    }
                                    warn!(metric = "unrouted", reason, phone_number_id = %phone_number_id, waba_id = %event.waba_id, "status not routed");
                                }
                            }
                        }
                    }
                    EventKind::Inbound { .. } => inbound.push((*i, event)),
                    EventKind::Unhandled { field } => {
                        info!(metric = "unhandled_field", field = %field, waba_id = %event.waba_id, "change field not handled; ignored");
                        outcome.ignored += 1;
                    }
                    _ => account_events.push((*i, event)),
                }
            }
        }
        Sorted {
            statuses,
            account_events,
            inbound,
            opt_outs,
        }
    }

    /// Inbound messages: each opens or extends its contact's 24-hour window with the number; a
    /// reply to a campaign message marks it replied (the counters fold counts it), announces it
    /// on the feed, and an opt-out button records the opt-out. No message text is kept.
    async fn apply_inbound(
        &self,
        inbound: Vec<(usize, &Event<'_>)>,
        routes: &Routes,
        fates: &mut [Fate],
        outcome: &mut BatchOutcome,
    ) {
        let mut payloads: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, event) in inbound {
            let EventKind::Inbound {
                phone_number_id,
                message,
            } = &event.kind
            else {
                continue;
            };
            outcome.inbound += 1;
            let tenant_id = match routes.phone(phone_number_id, &event.waba_id) {
                Ok(t) => t.to_owned(),
                Err(reason) => {
                    outcome.unrouted += 1;
                    warn!(metric = "unrouted", reason, phone_number_id = %phone_number_id, waba_id = %event.waba_id, "inbound message not routed");
                    continue;
                }
            };
            let result = self
                .apply_one_inbound(&tenant_id, phone_number_id, message, &mut payloads)
                .await;
            match result {
                Ok(true) => outcome.replies += 1,
                Ok(false) => {}
                Err(e) => {
                    error!(error = %e, "inbound message failed");
                    fates[i] = fates[i].max(fate_of(&e));
                }
            }
        }
    }

    /// `Ok(true)` when it is a campaign message's first reply.
    async fn apply_one_inbound(
        &self,
        tenant_id: &str,
        phone_number_id: &str,
        message: &crate::meta::payload::InboundMessage<'_>,
        payloads: &mut BTreeMap<String, Vec<String>>,
    ) -> Result<bool, StoreError> {
        let contact = message.contact();
        match contact {
            Some(contact) => {
                self.store
                    .extend_window(tenant_id, phone_number_id, contact, message.timestamp)
                    .await?
            }
            None => warn!(
                metric = "inbound_without_sender",
                tenant_id, "inbound message without from or from_user_id: no window"
            ),
        }
        let Some(replied_to) = message.context.as_ref().and_then(|c| c.id.as_deref()) else {
            return Ok(false);
        };
        let button = message.button_choice();
        if !payloads.contains_key(tenant_id) {
            let p = self.store.opt_out_payloads(tenant_id).await?;
            payloads.insert(tenant_id.to_owned(), p);
        }
        let opts_out = button
            .as_ref()
            .is_some_and(|b| payloads[tenant_id].contains(&b.to_lowercase()));
        let reply = Reply {
            wamid: replied_to.to_owned(),
            at: message.timestamp,
            kind: message.kind.to_string(),
            button,
            opts_out,
        };
        let campaign_id = self.store.mark_replied(tenant_id, &reply).await?;
        if let (true, Some(contact)) = (opts_out, contact) {
            let opt_out = OptOut {
                contact: contact.to_owned(),
                at: message.timestamp,
                source: "reply".into(),
                campaign_id: campaign_id.clone(),
            };
            self.store
                .record_opt_out(tenant_id, phone_number_id, &opt_out)
                .await?;
        }
        let Some(campaign_id) = campaign_id else {
            return Ok(false);
        };
        let feed = FeedEntry {
            kind: "reply",
            summary: serde_json::json!({
                "campaign_id": campaign_id,
                "wamid": reply.wamid,
                "kind": reply.kind,
                "button": reply.button,
                "opted_out": reply.opts_out,
            })
            .to_string(),
        };
        self.store.append_feed(tenant_id, &feed).await?;
        info!(metric = "campaign_reply", tenant_id, campaign_id, kind = %reply.kind, "first reply to a campaign message");
        Ok(true)
    }

    /// Opt-outs Meta reported as 131050 failures (idempotent: the first record stays).
    async fn apply_opt_outs(
        &self,
        opt_outs: Vec<(usize, String, String, OptOut)>,
        fates: &mut [Fate],
    ) {
        for (i, tenant_id, phone_number_id, opt_out) in opt_outs {
            if let Err(e) = self
                .store
                .record_opt_out(&tenant_id, &phone_number_id, &opt_out)
                .await
            {
                error!(error = %e, "recording an opt-out failed");
                fates[i] = fates[i].max(fate_of(&e));
            }
        }
    }

    /// Statuses: one read for all, then at most one conditional write per message.
    async fn apply_status_batch(
        &self,
        statuses: BTreeMap<MessageKey, Sightings>,
        fates: &mut [Fate],
        outcome: &mut BatchOutcome,
    ) {
        let keys: Vec<MessageKey> = statuses.keys().cloned().collect();
        let states = match self.store.message_states(&keys).await {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "reading message states failed");
                for (i, _) in statuses.values().flatten() {
                    fates[*i] = fates[*i].max(fate_of(&e));
                }
                HashMap::new()
            }
        };
        // Messages of one campaign are written one after another (their transactions share the
        // campaign's counter item and would only conflict); campaigns run concurrently.
        let mut lanes: BTreeMap<String, Vec<(MessageKey, Sightings)>> = BTreeMap::new();
        for (key, list) in statuses {
            let Some(state) = states.get(&key) else {
                continue;
            };
            let lane = match &state.campaign_id {
                Some(c) => format!("{}#{c}", key.tenant_id),
                // Unattributed messages touch no shared item: each is a lane of its own.
                None => format!("{}#wamid#{}", key.tenant_id, key.wamid),
            };
            lanes.entry(lane).or_default().push((key, list));
        }
        let results: Vec<Vec<MessageResult>> = stream::iter(lanes.into_values())
            .map(|lane| {
                let states = &states;
                async move {
                    let mut done = Vec::with_capacity(lane.len());
                    for (key, list) in lane {
                        let state = states.get(&key).cloned().unwrap_or_default();
                        let records: Vec<usize> = list.iter().map(|(i, _)| *i).collect();
                        let observations: Vec<Observation> =
                            list.into_iter().map(|(_, o)| o).collect();
                        let span =
                            info_span!("message", tenant_id = %key.tenant_id, wamid = %key.wamid);
                        let result = self
                            .apply_statuses(&key, state, &observations)
                            .instrument(span)
                            .await;
                        done.push((records, result));
                    }
                    done
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let results = results.into_iter().flatten();
        for (records_of_message, result) in results {
            match result {
                Ok(true) => outcome.messages_written += 1,
                Ok(false) => outcome.messages_unchanged += 1,
                Err(e) => {
                    error!(error = %e, transient = e.is_transient(), "message write failed");
                    for i in records_of_message {
                        fates[i] = fates[i].max(fate_of(&e));
                    }
                }
            }
        }
    }

    /// Template, phone and account events: rare; applied in event-time order.
    async fn apply_account_events(
        &self,
        mut account_events: Vec<(usize, &Event<'_>)>,
        routes: &Routes,
        fates: &mut [Fate],
        outcome: &mut BatchOutcome,
    ) {
        account_events.sort_by_key(|(_, e)| e.entry_time);
        for (i, event) in account_events {
            outcome.template_events += 1;
            let result = match routes.waba(&event.waba_id) {
                Some(tenant_id) => {
                    Lifecycle::new(&self.store)
                        .apply_account_event(tenant_id, event)
                        .await
                }
                None => {
                    outcome.unrouted += 1;
                    warn!(metric = "unrouted", reason = "unknown_waba", waba_id = %event.waba_id, "event not routed");
                    let id = crate::store::stable_id(&[
                        "unknown_waba",
                        &event.waba_id,
                        &format!("{:?}", event.entry_time),
                    ]);
                    self.store
                        .record_unrouted(
                            &id,
                            "unknown_waba",
                            &[("waba_id", crate::store::s(event.waba_id.as_ref()))],
                        )
                        .await
                        .map(|_| ())
                }
            };
            if let Err(e) = result {
                error!(error = %e, waba_id = %event.waba_id, "account event failed");
                fates[i] = fates[i].max(fate_of(&e));
            }
        }
    }

    /// Decides and writes one message's change; on a lost race, reads again and re-decides.
    /// `Ok(false)` when the statuses changed nothing.
    async fn apply_statuses(
        &self,
        key: &MessageKey,
        mut state: MessageState,
        observations: &[Observation],
    ) -> Result<bool, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(change) = message::decide(&state, observations) else {
                return Ok(false);
            };
            match self.store.write_message(key, &change).await {
                Ok(()) => {
                    if state.campaign_id.is_none() && change.transitioned(state.delivery) {
                        info!(
                            metric = "unattributed_status",
                            to = change.delivery.as_str(),
                            "status kept for a message not registered yet"
                        );
                    }
                    return Ok(true);
                }
                Err(StoreError::Conflict) => {
                    // Back off a little (jittered) before reading again: another writer holds it.
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
                    tokio::time::sleep(std::time::Duration::from_millis(5 + jitter)).await;
                    state = self.store.message_state(key).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Reports failures and parks what can never succeed (a failed park is retried instead).
    async fn settle(&self, records: &[QueuedRecord], fates: &[Fate], outcome: &mut BatchOutcome) {
        for (record, fate) in records.iter().zip(fates) {
            match fate {
                Fate::Ok => {}
                Fate::Retry => outcome.failed.push(record.message_id.clone()),
                Fate::Park(reason) => {
                    let message = OutgoingMessage {
                        body: record.body.clone(),
                        attributes: vec![
                            (crate::ingest::ATTR_PARKED_REASON, (*reason).to_owned()),
                            ("source_message_id", record.message_id.clone()),
                        ],
                    };
                    match self.dead_letters.send_all(vec![message]).await {
                        Ok(()) => {
                            warn!(message_id = %record.message_id, reason, "record parked on the dead-letter queue");
                            outcome.parked.push(record.message_id.clone());
                        }
                        Err(e) => {
                            error!(message_id = %record.message_id, error = %e, "parking failed; record will be retried");
                            outcome.failed.push(record.message_id.clone());
                        }
                    }
                }
            }
        }
    }
}

fn fate_of(e: &StoreError) -> Fate {
    if e.is_transient() {
        Fate::Retry
    } else {
        Fate::Park("store_refused")
    }
}

/// A status in domain terms (free text cut to size; nothing here is logged). Its deferred
/// members were checked when the record was parsed ([`Notification::check_deferred`]).
fn observation(status: &Status<'_>) -> Observation {
    let clip = |s: &str| crate::store::clip(s).to_owned();
    let details = status.details().unwrap_or_default();
    let pricing = details.pricing.as_ref();
    let conversation = details.conversation.as_ref();
    let owned = |s: Option<&std::borrow::Cow<'_, str>>| s.map(|s| s.to_string());
    Observation {
        status: status.status.as_str().to_owned(),
        delivery: Delivery::of_status(&status.status),
        timestamp: status.timestamp,
        recipient_id: details.recipient_id.as_deref().map(str::to_owned),
        billing: Billing {
            billable: pricing.and_then(|p| p.billable),
            pricing_model: owned(pricing.and_then(|p| p.pricing_model.as_ref())),
            pricing_category: owned(pricing.and_then(|p| p.category.as_ref())),
            pricing_type: owned(pricing.and_then(|p| p.kind.as_ref())),
            conversation_id: conversation.map(|c| c.id.to_string()),
            conversation_origin: owned(
                conversation.and_then(|c| c.origin.as_ref().map(|o| &o.kind)),
            ),
            conversation_expires_at: conversation.and_then(|c| c.expiration_timestamp),
        },
        failure: details.errors.first().map(|e| FailureReason {
            code: e.code,
            title: e.title.as_deref().map(clip),
            message: e.message.as_deref().map(clip),
            details: e
                .error_data
                .as_ref()
                .and_then(|d| d.details.as_deref())
                .map(clip),
        }),
        biz_opaque_callback_data: details.biz_opaque_callback_data.as_deref().map(clip),
    }
}

/// What the processor reads from one queued body before any I/O: each status as
/// (phone_number_id, wamid, observation). The same parse and mapping `process` uses; the fuzz
/// targets drive it with arbitrary bytes.
pub fn decode(body: &[u8]) -> Result<Vec<(String, String, Observation)>, meta::ParseError> {
    let mut out = Vec::new();
    let notification = meta::parse(body)?;
    notification.check_deferred()?;
    if let Notification::Events(events) = notification {
        for event in events {
            if let EventKind::Statuses {
                phone_number_id,
                statuses,
            } = &event.kind
            {
                for status in statuses {
                    out.push((
                        phone_number_id.to_string(),
                        status.id.to_string(),
                        observation(status),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Parsing: each record's body into its events; a body that cannot be read is parked.
fn parse<'a>(records: &'a [QueuedRecord], fates: &mut [Fate]) -> Vec<(usize, Notification<'a>)> {
    let mut parsed = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        match meta::parse_str(&record.body).and_then(|n| n.check_deferred().map(|()| n)) {
            Ok(notification) => parsed.push((i, notification)),
            Err(e) => {
                warn!(message_id = %record.message_id, reason = e.reason(), error = %e, "record cannot be parsed");
                fates[i] = Fate::Park(e.reason());
            }
        }
    }
    parsed
}
