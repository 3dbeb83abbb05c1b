//! `make migrate-index`: moves the campaigns and messages a deployed table holds from before
//! `gsi2` to it, a Scan page at a time (docs/operations.md, "Migrating a deployed table"). `--dry-run`
//! counts them and changes nothing. The table is `TABLE_NAME` (the stack's `TableName` output).
//! The functions read both indexes while it runs; running it again moves nothing twice.

use shared::store::Store;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let dry_run = std::env::args().any(|a| a == "--dry-run");
    let Ok(table) = std::env::var("TABLE_NAME") else {
        eprintln!("migrate-index: set TABLE_NAME to the stack's table (output TableName)");
        return ExitCode::FAILURE;
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let (mut scanned, mut moved, mut start) = (0, 0, None);
    loop {
        match store.move_page_to_member_index(start, 500, dry_run).await {
            Ok(page) => {
                scanned += page.scanned;
                moved += page.moved;
                start = page.next;
            }
            Err(e) => {
                eprintln!(
                    "migrate-index: stopped after {scanned} items read: {e}; run it again to go on"
                );
                return ExitCode::FAILURE;
            }
        }
        if start.is_none() {
            break;
        }
    }
    let verb = if dry_run { "to move" } else { "moved" };
    println!("migrate-index: {scanned} items read, {moved} campaigns and messages {verb} to gsi2");
    ExitCode::SUCCESS
}
