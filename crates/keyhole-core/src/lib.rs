//! CloudFront signed cookies and URLs: policies, keys, signing and verification, with no I/O.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
