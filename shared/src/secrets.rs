//! Per-tenant secrets in Secrets Manager: the Graph API system-user token and the Slack
//! incoming-webhook URL. Names are `<prefix>/<tenant>/<kind>`, so one IAM resource pattern
//! (`<prefix>/*`) covers them. Values are `SecretString` from the moment they are read.

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use secrecy::SecretString;

/// Which tenant secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSecret {
    /// The system-user access token the template sync calls the Graph API with.
    GraphToken,
    /// The Slack incoming-webhook URL alerts are posted to.
    SlackWebhook,
}

impl TenantSecret {
    fn suffix(self) -> &'static str {
        match self {
            Self::GraphToken => "graph-token",
            Self::SlackWebhook => "slack-webhook",
        }
    }
}

/// A Secrets Manager call failed (not "there is no such secret": that is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
#[error("secrets manager {operation} failed: {code}")]
pub struct SecretsError {
    pub operation: &'static str,
    pub code: String,
}

/// Reads and writes tenant secrets.
#[derive(Debug, Clone)]
pub struct TenantSecrets {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl TenantSecrets {
    /// Secrets named under `prefix` (e.g. `whatsapp-pipeline/tenants`).
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into().trim_end_matches('/').to_owned(),
        }
    }

    /// The secret's name for a tenant (shown to operators; contains no secret).
    pub fn name(&self, tenant_id: &str, secret: TenantSecret) -> String {
        format!("{}/{tenant_id}/{}", self.prefix, secret.suffix())
    }

    /// The current value, `None` when the secret does not exist.
    pub async fn get(
        &self,
        tenant_id: &str,
        secret: TenantSecret,
    ) -> Result<Option<SecretString>, SecretsError> {
        match self
            .client
            .get_secret_value()
            .secret_id(self.name(tenant_id, secret))
            .send()
            .await
        {
            Ok(out) => Ok(out.secret_string.map(SecretString::from)),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(SecretsError {
                operation: "GetSecretValue",
                code: e.code().unwrap_or("unknown").to_owned(),
            }),
        }
    }

    /// Stores a value: a new version of the secret, created on first use.
    pub async fn put(
        &self,
        tenant_id: &str,
        secret: TenantSecret,
        value: &str,
    ) -> Result<(), SecretsError> {
        let name = self.name(tenant_id, secret);
        match self
            .client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(value)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => self
                .client
                .create_secret()
                .name(&name)
                .secret_string(value)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| SecretsError {
                    operation: "CreateSecret",
                    code: e.code().unwrap_or("unknown").to_owned(),
                }),
            Err(e) => Err(SecretsError {
                operation: "PutSecretValue",
                code: e.code().unwrap_or("unknown").to_owned(),
            }),
        }
    }

    /// Deletes the secret at once (a Slack URL the tenant removed).
    pub async fn delete(&self, tenant_id: &str, secret: TenantSecret) -> Result<(), SecretsError> {
        match self
            .client
            .delete_secret()
            .secret_id(self.name(tenant_id, secret))
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(SecretsError {
                operation: "DeleteSecret",
                code: e.code().unwrap_or("unknown").to_owned(),
            }),
        }
    }
}
