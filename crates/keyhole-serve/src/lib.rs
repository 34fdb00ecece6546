//! The local stack: signer, CloudFront stand-in, edge check, development identity provider, demo page.
//!
//! `keyhole serve` runs the whole system in one process on 127.0.0.1 so it can be seen working
//! without an AWS account: `/session*` goes to the signer Lambda's own handler, every other path to
//! a CloudFront stand-in that runs the edge-check function (the same JavaScript file CloudFront
//! runs) and then checks the signed cookies with the core verifier before serving a folder as the
//! bucket.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod assets;
// mod demo;
pub mod edge;
pub mod idp;
// mod server;
mod error;
pub mod state;
pub mod xml;

pub use error::ServeError;
// pub use server::{Clock, ServeOptions, Server, ServerInfo, SystemClock, refusal};
