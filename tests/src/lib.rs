//! Helpers for the integration tests: fixtures from `events/`, and queues of their own on the local
//! AWS endpoint (`AWS_ENDPOINT_URL`, set by `scripts/local-aws`, which `make test` runs them under).

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use std::path::PathBuf;

/// The app secret every fixture is signed with (events/world.json).
pub const FIXTURE_APP_SECRET: &str = "fixture-app-secret";
/// The verify token of the fixtures' world.
pub const FIXTURE_VERIFY_TOKEN: &str = "fixture-verify-token";

/// The project's `events/` folder.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// The exact bytes of a fixture, e.g. `meta/status_sent.json`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = events_dir().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

/// Every `meta/...` fixture with its `X-Hub-Signature-256` from `events/signatures.tsv`.
pub fn signed_fixtures() -> Vec<(String, String)> {
    let tsv = String::from_utf8(fixture("signatures.tsv")).expect("signatures.tsv is UTF-8");
    tsv.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .filter(|(path, _)| path.starts_with("meta/"))
        .map(|(p, s)| (p.to_owned(), s.trim().to_owned()))
        .collect()
}

/// The signature `signatures.tsv` gives a fixture.
pub fn signature_of(path: &str) -> String {
    signed_fixtures()
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("{path} is not in signatures.tsv"))
}

/// SDK configuration for the local endpoint. Panics with a hint when it is not running.
pub async fn local_aws() -> aws_config::SdkConfig {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run integration tests with `make test` \
         (or `scripts/local-aws cargo test`)"
    );
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A fresh processing queue and dead-letter queue, named for one test.
pub struct TestQueues {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub dead_letter_url: String,
}

impl TestQueues {
    /// Creates both queues with unique names.
    pub async fn create(sqs: aws_sdk_sqs::Client) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let create = |name: String| {
            let sqs = sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(name)
                    .attributes(QueueAttributeName::MaximumMessageSize, "262144")
                    .send()
                    .await
                    .expect("create queue on the local endpoint")
                    .queue_url
                    .expect("queue url")
            }
        };
        let queue_url = create(format!("test-{id}")).await;
        let dead_letter_url = create(format!("test-{id}-dlq")).await;
        Self {
            sqs,
            queue_url,
            dead_letter_url,
        }
    }

    /// Receives (and deletes) everything currently on `url`.
    pub async fn drain(&self, url: &str) -> Vec<Message> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive from the local endpoint");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            for m in &messages {
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete message");
                }
            }
            all.extend(messages);
        }
    }
}

/// A string message attribute's value.
pub fn attribute<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message
        .message_attributes()?
        .get(name)
        .and_then(|v| v.string_value())
}

pub mod capacity_run;
pub mod counting;
pub mod deployed;
pub mod fault_run;
pub mod faults;
pub mod http_stub;
pub mod recorder;
pub mod world;

/// A fresh table with the provisioned table's keys and indexes (the provisioned table follows
/// infra/template.yaml), so every test has a world of its own.
pub async fn create_test_table(ddb: &aws_sdk_dynamodb::Client) -> String {
    use aws_sdk_dynamodb::types::{BillingMode, GlobalSecondaryIndex, Projection};
    let template_table =
        std::env::var("TABLE_NAME").expect("TABLE_NAME (set by scripts/local-stack)");
    let desc = ddb
        .describe_table()
        .table_name(&template_table)
        .send()
        .await
        .expect("describe the provisioned table")
        .table
        .expect("table");
    let name = format!("test-{}", uuid::Uuid::new_v4().simple());
    let gsis: Vec<GlobalSecondaryIndex> = desc
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            GlobalSecondaryIndex::builder()
                .index_name(g.index_name().unwrap())
                .set_key_schema(Some(g.key_schema().to_vec()))
                .projection(
                    g.projection()
                        .cloned()
                        .unwrap_or_else(|| Projection::builder().build()),
                )
                .build()
                .unwrap()
        })
        .collect();
    ddb.create_table()
        .table_name(&name)
        .set_attribute_definitions(Some(desc.attribute_definitions().to_vec()))
        .set_key_schema(Some(desc.key_schema().to_vec()))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        // As the template's table: the counters fold reads message changes from it.
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create test table");
    name
}

/// A valid, signed-able webhook body of acme whose unknown field nests arrays `depth` deep: the
/// shape that overflows a recursive parser's stack.
pub fn deeply_nested_body(depth: usize) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"106540352242922"}},"unknown_field":{}{}}},"field":"messages"}}]}}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// Runs a future to completion on a new thread with a 2 MiB stack (a tokio worker's), so a
/// recursion that input controls shows as the abort it would be in a Lambda.
pub fn on_a_worker_sized_stack<T: Send + 'static>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(future)
        })
        .expect("spawn")
        .join()
        .expect("the future panicked")
}

/// A bucket and a Firehose stream delivering to it under `bodies/yyyy/MM/dd/HH/`, as the
/// template's archive (the emulator writes each record as its own object, synchronously).
/// Returns the archive the processor puts to, and the bucket's name.
pub async fn test_archive(aws: &aws_config::SdkConfig) -> (processor::archive::Archive, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let bucket = format!("archive-{}", &id[..12]);
    replay::ArchiveSource::client(aws)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the archive bucket");
    let firehose = aws_sdk_firehose::Client::new(aws);
    let stream = format!("archive-{}", &id[..12]);
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&stream)
        .delivery_stream_type(aws_sdk_firehose::types::DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(
            aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                .bucket_arn(format!("arn:aws:s3:::{bucket}"))
                .role_arn("arn:aws:iam::000000000000:role/archive-writer")
                .prefix("bodies/!{timestamp:yyyy/MM/dd/HH}/")
                .compression_format(aws_sdk_firehose::types::CompressionFormat::Gzip)
                .build()
                .expect("destination"),
        )
        .send()
        .await
        .expect("create the archive stream");
    (processor::archive::Archive::new(firehose, stream), bucket)
}
