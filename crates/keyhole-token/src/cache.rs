//! The per-issuer key-set cache: TTL, single-flight refetch, cool-down, stale-on-error.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use keyhole_core::Clock;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::{IssuerConfig, check_url};
use crate::error::{FetchError, Rejection};
use crate::jwks::{KeySet, PublicKey};
use crate::source::JwksSource;

#[derive(Debug, Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    /// Epoch seconds.
    fetched_at: Option<i64>,
    /// Epoch seconds.
    last_attempt: Option<i64>,
    /// The `jwks_uri` found by discovery, kept once known.
    discovered_url: Option<String>,
    /// Why the last fetch failed; cleared by a successful one.
    last_error: Option<FetchError>,
}

/// One issuer's cached key set.
#[derive(Debug)]
pub(crate) struct IssuerKeys {
    issuer: IssuerConfig,
    state: RwLock<State>,
    /// Held across a fetch so concurrent misses cause one request, not one each.
    fetching: Mutex<()>,
}

enum Lookup {
    Fresh(Arc<PublicKey>),
    Stale(Arc<PublicKey>),
    Missing { have_set: bool },
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl IssuerKeys {
    pub(crate) fn new(issuer: IssuerConfig) -> Self {
        Self {
            issuer,
            state: RwLock::new(State::default()),
            fetching: Mutex::new(()),
        }
    }

    /// Installs a key set obtained out of band (`JWKS_FILE`) as if fetched at `now`.
    pub(crate) fn preload(&self, keys: KeySet, now: i64) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.keys = Some(Arc::new(keys));
        state.fetched_at = Some(now);
    }

    /// Why the last fetch of this issuer's key set failed, unless one has succeeded since.
    pub(crate) fn last_error(&self) -> Option<FetchError> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .clone()
    }

    fn lookup(&self, kid: Option<&str>, now: i64, ttl: Duration) -> Lookup {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let Some(keys) = &state.keys else {
            return Lookup::Missing { have_set: false };
        };
        match keys.find(kid) {
            Some(key) => {
                let fresh = state
                    .fetched_at
                    .is_some_and(|at| now < at.saturating_add(seconds(ttl)));
                if fresh {
                    Lookup::Fresh(key.clone())
                } else {
                    Lookup::Stale(key.clone())
                }
            }
            None => Lookup::Missing { have_set: true },
        }
    }

    /// The key for `kid`, fetching the key set when it is missing, stale, or lacks the kid, but
    /// never more than once per `cooldown`. When a fetch fails the last good set keeps serving.
    pub(crate) async fn key(
        &self,
        kid: Option<&str>,
        source: &dyn JwksSource,
        clock: &dyn Clock,
        ttl: Duration,
        cooldown: Duration,
    ) -> Result<Arc<PublicKey>, Rejection> {
        if let Lookup::Fresh(key) = self.lookup(kid, clock.now(), ttl) {
            return Ok(key);
        }

        // While another task refreshes, a stale key keeps serving: only the refreshing request
        // waits on a slow issuer (up to the source's timeout), not every request behind it.
        let _single_flight = match self.fetching.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Lookup::Stale(key) = self.lookup(kid, clock.now(), ttl) {
                    return Ok(key);
                }
                self.fetching.lock().await
            }
        };
        let now = clock.now();
        // Another task may have refreshed the set while this one waited for the lock.
        let before = self.lookup(kid, now, ttl);
        if let Lookup::Fresh(key) = before {
            return Ok(key);
        }
        let may_fetch = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let allowed = state
                .last_attempt
                .is_none_or(|at| now >= at.saturating_add(seconds(cooldown)));
            if allowed {
                state.last_attempt = Some(now);
            }
            allowed
        };
        if !may_fetch {
            return settle(before);
        }

        match self.fetch(source).await {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer.issuer, keys = keys.len(), "JWKS refreshed");
                let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
                state.keys = Some(Arc::new(keys));
                state.fetched_at = Some(now);
                state.last_error = None;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer.issuer, error = %e, "JWKS fetch failed; keeping the last good key set");
                self.state
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .last_error = Some(e);
            }
        }
        settle(self.lookup(kid, now, ttl))
    }

    async fn fetch(&self, source: &dyn JwksSource) -> Result<KeySet, FetchError> {
        let url = self.jwks_url(source).await?;
        let body = source.fetch(&url).await?;
        let keys = KeySet::from_json(&body).map_err(|e| FetchError::new(&url, e.to_string()))?;
        // A set whose keys are all unusable (garbage from a broken issuer or a proxy in front of
        // it) is a failed fetch, not a rotation to no keys: the last good set keeps serving.
        if keys.is_empty() {
            return Err(FetchError::new(&url, "the key set holds no usable key"));
        }
        Ok(keys)
    }

    /// `JWKS_URL`, Cognito's fixed path, or the discovery document's `jwks_uri`.
    async fn jwks_url(&self, source: &dyn JwksSource) -> Result<String, FetchError> {
        if let Some(url) = self.issuer.static_jwks_url() {
            return Ok(url);
        }
        if let Some(url) = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .discovered_url
            .clone()
        {
            return Ok(url);
        }
        let discovery_url = self.issuer.discovery_url();
        let body = source.fetch(&discovery_url).await?;
        let doc: Discovery = serde_json::from_str(&body).map_err(|e| {
            FetchError::new(&discovery_url, format!("not a discovery document: {e}"))
        })?;
        // OpenID Connect Discovery §4.3: the document must name the very issuer it was fetched
        // for, or it could steer us to another issuer's keys.
        if doc.issuer != self.issuer.issuer {
            return Err(FetchError::new(
                &discovery_url,
                "discovery document names a different issuer",
            ));
        }
        check_url("jwks_uri", &doc.jwks_uri)
            .map_err(|e| FetchError::new(&discovery_url, e.to_string()))?;
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .discovered_url = Some(doc.jwks_uri.clone());
        Ok(doc.jwks_uri)
    }
}

fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn settle(lookup: Lookup) -> Result<Arc<PublicKey>, Rejection> {
    match lookup {
        Lookup::Fresh(key) | Lookup::Stale(key) => Ok(key),
        Lookup::Missing { have_set: true } => Err(Rejection::UnknownKey),
        Lookup::Missing { have_set: false } => Err(Rejection::KeySetUnavailable),
    }
}
