//! The deployed stack: infra/template.yaml as `sam deploy` put it on the local emulator
//! (scripts/local-stack), reached the way Meta and users reach it — the webhook's function URL,
//! the HTTP API's routes and JWT authorizer, the real SQS event source mapping in front of the
//! deployed processor. Nothing here calls a handler directly.

use pipeline_tests::deployed::{campaign_with_messages, stack, status_body, store};
use pipeline_tests::*;
use shared::meta::signature::sign;
use std::time::{Duration, Instant};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The webhook's two public URLs: the function URL and the HTTP API route.
fn webhook_urls() -> [String; 2] {
    [
        stack("WEBHOOK_FUNCTION_URL"),
        format!("{}/webhook", stack("HTTP_API_URL")),
    ]
}

/// Polls until `check` holds or 30 s pass.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 30 s");
}

#[tokio::test]
async fn the_deployed_webhook_answers_the_subscription_check_on_both_urls() {
    for url in webhook_urls() {
        let ok = http()
            .get(format!(
                "{url}?hub.mode=subscribe&hub.verify_token={FIXTURE_VERIFY_TOKEN}&hub.challenge=1158201444"
            ))
            .send()
            .await
            .expect("GET webhook");
        assert_eq!(ok.status(), 200, "{url}");
        assert_eq!(ok.text().await.unwrap(), "1158201444", "{url}");

        let wrong = http()
            .get(format!(
                "{url}?hub.mode=subscribe&hub.verify_token=not-the-token&hub.challenge=1158201444"
            ))
            .send()
            .await
            .expect("GET webhook");
        assert_eq!(wrong.status(), 403, "{url}");
    }
}

#[tokio::test]
async fn a_signed_post_through_either_url_reaches_the_table_through_the_real_mapping() {
    let store = store().await;
    for url in webhook_urls() {
        let (campaign_id, wamids) = campaign_with_messages(&store, "deployed", 1).await;
        let body = status_body(&[(&wamids[0], "sent")]);

        let unsigned = http().post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(unsigned.status(), 401, "{url}: no signature");
        let forged = http()
            .post(&url)
            .header(
                "x-hub-signature-256",
                sign("another-secret", body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401, "{url}: wrong secret");

        let signed = http()
            .post(&url)
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                sign(FIXTURE_APP_SECRET, body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200, "{url}");
        assert_eq!(signed.text().await.unwrap(), "EVENT_RECEIVED");

        // Queue -> event source mapping -> deployed processor -> table.
        eventually(&format!("{url}: status applied"), || async {
            let c = store.campaign("acme", &campaign_id).await.unwrap().unwrap();
            c.reached_sent == 1
        })
        .await;
        let c = store.campaign("acme", &campaign_id).await.unwrap().unwrap();
        assert_eq!(
            (c.reached_sent, c.reached_delivered, c.reached_read),
            (1, 0, 0),
            "{url}: counted once"
        );
    }
}

#[tokio::test]
async fn a_poison_record_reaches_the_dead_letter_queue_through_the_real_mapping() {
    let aws = local_aws().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let marker = uuid::Uuid::new_v4().to_string();
    let poison = format!("{{\"object\":\"whatsapp_business_account\",\"entry\":[ {marker}");
    sqs.send_message()
        .queue_url(stack("WEBHOOK_QUEUE_URL"))
        .message_body(&poison)
        .send()
        .await
        .expect("send to the deployed queue");

    let dead_letters = stack("WEBHOOK_DLQ_URL");
    let started = Instant::now();
    let parked = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "poison record not parked on the DLQ within 30 s"
        );
        // Peek without hiding: other parked bodies stay visible to whoever reads them.
        let out = sqs
            .receive_message()
            .queue_url(&dead_letters)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive from the DLQ");
        let found = out
            .messages
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.body() == Some(poison.as_str()));
        match found {
            Some(message) => break message,
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(attribute(&parked, "parked_reason"), Some("invalid_json"));
}

#[tokio::test]
async fn the_http_apis_jwt_authorizer_refuses_no_token_and_admits_a_cognito_token() {
    let api = stack("HTTP_API_URL");
    let campaign = format!("{api}/campaigns/c-acme-1");

    // Public routes need no token.
    let health = http().get(format!("{api}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // The authorizer answers before the function runs.
    let none = http().get(&campaign).send().await.unwrap();
    assert_eq!(none.status(), 401, "no token");
    let garbage = http()
        .get(&campaign)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401, "not a token");

    // An ID token the emulator's Cognito issued (scripts/dev-token, minted by the suite).
    let acme = stack("LOCAL_ID_TOKEN_ACME_VIEWER");
    let admitted = http()
        .get(&campaign)
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&admitted.text().await.unwrap()).unwrap();
    assert_eq!(body["campaign_id"], "c-acme-1");

    // The tenant comes from the verified token: globex's user does not find acme's campaign.
    let globex = stack("LOCAL_ID_TOKEN_GLOBEX_VIEWER");
    let foreign = http()
        .get(&campaign)
        .bearer_auth(&globex)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);

    // A viewer may read but not act.
    let pause = http()
        .post(format!("{campaign}/pause"))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(pause.status(), 403);
}

/// A failure spike and a reply through the deployed webhook, mapping, processor and the counters
/// function on the table's stream: the campaign is paused by the breaker, the reply counted.
#[tokio::test]
async fn a_failure_spike_pauses_and_a_reply_is_counted_through_the_deployed_functions() {
    use pipeline_tests::deployed::{post_signed, ACME_PHONE, ACME_WABA};
    let store = store().await;
    let (campaign_id, wamids) = campaign_with_messages(&store, "deployed-spike", 21).await;
    let failures: Vec<String> = wamids[1..]
        .iter()
        .map(|w| {
            format!(r#"{{"id":"{w}","status":"failed","timestamp":"1732610000","recipient_id":"15551230001","errors":[{{"code":131048,"title":"Spam rate limit hit"}}]}}"#)
        })
        .collect();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{ACME_WABA}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"{ACME_PHONE}"}},"statuses":[{}]}},"field":"messages"}}]}}]}}"#,
        failures.join(",")
    );
    let url = stack("WEBHOOK_FUNCTION_URL");
    assert_eq!(post_signed(&url, body).await.status(), 200);
    let reply = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{ACME_WABA}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"{ACME_PHONE}"}},"contacts":[{{"profile":{{"name":"A"}},"wa_id":"15551230001"}}],"messages":[{{"context":{{"from":"15550001111","id":"{}"}},"from":"15551230001","id":"wamid.reply-{campaign_id}","timestamp":"1732610400","type":"button","button":{{"payload":"YES","text":"Yes"}}}}]}},"field":"messages"}}]}}]}}"#,
        wamids[0]
    );
    assert_eq!(post_signed(&url, reply).await.status(), 200);
    eventually(
        "the breaker paused the campaign and the reply is counted",
        || async {
            let c = store.campaign("acme", &campaign_id).await.unwrap().unwrap();
            c.status == "PAUSED" && c.replied == 1
        },
    )
    .await;
    let c = store.campaign("acme", &campaign_id).await.unwrap().unwrap();
    assert_eq!(c.auto_paused_by.as_deref(), Some("failure_spike"));
    assert_eq!(c.reached_failed, 20);
}

/// Every new event shape of delivery intelligence, posted as Meta signs it to the deployed
/// webhook, is applied by the deployed processor: nothing parked, and each leaves its effect.
/// (Shapes that pause campaigns on the shared number are covered by the processor tests, so
/// that they do not pause the other deployed tests' campaigns.)
#[tokio::test]
async fn the_new_event_shapes_are_applied_through_the_deployed_pipeline() {
    use pipeline_tests::deployed::{post_signed, ACME_PHONE, ACME_WABA};
    use shared::store::keys;
    let store = store().await;
    let url = stack("WEBHOOK_FUNCTION_URL");
    for path in [
        "meta/inbound_button_reply.json",
        "meta/inbound_interactive_reply.json",
        "meta/status_failed_opted_out.json",
        "meta/messages_change_errors.json",
        "meta/phone_quality_upgrade.json",
        "meta/account_alerts.json",
        "meta/business_capability_update.json",
        "meta/account_review_update.json",
        "meta/bad/account_alerts_malformed_info.json",
    ] {
        let body = String::from_utf8(fixture(path)).expect("UTF-8 fixture");
        assert_eq!(post_signed(&url, body).await.status(), 200, "{path}");
    }
    eventually("every shape applied", || async {
        let window = store
            .window("acme", ACME_PHONE, "15551230021")
            .await
            .unwrap();
        let (opt_outs, _) = store.opt_outs("acme", ACME_PHONE, 50, None).await.unwrap();
        let opted: Vec<&str> = opt_outs.iter().map(|o| o.contact.as_str()).collect();
        let phone_history = store
            .partition(&keys::phone_history("acme", ACME_PHONE))
            .await
            .unwrap();
        let waba_history = store
            .partition(&keys::waba_history("acme", ACME_WABA))
            .await
            .unwrap();
        let alerts = store.open_alerts("acme").await.unwrap();
        window.is_some()
            && opted.contains(&"15551230003")
            && opted.contains(&"15551230004")
            && phone_history.iter().any(|h| {
                h.get("event")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some("UPGRADE")
            })
            && waba_history.len() >= 4
            && alerts.iter().any(|a| a.kind == "rate_limited")
            && alerts.iter().any(|a| a.kind == "account_alert")
    })
    .await;
}

#[tokio::test]
async fn a_signed_body_is_archived_byte_for_byte_with_its_signature_by_the_deployed_processor() {
    let (_, wamids) = campaign_with_messages(&store().await, "deployed-archive", 1).await;
    let body = status_body(&[(&wamids[0], "sent")]);
    let signature = sign(FIXTURE_APP_SECRET, body.as_bytes());
    let answer = http()
        .post(stack("WEBHOOK_FUNCTION_URL"))
        .header("x-hub-signature-256", &signature)
        .body(body.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 200);
    let aws = local_aws().await;
    let source = replay::ArchiveSource::new(
        replay::ArchiveSource::client(&aws),
        stack("ARCHIVE_BUCKET_NAME"),
    );
    let since = shared::store::now() * 1000 - 60_000;
    let mut found = None;
    let started = Instant::now();
    while found.is_none() && started.elapsed() < Duration::from_secs(30) {
        let bodies = source
            .read(since, since + 120_000)
            .await
            .unwrap_or_default();
        found = bodies.into_iter().find(|b| b.body == body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let archived = found.expect("archived");
    assert_eq!(archived.signature.as_deref(), Some(signature.as_str()));
    assert!(!archived.message_id.is_empty() && archived.received_at_ms >= since);
}
