//! Fan-out through API Gateway's `@connections` API: each tenant's planned messages to each of
//! its connections that listens to them, concurrently and bounded. A connection API Gateway says
//! is gone (410) is forgotten; throttling is retried with backoff.

use super::{Message, Topic};
use crate::store::{Connection, Store, StoreError};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::{info, warn};

/// Posts in flight at once per invocation.
pub const DEFAULT_PUSH_CONCURRENCY: usize = 64;
/// Attempts per post when API Gateway throttles.
const MAX_ATTEMPTS: u32 = 4;

/// What a fan-out did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    pub delivered: usize,
    /// Connections that were gone (410) and are now deleted.
    pub gone: usize,
    /// Posts that failed for another reason, after retries (logged; the client resyncs from
    /// the API or, over SSE, resumes from the feed).
    pub failed: usize,
    /// Tenants whose connections could not be read: the caller retries their records.
    pub failed_tenants: Vec<String>,
}

impl PushOutcome {
    /// The fan-out's metrics (EMF): an alarm watches `PushFailures`.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        let mut m = crate::metrics::Metrics::new("realtime");
        m.count("PushesSent", self.delivered)
            .count("PushFailures", self.failed)
            .count("ConnectionsGone", self.gone)
            .count("TenantsRetried", self.failed_tenants.len());
        m
    }
}

/// Pushes planned messages to connections.
#[derive(Debug, Clone)]
pub struct Pusher {
    client: aws_sdk_apigatewaymanagement::Client,
    store: Store,
    concurrency: usize,
}

enum PostResult {
    Delivered,
    Gone,
    Failed,
}

impl Pusher {
    pub fn new(
        client: aws_sdk_apigatewaymanagement::Client,
        store: Store,
        concurrency: usize,
    ) -> Self {
        Self {
            client,
            store,
            concurrency: concurrency.max(1),
        }
    }

    /// Sends every tenant's messages to that tenant's connections, and only theirs.
    pub async fn push(&self, plan: &BTreeMap<String, Vec<Message>>) -> PushOutcome {
        let mut outcome = PushOutcome::default();
        let mut posts: Vec<(String, String)> = Vec::new();
        for (tenant_id, messages) in plan {
            let connections = match self.store.tenant_connections(tenant_id).await {
                Ok(c) => c,
                Err(e) => {
                    warn!(tenant_id, error = %e, "connections could not be read");
                    outcome.failed_tenants.push(tenant_id.clone());
                    continue;
                }
            };
            let frames: Vec<(&Message, String)> = messages
                .iter()
                .filter_map(|m| Some((m, m.to_frame()?)))
                .collect();
            for connection in &connections {
                let topics = topics_of(connection);
                for (message, frame) in &frames {
                    if message.is_for(&topics) {
                        posts.push((connection.connection_id.clone(), frame.clone()));
                    }
                }
            }
        }
        let results: Vec<(String, PostResult)> = stream::iter(posts)
            .map(|(connection_id, frame)| async move {
                let result = self.post(&connection_id, frame).await;
                (connection_id, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut gone: Vec<String> = Vec::new();
        for (connection_id, result) in results {
            match result {
                PostResult::Delivered => outcome.delivered += 1,
                PostResult::Failed => outcome.failed += 1,
                PostResult::Gone => gone.push(connection_id),
            }
        }
        gone.sort();
        gone.dedup();
        for connection_id in &gone {
            if let Err(e) = self.forget(connection_id).await {
                warn!(connection_id, error = %e, "gone connection could not be deleted");
            }
        }
        outcome.gone = gone.len();
        info!(
            delivered = outcome.delivered,
            gone = outcome.gone,
            failed = outcome.failed,
            "pushed"
        );
        outcome
    }

    async fn forget(&self, connection_id: &str) -> Result<(), StoreError> {
        self.store.delete_connection(connection_id).await
    }

    async fn post(&self, connection_id: &str, frame: String) -> PostResult {
        let data = Blob::new(frame.into_bytes());
        for attempt in 1..=MAX_ATTEMPTS {
            let result = self
                .client
                .post_to_connection()
                .connection_id(connection_id)
                .data(data.clone())
                .send()
                .await;
            let error = match result {
                Ok(_) => return PostResult::Delivered,
                Err(e) => e.into_service_error(),
            };
            match error {
                PostToConnectionError::GoneException(_) => return PostResult::Gone,
                PostToConnectionError::LimitExceededException(_) if attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                other => {
                    warn!(connection_id, error = %other, "post to connection failed");
                    return PostResult::Failed;
                }
            }
        }
        PostResult::Failed
    }
}

/// The topics a stored connection listens to (unknown strings ignored).
pub fn topics_of(connection: &Connection) -> Vec<Topic> {
    connection
        .topics
        .iter()
        .filter_map(|t| Topic::parse(t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fan_out_reports_its_failures_as_metrics() {
        let outcome = PushOutcome {
            delivered: 7,
            gone: 1,
            failed: 2,
            failed_tenants: vec!["acme".into()],
        };
        let line = outcome.metrics().to_emf(1_700_000_000_000).expect("a line");
        let line: serde_json::Value = serde_json::from_str(&line).expect("EMF is JSON");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], crate::metrics::NAMESPACE);
        assert_eq!(directive["Dimensions"], serde_json::json!([["Function"]]));
        assert_eq!(line["Function"], "realtime");
        assert_eq!(line["PushesSent"], 7);
        assert_eq!(line["PushFailures"], 2);
        assert_eq!(line["ConnectionsGone"], 1);
        assert_eq!(line["TenantsRetried"], 1);
        assert!(
            !line.to_string().contains("acme"),
            "no tenant in a metric line"
        );
    }
}
