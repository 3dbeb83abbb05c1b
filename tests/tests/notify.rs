//! Alert notifications against the local endpoint's SNS (a queue subscribed to the deployed
//! alerts topic) and a local HTTP receiver standing in for Slack (real HTTP): each alert once
//! per channel, under a receiver that fails, across retried batches, within quiet windows; and
//! end to end, a template pause from Meta published by the deployed notifier.

use aws_sdk_sqs::types::{Message, QueueAttributeName};
use pipeline_tests::deployed::{post_signed, stack, store, ACME_WABA};
use pipeline_tests::http_stub::{HttpStub, StubResponse};
use pipeline_tests::{attribute, local_aws};
use shared::config::NotifierConfig;
use shared::domain::notify::{Channel, NotificationSettings, Skip};
use shared::domain::template::Severity;
use shared::notify::{Delivery, Notifier, NotifyError, SlackPolicy};
use shared::secrets::{TenantSecret, TenantSecrets};
use shared::store::{AlertRecord, Store};
use std::time::Duration;

struct Setup {
    store: Store,
    notifier: Notifier,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    tenant_id: String,
}

/// A queue subscribed (raw delivery) to the deployed alerts topic, filtered to `tenant_id`.
async fn subscribed_queue(
    aws: &aws_config::SdkConfig,
    tenant_id: &str,
) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let sns = aws_sdk_sns::Client::new(aws);
    let topic = stack("ALERTS_TOPIC_ARN");
    let name = format!("alerts-{}", uuid::Uuid::new_v4().simple());
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]});
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .attributes(
            "FilterPolicy",
            serde_json::json!({"tenant": [tenant_id]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    (sqs, queue_url)
}

async fn setup(slack_url: Option<String>, settings: NotificationSettings) -> Setup {
    let aws = local_aws().await;
    let store = store().await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tenant_id = format!("notify-{}", &run[..12]);
    let config = NotifierConfig {
        table_name: stack("TABLE_NAME"),
        topic_arn: stack("ALERTS_TOPIC_ARN"),
        tenant_secrets_prefix: format!("tests-{}/tenants", &run[..8]),
        slack: SlackPolicy {
            allowed_prefixes: vec!["http://127.0.0.1:".into()],
            timeout: Duration::from_secs(2),
            max_attempts: 3,
            backoff: Duration::from_millis(10),
        },
    };
    let secrets = TenantSecrets::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        &config.tenant_secrets_prefix,
    );
    if let Some(url) = &slack_url {
        secrets
            .put(&tenant_id, TenantSecret::SlackWebhook, url)
            .await
            .unwrap();
    }
    store
        .put_notification_settings(
            &tenant_id,
            &NotificationSettings {
                slack_configured: slack_url.is_some(),
                ..settings
            },
        )
        .await
        .unwrap();
    let notifier = notifier::build(
        &config,
        aws_sdk_dynamodb::Client::new(&aws),
        aws_sdk_sns::Client::new(&aws),
        aws_sdk_secretsmanager::Client::new(&aws),
    );
    let (sqs, queue_url) = subscribed_queue(&aws, &tenant_id).await;
    Setup {
        store,
        notifier,
        sqs,
        queue_url,
        tenant_id,
    }
}

fn alert(id: &str, severity: Severity, kind: &str, subject: &str, event_time: u64) -> AlertRecord {
    AlertRecord {
        alert_id: id.into(),
        severity: severity.as_str().into(),
        kind: kind.into(),
        title: format!("template {kind}"),
        subject: subject.into(),
        event_time,
        acknowledged_by: None,
    }
}

/// Everything on the queue within `wait`, deleted.
async fn received(sqs: &aws_sdk_sqs::Client, queue_url: &str, wait: Duration) -> Vec<Message> {
    let mut all = Vec::new();
    let until = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < until {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            all.push(m);
        }
    }
    all
}

fn both() -> NotificationSettings {
    NotificationSettings {
        channels: vec![Channel::Sns, Channel::Slack],
        ..NotificationSettings::default()
    }
}

#[tokio::test]
async fn an_alert_reaches_sns_once_with_its_attributes_and_slack_once_after_two_failures() {
    let slack = HttpStub::start(|_, i| {
        if i < 2 {
            StubResponse::text(500, "internal_error")
        } else {
            StubResponse::text(200, "ok")
        }
    })
    .await;
    let s = setup(
        Some(format!("{}/services/T000/B000/secret", slack.url)),
        both(),
    )
    .await;
    let a = alert(
        "a1",
        Severity::Critical,
        "template_paused",
        "template:42",
        1_764_000_000,
    );

    let outcome = s.notifier.notify(&s.tenant_id, &a).await.unwrap();
    assert_eq!(
        outcome,
        vec![
            (Channel::Sns, Delivery::Sent(1)),
            (Channel::Slack, Delivery::Sent(3))
        ]
    );
    // The stream retries the batch (another alert in it failed): nothing is sent twice.
    let again = s.notifier.notify(&s.tenant_id, &a).await.unwrap();
    assert_eq!(
        again,
        vec![
            (Channel::Sns, Delivery::AlreadySent),
            (Channel::Slack, Delivery::AlreadySent)
        ]
    );

    let posts = slack.requests();
    assert_eq!(posts.len(), 3, "two failures, one success, no repeat");
    assert!(posts
        .iter()
        .all(|p| p.method == "POST" && p.target == "/services/T000/B000/secret"));
    let text: serde_json::Value = serde_json::from_slice(&posts[2].body).unwrap();
    let text = text["text"].as_str().unwrap();
    assert!(text.contains("[critical] template template_paused") && text.contains(&s.tenant_id));
    assert!(
        !text.contains("secret"),
        "the webhook URL is not in the message"
    );

    let messages = received(&s.sqs, &s.queue_url, Duration::from_secs(3)).await;
    assert_eq!(messages.len(), 1, "exactly one SNS notification");
    let m = &messages[0];
    assert_eq!(attribute(m, "tenant"), Some(s.tenant_id.as_str()));
    assert_eq!(attribute(m, "severity"), Some("critical"));
    assert_eq!(attribute(m, "kind"), Some("template_paused"));
    let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
    assert_eq!(body["alert_id"], "a1");
    assert_eq!(body["subject"], "template:42");
}

#[tokio::test]
async fn quiet_windows_minimum_severity_and_a_receiver_down_for_a_while() {
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let state = up.clone();
    let slack = HttpStub::start(move |_, _| {
        if state.load(std::sync::atomic::Ordering::SeqCst) {
            StubResponse::text(200, "ok")
        } else {
            StubResponse::text(503, "down")
        }
    })
    .await;
    let s = setup(Some(format!("{}/hook", slack.url)), both()).await;
    let t0 = 1_764_000_000;

    // Slack is down: SNS is delivered and recorded, the alert fails (the stream retries it).
    let first = alert("b1", Severity::Critical, "quality_red", "template:7", t0);
    match s.notifier.notify(&s.tenant_id, &first).await {
        Err(NotifyError::Slack { attempts: 3, last }) => assert_eq!(last, "HTTP 503"),
        other => panic!("expected a Slack failure, got {other:?}"),
    }
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let retried = s.notifier.notify(&s.tenant_id, &first).await.unwrap();
    assert_eq!(
        retried,
        vec![
            (Channel::Sns, Delivery::AlreadySent),
            (Channel::Slack, Delivery::Sent(1))
        ]
    );

    // Same subject and kind a minute later: quiet. After the window: notified.
    let soon = alert(
        "b2",
        Severity::Critical,
        "quality_red",
        "template:7",
        t0 + 60,
    );
    assert_eq!(
        s.notifier.notify(&s.tenant_id, &soon).await.unwrap(),
        vec![
            (Channel::Sns, Delivery::Skipped(Skip::QuietWindow)),
            (Channel::Slack, Delivery::Skipped(Skip::QuietWindow))
        ]
    );
    let later = alert(
        "b3",
        Severity::Critical,
        "quality_red",
        "template:7",
        t0 + 601,
    );
    assert_eq!(
        s.notifier.notify(&s.tenant_id, &later).await.unwrap(),
        vec![
            (Channel::Sns, Delivery::Sent(1)),
            (Channel::Slack, Delivery::Sent(1))
        ]
    );
    // Below the tenant's minimum severity (warning): not notified.
    let info = alert(
        "b4",
        Severity::Info,
        "quality_green",
        "template:7",
        t0 + 700,
    );
    assert_eq!(
        s.notifier.notify(&s.tenant_id, &info).await.unwrap(),
        vec![
            (Channel::Sns, Delivery::Skipped(Skip::BelowMinSeverity)),
            (Channel::Slack, Delivery::Skipped(Skip::BelowMinSeverity))
        ]
    );

    let ids: Vec<String> = received(&s.sqs, &s.queue_url, Duration::from_secs(3))
        .await
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(m.body().unwrap()).unwrap()["alert_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"b1".to_owned()) && ids.contains(&"b3".to_owned()));
    let ok_posts = slack.requests().len() - 3;
    assert_eq!(ok_posts, 2, "b1 once after recovery, b3 once");
    // What a tenant chose is what is read back.
    let stored = s.store.notification_settings(&s.tenant_id).await.unwrap();
    assert_eq!(stored.channels, vec![Channel::Sns, Channel::Slack]);
    assert!(stored.slack_configured);
}

#[tokio::test]
async fn a_template_paused_by_meta_is_published_once_by_the_deployed_notifier() {
    // A template id nobody has: the webhook onboards it under acme's WABA and pauses it.
    let template_id = 1_900_000_000_000_000 + u64::from(uuid::Uuid::new_v4().as_fields().1);
    let aws = local_aws().await;
    let (sqs, queue_url) = subscribed_queue(&aws, "acme").await;
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{ACME_WABA}","time":1764500000,"changes":[{{"value":{{"event":"PAUSED","message_template_id":{template_id},"message_template_name":"notify_probe","message_template_language":"en_US","reason":"NONE","other_info":{{"title":"FIRST_PAUSE","description":"paused"}}}},"field":"message_template_status_update"}}]}}]}}"#
    );
    let answer = post_signed(&stack("WEBHOOK_FUNCTION_URL"), body).await;
    assert_eq!(answer.status(), 200);

    let subject = format!("template:{template_id}");
    let mut ours = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(40);
    while tokio::time::Instant::now() < until && ours.is_empty() {
        ours.extend(
            received(&sqs, &queue_url, Duration::from_secs(2))
                .await
                .into_iter()
                .filter(|m| m.body().unwrap_or_default().contains(&subject)),
        );
    }
    // Give a duplicate time to show up.
    ours.extend(
        received(&sqs, &queue_url, Duration::from_secs(4))
            .await
            .into_iter()
            .filter(|m| m.body().unwrap_or_default().contains(&subject)),
    );
    assert_eq!(
        ours.len(),
        1,
        "one notification of the pause through webhook, queue, processor, stream, notifier, SNS"
    );
    assert_eq!(attribute(&ours[0], "kind"), Some("template_paused"));
    assert_eq!(attribute(&ours[0], "severity"), Some("critical"));
    assert_eq!(attribute(&ours[0], "tenant"), Some("acme"));
}
