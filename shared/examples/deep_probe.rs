//! How deep a body `shared::meta::parse` survives on a 2 MiB thread (a tokio worker's stack):
//! `cargo run -p shared --example deep_probe -- 50000` (debug) or with `--release`. Each level
//! is one array inside an unknown field of a valid body.

fn main() {
    let levels: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"106540352242922"}},"unknown_field":{}{}}},"field":"messages"}}]}}]}}"#,
        "[".repeat(levels),
        "]".repeat(levels)
    );
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || format!("{:?}", shared::meta::parse(body.as_bytes()).map(|_| ())))
        .map(|t| t.join());
    match outcome {
        Ok(Ok(result)) => println!("{levels} levels: {result}"),
        _ => println!("{levels} levels: the probe thread failed"),
    }
}
