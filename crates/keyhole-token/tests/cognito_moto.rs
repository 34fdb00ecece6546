//! Against a real Cognito stand-in: moto's Cognito user pools on 127.0.0.1 (`make test-rust`
//! starts it and sets `KEYHOLE_MOTO_URL`). A pool, two app clients and a user are created, the
//! user signs in with InitiateAuth, and the id and access tokens moto issues are checked as
//! `TOKEN_USE` says. moto signs with the real AWS `iss` but serves its keys on loopback, which
//! is exactly why `JWKS_URL` is a setting of its own.

use keyhole_token::{Rejection, TokenConfig, TokenVerifier};
use serde_json::{Value, json};

fn moto_url() -> String {
    std::env::var("KEYHOLE_MOTO_URL")
        .expect("KEYHOLE_MOTO_URL must point at a moto server (make test-rust sets it)")
}

/// Calls one Cognito Identity Provider API action on moto. moto accepts any credentials; the
/// region comes from the credential scope.
async fn cognito(client: &reqwest::Client, action: &str, body: Value) -> Value {
    let response = client
        .post(moto_url())
        .header(
            "X-Amz-Target",
            format!("AWSCognitoIdentityProviderService.{action}"),
        )
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{action}: is moto running at {}? {e}", moto_url()));
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

struct Pool {
    id: String,
    client: String,
    other_client: String,
}

async fn pool_with_user(http: &reqwest::Client, username: &str, password: &str) -> Pool {
    let pool = cognito(http, "CreateUserPool", json!({"PoolName": "keyhole-test"})).await;
    let id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let mut clients = Vec::new();
    for name in ["web", "other-app"] {
        let created = cognito(
            http,
            "CreateUserPoolClient",
            json!({
                "UserPoolId": id, "ClientName": name,
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "ReadAttributes": ["email"]
            }),
        )
        .await;
        clients.push(
            created["UserPoolClient"]["ClientId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    cognito(
        http,
        "AdminCreateUser",
        json!({
            "UserPoolId": id, "Username": username, "TemporaryPassword": "Temp-Passw0rd!",
            "MessageAction": "SUPPRESS",
            "UserAttributes": [{"Name": "email", "Value": "alice@example.com"}]
        }),
    )
    .await;
    cognito(
        http,
        "AdminSetUserPassword",
        json!({"UserPoolId": id, "Username": username, "Password": password, "Permanent": true}),
    )
    .await;
    cognito(
        http,
        "CreateGroup",
        json!({"UserPoolId": id, "GroupName": "photographers"}),
    )
    .await;
    cognito(
        http,
        "AdminAddUserToGroup",
        json!({"UserPoolId": id, "Username": username, "GroupName": "photographers"}),
    )
    .await;
    let other_client = clients.pop().unwrap();
    Pool {
        id,
        client: clients.pop().unwrap(),
        other_client,
    }
}

/// Signs in through InitiateAuth and returns (id token, access token).
async fn sign_in(
    http: &reqwest::Client,
    client_id: &str,
    user: &str,
    pass: &str,
) -> (String, String) {
    let auth = cognito(
        http,
        "InitiateAuth",
        json!({
            "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
            "AuthParameters": {"USERNAME": user, "PASSWORD": pass}
        }),
    )
    .await;
    let result = &auth["AuthenticationResult"];
    (
        result["IdToken"].as_str().unwrap().to_owned(),
        result["AccessToken"].as_str().unwrap().to_owned(),
    )
}

fn verifier(pool: &Pool, extra: &[(&str, &str)]) -> TokenVerifier {
    let jwks_url = format!("{}/{}/.well-known/jwks.json", moto_url(), pool.id);
    let mut vars: Vec<(&str, String)> = vec![
        ("COGNITO_USER_POOL_ID", pool.id.clone()),
        ("COGNITO_CLIENT_ID", pool.client.clone()),
        ("JWKS_URL", jwks_url),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let config = TokenConfig::from_vars(|name| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    TokenVerifier::from_config(config).unwrap()
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn moto_cognito_tokens_are_accepted_or_refused_as_token_use_says() {
    let http = reqwest::Client::new();
    let pool = pool_with_user(&http, "alice", "Corr3ct-Horse!").await;
    let (id_token, access_token) = sign_in(&http, &pool.client, "alice", "Corr3ct-Horse!").await;
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{}", pool.id);

    // TOKEN_USE unset means id tokens only.
    let id_only = verifier(&pool, &[]);
    let claims = id_only.verify(&id_token).await.unwrap();
    assert_eq!(claims.issuer, issuer);
    assert_eq!(claims.username.as_deref(), Some("alice"));
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    assert_eq!(claims.groups, ["photographers"]);
    assert!(!claims.sub.is_empty());
    assert_eq!(
        id_only.verify(&access_token).await,
        Err(Rejection::WrongTokenUse)
    );

    let access_only = verifier(&pool, &[("TOKEN_USE", "access")]);
    let access_claims = access_only.verify(&access_token).await.unwrap();
    assert_eq!(access_claims.sub, claims.sub);
    assert_eq!(access_claims.username.as_deref(), Some("alice"));
    assert_eq!(
        access_only.verify(&id_token).await,
        Err(Rejection::WrongTokenUse)
    );

    let any = verifier(&pool, &[("TOKEN_USE", "any")]);
    any.verify(&id_token).await.unwrap();
    any.verify(&access_token).await.unwrap();

    // The group gate, on the groups moto puts in cognito:groups.
    let gated = verifier(
        &pool,
        &[("TOKEN_USE", "any"), ("REQUIRED_GROUPS", "admins")],
    );
    assert_eq!(gated.verify(&id_token).await, Err(Rejection::MissingGroup));
    let allowed = verifier(&pool, &[("REQUIRED_GROUPS", "admins,photographers")]);
    allowed.verify(&id_token).await.unwrap();

    // The same id token with its subject changed after signing.
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = id_token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(
        id_only.verify(&tampered).await,
        Err(Rejection::BadSignature)
    );
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn moto_token_from_another_app_client_is_refused() {
    let http = reqwest::Client::new();
    let pool = pool_with_user(&http, "bob", "Corr3ct-Horse!").await;
    let (id_token, access_token) =
        sign_in(&http, &pool.other_client, "bob", "Corr3ct-Horse!").await;
    let any = verifier(&pool, &[("TOKEN_USE", "any")]);
    assert_eq!(any.verify(&id_token).await, Err(Rejection::WrongAudience));
    assert_eq!(
        any.verify(&access_token).await,
        Err(Rejection::WrongAudience)
    );

    // Trusting both clients lets them in: the refusal was about the client, nothing else.
    let both = verifier(
        &pool,
        &[
            ("TOKEN_USE", "any"),
            (
                "COGNITO_CLIENT_ID",
                &format!("{},{}", pool.client, pool.other_client),
            ),
        ],
    );
    both.verify(&id_token).await.unwrap();
    both.verify(&access_token).await.unwrap();
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn a_token_from_another_moto_pool_is_refused() {
    let http = reqwest::Client::new();
    let mine = pool_with_user(&http, "carol", "Corr3ct-Horse!").await;
    let theirs = pool_with_user(&http, "carol", "Corr3ct-Horse!").await;
    let (id_token, _) = sign_in(&http, &theirs.client, "carol", "Corr3ct-Horse!").await;
    // moto signs every pool with the same key: only the issuer check stands between pools.
    assert_eq!(
        verifier(&mine, &[]).verify(&id_token).await,
        Err(Rejection::WrongIssuer)
    );
}
