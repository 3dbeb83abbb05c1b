//! Server-Sent Events framing (`text/event-stream`), and where a stream resumes.

use super::Message;

/// How long a browser waits before reconnecting after the stream ends, in milliseconds.
pub const RETRY_MILLIS: u64 = 2000;

/// The stream's first bytes: the reconnect hint.
pub fn retry_hint() -> String {
    format!("retry: {RETRY_MILLIS}\n\n")
}

/// A comment line: keeps proxies and the browser from timing the connection out.
pub fn heartbeat() -> &'static str {
    ": heartbeat\n\n"
}

/// One event: `id:` is the feed item's sort key, so `Last-Event-ID` resumes right after it.
/// The data is one line of compact JSON (JSON escapes newlines inside strings).
pub fn event(message: &Message) -> Option<String> {
    let data = message.to_frame()?;
    let mut out = String::with_capacity(data.len() + 64);
    if let Some(id) = &message.id {
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    out.push_str("event: ");
    out.push_str(message.kind.as_str());
    out.push_str("\ndata: ");
    out.push_str(&data);
    out.push_str("\n\n");
    Some(out)
}

/// A `Last-Event-ID` (or `?last_event_id=`) we accept: a feed sort key, a UUID. Anything else
/// is ignored and the stream starts from now.
pub fn valid_event_id(id: &str) -> bool {
    uuid::Uuid::try_parse(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::{Kind, VERSION};

    #[test]
    fn an_event_has_its_id_type_and_one_line_of_data() {
        let m = Message {
            v: VERSION,
            kind: Kind::TemplateUpdate,
            id: Some("01938a7e-0000-7000-8000-000000000001".into()),
            campaign_id: None,
            data: serde_json::json!({"template_id": 1, "note": "two\nlines"}),
        };
        let e = event(&m).unwrap();
        assert!(e.starts_with(
            "id: 01938a7e-0000-7000-8000-000000000001\nevent: template_update\ndata: {"
        ));
        assert!(e.ends_with("}\n\n"));
        assert_eq!(e.matches('\n').count(), 4, "data stays on one line: {e}");
        assert!(valid_event_id("01938a7e-0000-7000-8000-000000000001"));
        assert!(!valid_event_id("1\nid: 2"));
        assert!(retry_hint().starts_with("retry: "));
    }
}
