//! One parse of a body into a flat list of tenant-routable events: one per `messages` change with
//! its statuses (as Meta groups them, so no status is moved again), one per inbound message, and
//! one per other change, across every entry and change (nothing past `entry[0]` is dropped).
//! Either the whole body parses or none of it does, so nothing is half-applied.

use super::envelope::Envelope;
use super::payload::{
    AccountNews, AccountUpdate, ChangeValue, InboundMessage, MetaError, PhoneNumberQualityUpdate,
    Status, TemplateCategoryUpdate, TemplateQualityUpdate, TemplateStatusUpdate,
};
use std::borrow::Cow;

/// The `object` of a WhatsApp Business notification.
pub const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

/// What a signed body turned out to be.
#[derive(Debug)]
pub enum Notification<'a> {
    /// A WhatsApp Business Account notification, flattened into events.
    Events(Vec<Event<'a>>),
    /// The WhatsApp Manager "Test" button body (`{field, value}`, sample ids, no WABA).
    DashboardTest { field: Cow<'a, str> },
    /// A notification for another Meta product (`object` is not `whatsapp_business_account`).
    OtherObject { object: Cow<'a, str> },
}

/// One event, with what routing needs: the WABA it arrived under and the entry's time.
#[derive(Debug)]
pub struct Event<'a> {
    /// `entry[].id`: the WhatsApp Business Account.
    pub waba_id: Cow<'a, str>,
    /// `entry[].time` (Unix seconds) when Meta sent one.
    pub entry_time: Option<u64>,
    pub kind: EventKind<'a>,
}

/// The event itself.
#[derive(Debug)]
pub enum EventKind<'a> {
    /// Delivery statuses of messages sent from `phone_number_id`, in the order Meta listed them
    /// (never empty).
    Statuses {
        phone_number_id: Cow<'a, str>,
        statuses: Vec<Status<'a>>,
    },
    /// A message a customer sent to `phone_number_id` (boxed: larger than a batch of
    /// statuses, so that every event stays small).
    Inbound {
        phone_number_id: Cow<'a, str>,
        message: Box<InboundMessage<'a>>,
    },
    /// Errors Meta reports about a `messages` change as a whole (`value.errors`, e.g. 130429
    /// rate limit hit, 131000 something went wrong): about the phone number, not one message.
    ChangeErrors {
        phone_number_id: Cow<'a, str>,
        errors: Vec<MetaError<'a>>,
    },
    // Account events are rare and larger than a status: boxed, so that every event of a
    // batch of statuses stays the size of a status.
    TemplateStatus(Box<TemplateStatusUpdate<'a>>),
    TemplateQuality(Box<TemplateQualityUpdate<'a>>),
    TemplateCategory(Box<TemplateCategoryUpdate<'a>>),
    PhoneNumberQuality(Box<PhoneNumberQualityUpdate<'a>>),
    AccountUpdate(Box<AccountUpdate<'a>>),
    AccountNews(Box<AccountNews<'a>>),
    /// A change whose `field` this version does not handle.
    Unhandled {
        field: Cow<'a, str>,
    },
}

/// Why a signed body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("body is not valid JSON for a webhook: {0}")]
    Json(#[source] serde_json::Error),
    #[error("entry {entry} change {change}: {source}")]
    Change {
        entry: usize,
        change: usize,
        #[source]
        source: super::payload::MissingMember,
    },
    #[error("body is not UTF-8")]
    NotUtf8,
    #[error("body nests deeper than {} levels", super::MAX_DEPTH)]
    TooDeep,
    #[error("body has neither an entry envelope nor a field/value pair")]
    UnknownShape,
}

impl ParseError {
    /// A short, stable reason for metrics and parked-message attributes (no payload content).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::TooDeep => "too_deep",
            Self::Json(_) => "invalid_json",
            Self::Change { .. } => "invalid_change",
            Self::UnknownShape => "unknown_shape",
        }
    }
}

/// Parses a (verified) body once into events.
pub fn parse(body: &[u8]) -> Result<Notification<'_>, ParseError> {
    // Checking UTF-8 once up front (SIMD) lets the parser skip it string by string.
    let text = simdutf8::basic::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    parse_str(text)
}

/// [`parse`] for a body already known to be UTF-8 (the webhook checks it once for the queue; a
/// queued record is a string).
pub fn parse_str(text: &str) -> Result<Notification<'_>, ParseError> {
    // serde_json counts nesting as it goes (unknown values included) and refuses a body past
    // its recursion limit: no input reaches a deeper recursion than that, and no extra pass.
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|e| {
        if e.to_string().starts_with("recursion limit exceeded") {
            ParseError::TooDeep
        } else {
            ParseError::Json(e)
        }
    })?;
    let Envelope {
        object,
        events,
        field,
        has_value,
        bad_change,
    } = envelope;
    match (object, events, field) {
        (Some(object), _, _) if object != WHATSAPP_OBJECT => {
            Ok(Notification::OtherObject { object })
        }
        (Some(_), Some(events), _) => match bad_change {
            Some(bad) => Err(ParseError::Change {
                entry: bad.entry,
                change: bad.change,
                source: bad.source,
            }),
            None => Ok(Notification::Events(events)),
        },
        (None, None, Some(field)) if has_value => Ok(Notification::DashboardTest { field }),
        _ => Err(ParseError::UnknownShape),
    }
}

/// Appends the events of one change.
pub(super) fn push_events<'a>(
    events: &mut Vec<Event<'a>>,
    waba_id: Cow<'a, str>,
    entry_time: Option<u64>,
    field: Cow<'a, str>,
    value: ChangeValue<'a>,
) {
    let event = |kind| Event {
        waba_id: waba_id.clone(),
        entry_time,
        kind,
    };
    match value {
        ChangeValue::Messages(messages) => {
            let phone_number_id = messages.metadata.phone_number_id;
            events.reserve(1 + messages.messages.len());
            if !messages.statuses.is_empty() {
                events.push(event(EventKind::Statuses {
                    phone_number_id: phone_number_id.clone(),
                    statuses: messages.statuses,
                }));
            }
            for message in messages.messages {
                events.push(event(EventKind::Inbound {
                    phone_number_id: phone_number_id.clone(),
                    message: Box::new(message),
                }));
            }
            if !messages.errors.is_empty() {
                events.push(event(EventKind::ChangeErrors {
                    phone_number_id: phone_number_id.clone(),
                    errors: messages.errors,
                }));
            }
        }
        ChangeValue::TemplateStatus(v) => {
            events.push(event(EventKind::TemplateStatus(Box::new(v))))
        }
        ChangeValue::TemplateQuality(v) => {
            events.push(event(EventKind::TemplateQuality(Box::new(v))))
        }
        ChangeValue::TemplateCategory(v) => {
            events.push(event(EventKind::TemplateCategory(Box::new(v))))
        }
        ChangeValue::PhoneNumberQuality(v) => {
            events.push(event(EventKind::PhoneNumberQuality(Box::new(v))))
        }
        ChangeValue::AccountUpdate(v) => events.push(event(EventKind::AccountUpdate(Box::new(v)))),
        ChangeValue::AccountNews(v) => events.push(event(EventKind::AccountNews(Box::new(v)))),
        ChangeValue::Unhandled => events.push(event(EventKind::Unhandled { field })),
    }
}

impl Notification<'_> {
    /// Reads every status's deferred members (billing and errors), which [`parse`] only checks
    /// to be well-formed JSON: the processor calls this before applying anything, so a body
    /// with a malformed member is refused whole, as a malformed body is.
    pub fn check_deferred(&self) -> Result<(), ParseError> {
        if let Notification::Events(events) = self {
            for event in events {
                if let EventKind::Statuses { statuses, .. } = &event.kind {
                    for status in statuses {
                        status.details().map_err(ParseError::Json)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Counts of what a notification carries, for logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventCounts {
    pub statuses: usize,
    pub inbound: usize,
    pub template: usize,
    pub other: usize,
}

impl EventCounts {
    /// Tallies events by kind.
    pub fn of(events: &[Event<'_>]) -> Self {
        let mut counts = Self::default();
        for e in events {
            match &e.kind {
                EventKind::Statuses { statuses, .. } => counts.statuses += statuses.len(),
                EventKind::Inbound { .. } => counts.inbound += 1,
                EventKind::TemplateStatus(_)
                | EventKind::TemplateQuality(_)
                | EventKind::TemplateCategory(_) => counts.template += 1,
                _ => counts.other += 1,
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::payload::{QualityScore, StatusKind, TemplateEvent};

    fn fixture(path: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/meta");
        std::fs::read(dir.join(path)).unwrap()
    }

    fn events(body: &[u8]) -> Vec<Event<'_>> {
        match parse(body).unwrap() {
            Notification::Events(events) => events,
            other => panic!("expected events, got {other:?}"),
        }
    }

    /// Every status of the events, with the phone number and WABA it arrived under.
    fn statuses<'e, 'a>(events: &'e [Event<'a>]) -> Vec<(&'e str, &'e str, &'e Status<'a>)> {
        events
            .iter()
            .flat_map(|e| match &e.kind {
                EventKind::Statuses {
                    phone_number_id,
                    statuses,
                } => statuses
                    .iter()
                    .map(|s| (e.waba_id.as_ref(), phone_number_id.as_ref(), s))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn every_well_formed_fixture_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/meta");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read(&path).unwrap();
                assert!(parse(&body).is_ok(), "{}", path.display());
                count += 1;
            }
        }
        assert!(count >= 30);
    }

    #[test]
    fn a_mixed_batch_yields_every_status_across_entries() {
        let body = fixture("status_batch_mixed.json");
        let events = events(&body);
        assert!(events.iter().all(
            |e| matches!(&e.kind, EventKind::Statuses { statuses, .. } if !statuses.is_empty())
        ));
        // 9 status objects: 8 distinct plus c-acme-1/m4 `delivered` twice in the same body.
        let all = statuses(&events);
        assert_eq!(all.len(), 9);
        assert_eq!(EventCounts::of(&events).statuses, 9);
        let wabas: std::collections::BTreeSet<_> = all.iter().map(|(waba, _, _)| *waba).collect();
        assert_eq!(wabas.len(), 2);
    }

    #[test]
    fn a_status_keeps_pricing_conversation_and_callback_data() {
        let body = fixture("status_sent.json");
        let events = events(&body);
        let (waba_id, phone_number_id, status) = statuses(&events)[0];
        assert_eq!(phone_number_id, "106540352242922");
        assert_eq!(waba_id, "102290129340398");
        assert_eq!(status.status, StatusKind::Sent);
        assert_eq!(status.timestamp, 1732610003);
        let details = status.details().unwrap();
        assert_eq!(details.recipient_id.as_deref(), Some("15551230001"));
        let conversation = details.conversation.as_ref().unwrap();
        assert_eq!(conversation.expiration_timestamp, Some(1732696403));
        assert_eq!(conversation.origin.as_ref().unwrap().kind, "marketing");
        let pricing = details.pricing.as_ref().unwrap();
        assert_eq!(
            (pricing.billable, pricing.pricing_model.as_deref()),
            (Some(true), Some("CBP"))
        );
        assert_eq!(
            details.biz_opaque_callback_data.as_deref(),
            Some("c-acme-1")
        );
    }

    #[test]
    fn a_failed_status_keeps_its_error() {
        let body = fixture("status_failed.json");
        let events = events(&body);
        let (_, _, status) = statuses(&events)[0];
        assert_eq!(status.status, StatusKind::Failed);
        let errors = status.details().unwrap().errors;
        assert_eq!(errors[0].code, 131026);
        assert_eq!(errors[0].title.as_deref(), Some("Message undeliverable"));
        let details = errors[0].error_data.as_ref().unwrap().details.as_deref();
        assert_eq!(details, Some("Message Undeliverable."));
    }

    #[test]
    fn a_malformed_billing_member_is_queued_by_the_webhook_and_refused_whole_by_the_processor() {
        let body = String::from_utf8(fixture("status_sent.json"))
            .unwrap()
            .replace("\"pricing\":{", "\"pricing\":[{")
            .replace(
                "\"category\":\"marketing\"}",
                "\"category\":\"marketing\"}]",
            );
        assert!(
            body.contains("\"pricing\":[{"),
            "the fixture's shape changed"
        );
        // Well-formed JSON: the webhook's parse (routing, splitting) reads it.
        let notification = parse(body.as_bytes()).unwrap();
        // Not Meta's shape: the processor's check refuses the body, before applying any of it.
        let refused = notification.check_deferred().unwrap_err();
        assert_eq!(refused.reason(), "invalid_json");
        assert!(parse(&fixture("status_sent.json"))
            .unwrap()
            .check_deferred()
            .is_ok());
    }

    #[test]
    fn new_api_shape_without_conversation_is_fine() {
        let body = fixture("status_v24_no_conversation.json");
        let events = events(&body);
        let (_, _, status) = statuses(&events)[0];
        assert!(status.conversation.is_none());
        let details = status.details().unwrap();
        let pricing = details.pricing.as_ref().unwrap();
        assert_eq!(
            (pricing.pricing_model.as_deref(), pricing.kind.as_deref()),
            (Some("PMP"), Some("regular"))
        );
    }

    #[test]
    fn unknown_status_and_event_strings_are_values_not_errors() {
        let body = fixture("status_played.json");
        let played = events(&body);
        let (_, _, status) = statuses(&played)[0];
        assert_eq!(status.status, StatusKind::Played);

        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"metadata":{"phone_number_id":"2"},"statuses":[{"id":"w","status":"teleported","timestamp":"5"}]},"field":"messages"}]}]}"#;
        let teleported = events(body);
        let (_, _, status) = statuses(&teleported)[0];
        assert_eq!(status.status, StatusKind::from_wire("teleported"));
        assert!(status.status.is_unknown());

        let body = fixture("template_unknown_event.json");
        let EventKind::TemplateStatus(update) = &events(&body)[0].kind else {
            panic!()
        };
        assert!(update.event.is_unknown());
    }

    #[test]
    fn template_ids_are_exact_u64_from_numbers_or_strings() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":1,"changes":[{"value":{"event":"APPROVED","message_template_id":18446744073709551615},"field":"message_template_status_update"}]}]}"#;
        let EventKind::TemplateStatus(update) = &events(body)[0].kind else {
            panic!()
        };
        assert_eq!(update.message_template_id, u64::MAX);
        assert_eq!(update.event, TemplateEvent::Approved);

        // bad/wrong_types.json: a number timestamp and a string template id, read leniently.
        let body = fixture("bad/wrong_types.json");
        let events = events(&body);
        let (_, _, status) = statuses(&events)[0];
        assert_eq!(status.timestamp, 1732610008);
        let EventKind::TemplateStatus(update) = &events[1].kind else {
            panic!()
        };
        assert_eq!(update.message_template_id, 1407680283588703);
        assert_eq!(update.event, TemplateEvent::Paused);
        assert_eq!(events[1].entry_time, Some(1732614800));
    }

    #[test]
    fn escaped_unicode_is_decoded() {
        let body = fixture("unicode_escaped.json");
        let EventKind::TemplateStatus(update) = &events(&body)[0].kind else {
            panic!()
        };
        assert_eq!(
            update.message_template_name.as_deref(),
            Some("entrega_rápida")
        );
        let info = update.rejection_info.as_ref().unwrap();
        assert!(info
            .reason
            .as_deref()
            .unwrap()
            .contains("— não permitido 🚫"));
        assert!(info
            .recommendation
            .as_deref()
            .unwrap()
            .contains("https://developers.facebook.com/"));
    }

    #[test]
    fn template_quality_category_phone_and_account_events_are_typed() {
        let body = fixture("quality_yellow_to_red.json");
        let EventKind::TemplateQuality(q) = &events(&body)[0].kind else {
            panic!()
        };
        assert_eq!(
            (
                q.previous_quality_score.clone(),
                q.new_quality_score.clone()
            ),
            (Some(QualityScore::Yellow), QualityScore::Red)
        );

        let body = fixture("category_impending.json");
        let EventKind::TemplateCategory(c) = &events(&body)[0].kind else {
            panic!()
        };
        assert_eq!(
            (c.correct_category.as_deref(), c.category_update_timestamp),
            (Some("MARKETING"), Some(1732700000))
        );

        let body = fixture("phone_quality_downgrade.json");
        let EventKind::PhoneNumberQuality(p) = &events(&body)[0].kind else {
            panic!()
        };
        assert_eq!(
            (p.event.as_ref(), p.current_limit.as_deref()),
            ("DOWNGRADE", Some("TIER_1K"))
        );

        let body = fixture("account_update_ban.json");
        let EventKind::AccountUpdate(a) = &events(&body)[0].kind else {
            panic!()
        };
        assert_eq!(
            a.ban_info.as_ref().unwrap().waba_ban_state,
            "SCHEDULE_FOR_DISABLE"
        );

        let body = fixture("template_disabled.json");
        let EventKind::TemplateStatus(t) = &events(&body)[0].kind else {
            panic!()
        };
        assert_eq!(
            t.disable_info.as_ref().unwrap().disable_date,
            Some(1732613900)
        );
    }

    #[test]
    fn inbound_messages_keep_the_replied_to_wamid() {
        let body = fixture("inbound_text_message.json");
        let EventKind::Inbound { message, .. } = &events(&body)[0].kind else {
            panic!()
        };
        assert_eq!(message.kind, "text");
        assert!(message
            .context
            .as_ref()
            .unwrap()
            .id
            .as_deref()
            .unwrap()
            .starts_with("wamid."));
    }

    #[test]
    fn other_shapes_are_recognised_not_errors() {
        assert!(matches!(
            parse(&fixture("dashboard_test_template_status.json")).unwrap(),
            Notification::DashboardTest { .. }
        ));
        assert!(matches!(
            parse(&fixture("bad/wrong_object.json")).unwrap(),
            Notification::OtherObject { .. }
        ));
        assert!(events(&fixture("bad/empty_entry.json")).is_empty());
        assert!(events(&fixture("bad/missing_statuses_value.json")).is_empty());
        let body = fixture("unknown_field.json");
        let events = events(&body);
        assert!(
            matches!(&events[0].kind, EventKind::Unhandled { field } if field == "whatsapp_future_feature_update")
        );
    }

    #[test]
    fn malformed_bodies_are_errors_with_a_stable_reason() {
        for (path, reason) in [
            ("bad/truncated.json", "invalid_json"),
            ("bad/not_json.txt", "invalid_json"),
        ] {
            assert_eq!(
                parse(&fixture(path)).unwrap_err().reason(),
                reason,
                "{path}"
            );
        }
        let no_metadata = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"statuses":[]},"field":"messages"}]}]}"#;
        assert_eq!(parse(no_metadata).unwrap_err().reason(), "invalid_change");
        assert_eq!(parse(b"{}").unwrap_err().reason(), "unknown_shape");
        assert_eq!(parse(b"\xff").unwrap_err().reason(), "not_utf8");
        assert_eq!(parse(b"").unwrap_err().reason(), "invalid_json");
    }

    #[test]
    fn envelope_members_may_come_in_any_order() {
        // `changes` before `id`, `time` last, `field` before `value`, unknown members between.
        let body = br#"{"entry":[{"changes":[{"field":"message_template_status_update","x":[1,{"y":2}],"value":{"event":"APPROVED","message_template_id":7,"message_template_name":"n"}}],"extra":{},"id":"waba-9","time":"1700000000"},{"id":"waba-8","changes":[]}],"object":"whatsapp_business_account"}"#;
        let events = events(body);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].waba_id, "waba-9");
        assert_eq!(events[0].entry_time, Some(1_700_000_000));
        assert!(
            matches!(&events[0].kind, EventKind::TemplateStatus(t) if t.message_template_id == 7)
        );
    }

    #[test]
    fn each_entry_gives_its_events_its_own_id_and_time() {
        let body = br#"{"object":"whatsapp_business_account","entry":[
            {"id":"a","time":1,"changes":[{"value":{"event":"PAUSED","message_template_id":1},"field":"message_template_status_update"}]},
            {"id":"b","changes":[{"value":{"event":"APPROVED","message_template_id":2},"field":"message_template_status_update"},
                                 {"value":{"event":"APPROVED","message_template_id":3},"field":"message_template_status_update"}]}]}"#;
        let got: Vec<(String, Option<u64>)> = events(body)
            .iter()
            .map(|e| (e.waba_id.to_string(), e.entry_time))
            .collect();
        assert_eq!(
            got,
            [
                ("a".into(), Some(1)),
                ("b".into(), None),
                ("b".into(), None)
            ]
        );
    }

    #[test]
    fn envelope_errors_are_the_ones_a_derive_would_give() {
        let cases: [(&[u8], &str); 6] = [
            // An entry without its id.
            (br#"{"object":"whatsapp_business_account","entry":[{"changes":[]}]}"#, "invalid_json"),
            // A change without its field, or without its value.
            (br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{}}]}]}"#, "invalid_json"),
            (br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages"}]}]}"#, "invalid_json"),
            // A member twice.
            (br#"{"object":"whatsapp_business_account","entry":[],"entry":[]}"#, "invalid_json"),
            // A change that lacks what its field needs, then a syntax error: the body is not JSON.
            (br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{},"field":"messages"}]}],"#, "invalid_json"),
            // Not an object.
            (br#"[1,2]"#, "invalid_json"),
        ];
        for (body, reason) in cases {
            assert_eq!(
                parse(body).map(|_| ()).unwrap_err().reason(),
                reason,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // The first change lacking a member is the one reported.
        let two_bad = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"event":"APPROVED"},"field":"message_template_status_update"},{"value":{},"field":"messages"}]}]}"#;
        assert!(matches!(
            parse(two_bad),
            Err(ParseError::Change {
                entry: 0,
                change: 0,
                ..
            })
        ));
    }
}
