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

/// A running proxy.
pub struct FaultProxy {
    pub endpoint: String,
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let throttled = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(BTreeMap::new()));
        let (counter, seen) = (throttled.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, rule, counter, seen) = (
                    upstream.clone(),
                    rule.clone(),
                    counter.clone(),
                    seen.clone(),
                );
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, &rule, &counter, &seen).await;
                });
            }
        });
        Self {
            endpoint,
            throttled,
            requests,
            task,
        }
    }
}

/// Reads one HTTP/1.1 message (headers, then a Content-Length body) from `stream`.
async fn read_message(stream: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
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

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    rule: &ThrottleRule,
    throttled: &AtomicUsize,
    seen: &Mutex<BTreeMap<String, usize>>,
) -> std::io::Result<()> {
    while let Some((head, raw)) = read_message(&mut client).await? {
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
