//! The crate's error types: why configuration failed, why a fetch failed, why a token was refused.

use thiserror::Error;

/// Invalid token configuration. Every variant names the environment variable at fault, so a
/// misconfigured deployment fails at start-up with a message that says what to fix.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Neither a Cognito user pool nor an OIDC issuer is configured.
    #[error(
        "no token issuer configured: set COGNITO_USER_POOL_ID (with COGNITO_CLIENT_ID) or OIDC_ISSUER (with OIDC_AUDIENCE)"
    )]
    NoIssuer,
    /// A variable that another one needs is not set.
    #[error("{variable} must be set when {because} is set")]
    Missing {
        /// The variable that is missing.
        variable: &'static str,
        /// The variable whose presence requires it.
        because: &'static str,
    },
    /// A variable is set to a value that cannot be used.
    #[error("{variable} is invalid: {reason}")]
    Invalid {
        /// The variable at fault.
        variable: &'static str,
        /// Why its value was refused (never includes secret material).
        reason: String,
    },
    /// The key set named by `JWKS_FILE` could not be read or parsed.
    #[error("JWKS_FILE {path}: {reason}")]
    JwksFile {
        /// The path that was given.
        path: String,
        /// Why it could not be used.
        reason: String,
    },
    /// The HTTP client for fetching key sets could not be built.
    #[error("cannot build the HTTP client for JWKS_URL: {0}")]
    HttpClient(String),
}

/// A key set or discovery document could not be fetched.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("fetching {url} failed: {reason}")]
pub struct FetchError {
    /// The URL that was requested (issuer URLs are public, never secret).
    pub url: String,
    /// What went wrong: timeout, HTTP status, body too large, ...
    pub reason: String,
}

impl FetchError {
    /// A fetch failure for `url`.
    pub fn new(url: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            reason: reason.into(),
        }
    }
}

/// Why a JWKS document was refused as a whole (not JSON, or no `keys` array).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct KeySetError(pub String);

/// Why a bearer token was refused.
///
/// `Display` gives a short reason, fit for logs and for an OAuth `error_description`. It never
/// echoes the token or any claim value, so it cannot leak a credential or reflect attacker input.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Not a compact JWS: not three base64url parts, undecodable header or payload, or a
    /// required claim (`sub`, `exp`, `iss`) missing or of the wrong type.
    #[error("malformed token")]
    Malformed,
    /// Larger than the 16 KiB limit; refused before any parsing.
    #[error("token too large")]
    TooLarge,
    /// The algorithm is not an allowed asymmetric one (`none`, HS*), or does not fit the key.
    #[error("unsupported or disallowed signing algorithm")]
    UnsupportedAlgorithm,
    /// The issuer's key set has no key with this `kid`, even after a refetch.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify with the issuer's key.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not one of the configured issuers.
    #[error("untrusted issuer")]
    WrongIssuer,
    /// `aud` (or Cognito's `client_id`) is not a configured audience / app client.
    #[error("token not issued for this audience or client")]
    WrongAudience,
    /// Cognito `token_use` is not one that `TOKEN_USE` accepts.
    #[error("token use not accepted")]
    WrongTokenUse,
    /// `REQUIRED_GROUPS` is set and the token carries none of those groups.
    #[error("user is not in a required group")]
    MissingGroup,
    /// The issuer's key set could not be fetched and no cached copy exists.
    #[error("issuer key set unavailable")]
    KeySetUnavailable,
}
