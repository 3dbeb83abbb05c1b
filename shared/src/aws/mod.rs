//! The AWS SDK configuration every function builds its clients from, once per container.
//!
//! On Lambda, everything the clients need is in the environment the runtime sets before init:
//! `AWS_REGION` and the execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`), which do not change for the life of the execution environment. Reading
//! them directly skips aws-config's provider chains (profile files, IMDS, ECS, SSO, web identity),
//! the largest part of a function's init (`make coldstart`). Retries, timeouts, sleep and time
//! come from the clients' defaults for the behavior version, as they do through aws-config.
//! Anywhere else (a developer's shell, `cargo lambda watch` without credentials in the
//! environment) the full default chain is used.
//!
//! Every client of the process shares one HTTP client, which trusts the Amazon Trust Services
//! roots that AWS's endpoints chain to, instead of the system's: the SDK's default client reads
//! and parses every root certificate on the machine when each service client is built (most of
//! the rest of a cold start), and no AWS call needs another CA. An endpoint of another partition
//! (China, ISO) or an `https://` `AWS_ENDPOINT_URL` (an emulator with its own certificate) gets
//! the system's roots. Should the Amazon roots ever not be enough, the process moves to the
//! system's roots on the first unknown-issuer failure ([`fallback`]).

mod fallback;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};

/// The roots of Amazon Trust Services (Amazon Root CA 1-4, Starfield Services Root G2).
const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

/// The configuration for this process: from the Lambda environment, or aws-config's chain.
pub async fn sdk_config() -> SdkConfig {
    match from_lambda_environment(|name| std::env::var(name).ok()) {
        Some(config) => config,
        None => aws_config::load_defaults(BehaviorVersion::latest()).await,
    }
}

/// Built from `var` when it has a region and static credentials; `AWS_ENDPOINT_URL` (the local
/// AWS endpoint in development and tests) is honoured as aws-config honours it.
fn from_lambda_environment(var: impl Fn(&str) -> Option<String>) -> Option<SdkConfig> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"))?;
    let credentials = Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let endpoint = var("AWS_ENDPOINT_URL");
    let http = if trusts_amazon_roots_only(&region, endpoint.as_deref()) {
        SharedHttpClient::new(fallback::FallbackClient::new(http_client(true), || {
            http_client(false)
        }))
    } else {
        http_client(false)
    };
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    Some(config.build())
}

/// True when every endpoint the clients may call presents a chain to Amazon Trust Services:
/// the `aws` and `aws-us-gov` partitions' own endpoints, or a plain-HTTP local endpoint.
fn trusts_amazon_roots_only(region: &str, endpoint: Option<&str>) -> bool {
    let other_partition =
        region.starts_with("cn-") || region.starts_with("us-iso") || region.starts_with("eu-isoe");
    let own_certificate = endpoint.is_some_and(|url| !url.starts_with("http://"));
    !other_partition && !own_certificate
}

/// The HTTPS client (rustls with aws-lc, the SDK's default) with the chosen roots.
fn http_client(amazon_roots_only: bool) -> SharedHttpClient {
    let trust = if amazon_roots_only {
        TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
    } else {
        TrustStore::default()
    };
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building a context from these inputs does not fail; if it ever did, the SDK's own
        // default (the system's roots) is still a working client.
        Err(_) => builder.build_https(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::ProvideCredentials;
    use std::collections::HashMap;

    fn environment(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[tokio::test]
    async fn the_lambda_environment_is_enough() {
        let config = from_lambda_environment(environment(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ]))
        .expect("a configuration");
        assert_eq!(config.region().map(Region::as_ref), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert_eq!(config.behavior_version(), Some(BehaviorVersion::latest()));
        let credentials = config
            .credentials_provider()
            .expect("credentials")
            .provide_credentials()
            .await
            .expect("static credentials");
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.session_token(), Some("session"));
    }

    #[test]
    fn amazon_roots_serve_amazon_endpoints_and_the_local_one_only() {
        assert!(trusts_amazon_roots_only("eu-west-1", None));
        assert!(trusts_amazon_roots_only("us-gov-west-1", None));
        assert!(trusts_amazon_roots_only(
            "us-east-1",
            Some("http://127.0.0.1:4566")
        ));
        assert!(!trusts_amazon_roots_only("cn-north-1", None));
        assert!(!trusts_amazon_roots_only("us-isob-east-1", None));
        assert!(!trusts_amazon_roots_only(
            "us-east-1",
            Some("https://localhost.localstack.cloud:4566")
        ));
    }

    #[tokio::test]
    async fn the_pinned_roots_parse_and_clients_build_on_them() {
        // Building a service client builds its TLS connector (the SDK does it at construction),
        // which parses the pinned PEM roots and would panic on a bad one.
        let config = from_lambda_environment(environment(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .expect("a configuration");
        assert!(config.http_client().is_some(), "one shared HTTP client");
        let _dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let _sqs = aws_sdk_sqs::Client::new(&config);
        assert_eq!(
            AMAZON_TRUST_SERVICES_ROOTS
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            5
        );
    }

    #[test]
    fn without_a_region_or_credentials_the_full_chain_decides() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let vars: Vec<(&str, &str)> = [
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ]
            .into_iter()
            .filter(|(k, _)| *k != missing)
            .collect();
            assert!(
                from_lambda_environment(environment(&vars)).is_none(),
                "{missing}"
            );
        }
    }
}
