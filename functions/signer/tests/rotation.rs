//! A rotation seen from the signer: the new key is picked up within SIGNING_KEY_REFRESH_SECONDS
//! without a cold start, a failed re-read never costs a request, and markers issued before the
//! rotation still verify after it (the rotation carries the marker key over).

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use keyhole_core::SigningKey;
use keyhole_signer::{
    AppState, BoxFuture, Error, KEY_RETRY_SECONDS, KeySource, SigningMaterial, handle,
};

/// The secret as the signer would read it now; `None` makes the read fail.
struct Secret(Mutex<Option<SigningMaterial>>);

impl Secret {
    fn set(&self, m: Option<SigningMaterial>) {
        *self.0.lock().unwrap() = m;
    }
}

impl KeySource for Secret {
    fn load(&self) -> BoxFuture<'_, Result<SigningMaterial, Error>> {
        let m = self.0.lock().unwrap().clone();
        Box::pin(async move {
            m.ok_or_else(|| Error::Secret {
                secret_id: "keyhole/signing-key".into(),
                reason: "GetSecretValue failed: throttled".into(),
            })
        })
    }
}

/// What the rotation writes: a new key under a new id, the marker key carried over.
fn rotated_from(old_pem_file: &str, new_pem_file: &str, new_id: &str) -> SigningMaterial {
    let old = SigningKey::from_pem(&read(old_pem_file)).unwrap();
    SigningMaterial {
        key_pair_id: new_id.into(),
        private_key_pem: read(new_pem_file),
        session_marker_key: Some(keyhole_core::session_marker_key(&old.private_key_pem())),
    }
}

fn key_pair_id(resp: &lambda_http::Response<lambda_http::Body>) -> String {
    cookie_triples(resp)
        .into_iter()
        .find(|(n, v, _)| n == "CloudFront-Key-Pair-Id" && !v.is_empty())
        .map(|(_, v, _)| v)
        .unwrap()
}

async fn post(state: &AppState) -> lambda_http::Response<lambda_http::Body> {
    handle(state, event("post-session-bearer", &[("TOKEN", &token())]))
        .await
        .unwrap()
}

async fn setup() -> (Arc<Secret>, Arc<FakeClock>, AppState) {
    let secret = Arc::new(Secret(Mutex::new(Some(material("cloudfront-ecdsa.pem")))));
    let clock = FakeClock::at_now();
    let state = AppState::with_clock(
        config(&[("SIGNING_KEY_REFRESH_SECONDS", "60")]),
        secret.clone(),
        token_verifier(),
        clock.clone(),
    )
    .await;
    (secret, clock, state)
}

#[tokio::test]
async fn the_rotated_key_signs_once_the_held_one_is_older_than_the_refresh_interval() {
    let (secret, clock, state) = setup().await;
    let before = post(&state).await;
    assert_eq!(key_pair_id(&before), KEY_PAIR_ID);
    let marker = marker_value(&before);

    secret.set(Some(rotated_from(
        "cloudfront-ecdsa.pem",
        "cloudfront-rsa.pem",
        "K2NEWKEY",
    )));
    clock.advance(59);
    assert_eq!(
        key_pair_id(&post(&state).await),
        KEY_PAIR_ID,
        "re-read before its time"
    );
    clock.advance(1);
    let after = post(&state).await;
    assert_eq!(after.status(), 200);
    assert_eq!(key_pair_id(&after), "K2NEWKEY");
    // The cookies verify with the new public key (what CloudFront's key group now also holds).
    let new_key = SigningKey::from_pem(&read("cloudfront-rsa.pem")).unwrap();
    let verifier =
        keyhole_core::Verifier::new().with_key("K2NEWKEY", new_key.verifying_key().unwrap());
    let jar = browser_cookies_for(&after, &format!("/users/{SUB}/cat.png"));
    let cookies = keyhole_core::parse_cookie_header(&jar);
    verifier
        .verify_cookies(
            &cookies,
            &format!("{BASE}/users/{SUB}/cat.png"),
            None,
            // At the stack's time: the policy's DateGreaterThan is its issue time on that clock.
            keyhole_core::Clock::now(&*clock),
        )
        .unwrap();

    // GET /session with the marker issued before the rotation still answers.
    let resp = handle(&state, event("get-session", &[("MARKER", &marker)]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["active"], true);
}

#[tokio::test]
async fn a_failed_re_read_keeps_the_held_key_and_never_answers_503() {
    let (secret, clock, state) = setup().await;
    secret.set(None);
    clock.advance(61);
    for _ in 0..3 {
        let resp = post(&state).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(key_pair_id(&resp), KEY_PAIR_ID);
    }
    // Once the secret reads again (after the retry pause), the new key comes in.
    secret.set(Some(rotated_from(
        "cloudfront-ecdsa.pem",
        "cloudfront-rsa.pem",
        "K2NEWKEY",
    )));
    assert_eq!(
        key_pair_id(&post(&state).await),
        KEY_PAIR_ID,
        "retried before the pause"
    );
    clock.advance(KEY_RETRY_SECONDS);
    assert_eq!(key_pair_id(&post(&state).await), "K2NEWKEY");
}

#[tokio::test]
async fn a_secret_that_no_longer_parses_keeps_the_held_key() {
    let (secret, clock, state) = setup().await;
    secret.set(Some(SigningMaterial {
        key_pair_id: "K2NEWKEY".into(),
        private_key_pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        session_marker_key: None,
    }));
    clock.advance(61);
    let resp = post(&state).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(key_pair_id(&resp), KEY_PAIR_ID);
}
