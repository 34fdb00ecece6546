//! Writing the revocation deny-list that the edge check reads (entry formats and the rule are in
//! `keyhole_core::revocation`).
//!
//! [`DenyStore`] is the outside world: three calls shaped like the CloudFront KeyValueStore
//! data-plane API (describe for the ETag, list, an all-or-nothing update under `IfMatch`). Two
//! adapters: [`KvsStore`] (the AWS SDK, SigV4A; `aws.rs`) and [`FileStore`] (a JSON file in the
//! local stack's state folder; `file.rs`). [`Revoker`] holds the logic: write entries, retry when
//! another writer moved the ETag first, and prune entries that can no longer refuse anything.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod aws;
mod error;
mod file;
mod revoker;
mod store;

pub use aws::KvsStore;
pub use error::StoreError;
pub use file::{FileStore, STORE_FILE};
pub use revoker::{MAX_ATTEMPTS, MAX_BATCH, PruneReport, Revoker};
pub use store::{BoxFuture, DenyStore, Snapshot};
