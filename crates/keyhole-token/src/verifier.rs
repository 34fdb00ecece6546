//! [`TokenVerifier`]: the configured issuers, their cached key sets, and the order of checks.

use std::sync::Arc;

use keyhole_core::{Clock, SystemClock};

use crate::cache::IssuerKeys;
use crate::claims::{self, Claims};
use crate::config::TokenConfig;
use crate::error::{ConfigError, FetchError, Rejection};
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

    /// Why the last attempt to fetch `issuer`'s key set (or its discovery document) failed: the
    /// URL and the cause, unless a fetch has succeeded since. A caller that got
    /// [`Rejection::KeySetUnavailable`] can tell an operator what to fix; the rejection itself
    /// stays short because it may reach clients.
    pub fn key_set_error(&self, issuer: &str) -> Option<FetchError> {
        let index = self
            .config
            .issuers()
            .iter()
            .position(|i| i.issuer == issuer)?;
        self.keys[index].last_error()
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

        let now = self.clock.now();
        claims::check(&unverified.claims, issuer, &self.config, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use crate::source::FetchFuture;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    use std::time::Duration;

    const POOL: &str = "us-east-1_Pool1";
    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1";
    const JWKS_URL: &str =
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1/.well-known/jwks.json";
    const T0: u64 = 1_800_000_000;

    /// An in-memory issuer: documents by URL, a fetch log, and a switch to take it down.
    #[derive(Default)]
    struct FakeSource {
        docs: Mutex<HashMap<String, String>>,
        fetches: Mutex<Vec<String>>,
        down: AtomicBool,
    }

    impl FakeSource {
        fn serving(url: &str, body: &str) -> Arc<Self> {
            let source = Arc::new(Self::default());
            source.put(url, body);
            source
        }
        fn put(&self, url: &str, body: &str) {
            self.docs.lock().unwrap().insert(url.into(), body.into());
        }
        fn fetch_count(&self) -> usize {
            self.fetches.lock().unwrap().len()
        }
    }

    impl JwksSource for FakeSource {
        fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
            Box::pin(async move {
                self.fetches.lock().unwrap().push(url.to_owned());
                if self.down.load(Ordering::SeqCst) {
                    return Err(FetchError::new(url, "connection refused"));
                }
                self.docs
                    .lock()
                    .unwrap()
                    .get(url)
                    .cloned()
                    .ok_or_else(|| FetchError::new(url, "HTTP status 404 Not Found"))
            })
        }
    }

    struct FakeClock(AtomicI64);

    impl FakeClock {
        fn at(secs: u64) -> Arc<Self> {
            Arc::new(Self(AtomicI64::new(secs as i64)))
        }
        fn advance(&self, d: Duration) {
            self.0.fetch_add(d.as_secs() as i64, Ordering::SeqCst);
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn jwks(kids: &[&str]) -> String {
        let all: Value = serde_json::from_str(include_str!("../testdata/jwks.json")).unwrap();
        let keys: Vec<Value> = all["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| kids.contains(&k["kid"].as_str().unwrap()))
            .cloned()
            .collect();
        json!({ "keys": keys }).to_string()
    }

    fn pem(kid: &str) -> &'static str {
        match kid {
            "rsa-a" => include_str!("../testdata/rsa-a.pem"),
            "rsa-b" => include_str!("../testdata/rsa-b.pem"),
            "ec-a" => include_str!("../testdata/ec-a.pem"),
            "ec-b" => include_str!("../testdata/ec-b.pem"),
            other => panic!("no test key {other}"),
        }
    }

    /// Signs `claims` with the test key `signer`, naming `kid` in the header.
    fn token(signer: &str, kid: &str, claims: &Value) -> String {
        let (alg, key) = if signer.starts_with("rsa") {
            (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(pem(signer).as_bytes()).unwrap(),
            )
        } else {
            (
                Algorithm::ES256,
                EncodingKey::from_ec_pem(pem(signer).as_bytes()).unwrap(),
            )
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    fn id_claims() -> Value {
        json!({
            "iss": ISS, "sub": "user-1", "aud": "client-1", "token_use": "id",
            "exp": T0 + 600, "iat": T0, "cognito:username": "alice"
        })
    }

    fn config() -> TokenConfig {
        TokenConfig::from_vars(|name| match name {
            "COGNITO_USER_POOL_ID" => Some(POOL.into()),
            "COGNITO_CLIENT_ID" => Some("client-1".into()),
            _ => None,
        })
        .unwrap()
    }

    fn verifier(source: Arc<FakeSource>, clock: Arc<FakeClock>) -> TokenVerifier {
        TokenVerifier::new(config(), source).with_clock(clock)
    }

    #[tokio::test]
    async fn rs256_and_es256_tokens_are_verified_with_one_fetch() {
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a", "ec-a"]));
        let v = verifier(source.clone(), FakeClock::at(T0));
        let claims = v
            .verify(&token("rsa-a", "rsa-a", &id_claims()))
            .await
            .unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.username.as_deref(), Some("alice"));
        assert_eq!(claims.expires_at, (T0 + 600) as i64);
        v.verify(&token("ec-a", "ec-a", &id_claims()))
            .await
            .unwrap();
        assert_eq!(
            source.fetch_count(),
            1,
            "the second token uses the cached set"
        );
    }

    #[tokio::test]
    async fn rotation_is_picked_up_once_the_cooldown_has_passed() {
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a"]));
        let clock = FakeClock::at(T0);
        let v = verifier(source.clone(), clock.clone());
        v.verify(&token("rsa-a", "rsa-a", &id_claims()))
            .await
            .unwrap();

        // The issuer publishes a new key and signs with it right away.
        source.put(JWKS_URL, &jwks(&["rsa-b"]));
        let rotated = token("rsa-b", "rsa-b", &id_claims());
        assert_eq!(
            v.verify(&rotated).await,
            Err(Rejection::UnknownKey),
            "within cool-down"
        );
        clock.advance(DEFAULT_COOLDOWN);
        assert!(v.verify(&rotated).await.is_ok());
        // The old key left the set, so its tokens are refused now.
        clock.advance(DEFAULT_COOLDOWN);
        assert_eq!(
            v.verify(&token("rsa-a", "rsa-a", &id_claims())).await,
            Err(Rejection::UnknownKey)
        );
        assert_eq!(source.fetch_count(), 3);
    }

    const DEFAULT_COOLDOWN: Duration = crate::config::DEFAULT_JWKS_COOLDOWN;

    #[tokio::test]
    async fn a_burst_of_random_kids_causes_at_most_one_refetch_per_cooldown() {
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a"]));
        let clock = FakeClock::at(T0);
        let v = verifier(source.clone(), clock.clone());
        v.verify(&token("rsa-a", "rsa-a", &id_claims()))
            .await
            .unwrap();
        clock.advance(DEFAULT_COOLDOWN);

        for i in 0..1000 {
            let kid = format!("made-up-{i}-{}", i * 7919);
            let t = token("rsa-a", &kid, &id_claims());
            assert_eq!(v.verify(&t).await, Err(Rejection::UnknownKey));
            if i % 200 == 199 {
                clock.advance(Duration::from_secs(1)); // 5 s in all: still one cool-down
            }
        }
        assert_eq!(source.fetch_count(), 2, "initial fetch + one refetch");

        clock.advance(DEFAULT_COOLDOWN);
        let t = token("rsa-a", "another-made-up", &id_claims());
        assert_eq!(v.verify(&t).await, Err(Rejection::UnknownKey));
        assert_eq!(
            source.fetch_count(),
            3,
            "the next cool-down allows one more"
        );
        // Known kids never wait on any of this.
        v.verify(&token("rsa-a", "rsa-a", &id_claims()))
            .await
            .unwrap();
        assert_eq!(source.fetch_count(), 3);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a"]));
        let v = Arc::new(verifier(source.clone(), FakeClock::at(T0)));
        let t = token("rsa-a", "rsa-a", &id_claims());
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (v, t) = (v.clone(), t.clone());
                tokio::spawn(async move { v.verify(&t).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(source.fetch_count(), 1);
    }

    #[tokio::test]
    async fn issuer_down_cached_keys_still_work() {
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a"]));
        let clock = FakeClock::at(T0);
        let v = verifier(source.clone(), clock.clone());
        v.verify(&token("rsa-a", "rsa-a", &id_claims()))
            .await
            .unwrap();

        source.down.store(true, Ordering::SeqCst);
        // Past the TTL the set is refreshed on use; the refresh fails; the stale set serves.
        clock.advance(crate::config::DEFAULT_JWKS_TTL + Duration::from_secs(1));
        let mut claims = id_claims();
        claims["exp"] = json!(T0 + 7200);
        v.verify(&token("rsa-a", "rsa-a", &claims)).await.unwrap();
        v.verify(&token("rsa-a", "rsa-a", &claims)).await.unwrap();
        assert_eq!(
            source.fetch_count(),
            2,
            "the failed refresh is not retried within the cool-down"
        );
        assert_eq!(
            v.verify(&token("rsa-b", "rsa-b", &claims)).await,
            Err(Rejection::UnknownKey)
        );
    }

    #[tokio::test]
    async fn unreachable_issuer_without_a_cached_set_is_key_set_unavailable() {
        let source = Arc::new(FakeSource::default());
        source.down.store(true, Ordering::SeqCst);
        let clock = FakeClock::at(T0);
        let v = verifier(source.clone(), clock.clone());
        let t = token("rsa-a", "rsa-a", &id_claims());
        assert_eq!(v.key_set_error(ISS), None, "nothing tried yet");
        assert_eq!(v.verify(&t).await, Err(Rejection::KeySetUnavailable));
        assert_eq!(v.verify(&t).await, Err(Rejection::KeySetUnavailable));
        assert_eq!(source.fetch_count(), 1);
        assert_eq!(
            v.key_set_error(ISS),
            Some(FetchError::new(JWKS_URL, "connection refused"))
        );
        assert_eq!(v.key_set_error("https://other.example"), None);

        // It recovers by itself once the issuer is back and the cool-down has passed.
        source.down.store(false, Ordering::SeqCst);
        source.put(JWKS_URL, &jwks(&["rsa-a"]));
        clock.advance(DEFAULT_COOLDOWN);
        assert!(v.verify(&t).await.is_ok());
        assert_eq!(v.key_set_error(ISS), None, "a good fetch clears the error");
    }

    #[tokio::test]
    async fn a_garbage_key_set_does_not_replace_the_good_one() {
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a"]));
        let clock = FakeClock::at(T0);
        let v = verifier(source.clone(), clock.clone());
        let mut claims = id_claims();
        claims["exp"] = json!(T0 + 7200);
        let t = token("rsa-a", "rsa-a", &claims);
        v.verify(&t).await.unwrap();
        source.put(JWKS_URL, "<html>maintenance</html>");
        clock.advance(crate::config::DEFAULT_JWKS_TTL);
        v.verify(&t).await.unwrap();
        assert_eq!(source.fetch_count(), 2);
    }

    #[tokio::test]
    async fn wrong_issuer_is_refused_without_any_fetch() {
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a"]));
        let v = verifier(source.clone(), FakeClock::at(T0));
        let mut claims = id_claims();
        claims["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other");
        let t = token("rsa-a", "rsa-a", &claims);
        assert_eq!(v.verify(&t).await, Err(Rejection::WrongIssuer));
        let no_iss = token("rsa-a", "rsa-a", &json!({"sub": "x", "exp": T0 + 60}));
        assert_eq!(v.verify(&no_iss).await, Err(Rejection::Malformed));
        assert_eq!(source.fetch_count(), 0);
    }

    #[tokio::test]
    async fn a_preloaded_key_set_needs_no_network() {
        let source = Arc::new(FakeSource::default());
        source.down.store(true, Ordering::SeqCst);
        let clock = FakeClock::at(T0);
        let v = TokenVerifier::new(config(), source.clone())
            .with_clock(clock)
            .with_key_set(&jwks(&["rsa-a", "ec-a"]))
            .unwrap();
        v.verify(&token("ec-a", "ec-a", &id_claims()))
            .await
            .unwrap();
        assert_eq!(source.fetch_count(), 0);
        assert!(matches!(
            TokenVerifier::new(config(), source.clone()).with_key_set(r#"{"keys": []}"#),
            Err(ConfigError::Invalid {
                variable: "JWKS_FILE",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn from_config_reports_an_unreadable_jwks_file() {
        let c = TokenConfig::from_vars(|name| match name {
            "COGNITO_USER_POOL_ID" => Some(POOL.into()),
            "COGNITO_CLIENT_ID" => Some("client-1".into()),
            "JWKS_FILE" => Some("/nonexistent/keyhole/jwks.json".into()),
            _ => None,
        })
        .unwrap();
        let err = TokenVerifier::from_config(c).unwrap_err();
        assert!(matches!(err, ConfigError::JwksFile { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("JWKS_FILE /nonexistent/keyhole/jwks.json")
        );
    }

    #[tokio::test]
    async fn oidc_keys_are_found_through_discovery() {
        let issuer = "https://login.example.com/tenant";
        let c = TokenConfig::from_vars(|name| match name {
            "OIDC_ISSUER" => Some(issuer.into()),
            "OIDC_AUDIENCE" => Some("app".into()),
            _ => None,
        })
        .unwrap();
        let source = FakeSource::serving(
            "https://login.example.com/tenant/.well-known/openid-configuration",
            &json!({"issuer": issuer, "jwks_uri": "https://keys.example.com/k"}).to_string(),
        );
        source.put("https://keys.example.com/k", &jwks(&["ec-b"]));
        let clock = FakeClock::at(T0);
        let v = TokenVerifier::new(c, source.clone()).with_clock(clock.clone());
        let claims = json!({"iss": issuer, "sub": "s", "aud": "app", "exp": T0 + 60});
        v.verify(&token("ec-b", "ec-b", &claims)).await.unwrap();

        // The discovered jwks_uri is remembered: a refetch goes straight to the key set.
        clock.advance(DEFAULT_COOLDOWN);
        let t = token("ec-b", "unknown", &claims);
        assert_eq!(v.verify(&t).await, Err(Rejection::UnknownKey));
        let fetched = source.fetches.lock().unwrap().clone();
        assert_eq!(fetched.len(), 3);
        assert_eq!(fetched[2], "https://keys.example.com/k");
    }

    #[tokio::test]
    async fn with_two_issuers_each_token_is_checked_with_its_own_issuers_keys_only() {
        let oidc = "https://login.example.com";
        let c = TokenConfig::from_vars(|name| match name {
            "COGNITO_USER_POOL_ID" => Some(POOL.into()),
            "COGNITO_CLIENT_ID" => Some("client-1".into()),
            "OIDC_ISSUER" => Some(oidc.into()),
            "OIDC_AUDIENCE" => Some("app".into()),
            _ => None,
        })
        .unwrap();
        let source = FakeSource::serving(JWKS_URL, &jwks(&["rsa-a"]));
        source.put(
            "https://login.example.com/.well-known/openid-configuration",
            &json!({"issuer": oidc, "jwks_uri": "https://login.example.com/keys"}).to_string(),
        );
        source.put("https://login.example.com/keys", &jwks(&["ec-b"]));
        let v = TokenVerifier::new(c, source.clone()).with_clock(FakeClock::at(T0));

        let oidc_claims = json!({"iss": oidc, "sub": "s", "aud": "app", "exp": T0 + 60});
        v.verify(&token("rsa-a", "rsa-a", &id_claims()))
            .await
            .unwrap();
        v.verify(&token("ec-b", "ec-b", &oidc_claims))
            .await
            .unwrap();
        // The OIDC issuer's key does not vouch for a Cognito token, nor the reverse.
        assert_eq!(
            v.verify(&token("ec-b", "ec-b", &id_claims())).await,
            Err(Rejection::UnknownKey)
        );
        assert_eq!(
            v.verify(&token("rsa-a", "rsa-a", &oidc_claims)).await,
            Err(Rejection::UnknownKey)
        );
        // A Cognito-shaped token from the OIDC issuer is judged by OIDC rules: its `aud`.
        let mut cognito_shaped = id_claims();
        cognito_shaped["iss"] = json!(oidc);
        assert_eq!(
            v.verify(&token("ec-b", "ec-b", &cognito_shaped)).await,
            Err(Rejection::WrongAudience)
        );
    }

    #[tokio::test]
    async fn a_discovery_document_for_another_issuer_is_not_followed() {
        let issuer = "https://login.example.com";
        let c = TokenConfig::from_vars(|name| match name {
            "OIDC_ISSUER" => Some(issuer.into()),
            "OIDC_AUDIENCE" => Some("app".into()),
            _ => None,
        })
        .unwrap();
        for doc in [
            json!({"issuer": "https://evil.example.com", "jwks_uri": "https://keys.example.com/k"}),
            json!({"issuer": issuer, "jwks_uri": "http://keys.example.com/k"}),
            json!({"issuer": issuer}),
        ] {
            let source = FakeSource::serving(
                "https://login.example.com/.well-known/openid-configuration",
                &doc.to_string(),
            );
            source.put("https://keys.example.com/k", &jwks(&["ec-b"]));
            source.put("http://keys.example.com/k", &jwks(&["ec-b"]));
            let v = TokenVerifier::new(c.clone(), source.clone()).with_clock(FakeClock::at(T0));
            let claims = json!({"iss": issuer, "sub": "s", "aud": "app", "exp": T0 + 60});
            assert_eq!(
                v.verify(&token("ec-b", "ec-b", &claims)).await,
                Err(Rejection::KeySetUnavailable),
                "{doc}"
            );
            assert_eq!(
                source.fetch_count(),
                1,
                "only the discovery document was fetched"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Whatever single character of a valid token is changed, to whatever other character,
        /// the token is refused: no part of it is malleable.
        #[test]
        fn any_single_character_change_is_refused(position in 0usize..10_000, replacement in "[A-Za-z0-9_.=+/-]") {
            static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let original = TOKEN.get_or_init(|| token("ec-a", "ec-a", &id_claims()));
            let position = position % original.len();
            let replacement = replacement.chars().next().unwrap();
            proptest::prop_assume!(original.as_bytes()[position] as char != replacement);
            let mut changed = original.clone();
            changed.replace_range(position..=position, &replacement.to_string());

            let source = FakeSource::serving(JWKS_URL, &jwks(&["ec-a"]));
            let v = verifier(source, FakeClock::at(T0));
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(v.verify(original)).unwrap();
            proptest::prop_assert!(runtime.block_on(v.verify(&changed)).is_err());
        }
    }
}
