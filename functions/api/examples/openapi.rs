//! Prints the API's OpenAPI document, derived from its Rust types:
//! `cargo run -p api --example openapi > functions/api/openapi.json`.

fn main() -> Result<(), serde_json::Error> {
    print!("{}", api::openapi::pretty()?);
    Ok(())
}
