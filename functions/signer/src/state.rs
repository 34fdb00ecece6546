//! What the handler keeps between requests: configuration, the token verifier, and the signing
//! key, cached and re-read once it is older than `SIGNING_KEY_REFRESH_SECONDS` (so a rotation's
//! new key is picked up without a cold start), or retried while it keeps failing.
//!
//! A refresh never takes a working key away: while one request re-reads the secret, the others go
//! on signing with the key they have, and a refresh that fails keeps the old key (and tries again
//! after [`KEY_RETRY_SECONDS`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use keyhole_core::{
    Clock, HashAlgorithm, Signer, SigningKey, SystemClock, VerifyingKey, is_valid_key_pair_id,
};
use keyhole_revoke::Revoker;
use keyhole_token::TokenVerifier;

use crate::marker::MarkerKey;
use crate::{Config, Error, KeySource};

/// Seconds between two attempts to load a signing key that failed to load. Requests in between
/// get 503 at once instead of each waiting on Secrets Manager.
pub const KEY_RETRY_SECONDS: i64 = 5;

/// At most one prune of the deny-list per this many seconds per instance: pruning lists the
/// whole store, so it is not done on every logout.
pub const PRUNE_INTERVAL_SECONDS: i64 = 600;

/// A parsed, ready signing key.
pub(crate) struct LoadedKey {
    pub(crate) signer: Signer,
    pub(crate) marker_key: MarkerKey,
}

/// The key in use and when it was last read (or last confirmed by a refresh).
struct Held {
    key: Arc<LoadedKey>,
    /// The key's PEM and marker bytes as read, to tell a changed secret from the same one.
    material: crate::keys::SigningMaterial,
    read_at: i64,
}

#[derive(Default)]
struct LoadState {
    last_attempt: Option<i64>,
    last_error: Option<String>,
}

/// State built once at cold start and shared by every request.
pub struct AppState {
    pub(crate) config: Config,
    pub(crate) tokens: TokenVerifier,
    pub(crate) clock: Arc<dyn Clock>,
    keys: Arc<dyn KeySource>,
    loaded: RwLock<Option<Held>>,
    loading: tokio::sync::Mutex<LoadState>,
    /// Set until the first request takes it: the log line's `coldStart`.
    cold: AtomicBool,
    /// Where `DELETE /session` revokes the cookie sets it ends; `None`: nowhere.
    pub(crate) revoker: Option<Revoker>,
    /// When this instance last pruned the deny-list.
    last_prune: tokio::sync::Mutex<Option<i64>>,
}

impl AppState {
    /// Builds the state and tries to load the signing key once. A failure is logged and does not
    /// stop start-up: requests get 503 and loading is retried (see [`KEY_RETRY_SECONDS`]).
    pub async fn new(config: Config, keys: Arc<dyn KeySource>, tokens: TokenVerifier) -> Self {
        Self::with_clock(config, keys, tokens, Arc::new(SystemClock)).await
    }

    /// [`AppState::new`] with a given clock (for tests).
    pub async fn with_clock(
        config: Config,
        keys: Arc<dyn KeySource>,
        tokens: TokenVerifier,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let state = Self {
            config,
            tokens,
            clock,
            keys,
            loaded: RwLock::new(None),
            loading: tokio::sync::Mutex::new(LoadState::default()),
            cold: AtomicBool::new(true),
            revoker: None,
            last_prune: tokio::sync::Mutex::new(None),
        };
        let _ = state.key().await;
        state
    }

    /// Revokes the cookie sets `DELETE /session` ends in `revoker`'s store.
    pub fn with_revoker(mut self, revoker: Revoker) -> Self {
        self.revoker = Some(revoker);
        self
    }

    /// Prunes the deny-list if this instance has not done so for [`PRUNE_INTERVAL_SECONDS`].
    /// A failure is logged; it only means the store keeps dead entries a while longer.
    pub(crate) async fn prune_if_due(&self, revoker: &Revoker) {
        let now = self.clock.now();
        let Ok(mut last) = self.last_prune.try_lock() else {
            return;
        };
        if last.is_some_and(|t| now - t < PRUNE_INTERVAL_SECONDS) {
            return;
        }
        *last = Some(now);
        match revoker.prune(now).await {
            Ok(r) => tracing::info!(
                pruned = r.pruned,
                kept = r.kept,
                freedBytes = r.freed_bytes,
                "deny-list pruned"
            ),
            Err(e) => tracing::warn!(error = %e, "deny-list could not be pruned"),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The key pair id and public key of the signing key now loaded: what CloudFront's trusted
    /// key group must hold for the cookies to be accepted (the local stack's stand-in trusts it).
    pub fn public_key(&self) -> Option<(String, VerifyingKey)> {
        let loaded = self.current()?;
        let public = loaded.signer.key().verifying_key().ok()?;
        Some((loaded.signer.key_pair_id().to_owned(), public))
    }

    /// Why the last attempt to load the signing key failed, while no key is loaded.
    pub async fn key_error(&self) -> Option<String> {
        self.loading.lock().await.last_error.clone()
    }

    /// Whether a signing key is loaded (requests that need it would not get 503).
    pub fn key_loaded(&self) -> bool {
        self.current().is_some()
    }

    /// True for the first request this state serves, false ever after. The Lambda builds the
    /// state once per execution environment, so this is the invocation that paid the cold start.
    pub(crate) fn take_cold_start(&self) -> bool {
        self.cold.swap(false, Ordering::Relaxed)
    }

    fn current(&self) -> Option<Arc<LoadedKey>> {
        self.held(|h| h.key.clone())
    }

    fn held<T>(&self, f: impl FnOnce(&Held) -> T) -> Option<T> {
        // A poisoned lock only means another thread panicked while holding it; the Option
        // inside is still whole.
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(f)
    }

    fn store(&self, held: Held) {
        *self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(held);
    }

    /// The held key when it is fresh enough, else `None` (also when no key is held).
    fn fresh(&self, now: i64) -> Option<Arc<LoadedKey>> {
        let refresh = self.config.key_refresh_seconds;
        self.held(|h| (now - h.read_at < refresh).then(|| h.key.clone()))
            .flatten()
    }

    /// A held key that has gone stale: one request re-reads the secret while the others keep
    /// signing with it; a failed re-read keeps it.
    async fn refresh(&self, held: Arc<LoadedKey>) -> Arc<LoadedKey> {
        let Ok(mut st) = self.loading.try_lock() else {
            return held;
        };
        let now = self.clock.now();
        if let Some(key) = self.fresh(now) {
            return key;
        }
        if st.last_error.is_some()
            && st
                .last_attempt
                .is_some_and(|last| now - last < KEY_RETRY_SECONDS)
        {
            return held;
        }
        st.last_attempt = Some(now);
        match self.read_material().await {
            Ok(material) => {
                st.last_error = None;
                let unchanged = self.held(|h| h.material == material).unwrap_or(false);
                if unchanged {
                    self.store(Held {
                        key: held.clone(),
                        material,
                        read_at: now,
                    });
                    return held;
                }
                match Self::parse(&material) {
                    Ok(key) => {
                        tracing::info!(
                            key_pair_id = key.signer.key_pair_id(),
                            previous_key_pair_id = held.signer.key_pair_id(),
                            "signing key changed; signing with the new key"
                        );
                        let key = Arc::new(key);
                        self.store(Held {
                            key: key.clone(),
                            material,
                            read_at: now,
                        });
                        key
                    }
                    Err(e) => self.keep_after_failure(&mut st, held, &e),
                }
            }
            Err(e) => self.keep_after_failure(&mut st, held, &e),
        }
    }

    fn keep_after_failure(
        &self,
        st: &mut LoadState,
        held: Arc<LoadedKey>,
        e: &Error,
    ) -> Arc<LoadedKey> {
        let cause = e.to_string();
        if st.last_error.as_deref() != Some(cause.as_str()) {
            tracing::warn!(
                cause = %cause,
                key_pair_id = held.signer.key_pair_id(),
                retry_seconds = KEY_RETRY_SECONDS,
                "re-reading the signing key failed; still signing with the key held"
            );
            st.last_error = Some(cause);
        }
        held
    }

    /// The signing key, loading it if it is not loaded yet and the last failed attempt is old
    /// enough. Logs the cause of a failure once (again only when the cause changes).
    pub(crate) async fn key(&self) -> Option<Arc<LoadedKey>> {
        let now = self.clock.now();
        if let Some(key) = self.fresh(now) {
            return Some(key);
        }
        if let Some(held) = self.current() {
            return Some(self.refresh(held).await);
        }
        let mut st = self.loading.lock().await;
        if let Some(key) = self.current() {
            return Some(key);
        }
        if st
            .last_attempt
            .is_some_and(|last| now - last < KEY_RETRY_SECONDS)
        {
            return None;
        }
        st.last_attempt = Some(now);
        let loaded = match self.read_material().await {
            Ok(material) => Self::parse(&material).map(|key| (key, material)),
            Err(e) => Err(e),
        };
        match loaded {
            Ok((key, material)) => {
                tracing::info!(
                    key_pair_id = key.signer.key_pair_id(),
                    key_type = %key.signer.key().key_type(),
                    after_failure = st.last_error.is_some(),
                    "signing key loaded"
                );
                st.last_error = None;
                let key = Arc::new(key);
                self.store(Held {
                    key: key.clone(),
                    material,
                    read_at: now,
                });
                Some(key)
            }
            Err(e) => {
                let cause = e.to_string();
                if st.last_error.as_deref() != Some(cause.as_str()) {
                    tracing::error!(
                        cause = %cause,
                        retry_seconds = KEY_RETRY_SECONDS,
                        "signing key unavailable; /session answers 503 until it loads"
                    );
                    st.last_error = Some(cause);
                }
                None
            }
        }
    }

    async fn read_material(&self) -> Result<crate::keys::SigningMaterial, Error> {
        self.keys.load().await
    }

    fn parse(material: &crate::keys::SigningMaterial) -> Result<LoadedKey, Error> {
        let invalid = |reason: String| Error::InvalidKey {
            key_pair_id: material.key_pair_id.clone(),
            reason,
        };
        if !is_valid_key_pair_id(&material.key_pair_id) {
            return Err(invalid(
                "key pair id must be letters, digits, - or _".into(),
            ));
        }
        let key =
            SigningKey::from_pem(&material.private_key_pem).map_err(|e| invalid(e.to_string()))?;
        Ok(LoadedKey {
            // Carried over by rotations when the secret has it; otherwise from the canonical
            // PKCS#8 form, so a PKCS#1 and a PKCS#8 copy of one key agree.
            marker_key: match &material.session_marker_key {
                Some(bytes) => MarkerKey::from_bytes(bytes),
                None => MarkerKey::derive(&key.private_key_pem()),
            },
            signer: Signer::new(key, material.key_pair_id.clone(), HashAlgorithm::Sha256),
        })
    }
}
