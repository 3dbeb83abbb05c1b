//! JWT verification: who is calling, for which tenant, with which role. These come only from a
//! verified token (signature, `exp`/`nbf`, issuer, audience), never from a path, query or header
//! the caller controls.
//!
//! RS256 keys come from a JWKS (Cognito's, or any OIDC issuer's), cached per container and
//! refreshed when a token names an unknown key id; HS256 with a shared secret is for local
//! development. `alg: none` and any algorithm not configured are refused.

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;

/// What a caller may do, in increasing power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads its own tenant.
    Viewer,
    /// Also pauses, resumes, acknowledges, creates campaigns and registers messages.
    OrgAdmin,
    /// Any tenant, and routing.
    SuperAdmin,
}

impl Role {
    /// Parses the role claim (`viewer`, `org_admin`, `super_admin`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "org_admin" => Some(Self::OrgAdmin),
            "super_admin" => Some(Self::SuperAdmin),
            _ => None,
        }
    }

    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::OrgAdmin => "org_admin",
            Self::SuperAdmin => "super_admin",
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `sub`: who, for audit entries.
    pub subject: String,
    pub tenant_id: String,
    pub role: Role,
}

impl Caller {
    /// `Forbidden` unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }

    /// The tenant a request acts on: the caller's own, or, for a super admin only, the one
    /// it names. Naming another tenant without that role is `Forbidden`.
    pub fn tenant<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str, AuthError> {
        match requested {
            None => Ok(&self.tenant_id),
            Some(t) if t == self.tenant_id => Ok(t),
            Some(t) if self.role == Role::SuperAdmin => Ok(t),
            Some(_) => Err(AuthError::Forbidden),
        }
    }
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("token refused: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token signed with an algorithm that is not accepted")]
    Algorithm,
    #[error("token names a key that is not in the key set")]
    UnknownKey,
    #[error("token lacks the {0} claim")]
    Claim(&'static str),
    #[error("not allowed")]
    Forbidden,
}

impl AuthError {
    /// 401 for a token problem, 403 for a valid caller without the right.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Forbidden)
    }
}

/// Verification settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// HS256 shared secret (local development only).
    pub hs256_secret: Option<SecretString>,
    /// Claim holding the tenant (organisation) id.
    pub tenant_claim: String,
    /// Claim holding the role.
    pub role_claim: String,
    /// Seconds of clock skew tolerated on `exp`/`nbf`.
    pub leeway_seconds: u64,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<jsonwebtoken::jwk::Jwk>,
}

/// Verifies bearer tokens. Built once per container; RS256 keys are cached inside.
pub struct Verifier {
    config: AuthConfig,
    rsa_keys: RwLock<HashMap<String, DecodingKey>>,
    hs256: Option<DecodingKey>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .field("hs256", &self.hs256.is_some())
            .finish()
    }
}

impl Verifier {
    /// A verifier with no RS256 keys yet (see [`set_jwks`](Self::set_jwks)).
    pub fn new(config: AuthConfig) -> Self {
        let hs256 = config
            .hs256_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes()));
        Self {
            config,
            rsa_keys: RwLock::new(HashMap::new()),
            hs256,
        }
    }

    /// Replaces the cached RS256 keys with those of a JWKS document. Returns how many RSA keys
    /// it holds.
    pub fn set_jwks(&self, jwks_json: &str) -> Result<usize, AuthError> {
        let jwks: Jwks = serde_json::from_str(jwks_json)
            .map_err(|_| AuthError::Claim("keys (JWKS document)"))?;
        let keys: HashMap<String, DecodingKey> = jwks
            .keys
            .iter()
            .filter_map(|k| {
                let kid = k.common.key_id.clone()?;
                DecodingKey::from_jwk(k).ok().map(|key| (kid, key))
            })
            .collect();
        let count = keys.len();
        *self.rsa_keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(count)
    }

    /// True when the token's key id is unknown (the caller may refresh the JWKS once and retry).
    pub fn needs_key(&self, token: &str) -> bool {
        match decode_header(token) {
            Ok(h) if h.alg == Algorithm::RS256 => h.kid.is_some_and(|kid| {
                !self
                    .rsa_keys
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(&kid)
            }),
            _ => false,
        }
    }

    /// Verifies an `Authorization` header value (`Bearer <jwt>`).
    pub fn verify_header(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        self.verify(token)
    }

    /// Verifies a token: algorithm, signature, `exp`, `nbf`, issuer, audience, then the
    /// tenant and role claims.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header = decode_header(token)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway_seconds;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = match header.alg {
            Algorithm::RS256 => {
                let kid = header.kid.ok_or(AuthError::UnknownKey)?;
                let keys = self.rsa_keys.read().unwrap_or_else(|p| p.into_inner());
                let key = keys.get(&kid).ok_or(AuthError::UnknownKey)?;
                decode::<HashMap<String, Value>>(token, key, &validation)?.claims
            }
            Algorithm::HS256 => {
                let key = self.hs256.as_ref().ok_or(AuthError::Algorithm)?;
                decode::<HashMap<String, Value>>(token, key, &validation)?.claims
            }
            _ => return Err(AuthError::Algorithm),
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(Caller {
            subject: text("sub").ok_or(AuthError::Claim("sub"))?,
            tenant_id: text(&self.config.tenant_claim)
                .filter(|t| !t.is_empty())
                .ok_or(AuthError::Claim("tenant"))?,
            role: text(&self.config.role_claim)
                .as_deref()
                .and_then(Role::parse)
                .ok_or(AuthError::Claim("role"))?,
        })
    }
}

/// A JWKS fetch gives up after this.
const JWKS_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A JWKS is fetched again at most this often when a token names an unknown key.
const JWKS_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// A [`Verifier`] that keeps its keys from a JWKS URL (Cognito's): fetched when the first token
/// arrives (not at init: a cold start does not wait on a network call the request may not need,
/// and an unreachable key endpoint cannot fail the init), and again, at most once a minute, when a
/// token names a key it does not have (rotation). Built once per container by every function that
/// takes tokens (api, websocket, sse).
pub struct KeyedVerifier {
    verifier: Verifier,
    jwks_url: Option<String>,
    last_fetch: std::sync::Mutex<Option<std::time::Instant>>,
}

impl KeyedVerifier {
    /// Builds it with a JWKS document given directly, if any; the URL's keys are fetched when a
    /// token names a key it does not have, the first token included.
    pub fn new(config: AuthConfig, jwks_url: Option<String>, jwks_json: Option<&str>) -> Self {
        let keyed = Self {
            verifier: Verifier::new(config),
            jwks_url,
            last_fetch: std::sync::Mutex::new(None),
        };
        if let Some(jwks) = jwks_json {
            if let Err(e) = keyed.verifier.set_jwks(jwks) {
                tracing::error!(error = %e, "configured JWKS is not valid");
            }
        }
        keyed
    }

    /// The verifier (tests load keys into it).
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    async fn refresh(&self) {
        let Some(url) = &self.jwks_url else { return };
        {
            let mut last = self.last_fetch.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < JWKS_REFRESH_INTERVAL) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let fetched = async {
            crate::http::client()
                .get(url)
                .timeout(JWKS_FETCH_TIMEOUT)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        }
        .await;
        match fetched {
            Ok(body) => match self.verifier.set_jwks(&body) {
                Ok(keys) => tracing::info!(keys, "JWKS loaded"),
                Err(e) => tracing::error!(error = %e, "JWKS document not usable"),
            },
            Err(e) => tracing::error!(error = %e, "JWKS fetch failed"),
        }
    }

    /// Verifies a bare token, fetching the keys again first if it names an unknown one.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if self.verifier.needs_key(token) {
            self.refresh().await;
        }
        self.verifier.verify(token)
    }

    /// Verifies an `Authorization` header value (`Bearer <jwt>`).
    pub async fn verify_header(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or(AuthError::Missing)?;
        self.verify(token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    const SECRET: &str = "local-dev-secret";

    fn verifier() -> Verifier {
        Verifier::new(AuthConfig {
            issuer: "https://issuer.test".into(),
            audience: "whatsapp-pipeline".into(),
            hs256_secret: Some(SECRET.into()),
            tenant_claim: "org_id".into(),
            role_claim: "role".into(),
            leeway_seconds: 0,
        })
    }

    fn token(claims: Value, secret: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn claims(exp_offset: i64) -> Value {
        let now = crate::store::now() as i64;
        serde_json::json!({
            "sub": "user-1", "iss": "https://issuer.test", "aud": "whatsapp-pipeline",
            "exp": now + exp_offset, "nbf": now - 10, "org_id": "acme", "role": "org_admin"
        })
    }

    #[test]
    fn a_valid_token_gives_tenant_and_role_from_its_claims() {
        let caller = verifier().verify(&token(claims(300), SECRET)).unwrap();
        assert_eq!(
            caller,
            Caller {
                subject: "user-1".into(),
                tenant_id: "acme".into(),
                role: Role::OrgAdmin
            }
        );
    }

    #[test]
    fn expired_wrongly_signed_foreign_and_unsigned_tokens_are_refused() {
        let v = verifier();
        assert!(v.verify(&token(claims(-300), SECRET)).is_err(), "expired");
        assert!(
            v.verify(&token(claims(300), "other-secret")).is_err(),
            "bad signature"
        );
        let mut c = claims(300);
        c["iss"] = "https://evil.test".into();
        assert!(v.verify(&token(c, SECRET)).is_err(), "issuer");
        let mut c = claims(300);
        c["aud"] = "someone-else".into();
        assert!(v.verify(&token(c, SECRET)).is_err(), "audience");
        let mut c = claims(300);
        c["nbf"] = (crate::store::now() + 600).into();
        assert!(v.verify(&token(c, SECRET)).is_err(), "not yet valid");
        // alg none: header {"alg":"none"}, no signature.
        use base64::Engine;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(&claims(300))
        );
        assert!(v.verify(&none).is_err(), "alg none");
        let mut c = claims(300);
        c["role"] = "god".into();
        assert!(matches!(
            v.verify(&token(c, SECRET)),
            Err(AuthError::Claim("role"))
        ));
    }

    #[test]
    fn only_a_super_admin_may_name_another_tenant() {
        let admin = Caller {
            subject: "a".into(),
            tenant_id: "acme".into(),
            role: Role::OrgAdmin,
        };
        assert_eq!(admin.tenant(None).unwrap(), "acme");
        assert_eq!(admin.tenant(Some("acme")).unwrap(), "acme");
        assert!(admin.tenant(Some("globex")).unwrap_err().is_forbidden());
        let root = Caller {
            role: Role::SuperAdmin,
            ..admin.clone()
        };
        assert_eq!(root.tenant(Some("globex")).unwrap(), "globex");
        assert!(admin.require(Role::SuperAdmin).is_err());
        assert!(admin.require(Role::Viewer).is_ok());
    }
}
