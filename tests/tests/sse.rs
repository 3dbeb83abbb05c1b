//! Server-Sent Events: the sse function streaming under `cargo lambda watch` (the emulator
//! buffers a RESPONSE_STREAM function URL, so it cannot stream), against the deployed stack's
//! table, fed by the real pipeline: signed webhooks -> queue -> processor -> feed. The suite
//! runs the function with a short stream (SSE_MAX_SECONDS), a 1 s heartbeat and a fast poll.

use pipeline_tests::deployed::{campaign_with_messages, post_status, store};
use serde_json::Value;
use std::time::{Duration, Instant};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through `make test` (scripts/test-suite)")
    })
}

/// One parsed event.
#[derive(Debug, Clone)]
struct Event {
    id: Option<String>,
    kind: String,
    data: Value,
}

/// An open event stream, read chunk by chunk.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
    /// Everything received, comments included.
    raw: String,
    ended: bool,
}

impl EventStream {
    async fn open(path: &str, token: &str, last_event_id: Option<&str>) -> Self {
        let mut request = reqwest::Client::new()
            .get(format!("{}{path}?token={token}", env("SSE_WATCH_URL")))
            .timeout(Duration::from_secs(60));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("open the stream");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
            raw: String::new(),
            ended: false,
        }
    }

    /// The next event (comments skipped), or `None` when the stream ends or `until` passes.
    async fn next(&mut self, until: Instant) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        kind = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).expect("data is JSON"));
                    }
                }
                if let (Some(kind), Some(data)) = (kind, data) {
                    return Some(Event { id, kind, data });
                }
                continue;
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(until.into(), self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    let text = String::from_utf8(chunk.to_vec()).expect("UTF-8");
                    self.raw.push_str(&text);
                    self.buffer.push_str(&text);
                }
                Ok(Ok(None)) => self.ended = true,
                Ok(Err(e)) => panic!("stream broke: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// The next `n` report updates about `campaign_id` (others' events skipped).
    async fn updates_of(&mut self, campaign_id: &str, n: usize) -> Vec<Event> {
        let until = Instant::now() + Duration::from_secs(20);
        let mut out = Vec::new();
        while out.len() < n {
            let Some(e) = self.next(until).await else {
                panic!(
                    "only {} of {n} updates of {campaign_id}: {out:?}",
                    out.len()
                )
            };
            if e.kind == "report_update" && e.data["campaign_id"] == campaign_id {
                out.push(e);
            }
        }
        out
    }
}

#[tokio::test]
async fn events_arrive_in_order_and_a_resumed_stream_loses_and_repeats_nothing() {
    let store = store().await;
    let (campaign_id, wamids) = campaign_with_messages(&store, "sse", 3).await;
    let acme = env("LOCAL_ID_TOKEN_ACME_VIEWER");
    let globex = env("LOCAL_ID_TOKEN_GLOBEX_VIEWER");

    let mut first = EventStream::open("/realtime/reports", &acme, None).await;
    let mut foreign = EventStream::open("/realtime/reports", &globex, None).await;
    post_status(&wamids[0], "sent").await;
    post_status(&wamids[1], "sent").await;
    let seen = first.updates_of(&campaign_id, 2).await;
    // Updates folded into one feed item share it: only its last update carries the id, so a
    // client resuming from an id has had every update of that item.
    let ids: Vec<&str> = seen.iter().filter_map(|e| e.id.as_deref()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    let last_id = seen
        .last()
        .unwrap()
        .id
        .as_deref()
        .expect("the last update has an id");
    let mut order: Vec<&str> = seen
        .iter()
        .map(|e| e.data["data"]["wamid"].as_str().unwrap())
        .collect();
    order.sort();
    assert_eq!(order, vec![wamids[0].as_str(), wamids[1].as_str()]);
    assert!(first.raw.starts_with("retry: "), "retry hint first");
    drop(first);

    // Disconnected: two more changes happen. Resuming from the last id gets exactly those.
    post_status(&wamids[2], "sent").await;
    post_status(&wamids[0], "delivered").await;
    let mut resumed = EventStream::open("/realtime/reports", &acme, Some(last_id)).await;
    let missed = resumed.updates_of(&campaign_id, 2).await;
    let got: Vec<(String, String)> = missed
        .iter()
        .map(|e| {
            (
                e.data["data"]["wamid"].as_str().unwrap().to_owned(),
                e.data["data"]["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(got.contains(&(wamids[2].clone(), "sent".into())), "{got:?}");
    assert!(
        got.contains(&(wamids[0].clone(), "delivered".into())),
        "{got:?}"
    );
    assert!(missed
        .iter()
        .filter_map(|e| e.id.as_deref())
        .all(|id| id > last_id));

    // Nothing more of this campaign (no repeat), heartbeats meanwhile, and a clean end before
    // SSE_MAX_SECONDS plus a margin.
    let max: u64 = env("SSE_MAX_SECONDS").parse().unwrap();
    let until = Instant::now() + Duration::from_secs(max + 5);
    while let Some(e) = resumed.next(until).await {
        assert!(
            !(e.kind == "report_update" && e.data["campaign_id"] == campaign_id.as_str()),
            "repeated: {e:?}"
        );
    }
    assert!(resumed.ended, "the stream ended on its own");
    assert!(resumed.raw.contains(": heartbeat\n\n"), "heartbeats");
    assert!(resumed.raw.contains("reconnect with Last-Event-ID"));

    // Another tenant's stream heard none of it.
    let until = Instant::now() + Duration::from_millis(500);
    while let Some(e) = foreign.next(until).await {
        assert_ne!(
            e.data["campaign_id"],
            campaign_id.as_str(),
            "globex heard acme"
        );
    }
}

#[tokio::test]
async fn tokens_roles_and_the_operational_endpoints() {
    let base = env("SSE_WATCH_URL");
    let http = reqwest::Client::new();
    let none = http
        .get(format!("{base}/realtime/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let bad = http
        .get(format!("{base}/realtime/templates?token=not.a.token"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    let viewer = env("LOCAL_ID_TOKEN_ACME_VIEWER");
    let admin = env("LOCAL_ID_TOKEN_ACME_ADMIN");
    let stats = http
        .get(format!("{base}/realtime/stats"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 403, "operational endpoints are for admins");

    let stats = http
        .get(format!("{base}/realtime/stats"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200);
    let body: Value = serde_json::from_str(&stats.text().await.unwrap()).unwrap();
    assert_eq!(body["tenant_id"], "acme");
    assert!(body["websocket_connections"].is_u64());

    let health = http
        .get(format!("{base}/realtime/health"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // A test event reaches the admin's own templates stream.
    let mut stream = EventStream::open("/realtime/templates", &admin, None).await;
    let sent = http
        .post(format!("{base}/realtime/test"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let until = Instant::now() + Duration::from_secs(15);
    let mut found = false;
    while let Some(e) = stream.next(until).await {
        if e.kind == "test_event" {
            found = true;
            break;
        }
    }
    assert!(found, "test event arrived");
}
