//! Shared test helpers: a test identity provider (RS256 key in testdata/), API Gateway v2 event
//! fixtures, states with a file or in-memory signing key, a movable clock and log capture.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keyhole_core::{Clock, SigningKey, Verifier, parse_cookie_header};
use keyhole_signer::{
    AppState, BoxFuture, Config, Error, KeySource, SigningMaterial, StaticKeySource,
};
use keyhole_token::{TokenConfig, TokenVerifier};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://issuer.keyhole.test";
pub const AUDIENCE: &str = "keyhole-web";
pub const BASE: &str = "https://d111111abcdef8.cloudfront.net";
pub const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";
pub const ORIGIN: &str = "https://app.example.com";

pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

pub fn read(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token from the test identity provider: default claims, overridden by `claims`.
pub fn mint(claims: Value) -> String {
    let mut body = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "3f1c9a52-7e0b-4b7e-9d51-2c1f0e8a6b21",
        "iat": now(),
        "exp": now() + 600,
    });
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("keyhole-test-1".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(read("jwt-rsa.pem").as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &body, &key).unwrap()
}

pub const SUB: &str = "3f1c9a52-7e0b-4b7e-9d51-2c1f0e8a6b21";

pub fn token() -> String {
    mint(json!({}))
}

/// Trusts the test identity provider, with its key set preloaded from testdata/jwks.json.
pub fn token_verifier() -> TokenVerifier {
    let vars = [
        ("OIDC_ISSUER", ISSUER.to_owned()),
        ("OIDC_AUDIENCE", AUDIENCE.to_owned()),
        ("JWKS_FILE", testdata("jwks.json").display().to_string()),
    ];
    let config = TokenConfig::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    TokenVerifier::from_config(config).unwrap()
}

/// A signer configuration with the RSA test key file and `extra` variables on top.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let key_file = testdata("cloudfront-rsa.pem").display().to_string();
    let mut vars: Vec<(String, String)> = vec![
        ("ASSET_BASE_URL".into(), BASE.into()),
        ("SIGNING_KEY_FILE".into(), key_file),
        ("KEY_PAIR_ID".into(), KEY_PAIR_ID.into()),
        ("ALLOWED_ORIGINS".into(), ORIGIN.into()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push(((*k).into(), (*v).into()));
    }
    Config::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
}

/// A clock the test moves by hand.
pub struct FakeClock(pub AtomicI64);

impl FakeClock {
    pub fn at_now() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(now())))
    }
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn material(pem_file: &str) -> SigningMaterial {
    SigningMaterial {
        key_pair_id: KEY_PAIR_ID.into(),
        private_key_pem: read(pem_file),
        session_marker_key: None,
    }
}

pub async fn state_with(pem_file: &str, extra: &[(&str, &str)], clock: Arc<FakeClock>) -> AppState {
    AppState::with_clock(
        config(extra),
        Arc::new(StaticKeySource(material(pem_file))),
        token_verifier(),
        clock,
    )
    .await
}

pub async fn state(extra: &[(&str, &str)]) -> AppState {
    state_with("cloudfront-rsa.pem", extra, FakeClock::at_now()).await
}

/// The core verifier trusting the key in `pem_file`, as CloudFront's key group would.
pub fn cloudfront_verifier(pem_file: &str) -> Verifier {
    let key = SigningKey::from_pem(&read(pem_file)).unwrap();
    Verifier::new().with_key(KEY_PAIR_ID, key.verifying_key().unwrap())
}

/// A key source that fails `failures` times, then serves `material`.
pub struct FlakyKeySource {
    pub failures: AtomicUsize,
    pub calls: AtomicUsize,
    pub material: SigningMaterial,
}

impl KeySource for FlakyKeySource {
    fn load(&self) -> BoxFuture<'_, Result<SigningMaterial, Error>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(Error::Secret {
                    secret_id: "keyhole/signing-key".into(),
                    reason: "GetSecretValue failed: connection refused".into(),
                });
            }
            Ok(self.material.clone())
        })
    }
}

/// An API Gateway HTTP API (payload 2.0) event from testdata/, with `{{NAME}}` placeholders
/// replaced, parsed exactly as the Lambda runtime parses it.
pub fn event(name: &str, vars: &[(&str, &str)]) -> Request {
    let mut text = read(&format!("apigw-v2-{name}.json"));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    lambda_http::request::from_str(&text).unwrap()
}

/// The same, after editing the parsed JSON (for variations of one fixture).
pub fn event_edited(name: &str, vars: &[(&str, &str)], edit: impl FnOnce(&mut Value)) -> Request {
    let mut text = read(&format!("apigw-v2-{name}.json"));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    let mut value: Value = serde_json::from_str(&text).unwrap();
    edit(&mut value);
    lambda_http::request::from_str(&value.to_string()).unwrap()
}

pub fn set_cookies(resp: &Response<Body>) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

pub fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

pub fn body_json(resp: &Response<Body>) -> Value {
    serde_json::from_slice(resp.body().as_ref()).unwrap()
}

/// Cookie attributes of one `Set-Cookie` line, lower-cased names: ("path", "/users/x/").
pub fn attr(set_cookie: &str, name: &str) -> Option<String> {
    set_cookie.split(';').skip(1).find_map(|a| {
        let (k, v) = a.trim().split_once('=').unwrap_or((a.trim(), ""));
        k.eq_ignore_ascii_case(name).then(|| v.to_owned())
    })
}

pub fn has_flag(set_cookie: &str, flag: &str) -> bool {
    set_cookie
        .split(';')
        .skip(1)
        .any(|a| a.trim().eq_ignore_ascii_case(flag))
}

/// (name, value, path) of each `Set-Cookie`.
pub fn cookie_triples(resp: &Response<Body>) -> Vec<(String, String, String)> {
    triples_from(&set_cookies(resp))
}

/// (name, value, path) of each `Set-Cookie` line.
pub fn triples_from(set_cookies: &[String]) -> Vec<(String, String, String)> {
    set_cookies
        .iter()
        .map(|c| {
            let first = c.split(';').next().unwrap();
            let (n, v) = first.split_once('=').unwrap();
            (n.to_owned(), v.to_owned(), attr(c, "path").unwrap())
        })
        .collect()
}

/// The marker cookie value a response set.
pub fn marker_value(resp: &Response<Body>) -> String {
    cookie_triples(resp)
        .into_iter()
        .find(|(n, _, _)| n == "Keyhole-Session")
        .map(|(_, v, _)| v)
        .unwrap()
}

/// The cookies a browser would send for `path`, from the cookie sets in a response (RFC 6265
/// path-match, most specific path first).
pub fn browser_cookies_for(resp: &Response<Body>, path: &str) -> String {
    browser_cookies_from(&set_cookies(resp), path)
}

/// The same, from `Set-Cookie` lines.
pub fn browser_cookies_from(set_cookies: &[String], path: &str) -> String {
    let mut matching: Vec<(String, String, String)> = triples_from(set_cookies)
        .into_iter()
        .filter(|(_, _, p)| {
            path == p
                || (path.starts_with(p.as_str())
                    && (p.ends_with('/') || path[p.len()..].starts_with('/')))
        })
        .collect();
    matching.sort_by_key(|(_, _, p)| std::cmp::Reverse(p.len()));
    matching
        .iter()
        .map(|(n, v, _)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn parse(header: &str) -> Vec<(&str, &str)> {
    parse_cookie_header(header)
}

/// Captured log output (the Lambda's flat JSON lines).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

thread_local! {
    static SINK: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { std::cell::RefCell::new(None) };
}

/// Writes to this thread's capture buffer, if a test on this thread asked for one.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        SINK.with(|s| {
            if let Some(sink) = &*s.borrow() {
                sink.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops capturing when dropped.
pub struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        SINK.with(|s| *s.borrow_mut() = None);
    }
}

/// Captures this thread's logs (as the Lambda writes them: JSON) until the guard is dropped.
/// One global subscriber routes each event to the emitting thread's buffer: a per-test scoped
/// subscriber races with tracing's global callsite-interest cache when tests run in parallel.
/// Tests using it run on tokio's current-thread runtime, so every await stays on this thread.
pub fn capture_logs() -> (Logs, CaptureGuard) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let settings = keyhole_lambda_log::LogSettings {
            format: keyhole_lambda_log::LogFormat::Json,
            filter: "info".into(),
        };
        let subscriber = keyhole_lambda_log::subscriber(&settings, || LogWriter);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    let logs = Logs::default();
    SINK.with(|s| *s.borrow_mut() = Some(logs.0.clone()));
    (logs, CaptureGuard)
}
