//! The local stack's deny-list: one JSON object (`{"key": "value", ...}`) in the state folder,
//! written whole to a temporary file and renamed, with an ETag that is a hash of its bytes. The
//! edge check of `keyhole serve` reads it through [`FileStore::get`]; writers go through
//! [`DenyStore`] like they do with the KeyValueStore.
//!
//! The edge check looks keys up on every asset request, several per request, so `get` keeps the
//! parsed file and re-reads it only when a `stat` says it changed. Every write renames a new file
//! into place (a new inode), which the stat sees; a file modified less than [`RACY_WINDOW`] before
//! it was read is re-read on every lookup until it is older (the "racily clean" rule git applies
//! to its index), so two writes within one tick of a coarse file-system clock are never mistaken
//! for one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;

use crate::{BoxFuture, DenyStore, Snapshot, StoreError};

/// The file's name in the state folder.
pub const STORE_FILE: &str = "revocations.json";

/// How recent a file's modification time may be before its cached copy is not trusted.
const RACY_WINDOW: Duration = Duration::from_secs(1);

/// A deny-list in a file. A missing file is an empty store.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    // Serialises this process's writers; other processes are caught by the ETag check.
    write: Mutex<()>,
    // The file as last parsed for `get`, and what its stat said then.
    cache: Mutex<Option<Cached>>,
}

/// What tells one version of the file from the next.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: SystemTime,
    inode: u64,
}

#[derive(Debug)]
struct Cached {
    stamp: Stamp,
    map: Arc<BTreeMap<String, String>>,
}

impl Stamp {
    /// The file's stamp, `None` when it does not exist; trusted only when the file is older than
    /// [`RACY_WINDOW`] (`fresh` is then false and the caller reads it again next time).
    fn of(path: &Path) -> std::io::Result<Option<(Self, bool)>> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let modified = meta.modified()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        // A modification time in the future counts as fresh too.
        let fresh = match SystemTime::now().duration_since(modified) {
            Ok(age) => age < RACY_WINDOW,
            Err(_) => true,
        };
        Ok(Some((
            Self {
                len: meta.len(),
                modified,
                inode,
            },
            fresh,
        )))
    }
}

impl FileStore {
    /// The store at `state_dir/revocations.json`.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self::at(state_dir.join(STORE_FILE))
    }

    /// The store in the file at `path`.
    pub fn at(path: PathBuf) -> Self {
        Self {
            path,
            write: Mutex::new(()),
            cache: Mutex::new(None),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<(Vec<u8>, BTreeMap<String, String>), StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "{}: {e}",
                    self.path.display()
                )));
            }
        };
        if bytes.is_empty() {
            return Ok((bytes, BTreeMap::new()));
        }
        let map = serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::Unavailable(format!(
                "{}: not a JSON object of strings: {e}",
                self.path.display()
            ))
        })?;
        Ok((bytes, map))
    }

    /// One key's value, `None` when absent. What the local edge check's `cf.kvs()` reads: from
    /// the parsed copy while the file's stamp is unchanged, else from the file read again.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.current()?.get(key).cloned())
    }

    /// The store's entries as the file holds them now.
    fn current(&self) -> Result<Arc<BTreeMap<String, String>>, StoreError> {
        let unavailable =
            |e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", self.path.display()));
        let Some((stamp, fresh)) = Stamp::of(&self.path).map_err(unavailable)? else {
            return Ok(Arc::default());
        };
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.as_ref().filter(|c| c.stamp == stamp) {
            return Ok(Arc::clone(&c.map));
        }
        let map = Arc::new(self.read()?.1);
        // A file changed within the racy window may change again without its stamp showing it.
        *cache = (!fresh).then(|| Cached {
            stamp,
            map: Arc::clone(&map),
        });
        Ok(map)
    }

    fn etag(bytes: &[u8]) -> String {
        let hash = digest::digest(&digest::SHA256, bytes);
        hash.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn update_now(
        &self,
        etag: &str,
        puts: &[(String, String)],
        deletes: &[String],
    ) -> Result<String, StoreError> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (bytes, mut map) = self.read()?;
        if Self::etag(&bytes) != etag {
            return Err(StoreError::StaleEtag);
        }
        for key in deletes {
            map.remove(key);
        }
        for (key, value) in puts {
            map.insert(key.clone(), value.clone());
        }
        let mut out =
            serde_json::to_vec_pretty(&map).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        out.push(b'\n');
        let unavailable =
            |e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, &out).map_err(unavailable)?;
        std::fs::rename(&tmp, &self.path).map_err(unavailable)?;
        Ok(Self::etag(&out))
    }
}

impl DenyStore for FileStore {
    fn describe(&self) -> BoxFuture<'_, Result<Snapshot, StoreError>> {
        Box::pin(async move {
            let (bytes, map) = self.read()?;
            Ok(Snapshot {
                etag: Self::etag(&bytes),
                item_count: i64::try_from(map.len()).unwrap_or(i64::MAX),
                total_size_in_bytes: map
                    .iter()
                    .map(|(k, v)| i64::try_from(k.len() + v.len()).unwrap_or(i64::MAX))
                    .sum(),
            })
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
        Box::pin(async move { Ok(self.read()?.1.into_iter().collect()) })
    }

    fn update<'a>(
        &'a self,
        etag: &'a str,
        puts: &'a [(String, String)],
        deletes: &'a [String],
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move { self.update_now(etag, puts, deletes) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_file_is_an_empty_store_and_writes_need_the_current_etag() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::in_state_dir(dir.path());
        assert_eq!(store.get("k").unwrap(), None);
        let first = store.describe().await.unwrap();
        assert_eq!(first.item_count, 0);
        let puts = vec![("k".to_owned(), "1".to_owned())];
        let next = store.update(&first.etag, &puts, &[]).await.unwrap();
        assert_eq!(store.get("k").unwrap().as_deref(), Some("1"));
        assert_eq!(
            store.update(&first.etag, &puts, &[]).await,
            Err(StoreError::StaleEtag)
        );
        store.update(&next, &[], &["k".to_owned()]).await.unwrap();
        assert_eq!(store.get("k").unwrap(), None);
    }

    /// Sets the file's modification time `secs` into the past, as if written then.
    fn age(path: &Path, secs: u64) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[tokio::test]
    async fn another_writers_change_is_seen_by_the_next_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let reader = FileStore::in_state_dir(dir.path());
        let writer = FileStore::in_state_dir(dir.path());
        let etag = writer.describe().await.unwrap().etag;
        let puts = vec![("sig:a".to_owned(), "100".to_owned())];
        writer.update(&etag, &puts, &[]).await.unwrap();
        age(reader.path(), 10);
        assert_eq!(reader.get("sig:a").unwrap().as_deref(), Some("100"));
        // Same length, same (old) modification time, new inode: the rename shows.
        let etag = writer.describe().await.unwrap().etag;
        let puts = vec![("sig:a".to_owned(), "200".to_owned())];
        writer.update(&etag, &puts, &[]).await.unwrap();
        age(reader.path(), 10);
        assert_eq!(reader.get("sig:a").unwrap().as_deref(), Some("200"));
    }

    #[test]
    fn a_file_rewritten_in_place_within_the_racy_window_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let store = FileStore::in_state_dir(dir.path());
        std::fs::write(&path, br#"{"k":"1"}"#).unwrap();
        assert_eq!(store.get("k").unwrap().as_deref(), Some("1"));
        // Same inode, same length, written within the same second: only the window catches it.
        std::fs::write(&path, br#"{"k":"2"}"#).unwrap();
        assert_eq!(store.get("k").unwrap().as_deref(), Some("2"));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(store.get("k").unwrap(), None);
    }

    #[test]
    fn an_unchanged_old_file_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        std::fs::write(&path, br#"{"k":"1"}"#).unwrap();
        age(&path, 10);
        let store = FileStore::in_state_dir(dir.path());
        let first = store.current().unwrap();
        let second = store.current().unwrap();
        assert!(Arc::ptr_eq(&first, &second), "the parsed copy is reused");
    }

    #[test]
    fn a_damaged_file_is_unreadable_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STORE_FILE), b"[1,2").unwrap();
        let store = FileStore::in_state_dir(dir.path());
        assert!(matches!(store.get("k"), Err(StoreError::Unavailable(_))));
    }
}
