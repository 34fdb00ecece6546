//! The built `keyhole-signer` binary, run as Lambda runs it (a loopback Lambda Runtime API), with
//! its signing key in Secrets Manager (moto on loopback) that is unreadable at cold start: first
//! missing, then present but garbage, then valid. Every request meanwhile is a 503 (never a 500,
//! never a hang), and once the secret is good sessions are issued by the same process, with no
//! restart. Needs moto: `make test-rust` starts it and sets KEYHOLE_MOTO_URL.

mod common;
#[path = "common/runtime_api.rs"]
mod runtime_api;

use std::time::{Duration, Instant};

use common::{KEY_PAIR_ID, read};
use keyhole_signer::KEY_RETRY_SECONDS;
use runtime_api::{Signer, secrets_client};
use serde_json::json;

/// Sends requests until one is answered `want`; every answer before it must be a 503. Bounded by
/// the retry interval: the signer retries a failed load every KEY_RETRY_SECONDS.
async fn until(signer: &mut Signer, want: u16) -> (u16, Vec<String>) {
    let started = Instant::now();
    let bound = Duration::from_secs(u64::try_from(KEY_RETRY_SECONDS).unwrap() * 4);
    loop {
        let (status, cookies) = signer.post_session().await;
        if status == want {
            return (status, cookies);
        }
        assert_eq!(status, 503, "only 503 while the key cannot be read");
        assert!(
            started.elapsed() < bound,
            "still {status} {:?} after the secret changed",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn an_unreadable_secret_at_cold_start_gives_503_then_sessions_once_it_is_readable() {
    let name = format!("keyhole/recovery-{}-{}", std::process::id(), common::now());
    let mut signer = Signer::launch(&name, &[]).await;
    // Missing at cold start: 503, quickly, more than once.
    for _ in 0..3 {
        assert_eq!(signer.post_session().await.0, 503);
    }
    // Created, but garbage: still 503 (after the retry interval the new cause is read).
    let client = secrets_client();
    client
        .create_secret()
        .name(&name)
        .secret_string("not a key")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(
        u64::try_from(KEY_RETRY_SECONDS).unwrap() + 1,
    ))
    .await;
    assert_eq!(signer.post_session().await.0, 503);
    // Then made valid: within a retry interval, sessions from the same process.
    let value = json!({"keyPairId": KEY_PAIR_ID, "privateKeyPem": read("cloudfront-ecdsa.pem")});
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
    let (_, cookies) = until(&mut signer, 200).await;
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with(&format!("CloudFront-Key-Pair-Id={KEY_PAIR_ID}"))),
        "{cookies:?}"
    );
    // And it stays up.
    assert_eq!(signer.post_session().await.0, 200);
}
