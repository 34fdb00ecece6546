//! Key rotation end to end, over HTTP: `keyhole_rotation`'s real AWS SDK adapters against moto
//! (Secrets Manager, and CloudFront with the key-group calls `scripts/moto-server.py` adds to it:
//! UpdateKeyGroup, UpdatePublicKey, ETags and If-Match), and the built signer binary through a
//! loopback Lambda Runtime API, re-reading its secret every second. CloudFront's cookie check is
//! keyhole's own verifier trusting exactly the public keys the key group lists, read back over
//! the CloudFront API before every check, as the edge would know them.
//!
//! Needs moto: `make test-rust` starts it (with the additions) and sets KEYHOLE_MOTO_URL.

mod common;
#[path = "common/runtime_api.rs"]
mod runtime_api;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::{KeyGroupConfig, PublicKeyConfig};
use common::{BASE, SUB, browser_cookies_from, read, triples_from};
use keyhole_core::{KeyType, SigningKey, Verifier, VerifyError, VerifyingKey, parse_cookie_header};
use keyhole_rotation::aws::{CloudFrontKeys, SecretsManagerApi};
use keyhole_rotation::{
    AWSCURRENT, Error, KeyGroupApi, Origin, RotationConfig, SecretApi, Step, StepRequest,
    list_keys, new_token, rotate, run_step,
};
use runtime_api::{Signer, moto_url, secrets_client};
use serde_json::{Value, json};

/// The longest session in these tests, and the margin: a retired key is kept 1,000 s.
const MAX_SESSION: i64 = 900;
const MARGIN: i64 = 100;

fn cloudfront_client() -> aws_sdk_cloudfront::Client {
    use aws_sdk_cloudfront::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_cloudfront::Client::from_conf(
        aws_sdk_cloudfront::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(moto_url())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .build(),
    )
}

/// What a stack's key setup leaves: a secret holding the first key, a public key for it, and a
/// key group trusting it.
struct Stack {
    secrets: SecretsManagerApi,
    keys: CloudFrontKeys,
    cf: aws_sdk_cloudfront::Client,
    secret: String,
    group: String,
    first: String,
    /// The prefix of every public key this stack's rotations create.
    name: String,
}

impl Stack {
    async fn new(tag: &str) -> Self {
        let tag = format!("{tag}-{}-{}", std::process::id(), common::now());
        let cf = cloudfront_client();
        let key = SigningKey::from_pem(&read("cloudfront-ecdsa.pem")).unwrap();
        let first = Self::upload(&cf, &key, &format!("keyhole-e2e-{tag}")).await;
        let group = cf
            .create_key_group()
            .key_group_config(
                KeyGroupConfig::builder()
                    .name(format!("keyhole-e2e-{tag}"))
                    .items(&first)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .key_group()
            .unwrap()
            .id()
            .to_owned();
        let value = json!({"keyPairId": first, "privateKeyPem": key.private_key_pem()});
        let secret = secrets_client()
            .create_secret()
            .name(format!("keyhole/e2e-{tag}"))
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        Stack {
            secrets: SecretsManagerApi::new(secrets_client()),
            keys: CloudFrontKeys::new(cf.clone()),
            cf,
            secret,
            group,
            first,
            name: format!("keyhole-e2e-{tag}"),
        }
    }

    async fn upload(cf: &aws_sdk_cloudfront::Client, key: &SigningKey, name: &str) -> String {
        cf.create_public_key()
            .public_key_config(
                PublicKeyConfig::builder()
                    .name(name)
                    .caller_reference(name)
                    .encoded_key(key.public_key_pem())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .public_key()
            .unwrap()
            .id()
            .to_owned()
    }

    fn config(&self) -> RotationConfig {
        RotationConfig {
            key_group_id: self.group.clone(),
            max_session_ttl: MAX_SESSION,
            margin: MARGIN,
            key_type: None,
        }
    }

    /// The key pair id the secret's AWSCURRENT version holds.
    async fn current_id(&self) -> String {
        let value = self
            .secrets
            .get_value(
                &self.secret,
                keyhole_rotation::VersionRef::Stage(AWSCURRENT),
            )
            .await
            .unwrap()
            .unwrap();
        let value: Value = serde_json::from_str(&value).unwrap();
        value["keyPairId"].as_str().unwrap().to_owned()
    }

    /// What CloudFront holds for the group: its items and ETag, each key's comment and ETag,
    /// and every version of the secret with its labels.
    async fn snapshot(&self) -> String {
        let group = self.keys.get_key_group(&self.group).await.unwrap();
        let mut out = format!("group {:?} {}\n", group.items, group.etag);
        for id in &group.items {
            let k = self.keys.get_public_key(id).await.unwrap();
            out.push_str(&format!("key {id} {:?} {}\n", k.comment, k.etag));
        }
        let listed = self.cf.list_public_keys().send().await.unwrap();
        let mut ours: Vec<&str> = listed
            .public_key_list()
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .filter(|k| k.name().starts_with(&self.name))
            .map(|k| k.id())
            .collect();
        ours.sort_unstable();
        out.push_str(&format!("this stack's public keys: {ours:?}\n"));
        let meta = self.secrets.describe(&self.secret).await.unwrap();
        for v in meta.versions {
            out.push_str(&format!("version {} {:?}\n", v.id, v.stages));
        }
        out
    }
}

/// CloudFront's view: a verifier trusting exactly the keys the group lists now.
async fn edge(keys: &CloudFrontKeys, group: &str) -> Verifier {
    let group = keys.get_key_group(group).await.unwrap();
    let mut verifier = Verifier::new();
    for id in group.items {
        let pk = keys.get_public_key(&id).await.unwrap();
        verifier = verifier.with_key(id, VerifyingKey::from_pem(&pk.encoded_key).unwrap());
    }
    verifier
}

/// A GET of a private image with the cookies a browser holds from `set_cookies`.
fn get_image(edge: &Verifier, set_cookies: &[String]) -> Result<(), VerifyError> {
    let path = format!("/users/{SUB}/photo.png");
    let header = browser_cookies_from(set_cookies, &path);
    let cookies = parse_cookie_header(&header);
    edge.verify_cookies(&cookies, &format!("{BASE}{path}"), None, common::now())
        .map(|_| ())
}

fn key_pair_id(set_cookies: &[String]) -> String {
    triples_from(set_cookies)
        .into_iter()
        .find(|(n, v, p)| {
            n == "CloudFront-Key-Pair-Id" && !v.is_empty() && p.starts_with("/users/")
        })
        .map(|(_, v, _)| v)
        .unwrap_or_default()
}

fn marker(set_cookies: &[String]) -> String {
    triples_from(set_cookies)
        .into_iter()
        .find(|(n, _, _)| n == "Keyhole-Session")
        .map(|(_, v, _)| v)
        .unwrap()
}

/// Signer settings for these tests: the secret re-read every second, sessions of MAX_SESSION.
const SIGNER_ENV: &[(&str, &str)] = &[
    ("SIGNING_KEY_REFRESH_SECONDS", "1"),
    ("SESSION_TTL_SECONDS", "900"),
];

/// What the loop of sessions and image GETs saw while a rotation ran beside it.
struct Traffic {
    signer: Signer,
    rounds: usize,
    failures: Vec<String>,
    by_key: BTreeMap<String, usize>,
    new_key_after: Option<Duration>,
}

/// `POST /session`, then the image GET with its cookies and with the cookies from before the
/// rotation, over and over until `stop` is set and `want` has signed 20 sessions (or 30 s pass).
async fn traffic(
    mut signer: Signer,
    keys: CloudFrontKeys,
    group: String,
    before: Vec<String>,
    stop: Arc<AtomicBool>,
    want: Arc<std::sync::Mutex<Option<(String, Instant)>>>,
) -> Traffic {
    let (mut rounds, mut failures, mut by_key, mut new_key_after) =
        (0, Vec::new(), BTreeMap::<String, usize>::new(), None);
    let started = Instant::now();
    loop {
        let (status, cookies) = signer.post_session().await;
        rounds += 1;
        let edge = edge(&keys, &group).await;
        if status != 200 {
            failures.push(format!("round {rounds}: POST /session {status}"));
        } else {
            let id = key_pair_id(&cookies);
            if let Err(e) = get_image(&edge, &cookies) {
                failures.push(format!("round {rounds}: new cookies ({id}): {e}"));
            }
            if let Some((new, finished)) = want.lock().unwrap().clone()
                && id == new
                && new_key_after.is_none()
            {
                new_key_after = Some(finished.elapsed());
            }
            *by_key.entry(id).or_default() += 1;
        }
        if let Err(e) = get_image(&edge, &before) {
            failures.push(format!("round {rounds}: pre-rotation cookies: {e}"));
        }
        let done = want
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|(new, _)| by_key.get(new).copied().unwrap_or(0) >= 20);
        if (stop.load(Ordering::SeqCst) && done) || started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    Traffic {
        signer,
        rounds,
        failures,
        by_key,
        new_key_after,
    }
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn sessions_and_image_gets_spanning_rotations_never_fail_and_only_expired_keys_are_pruned() {
    let stack = Stack::new("live").await;
    let mut signer = Signer::launch(&stack.secret, SIGNER_ENV).await;
    let (status, before) = signer.post_session().await;
    assert_eq!(status, 200);
    assert_eq!(key_pair_id(&before), stack.first);
    get_image(&edge(&stack.keys, &stack.group).await, &before).unwrap();

    // A loop of sessions and cookie-checked GETs, with the first rotation in its middle.
    let stop = Arc::new(AtomicBool::new(false));
    let want = Arc::new(std::sync::Mutex::new(None));
    let running = tokio::spawn(traffic(
        signer,
        stack.keys.clone(),
        stack.group.clone(),
        before.clone(),
        Arc::clone(&stop),
        Arc::clone(&want),
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t0 = common::now();
    let outcomes = rotate(
        &stack.secret,
        None,
        &stack.config(),
        &stack.secrets,
        &stack.keys,
        common::now,
    )
    .await
    .unwrap();
    let second = stack.current_id().await;
    *want.lock().unwrap() = Some((second.clone(), Instant::now()));
    stop.store(true, Ordering::SeqCst);
    let mut t = running.await.unwrap();
    eprintln!("rotation 1 ({} -> {second}):", stack.first);
    for o in &outcomes {
        eprintln!(
            "  {:<13} {:>7.1} ms  {}",
            o.step.name(),
            o.duration_ms,
            o.detail
        );
    }
    eprintln!(
        "traffic: {} rounds, sessions by key {:?}, first session with the new key {:?} after finishSecret",
        t.rounds, t.by_key, t.new_key_after
    );
    assert!(t.failures.is_empty(), "{:#?}", t.failures);
    assert_ne!(second, stack.first);
    assert!(
        t.by_key.get(&stack.first).copied().unwrap_or(0) > 0,
        "{:?}",
        t.by_key
    );
    assert!(
        t.by_key.get(&second).copied().unwrap_or(0) >= 20,
        "{:?}",
        t.by_key
    );
    assert!(
        t.new_key_after.is_some_and(|d| d < Duration::from_secs(10)),
        "the signer took {:?} to follow AWSCURRENT (refresh every 1 s)",
        t.new_key_after
    );

    // The session from before the rotation: its marker still works for GET and DELETE.
    let event = read("apigw-v2-get-session.json").replace("{{MARKER}}", &marker(&before));
    let (status, _, body) = t.signer.invoke(&event).await;
    assert_eq!(
        status, 200,
        "GET /session with a pre-rotation marker: {body}"
    );

    // Two more rotations, run at later times: the second a little later, the third once the
    // first key has been retired longer than the longest session plus the margin, but not yet
    // the second key.
    let at = |offset: i64| move || t0 + offset;
    rotate(
        &stack.secret,
        None,
        &stack.config(),
        &stack.secrets,
        &stack.keys,
        at(300),
    )
    .await
    .unwrap();
    let third = stack.current_id().await;
    let group = stack.keys.get_key_group(&stack.group).await.unwrap();
    assert_eq!(
        group.items,
        [stack.first.clone(), second.clone(), third.clone()]
    );
    let listed = list_keys(
        &stack.config(),
        Some(&stack.secret),
        &stack.secrets,
        &stack.keys,
        t0 + MAX_SESSION + MARGIN - 1,
    )
    .await
    .unwrap();
    assert!(
        listed.iter().all(|k| !matches!(
            k.state,
            keyhole_rotation::KeyState::Retired { prunable: true, .. }
        )),
        "one second early, nothing may be pruned: {listed:?}"
    );
    rotate(
        &stack.secret,
        None,
        &stack.config(),
        &stack.secrets,
        &stack.keys,
        at(MAX_SESSION + MARGIN + 10),
    )
    .await
    .unwrap();
    let fourth = stack.current_id().await;
    let group = stack.keys.get_key_group(&stack.group).await.unwrap();
    assert_eq!(group.items, [second.clone(), third.clone(), fourth.clone()]);
    assert!(matches!(
        stack.keys.get_public_key(&stack.first).await,
        Err(Error::NotFound(_))
    ));
    // CloudFront no longer knows the first key: its cookies end; the second key's still work.
    let edge_now = edge(&stack.keys, &stack.group).await;
    assert!(matches!(
        get_image(&edge_now, &before),
        Err(VerifyError::UnknownKeyPairId(_))
    ));
    let (status, after) = t.signer.post_session().await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, latest) = t.signer.post_session().await;
    assert_eq!(key_pair_id(&latest), fourth);
    get_image(&edge_now, &after).unwrap();
    get_image(&edge_now, &latest).unwrap();
}

/// The step, for the operator's rotation under `token`.
fn step<'a>(stack: &'a Stack, step: Step, token: &'a str) -> StepRequest<'a> {
    StepRequest {
        step,
        origin: Origin::Operator,
        secret_id: &stack.secret,
        token,
        now: common::now(),
    }
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn each_step_run_twice_changes_nothing_the_second_time() {
    let stack = Stack::new("twice").await;
    let token = new_token().unwrap();
    for s in Step::ALL {
        let req = step(&stack, s, &token);
        let first = run_step(&req, &stack.config(), &stack.secrets, &stack.keys)
            .await
            .unwrap();
        // testSecret only reads; every other step writes the first time.
        assert_eq!(first.changed, s != Step::Test, "{s}: {}", first.detail);
        let after_first = stack.snapshot().await;
        let again = run_step(&req, &stack.config(), &stack.secrets, &stack.keys)
            .await
            .unwrap();
        assert!(!again.changed, "{s} again: {}", again.detail);
        assert_eq!(
            stack.snapshot().await,
            after_first,
            "{s} run twice changed something"
        );
    }
    assert_ne!(stack.current_id().await, stack.first);
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn a_failed_set_secret_leaves_awscurrent_and_the_signer_signing_with_the_old_key() {
    let stack = Stack::new("setfails").await;
    let mut signer = Signer::launch(&stack.secret, SIGNER_ENV).await;
    let token = new_token().unwrap();
    run_step(
        &step(&stack, Step::Create, &token),
        &stack.config(),
        &stack.secrets,
        &stack.keys,
    )
    .await
    .unwrap();
    // The pending key's public key disappears before setSecret (deleted by hand, say):
    // CloudFront refuses a group listing an unknown key.
    let meta = stack.secrets.describe(&stack.secret).await.unwrap();
    let pending = stack
        .secrets
        .get_value(&stack.secret, keyhole_rotation::VersionRef::Pending(&token))
        .await
        .unwrap()
        .unwrap();
    let pending_id = serde_json::from_str::<Value>(&pending).unwrap()["keyPairId"]
        .as_str()
        .unwrap()
        .to_owned();
    let pk = stack.keys.get_public_key(&pending_id).await.unwrap();
    stack
        .keys
        .delete_public_key(&pending_id, &pk.etag)
        .await
        .unwrap();
    let before = stack.snapshot().await;
    let err = run_step(
        &step(&stack, Step::Set, &token),
        &stack.config(),
        &stack.secrets,
        &stack.keys,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("NoSuchPublicKey"), "{err}");
    assert_eq!(
        stack.snapshot().await,
        before,
        "a failed setSecret changed something"
    );
    assert_eq!(
        meta.with_stage(AWSCURRENT).map(|v| v.id.clone()),
        stack
            .secrets
            .describe(&stack.secret)
            .await
            .unwrap()
            .with_stage(AWSCURRENT)
            .map(|v| v.id.clone())
    );
    assert_eq!(stack.current_id().await, stack.first);
    // The signer goes on signing with the current key, and CloudFront accepts its cookies.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, cookies) = signer.post_session().await;
    assert_eq!(status, 200);
    assert_eq!(key_pair_id(&cookies), stack.first);
    get_image(&edge(&stack.keys, &stack.group).await, &cookies).unwrap();
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn a_group_of_five_live_keys_makes_set_secret_fail_with_its_reason_and_change_nothing() {
    let stack = Stack::new("full").await;
    // Four more keys, none retired: all can still have live cookies.
    let mut items = vec![stack.first.clone()];
    for i in 0..4 {
        let key = SigningKey::generate(KeyType::EcdsaP256).unwrap();
        items.push(Stack::upload(&stack.cf, &key, &format!("{}-extra-{i}", stack.name)).await);
    }
    let group = stack.keys.get_key_group(&stack.group).await.unwrap();
    stack
        .keys
        .update_key_group(&stack.group, &group, &items)
        .await
        .unwrap();
    // A stale ETag is refused, as CloudFront refuses it.
    assert!(matches!(
        stack
            .keys
            .update_key_group(&stack.group, &group, &items)
            .await,
        Err(Error::Stale(_))
    ));
    let token = new_token().unwrap();
    run_step(
        &step(&stack, Step::Create, &token),
        &stack.config(),
        &stack.secrets,
        &stack.keys,
    )
    .await
    .unwrap();
    let before = stack.snapshot().await;
    let err = run_step(
        &step(&stack, Step::Set, &token),
        &stack.config(),
        &stack.secrets,
        &stack.keys,
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::GroupFull(_)), "{message}");
    assert!(
        message.contains("is full") && message.contains("limit is 5"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{} (signs now)", stack.first)),
        "{message}"
    );
    assert_eq!(
        stack.snapshot().await,
        before,
        "a refused setSecret changed something"
    );
    assert_eq!(stack.current_id().await, stack.first);
}
