//! The one way the pinned Amazon roots could be wrong, made harmless: if a call fails because
//! the peer's certificate chains to an issuer those roots do not know (an endpoint AWS moved to
//! another CA, a TLS-inspecting proxy in a VPC), the process switches to the system's roots,
//! once, logs it and counts it (`TlsRootsFallback`), and the call is sent again on them. A wrong
//! assumption then costs one slower call per container, not an outage. Nothing else changes
//! which roots are used: any other error goes back to the SDK as it came.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use tracing::warn;

/// Whether the process has moved to the system's roots.
#[derive(Debug, Default)]
pub(crate) struct Fallback {
    switched: AtomicBool,
}

impl Fallback {
    /// Decides on a failed call: `true` (switch, and send the call again) only for the first
    /// failure whose cause is an unknown certificate issuer. Later ones, and every other
    /// error, change nothing.
    pub(crate) fn on_error(&self, error: &(dyn Error + 'static)) -> bool {
        is_unknown_issuer(error)
            && self
                .switched
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    pub(crate) fn switched(&self) -> bool {
        self.switched.load(Ordering::SeqCst)
    }
}

/// True when an error, or anything in its chain, is rustls refusing a certificate whose issuer
/// it does not know. An `io::Error` hides the error it wraps from `source()`: it is looked
/// into.
pub(crate) fn is_unknown_issuer(error: &(dyn Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) =
            e.downcast_ref::<rustls::Error>()
        {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if is_unknown_issuer(inner) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// The shared HTTP client: the Amazon roots' client, and the system roots' one built only if
/// the fallback is ever taken.
#[derive(Debug)]
pub(crate) struct FallbackClient {
    amazon: SharedHttpClient,
    system: Arc<OnceLock<SharedHttpClient>>,
    build_system: fn() -> SharedHttpClient,
    fallback: Arc<Fallback>,
}

impl FallbackClient {
    pub(crate) fn new(amazon: SharedHttpClient, build_system: fn() -> SharedHttpClient) -> Self {
        Self {
            amazon,
            system: Arc::default(),
            build_system,
            fallback: Arc::default(),
        }
    }
}

impl HttpClient for FallbackClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FallbackConnector {
            amazon: self.amazon.http_connector(settings, components),
            system: Arc::new(SystemConnector {
                client: self.system.clone(),
                build: self.build_system,
                settings: settings.clone(),
                components: components.clone(),
                connector: OnceLock::new(),
            }),
            fallback: self.fallback.clone(),
        })
    }
}

/// The system roots' connector for one set of settings, built on first use.
#[derive(Debug)]
struct SystemConnector {
    client: Arc<OnceLock<SharedHttpClient>>,
    build: fn() -> SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
    connector: OnceLock<SharedHttpConnector>,
}

impl SystemConnector {
    fn get(&self) -> SharedHttpConnector {
        self.connector
            .get_or_init(|| {
                self.client
                    .get_or_init(self.build)
                    .http_connector(&self.settings, &self.components)
            })
            .clone()
    }
}

#[derive(Debug)]
struct FallbackConnector {
    amazon: SharedHttpConnector,
    system: Arc<SystemConnector>,
    fallback: Arc<Fallback>,
}

impl HttpConnector for FallbackConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if self.fallback.switched() {
            return self.system.get().call(request);
        }
        let again = request.try_clone();
        let first = self.amazon.call(request);
        let (system, fallback) = (self.system.clone(), self.fallback.clone());
        HttpConnectorFuture::new(async move {
            match first.await {
                Err(error) if fallback.on_error(&error) => {
                    warn!(
                        metric = "tls_roots_fallback",
                        error = %error,
                        "a certificate chained to an issuer the Amazon roots do not know: using the system's roots from now on"
                    );
                    crate::metrics::Metrics::new("aws-sdk")
                        .count("TlsRootsFallback", 1)
                        .emit();
                    match again {
                        Some(request) => system.get().call(request).await,
                        // A streaming body cannot be sent twice: the SDK's retry sends it.
                        None => Err(error),
                    }
                }
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    fn unknown_issuer() -> ConnectorError {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        ConnectorError::io(Box::new(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            tls,
        )))
    }

    #[test]
    fn an_unknown_issuer_switches_once() {
        let fallback = Fallback::default();
        assert!(!fallback.switched());
        assert!(fallback.on_error(&unknown_issuer()));
        assert!(fallback.switched());
        // Already on the system's roots: nothing more to switch to.
        assert!(!fallback.on_error(&unknown_issuer()));
    }

    #[test]
    fn other_failures_keep_the_amazon_roots() {
        let fallback = Fallback::default();
        let expired = ConnectorError::io(Box::new(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
        )));
        let refused = ConnectorError::io(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        let timeout =
            ConnectorError::timeout(Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut)));
        for error in [expired, refused, timeout] {
            assert!(!fallback.on_error(&error), "{error:?}");
        }
        assert!(!fallback.switched());
    }

    #[test]
    fn the_issuer_is_found_however_deep_it_is_wrapped() {
        #[derive(Debug)]
        struct Outer(ConnectorError);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("dispatch failure")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        assert!(is_unknown_issuer(&Outer(unknown_issuer())));
        assert!(is_unknown_issuer(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        )));
    }
}
