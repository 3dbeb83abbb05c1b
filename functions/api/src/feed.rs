//! The tenant's change feed since an id (`GET /feed?after=`): what a client missed while its
//! WebSocket was down, in the messages the live paths send, so that a reconnect loses nothing.

use crate::http::{self, TenantQuery};
use crate::responses::Refused;
use crate::{Api, ApiError};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::realtime::{sse, Message, FEED_SETTLE_MILLIS};
use shared::store::feed_id_floor;
use utoipa::{IntoParams, ToSchema};

/// Feed items read per call.
const MAX_ITEMS: i32 = 100;

/// `?after=&limit=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FeedQuery {
    /// The last feed id the client has (a message's `id`, or the previous answer's `last`)
    #[param(
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    after: String,
    /// Feed items to read (each may hold many messages)
    #[param(value_type = Option<i32>, minimum = 1, maximum = 100, default = 100)]
    limit: Option<String>,
}

/// What the feed holds after `after`.
#[derive(Serialize, ToSchema)]
pub(crate) struct FeedPage {
    /// The messages, oldest first, as the WebSocket and SSE send them
    #[schema(value_type = Vec<Object>)]
    items: Vec<Message>,
    /// Where to read on from: the last feed item read (or `after` when none was)
    last: String,
    /// True when a full page was read: ask again with `last`
    more: bool,
}

/// The feed since an id: the messages a client missed (ids wait 3 s to settle, as on SSE)
#[utoipa::path(
    get,
    path = "/feed",
    operation_id = "readFeed",
    params(TenantQuery, FeedQuery),
    responses((status = 200, description = "OK", body = inline(FeedPage)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn after(
    api: &Api,
    req: &Request,
    tenant: &str,
) -> Result<Response<Body>, ApiError> {
    let q: FeedQuery = http::query(req)?;
    if !sse::valid_event_id(&q.after) {
        return Err(ApiError::bad(
            "invalid_after",
            "after is a feed id (a UUID)",
        ));
    }
    let limit = match q.limit.as_deref() {
        None => MAX_ITEMS,
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_ITEMS).contains(n))
            .ok_or_else(|| ApiError::bad("invalid_limit", "limit is 1 to 100"))?,
    };
    let until = feed_id_floor(shared::store::now_ms().saturating_sub(FEED_SETTLE_MILLIS));
    let read = api
        .store
        .feed_after(tenant, &q.after, &until, limit)
        .await?;
    let more = read.len() == limit as usize;
    let last = read.last().map_or(q.after.clone(), |f| f.sk.clone());
    http::ok(&FeedPage {
        items: read.iter().flat_map(Message::from_feed).collect(),
        last,
        more,
    })
}
