//! A small HTTP proxy in front of the local endpoint that answers chosen requests the way
//! DynamoDB answers when it throttles, and forwards everything else. The SDK client under test is
//! the real one: it parses a real throttling response and runs its real retry policy.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Requests whose `x-amz-target` ends with one of `operations` and whose body contains
/// `marker` are throttled.
#[derive(Clone)]
pub struct ThrottleRule {
    pub operations: Vec<&'static str>,
    pub marker: String,
}

/// Random faults on a share of every request (DynamoDB and SQS alike), drawn from a seeded
/// generator so a run can be repeated.
#[derive(Clone, Copy, Debug)]
pub struct FaultPlan {
    /// Percent of requests answered with a fault (0 to 100).
    pub percent: u64,
    pub seed: u64,
    /// How long a "timeout" fault holds the answer: longer than the client's attempt timeout.
    /// The request is still forwarded, so the write may have happened: the ambiguous outcome a
    /// real timeout has.
    pub hold: std::time::Duration,
}

/// The faults a [`FaultPlan`] injected, by kind.
#[derive(Default, Debug)]
pub struct FaultCounts {
    pub throttled: AtomicUsize,
    pub server_errors: AtomicUsize,
    pub timeouts: AtomicUsize,
    pub requests: AtomicUsize,
}

/// A running proxy.
pub struct FaultProxy {
    pub endpoint: String,
    /// Faults injected by a [`FaultPlan`].
    pub faults: Arc<FaultCounts>,
    pub throttled: Arc<AtomicUsize>,
    /// Requests forwarded, by operation (`x-amz-target` without the service prefix).
    pub requests: Arc<Mutex<BTreeMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free loopback port.
    pub async fn start(upstream: &str, rule: ThrottleRule) -> Self {
        Self::start_with(upstream, rule, None).await
    }

    /// Starts a proxy that answers `plan.percent` % of all requests with a throttle, a 500 or a
    /// timeout (a third each), and forwards the rest.
    pub async fn start_random(upstream: &str, plan: FaultPlan) -> Self {
        let rule = ThrottleRule {
            operations: Vec::new(),
            marker: String::new(),
        };
        Self::start_with(upstream, rule, Some(plan)).await
    }

    async fn start_with(upstream: &str, rule: ThrottleRule, plan: Option<FaultPlan>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let throttled = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(BTreeMap::new()));
        let faults = Arc::new(FaultCounts::default());
        let (counter, seen, injected) = (throttled.clone(), requests.clone(), faults.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, rule, counter, seen, injected) = (
                    upstream.clone(),
                    rule.clone(),
                    counter.clone(),
                    seen.clone(),
                    injected.clone(),
                );
                tokio::spawn(async move {
                    let faults = plan.map(|p| (p, &*injected));
                    let _ = serve(client, &upstream, &rule, &counter, &seen, faults).await;
                });
            }
        });
        Self {
            endpoint,
            faults,
            throttled,
            requests,
            task,
        }
    }
}

/// Reads one HTTP/1.1 message (headers, then a Content-Length body) from `stream`.
pub(crate) async fn read_message(
    stream: &mut TcpStream,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, buf)))
}

/// splitmix64: a well-mixed value from a counter and a seed.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn answer(status: &str, payload: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fault-proxy\r\ncontent-length: {}\r\n\r\n{payload}",
        payload.len()
    )
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    rule: &ThrottleRule,
    throttled: &AtomicUsize,
    seen: &Mutex<BTreeMap<String, usize>>,
    plan: Option<(FaultPlan, &FaultCounts)>,
) -> std::io::Result<()> {
    while let Some((head, raw)) = read_message(&mut client).await? {
        if let Some((plan, counts)) = plan {
            let n = counts.requests.fetch_add(1, Ordering::SeqCst) as u64;
            let draw = mix(n ^ mix(plan.seed));
            if draw % 100 < plan.percent {
                let sqs = head
                    .to_ascii_lowercase()
                    .contains("x-amz-target: amazonsqs.");
                match (draw / 100) % 3 {
                    0 => {
                        counts.throttled.fetch_add(1, Ordering::SeqCst);
                        let payload = if sqs {
                            r#"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"#
                        } else {
                            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#
                        };
                        client
                            .write_all(answer("400 Bad Request", payload).as_bytes())
                            .await?;
                        continue;
                    }
                    1 => {
                        counts.server_errors.fetch_add(1, Ordering::SeqCst);
                        let payload = r#"{"__type":"InternalServerError","message":"fault proxy: internal error"}"#;
                        client
                            .write_all(answer("500 Internal Server Error", payload).as_bytes())
                            .await?;
                        continue;
                    }
                    _ => {
                        // Forwarded (it may take effect), answered too late: the client has
                        // timed out and retries.
                        counts.timeouts.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut up) = TcpStream::connect(upstream).await {
                            up.write_all(&raw).await?;
                            let _ = read_message(&mut up).await;
                        }
                        tokio::time::sleep(plan.hold).await;
                        return Ok(());
                    }
                }
            }
        }
        let target = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("x-amz-target")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        let body = String::from_utf8_lossy(&raw[head.len()..]);
        let hit =
            rule.operations.iter().any(|op| target.ends_with(op)) && body.contains(&rule.marker);
        if hit {
            throttled.fetch_add(1, Ordering::SeqCst);
            let payload = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fault-proxy\r\ncontent-length: {}\r\n\r\n{payload}",
                payload.len()
            );
            client.write_all(response.as_bytes()).await?;
            continue;
        }
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        *seen.lock().unwrap().entry(operation).or_default() += 1;
        let mut up = TcpStream::connect(upstream).await?;
        up.write_all(&raw).await?;
        match read_message(&mut up).await? {
            Some((_, response)) => client.write_all(&response).await?,
            None => return Ok(()),
        }
    }
    Ok(())
}
