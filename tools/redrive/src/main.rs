//! `redrive [--dry-run] [--limit N] [--from DLQ_URL] [--to QUEUE_URL]`
//!
//! Queues default to `WEBHOOK_DLQ_URL` and `WEBHOOK_QUEUE_URL` (the stack's outputs
//! `WebhookDeadLetterQueueUrl` and `WebhookQueueUrl`; `make redrive` reads them from
//! `.local/stack.env` for the local stack). AWS credentials and region come from the usual
//! environment.

use redrive::Redrive;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: redrive [--dry-run] [--limit N] [--from DLQ_URL] [--to QUEUE_URL]");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut dry_run = false;
    let mut limit = usize::MAX;
    let mut from = std::env::var("WEBHOOK_DLQ_URL").ok();
    let mut to = std::env::var("WEBHOOK_QUEUE_URL").ok();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--limit" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => limit = n,
                None => return usage(),
            },
            "--from" => from = args.next(),
            "--to" => to = args.next(),
            _ => return usage(),
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return usage();
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let redrive = Redrive::new(aws_sdk_sqs::Client::new(&aws), &from, &to);
    if dry_run {
        match redrive.survey().await {
            Ok(counts) => {
                println!("parked on {from} (dry run: nothing moved):");
                for (reason, count) in &counts {
                    println!("  {reason:<24} {count}");
                }
                println!("  {:<24} {}", "total", counts.values().sum::<usize>());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("redrive: {e}");
                ExitCode::FAILURE
            }
        }
    } else {
        match redrive.run(limit).await {
            Ok(moved) => {
                println!("moved {} to {to}:", moved.moved());
                for (reason, count) in &moved.by_reason {
                    println!("  {reason:<24} {count}");
                }
                println!(
                    "duplicates deleted without sending: {}; failed to send (still parked): {}",
                    moved.duplicates, moved.failed
                );
                if moved.failed > 0 {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("redrive: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
