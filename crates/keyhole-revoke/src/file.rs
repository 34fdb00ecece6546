//! The local stack's deny-list: one JSON object (`{"key": "value", ...}`) in the state folder,
//! written whole to a temporary file and renamed, with an ETag that is a hash of its bytes. The
//! edge check of `keyhole serve` reads it through [`FileStore::get`]; writers go through
//! [`DenyStore`] like they do with the KeyValueStore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_lc_rs::digest;

use crate::{BoxFuture, DenyStore, Snapshot, StoreError};

/// The file's name in the state folder.
pub const STORE_FILE: &str = "revocations.json";

/// A deny-list in a file. A missing file is an empty store.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    // Serialises this process's writers; other processes are caught by the ETag check.
    write: Mutex<()>,
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

    /// One key's value, `None` when absent. What the local edge check's `cf.kvs()` reads.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.read()?.1.remove(key))
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

    #[test]
    fn a_damaged_file_is_unreadable_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STORE_FILE), b"[1,2").unwrap();
        let store = FileStore::in_state_dir(dir.path());
        assert!(matches!(store.get("k"), Err(StoreError::Unavailable(_))));
    }
}
