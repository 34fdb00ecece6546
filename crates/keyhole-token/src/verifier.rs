//! [`TokenVerifier`]: the configured issuers, their cached key sets, and the order of checks.

use std::sync::Arc;

use crate::cache::IssuerKeys;
use crate::claims::{self, Claims};
use crate::clock::{Clock, SystemClock};
use crate::config::TokenConfig;
use crate::error::{ConfigError, Rejection};
use crate::jwks::KeySet;
use crate::jwt;
use crate::source::{HttpJwksSource, JwksSource};

/// Verifies bearer tokens against the configured issuers. Build it once (at cold start) and
/// share it: it is `Send + Sync` and holds the key-set caches.
pub struct TokenVerifier {
    config: TokenConfig,
    /// One cache per entry of `config.issuers()`, same order.
    keys: Vec<IssuerKeys>,
    source: Arc<dyn JwksSource>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier that fetches key sets through `source` and reads the system clock.
    /// `JWKS_FILE` is not read here (no I/O); see [`TokenVerifier::from_config`] and
    /// [`TokenVerifier::with_key_set`].
    pub fn new(config: TokenConfig, source: Arc<dyn JwksSource>) -> Self {
        let keys = config
            .issuers()
            .iter()
            .cloned()
            .map(IssuerKeys::new)
            .collect();
        Self {
            config,
            keys,
            source,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests, and callers that keep their own time source).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The production verifier: key sets over HTTPS (reqwest, rustls, timeouts), the system
    /// clock, and the key set from `JWKS_FILE` preloaded so a cold start needs no network.
    pub fn from_config(config: TokenConfig) -> Result<Self, ConfigError> {
        let file = config.jwks_file().map(std::path::Path::to_path_buf);
        let verifier = Self::new(config, Arc::new(HttpJwksSource::new()?));
        match file {
            None => Ok(verifier),
            Some(path) => {
                let shown = path.display().to_string();
                let json = std::fs::read_to_string(&path).map_err(|e| ConfigError::JwksFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
                verifier.with_key_set(&json).map_err(|e| match e {
                    ConfigError::Invalid { reason, .. } => ConfigError::JwksFile {
                        path: shown,
                        reason,
                    },
                    other => other,
                })
            }
        }
    }

    /// Preloads a JWKS document as the (single) issuer's current key set. Refused when two
    /// issuers are trusted, since a key set belongs to one issuer.
    pub fn with_key_set(self, jwks_json: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            variable: "JWKS_FILE",
            reason,
        };
        let [only] = self.keys.as_slice() else {
            return Err(invalid(
                "a preloaded key set needs exactly one trusted issuer".to_owned(),
            ));
        };
        let set = KeySet::from_json(jwks_json).map_err(|e| invalid(e.to_string()))?;
        if set.is_empty() {
            return Err(invalid("holds no usable signing key".to_owned()));
        }
        only.preload(set, self.clock.now());
        Ok(self)
    }

    /// The configuration this verifier enforces.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// Verifies `token` (the bare JWT, without `Bearer `) and returns its claims, or the reason
    /// it is refused.
    ///
    /// Order: size and shape; header and algorithm allow-list; issuer routing by exact `iss`;
    /// key lookup (may fetch, bounded by the cool-down); algorithm-fits-key; signature; then
    /// time, audience, token use and group claims. Nothing from the token is trusted before
    /// the signature is checked except `iss` and `kid`, which only choose which key to try.
    pub async fn verify(&self, token: &str) -> Result<Claims, Rejection> {
        let unverified = jwt::parse(token)?;
        let iss = unverified
            .claims
            .get("iss")
            .and_then(serde_json::Value::as_str)
            .ok_or(Rejection::Malformed)?;
        let index = self
            .config
            .issuers()
            .iter()
            .position(|i| i.issuer == iss)
            .ok_or(Rejection::WrongIssuer)?;
        let (issuer, cache) = (&self.config.issuers()[index], &self.keys[index]);

        let key = cache
            .key(
                unverified.kid.as_deref(),
                self.source.as_ref(),
                self.clock.as_ref(),
                self.config.jwks_ttl(),
                self.config.jwks_cooldown(),
            )
            .await?;
        jwt::verify_signature(&unverified, &key)?;

        let now = i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX);
        claims::check(&unverified.claims, issuer, &self.config, now)
    }
}
