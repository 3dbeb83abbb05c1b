//! A contact's erasure (`DELETE /contacts/{contact}`, org_admin and above): within the tenant,
//! its recipient id comes off its campaigns' message items (their counts stay), and its
//! windows and opt-outs are deleted. Idempotent; audited under a keyed pseudonym of the contact,
//! never the contact id. Archived bodies expire within ArchiveRetentionDays (docs/privacy.md).
//!
//! It answers 202 with its job id: `done` when it finished within the API's time, else
//! `running`, and the same request continues where it stopped.

use crate::alerts::record_action;
use crate::engagement::ContactPath;
use crate::http::{self, TenantQuery};
use crate::responses::Refused;
use crate::{Api, ApiError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::auth::{Caller, Role};
use shared::store::queries::text;
use shared::store::{s, MessagesCursor};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// Work stops for a continuation after this (the API's timeout is 10 s).
const TIME_BUDGET: Duration = Duration::from_secs(6);
/// Message items read per page.
const PAGE: i32 = 500;

/// An erasure job's state.
#[derive(Serialize, ToSchema)]
pub(crate) struct Erasure {
    /// A keyed pseudonym of the contact: the same for every request about it
    job_id: String,
    /// `done`, or `running` (make the same request again to continue)
    #[schema(pattern = "^(done|running)$")]
    state: &'static str,
    /// Message items whose recipient id was erased (their delivery counts stay)
    messages_erased: u64,
    windows_deleted: u64,
    opt_outs_deleted: u64,
}

/// Erase a contact's personal data in the tenant (org_admin+): its recipient id on message
/// items, its windows and opt-outs. 202 with the job's state; an unknown contact erases nothing
#[utoipa::path(
    delete,
    path = "/contacts/{contact}",
    operation_id = "eraseContact",
    params(ContactPath, TenantQuery),
    responses((status = 202, description = "Accepted: done, or running (repeat to continue)", body = inline(Erasure)), Refused),
    security(("bearerAuth" = []))
)]
pub(crate) async fn erase(
    api: &Api,
    caller: &Caller,
    tenant: &str,
    contact: ContactPath<'_>,
) -> Result<Response<Body>, ApiError> {
    caller.require(Role::OrgAdmin)?;
    let contact = contact.contact;
    if contact.is_empty()
        || contact.len() > 64
        || !contact
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ApiError::bad(
            "invalid_contact",
            "a contact is its WhatsApp id: 1-64 of A-Z a-z 0-9 . _ -",
        ));
    }
    let started = Instant::now();
    let job_id = api.cursors.pseudonym(tenant, contact);
    let mut job = api.store.erasure_job(tenant, &job_id).await?;
    if job.done {
        // Erased before: again, for what arrived since.
        job = shared::store::ErasureJob {
            job_id: job_id.clone(),
            ..Default::default()
        };
    }
    let campaigns = api.store.list_all(tenant, "CAMPAIGN#").await?;
    let ids: Vec<String> = campaigns
        .iter()
        .filter_map(|c| text(c, "campaign_id"))
        .collect();
    while (job.next_campaign as usize) < ids.len() {
        if started.elapsed() > TIME_BUDGET {
            api.store.save_erasure_job(tenant, &job).await?;
            return answer(&job);
        }
        let campaign = &ids[job.next_campaign as usize];
        let mut cursor = MessagesCursor::default();
        loop {
            let (items, next) = api
                .store
                .campaign_messages(tenant, campaign, None, PAGE, cursor)
                .await?;
            for item in items {
                if text(&item, "recipient_id").as_deref() == Some(contact) {
                    if let Some(wamid) = text(&item, "wamid") {
                        if api.store.erase_recipient(tenant, &wamid).await? {
                            job.messages_erased += 1;
                        }
                    }
                }
            }
            match next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        job.next_campaign += 1;
    }
    for number in api.store.phone_numbers(tenant).await? {
        let (window, opt_out) = api
            .store
            .delete_contact_state(tenant, &number.phone_number_id, contact)
            .await?;
        job.windows_deleted += u64::from(window);
        job.opt_outs_deleted += u64::from(opt_out);
    }
    job.done = true;
    api.store.save_erasure_job(tenant, &job).await?;
    record_action(
        api,
        tenant,
        caller,
        "contact_erased",
        &[
            ("subject", s(format!("contact:{job_id}"))),
            ("count", shared::store::n(job.messages_erased)),
        ],
    )
    .await?;
    answer(&job)
}

fn answer(job: &shared::store::ErasureJob) -> Result<Response<Body>, ApiError> {
    http::json(
        StatusCode::ACCEPTED,
        &Erasure {
            job_id: job.job_id.clone(),
            state: if job.done { "done" } else { "running" },
            messages_erased: job.messages_erased,
            windows_deleted: job.windows_deleted,
            opt_outs_deleted: job.opt_outs_deleted,
        },
    )
}
