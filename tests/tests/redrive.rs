//! The redrive tool (`make redrive`) on the local endpoint's SQS: a dry run counts parked bodies by
//! reason and moves nothing; a move sends each body back once, keeps it byte for byte, and
//! deletes it from the dead-letter queue; a second copy of a body is deleted, not sent again.

use pipeline_tests::*;
use redrive::{Redrive, REDRIVEN_FROM_REASON};
use std::collections::BTreeMap;

async fn park(queues: &TestQueues, body: &str, reason: &str) {
    use aws_sdk_sqs::types::MessageAttributeValue;
    let attribute = |v: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    queues
        .sqs
        .send_message()
        .queue_url(&queues.dead_letter_url)
        .message_body(body)
        .message_attributes("parked_reason", attribute(reason))
        .message_attributes("source_message_id", attribute("m-1"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dry_run_moves_nothing_and_a_move_sends_each_body_back_once() {
    let aws = local_aws().await;
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    let status = String::from_utf8(fixture("meta/status_sent.json")).unwrap();
    let template = String::from_utf8(fixture("meta/template_paused_first.json")).unwrap();
    park(&queues, &status, "dynamodb_unavailable").await;
    // Meta retried it and both copies were parked.
    park(&queues, &status, "dynamodb_unavailable").await;
    park(&queues, &template, "dynamodb_unavailable").await;
    park(&queues, "{\"object\":", "invalid_json").await;
    let redrive = Redrive::new(
        queues.sqs.clone(),
        &queues.dead_letter_url,
        &queues.queue_url,
    );

    let expected = BTreeMap::from([
        ("dynamodb_unavailable".to_owned(), 3),
        ("invalid_json".to_owned(), 1),
    ]);
    assert_eq!(redrive.survey().await.unwrap(), expected);
    // Nothing moved, everything visible again: a second survey sees the same.
    assert_eq!(redrive.survey().await.unwrap(), expected);
    assert!(queues.drain(&queues.queue_url).await.is_empty());

    let moved = redrive.run(usize::MAX).await.unwrap();
    assert_eq!(moved.duplicates, 1, "{moved:?}");
    assert_eq!(moved.failed, 0);
    assert_eq!(
        moved.by_reason,
        BTreeMap::from([
            ("dynamodb_unavailable".to_owned(), 2),
            ("invalid_json".to_owned(), 1),
        ])
    );
    let back = queues.drain(&queues.queue_url).await;
    let mut bodies: Vec<&str> = back.iter().map(|m| m.body().unwrap()).collect();
    bodies.sort();
    let mut want = vec![status.as_str(), template.as_str(), "{\"object\":"];
    want.sort();
    assert_eq!(bodies, want, "each body once, byte for byte");
    assert!(back
        .iter()
        .all(|m| attribute(m, REDRIVEN_FROM_REASON).is_some()
            && attribute(m, "parked_reason").is_none()
            && attribute(m, "source_message_id") == Some("m-1")));
    assert!(queues.drain(&queues.dead_letter_url).await.is_empty());

    // Nothing left: a second move moves nothing.
    assert_eq!(redrive.run(usize::MAX).await.unwrap().moved(), 0);
}

#[tokio::test]
async fn a_limit_moves_at_most_that_many() {
    let aws = local_aws().await;
    let queues = TestQueues::create(aws_sdk_sqs::Client::new(&aws)).await;
    for i in 0..15 {
        park(&queues, &format!("{{\"n\":{i}}}"), "throttled").await;
    }
    let redrive = Redrive::new(
        queues.sqs.clone(),
        &queues.dead_letter_url,
        &queues.queue_url,
    );
    assert_eq!(redrive.run(12).await.unwrap().moved(), 12);
    assert_eq!(queues.drain(&queues.queue_url).await.len(), 12);
    assert_eq!(
        redrive.survey().await.unwrap(),
        BTreeMap::from([("throttled".to_owned(), 3)])
    );
}
