//! The error responses operations document (`responses(..., Refused)`): problem+json bodies,
//! and API Gateway's own 401. The feature modules name them; the OpenAPI document collects them.

use crate::{http, Problem};
use std::collections::BTreeMap;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response as ResponseDoc, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, ToSchema};

/// 400, 401, 403 and 503: what any operation with a token can answer.
pub(crate) struct Refused;

impl IntoResponses for Refused {
    fn responses() -> BTreeMap<String, RefOr<ResponseDoc>> {
        BTreeMap::from([
            ("400".into(), problem("Invalid input")),
            ("401".into(), unauthorized()),
            ("403".into(), problem("Not allowed for this role or tenant")),
            ("503".into(), problem("Temporarily unavailable")),
        ])
    }
}

/// [`Refused`], and 404 for an operation on one resource.
pub(crate) struct RefusedOrMissing;

impl IntoResponses for RefusedOrMissing {
    fn responses() -> BTreeMap<String, RefOr<ResponseDoc>> {
        let mut responses = Refused::responses();
        responses.insert("404".into(), problem("No such resource for this tenant"));
        responses
    }
}

fn problem_content() -> ContentBuilder {
    ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name())))
}

fn problem(description: &str) -> RefOr<ResponseDoc> {
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", problem_content().build())
        .into()
}

/// Deployed, the HTTP API's JWT authorizer refuses a bad token before the function runs, with
/// API Gateway's own body; a token it admits is checked again by the function (problem+json).
fn unauthorized() -> RefOr<ResponseDoc> {
    let gateway = ObjectBuilder::new()
        .schema_type(Type::Object)
        .required("message")
        .property("message", http::string_enum(&["Unauthorized"]));
    ResponseBuilder::new()
        .description("Missing, expired or invalid token")
        .content("application/problem+json", problem_content().build())
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(gateway)).build(),
        )
        .into()
}
