//! The signer Lambda: POST, DELETE and GET /session.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
