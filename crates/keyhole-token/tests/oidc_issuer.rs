//! Against a local OpenID Connect issuer on 127.0.0.1 (discovery document + JWKS over real
//! HTTP), with RSA and EC keys: every rejection produced on purpose, and the key-set cache's
//! behaviour under rotation, floods of made-up kids, and an issuer that goes down.

mod common;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use common::{b64, jwks, now, public_pem, sign, sign_with, unb64};
use jsonwebtoken::{Algorithm, EncodingKey};
use keyhole_core::Clock;
use keyhole_token::{
    DEFAULT_JWKS_COOLDOWN, DEFAULT_JWKS_TTL, HttpJwksSource, MAX_TOKEN_BYTES, Rejection,
    TokenConfig, TokenVerifier,
};
use serde_json::{Value, json};

/// The issuer's state, which tests change while it runs.
struct Issuer {
    url: String,
    jwks: Mutex<String>,
    down: AtomicBool,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

impl Issuer {
    async fn start(keys: &[&str]) -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let issuer = Arc::new(Issuer {
            url,
            jwks: Mutex::new(jwks(keys)),
            down: AtomicBool::new(false),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(key_set))
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    }

    fn publish(&self, keys: &[&str]) {
        *self.jwks.lock().unwrap() = jwks(keys);
    }

    fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    fn config(&self, extra: &[(&str, &str)]) -> TokenConfig {
        let mut vars: Vec<(String, String)> = vec![
            ("OIDC_ISSUER".into(), self.url.clone()),
            ("OIDC_AUDIENCE".into(), "photo-app".into()),
        ];
        vars.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        TokenConfig::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .unwrap()
    }

    /// Claims of a good token from this issuer.
    fn claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.url, "sub": "user-42", "aud": "photo-app", "iat": now - 5,
            "nbf": now - 5, "exp": now + 300, "email": "u42@example.com",
            "preferred_username": "u42", "groups": ["readers"]
        })
    }
}

async fn discovery(State(issuer): State<Arc<Issuer>>) -> (StatusCode, String) {
    issuer.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if issuer.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, String::new());
    }
    let doc = json!({ "issuer": issuer.url, "jwks_uri": format!("{}/keys", issuer.url) });
    (StatusCode::OK, doc.to_string())
}

async fn key_set(State(issuer): State<Arc<Issuer>>) -> (StatusCode, String) {
    issuer.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if issuer.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, String::new());
    }
    (StatusCode::OK, issuer.jwks.lock().unwrap().clone())
}

struct ManualClock(AtomicI64);

impl ManualClock {
    fn starting_now() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(now())))
    }
    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_secs() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[tokio::test]
async fn every_rejection_is_produced_on_purpose() {
    let issuer = Issuer::start(&["rsa-a", "rsa-b", "ec-a", "ec384-a", "ed-a"]).await;
    let config = issuer.config(&[("REQUIRED_GROUPS", "readers,editors")]);
    let verifier = TokenVerifier::from_config(config).unwrap();
    let good = issuer.claims();

    // The good tokens, RSA and EC, through discovery and the JWKS over HTTP.
    let claims = verifier
        .verify(&sign("rsa-a", "rsa-a", &good))
        .await
        .unwrap();
    assert_eq!(claims.sub, "user-42");
    assert_eq!(claims.issuer, issuer.url);
    assert_eq!(claims.email.as_deref(), Some("u42@example.com"));
    assert_eq!(claims.username.as_deref(), Some("u42"));
    assert_eq!(claims.groups, ["readers"]);
    verifier.verify(&sign("ec-a", "ec-a", &good)).await.unwrap();
    verifier
        .verify(&sign("ec384-a", "ec384-a", &good))
        .await
        .unwrap();
    verifier.verify(&sign("ed-a", "ed-a", &good)).await.unwrap();

    let rs256 = sign("rsa-a", "rsa-a", &good);
    let [header, payload, signature]: [&str; 3] =
        rs256.split('.').collect::<Vec<_>>().try_into().unwrap();

    let cases: Vec<(&str, String, Rejection)> = vec![
        (
            "alg none, no signature",
            format!("{}.{payload}.", b64(r#"{"alg":"none","kid":"rsa-a"}"#)),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "alg none, a real signature attached",
            format!(
                "{}.{payload}.{signature}",
                b64(r#"{"alg":"none","kid":"rsa-a"}"#)
            ),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "HS256 with the issuer's public key as the HMAC secret",
            sign_with(
                Algorithm::HS256,
                &EncodingKey::from_secret(public_pem("rsa-a").as_bytes()),
                "rsa-a",
                &good,
            ),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "HS256 with the issuer's JWKS modulus as the HMAC secret",
            sign_with(
                Algorithm::HS256,
                &EncodingKey::from_secret(&unb64(
                    serde_json::from_str::<Value>(&jwks(&["rsa-a"])).unwrap()["keys"][0]["n"]
                        .as_str()
                        .unwrap(),
                )),
                "rsa-a",
                &good,
            ),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "PS256 against a key the JWKS pins to RS256",
            sign_with(
                Algorithm::PS256,
                &EncodingKey::from_rsa_pem(common::testdata("rsa-a.pem").as_bytes()).unwrap(),
                "rsa-a",
                &good,
            ),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "ES256 token naming an RSA key",
            sign("ec-a", "rsa-a", &good),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "ES256 token naming a P-384 key",
            sign("ec-a", "ec384-a", &good),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "EdDSA token naming an EC key",
            sign("ed-a", "ec-a", &good),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            "kid swapped to another RSA key of the issuer",
            sign("rsa-a", "rsa-b", &good),
            Rejection::BadSignature,
        ),
        (
            "kid swapped to another EC key (signed by an unpublished key)",
            sign("ec-b", "ec-a", &good),
            Rejection::BadSignature,
        ),
        (
            "tampered payload (sub changed after signing)",
            format!(
                "{header}.{}.{signature}",
                b64(with(good.clone(), "sub", json!("admin")).to_string())
            ),
            Rejection::BadSignature,
        ),
        (
            "signature stripped",
            format!("{header}.{payload}."),
            Rejection::BadSignature,
        ),
        (
            "wrong issuer, signed by the right key",
            sign(
                "rsa-a",
                "rsa-a",
                &with(good.clone(), "iss", json!("https://evil.example")),
            ),
            Rejection::WrongIssuer,
        ),
        (
            "issuer differing by a trailing slash",
            sign(
                "rsa-a",
                "rsa-a",
                &with(good.clone(), "iss", json!(format!("{}/", issuer.url))),
            ),
            Rejection::WrongIssuer,
        ),
        (
            "expired",
            sign(
                "rsa-a",
                "rsa-a",
                &with(good.clone(), "exp", json!(now() - 120)),
            ),
            Rejection::Expired,
        ),
        (
            "not yet valid",
            sign(
                "rsa-a",
                "rsa-a",
                &with(good.clone(), "nbf", json!(now() + 600)),
            ),
            Rejection::NotYetValid,
        ),
        (
            "issued in the future",
            sign(
                "ec-a",
                "ec-a",
                &with(good.clone(), "iat", json!(now() + 600)),
            ),
            Rejection::NotYetValid,
        ),
        (
            "another application's audience",
            sign(
                "rsa-a",
                "rsa-a",
                &with(good.clone(), "aud", json!("other-app")),
            ),
            Rejection::WrongAudience,
        ),
        (
            "no group",
            sign("rsa-a", "rsa-a", &without(good.clone(), "groups")),
            Rejection::MissingGroup,
        ),
        (
            "a group, but not a required one",
            sign(
                "ec-a",
                "ec-a",
                &with(good.clone(), "groups", json!(["guests"])),
            ),
            Rejection::MissingGroup,
        ),
        (
            "unknown kid",
            sign("ec-b", "ec-b", &good),
            Rejection::UnknownKey,
        ),
        (
            "no exp",
            sign("rsa-a", "rsa-a", &without(good.clone(), "exp")),
            Rejection::Malformed,
        ),
        ("not a JWT", "hello".to_owned(), Rejection::Malformed),
        (
            "four parts",
            format!("{rs256}.{signature}"),
            Rejection::Malformed,
        ),
        (
            "larger than 16 KiB",
            sign(
                "rsa-a",
                "rsa-a",
                &with(good.clone(), "pad", json!("x".repeat(MAX_TOKEN_BYTES))),
            ),
            Rejection::TooLarge,
        ),
    ];

    for (what, token, expected) in &cases {
        let outcome = verifier.verify(token).await;
        assert_eq!(
            outcome.as_ref().err(),
            Some(expected),
            "{what}: {outcome:?}"
        );
        let reason = expected.to_string();
        assert!(
            !reason.contains(token.as_str()) && reason.len() < 60,
            "{what}: {reason}"
        );
    }
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 1);
    assert!(
        issuer.jwks_hits() <= 2,
        "one fetch, plus at most one for the unknown kid"
    );
}

#[tokio::test]
async fn an_unreachable_issuer_means_key_set_unavailable() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let config = TokenConfig::from_vars(|name| match name {
        "OIDC_ISSUER" => Some(url.clone()),
        "OIDC_AUDIENCE" => Some("photo-app".into()),
        _ => None,
    })
    .unwrap();
    let verifier = TokenVerifier::from_config(config).unwrap();
    let claims = json!({"iss": url, "sub": "s", "aud": "photo-app", "exp": now() + 60});
    assert_eq!(
        verifier.verify(&sign("rsa-a", "rsa-a", &claims)).await,
        Err(Rejection::KeySetUnavailable)
    );
    // The rejection stays short; the verifier keeps the URL and the cause for the operator.
    let cause = verifier.key_set_error(&url).unwrap();
    assert_eq!(cause.url, format!("{url}/.well-known/openid-configuration"));
    assert!(cause.reason.starts_with("connection failed: "), "{cause}");

    let issuer = Issuer::start(&["rsa-a"]).await;
    issuer.down.store(true, Ordering::SeqCst);
    let verifier = TokenVerifier::from_config(issuer.config(&[])).unwrap();
    assert_eq!(
        verifier
            .verify(&sign("rsa-a", "rsa-a", &issuer.claims()))
            .await,
        Err(Rejection::KeySetUnavailable)
    );
}

fn manual_verifier(issuer: &Issuer, clock: Arc<ManualClock>) -> TokenVerifier {
    TokenVerifier::new(issuer.config(&[]), Arc::new(HttpJwksSource::new().unwrap()))
        .with_clock(clock)
}

#[tokio::test]
async fn key_rotation_at_the_issuer_is_picked_up() {
    let issuer = Issuer::start(&["rsa-a"]).await;
    let clock = ManualClock::starting_now();
    let verifier = manual_verifier(&issuer, clock.clone());
    verifier
        .verify(&sign("rsa-a", "rsa-a", &issuer.claims()))
        .await
        .unwrap();

    // The issuer adds a new key and starts signing with it.
    issuer.publish(&["rsa-a", "ec-b"]);
    let new_token = sign("ec-b", "ec-b", &issuer.claims());
    clock.advance(DEFAULT_JWKS_COOLDOWN);
    verifier.verify(&new_token).await.unwrap();
    verifier
        .verify(&sign("rsa-a", "rsa-a", &issuer.claims()))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_hits(), 2);

    // Then retires the old one: after the next refresh its tokens stop working.
    issuer.publish(&["ec-b"]);
    clock.advance(DEFAULT_JWKS_TTL);
    let mut claims = issuer.claims();
    claims["exp"] = json!(now() + 7200);
    assert_eq!(
        verifier.verify(&sign("rsa-a", "rsa-a", &claims)).await,
        Err(Rejection::UnknownKey)
    );
    verifier
        .verify(&sign("ec-b", "ec-b", &claims))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_hits(), 3);
}

#[tokio::test]
async fn a_thousand_random_kids_cause_at_most_one_refetch_per_cooldown() {
    let issuer = Issuer::start(&["rsa-a", "ec-a"]).await;
    let clock = ManualClock::starting_now();
    let verifier = Arc::new(manual_verifier(&issuer, clock.clone()));
    verifier
        .verify(&sign("ec-a", "ec-a", &issuer.claims()))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_hits(), 1);
    clock.advance(DEFAULT_JWKS_COOLDOWN);

    // One signature, a thousand made-up kids (the header is not covered by anything we trust
    // before the key lookup, so an attacker can mint these for free), all at once.
    let real = sign("ec-a", "ec-a", &issuer.claims());
    let (_, rest) = real.split_once('.').unwrap();
    let mut tasks = Vec::new();
    for i in 0..1000u32 {
        let kid = format!("{:08x}", i.wrapping_mul(2_654_435_761));
        let token = format!(
            "{}.{rest}",
            b64(json!({"alg": "ES256", "kid": kid}).to_string())
        );
        let verifier = verifier.clone();
        tasks.push(tokio::spawn(async move { verifier.verify(&token).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), Err(Rejection::UnknownKey));
    }
    assert_eq!(issuer.jwks_hits(), 2, "one refetch for the whole burst");

    // Still within the cool-down: another burst costs nothing.
    clock.advance(DEFAULT_JWKS_COOLDOWN / 2);
    for i in 0..100 {
        let token = sign("ec-a", &format!("again-{i}"), &issuer.claims());
        assert_eq!(verifier.verify(&token).await, Err(Rejection::UnknownKey));
    }
    assert_eq!(issuer.jwks_hits(), 2);
    // Real users were never held up.
    verifier.verify(&real).await.unwrap();
}

#[tokio::test]
async fn issuer_down_cached_keys_still_work() {
    let issuer = Issuer::start(&["rsa-a", "ec-a"]).await;
    let clock = ManualClock::starting_now();
    let verifier = manual_verifier(&issuer, clock.clone());
    verifier
        .verify(&sign("rsa-a", "rsa-a", &issuer.claims()))
        .await
        .unwrap();

    issuer.down.store(true, Ordering::SeqCst);
    clock.advance(DEFAULT_JWKS_TTL + Duration::from_secs(60));
    let mut claims = issuer.claims();
    claims["exp"] = json!(now() + 7200);
    verifier
        .verify(&sign("rsa-a", "rsa-a", &claims))
        .await
        .unwrap();
    verifier
        .verify(&sign("ec-a", "ec-a", &claims))
        .await
        .unwrap();
    assert_eq!(
        issuer.jwks_hits(),
        2,
        "one failed refresh, then the cool-down holds"
    );
    assert_eq!(
        verifier.verify(&sign("rsa-b", "rsa-b", &claims)).await,
        Err(Rejection::UnknownKey)
    );
}
