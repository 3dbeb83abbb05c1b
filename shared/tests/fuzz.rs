//! Fuzz targets: every parser that reads input an attacker or Meta controls. Each must return
//! (any result) for any bytes, never panic, never overflow the stack.
//!
//! Under `cargo test` each runs every fixture in `events/meta` as a seed, then bolero's random
//! engine for `BOLERO_RANDOM_TEST_TIME_MS` (`make test` sets 3 s; 1 s by default). `make fuzz`
//! runs them under libFuzzer (coverage-guided, nightly) for `FUZZ_SECONDS` each, seeded with
//! the same fixtures. A crash found becomes a named regression test below.

use secrecy::SecretString;
use shared::auth::{AuthConfig, Verifier};
use shared::cursor::CursorSigner;
use shared::meta::SignatureVerifier;

/// Every fixture body in `events/meta` (and `bad/`): the seeds.
fn seeds() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/meta");
    let mut out = Vec::new();
    for dir in [root.clone(), root.join("bad")] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_file() {
                out.push(std::fs::read(entry.path()).unwrap_or_default());
            }
        }
    }
    out
}

/// Runs a target on every seed, then under bolero's engine. A macro, not a function: bolero
/// names each target after the test function its `check!()` is written in.
macro_rules! fuzz {
    ($target:expr) => {{
        let target = $target;
        for seed in seeds() {
            target(&seed);
        }
        bolero::check!().for_each(|input: &[u8]| target(input));
    }};
}

#[test]
fn fuzz_signature_header() {
    let verifier =
        SignatureVerifier::new(&[SecretString::from("fixture-app-secret")]).expect("a secret");
    fuzz!(|input: &[u8]| {
        // The header is the input's first line, the body the rest.
        let (header, body) = match input.iter().position(|b| *b == b'\n') {
            Some(i) => (&input[..i], &input[i + 1..]),
            None => (input, &b""[..]),
        };
        let _ = verifier.verify(Some(header), body);
    });
}

#[test]
fn fuzz_meta_parse() {
    fuzz!(|input: &[u8]| {
        let _ = shared::meta::parse(input);
    });
}

#[test]
fn fuzz_ingest_plan() {
    fuzz!(|input: &[u8]| {
        // A small message limit so splitting runs on small inputs too.
        let _ = shared::ingest::plan(input, 4096);
        let _ = shared::ingest::plan(input, 262_144);
    });
}

#[test]
fn fuzz_processor_decode() {
    fuzz!(|input: &[u8]| {
        let _ = shared::process::decode(input);
    });
}

#[test]
fn fuzz_cursor_open() {
    use base64::Engine;
    let signer = CursorSigner::new(&SecretString::from("cursor-secret"));
    fuzz!(|input: &[u8]| {
        let text = String::from_utf8_lossy(input);
        let _ = signer.open(&text, "acme", "campaigns");
        // A well-formed cursor around the input: the decoding past the split is fuzzed too.
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(input);
        let _ = signer.open(&format!("{payload}.AAAA"), "acme", "campaigns");
    });
}

#[test]
fn fuzz_jwt() {
    const SECRET: &str = "jwt-fuzz-secret";
    let verifier = Verifier::new(AuthConfig {
        issuer: "https://issuer".into(),
        audience: "aud".into(),
        hs256_secret: Some(SecretString::from(SECRET)),
        tenant_claim: "org_id".into(),
        role_claim: "role".into(),
        leeway_seconds: 0,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    fuzz!(|input: &[u8]| {
        // As a token string, header included.
        let header = format!("Bearer {}", String::from_utf8_lossy(input));
        let _ = verifier.verify_header(Some(&header));
        // As the claims of a correctly signed token: claim handling is fuzzed past the signature.
        if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(input) {
            if let Ok(token) = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
            {
                let _ = verifier.verify(&token);
            }
        }
    });
}

#[test]
fn regression_a_body_nested_100_000_deep_is_read_without_overflowing_a_2_mib_stack() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            // Not a webhook, so an error; what matters is that it returns.
            assert!(shared::meta::parse(deep.as_bytes()).is_err());
            assert!(shared::process::decode(deep.as_bytes()).is_err());
            let in_unknown_field =
                format!(r#"{{"object":"whatsapp_business_account","entry":[],"x":{deep}}}"#);
            assert!(shared::meta::parse(in_unknown_field.as_bytes()).is_ok());
            let _ = shared::ingest::plan(deep.as_bytes(), 4096);
        })
        .expect("spawn")
        .join()
        .expect("no panic");
}
