//! The local stack: signer, CloudFront stand-in, edge check, development identity provider, demo page.
//!
//! `keyhole serve` runs the whole system in one process on 127.0.0.1 so it can be seen working
//! without an AWS account: `/session*` goes to the signer Lambda's own handler, every other path to
//! a CloudFront stand-in that runs the edge-check function (the same JavaScript file CloudFront
//! runs) and then checks the signed cookies with the core verifier before serving a folder as the
//! bucket.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod access_log;
pub mod assets;
mod connections;
mod demo;
pub mod edge;
mod error;
pub mod fuzzing;
pub mod idp;
pub mod key_store;
mod lambda_adapter;
mod local_env;
mod responses;
mod server;
mod stand_in;
pub mod state;
mod trusted;

pub use connections::{Limits, MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADER_LINES};
pub use error::ServeError;
pub use keyhole_core::{Clock, SystemClock};
pub use server::{DEFAULT_ASSET_CACHE_CONTROL, ServeOptions, Server, ServerInfo};
pub use stand_in::refusal;

/// The demo bucket shipped in this crate (`demo/bucket`), served when no `--assets` is given.
pub const DEMO_BUCKET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/bucket");
