//! The development identity provider: OIDC discovery, a JWKS and a sign-in endpoint that issues
//! RS256 ID tokens for two demo users, so the whole flow runs with zero set-up. It exists only in
//! `keyhole serve`, never in the Lambda. Its key is generated on first start into the state folder
//! and reused, so tokens stay valid across restarts. [`router`] serves its endpoints under `/idp`.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhole_core::{Clock, HashAlgorithm, KeyType, SigningKey};
use serde::Serialize;
use serde_json::{Value, json};

use crate::ServeError;
use crate::lambda_adapter::decode_form;
use crate::responses::json_error;
use crate::state::{read_or_create, write_private};

/// A demo account of the development identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoUser {
    /// What you sign in with.
    pub username: &'static str,
    /// The token's `sub`: opaque on purpose, like Cognito's, so nothing relies on it being a name.
    pub sub: &'static str,
    /// The `email` claim.
    pub email: &'static str,
}

/// Alice and Bob. Their subs are fixed so the demo assets can ship under `users/<sub>/`.
pub const DEMO_USERS: [DemoUser; 2] = [
    DemoUser {
        username: "alice",
        sub: "6f1d2c8e-4b7a-4e3f-9c21-8a5d3b0e7f14",
        email: "alice@example.com",
    },
    DemoUser {
        username: "bob",
        sub: "c93e0a57-2d14-4f8b-b6e2-1f7a9d4c3e28",
        email: "bob@example.com",
    },
];

/// The `aud` of every token the development provider issues (and the audience `keyhole serve`
/// trusts when it uses this provider).
pub const DEMO_AUDIENCE: &str = "keyhole-demo";

/// How long an issued token lives.
pub const TOKEN_TTL_SECONDS: i64 = 3600;

const KEY_FILE: &str = "idp-key.pem";

/// The provider: issuer URL plus its RSA key.
pub struct DevIdp {
    issuer: String,
    key: SigningKey,
    kid: String,
    jwks: Value,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevIdp {
    /// Loads the provider key from `state_dir/idp-key.pem`, generating an RSA-2048 key there on
    /// first start. An unreadable or corrupt key file is an error naming the file (never silently
    /// replaced: tokens issued with it would stop verifying).
    pub fn load_or_create(state_dir: &Path, issuer: impl Into<String>) -> Result<Self, ServeError> {
        let path = state_dir.join(KEY_FILE);
        let pem = read_or_create(&path, || {
            let key = SigningKey::generate(KeyType::Rsa2048).map_err(|e| {
                ServeError::Key(format!("generating the identity provider key: {e}"))
            })?;
            let pem = key.private_key_pem();
            write_private(&path, &pem)?;
            Ok(pem)
        })?;
        let key = SigningKey::from_pem(&pem)
            .map_err(|e| ServeError::Key(format!("{}: {e}", path.display())))?;
        // RS256 needs an RSA key; the JWK is made from its modulus and exponent.
        let Some((n, e)) = key.rsa_public_numbers() else {
            return Err(ServeError::Key(format!(
                "{}: the identity provider key must be RSA",
                path.display()
            )));
        };
        // The key id is a digest of the public key, so it changes exactly when the key does.
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.public_key_pem().as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        let jwks = json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        }] });
        Ok(Self {
            issuer: issuer.into(),
            key,
            kid,
            jwks,
        })
    }

    /// The `iss` of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id in token headers and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key set, as served at the JWKS URL.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks.json", self.issuer)
    }

    /// The OpenID discovery document.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri(),
            "token_endpoint": format!("{}/token", self.issuer),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "email", "preferred_username", "groups"],
        })
    }

    /// The demo user with that name, if any.
    pub fn user(username: &str) -> Option<&'static DemoUser> {
        DEMO_USERS.iter().find(|u| u.username == username)
    }

    /// Issues an RS256 ID token for a demo user, valid from `now` for [`TOKEN_TTL_SECONDS`].
    pub fn issue(&self, username: &str, now: i64) -> Result<String, ServeError> {
        let user =
            Self::user(username).ok_or_else(|| ServeError::UnknownUser(username.to_owned()))?;
        self.sign(&json!({
            "iss": self.issuer,
            "aud": DEMO_AUDIENCE,
            "sub": user.sub,
            "email": user.email,
            "preferred_username": user.username,
            "groups": ["demo"],
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_TTL_SECONDS,
        }))
    }

    /// Signs arbitrary claims with the provider key (tests use it for expired or foreign tokens).
    pub fn sign(&self, claims: &Value) -> Result<String, ServeError> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(signing_input.as_bytes(), HashAlgorithm::Sha256)
            .map_err(|e| ServeError::Key(format!("signing a token: {e}")))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

struct Endpoints {
    idp: Arc<DevIdp>,
    clock: Arc<dyn Clock>,
}

/// The provider's endpoints, to be nested under `/idp`: discovery, JWKS, the demo users and the
/// token endpoint. Tokens are issued at `clock`'s time.
pub fn router(idp: Arc<DevIdp>, clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks.json", get(jwks))
        .route("/users", get(users))
        .route("/token", post(token))
        .with_state(Arc::new(Endpoints { idp, clock }))
}

async fn discovery(State(e): State<Arc<Endpoints>>) -> Response<Body> {
    axum::Json(e.idp.discovery()).into_response()
}

async fn jwks(State(e): State<Arc<Endpoints>>) -> Response<Body> {
    axum::Json(e.idp.jwks().clone()).into_response()
}

async fn users() -> Response<Body> {
    axum::Json(json!({ "users": DEMO_USERS })).into_response()
}

/// The `username` of a sign-in: `username=alice` as a form, or `{"username": "alice"}` as JSON.
fn username(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        let v: Value = serde_json::from_slice(body).ok()?;
        v.get("username")?.as_str().map(str::to_owned)
    } else {
        decode_form(Some(&String::from_utf8_lossy(body)))
            .remove("username")
            .and_then(|mut v| v.pop())
    }
}

/// Sign-in for demo users.
async fn token(State(e): State<Arc<Endpoints>>, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let Some(username) = username(&headers, &body) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "give a username (alice or bob)",
        );
    };
    match e.idp.issue(&username, e.clock.now()) {
        Ok(token) => axum::Json(json!({
            "id_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECONDS,
        }))
        .into_response(),
        Err(ServeError::UnknownUser(_)) => json_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown demo user; try alice or bob",
        ),
        Err(err) => {
            tracing::error!(error = %err, "issuing a token failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "could not issue a token",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_part(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn the_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = DevIdp::load_or_create(dir.path(), "http://127.0.0.1:1/idp").unwrap();
        let b = DevIdp::load_or_create(dir.path(), "http://127.0.0.1:1/idp").unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.jwks(), b.jwks());
    }

    #[test]
    fn a_corrupt_key_file_is_a_clear_error_and_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
        let err = DevIdp::load_or_create(dir.path(), "http://x/idp").unwrap_err();
        assert!(err.to_string().contains(KEY_FILE), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "garbage"
        );
    }

    #[test]
    fn issued_tokens_carry_the_demo_claims_and_verify_with_the_published_key() {
        let dir = tempfile::tempdir().unwrap();
        let idp = DevIdp::load_or_create(dir.path(), "http://127.0.0.1:9/idp").unwrap();
        let token = idp.issue("alice", 1_700_000_000).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode_part(parts[0]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], idp.kid());
        let claims = decode_part(parts[1]);
        assert_eq!(claims["sub"], DEMO_USERS[0].sub);
        assert_eq!(claims["iss"], "http://127.0.0.1:9/idp");
        assert_eq!(claims["aud"], DEMO_AUDIENCE);
        assert_eq!(claims["exp"], 1_700_000_000 + TOKEN_TTL_SECONDS);

        // Verify with the JWKS alone, as any relying party would.
        let jwk = &idp.jwks()["keys"][0];
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
        let public = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e };
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        public
            .verify(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &sig,
            )
            .unwrap();
    }

    #[test]
    fn unknown_users_get_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let idp = DevIdp::load_or_create(dir.path(), "http://x/idp").unwrap();
        let err = idp.issue("mallory", 0).unwrap_err();
        assert!(err.to_string().contains("mallory"), "{err}");
    }

    #[test]
    fn discovery_points_at_the_jwks() {
        let dir = tempfile::tempdir().unwrap();
        let idp = DevIdp::load_or_create(dir.path(), "http://127.0.0.1:9/idp").unwrap();
        let d = idp.discovery();
        assert_eq!(d["issuer"], "http://127.0.0.1:9/idp");
        assert_eq!(d["jwks_uri"], "http://127.0.0.1:9/idp/jwks.json");
    }

    #[test]
    fn a_non_rsa_key_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let ec = SigningKey::generate(KeyType::EcdsaP256).unwrap();
        std::fs::write(dir.path().join(KEY_FILE), ec.private_key_pem()).unwrap();
        let err = DevIdp::load_or_create(dir.path(), "http://x/idp").unwrap_err();
        assert!(err.to_string().contains(KEY_FILE), "{err}");
    }

    #[test]
    fn the_username_comes_from_a_form_or_json() {
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(
            username(&json, br#"{"username":"bob"}"#).as_deref(),
            Some("bob")
        );
        assert_eq!(
            username(&HeaderMap::new(), b"username=alice&x=1").as_deref(),
            Some("alice")
        );
        assert_eq!(username(&HeaderMap::new(), b"user=alice"), None);
        assert_eq!(username(&json, b"not json"), None);
    }
}
