//! `keyhole serve` follows a rotation of the state folder's key while it runs: cookies signed
//! before the rotation keep working (the old key stays in the key group), a new sign-in gets the
//! new key pair id, logout with pre-rotation cookies still reads their session marker, and once a
//! later rotation prunes the first key its cookies get CloudFront's 403 InvalidKey.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyhole_rotation::{RotationConfig, rotate};
use keyhole_serve::idp::DEMO_USERS;
use keyhole_serve::key_store::{KeyStore, LOCAL_KEY_GROUP_ID, LOCAL_SECRET_ID};
use keyhole_serve::{Clock, ServeOptions, Server, SystemClock};
use serde_json::Value;
use tokio::sync::oneshot;

const ALICE: &str = DEMO_USERS[0].sub;

struct Stack {
    url: String,
    state: PathBuf,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bucket/users").join(ALICE);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.txt"), b"alice's file").unwrap();
    let mut options = ServeOptions::new(0, dir.path().join("bucket"));
    options.state_dir = dir.path().join("state");
    let server = Server::bind(options, |_| None).await.unwrap();
    let url = server.info().url.clone();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Stack {
        url,
        state: dir.path().join("state"),
        _stop: tx,
        _dir: dir,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The name=value parts of every non-clearing Set-Cookie, joined as a Cookie header.
fn set_cookies(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

fn key_pair_id(cookies: &str) -> String {
    cookies
        .split("; ")
        .find_map(|kv| kv.strip_prefix("CloudFront-Key-Pair-Id="))
        .unwrap_or_else(|| panic!("no key pair id in {cookies}"))
        .to_owned()
}

impl Stack {
    async fn sign_in(&self) -> String {
        let token: Value = client()
            .post(format!("{}/idp/token", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=alice")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let resp = client()
            .post(format!("{}/session", self.url))
            .bearer_auth(token["id_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        set_cookies(resp.headers())
    }

    /// GET alice's file with `cookies`: the status and, for a 403, CloudFront's error code.
    async fn get(&self, cookies: &str) -> (u16, String) {
        let resp = client()
            .get(format!("{}/users/{ALICE}/a.txt", self.url))
            .header("cookie", cookies)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        let code = body
            .split("<Code>")
            .nth(1)
            .and_then(|c| c.split("</Code>").next())
            .unwrap_or("")
            .to_owned();
        (status, code)
    }

    /// One rotation through the library, against the same state folder, at `at`.
    async fn rotate_at(&self, at: i64) -> String {
        rotate_in(&self.state, at).await
    }
}

async fn rotate_in(state: &Path, at: i64) -> String {
    let store = KeyStore::open(state, Arc::new(SystemClock)).unwrap();
    let config = RotationConfig {
        key_group_id: LOCAL_KEY_GROUP_ID.into(),
        max_session_ttl: 60,
        margin: 0,
        key_type: None,
    };
    let outcomes = rotate(
        LOCAL_SECRET_ID,
        None,
        &config,
        &store.secret,
        &store.group,
        || at,
    )
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 4);
    let value = store.secret.current_value().unwrap();
    keyhole_signer::parse_secret_json(&value)
        .unwrap()
        .key_pair_id
}

#[tokio::test]
async fn a_rotation_is_followed_live_and_old_cookies_work_until_their_key_is_pruned() {
    let s = start().await;
    let before = s.sign_in().await;
    // A second set signed with the first key, never logged out: it shows the key's pruning.
    let kept = s.sign_in().await;
    let first_id = key_pair_id(&before);
    assert_eq!(key_pair_id(&kept), first_id);
    assert_eq!(s.get(&before).await, (200, String::new()));

    let now = SystemClock.now();
    let second_id = s.rotate_at(now).await;
    assert_ne!(second_id, first_id);

    // The old cookies keep working throughout; within a bounded wait, a new sign-in is signed
    // with the new key.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        assert_eq!(s.get(&before).await, (200, String::new()));
        let cookies = s.sign_in().await;
        if key_pair_id(&cookies) == second_id {
            break cookies;
        }
        assert_eq!(key_pair_id(&cookies), first_id);
        assert!(Instant::now() < deadline, "the new key was not picked up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(s.get(&after).await, (200, String::new()));
    assert_eq!(s.get(&before).await, (200, String::new()));

    // Logout with the pre-rotation cookies: their session marker still verifies (its key is
    // carried across rotations), so the set is ended and a copy of it is refused.
    let out = client()
        .delete(format!("{}/session", s.url))
        .header("cookie", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let copy = client()
        .get(format!("{}/users/{ALICE}/a.txt", s.url))
        .header("cookie", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.status(), 401, "logout ended the pre-rotation set");

    // Two more rotations, the last once the first key's cookies can all have expired (longest
    // session 60 s, no margin, on the rotation's clock): it prunes the first key, and the
    // stand-in stops trusting it.
    let _third_id = s.rotate_at(now + 30).await;
    assert_eq!(s.get(&kept).await, (200, String::new()));
    let fourth_id = rotate_in(&s.state, now + 61).await;
    let store = KeyStore::open(&s.state, Arc::new(SystemClock)).unwrap();
    let ids: Vec<String> = store
        .group
        .trusted_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert!(!ids.contains(&first_id), "{ids:?}");
    assert!(
        ids.contains(&second_id) && ids.contains(&fourth_id),
        "{ids:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The post-rotation cookies are signed by a key still in the group.
        assert_eq!(s.get(&after).await, (200, String::new()));
        let got = s.get(&kept).await;
        if got.0 == 403 {
            assert_eq!(got, (403, "InvalidKey".to_owned()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pruned key is still trusted: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
