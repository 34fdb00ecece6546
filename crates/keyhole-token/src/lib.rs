//! Bearer-token verification for Amazon Cognito and any OIDC issuer.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
