//! What every feature shares: query strings and JSON bodies as typed structs, JSON responses,
//! stored records as JSON, and one page of a list with a signed cursor.

use crate::{Api, ApiError};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::store::queries::{key_from_strings, key_strings, ListQuery};
use shared::store::AttributeValue;
use std::collections::HashMap;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

const MAX_PAGE: i32 = 100;

/// `?tenant=`, read for every authenticated route.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TenantQuery {
    /// super_admin only: act on this tenant
    #[param(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub tenant: Option<String>,
}

/// `?limit=&cursor=` of a list; read by [`page`].
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    #[param(value_type = Option<i32>, minimum = 1, maximum = 100, default = 50)]
    limit: Option<String>,
    /// next_cursor of the previous page
    #[param(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

/// A phone number in the path (a Meta id).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PhonePath<'r> {
    #[param(pattern = "^[0-9]{1,20}$")]
    pub phone_number_id: &'r str,
}

/// A template in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TemplatePath<'r> {
    #[param(pattern = "^[0-9]{1,19}$")]
    pub template_id: &'r str,
}

impl TemplatePath<'_> {
    /// Template ids are unsigned integers up to u64.
    pub(crate) fn id(&self) -> Result<u64, ApiError> {
        template_id(self.template_id)
    }
}

/// The query string as `T`: the first value of each parameter. Fields are raw `Option<String>`s
/// that the handler checks, so each check keeps its own error code and order (with such fields
/// this cannot fail; the error is for a field of another type).
pub(crate) fn query<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let mut fields = Map::new();
    for (name, value) in req
        .query_string_parameters_ref()
        .into_iter()
        .flat_map(|q| q.iter())
    {
        fields.entry(name).or_insert_with(|| Value::from(value));
    }
    serde_json::from_value(Value::Object(fields)).map_err(|_| {
        ApiError::bad(
            "invalid_query",
            "query parameters are not the expected ones",
        )
    })
}

/// The request body as `T`, or 400.
pub(crate) fn body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    serde_json::from_slice(bytes)
        .map_err(|_| ApiError::bad("invalid_body", "request body is not the expected JSON"))
}

/// The request body as `T`; an empty body is `T::default()`.
pub(crate) fn optional_body<T: DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if req.body().as_ref().is_empty() {
        Ok(T::default())
    } else {
        body(req)
    }
}

/// A filter value from a closed set, or 400.
pub(crate) fn one_of(
    name: &str,
    value: Option<String>,
    allowed: &[&str],
) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
        Some(_) => Err(ApiError::bad(
            "invalid_filter",
            format!("{name} must be one of {}", allowed.join(", ")),
        )),
    }
}

/// The schema of a string from a closed set (the same slice the handler checks against).
pub(crate) fn string_enum(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
}

/// Template ids are unsigned integers up to u64.
pub(crate) fn template_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad("invalid_template_id", "template ids are unsigned integers"))
}

/// A phone number id in a path: Meta's ids are 1-20 digits; anything else is 400.
pub(crate) fn check_phone_number_id(phone_number_id: &str) -> Result<(), ApiError> {
    let valid = (1..=20).contains(&phone_number_id.len())
        && phone_number_id.bytes().all(|b| b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid_phone_number_id",
            "a phone number id is 1-20 digits",
        ))
    }
}

/// Tenant and campaign ids: 1-128 of `A-Z a-z 0-9 - _ .`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A response with a body of `content_type`.
pub(crate) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Result<Response<Body>, ApiError> {
    Ok(respond(
        status,
        "application/json",
        serde_json::to_string(value)?,
    ))
}

/// 200 with a JSON body.
pub(crate) fn ok(value: &impl Serialize) -> Result<Response<Body>, ApiError> {
    json(StatusCode::OK, value)
}

/// A stored record as JSON, without its keys and internal bookkeeping: lists return records as
/// they are stored, whatever attributes they have.
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct Item(Map<String, Value>);

impl PartialSchema for Item {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("A stored record without internal keys"))
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)))
            .into()
    }
}

impl ToSchema for Item {}

impl Item {
    pub(crate) fn of(item: &shared::store::Item) -> Self {
        let mut out = Map::new();
        for (k, v) in item {
            if matches!(
                k.as_str(),
                "pk" | "sk"
                    | "gsi1pk"
                    | "gsi1sk"
                    | "gsi2pk"
                    | "gsi2sk"
                    | "version"
                    | "entity"
                    | "expires_at"
            ) {
                continue;
            }
            let value = match v {
                AttributeValue::S(s) => Value::from(s.clone()),
                // Template ids are up to u64: JSON clients lose precision past 2^53, so they go out as strings.
                AttributeValue::N(n) if k == "template_id" => Value::from(n.clone()),
                AttributeValue::N(n) => n
                    .parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| n.parse::<f64>().map(Value::from))
                    .unwrap_or(Value::Null),
                AttributeValue::Bool(b) => Value::from(*b),
                AttributeValue::Ss(list) => Value::from(list.clone()),
                _ => continue,
            };
            out.insert(k.clone(), value);
        }
        Self(out)
    }

    /// Takes out a string attribute (a value of another type stays where it is).
    pub(crate) fn take_text(&mut self, name: &str) -> Option<String> {
        match self.0.remove(name)? {
            Value::String(s) => Some(s),
            other => {
                self.0.insert(name.to_owned(), other);
                None
            }
        }
    }

    /// Takes out an attribute, whatever its type.
    pub(crate) fn remove(&mut self, name: &str) {
        self.0.remove(name);
    }
}

/// One page of a list, and the cursor of the next (`null` on the last page).
#[derive(Serialize, ToSchema)]
pub(crate) struct Page {
    items: Vec<Item>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// One page of `q`, continuing from `?cursor=` and sized by `?limit=` (1 to 100).
pub(crate) async fn page(
    api: &Api,
    req: &Request,
    tenant: &str,
    scope: &str,
    q: ListQuery,
) -> Result<Response<Body>, ApiError> {
    page_up_to(api, req, tenant, scope, q, MAX_PAGE).await
}

/// [`page`] for a list whose `?limit=` may reach `max`.
pub(crate) async fn page_up_to(
    api: &Api,
    req: &Request,
    tenant: &str,
    scope: &str,
    mut q: ListQuery,
    max: i32,
) -> Result<Response<Body>, ApiError> {
    // The scope includes the filters, so a cursor only continues the list it came from.
    let scope = format!(
        "{scope}|{}",
        q.filters
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let (limit, start) = page_request_up_to(api, req, tenant, &scope, max)?;
    q.limit = limit;
    if let Some(key) = start {
        // Belt and braces: the key must lie in the partition this query reads.
        if key.get(q.partition_attribute()) != Some(&q.partition) {
            return Err(invalid_cursor());
        }
        q.start = Some(key_from_strings(key));
    }
    let attributes = q.key_attributes();
    let result = api.store.list(q).await?;
    let next = result.next.map(|k| {
        let mut key = key_strings(&k);
        key.retain(|name, _| attributes.contains(&name.as_str()));
        key
    });
    page_response(api, tenant, &scope, &result.items, next)
}

fn invalid_cursor() -> ApiError {
    ApiError::bad("invalid_cursor", "cursor is not valid for this list")
}

/// A page request's `?limit=` (default 50) and where its `?cursor=` continues: the key it was
/// sealed with, for this tenant and `scope` only.
pub(crate) fn page_request(
    api: &Api,
    req: &Request,
    tenant: &str,
    scope: &str,
) -> Result<(i32, Option<HashMap<String, String>>), ApiError> {
    page_request_up_to(api, req, tenant, scope, MAX_PAGE)
}

fn page_request_up_to(
    api: &Api,
    req: &Request,
    tenant: &str,
    scope: &str,
    max: i32,
) -> Result<(i32, Option<HashMap<String, String>>), ApiError> {
    let PageQuery { limit, cursor } = query(req)?;
    let limit = match limit {
        None => 50,
        Some(raw) => match raw.parse::<i32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(ApiError::bad(
                    "invalid_limit",
                    format!("limit must be 1 to {max}"),
                ))
            }
        },
    };
    let start = cursor
        .map(|c| {
            api.cursors
                .open(&c, tenant, scope)
                .map_err(|_| invalid_cursor())
        })
        .transpose()?;
    Ok((limit, start))
}

/// A page of `items`, and the next page's cursor sealed from `next` (for this tenant and scope).
pub(crate) fn page_response(
    api: &Api,
    tenant: &str,
    scope: &str,
    items: &[shared::store::Item],
    next: Option<HashMap<String, String>>,
) -> Result<Response<Body>, ApiError> {
    ok(&Page {
        items: items.iter().map(Item::of).collect(),
        next_cursor: next.map(|key| api.cursors.seal(tenant, scope, key)),
    })
}
