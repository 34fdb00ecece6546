//! The writer's logic: entries in, ETag retries, pruning. Only [`DenyStore`] calls, so the same
//! code runs against the KeyValueStore and the local file.

use std::sync::Arc;

use keyhole_core::revocation::Entry;

use crate::{DenyStore, StoreError};

/// Attempts per batch when other writers keep moving the ETag.
pub const MAX_ATTEMPTS: usize = 5;

/// Keys per UpdateKeys call. The API reference gives no per-call key limit beside its 3 MB
/// payload; 50 keeps each call small (a cookie-set entry is under 50 bytes).
pub const MAX_BATCH: usize = 50;

/// What a prune did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Entries deleted.
    pub pruned: usize,
    /// Entries kept (including keys that are no deny-list entry, which are never touched).
    pub kept: usize,
    /// Bytes (keys and values) the deleted entries held.
    pub freed_bytes: usize,
}

/// Writes and prunes the deny-list in one store.
#[derive(Clone)]
pub struct Revoker {
    store: Arc<dyn DenyStore>,
    longest_session: i64,
}

impl std::fmt::Debug for Revoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revoker")
            .field("longest_session", &self.longest_session)
            .finish_non_exhaustive()
    }
}

impl Revoker {
    /// A writer for `store`. `longest_session` (seconds) is the longest lifetime a cookie set can
    /// have: a prefix entry is kept that long after its time, then pruned.
    pub fn new(store: Arc<dyn DenyStore>, longest_session: i64) -> Self {
        Self {
            store,
            longest_session,
        }
    }

    /// The store written to.
    pub fn store(&self) -> &Arc<dyn DenyStore> {
        &self.store
    }

    /// Puts `entries`, in batches of [`MAX_BATCH`], each retried on a stale ETag.
    pub async fn write(&self, entries: &[Entry]) -> Result<(), StoreError> {
        for batch in entries.chunks(MAX_BATCH) {
            let puts: Vec<(String, String)> = batch
                .iter()
                .map(|e| (e.key().to_owned(), e.value()))
                .collect();
            self.update(&puts, &[]).await?;
        }
        Ok(())
    }

    /// Deletes every entry that can no longer refuse anything at `now`. Keys that are not
    /// deny-list entries are left alone.
    pub async fn prune(&self, now: i64) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        let mut deletes = Vec::new();
        for (key, value) in self.store.list().await? {
            let dead = Entry::parse(&key, &value)
                .is_some_and(|e| e.is_prunable(now, self.longest_session));
            if dead {
                report.freed_bytes += key.len() + value.len();
                deletes.push(key);
            } else {
                report.kept += 1;
            }
        }
        for batch in deletes.chunks(MAX_BATCH) {
            self.update(&[], batch).await?;
            report.pruned += batch.len();
        }
        Ok(report)
    }

    async fn update(
        &self,
        puts: &[(String, String)],
        deletes: &[String],
    ) -> Result<(), StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let snapshot = self.store.describe().await?;
            match self.store.update(&snapshot.etag, puts, deletes).await {
                Ok(_) => return Ok(()),
                Err(StoreError::StaleEtag) => {
                    tracing::debug!("deny-list ETag moved; reading it again");
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Contended(MAX_ATTEMPTS))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{BoxFuture, FileStore, Snapshot};

    /// A file store whose first `stale` updates fail as if another writer had just written.
    struct Racing {
        inner: FileStore,
        stale: AtomicUsize,
        calls: Mutex<Vec<usize>>,
    }

    impl DenyStore for Racing {
        fn describe(&self) -> BoxFuture<'_, Result<Snapshot, StoreError>> {
            self.inner.describe()
        }
        fn list(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
            self.inner.list()
        }
        fn update<'a>(
            &'a self,
            etag: &'a str,
            puts: &'a [(String, String)],
            deletes: &'a [String],
        ) -> BoxFuture<'a, Result<String, StoreError>> {
            self.calls.lock().unwrap().push(puts.len() + deletes.len());
            if self
                .stale
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Box::pin(async { Err(StoreError::StaleEtag) });
            }
            self.inner.update(etag, puts, deletes)
        }
    }

    fn racing(dir: &std::path::Path, stale: usize) -> Arc<Racing> {
        Arc::new(Racing {
            inner: FileStore::in_state_dir(dir),
            stale: AtomicUsize::new(stale),
            calls: Mutex::new(Vec::new()),
        })
    }

    #[tokio::test]
    async fn a_stale_etag_is_read_again_and_the_write_lands() {
        let dir = tempfile::tempdir().unwrap();
        let store = racing(dir.path(), 2);
        let revoker = Revoker::new(store.clone(), 3600);
        revoker
            .write(&[Entry::prefix("/users/abc/", 100).unwrap()])
            .await
            .unwrap();
        assert_eq!(
            store.inner.get("/users/abc/").unwrap().as_deref(),
            Some("100")
        );
        assert_eq!(store.calls.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_store_that_keeps_changing_is_reported_not_retried_forever() {
        let dir = tempfile::tempdir().unwrap();
        let revoker = Revoker::new(racing(dir.path(), usize::MAX), 3600);
        let err = revoker
            .write(&[Entry::prefix("/users/abc/", 100).unwrap()])
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::Contended(MAX_ATTEMPTS));
    }

    #[tokio::test]
    async fn big_writes_go_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = racing(dir.path(), 0);
        let entries: Vec<Entry> = (0..120)
            .map(|i| Entry::cookie_set(&format!("sig{i}"), 1_000))
            .collect();
        Revoker::new(store.clone(), 3600)
            .write(&entries)
            .await
            .unwrap();
        assert_eq!(*store.calls.lock().unwrap(), [50, 50, 20]);
        assert_eq!(store.inner.list().await.unwrap().len(), 120);
    }

    #[tokio::test]
    async fn pruning_deletes_only_entries_that_can_no_longer_refuse_anything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FileStore::in_state_dir(dir.path()));
        let revoker = Revoker::new(store.clone(), 3600);
        let now = 1_000_000;
        let mut entries: Vec<Entry> = (0..1000)
            .map(|i| Entry::cookie_set(&format!("sig{i}"), now - 3600 + i * 4))
            .collect();
        entries.push(Entry::prefix("/users/old/", now - 3600 - 31).unwrap());
        entries.push(Entry::prefix("/users/new/", now - 60).unwrap());
        revoker.write(&entries).await.unwrap();
        let etag = store.describe().await.unwrap().etag;
        store
            .update(&etag, &[("not-ours".into(), "x".into())], &[])
            .await
            .unwrap();
        let before = store.describe().await.unwrap();
        let report = revoker.prune(now).await.unwrap();
        // Cookie sets expired more than 30 s ago: expires_at + 30 < now, i.e. i * 4 < 3570.
        let expired = (0..1000).filter(|i| now - 3600 + i * 4 + 30 < now).count();
        assert_eq!(report.pruned, expired + 1);
        assert_eq!(report.kept, 1000 - expired + 1 + 1);
        let after = store.describe().await.unwrap();
        assert_eq!(
            after.total_size_in_bytes,
            before.total_size_in_bytes - i64::try_from(report.freed_bytes).unwrap()
        );
        assert_eq!(store.get("/users/old/").unwrap(), None);
        assert!(store.get("/users/new/").unwrap().is_some());
        assert!(store.get("not-ours").unwrap().is_some());
        println!(
            "pruning: {} entries, {} bytes before; pruned {} ({} bytes); {} entries, {} bytes after",
            before.item_count,
            before.total_size_in_bytes,
            report.pruned,
            report.freed_bytes,
            after.item_count,
            after.total_size_in_bytes
        );
    }
}
