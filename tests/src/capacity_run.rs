//! The capacity workload (`make capacity`, and the standard workload test): campaigns sent,
//! registered and reported on, through the real webhook, processor and counters code against
//! the local endpoint, with every request recorded by [`crate::recorder`] for the capacity
//! model (`tools/capacity`).
//!
//! The pipeline's parts run in this process, each with SDK clients of its own through a
//! recording proxy labelled with the function's name, so each request is counted for the
//! function that sends it:
//! - `api`: the sender registers each message as it sends it (`POST /messages`);
//! - `webhook`: each status arrives as Meta mostly sends it, one per signed body, verified and
//!   queued by the webhook's `Ingest`;
//! - `mapping`: the SQS event source mapping receives 10 bodies at a time and deletes them;
//! - `processor`: the processor applies each batch the mapping gathers (up to 100);
//! - `counters`: the counters fold reads the table's stream in pages of `run_records` records
//!   (Lambda's batches; on AWS the one-second batching window makes runs of about 100 of a busy
//!   campaign's changes, the emulator about 10) every `fold_every` steps.
//!
//! The workload advances in steps of 10 messages per campaign stream: a step registers 10 new
//! messages and carries their `sent`, the previous 10's `delivered` (or `failed`, for
//! `failed_percent` of them) and the 10 before's `read`. The clock every request is stamped
//! with is the number of statuses queued before its step, so a replay at a rate of statuses
//! per second puts it in the right second.

use crate::recorder::{Clock, Recorder};
use crate::world::World;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use capacity::report::Tally;
use futures::stream::{self, StreamExt};
use secrecy::SecretString;
use shared::config::WebhookConfig;
use shared::ingest::Limits;
use shared::meta::signature::sign;
use shared::process::{Processor, QueuedRecord};
use shared::store::{NewCampaign, PhoneRoute, Registration, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests the sender and Meta have in flight at once.
const IN_FLIGHT: usize = 16;
/// Processor invocations at once (Lambda runs a batch per invocation).
const PROCESSOR_INVOCATIONS: usize = 4;
/// Bodies per processor invocation: `BatchSize` of the processor's SQS event in
/// infra/template.yaml. With its one-second window a busy queue fills each batch.
const PROCESSOR_BATCH: usize = 100;

/// A campaign stream of the workload: its tenant, number and size.
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub tenant: &'static str,
    pub waba: &'static str,
    pub phone: &'static str,
    pub template_id: u64,
    pub messages: usize,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct Workload {
    pub campaigns: Vec<CampaignPlan>,
    /// Percent of messages that fail instead of being delivered and read.
    pub failed_percent: u64,
    /// Stream records per counters batch.
    pub run_records: i32,
    /// Steps between two reads of the stream by the counters fold.
    pub fold_every: usize,
}

const ACME: (&str, &str, &str, u64) = (
    "acme",
    "102290129340398",
    "106540352242922",
    1407680283588702,
);
const GLOBEX: (&str, &str, &str, u64) = (
    "globex",
    "204470395512871",
    "209860513372014",
    2047703955128711,
);
/// A third tenant, routed by the workload itself (the fixture world has two).
const INITECH: (&str, &str, &str, u64) = (
    "initech",
    "309870000000000",
    "309870000000001",
    3098700000000011,
);

fn plan(tenant: (&'static str, &'static str, &'static str, u64), messages: usize) -> CampaignPlan {
    CampaignPlan {
        tenant: tenant.0,
        waba: tenant.1,
        phone: tenant.2,
        template_id: tenant.3,
        messages,
    }
}

impl Workload {
    /// One campaign of `big` messages on acme's number, and `small` campaigns of
    /// `small_messages` across the three tenants, each message sent, then delivered and read
    /// (3 % failed instead).
    pub fn campaigns(big: usize, small: usize, small_messages: usize) -> Self {
        let tenants = [ACME, GLOBEX, INITECH];
        let mut campaigns = vec![plan(ACME, big)];
        campaigns.extend((0..small).map(|i| plan(tenants[i % 3], small_messages)));
        Self {
            campaigns,
            failed_percent: 3,
            run_records: 100,
            fold_every: 4,
        }
    }

    /// The issue's workload: a 100,000-message campaign and 50 small ones (300 each).
    pub fn standard() -> Self {
        Self::campaigns(100_000, 50, 300)
    }

    /// Statuses the workload sends.
    pub fn statuses(&self) -> u64 {
        self.campaigns
            .iter()
            .map(|c| {
                let failed = failed_among(c.messages, self.failed_percent);
                // sent + delivered + read, or sent + failed
                (3 * (c.messages - failed) + 2 * failed) as u64
            })
            .sum()
    }
}

/// Messages `0..messages` that fail: every one whose index hits the percentage.
fn fails(index: usize, percent: u64) -> bool {
    (index as u64 * 7919 % 100) < percent
}

fn failed_among(messages: usize, percent: u64) -> usize {
    (0..messages).filter(|i| fails(*i, percent)).count()
}

/// What a run recorded and measured.
pub struct Recording {
    pub statuses: u64,
    pub registrations: u64,
    pub bodies: u64,
    /// Their bytes, as queued (what the archive keeps).
    pub body_bytes: u64,
    /// Wall time of webhook invocations (a sample, one at a time), and of each processor batch
    /// and counters page (in this process, against the local endpoint through the recording
    /// proxies).
    pub webhook_ms: Vec<f64>,
    pub processor_ms: Vec<f64>,
    pub counters_ms: Vec<f64>,
    /// Bytes of log lines the functions would write: their EMF metric lines, and their tracing
    /// lines at INFO as JSON when the process logs through [`CountingLog`] (SystemLogLevel WARN
    /// drops Lambda's own START and REPORT lines).
    pub log_bytes: u64,
    /// Custom metrics (name and function) the EMF lines define: each is billed a month.
    pub metrics: std::collections::BTreeSet<String>,
    pub seconds: f64,
    /// The table the run wrote, and its campaigns (the big one first).
    pub table: String,
    pub campaigns: Vec<(String, String)>,
}

impl Recording {
    /// Counts one EMF line the functions would print.
    fn log_metric_line(&mut self, line: Option<String>) {
        if let Some(line) = &line {
            self.log_bytes += line.len() as u64 + 1;
        }
        self.metric_names(line);
    }

    /// Notes the custom metrics an EMF line defines.
    fn metric_names(&mut self, line: Option<String>) {
        let Some(line) = line else { return };
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let function = parsed["Function"].as_str().unwrap_or_default().to_owned();
        for directive in parsed["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for m in directive["Metrics"].as_array().into_iter().flatten() {
                if let Some(name) = m["Name"].as_str() {
                    self.metrics.insert(format!("{function}/{name}"));
                }
            }
        }
    }
}

/// One status of the plan.
struct Planned {
    campaign: usize,
    message: usize,
    status: &'static str,
}

/// A wamid as long as Meta's (58 characters: `wamid.` and 52 of base64), since it is part of
/// the message item's key and of each feed item, and so of their sizes.
fn wamid(run: &str, campaign: usize, message: usize) -> String {
    format!(
        "wamid.HBgL{:A>48}",
        format!("cap{run}c{campaign}m{message}")
    )
}

fn body(c: &CampaignPlan, wamid: &str, status: &str, timestamp: u64) -> String {
    let failure = if status == "failed" {
        r#","errors":[{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement.","message":"This message was not delivered to maintain healthy ecosystem engagement.","error_data":{"details":"In order to maintain a healthy ecosystem engagement, the message failed to be delivered."}}]"#
    } else {
        ""
    };
    let pricing = if status == "sent" {
        r#","conversation":{"id":"b1e2a3c4d5e6f708","expiration_timestamp":"1732696400","origin":{"type":"marketing"}},"pricing":{"billable":true,"pricing_model":"PMP","category":"marketing","type":"regular"}"#
    } else {
        ""
    };
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{waba}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"{phone}"}},"statuses":[{{"id":"{wamid}","status":"{status}","timestamp":"{timestamp}","recipient_id":"15551230001"{pricing}{failure}}}]}},"field":"messages"}}]}}]}}"#,
        waba = c.waba,
        phone = c.phone,
    )
}

/// The webhook's POST event (function URL / HTTP API payload 2.0) carrying `text`, signed.
fn webhook_post(template: &serde_json::Value, text: &str) -> lambda_http::Request {
    let mut event = template.clone();
    if let Some(headers) = event["headers"].as_object_mut() {
        headers.remove("x-hub-signature");
        headers.insert("content-length".into(), text.len().to_string().into());
        headers.insert(
            "x-hub-signature-256".into(),
            sign(crate::FIXTURE_APP_SECRET, text.as_bytes()).into(),
        );
    }
    event["body"] = text.into();
    lambda_http::request::from_str(&event.to_string()).expect("a POST event")
}

/// Bytes the functions' log lines (tracing, JSON as on Lambda) came to, in this process.
pub static LOG_BYTES: AtomicU64 = AtomicU64::new(0);

/// Where [`LOG_BYTES`] counts: every line the functions' code logs, written nowhere.
#[derive(Clone, Copy)]
pub struct CountingLog;

impl std::io::Write for CountingLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG_BYTES.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes written to this process's stdout, when it is a file (0 otherwise).
fn stdout_bytes() -> u64 {
    std::fs::metadata("/proc/self/fd/1")
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map_or(0, |m| m.len())
}

/// What the webhook accepted for one status body.
fn queued_one_status() -> shared::ingest::Accepted {
    shared::ingest::Accepted::Queued {
        parts: 1,
        counts: shared::meta::events::EventCounts {
            statuses: 1,
            ..Default::default()
        },
    }
}

/// A DynamoDB client whose requests go through `recorder` (an explicit endpoint: the shared
/// configuration's would lose to `AWS_ENDPOINT_URL` in the environment).
pub fn dynamodb_through(
    aws: &aws_config::SdkConfig,
    recorder: &Recorder,
) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(aws)
            .endpoint_url(&recorder.endpoint)
            .build(),
    )
}

/// An SQS client whose requests go through `recorder`.
fn sqs_through(aws: &aws_config::SdkConfig, recorder: &Recorder) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(aws)
            .endpoint_url(&recorder.endpoint)
            .build(),
    )
}

/// Runs the workload on a table of its own (with the deployed table's indexes), handing every
/// request recorded to `tally` as it goes.
pub async fn run(
    aws: &aws_config::SdkConfig,
    workload: &Workload,
    tally: &mut Tally<'_>,
) -> Recording {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let clock: Clock = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let recorder = |name: &'static str| Recorder::start(&endpoint, name, clock.clone());
    let (api_rec, webhook_rec, mapping_rec, processor_rec, counters_rec) = (
        recorder("api").await,
        recorder("webhook").await,
        recorder("mapping").await,
        recorder("processor").await,
        recorder("counters").await,
    );
    let plain = aws_sdk_dynamodb::Client::new(aws);
    let table = crate::create_test_table(&plain).await;
    let setup = Store::new(plain, &table);
    World::load().seed(&setup, true).await;
    setup
        .put_waba_route(INITECH.1, INITECH.0)
        .await
        .expect("route initech's WABA");
    setup
        .put_phone_route(
            INITECH.2,
            &PhoneRoute {
                tenant_id: INITECH.0.into(),
                waba_id: INITECH.1.into(),
                display_phone_number: None,
            },
        )
        .await
        .expect("route initech's number");
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let campaign_ids: Vec<String> = (0..workload.campaigns.len())
        .map(|i| format!("cap-{run_id}-{i}"))
        .collect();
    for (c, id) in workload.campaigns.iter().zip(&campaign_ids) {
        setup
            .create_campaign(
                c.tenant,
                &NewCampaign {
                    campaign_id: id.clone(),
                    name: None,
                    template_id: c.template_id,
                    phone_number_id: c.phone.into(),
                    waba_id: Some(c.waba.into()),
                    status: "ACTIVE".into(),
                },
            )
            .await
            .expect("create campaign");
    }

    let queues = crate::TestQueues::create(aws_sdk_sqs::Client::new(aws)).await;
    let webhook_sqs = sqs_through(aws, &webhook_rec);
    let ingest = webhook::build(
        &WebhookConfig {
            app_secrets: vec![SecretString::from(crate::FIXTURE_APP_SECRET)],
            verify_token: crate::FIXTURE_VERIFY_TOKEN.into(),
            queue_url: queues.queue_url.clone(),
            dead_letter_queue_url: queues.dead_letter_url.clone(),
            limits: Limits::default(),
        },
        webhook_sqs,
    )
    .expect("a secret is configured");
    let post_template: serde_json::Value =
        serde_json::from_slice(&crate::fixture("lambda/apigw_v2_post_status_sent.json"))
            .expect("the POST event fixture");
    let mapping = sqs_through(aws, &mapping_rec);
    let processor = Processor::new(
        Store::new(dynamodb_through(aws, &processor_rec), &table),
        shared::queue::Queue::new(
            aws_sdk_sqs::Client::new(aws),
            &queues.dead_letter_url,
            Limits::default().max_message_bytes,
        ),
        shared::process::DEFAULT_CONCURRENCY,
    );
    let api = Store::new(dynamodb_through(aws, &api_rec), &table);
    let counter = crate::counting::StreamCounter::new(
        aws,
        &table,
        Store::new(dynamodb_through(aws, &counters_rec), &table),
    )
    .await
    .with_page(workload.run_records);

    let recorders = [
        &api_rec,
        &webhook_rec,
        &mapping_rec,
        &processor_rec,
        &counters_rec,
    ];
    // Setting up recorded nothing worth counting.
    for r in recorders {
        r.take();
    }
    let logged_before = LOG_BYTES.load(Ordering::Relaxed);
    let printed_before = stdout_bytes();
    let started = Instant::now();
    let mut out = Recording {
        statuses: 0,
        registrations: 0,
        bodies: 0,
        body_bytes: 0,
        webhook_ms: Vec::new(),
        processor_ms: Vec::new(),
        counters_ms: Vec::new(),
        log_bytes: 0,
        metrics: Default::default(),
        seconds: 0.0,
        table: table.clone(),
        campaigns: workload
            .campaigns
            .iter()
            .zip(&campaign_ids)
            .map(|(c, id)| (c.tenant.to_owned(), id.clone()))
            .collect(),
    };
    // Each campaign is sent 10 messages a step; a campaign's stream runs `messages / 10 + 2`
    // steps (the last two deliver and read what the last sends).
    // The small campaigns start one after the other while the big one runs, as a business's
    // campaigns do (all at once, 50 campaigns would share every run of the stream).
    let span = |c: &CampaignPlan| c.messages.div_ceil(10) + 2;
    let big_span = workload.campaigns.first().map_or(0, span);
    let small = workload.campaigns.len().saturating_sub(1);
    let small_span = workload.campaigns.get(1).map_or(0, span);
    let spacing = big_span.saturating_sub(small_span) / small.max(1);
    let starts: Vec<usize> = (0..workload.campaigns.len())
        .map(|i| if i == 0 { 0 } else { (i - 1) * spacing })
        .collect();
    let steps = workload
        .campaigns
        .iter()
        .zip(&starts)
        .map(|(c, start)| start + span(c))
        .max()
        .unwrap_or(0);
    let mut folded_up_to = 0;
    for step in 0..steps {
        let mut registrations = Vec::new();
        let mut planned = Vec::new();
        for (ci, c) in workload.campaigns.iter().enumerate() {
            let Some(step) = step.checked_sub(starts[ci]) else {
                continue;
            };
            let chunk = |k: usize| (k * 10)..((k * 10 + 10).min(c.messages));
            if step * 10 < c.messages {
                for m in chunk(step) {
                    registrations.push((ci, m));
                    planned.push(Planned {
                        campaign: ci,
                        message: m,
                        status: "sent",
                    });
                }
            }
            if step >= 1 && (step - 1) * 10 < c.messages {
                for m in chunk(step - 1) {
                    let status = if fails(m, workload.failed_percent) {
                        "failed"
                    } else {
                        "delivered"
                    };
                    planned.push(Planned {
                        campaign: ci,
                        message: m,
                        status,
                    });
                }
            }
            if step >= 2 && (step - 2) * 10 < c.messages {
                for m in chunk(step - 2).filter(|m| !fails(*m, workload.failed_percent)) {
                    planned.push(Planned {
                        campaign: ci,
                        message: m,
                        status: "read",
                    });
                }
            }
        }
        clock.store(out.statuses, Ordering::SeqCst);
        // The sender registers what it sent (the API takes up to 100 a call).
        let registered = stream::iter(registrations.iter().map(|(ci, m)| {
            let c = &workload.campaigns[*ci];
            let registration = Registration {
                wamid: wamid(&run_id, *ci, *m),
                campaign_id: campaign_ids[*ci].clone(),
                recipient_id: Some("15551230001".into()),
                template_id: Some(c.template_id),
                expires_at: None,
            };
            let api = &api;
            async move { api.register_message(c.tenant, &registration).await }
        }))
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
        for r in registered {
            r.expect("register a message");
        }
        out.registrations += registrations.len() as u64;
        // Meta posts each status in a body of its own; the webhook function handles it.
        let body_bytes = &mut out.body_bytes;
        let accepted = stream::iter(planned.iter().map(|p| {
            let c = &workload.campaigns[p.campaign];
            let text = body(
                c,
                &wamid(&run_id, p.campaign, p.message),
                p.status,
                1_732_610_000 + step as u64,
            );
            *body_bytes += text.len() as u64;
            let request = webhook_post(&post_template, &text);
            let ingest = &ingest;
            async move {
                let t = Instant::now();
                let response = webhook::handle(ingest, request).await;
                (t.elapsed().as_secs_f64() * 1000.0, response)
            }
        }))
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
        for (ms, response) in accepted {
            out.webhook_ms.push(ms);
            let status = response.map(|r| r.status().as_u16()).unwrap_or_default();
            assert_eq!(status, 200, "the webhook queues the body");
            // The EMF line the webhook printed for it (to stdout, counted at the end): its
            // metrics, for the custom metrics it defines.
            out.metric_names(webhook::metrics_of(&Ok(queued_one_status())).to_emf(0));
        }
        out.bodies += planned.len() as u64;
        out.statuses += planned.len() as u64;
        // The mapping receives batches of 10 until the queue is empty, the processor applies
        // them (several invocations at once), the mapping deletes them, 10 a request.
        let mut batches = Vec::new();
        loop {
            let received = mapping
                .receive_message()
                .queue_url(&queues.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            batches.push(messages);
        }
        // The mapping gathers receives into invocations of up to the function's batch size.
        let invocations: Vec<Vec<&aws_sdk_sqs::types::Message>> = batches
            .chunks(PROCESSOR_BATCH / 10)
            .map(|receives| receives.iter().flatten().collect())
            .collect();
        let processed = stream::iter(invocations.iter().map(|messages| {
            let records: Vec<QueuedRecord> = messages
                .iter()
                .map(|m| QueuedRecord {
                    message_id: m.message_id.clone().unwrap_or_default(),
                    body: m.body.clone().unwrap_or_default(),
                })
                .collect();
            let processor = &processor;
            async move {
                let t = Instant::now();
                let outcome = processor.process(&records).await;
                (t.elapsed().as_secs_f64() * 1000.0, outcome)
            }
        }))
        .buffer_unordered(PROCESSOR_INVOCATIONS)
        .collect::<Vec<_>>()
        .await;
        for (ms, outcome) in processed {
            out.processor_ms.push(ms);
            assert!(outcome.failed.is_empty(), "the processor failed records");
            out.log_metric_line(outcome.metrics(shared::store::now()).to_emf(0));
        }
        for messages in &batches {
            let entries = messages
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                        .build()
                        .expect("entry")
                })
                .collect();
            mapping
                .delete_message_batch()
                .queue_url(&queues.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("delete");
        }
        if step % 100 == 99 {
            eprintln!(
                "capacity: step {}/{steps}, {} statuses, {:.0} s",
                step + 1,
                out.statuses,
                started.elapsed().as_secs_f64()
            );
        }
        if (step + 1) % workload.fold_every == 0 || step + 1 == steps {
            fold(
                &counter,
                workload.run_records,
                &mut out,
                &clock,
                folded_up_to,
            )
            .await;
            folded_up_to = out.statuses;
        }
        drain(&recorders, tally);
    }
    fold(
        &counter,
        workload.run_records,
        &mut out,
        &clock,
        folded_up_to,
    )
    .await;
    drain(&recorders, tally);
    // The webhook's duration as Lambda sees it, one invocation at a time (the run above had
    // 16 in flight in one process, whose waits are not an invocation's): 200 bodies again,
    // timed one by one; what they send is not counted, and their queue is emptied.
    out.webhook_ms.clear();
    let (tenant_plan, first) = (&workload.campaigns[0], 0);
    for m in 0..200.min(tenant_plan.messages) {
        let text = body(
            tenant_plan,
            &wamid(&run_id, first, m),
            "sent",
            1_732_610_000,
        );
        let request = webhook_post(&post_template, &text);
        let t = Instant::now();
        let response = webhook::handle(&ingest, request).await;
        out.webhook_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(response.is_ok_and(|r| r.status() == 200));
    }
    for r in recorders {
        r.take();
    }
    queues.drain(&queues.queue_url).await;
    out.seconds = started.elapsed().as_secs_f64();
    out.log_bytes += LOG_BYTES.load(Ordering::Relaxed) - logged_before;
    // What the webhook printed (its EMF lines) went to this process's stdout: a file, when
    // `make capacity` runs it.
    out.log_bytes += stdout_bytes().saturating_sub(printed_before);

    // The counters the fold kept must be the workload's: a model of a wrong run is no model.
    for ((c, id), _) in workload.campaigns.iter().zip(&campaign_ids).zip(0..) {
        let record = setup
            .campaign(c.tenant, id)
            .await
            .expect("read campaign")
            .expect("campaign");
        let failed = failed_among(c.messages, workload.failed_percent) as i64;
        let delivered = c.messages as i64 - failed;
        assert_eq!(
            (
                record.reached_sent,
                record.reached_delivered,
                record.reached_read,
                record.reached_failed
            ),
            (delivered, delivered, delivered, failed),
            "campaign {id} counted"
        );
    }
    out
}

/// Hands what the recorders hold to the tally, in the order of their positions.
fn drain(recorders: &[&Recorder], tally: &mut Tally<'_>) {
    let mut requests: Vec<_> = recorders.iter().flat_map(|r| r.take()).collect();
    requests.sort_by_key(|r| r.position);
    for r in &requests {
        tally.add(r);
    }
}

/// Folds what the stream holds, page by page, timing each page.
async fn fold(
    counter: &crate::counting::StreamCounter,
    run_records: i32,
    out: &mut Recording,
    clock: &Clock,
    from: u64,
) {
    // The deployed mapping filters before it batches (`FilterCriteria`: message items only),
    // so a batch holds `run_records` message changes; the stream read here also carries the
    // ledger, campaign and feed items, which the filter would have dropped. Re-cut into
    // batches of message changes, in stream order.
    let changes: Vec<_> = counter.read().await.into_iter().flatten().collect();
    let pages: Vec<_> = changes
        .chunks(run_records.max(1) as usize)
        .map(<[_]>::to_vec)
        .collect();
    // The stream mapping folds records as they come: the pages of this read are spread over
    // the statuses they cover, not all at the position of the read.
    let n = pages.len() as u64;
    for (i, page) in pages.into_iter().enumerate() {
        clock.store(
            from + out.statuses.saturating_sub(from) * (i as u64 + 1) / n.max(1),
            Ordering::SeqCst,
        );
        let t = Instant::now();
        let outcome = loop {
            match counter.fold().apply(&page).await {
                Ok(o) => break o,
                Err(e) => {
                    eprintln!("fold failed, folded again: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        out.counters_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        // The counters function's metric line and its one INFO line per batch.
        out.log_metric_line(
            shared::metrics::Metrics::new("counters")
                .count("ChangesCounted", outcome.changes)
                .count("RunsWritten", outcome.runs_applied)
                .count("RunsFoundWritten", outcome.runs_found_applied)
                .count("CampaignUpdates", outcome.campaign_updates)
                .to_emf(0),
        );
        // Its INFO line per batch ("stream batch counted" and six counts), which the counters
        // function logs outside the fold.
        out.log_bytes += 230;
    }
}

/// The requests of reading the first page (50) of a campaign's messages, as
/// `GET /campaigns/{id}/messages` reads it, optionally only those in `delivery`.
pub async fn listing_page(
    aws: &aws_config::SdkConfig,
    recording: &Recording,
    delivery: Option<&str>,
) -> Vec<capacity::record::Request> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let recorder = Recorder::start(&endpoint, "api", Arc::default()).await;
    let store = Store::new(dynamodb_through(aws, &recorder), &recording.table);
    let (tenant, campaign) = &recording.campaigns[0];
    let (items, _) = store
        .campaign_messages(tenant, campaign, delivery, 50, Default::default())
        .await
        .expect("a page of messages");
    assert!(!items.is_empty(), "the campaign has messages");
    recorder.take()
}
