//! The outside world of a deny-list writer.

use std::future::Future;
use std::pin::Pin;

use crate::StoreError;

/// A boxed future, so the trait stays object-safe (`Arc<dyn DenyStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store's version and size, as DescribeKeyValueStore reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The version to pass as `IfMatch`.
    pub etag: String,
    /// Number of keys.
    pub item_count: i64,
    /// Bytes used (keys and values).
    pub total_size_in_bytes: i64,
}

/// A key-value store with ETag concurrency, shaped like the CloudFront KeyValueStore data plane.
pub trait DenyStore: Send + Sync {
    /// The current ETag and size (DescribeKeyValueStore).
    fn describe(&self) -> BoxFuture<'_, Result<Snapshot, StoreError>>;
    /// Every key and value (ListKeys, all pages).
    fn list(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>>;
    /// Puts and deletes in one all-or-nothing step if the store is still at `etag`
    /// (UpdateKeys with `IfMatch`); [`StoreError::StaleEtag`] otherwise. Returns the new ETag.
    fn update<'a>(
        &'a self,
        etag: &'a str,
        puts: &'a [(String, String)],
        deletes: &'a [String],
    ) -> BoxFuture<'a, Result<String, StoreError>>;
}
