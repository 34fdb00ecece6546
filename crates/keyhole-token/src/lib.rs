//! Bearer-token verification for Amazon Cognito and any OIDC issuer.
//!
//! [`TokenVerifier::verify`] decides whether a JWT is a valid login: signature by a key from
//! the issuer's JWKS, asymmetric algorithms only (fixed by the key, never by the token alone),
//! exact issuer, audience or Cognito app client, token use, expiry with a bounded leeway, and
//! an optional group gate. The outcome is [`Claims`] or a typed [`Rejection`].
//!
//! Configuration comes from environment variables ([`TokenConfig::from_env`]). Key sets are
//! fetched through the [`JwksSource`] trait (HTTPS by default) and cached per issuer: an
//! unknown `kid` triggers at most one refetch per cool-down, and when the issuer is down the
//! last good key set keeps serving.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use keyhole_token::{TokenConfig, TokenVerifier};
//! let verifier = TokenVerifier::from_config(TokenConfig::from_env()?)?;
//! match verifier.verify("eyJ...").await {
//!     Ok(claims) => println!("signed in: {}", claims.sub),
//!     Err(reason) => println!("refused: {reason}"),
//! }
//! # Ok(()) }
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cache;
mod claims;
mod config;
mod error;
pub mod fuzzing;
mod jwks;
mod jwt;
mod source;
mod verifier;

pub use claims::Claims;
pub use config::{
    CHECK_VARIABLES, DEFAULT_JWKS_COOLDOWN, DEFAULT_JWKS_TTL, DEFAULT_LEEWAY_SECONDS,
    ISSUER_VARIABLES, IssuerConfig, IssuerKind, MAX_LEEWAY_SECONDS, TokenConfig, TokenUse,
    names_an_issuer,
};
pub use error::{ConfigError, FetchError, KeySetError, Rejection};
pub use jwks::{KeyKind, KeySet, PublicKey};
pub use jwt::MAX_TOKEN_BYTES;
pub use source::{FetchFuture, HttpJwksSource, JwksSource, MAX_DOCUMENT_BYTES};
pub use verifier::TokenVerifier;
