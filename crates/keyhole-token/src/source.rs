//! Fetching key sets and discovery documents: the one piece of network I/O, behind a trait.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::{ConfigError, FetchError};

/// The future a [`JwksSource`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<String, FetchError>> + Send + 'a>>;

/// Fetches a JSON document (a JWKS or an OpenID Connect discovery document) by URL.
///
/// Written as a boxed future rather than `async fn` so it can be used as `Arc<dyn JwksSource>`;
/// implement it with `Box::pin(async move { ... })` (or with `#[async_trait]`, which produces
/// the same signature).
pub trait JwksSource: Send + Sync {
    /// Returns the body of the document at `url`.
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
}

/// Bounds on one fetch: an issuer that is slow or hostile must not hold up cold starts or
/// exhaust memory.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(8);
/// Real key sets are a few KiB; a megabyte is generous and still bounded.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Fetches over HTTPS with reqwest and rustls (plain HTTP is only ever configured for loopback;
/// see [`crate::TokenConfig`]).
#[derive(Debug, Clone)]
pub struct HttpJwksSource {
    client: reqwest::Client,
}

impl HttpJwksSource {
    /// A source with connect, read and total timeouts and no redirects: a redirect could lead
    /// from an HTTPS key URL to somewhere the configuration never named.
    pub fn new() -> Result<Self, ConfigError> {
        Self::with_timeouts(CONNECT_TIMEOUT, READ_TIMEOUT, TOTAL_TIMEOUT)
    }

    /// A source with the given connect, read (between two reads) and total timeouts.
    pub fn with_timeouts(
        connect: Duration,
        read: Duration,
        total: Duration,
    ) -> Result<Self, ConfigError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .read_timeout(read)
            .timeout(total)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keyhole-token/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(Self { client })
    }
}

impl JwksSource for HttpJwksSource {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            let fail = |reason: String| FetchError::new(url, reason);
            let mut response = self
                .client
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| fail(describe(e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(fail(format!("HTTP status {status}")));
            }
            if response
                .content_length()
                .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
            {
                return Err(fail("document larger than 1 MiB".to_owned()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| fail(describe(e)))? {
                if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                    return Err(fail("document larger than 1 MiB".to_owned()));
                }
                body.extend_from_slice(&chunk);
            }
            String::from_utf8(body).map_err(|_| fail("document is not UTF-8".to_owned()))
        })
    }
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        // The innermost cause says which: refused, no route, name not resolved, bad certificate.
        let mut cause: &dyn std::error::Error = &e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        format!("connection failed: {cause}")
    } else {
        // reqwest's Display repeats the URL, which FetchError already carries.
        e.without_url().to_string()
    }
}
