//! Helpers shared by the integration tests: the committed test keys, signing, key sets.

#![allow(dead_code)] // each test binary uses a different subset

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn testdata(name: &str) -> String {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The committed key set, narrowed to `kids`.
pub fn jwks(kids: &[&str]) -> String {
    let all: Value = serde_json::from_str(&testdata("jwks.json")).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap()))
        .cloned()
        .collect();
    json!({ "keys": keys }).to_string()
}

/// The public half of a test key as the issuer publishes it (PEM, SPKI).
pub fn public_pem(kid: &str) -> String {
    testdata(&format!("{kid}.pub.pem"))
}

/// Signs `claims` with the private test key `signer` (RS256 for RSA, ES256/ES384 for EC, EdDSA
/// for Ed25519) and names `kid` in the header, which need not be the signer's own kid.
pub fn sign(signer: &str, kid: &str, claims: &Value) -> String {
    let pem = testdata(&format!("{signer}.pem"));
    let (alg, key) = if signer.starts_with("rsa") {
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
    } else if signer.starts_with("ed") {
        (
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        )
    } else if signer.starts_with("ec384") {
        (
            Algorithm::ES384,
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
    } else {
        (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
    };
    sign_with(alg, &key, kid, claims)
}

pub fn sign_with(alg: Algorithm, key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}
