//! `JWKS_FILE` through the public entry point, with tokens signed by an independent
//! implementation (Python `cryptography`, see testdata/make-fixture-tokens.py).

mod common;

use keyhole_token::{ConfigError, Rejection, TokenConfig, TokenVerifier};

fn config(jwks_file: &str) -> TokenConfig {
    let path = format!("{}/testdata/{jwks_file}", env!("CARGO_MANIFEST_DIR"));
    TokenConfig::from_vars(|name| match name {
        // Nothing listens on port 9 of loopback: any fetch would fail, so a pass proves that the
        // preloaded file alone was used.
        "OIDC_ISSUER" => Some("https://issuer.example".into()),
        "JWKS_URL" => Some("http://127.0.0.1:9/jwks.json".into()),
        "OIDC_AUDIENCE" => Some("photo-app".into()),
        "JWKS_FILE" => Some(path.clone()),
        _ => None,
    })
    .unwrap()
}

#[tokio::test]
async fn tokens_signed_by_python_cryptography_verify_from_a_preloaded_jwks_file() {
    let verifier = TokenVerifier::from_config(config("jwks.json")).unwrap();
    for fixture in ["oidc-rs256.jwt", "oidc-es256.jwt"] {
        let token = common::testdata(fixture);
        let claims = verifier.verify(token.trim()).await.unwrap();
        assert_eq!(
            claims.sub, "0b7c1e2a-5f1d-4c1e-9f0a-3d2b1c0e9f8a",
            "{fixture}"
        );
        assert_eq!(claims.email.as_deref(), Some("fixture@example.com"));
        assert_eq!(claims.expires_at, 4_102_444_800);
    }
    // A kid the file does not hold needs the network, which is not there.
    let unknown = common::sign(
        "ec-b",
        "ec-not-in-file",
        &serde_json::json!({
            "iss": "https://issuer.example", "sub": "s", "aud": "photo-app", "exp": common::now() + 60
        }),
    );
    assert_eq!(verifier.verify(&unknown).await, Err(Rejection::UnknownKey));
}

#[test]
fn an_unusable_jwks_file_fails_at_start_up_naming_it() {
    for (file, expected) in [
        ("missing.json", "No such file"),
        ("rsa-a.pem", "not a JWKS document"),
    ] {
        let err = TokenVerifier::from_config(config(file)).unwrap_err();
        assert!(matches!(err, ConfigError::JwksFile { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with("JWKS_FILE ") && message.contains(file),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
    }
}
