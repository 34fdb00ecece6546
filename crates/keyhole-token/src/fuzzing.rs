//! Invariant checks behind the fuzz targets (`fuzz/`, cargo-fuzz) and behind the replay of their
//! committed corpora in `cargo test` (`tests/fuzz_corpus.rs`). Each `check_*` takes the raw bytes a
//! target receives and panics when an invariant breaks; refusing an input is never a failure.
//!
//! - [`check_jwt`]: the compact-JWS splitter and decoder accept only three base64url parts within
//!   the size limit, an allowed asymmetric `alg` (never `none` or HMAC), no `crit`, and hand on
//!   exactly the header's `kid`, the payload's claims and the bytes the signature covers.
//! - [`check_claims`]: a claim set passes only when, read independently of the checks, its issuer,
//!   `sub`, expiry, `nbf`/`iat`, token use, audience and required group all hold, and the
//!   [`Claims`] it yields are the token's own values.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::config::{IssuerKind, TokenConfig};
use crate::{Claims, MAX_TOKEN_BYTES, jwt};

/// The time every check runs at, so that committed inputs keep their meaning.
pub const NOW: i64 = 1_800_000_000;

/// The Cognito issuer of the fixture configurations.
pub const COGNITO_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Fuzz1";

/// The OIDC issuer of the fixture configurations.
pub const OIDC_ISSUER: &str = "https://issuer.example";

const ALLOWED: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The splitter and decoder. Input: a token.
pub fn check_jwt(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = jwt::parse(token) else {
        return;
    };
    assert!(token.len() <= MAX_TOKEN_BYTES, "an oversized token parsed");
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        panic!("a token of {} parts parsed", parts.len());
    };
    assert_eq!(parsed.signing_input, format!("{header}.{payload}"));
    assert_eq!(parsed.signature, signature);
    let decode = |part: &str| -> Value {
        let bytes = match URL_SAFE_NO_PAD.decode(part) {
            Ok(bytes) => bytes,
            Err(e) => panic!("a part that is not base64url parsed: {e}"),
        };
        match serde_json::from_slice(&bytes) {
            Ok(value) => value,
            Err(e) => panic!("a part that is not JSON parsed: {e}"),
        }
    };
    let header = decode(header);
    let alg = header["alg"].as_str().unwrap_or_default();
    assert!(ALLOWED.contains(&alg), "alg {alg:?} was accepted");
    assert_eq!(
        format!("{:?}", parsed.alg),
        alg,
        "the algorithm is not the header's"
    );
    assert!(header.get("crit").is_none(), "a crit header was accepted");
    assert_eq!(parsed.kid.as_deref(), header["kid"].as_str());
    assert_eq!(Value::Object(parsed.claims), decode(payload));
}

/// Two configurations: a Cognito pool (id tokens) beside an OIDC issuer, and the same with access
/// tokens only, a required group and no leeway.
fn configs() -> &'static [TokenConfig; 2] {
    static CONFIGS: OnceLock<[TokenConfig; 2]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let build = |extra: &[(&str, &str)]| {
            let mut vars = vec![
                ("COGNITO_USER_POOL_ID", "us-east-1_Fuzz1"),
                ("COGNITO_CLIENT_ID", "client-1,client-2"),
                ("OIDC_ISSUER", OIDC_ISSUER),
                ("OIDC_AUDIENCE", "aud-1"),
            ];
            vars.extend_from_slice(extra);
            let get = |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            };
            match TokenConfig::from_vars(get) {
                Ok(config) => config,
                Err(e) => panic!("the fixture configuration is refused: {e}"),
            }
        };
        [
            build(&[]),
            build(&[
                ("TOKEN_USE", "access"),
                ("REQUIRED_GROUPS", "admins,staff"),
                ("TOKEN_LEEWAY_SECONDS", "0"),
            ]),
        ]
    })
}

/// The claim checks. Input: a JSON payload, checked under both fixture configurations.
pub fn check_claims(data: &[u8]) {
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(iss) = claims.get("iss").and_then(Value::as_str) else {
        return;
    };
    for config in configs() {
        // Routing: a token is checked against the issuer its `iss` names.
        let Some(issuer) = config.issuer(iss) else {
            continue;
        };
        if let Ok(out) = crate::claims::check(&claims, issuer, config, NOW) {
            assert_claims_hold(&claims, &out, config);
        }
    }
}

fn strings<'a>(claims: &'a Map<String, Value>, name: &str) -> Vec<&'a str> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A NumericDate as the JWT spec reads it, in whole seconds (an integer as written, a fraction
/// truncated).
fn seconds(claims: &Map<String, Value>, name: &str) -> Option<i128> {
    claims
        .get(name)
        .map(|v| match (v.as_i64(), v.as_u64(), v.as_f64()) {
            (Some(i), _, _) => i128::from(i),
            (None, Some(u), _) => i128::from(u),
            (None, None, Some(f)) => f.trunc() as i128,
            _ => panic!("a non-numeric {name} was accepted: {v}"),
        })
}

/// What must hold of a claim set that passed, read straight from the JSON.
fn assert_claims_hold(claims: &Map<String, Value>, out: &Claims, config: &TokenConfig) {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let Some(issuer) = config.issuer(&out.issuer) else {
        panic!(
            "passed for an issuer that is not configured: {}",
            out.issuer
        );
    };
    assert_eq!(text("iss"), Some(out.issuer.as_str()));
    assert_eq!(text("sub"), Some(out.sub.as_str()));
    assert!(!out.sub.is_empty(), "an empty sub passed");

    let leeway = i128::from(config.leeway_seconds());
    let now = i128::from(NOW);
    let Some(exp) = seconds(claims, "exp") else {
        panic!("a token without exp passed");
    };
    assert_eq!(exp, i128::from(out.expires_at));
    assert!(now < exp + leeway, "an expired token passed: exp {exp}");
    for name in ["nbf", "iat"] {
        if let Some(t) = seconds(claims, name) {
            assert!(t <= now + leeway, "{name} {t} lies in the future");
        }
    }

    let (audience_claim, accepted) = match &issuer.kind {
        IssuerKind::Cognito { client_ids } => {
            let token_use = text("token_use").unwrap_or_default();
            assert!(
                config.token_use().accepts(token_use),
                "token_use {token_use:?} passed"
            );
            (
                if token_use == "id" {
                    "aud"
                } else {
                    "client_id"
                },
                client_ids,
            )
        }
        IssuerKind::Oidc { audiences } => ("aud", audiences),
    };
    assert!(
        strings(claims, audience_claim)
            .iter()
            .any(|a| accepted.iter().any(|ok| ok == a)),
        "no accepted audience in {audience_claim}"
    );

    let presented: Vec<&str> = strings(claims, "cognito:groups")
        .into_iter()
        .chain(strings(claims, "groups"))
        .collect();
    for (i, group) in out.groups.iter().enumerate() {
        assert!(
            presented.contains(&group.as_str()),
            "group {group:?} is not the token's"
        );
        assert!(!out.groups[..i].contains(group), "group {group:?} repeats");
    }
    assert!(
        presented.iter().all(|g| out.groups.iter().any(|o| o == g)),
        "a group of the token is missing"
    );
    let required = config.required_groups();
    assert!(
        required.is_empty() || out.groups.iter().any(|g| required.contains(g)),
        "passed without a required group"
    );
    let username = ["cognito:username", "username", "preferred_username"]
        .iter()
        .find_map(|name| text(name));
    assert_eq!(out.username.as_deref(), username);
    assert_eq!(out.email.as_deref(), text("email"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn a_well_formed_token_passes_the_jwt_check() {
        let token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"ES256","kid":"k1"}"#),
            b64(r#"{"iss":"x"}"#)
        );
        check_jwt(token.as_bytes());
    }

    #[test]
    fn a_valid_id_token_passes_the_claims_check() {
        let claims = serde_json::json!({
            "iss": COGNITO_ISSUER, "sub": "u-1", "aud": "client-1", "token_use": "id",
            "exp": NOW + 600, "iat": NOW - 10, "cognito:groups": ["a", "a", "b"],
        });
        let map = claims.as_object().unwrap();
        let config = &configs()[0];
        let out =
            crate::claims::check(map, config.issuer(COGNITO_ISSUER).unwrap(), config, NOW).unwrap();
        assert_claims_hold(map, &out, config);
        check_claims(claims.to_string().as_bytes());
    }
}
