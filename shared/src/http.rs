//! The one HTTPS client a function uses outside the AWS SDK: Cognito's signing keys, Meta's Graph
//! API, Slack. Built on first use, not at init: building it reads and parses the system's root
//! certificates (milliseconds, `make coldstart`), and most invocations never call out.

use std::sync::LazyLock;
use std::time::Duration;

/// A connection attempt gives up after this; each request sets its own total timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        // No caller follows a redirect: a Slack webhook URL that redirects elsewhere is refused,
        // and neither Cognito's key endpoint nor the Graph API redirects.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
});

/// The process's client (one connection pool and TLS configuration for every caller).
pub fn client() -> &'static reqwest::Client {
    &CLIENT
}
