//! Realtime. On the deployed stack: WebSocket clients through the emulator's API Gateway
//! WebSocket API, a signed webhook through the whole pipeline, the table's stream into the
//! deployed realtime function and its posts through `@connections`. On the handler: the
//! `$connect` token rules (expired, foreign issuer, missing) and what a refusal leaves behind.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use futures::{SinkExt, StreamExt};
use lambda_runtime::{Context, LambdaEvent};
use pipeline_tests::deployed::{
    campaign_with_messages, post_status, stack, store as deployed_store,
};
use pipeline_tests::*;
use serde_json::{json, Value};
use shared::auth::AuthConfig;
use shared::config::TokenConfig;
use shared::store::{now, Connection, Store};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Frame;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(query: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}?{query}", stack("WEB_SOCKET_API_URL"));
    tokio_tungstenite::connect_async(url).await.map(|(s, _)| s)
}

/// Every JSON message a socket receives within `window`.
async fn received(socket: &mut Socket, window: Duration) -> Vec<Value> {
    let until = Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until.into(), socket.next()).await {
        if let Frame::Text(text) = frame {
            out.push(serde_json::from_str(text.as_str()).expect("a JSON message"));
        }
    }
    out
}

fn about<'a>(messages: &'a [Value], campaign_id: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["campaign_id"] == campaign_id)
        .collect()
}

#[tokio::test]
async fn a_status_reaches_exactly_the_subscribed_connections_of_its_tenant() {
    // Refused at the handshake: no token, not a token.
    assert!(connect("topics=reports").await.is_err(), "no token");
    assert!(connect("token=not.a.token").await.is_err(), "garbage token");

    let acme = stack("LOCAL_ID_TOKEN_ACME_VIEWER");
    let globex = stack("LOCAL_ID_TOKEN_GLOBEX_VIEWER");
    let store = deployed_store().await;
    let (campaign_id, wamids) = campaign_with_messages(&store, "live", 1).await;
    let wamid = wamids[0].clone();

    // reports: acme's progress; campaign: one campaign's every status; globex: another tenant.
    let mut reports = connect(&format!("token={acme}"))
        .await
        .expect("acme connects");
    let mut follower = connect(&format!("token={acme}&topics=alerts"))
        .await
        .expect("acme connects");
    follower
        .send(Frame::text(
            json!({"action": "subscribe", "topics": [format!("campaign:{campaign_id}")]})
                .to_string(),
        ))
        .await
        .unwrap();
    let acknowledged = received(&mut follower, Duration::from_secs(3)).await;
    assert!(
        acknowledged.iter().any(|m| m["type"] == "subscribed"
            && m["data"]["topics"] == json!([format!("campaign:{campaign_id}")])),
        "subscribe acknowledged: {acknowledged:?}"
    );
    let mut foreign = connect(&format!("token={globex}"))
        .await
        .expect("globex connects");

    post_status(&wamid, "sent").await;
    let (to_reports, to_follower, to_foreign) = tokio::join!(
        // The status goes webhook, queue, processor, stream, counters, stream, realtime.
        received(&mut reports, Duration::from_secs(15)),
        received(&mut follower, Duration::from_secs(15)),
        received(&mut foreign, Duration::from_secs(15)),
    );

    // reports: progress only (the registration's, then the status's), no per-message update.
    let r = about(&to_reports, &campaign_id);
    assert!(
        !r.is_empty()
            && r.iter()
                .all(|m| m["type"] == "campaign_progress" && m["v"] == 1),
        "{r:?}"
    );
    assert_eq!(r.last().unwrap()["data"]["sent"], 1);

    let f = about(&to_follower, &campaign_id);
    let kinds: Vec<&str> = f.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"report_update"), "{kinds:?}");
    assert!(kinds.contains(&"campaign_progress"), "{kinds:?}");
    let update = f.iter().find(|m| m["type"] == "report_update").unwrap();
    assert_eq!(update["data"]["wamid"], wamid.as_str());
    assert_eq!(update["data"]["to"], "sent");
    assert!(update["id"].is_string(), "report updates carry the feed id");

    assert!(
        to_foreign
            .iter()
            .all(|m| m["campaign_id"] != campaign_id.as_str()),
        "globex heard acme: {to_foreign:?}"
    );

    // A connection API Gateway no longer knows (410) is deleted by the next fan-out.
    let gone = format!("gone{}", uuid::Uuid::new_v4().simple());
    store
        .put_connection(&Connection {
            connection_id: gone.clone(),
            tenant_id: "acme".into(),
            user: "left-without-saying-goodbye".into(),
            role: "viewer".into(),
            topics: vec!["reports".into()],
            connected_at: now(),
        })
        .await
        .unwrap();
    post_status(&wamid, "delivered").await;
    let started = Instant::now();
    while store.connection(&gone).await.unwrap().is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "gone connection not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = received(&mut reports, Duration::from_secs(2)).await;
    assert!(about(&after, &campaign_id)
        .iter()
        .any(|m| m["type"] == "campaign_progress" && m["data"]["delivered"] == 1));
}

// ---------------------------------------------------------------- the $connect handler

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "realtime-test";
const SECRET: &str = "realtime-test-secret";

async fn routes() -> (websocket::Routes, Store) {
    let aws = local_aws().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let table = create_test_table(&ddb).await;
    let tokens = TokenConfig {
        auth: AuthConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            hs256_secret: Some(SECRET.into()),
            tenant_claim: "org_id".into(),
            role_claim: "role".into(),
            leeway_seconds: 0,
        },
        jwks_url: None,
        jwks_json: None,
    };
    let routes = websocket::Routes::build(&tokens, ddb.clone(), &table, None).await;
    (routes, Store::new(ddb, table))
}

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn claims(exp_offset: i64, issuer: &str) -> Value {
    let t = now() as i64;
    json!({"sub": "u1", "iss": issuer, "aud": AUDIENCE, "exp": t + exp_offset, "iat": t - 10,
           "org_id": "acme", "role": "viewer"})
}

fn event(
    route: &str,
    connection_id: &str,
    query: Value,
    headers: Value,
    body: Option<&str>,
) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
    let payload = json!({
        "headers": headers,
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "requestContext": {"routeKey": route, "connectionId": connection_id, "eventType": "CONNECT",
                           "connectedAt": 0, "requestTimeEpoch": 0, "identity": {}, "authorizer": null},
        "body": body,
        "isBase64Encoded": false,
    });
    LambdaEvent::new(serde_json::from_value(payload).unwrap(), Context::default())
}

#[tokio::test]
async fn connect_admits_only_valid_tokens_and_a_refusal_leaves_no_item() {
    let (routes, store) = routes().await;
    let cases = [
        ("missing", json!({})),
        ("expired", json!({"token": token(claims(-3600, ISSUER))})),
        (
            "foreign issuer",
            json!({"token": token(claims(3600, "https://elsewhere"))}),
        ),
        ("garbage", json!({"token": "a.b.c"})),
    ];
    for (what, query) in cases {
        let id = format!("refused-{}", uuid::Uuid::new_v4().simple());
        let r = websocket::handle(&routes, event("$connect", &id, query, json!({}), None))
            .await
            .unwrap();
        assert_eq!(r.status_code, 401, "{what}");
        assert!(
            store.connection(&id).await.unwrap().is_none(),
            "{what}: item left"
        );
    }

    // By query string, default topics.
    let good = token(claims(3600, ISSUER));
    let r = websocket::handle(
        &routes,
        event(
            "$connect",
            "c-query",
            json!({"token": good}),
            json!({}),
            None,
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, 200);
    let c = store.connection("c-query").await.unwrap().unwrap();
    assert_eq!((c.tenant_id.as_str(), c.role.as_str()), ("acme", "viewer"));
    assert_eq!(c.topics, vec!["reports", "templates", "alerts"]);

    // By subprotocol (browsers): the chosen subprotocol is echoed.
    let r = websocket::handle(
        &routes,
        event(
            "$connect",
            "c-proto",
            json!({"topics": "campaign:c-acme-1"}),
            json!({"sec-websocket-protocol": format!("bearer, {good}")}),
            None,
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, 200);
    assert_eq!(r.headers.get("sec-websocket-protocol").unwrap(), "bearer");
    assert_eq!(
        store.connection("c-proto").await.unwrap().unwrap().topics,
        vec!["campaign:c-acme-1"]
    );

    // Unknown topics are refused; subscribe replaces topics; $disconnect forgets.
    let r = websocket::handle(
        &routes,
        event(
            "$connect",
            "c-bad",
            json!({"token": good, "topics": "everything"}),
            json!({}),
            None,
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, 400);
    assert!(store.connection("c-bad").await.unwrap().is_none());
    let subscribe = r#"{"action":"subscribe","topics":["templates","campaign:c-acme-2"]}"#;
    let r = websocket::handle(
        &routes,
        event(
            "subscribe",
            "c-query",
            json!({}),
            json!({}),
            Some(subscribe),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, 200);
    assert_eq!(
        store.connection("c-query").await.unwrap().unwrap().topics,
        vec!["templates", "campaign:c-acme-2"]
    );
    let r = websocket::handle(
        &routes,
        event(
            "subscribe",
            "c-unknown",
            json!({}),
            json!({}),
            Some(subscribe),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, 410);
    let r = websocket::handle(
        &routes,
        event(
            "subscribe",
            "c-query",
            json!({}),
            json!({}),
            Some(r#"{"action":"subscribe","topics":["x"]}"#),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, 400);
    let r = websocket::handle(
        &routes,
        event("$disconnect", "c-query", json!({}), json!({}), None),
    )
    .await
    .unwrap();
    assert_eq!(r.status_code, 200);
    assert!(store.connection("c-query").await.unwrap().is_none());
    let connections = store.tenant_connections("acme").await.unwrap();
    assert_eq!(
        connections.len(),
        1,
        "only c-proto is left: {connections:?}"
    );
}
