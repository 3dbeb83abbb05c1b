//! Helpers for tests and benchmarks on the deployed local stack (`scripts/local-stack` exports
//! its names and URLs): campaigns of the seeded world's acme number, Meta status bodies, and
//! signed POSTs to the deployed webhook.

use shared::meta::signature::sign;
use shared::store::{NewCampaign, Registration, Store};

/// The acme phone number, WABA and template of events/world.json.
pub const ACME_PHONE: &str = "106540352242922";
pub const ACME_WABA: &str = "102290129340398";
pub const ACME_TEMPLATE: u64 = 1407680283588702;

/// A stack output scripts/local-stack exported.
pub fn stack(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this on the deployed local stack (`make test`)")
    })
}

/// The deployed table.
pub async fn store() -> Store {
    let aws = crate::local_aws().await;
    Store::new(aws_sdk_dynamodb::Client::new(&aws), stack("TABLE_NAME"))
}

/// A fresh ACTIVE acme campaign named `<prefix>-<uuid>` with `messages` registered messages;
/// returns (campaign id, wamids).
pub async fn campaign_with_messages(
    store: &Store,
    prefix: &str,
    messages: usize,
) -> (String, Vec<String>) {
    let campaign_id = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    store
        .create_campaign(
            "acme",
            &NewCampaign {
                campaign_id: campaign_id.clone(),
                name: None,
                template_id: ACME_TEMPLATE,
                phone_number_id: ACME_PHONE.into(),
                waba_id: Some(ACME_WABA.into()),
                status: "ACTIVE".into(),
            },
        )
        .await
        .expect("create campaign");
    let mut wamids = Vec::with_capacity(messages);
    for i in 0..messages {
        let wamid = format!("wamid.{campaign_id}-{i}");
        let registration = Registration {
            wamid: wamid.clone(),
            campaign_id: campaign_id.clone(),
            recipient_id: Some("15551230001".into()),
            template_id: Some(ACME_TEMPLATE),
            expires_at: None,
        };
        store
            .register_message("acme", &registration)
            .await
            .expect("register message");
        wamids.push(wamid);
    }
    (campaign_id, wamids)
}

/// A Meta `messages` webhook body for acme's number carrying `(wamid, status)` pairs.
pub fn status_body(statuses: &[(&str, &str)]) -> String {
    let list: Vec<String> = statuses
        .iter()
        .map(|(wamid, status)| {
            format!(r#"{{"id":"{wamid}","status":"{status}","timestamp":"1732610000","recipient_id":"15551230001"}}"#)
        })
        .collect();
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{ACME_WABA}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"{ACME_PHONE}"}},"statuses":[{}]}},"field":"messages"}}]}}]}}"#,
        list.join(",")
    )
}

/// POSTs a body to `url` signed with the fixtures' app secret, as Meta does.
pub async fn post_signed(url: &str, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            sign(crate::FIXTURE_APP_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("POST the webhook")
}

/// POSTs one status to the deployed webhook's function URL and expects 200.
pub async fn post_status(wamid: &str, status: &str) {
    let answer = post_signed(
        &stack("WEBHOOK_FUNCTION_URL"),
        status_body(&[(wamid, status)]),
    )
    .await;
    assert_eq!(answer.status(), 200, "webhook answer");
}
