//! The verifier against an issuer whose key-set endpoint fails in every way while tokens keep
//! arriving: down, slow past the fetch timeout, answering garbage, rotating its keys mid-traffic.
//! Cached keys keep serving, no verification waits past the fetch timeout (and only the one
//! refreshing request waits at all), and recovery needs no new verifier.

mod common;

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use common::{jwks, now, sign};
use keyhole_core::Clock;
use keyhole_token::{
    DEFAULT_JWKS_COOLDOWN, DEFAULT_JWKS_TTL, HttpJwksSource, Rejection, TokenConfig, TokenVerifier,
};
use serde_json::{Value, json};

/// The fetch timeout the verifier is given here.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// How the key-set endpoint behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Up = 0,
    /// 503.
    Down = 1,
    /// Says nothing until long past the fetch timeout.
    Slow = 2,
    /// 200 with HTML.
    Html = 3,
    /// 200 with JSON that is no key set.
    NotAKeySet = 4,
    /// 200 with a key set whose keys are broken.
    BrokenKeys = 5,
}

struct Issuer {
    url: String,
    jwks: Mutex<String>,
    mode: AtomicU8,
    hits: AtomicUsize,
}

impl Issuer {
    async fn start(keys: &[&str]) -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let issuer = Arc::new(Issuer {
            url,
            jwks: Mutex::new(jwks(keys)),
            mode: AtomicU8::new(Mode::Up as u8),
            hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/keys", get(key_set))
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Claims of a good token at the test clock's `now`.
    fn claims(&self, now: i64) -> Value {
        json!({
            "iss": self.url, "sub": "user-42", "aud": "photo-app", "iat": now - 5,
            "exp": now + 600,
        })
    }

    /// A verifier with the fetch timeout above and `JWKS_URL` pointing here.
    fn verifier(&self, clock: Arc<ManualClock>) -> TokenVerifier {
        let vars = [
            ("OIDC_ISSUER", self.url.clone()),
            ("OIDC_AUDIENCE", "photo-app".to_owned()),
            ("JWKS_URL", format!("{}/keys", self.url)),
        ];
        let config = TokenConfig::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap();
        let source =
            HttpJwksSource::with_timeouts(FETCH_TIMEOUT, FETCH_TIMEOUT, FETCH_TIMEOUT).unwrap();
        TokenVerifier::new(config, Arc::new(source)).with_clock(clock)
    }
}

async fn key_set(State(issuer): State<Arc<Issuer>>) -> (StatusCode, String) {
    issuer.hits.fetch_add(1, Ordering::SeqCst);
    match issuer.mode.load(Ordering::SeqCst) {
        0 => (StatusCode::OK, issuer.jwks.lock().unwrap().clone()),
        1 => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
        2 => {
            tokio::time::sleep(FETCH_TIMEOUT * 5).await;
            (StatusCode::OK, issuer.jwks.lock().unwrap().clone())
        }
        3 => (
            StatusCode::OK,
            "<html><body>Bad gateway</body></html>".into(),
        ),
        4 => (
            StatusCode::OK,
            r#"{"keys": "none", "hello": [1, 2]}"#.into(),
        ),
        _ => (
            StatusCode::OK,
            r#"{"keys": [{"kty": "RSA", "kid": "rsa-a", "n": "!!", "e": "AQAB"}]}"#.into(),
        ),
    }
}

struct ManualClock(AtomicI64);

impl ManualClock {
    fn advance(&self, d: Duration) {
        self.0
            .fetch_add(i64::try_from(d.as_secs()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Verifies `token`, failing the test if it takes past the fetch timeout (plus slack for a busy
/// machine: the point is that nothing waits for the issuer's 10 s, not a latency target).
async fn verify_within(verifier: &TokenVerifier, token: &str) -> Result<(), Rejection> {
    let started = Instant::now();
    let result = tokio::time::timeout(FETCH_TIMEOUT * 3, verifier.verify(token))
        .await
        .expect("a verification outlived the fetch timeout");
    assert!(started.elapsed() < FETCH_TIMEOUT * 3);
    result.map(|_| ())
}

#[tokio::test]
async fn cached_keys_keep_serving_through_every_kind_of_failure_and_recovery_needs_no_restart() {
    let issuer = Issuer::start(&["rsa-a", "ec-a"]).await;
    let clock = Arc::new(ManualClock(AtomicI64::new(now())));
    let verifier = issuer.verifier(clock.clone());
    let good = sign("rsa-a", "rsa-a", &issuer.claims(clock.now()));
    verify_within(&verifier, &good).await.unwrap();

    for mode in [
        Mode::Down,
        Mode::Slow,
        Mode::Html,
        Mode::NotAKeySet,
        Mode::BrokenKeys,
    ] {
        issuer.set(mode);
        // Past the TTL: the next request refreshes, the refresh fails, the cached set serves.
        clock.advance(DEFAULT_JWKS_TTL + DEFAULT_JWKS_COOLDOWN);
        let good = sign("rsa-a", "rsa-a", &issuer.claims(clock.now()));
        let before = issuer.hits();
        verify_within(&verifier, &good)
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: a cached key was refused: {e:?}"));
        verify_within(
            &verifier,
            &sign("ec-a", "ec-a", &issuer.claims(clock.now())),
        )
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: a cached key was refused: {e:?}"));
        assert_eq!(issuer.hits(), before + 1, "{mode:?}: one refresh attempt");
        // The operator can see why.
        let cause = verifier
            .key_set_error(&issuer.url)
            .unwrap_or_else(|| panic!("{mode:?}: the failure is not recorded"));
        assert!(!cause.reason.is_empty(), "{mode:?}");
        // An unknown kid is refused as unknown, not with a server error, and does not wait.
        assert_eq!(
            verify_within(
                &verifier,
                &sign("rsa-b", "rsa-b", &issuer.claims(clock.now()))
            )
            .await,
            Err(Rejection::UnknownKey),
            "{mode:?}"
        );
    }

    // The issuer comes back, having rotated to a new key while it was away: after the
    // cool-down the new key works on the same verifier, the failure is cleared.
    issuer.set(Mode::Up);
    *issuer.jwks.lock().unwrap() = jwks(&["rsa-a", "ec-a", "rsa-b"]);
    clock.advance(DEFAULT_JWKS_COOLDOWN);
    verify_within(
        &verifier,
        &sign("rsa-b", "rsa-b", &issuer.claims(clock.now())),
    )
    .await
    .unwrap();
    assert!(verifier.key_set_error(&issuer.url).is_none());
}

#[tokio::test]
async fn a_slow_refresh_holds_up_only_the_request_that_makes_it() {
    let issuer = Issuer::start(&["rsa-a"]).await;
    let clock = Arc::new(ManualClock(AtomicI64::new(now())));
    let verifier = Arc::new(issuer.verifier(clock.clone()));
    let good = sign("rsa-a", "rsa-a", &issuer.claims(clock.now()));
    verify_within(&verifier, &good).await.unwrap();

    issuer.set(Mode::Slow);
    clock.advance(DEFAULT_JWKS_TTL + DEFAULT_JWKS_COOLDOWN);
    let good = sign("rsa-a", "rsa-a", &issuer.claims(clock.now()));
    let refreshing = {
        let (verifier, good) = (verifier.clone(), good.clone());
        tokio::spawn(async move { verify_within(&verifier, &good).await })
    };
    // Wait until the refresh is under way at the issuer.
    while issuer.hits() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Fifty more requests meanwhile: all answered from the stale set while the refresh is
    // still waiting on the issuer.
    for _ in 0..50 {
        verify_within(&verifier, &good).await.unwrap();
    }
    assert!(
        !refreshing.is_finished(),
        "the others were answered before the slow refresh gave up"
    );
    refreshing.await.unwrap().unwrap();
    assert_eq!(issuer.hits(), 2, "one refresh for all of them");
}

#[tokio::test]
async fn keys_rotating_mid_traffic_never_refuse_a_token_signed_with_a_published_key() {
    let issuer = Issuer::start(&["rsa-a"]).await;
    let clock = Arc::new(ManualClock(AtomicI64::new(now())));
    let verifier = Arc::new(issuer.verifier(clock.clone()));
    // Eight clients verify continuously while the issuer rotates a -> a+b -> b -> b+c -> c.
    let current = Arc::new(Mutex::new("rsa-a".to_owned()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (verifier, current, stop, issuer, clock) = (
            verifier.clone(),
            current.clone(),
            stop.clone(),
            issuer.clone(),
            clock.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut verified = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let kid = current.lock().unwrap().clone();
                let signer = if kid.starts_with("rsa") {
                    "rsa-a"
                } else {
                    "ec-a"
                };
                let token = sign(signer, &kid, &issuer.claims(clock.now()));
                verify_within(&verifier, &token)
                    .await
                    .unwrap_or_else(|e| panic!("{kid}: {e:?}"));
                verified += 1;
                tokio::task::yield_now().await;
            }
            verified
        }));
    }
    // Each step publishes the new key beside the old one first, then signs with it (as
    // issuers do), and only after a TTL retires the old one.
    for (publish, sign_with) in [
        (&["rsa-a", "ec-a"][..], "ec-a"),
        (&["ec-a"][..], "ec-a"),
        (&["ec-a", "rsa-a"][..], "rsa-a"),
        (&["rsa-a"][..], "rsa-a"),
    ] {
        *issuer.jwks.lock().unwrap() = jwks(publish);
        clock.advance(DEFAULT_JWKS_COOLDOWN);
        tokio::time::sleep(Duration::from_millis(50)).await;
        *current.lock().unwrap() = sign_with.to_owned();
        tokio::time::sleep(Duration::from_millis(50)).await;
        clock.advance(DEFAULT_JWKS_TTL);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        total += c.await.unwrap();
    }
    assert!(total > 0);
}
