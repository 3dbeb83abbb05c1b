//! Opaque, tamper-proof pagination cursors. A cursor carries DynamoDB's continuation key, the
//! tenant and the list it belongs to, signed with HMAC-SHA256: a changed cursor, or a cursor
//! from another tenant or another list, is refused instead of read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;

type HmacSha256 = Hmac<Sha256>;

/// A cursor that is not one of ours, or not for this tenant and list.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid cursor")]
pub struct InvalidCursor;

#[derive(Serialize, Deserialize)]
struct Payload {
    /// Tenant the list was read for.
    t: String,
    /// The list (route and filters) it continues.
    q: String,
    /// The continuation key.
    k: HashMap<String, String>,
}

/// Signs and checks cursors with a key from configuration.
pub struct CursorSigner {
    mac: HmacSha256,
}

impl std::fmt::Debug for CursorSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorSigner")
    }
}

impl CursorSigner {
    /// A signer keyed with `secret`.
    pub fn new(secret: &SecretString) -> Self {
        let mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Self { mac }
    }

    /// A stable pseudonym of a tenant's contact (32 hex digits of an HMAC under this key): what
    /// an erasure's job id and audit entry carry instead of the contact id, which a plain hash
    /// would not hide (phone numbers are few enough to try them all).
    pub fn pseudonym(&self, tenant: &str, contact: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"contact\0");
        mac.update(tenant.as_bytes());
        mac.update(b"\0");
        mac.update(contact.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A cursor continuing list `scope` of `tenant` at `key`.
    pub fn seal(&self, tenant: &str, scope: &str, key: HashMap<String, String>) -> String {
        let payload = serde_json::to_vec(&Payload {
            t: tenant.to_owned(),
            q: scope.to_owned(),
            k: key,
        })
        .unwrap_or_default();
        let mut mac = self.mac.clone();
        mac.update(&payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// The continuation key of a cursor, if it is ours and for this tenant and list.
    pub fn open(
        &self,
        cursor: &str,
        tenant: &str,
        scope: &str,
    ) -> Result<HashMap<String, String>, InvalidCursor> {
        let (payload, tag) = cursor.split_once('.').ok_or(InvalidCursor)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidCursor)?;
        let mut mac = self.mac.clone();
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| InvalidCursor)?;
        let p: Payload = serde_json::from_slice(&payload).map_err(|_| InvalidCursor)?;
        if p.t != tenant || p.q != scope {
            return Err(InvalidCursor);
        }
        Ok(p.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> CursorSigner {
        CursorSigner::new(&SecretString::from("cursor-secret"))
    }

    #[test]
    fn a_cursor_round_trips_for_its_tenant_and_list_only() {
        let key = HashMap::from([("pk".to_owned(), "TENANT#acme".to_owned())]);
        let c = signer().seal("acme", "campaigns", key.clone());
        assert_eq!(signer().open(&c, "acme", "campaigns"), Ok(key));
        assert_eq!(signer().open(&c, "globex", "campaigns"), Err(InvalidCursor));
        assert_eq!(signer().open(&c, "acme", "templates"), Err(InvalidCursor));
    }

    #[test]
    fn a_tampered_or_foreign_cursor_is_refused() {
        let c = signer().seal("acme", "campaigns", HashMap::new());
        let (payload, tag) = c.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"t":"globex","q":"campaigns","k":{}}"#);
        assert_eq!(
            signer().open(&format!("{forged}.{tag}"), "globex", "campaigns"),
            Err(InvalidCursor)
        );
        let other = CursorSigner::new(&SecretString::from("another-secret"));
        assert_eq!(other.open(&c, "acme", "campaigns"), Err(InvalidCursor));
        assert_eq!(
            signer().open(payload, "acme", "campaigns"),
            Err(InvalidCursor)
        );
        assert_eq!(
            signer().open("garbage", "acme", "campaigns"),
            Err(InvalidCursor)
        );
    }
}
