//! One run of a fixed workload through webhook → queue → processor, with a share of every
//! DynamoDB and SQS request answered by a fault (throttle, 500, timeout) by the fault proxy.
//! `make faults` compares runs at 0, 5 and 20 %; `tests/tests/faults.rs` a short version.
//!
//! The workload: `events/gen_batch N --seed S --synthetic K` (statuses with duplicates and
//! reordering over the world's campaigns), one POST per change of 200 statuses, interleaved
//! with template events that pause and release campaigns. The run ends when the queue is empty,
//! and returns the table as a normalised snapshot (volatile attributes left out) to compare.

use crate::faults::{FaultPlan, FaultProxy};
use crate::world::World;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use secrecy::SecretString;
use shared::config::WebhookConfig;
use shared::ingest::Limits;
use shared::meta::signature::sign;
use shared::process::{Processor, QueuedRecord};
use shared::queue::Queue;
use shared::store::{Registration, Store};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The table, item by item, without what differs between equal runs (times, random ids).
pub type Snapshot = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Attributes that differ between two equally correct runs.
const VOLATILE: &[&str] = &[
    "updated_at",
    "counted_at",
    "created_at",
    "registered_at",
    "expires_at",
    "version",
    "applied_at",
];

/// What a run did.
pub struct RunReport {
    pub percent: u64,
    pub statuses: usize,
    pub bodies: usize,
    pub requests: usize,
    pub throttled: usize,
    pub server_errors: usize,
    pub timeouts: usize,
    /// POSTs the webhook answered with an error (Meta retries them; so does the run).
    pub webhook_retries: usize,
    pub batches: usize,
    pub seconds: f64,
    pub dead_letters: usize,
    /// What the counters fold did: runs written, and runs a retry found already written.
    pub folded: crate::counting::FoldTotals,
    pub snapshot: Snapshot,
    /// Campaign counters as `gen_batch --expected` says a correct processor ends.
    pub expected_campaigns: serde_json::Value,
}

fn gen_batch(args: &[String]) -> Vec<u8> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/gen_batch");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("run events/gen_batch");
    assert!(out.status.success(), "gen_batch failed");
    out.stdout
}

/// The workload's bodies: one per change of the generated batch, then template events.
fn workload(statuses: usize, seed: u64, synthetic: usize) -> (Vec<Vec<u8>>, serde_json::Value) {
    let args = |expected: bool| {
        let mut a = vec![
            statuses.to_string(),
            "--seed".into(),
            seed.to_string(),
            "--synthetic".into(),
            synthetic.to_string(),
        ];
        if expected {
            a.push("--expected".into());
        }
        a
    };
    let body: serde_json::Value =
        serde_json::from_slice(&gen_batch(&args(false))).expect("gen_batch body");
    let expected: serde_json::Value =
        serde_json::from_slice(&gen_batch(&args(true))).expect("gen_batch expected");
    let mut bodies = Vec::new();
    for entry in body["entry"].as_array().expect("entries") {
        for change in entry["changes"].as_array().expect("changes") {
            let one = serde_json::json!({
                "object": body["object"],
                "entry": [{"id": entry["id"], "changes": [change]}],
            });
            bodies.push(serde_json::to_vec(&one).expect("body"));
        }
    }
    // Template events between the status bodies: a pause, a quality drop, the release.
    let templates = [
        "template_paused_first.json",
        "quality_yellow_to_red.json",
        "template_reinstated.json",
    ];
    for (i, t) in templates.iter().enumerate() {
        let at = ((i + 1) * bodies.len() / (templates.len() + 1)).min(bodies.len());
        bodies.insert(at, crate::fixture(&format!("meta/{t}")));
    }
    (bodies, expected)
}

/// A queue whose receives come back after 1 s and go to a dead-letter queue after 10.
async fn queues(sqs: &aws_sdk_sqs::Client) -> (String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dlq = sqs
        .create_queue()
        .queue_name(format!("faults-{id}-dlq"))
        .send()
        .await
        .expect("create dlq")
        .queue_url
        .expect("dlq url");
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("dlq arn")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("arn");
    let queue = sqs
        .create_queue()
        .queue_name(format!("faults-{id}"))
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .attributes(QueueAttributeName::MaximumMessageSize, "262144")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 10}).to_string(),
        )
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    (queue, dlq)
}

pub async fn snapshot(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Snapshot {
    let mut out = Snapshot::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan the run's table");
        for item in page.items.unwrap_or_default() {
            let text = |k: &str| {
                item.get(k)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            // Only state is compared: messages, campaigns (counters, holds, status), templates,
            // routes. Logs of what arrived when (feed, template history, audit, alerts raised
            // for events that were stale on arrival) differ with arrival order by design; they
            // are counted by kind.
            let entity = text("entity");
            let pk = text("pk");
            // The counters fold's ledger is a log too: its entries are named by stream records.
            let log = matches!(entity.as_str(), "feed" | "alert" | "audit" | "counted_run")
                || pk.ends_with("#HISTORY")
                || pk.ends_with("#AUDIT")
                || pk.ends_with("#FEED");
            if log {
                let kind = if entity.is_empty() {
                    pk.rsplit('#').next().unwrap_or_default().to_owned()
                } else {
                    entity
                };
                let counts = out.entry(("LOG".into(), kind)).or_default();
                let n = counts
                    .get("count")
                    .and_then(|c| c.parse::<u64>().ok())
                    .unwrap_or(0);
                counts.insert("count".into(), (n + 1).to_string());
                continue;
            }
            // Counters are ADDed: a count that went up and back down is stored as 0, which is
            // the same count as one never written.
            let zero = |v: &AttributeValue| matches!(v, AttributeValue::N(n) if n == "0");
            let attributes = item
                .iter()
                .filter(|(k, v)| {
                    !VOLATILE.contains(&k.as_str()) && *k != "pk" && *k != "sk" && !zero(v)
                })
                .map(|(k, v)| (k.clone(), render(v)))
                .collect();
            out.insert((text("pk"), text("sk")), attributes);
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return out,
        }
    }
}

fn render(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => format!("#{n}"),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::L(l) => format!("[{}]", l.iter().map(render).collect::<Vec<_>>().join(",")),
        AttributeValue::Ss(s) => {
            let mut s = s.clone();
            s.sort();
            format!("{s:?}")
        }
        AttributeValue::M(m) => {
            let sorted: BTreeMap<_, _> = m.iter().map(|(k, v)| (k.clone(), render(v))).collect();
            format!("{sorted:?}")
        }
        other => format!("{other:?}"),
    }
}

/// Runs the workload with `percent` % of requests faulted.
pub async fn run(percent: u64, statuses: usize, synthetic: usize, seed: u64) -> RunReport {
    run_archived(percent, statuses, synthetic, seed, None).await
}

/// A fresh table with what the workload needs before its bodies: the world (routes, templates,
/// campaigns) and the synthetic messages registered. Returns the table's name.
pub async fn prepared_table(
    ddb: &aws_sdk_dynamodb::Client,
    statuses: usize,
    synthetic: usize,
    seed: u64,
) -> String {
    let table = crate::create_test_table(ddb).await;
    let store = Store::new(ddb.clone(), &table);
    let (_, expected) = workload(statuses, seed, synthetic);
    register(&store, &World::load(), &expected).await;
    table
}

async fn register(store: &Store, world: &World, expected: &serde_json::Value) {
    world.seed(store, true).await;
    for m in expected["synthetic_messages"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let campaign = world.campaign(m["campaign"].as_str().unwrap_or_default());
        store
            .register_message(
                &campaign.tenant,
                &Registration {
                    wamid: m["wamid"].as_str().unwrap_or_default().to_owned(),
                    campaign_id: campaign.id.clone(),
                    recipient_id: m["recipient"].as_str().map(str::to_owned),
                    template_id: campaign.template_id.parse().ok(),
                    expires_at: None,
                },
            )
            .await
            .expect("register a synthetic message");
    }
}

/// Runs the workload with `percent` % of requests faulted, archiving every body the processor
/// receives when `archive` is given (as the processor function does).
pub async fn run_archived(
    percent: u64,
    statuses: usize,
    synthetic: usize,
    seed: u64,
    archive: Option<&processor::archive::Archive>,
) -> RunReport {
    let direct = crate::local_aws().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let ddb_direct = aws_sdk_dynamodb::Client::new(&direct);
    let sqs_direct = aws_sdk_sqs::Client::new(&direct);
    let table = crate::create_test_table(&ddb_direct).await;
    let store_direct = Store::new(ddb_direct.clone(), &table);
    let (bodies, expected) = workload(statuses, seed, synthetic);
    register(&store_direct, &World::load(), &expected).await;
    let (queue_url, dlq_url) = queues(&sqs_direct).await;

    // Everything the pipeline does goes through the proxy, with an attempt timeout the
    // proxy's held answers exceed.
    let proxy = FaultProxy::start_random(
        &endpoint,
        FaultPlan {
            percent,
            seed,
            hold: Duration::from_millis(900),
        },
    )
    .await;
    let faulty = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy.endpoint)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(600))
                .build(),
        )
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&faulty);
    let ingest = webhook::build(
        &WebhookConfig {
            app_secrets: vec![SecretString::from(crate::FIXTURE_APP_SECRET)],
            verify_token: SecretString::from(crate::FIXTURE_VERIFY_TOKEN),
            queue_url: queue_url.clone(),
            dead_letter_queue_url: dlq_url.clone(),
            limits: Limits::default(),
        },
        sqs.clone(),
    )
    .expect("webhook");
    let faulty_store = Store::new(aws_sdk_dynamodb::Client::new(&faulty), &table);
    let processor = Processor::new(
        faulty_store.clone(),
        Queue::new(sqs.clone(), &dlq_url, 256 * 1024),
        16,
    );
    // The counters fold writes through the proxy too (its stream reads do not: Lambda's
    // poller is not ours to fault); a failed page is folded again, as Lambda retries a batch.
    let counter = crate::counting::StreamCounter::new(&direct, &table, faulty_store)
        .await
        .with_page(20);
    let mut folded = crate::counting::FoldTotals::default();

    let started = Instant::now();
    let mut webhook_retries = 0;
    for (i, body) in bodies.iter().enumerate() {
        let signature = sign(crate::FIXTURE_APP_SECRET, body);
        // Meta retries a POST that was not answered 200.
        let mut attempts = 0;
        while ingest
            .accept(Some(signature.as_bytes()), body, &format!("post-{i}"))
            .await
            .is_err()
        {
            attempts += 1;
            webhook_retries += 1;
            assert!(attempts < 50, "the webhook kept failing");
        }
    }

    // The event source mapping: receive up to 10, process, delete what succeeded; failed
    // records come back after the visibility timeout, or go to the DLQ after 10 receives.
    // Done when the queue stayed empty for longer than the visibility timeout (a failed record
    // shows up again within it). Short polls: a long poll would outlast the attempt timeout.
    let mut batches = 0;
    let mut idle_since: Option<Instant> = None;
    loop {
        let messages = match sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
            )
            .send()
            .await
        {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(_) => continue,
        };
        if messages.is_empty() {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(2500) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        idle_since = None;
        batches += 1;
        if batches % 25 == 0 {
            folded.add(&counter.catch_up().await);
        }
        let records: Vec<QueuedRecord> = messages
            .iter()
            .map(|m| QueuedRecord {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
            })
            .collect();
        let archived: Vec<shared::archive::ArchivedBody> = messages
            .iter()
            .map(|m| {
                let attribute = |name: &str| {
                    m.message_attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned)
                };
                shared::archive::ArchivedBody {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    received_at_ms: m
                        .attributes()
                        .and_then(|a| {
                            a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                        })
                        .and_then(|t| t.parse().ok())
                        .unwrap_or_default(),
                    signature: attribute(shared::ingest::ATTR_SIGNATURE),
                    part: attribute(shared::ingest::ATTR_PART),
                    body: m.body().unwrap_or_default().to_owned(),
                }
            })
            .collect();
        let outcome = match archive {
            Some(_) => {
                processor::process_and_archive(&processor, archive, &records, &archived).await
            }
            None => processor.process(&records).await,
        };
        for m in &messages {
            if outcome
                .failed
                .iter()
                .any(|f| Some(f.as_str()) == m.message_id())
            {
                continue;
            }
            // A failed delete is a redelivery later: processing it again changes nothing.
            let _ = sqs
                .delete_message()
                .queue_url(&queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await;
        }
    }
    folded.add(&counter.catch_up().await);
    let seconds = started.elapsed().as_secs_f64();
    let dead_letters = sqs_direct
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .ok()
        .and_then(|o| o.attributes)
        .and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let faults = &proxy.faults;
    RunReport {
        percent,
        statuses,
        bodies: bodies.len(),
        requests: faults.requests.load(Ordering::SeqCst),
        throttled: faults.throttled.load(Ordering::SeqCst),
        server_errors: faults.server_errors.load(Ordering::SeqCst),
        timeouts: faults.timeouts.load(Ordering::SeqCst),
        webhook_retries,
        batches,
        seconds,
        dead_letters,
        folded,
        snapshot: snapshot(&ddb_direct, &table).await,
        expected_campaigns: expected["campaigns"].clone(),
    }
}

/// Differences in state between two snapshots (log counts left out), at most `limit` of them.
pub fn differences(a: &Snapshot, b: &Snapshot, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for key in a
        .keys()
        .chain(b.keys())
        .filter(|(pk, _)| pk != "LOG")
        .collect::<std::collections::BTreeSet<_>>()
    {
        if a.get(key) != b.get(key) {
            out.push(format!("{key:?}: {:?} vs {:?}", a.get(key), b.get(key)));
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// Whether the campaign counters in a snapshot are the ones `gen_batch --expected` gives.
pub fn counters_as_expected(report: &RunReport, world: &World) -> Vec<String> {
    let mut wrong = Vec::new();
    for (campaign, want) in report.expected_campaigns.as_object().into_iter().flatten() {
        let tenant = &world.campaign(campaign).tenant;
        let key = (
            shared::store::keys::tenant(tenant),
            shared::store::keys::campaign(campaign),
        );
        let Some(item) = report.snapshot.get(&key) else {
            wrong.push(format!("{campaign}: missing"));
            continue;
        };
        for (kind, counts) in [("reached", &want["reached"]), ("current", &want["current"])] {
            for (status, n) in counts.as_object().into_iter().flatten() {
                let have = item
                    .get(&format!("{kind}_{status}"))
                    .cloned()
                    .unwrap_or_else(|| "#0".into());
                if have != format!("#{n}") {
                    wrong.push(format!("{campaign} {kind}_{status}: {have} (expected {n})"));
                }
            }
        }
    }
    wrong
}
