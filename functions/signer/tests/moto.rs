//! Against a moto server (Secrets Manager and Cognito) on loopback. `make test-rust` starts it
//! and sets KEYHOLE_MOTO_URL; by hand: `scripts/moto.sh start 5055` and
//! `KEYHOLE_MOTO_URL=http://127.0.0.1:5055 cargo test -p keyhole-signer -- --include-ignored`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use common::*;
use keyhole_signer::{AppState, KeySource, SecretsManagerKeySource, handle};
use keyhole_token::{TokenConfig, TokenVerifier};
use serde_json::{Value, json};

fn moto_url() -> String {
    std::env::var("KEYHOLE_MOTO_URL")
        .expect("KEYHOLE_MOTO_URL is not set: run `make test-rust`, or start moto with scripts/moto.sh start 5055")
}

/// A name no other test run has used on this (possibly shared) moto server.
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn secrets_client() -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

async fn create_secret(value: &str) -> String {
    let name = unique("keyhole/signing-key");
    secrets_client()
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    name
}

async fn state_with_secret(secret_id: &str) -> AppState {
    let source = SecretsManagerKeySource::new(secrets_client(), secret_id);
    AppState::new(config(&[]), Arc::new(source), token_verifier()).await
}

async fn post(state: &AppState, token: &str) -> lambda_http::Response<lambda_http::Body> {
    handle(state, event("post-session-bearer", &[("TOKEN", token)]))
        .await
        .unwrap()
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn key_loads_from_a_secrets_manager_secret() {
    for pem in ["cloudfront-rsa.pem", "cloudfront-ecdsa.pem"] {
        let secret = json!({"keyPairId": KEY_PAIR_ID, "privateKeyPem": read(pem)}).to_string();
        let name = create_secret(&secret).await;
        let source = SecretsManagerKeySource::new(secrets_client(), &name);
        let material = source.load().await.unwrap();
        assert_eq!(material.key_pair_id, KEY_PAIR_ID);
        assert_eq!(material.private_key_pem, read(pem));

        let state = state_with_secret(&name).await;
        assert!(state.key_loaded());
        let resp = post(&state, &token()).await;
        assert_eq!(resp.status(), 200);
        let path = format!("/users/{SUB}/a.png");
        cloudfront_verifier(pem)
            .verify_cookies(
                &parse(&browser_cookies_for(&resp, &path)),
                &format!("{BASE}{path}"),
                None,
                now(),
            )
            .unwrap();
    }
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn missing_secret_gives_503_and_a_clear_log_line() {
    let (logs, _guard) = capture_logs();
    let name = unique("keyhole/no-such-secret");
    let state = state_with_secret(&name).await;
    let resp = post(&state, &token()).await;
    assert_eq!(resp.status(), 503);
    let body = body_json(&resp);
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        !body.to_string().contains(&name),
        "secret id leaked to the client"
    );
    let errors: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{}", logs.text());
    let cause = errors[0]["cause"].as_str().unwrap();
    assert!(cause.contains(&name), "{cause}");
    assert!(cause.contains("ResourceNotFoundException"), "{cause}");
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn malformed_secret_gives_503_and_a_clear_log_line() {
    let pem = read("cloudfront-rsa.pem");
    let cases = [
        (pem.clone(), "not JSON"),
        (json!({"keyPairId": KEY_PAIR_ID}).to_string(), "privateKeyPem"),
        (
            json!({"keyPairId": KEY_PAIR_ID, "privateKeyPem": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"}).to_string(),
            KEY_PAIR_ID,
        ),
    ];
    for (secret, want) in cases {
        let (logs, _guard) = capture_logs();
        let name = create_secret(&secret).await;
        let state = state_with_secret(&name).await;
        let resp = post(&state, &token()).await;
        assert_eq!(resp.status(), 503);
        let text = logs.text();
        let error = logs
            .lines()
            .into_iter()
            .find(|l| l["level"] == "ERROR")
            .unwrap_or_else(|| panic!("no error logged: {text}"));
        let cause = error["cause"].as_str().unwrap();
        assert!(
            cause.contains(&name) || cause.contains(KEY_PAIR_ID),
            "{cause}"
        );
        assert!(cause.contains(want), "{cause} lacks {want}");
        assert!(
            !text.contains("MIIB") && !text.contains(&pem[40..80]),
            "key material logged"
        );
    }
}

/// Cognito, as moto runs it: a user pool, an app client, a user in a group, and tokens from
/// AdminInitiateAuth, verified against the pool's JWKS served by moto.
struct Pool {
    id: String,
    client_id: String,
}

async fn cognito(op: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(moto_url())
        .header(
            "X-Amz-Target",
            format!("AWSCognitoIdentityProviderService.{op}"),
        )
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{op}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn cognito_pool_with_user(username: &str, group: &str) -> Pool {
    let pool = cognito("CreateUserPool", json!({"PoolName": unique("keyhole")})).await;
    let id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let client = cognito(
        "CreateUserPoolClient",
        json!({"UserPoolId": id, "ClientName": "web", "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH"]}),
    )
    .await;
    let client_id = client["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    cognito(
        "AdminCreateUser",
        json!({"UserPoolId": id, "Username": username, "MessageAction": "SUPPRESS"}),
    )
    .await;
    cognito(
        "AdminSetUserPassword",
        json!({"UserPoolId": id, "Username": username, "Password": "Corr3ct-horse!", "Permanent": true}),
    )
    .await;
    cognito("CreateGroup", json!({"UserPoolId": id, "GroupName": group})).await;
    cognito(
        "AdminAddUserToGroup",
        json!({"UserPoolId": id, "Username": username, "GroupName": group}),
    )
    .await;
    Pool { id, client_id }
}

async fn sign_in(pool: &Pool, username: &str) -> (String, String) {
    let auth = cognito(
        "AdminInitiateAuth",
        json!({
            "UserPoolId": pool.id,
            "ClientId": pool.client_id,
            "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": username, "PASSWORD": "Corr3ct-horse!"}
        }),
    )
    .await;
    let result = &auth["AuthenticationResult"];
    (
        result["IdToken"].as_str().unwrap().to_owned(),
        result["AccessToken"].as_str().unwrap().to_owned(),
    )
}

fn cognito_verifier(pool: &Pool) -> TokenVerifier {
    let vars = [
        ("COGNITO_USER_POOL_ID", pool.id.clone()),
        ("COGNITO_CLIENT_ID", pool.client_id.clone()),
        // moto serves the pool's key set here instead of on cognito-idp.<region>.amazonaws.com.
        (
            "JWKS_URL",
            format!("{}/{}/.well-known/jwks.json", moto_url(), pool.id),
        ),
        ("TOKEN_USE", "id".to_owned()),
    ];
    let config =
        TokenConfig::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
            .unwrap();
    TokenVerifier::from_config(config).unwrap()
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn cognito_tokens_from_moto_get_cookies() {
    let pool = cognito_pool_with_user("alice", "editors").await;
    let (id_token, access_token) = sign_in(&pool, "alice").await;
    let state = AppState::new(
        config(&[(
            "SESSION_SCOPES",
            "/users/{sub}/*,/groups/{group}/*,/by-name/{username}/*",
        )]),
        Arc::new(keyhole_signer::StaticKeySource(material(
            "cloudfront-rsa.pem",
        ))),
        cognito_verifier(&pool),
    )
    .await;

    let resp = post(&state, &id_token).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    let scopes: Vec<String> = body_json(&resp)["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(scopes.len(), 3, "{scopes:?}");
    assert!(scopes.contains(&"/groups/editors/*".to_owned()));
    assert!(scopes.contains(&"/by-name/alice/*".to_owned()));
    let user_scope = scopes.iter().find(|s| s.starts_with("/users/")).unwrap();
    let path = user_scope.replace('*', "photo.jpg");
    cloudfront_verifier("cloudfront-rsa.pem")
        .verify_cookies(
            &parse(&browser_cookies_for(&resp, &path)),
            &format!("{BASE}{path}"),
            None,
            now(),
        )
        .unwrap();

    // TOKEN_USE=id: the access token of the same sign-in is refused.
    let resp = post(&state, &access_token).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(body_json(&resp)["error"], "invalid_token");
}
