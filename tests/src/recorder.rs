//! A recording proxy in front of the local endpoint, for the capacity model (`tools/capacity`):
//! every request a client sends through it is forwarded unchanged, and written down with what
//! DynamoDB bills by. For each item a write touches: its key, its image before and after (read
//! with consistent `GetItem`s around the write, under a lock per item so concurrent writes to
//! one item cannot interleave), and whether its condition held. For each read: the sizes of what
//! came back. Other services' requests (SQS) are counted by operation.

use crate::faults::read_message;
use capacity::record::{Consistency, Read, Request, Write};
use capacity::size::item_size;
use capacity::Item;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The workload's clock: statuses handed to the pipeline so far. Every recorded request carries
/// its value when it was sent.
pub type Clock = Arc<AtomicU64>;

/// A running recording proxy.
pub struct Recorder {
    pub endpoint: String,
    requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    upstream: String,
    function: String,
    clock: Clock,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Open connections to the upstream, reused: a connection per request would run the
    /// emulator out of file descriptors under a long workload.
    idle: Mutex<Vec<TcpStream>>,
}

/// One lock per item key, shared by every recorder of the process.
fn item_lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    locks.entry(key.to_owned()).or_default().clone()
}

impl Recorder {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free loopback port; what
    /// goes through it is labelled `function`.
    pub async fn start(upstream: &str, function: &str, clock: Clock) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind recorder");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").to_owned(),
            function: function.to_owned(),
            clock,
            requests: requests.clone(),
            idle: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(client, &shared).await;
                });
            }
        });
        Self {
            endpoint,
            requests,
            task,
        }
    }

    /// The requests recorded so far, taken out.
    pub fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many requests are recorded.
    pub fn len(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Sends one request upstream on an idle connection (or a new one) and reads the answer. A
/// reused connection the upstream has closed meanwhile is replaced and the request sent again:
/// it never reached the upstream.
async fn forward(shared: &Shared, raw: &[u8]) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let reused = shared.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
    if let Some(mut up) = reused {
        if up.write_all(raw).await.is_ok() {
            if let Ok(Some(answer)) = read_message(&mut up).await {
                keep(shared, up, &answer.0);
                return Ok(Some(answer));
            }
        }
    }
    let mut up = TcpStream::connect(&shared.upstream).await?;
    up.write_all(raw).await?;
    let answer = read_message(&mut up).await?;
    if let Some((head, _)) = &answer {
        keep(shared, up, head);
    }
    Ok(answer)
}

/// Returns a connection to the idle ones, unless the upstream is closing it.
fn keep(shared: &Shared, up: TcpStream, head: &str) {
    let closing = header(head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    if !closing {
        shared
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(up);
    }
}

fn json_body(head: &str, raw: &[u8]) -> Value {
    serde_json::from_slice(&raw[head.len()..]).unwrap_or(Value::Null)
}

fn object(v: &Value) -> Item {
    v.as_object().cloned().unwrap_or_default()
}

/// The table key of an item: its `pk` and `sk` (every table of this project has these keys).
fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(k, _)| k.as_str() == "pk" || k.as_str() == "sk")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// An item written by a request: table, key, and whether it is only a condition check.
struct Target {
    table: String,
    key: Item,
}

/// The items a write request touches (none for other requests).
fn targets(operation: &str, body: &Value) -> Vec<Target> {
    let one = |b: &Value, key: Item| Target {
        table: b["TableName"].as_str().unwrap_or_default().to_owned(),
        key,
    };
    match operation {
        "PutItem" => vec![one(body, key_of(&object(&body["Item"])))],
        "UpdateItem" | "DeleteItem" => vec![one(body, object(&body["Key"]))],
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let (kind, op) = t.as_object()?.iter().next()?;
                let key = if kind == "Put" {
                    key_of(&object(&op["Item"]))
                } else {
                    object(&op["Key"])
                };
                Some(one(op, key))
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(table, list)| {
                list.as_array().into_iter().flatten().map(move |r| Target {
                    table: table.clone(),
                    key: if r.get("PutRequest").is_some() {
                        key_of(&object(&r["PutRequest"]["Item"]))
                    } else {
                        object(&r["DeleteRequest"]["Key"])
                    },
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A consistent read of one item straight from the upstream (not recorded).
async fn current(shared: &Shared, head: &str, target: &Target) -> Option<Item> {
    let upstream = &shared.upstream;
    let body =
        serde_json::json!({"TableName": target.table, "Key": target.key, "ConsistentRead": true})
            .to_string();
    let authorization = header(head, "authorization").unwrap_or("AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0");
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {upstream}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amz-target: DynamoDB_20120810.GetItem\r\nauthorization: {authorization}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (rhead, raw) = forward(shared, request.as_bytes()).await.ok()??;
    let answer = json_body(&rhead, &raw);
    answer.get("Item").map(object)
}

/// What a read request returned, by the rules' terms.
fn read_of(operation: &str, body: &Value, answer: &Value) -> Option<Read> {
    let consistency = |b: &Value| {
        if b["ConsistentRead"].as_bool() == Some(true) {
            Consistency::Strong
        } else {
            Consistency::Eventual
        }
    };
    let sizes = |items: &Value| -> Vec<u64> {
        items
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| item_size(&object(i)))
            .collect()
    };
    let table = body["TableName"].as_str().unwrap_or_default().to_owned();
    match operation {
        "GetItem" => {
            let item = answer.get("Item");
            Some(Read {
                table,
                index: None,
                consistency: consistency(body),
                summed: false,
                item_sizes: item
                    .map(|i| vec![item_size(&object(i))])
                    .unwrap_or_default(),
                missing: u64::from(item.is_none()),
                filtered_out: 0,
            })
        }
        "Query" | "Scan" => {
            let item_sizes = sizes(&answer["Items"]);
            let scanned = answer["ScannedCount"]
                .as_u64()
                .unwrap_or(item_sizes.len() as u64);
            Some(Read {
                table,
                index: body["IndexName"].as_str().map(str::to_owned),
                consistency: consistency(body),
                summed: true,
                filtered_out: scanned.saturating_sub(item_sizes.len() as u64),
                item_sizes,
                missing: 0,
            })
        }
        "BatchGetItem" | "TransactGetItems" => {
            let (table, asked, consistency, returned) = if operation == "BatchGetItem" {
                let (table, request) = body["RequestItems"].as_object()?.iter().next()?;
                let asked = request["Keys"].as_array().map_or(0, Vec::len) as u64;
                let returned = sizes(&answer["Responses"][table]);
                (table.clone(), asked, consistency(request), returned)
            } else {
                let items = body["TransactItems"].as_array()?;
                let table = items.first()?["Get"]["TableName"].as_str()?.to_owned();
                let returned: Vec<u64> = answer["Responses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("Item"))
                    .map(|i| item_size(&object(i)))
                    .collect();
                (
                    table,
                    items.len() as u64,
                    Consistency::Transactional,
                    returned,
                )
            };
            Some(Read {
                table,
                index: None,
                consistency,
                summed: false,
                missing: asked.saturating_sub(returned.len() as u64),
                item_sizes: returned,
                filtered_out: 0,
            })
        }
        _ => None,
    }
}

async fn serve(mut client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    while let Some((head, raw)) = read_message(&mut client).await? {
        let target = header(&head, "x-amz-target").unwrap_or_default().to_owned();
        let (service, operation) = match target.split_once('.') {
            Some((prefix, op)) if prefix.starts_with("DynamoDB") => ("dynamodb", op.to_owned()),
            Some((prefix, op)) if prefix.starts_with("AmazonSQS") => ("sqs", op.to_owned()),
            Some((_, op)) => ("other", op.to_owned()),
            None => ("other", String::new()),
        };
        let position = shared.clock.load(Ordering::SeqCst);
        if service != "dynamodb" {
            let Some((_, response)) = forward(shared, &raw).await? else {
                return Ok(());
            };
            client.write_all(&response).await?;
            record(shared, service, operation, position, Vec::new(), None);
            continue;
        }
        let body = json_body(&head, &raw);
        let written = targets(&operation, &body);
        // Lock every item written (in key order, so two transactions cannot deadlock), read it,
        // write, read it again.
        let mut names: Vec<String> = written
            .iter()
            .map(|t| format!("{}|{}", t.table, Value::Object(t.key.clone())))
            .collect();
        names.sort();
        names.dedup();
        let locks: Vec<_> = names.iter().map(|n| item_lock(n)).collect();
        let mut guards = Vec::with_capacity(locks.len());
        for lock in &locks {
            guards.push(lock.lock().await);
        }
        let mut before = Vec::with_capacity(written.len());
        for t in &written {
            before.push(current(shared, &head, t).await);
        }
        let Some((rhead, response)) = forward(shared, &raw).await? else {
            return Ok(());
        };
        let status_ok = rhead.starts_with("HTTP/1.1 200") || rhead.starts_with("HTTP/1.0 200");
        let answer = json_body(&rhead, &response);
        let error = answer["__type"].as_str().unwrap_or_default();
        let condition_failed = error.ends_with("ConditionalCheckFailedException")
            || error.ends_with("TransactionCanceledException");
        let mut writes = Vec::with_capacity(written.len());
        if status_ok || condition_failed {
            for (t, before) in written.into_iter().zip(before) {
                let after = if status_ok {
                    current(shared, &head, &t).await
                } else {
                    before.clone()
                };
                writes.push(Write {
                    table: t.table,
                    key: t.key,
                    before,
                    after,
                    transactional: operation == "TransactWriteItems",
                    condition_failed,
                });
            }
        }
        drop(guards);
        client.write_all(&response).await?;
        let read = if status_ok {
            read_of(&operation, &body, &answer)
        } else {
            None
        };
        record(shared, service, operation, position, writes, read);
    }
    Ok(())
}

fn record(
    shared: &Shared,
    service: &str,
    operation: String,
    position: u64,
    writes: Vec<Write>,
    read: Option<Read>,
) {
    shared
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Request {
            function: shared.function.clone(),
            service: service.to_owned(),
            operation,
            position,
            writes,
            read,
        });
}
