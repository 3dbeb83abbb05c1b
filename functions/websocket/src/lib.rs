//! The WebSocket API's routes. `$connect` admits a connection only with a token that passes the
//! same checks as the API (`shared::auth`), from `?token=` or the `Sec-WebSocket-Protocol`
//! header (`bearer, <jwt>`, for browsers that cannot set headers); a refused connection leaves
//! no item. `$disconnect` forgets it; `subscribe` picks its topics and is answered on the socket
//! (`subscribed` or `error`, posted through `@connections`, so no route response is needed).
//! Fan-out is `functions/realtime`.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;
use shared::auth::{Caller, KeyedVerifier};
use shared::config::TokenConfig;
use shared::realtime::Topic;
use shared::store::{now, Connection, Store};
use tracing::{info, warn};

/// The subprotocol a browser offers next to its token, and that `$connect` selects.
pub const TOKEN_SUBPROTOCOL: &str = "bearer";
/// Topics per connection, at most.
pub const MAX_TOPICS: usize = 20;

/// Store, token verifier and the `@connections` client, built once per container.
pub struct Routes {
    store: Store,
    auth: KeyedVerifier,
    /// Replies go through it; without one (handler tests) they are only logged.
    replies: Option<aws_sdk_apigatewaymanagement::Client>,
}

impl Routes {
    pub async fn build(
        tokens: &TokenConfig,
        dynamodb: aws_sdk_dynamodb::Client,
        table: &str,
        replies: Option<aws_sdk_apigatewaymanagement::Client>,
    ) -> Self {
        Self {
            replies,
            store: Store::new(dynamodb, table),
            auth: KeyedVerifier::new(
                tokens.auth.clone(),
                tokens.jwks_url.clone(),
                tokens.jwks_json.as_deref(),
            ),
        }
    }

    /// The verifier (tests load keys into it).
    pub fn verifier(&self) -> &shared::auth::Verifier {
        self.auth.verifier()
    }
}

#[derive(Deserialize)]
struct SubscribeBody {
    topics: Vec<String>,
}

fn response(status: i64, body: &str) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r.body = Some(Body::Text(body.to_owned()));
    r
}

/// Answers a message route on the socket: JSON like every other message (`subscribed` or
/// `error`), posted to the connection. The route's own response carries only the status.
async fn reply(
    routes: &Routes,
    connection_id: &str,
    status: i64,
    kind: &str,
    detail: serde_json::Value,
) -> ApiGatewayProxyResponse {
    let body = serde_json::json!({"v": shared::realtime::VERSION, "type": kind, "status": status, "data": detail});
    if let Some(client) = &routes.replies {
        let sent = client
            .post_to_connection()
            .connection_id(connection_id)
            .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
                body.to_string().into_bytes(),
            ))
            .send()
            .await;
        if let Err(e) = sent {
            warn!(error = %aws_sdk_apigatewaymanagement::Error::from(e), "reply not delivered");
        }
    }
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r
}

/// The token of a `$connect`: `?token=`, else the subprotocol entry after `bearer`.
fn token_of(event: &ApiGatewayWebsocketProxyRequest) -> Option<(String, bool)> {
    if let Some(t) = event.query_string_parameters.first("token") {
        return Some((t.to_owned(), false));
    }
    let protocols = event.headers.get("sec-websocket-protocol")?.to_str().ok()?;
    let mut entries = protocols.split(',').map(str::trim);
    entries.find(|p| *p == TOKEN_SUBPROTOCOL)?;
    entries.next().map(|t| (t.to_owned(), true))
}

/// `reports,campaign:c1` into topics; `None` if any is unknown or there are too many.
fn parse_topics<'a>(names: impl Iterator<Item = &'a str>) -> Option<Vec<Topic>> {
    let topics: Option<Vec<Topic>> = names.map(Topic::parse).collect();
    topics.filter(|t| !t.is_empty() && t.len() <= MAX_TOPICS)
}

async fn connect(
    routes: &Routes,
    event: &ApiGatewayWebsocketProxyRequest,
    connection_id: &str,
) -> ApiGatewayProxyResponse {
    let Some((token, by_subprotocol)) = token_of(event) else {
        return response(401, "a token is required");
    };
    let caller: Caller = match routes.auth.verify(&token).await {
        Ok(c) => c,
        Err(e) => {
            warn!(reason = %e, "websocket token refused");
            return response(401, "token refused");
        }
    };
    let topics = match event.query_string_parameters.first("topics") {
        None => Topic::defaults(),
        Some(list) => match parse_topics(list.split(',')) {
            Some(t) => t,
            None => return response(400, "unknown topic"),
        },
    };
    let connection = Connection {
        connection_id: connection_id.to_owned(),
        tenant_id: caller.tenant_id.clone(),
        user: caller.subject.clone(),
        role: caller.role.as_str().to_owned(),
        topics: topics.iter().map(Topic::as_string).collect(),
        connected_at: now(),
    };
    if let Err(e) = routes.store.put_connection(&connection).await {
        warn!(error = %e, "connection could not be stored");
        return response(503, "try again");
    }
    info!(tenant_id = caller.tenant_id, topics = ?connection.topics, "connected");
    let mut r = response(200, "connected");
    if by_subprotocol {
        let mut headers = HeaderMap::new();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(TOKEN_SUBPROTOCOL),
        );
        r.headers = headers;
    }
    r
}

async fn subscribe(
    routes: &Routes,
    event: &ApiGatewayWebsocketProxyRequest,
    connection_id: &str,
) -> ApiGatewayProxyResponse {
    let body: Option<SubscribeBody> = event
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok());
    let Some(topics) = body.and_then(|b| parse_topics(b.topics.iter().map(String::as_str))) else {
        return reply(
            routes,
            connection_id,
            400,
            "error",
            "topics: reports, templates, alerts or campaign:<id>".into(),
        )
        .await;
    };
    let names: Vec<String> = topics.iter().map(Topic::as_string).collect();
    match routes.store.set_topics(connection_id, &names).await {
        Ok(true) => {
            let detail = serde_json::json!({ "topics": names });
            reply(routes, connection_id, 200, "subscribed", detail).await
        }
        Ok(false) => {
            reply(
                routes,
                connection_id,
                410,
                "error",
                "connection unknown".into(),
            )
            .await
        }
        Err(e) => {
            warn!(error = %e, "topics could not be stored");
            reply(routes, connection_id, 503, "error", "try again".into()).await
        }
    }
}

/// Handles one route event.
pub async fn handle(
    routes: &Routes,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let event = event.payload;
    let context = &event.request_context;
    let Some(connection_id) = context.connection_id.clone().filter(|c| !c.is_empty()) else {
        return Ok(response(400, "no connection id"));
    };
    let route = context.route_key.as_deref().unwrap_or("$default");
    Ok(match route {
        "$connect" => connect(routes, &event, &connection_id).await,
        "$disconnect" => match routes.store.delete_connection(&connection_id).await {
            Ok(()) => response(200, "bye"),
            Err(e) => {
                // The item expires by TTL anyway; fan-out deletes it on the first 410.
                warn!(error = %e, "connection could not be deleted");
                response(200, "bye")
            }
        },
        "subscribe" => subscribe(routes, &event, &connection_id).await,
        _ => {
            let detail = r#"unknown action; send {"action":"subscribe","topics":[...]}"#;
            reply(routes, &connection_id, 400, "error", detail.into()).await
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_parsed_strictly_and_bounded() {
        assert_eq!(
            parse_topics("reports,campaign:c1".split(',')),
            Some(vec![Topic::Reports, Topic::Campaign("c1".into())])
        );
        assert_eq!(parse_topics("reports,everything".split(',')), None);
        assert_eq!(parse_topics("".split(',')), None);
        let many = vec!["alerts"; MAX_TOPICS + 1];
        assert_eq!(parse_topics(many.into_iter()), None);
    }
}
