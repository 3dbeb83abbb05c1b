//! `X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the raw body with the app secret.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The header Meta signs every POST with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. Deliberately says nothing about which secret or byte differed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("signature header is missing")]
    Missing,
    #[error("signature header is not sha256=<64 hex digits>")]
    Malformed,
    #[error("signature does not match any accepted app secret")]
    Mismatch,
}

/// Verifies signatures against every accepted app secret (more than one while a secret rotates).
///
/// Each secret is keyed once at init; a request clones the keyed state, which skips the two key
/// blocks HMAC would otherwise hash per request.
#[derive(Clone)]
pub struct SignatureVerifier {
    keyed: Vec<HmacSha256>,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("secrets", &self.keyed.len())
            .finish()
    }
}

impl SignatureVerifier {
    /// Keys one HMAC per app secret. Returns `None` when no secret is given.
    pub fn new(secrets: &[SecretString]) -> Option<Self> {
        let keyed: Vec<HmacSha256> = secrets
            .iter()
            .filter_map(|s| HmacSha256::new_from_slice(s.expose_secret().as_bytes()).ok())
            .collect();
        (!keyed.is_empty()).then_some(Self { keyed })
    }

    /// Checks `header` (the `X-Hub-Signature-256` value) against the exact raw `body` bytes.
    /// The comparison is constant-time (`Mac::verify_slice`).
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let hex_digest = header
            .strip_prefix(b"sha256=")
            .ok_or(SignatureError::Malformed)?;
        let mut expected = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut expected).map_err(|_| SignatureError::Malformed)?;
        let matched = self.keyed.iter().any(|keyed| {
            let mut mac = keyed.clone();
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        });
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Computes the header value for `body` (tests, local tools, and the docs' curl example).
pub fn sign(secret: &str, body: &[u8]) -> String {
    // new_from_slice accepts keys of any length for HMAC; the error branch cannot happen.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(secrets: &[&str]) -> SignatureVerifier {
        let secrets: Vec<SecretString> = secrets.iter().map(|s| (*s).into()).collect();
        SignatureVerifier::new(&secrets).expect("at least one secret")
    }

    const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;

    #[test]
    fn accepts_a_body_signed_with_the_secret() {
        let header = sign("s3cret", BODY);
        assert_eq!(
            verifier(&["s3cret"]).verify(Some(header.as_bytes()), BODY),
            Ok(())
        );
    }

    #[test]
    fn accepts_any_secret_of_a_rotation() {
        let header = sign("new-secret", BODY);
        let v = verifier(&["old-secret", "new-secret"]);
        assert_eq!(v.verify(Some(header.as_bytes()), BODY), Ok(()));
    }

    #[test]
    fn refuses_a_changed_body() {
        let header = sign("s3cret", BODY);
        let mut changed = BODY.to_vec();
        changed[3] ^= 1;
        assert_eq!(
            verifier(&["s3cret"]).verify(Some(header.as_bytes()), &changed),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        let v = verifier(&["s3cret"]);
        assert_eq!(v.verify(None, BODY), Err(SignatureError::Missing));
        for bad in [
            "",
            "sha256=",
            "sha1=abcd",
            "sha256=zz",
            &"sha256=".repeat(10),
        ] {
            assert_eq!(
                v.verify(Some(bad.as_bytes()), BODY),
                Err(SignatureError::Malformed)
            );
        }
        let upper_prefix = sign("s3cret", BODY).replace("sha256", "SHA256");
        assert_eq!(
            v.verify(Some(upper_prefix.as_bytes()), BODY),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn no_secrets_means_no_verifier() {
        assert!(SignatureVerifier::new(&[]).is_none());
    }
}
