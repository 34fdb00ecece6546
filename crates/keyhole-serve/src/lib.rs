//! The local stack: signer, CloudFront stand-in, edge check, development identity provider, demo page.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
