//! The webhook feature: Meta's subscription check, and a signed POST body turned into queue
//! messages. A body that passed the signature check is either queued (whole, or split into
//! parts that each fit a message) or parked on the dead-letter queue with a reason; it is never
//! refused with a 4xx, and `accept` returns `Ok` only once SQS holds it.

use crate::meta::{self, EventCounts, Notification, SignatureError, SignatureVerifier};
use crate::queue::{OutgoingMessage, Queue, QueueError};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use std::borrow::Cow;
use subtle::ConstantTimeEq;
use tracing::{info, instrument, warn};

/// Message attribute: what the body is (`notification`, `dashboard_test`).
pub const ATTR_KIND: &str = "kind";
/// Message attribute: `i/n` when a body was split into n parts.
pub const ATTR_PART: &str = "part";
/// Message attribute: the webhook request that received the body.
pub const ATTR_REQUEST_ID: &str = "request_id";
/// Message attribute: the request's `X-Hub-Signature-256`, for the archive (it verifies the body
/// when the body was not split).
pub const ATTR_SIGNATURE: &str = "signature";
/// Message attribute on parked messages: why it was parked.
pub const ATTR_PARKED_REASON: &str = "parked_reason";
/// Message attribute on parked messages: `text` or `base64`.
pub const ATTR_ENCODING: &str = "encoding";

/// Bytes kept free in every message for its attributes.
const ATTRIBUTE_ROOM: usize = 512;

/// Size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Larger bodies are refused with 413 before their signature is computed.
    pub max_body_bytes: usize,
    /// The queue's message size limit (256 KiB classic, 1 MiB since 2025).
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Meta sends up to ~3 MB; function URLs and HTTP APIs stop at 6 MB anyway.
            max_body_bytes: 4 * 1024 * 1024,
            max_message_bytes: 256 * 1024,
        }
    }
}

/// Why a POST was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("body of {size} bytes is over the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("signature refused: {0}")]
    Signature(#[from] SignatureError),
    #[error("queue unavailable")]
    Queue(#[from] QueueError),
}

/// What happened to an accepted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// On the processing queue, in `parts` messages.
    Queued { parts: usize, counts: EventCounts },
    /// The WhatsApp Manager "Test" body, queued for the processor to recognise and log.
    DashboardTest,
    /// On the dead-letter queue with `reason`, in `parts` messages.
    Parked { reason: &'static str, parts: usize },
}

/// Where a verified body goes; decided without I/O.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan<'a> {
    /// Queue these bodies for the processor.
    Forward {
        kind: &'static str,
        bodies: Vec<Cow<'a, str>>,
        counts: EventCounts,
    },
    /// Keep the body on the dead-letter queue: it cannot be processed.
    Park { reason: &'static str },
}

/// Decides what to do with a verified body: parse it once, forward it whole when it fits a
/// message, split it when it does not, park it when it cannot be read.
pub fn plan(body: &[u8], max_message_bytes: usize) -> Plan<'_> {
    let Ok(text) = simdutf8::basic::from_utf8(body) else {
        return Plan::Park { reason: "not_utf8" };
    };
    let (kind, counts) = match meta::parse_str(text) {
        Ok(Notification::Events(events)) => ("notification", EventCounts::of(&events)),
        Ok(Notification::DashboardTest { .. }) => ("dashboard_test", EventCounts::default()),
        Ok(Notification::OtherObject { .. }) => {
            return Plan::Park {
                reason: "other_object",
            }
        }
        Err(e) => return Plan::Park { reason: e.reason() },
    };
    let budget = max_message_bytes.saturating_sub(ATTRIBUTE_ROOM);
    if text.len() <= budget {
        return Plan::Forward {
            kind,
            bodies: vec![Cow::Borrowed(text)],
            counts,
        };
    }
    match meta::split::split(text, budget) {
        Ok(parts) => Plan::Forward {
            kind,
            bodies: parts.into_iter().map(Cow::Owned).collect(),
            counts,
        },
        Err(_) => Plan::Park {
            reason: "unsplittable",
        },
    }
}

/// The webhook: verifier, subscription token and queues, built once per container.
#[derive(Debug)]
pub struct Ingest {
    verifier: SignatureVerifier,
    verify_token: SecretString,
    queue: Queue,
    dead_letters: Queue,
    limits: Limits,
}

impl Ingest {
    /// Builds the webhook from its parts. Fails when no app secret is configured.
    pub fn new(
        app_secrets: &[SecretString],
        verify_token: SecretString,
        queue: Queue,
        dead_letters: Queue,
        limits: Limits,
    ) -> Option<Self> {
        Some(Self {
            verifier: SignatureVerifier::new(app_secrets)?,
            verify_token,
            queue,
            dead_letters,
            limits,
        })
    }

    /// Meta's subscription check: the challenge to echo when `hub.mode` is `subscribe` and the
    /// token matches (compared in constant time), else `None` (403).
    pub fn verify_subscription<'q>(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&'q str>,
    ) -> Option<&'q str> {
        let expected = self.verify_token.expose_secret().as_bytes();
        let token_ok: bool = token
            .map(|t| t.as_bytes().ct_eq(expected).into())
            .unwrap_or(false);
        (mode == Some("subscribe") && token_ok)
            .then_some(challenge)
            .flatten()
    }

    /// Verifies a POST and puts it on the queue (or parks it). `Ok` means SQS holds the body.
    #[instrument(skip_all, fields(request_id, bytes = body.len()))]
    pub async fn accept(
        &self,
        signature: Option<&[u8]>,
        body: &[u8],
        request_id: &str,
    ) -> Result<Accepted, IngestError> {
        if body.len() > self.limits.max_body_bytes {
            return Err(IngestError::TooLarge {
                size: body.len(),
                max: self.limits.max_body_bytes,
            });
        }
        self.verifier.verify(signature, body)?;

        match plan(body, self.limits.max_message_bytes) {
            Plan::Forward {
                kind,
                bodies,
                counts,
            } => {
                let parts = bodies.len();
                let messages = bodies
                    .into_iter()
                    .enumerate()
                    .map(|(i, body)| {
                        let mut attributes = vec![
                            (ATTR_KIND, kind.to_owned()),
                            (ATTR_REQUEST_ID, request_id.to_owned()),
                        ];
                        if let Some(signature) = signature {
                            attributes.push((
                                ATTR_SIGNATURE,
                                String::from_utf8_lossy(signature).into_owned(),
                            ));
                        }
                        if parts > 1 {
                            attributes.push((ATTR_PART, format!("{}/{parts}", i + 1)));
                        }
                        OutgoingMessage {
                            body: body.into_owned(),
                            attributes,
                        }
                    })
                    .collect();
                self.queue.send_all(messages).await?;
                info!(
                    kind,
                    parts,
                    statuses = counts.statuses,
                    inbound = counts.inbound,
                    template_events = counts.template,
                    other_events = counts.other,
                    "webhook queued"
                );
                Ok(if kind == "dashboard_test" {
                    Accepted::DashboardTest
                } else {
                    Accepted::Queued { parts, counts }
                })
            }
            Plan::Park { reason } => {
                let messages =
                    parked_messages(body, reason, request_id, self.limits.max_message_bytes);
                let parts = messages.len();
                self.dead_letters.send_all(messages).await?;
                warn!(
                    reason,
                    parts, "verified body parked on the dead-letter queue"
                );
                Ok(Accepted::Parked { reason, parts })
            }
        }
    }
}

/// A parked body as dead-letter messages: text when SQS can carry it as is, base64 otherwise,
/// cut into parts when larger than one message.
pub fn parked_messages(
    body: &[u8],
    reason: &'static str,
    request_id: &str,
    max_message_bytes: usize,
) -> Vec<OutgoingMessage> {
    let (encoding, text) = match std::str::from_utf8(body) {
        Ok(text) if text.chars().all(sqs_allows) => ("text", Cow::Borrowed(text)),
        _ => (
            "base64",
            Cow::Owned(base64::engine::general_purpose::STANDARD.encode(body)),
        ),
    };
    let budget = max_message_bytes.saturating_sub(ATTRIBUTE_ROOM).max(4);
    let mut chunks = Vec::new();
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let mut end = budget.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        chunks.push(chunk);
        rest = tail;
    }
    if chunks.is_empty() {
        chunks.push("");
    }
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut attributes = vec![
                (ATTR_PARKED_REASON, reason.to_owned()),
                (ATTR_ENCODING, encoding.to_owned()),
                (ATTR_REQUEST_ID, request_id.to_owned()),
            ];
            if parts > 1 {
                attributes.push((ATTR_PART, format!("{}/{parts}", i + 1)));
            }
            OutgoingMessage {
                // SQS refuses an empty body.
                body: if chunk.is_empty() {
                    "\"\"".to_owned()
                } else {
                    chunk.to_owned()
                },
                attributes,
            }
        })
        .collect()
}

/// Characters SQS accepts in a message body.
fn sqs_allows(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_SENT: &[u8] = include_bytes!("../../events/meta/status_sent.json");
    const BATCH_1000: &[u8] = include_bytes!("../../events/meta/status_batch_1000.json");

    #[test]
    fn a_small_body_is_forwarded_byte_for_byte() {
        let Plan::Forward {
            bodies,
            counts,
            kind,
        } = plan(STATUS_SENT, 256 * 1024)
        else {
            panic!("expected forward");
        };
        assert_eq!(kind, "notification");
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0].as_bytes(), STATUS_SENT);
        assert_eq!(counts.statuses, 1);
    }

    #[test]
    fn a_large_body_is_split_and_counted_once() {
        let Plan::Forward { bodies, counts, .. } = plan(BATCH_1000, 256 * 1024) else {
            panic!("expected forward");
        };
        assert!(bodies.len() >= 2);
        assert!(bodies
            .iter()
            .all(|b| b.len() <= 256 * 1024 - ATTRIBUTE_ROOM));
        assert_eq!(counts.statuses, 1000);
    }

    #[test]
    fn unreadable_bodies_are_parked_with_a_reason() {
        let cases: [(&[u8], &str); 5] = [
            (
                include_bytes!("../../events/meta/bad/not_json.txt"),
                "invalid_json",
            ),
            (
                include_bytes!("../../events/meta/bad/truncated.json"),
                "invalid_json",
            ),
            (
                include_bytes!("../../events/meta/bad/wrong_object.json"),
                "other_object",
            ),
            (b"\xff\xfe not utf-8", "not_utf8"),
            (b"{\"hello\":1}", "unknown_shape"),
        ];
        for (body, reason) in cases {
            assert_eq!(plan(body, 256 * 1024), Plan::Park { reason });
        }
    }

    #[test]
    fn parked_bodies_are_cut_into_parts_that_fit() {
        let body = vec![b'a'; 10_000];
        let messages = parked_messages(&body, "invalid_json", "req-1", 4096);
        assert_eq!(messages.len(), 3);
        assert!(messages
            .iter()
            .all(|m| m.body.len() <= 4096 - ATTRIBUTE_ROOM));
        let joined: String = messages.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(joined.as_bytes(), &body[..]);
        assert!(messages[2]
            .attributes
            .contains(&(ATTR_PART, "3/3".to_owned())));
    }

    #[test]
    fn bodies_sqs_cannot_carry_are_parked_as_base64() {
        let messages = parked_messages(b"\x00\x01binary", "not_utf8", "req-1", 4096);
        assert!(messages[0]
            .attributes
            .contains(&(ATTR_ENCODING, "base64".to_owned())));
        assert_eq!(messages[0].body, "AAFiaW5hcnk=");
    }
}
