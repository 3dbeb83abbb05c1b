//! `make recount [TENANT=…] [CAMPAIGN=…] [ARGS=--repair]`: every campaign's counters (of one
//! tenant, or of every routed tenant; or one campaign) recomputed from its message items with
//! the fold's contribution rules, and each difference printed. `--repair` corrects the drift of
//! campaigns at rest (messages unchanged for 10 minutes), each with an audit entry
//! (`counters_repaired`, actor `recount`). Exit status 1 when drift remains.
//! TABLE_NAME comes from the stack (.local/stack.env under `make dev`).

use shared::recount::{Recount, Scope};
use shared::store::Store;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let repair = std::env::args().any(|a| a == "--repair");
    let Some(table) = var("TABLE_NAME") else {
        eprintln!("recount: TABLE_NAME is not set");
        return ExitCode::from(2);
    };
    let scope = Scope {
        tenant: var("TENANT"),
        campaign: var("CAMPAIGN"),
        active_since: None,
    };
    if scope.campaign.is_some() && scope.tenant.is_none() {
        eprintln!("recount: CAMPAIGN needs TENANT");
        return ExitCode::from(2);
    }
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let recount = Recount::new(Store::new(aws_sdk_dynamodb::Client::new(&aws), table));
    let found = match recount.run(&scope, repair, "recount").await {
        Ok(found) => found,
        Err(e) => {
            eprintln!("recount: {e}");
            return ExitCode::from(2);
        }
    };
    let mut remaining = 0;
    for r in &found {
        let state = match (r.drift.is_empty(), r.repaired, r.moving) {
            (true, _, _) => "ok".to_owned(),
            (false, true, _) => "REPAIRED".to_owned(),
            (false, false, true) => {
                "differs, but its messages changed in the last 10 minutes: again later".to_owned()
            }
            (false, false, false) => "DRIFT".to_owned(),
        };
        if !r.drift.is_empty() && !r.repaired {
            remaining += 1;
        }
        println!(
            "{}/{}: {} messages: {state}",
            r.tenant_id, r.campaign_id, r.messages
        );
        for (attribute, stored, recounted) in &r.drift {
            println!("    {attribute}: {stored} stored, {recounted} from the messages");
        }
    }
    println!(
        "recount: {} campaigns, {} drifting{}",
        found.len(),
        found.iter().filter(|r| !r.drift.is_empty()).count(),
        if repair {
            format!(", {} repaired", found.iter().filter(|r| r.repaired).count())
        } else {
            String::new()
        }
    );
    if remaining > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
