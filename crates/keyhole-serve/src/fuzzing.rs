//! Invariant checks behind the fuzz targets (`fuzz/`, cargo-fuzz) and behind the replay of their
//! committed corpora in `cargo test` (`tests/fuzz_corpus.rs`). Each `check_*` panics when an
//! invariant breaks; refusing an input is never a failure.
//!
//! - [`check_range`]: a `Range` header never yields bytes outside the object (`start <= end <
//!   len`), and the plain `bytes=a-b`, `bytes=a-` and `bytes=-n` forms give exactly what RFC 9110
//!   says, computed here without the parser.
//! - [`check_asset_key`]: a request path that a policy for `/users/alice/*` allows never resolves
//!   to a file outside `users/alice/` of the asset folder, nor to one reached through a symlink,
//!   nor to any file other than the key the path names.

use std::io;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::assets::{AssetStore, ByteRange, parse_range};

/// The `Range` parser. Input: the object's length in bytes, a newline, the header value.
pub fn check_range(data: &[u8]) {
    let Some((len, header)) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.split_once('\n'))
    else {
        return;
    };
    let Ok(len) = len.parse::<u64>() else {
        return;
    };
    let got = parse_range(Some(header), len);
    if let ByteRange::Partial { start, end } = got {
        assert!(
            start <= end && end < len,
            "{header:?} on {len} bytes gave {start}..={end}"
        );
    }
    if let Some(expected) = plain_range(header, len) {
        assert_eq!(got, expected, "{header:?} on {len} bytes");
    }
    if got == ByteRange::Unsatisfiable {
        assert!(header.trim().starts_with("bytes=") && !header.contains(','));
    }
}

/// RFC 9110 §14.1.2 for a single range written without spaces; `None` for any other form.
fn plain_range(header: &str, len: u64) -> Option<ByteRange> {
    let spec = header.strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(last) || (first.is_empty() && last.is_empty()) {
        return None;
    }
    // A number too large for u64 is not a range this server can read: the whole object.
    let number = |s: &str| s.parse::<u64>().ok();
    if first.is_empty() {
        let Some(n) = number(last) else {
            return Some(ByteRange::Full);
        };
        return Some(if n == 0 || len == 0 {
            ByteRange::Unsatisfiable
        } else {
            ByteRange::Partial {
                start: len - n.min(len),
                end: len - 1,
            }
        });
    }
    let Some(start) = number(first) else {
        return Some(ByteRange::Full);
    };
    let end = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(end) if end >= start => Some(end),
            _ => return Some(ByteRange::Full),
        }
    };
    Some(if start >= len {
        ByteRange::Unsatisfiable
    } else {
        ByteRange::Partial {
            start,
            end: end.unwrap_or(len - 1).min(len - 1),
        }
    })
}

/// The prefix the asset check's policy allows, as a path on the asset host.
pub const ALLOWED_PREFIX: &str = "/users/alice/";

/// An asset folder laid out to tempt a path out of `users/alice/`: a neighbour `users/alice2/`,
/// another user's object, and symlinks (a file and a folder) from alice's prefix to bob's.
#[derive(Debug)]
pub struct AssetFixture {
    store: AssetStore,
}

impl AssetFixture {
    /// Lays the folder out under `dir` (which must exist and be empty) and opens it as the bucket.
    pub fn create(dir: &Path) -> io::Result<Self> {
        for (file, body) in [
            ("users/alice/a.txt", "alice"),
            ("users/alice/sub/b.txt", "alice"),
            ("users/alice/a b.txt", "alice"),
            ("users/alice/caf\u{e9}.txt", "alice"),
            ("users/alice2/secret.txt", "alice2"),
            ("users/bob/secret.txt", "bob"),
            ("top.txt", "top"),
        ] {
            let path = dir.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, body)?;
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("../bob/secret.txt", dir.join("users/alice/link.txt"))?;
            std::os::unix::fs::symlink("../bob", dir.join("users/alice/bob"))?;
            std::os::unix::fs::symlink("a.txt", dir.join("users/alice/same.txt"))?;
        }
        let store =
            AssetStore::new(dir).map_err(|e| io::Error::other(format!("asset fixture: {e}")))?;
        Ok(Self { store })
    }

    /// The folder opened as the bucket.
    pub fn store(&self) -> &AssetStore {
        &self.store
    }
}

/// Asset key resolution. Input: a request path as on the wire (percent-encoded), resolved in the
/// fixture's folder when a policy for [`ALLOWED_PREFIX`] allows it.
pub fn check_asset_key(fixture: &AssetFixture, data: &[u8]) {
    let Ok(uri_path) = std::str::from_utf8(data) else {
        return;
    };
    let store = fixture.store();
    let Ok(file) = store.resolve(uri_path) else {
        return;
    };
    let root = store.root();
    let Ok(relative) = file.strip_prefix(root) else {
        panic!(
            "{uri_path:?} resolved outside the folder: {}",
            file.display()
        );
    };
    // The key the path names, decoded here segment by segment, is the file served.
    let key: PathBuf = uri_path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    assert_eq!(relative, key, "{uri_path:?} served another key");
    match std::fs::canonicalize(&file) {
        Ok(real) => assert_eq!(real, file, "{uri_path:?} was served through a symlink"),
        Err(e) => panic!("{uri_path:?} resolved to a file that is not there: {e}"),
    }
    let url = format!("https://assets.example{uri_path}");
    let scope = format!("https://assets.example{ALLOWED_PREFIX}*");
    if keyhole_core::resource_matches(&scope, &url) {
        let prefix = root.join(ALLOWED_PREFIX.trim_matches('/'));
        assert!(
            file.starts_with(&prefix),
            "{uri_path:?}, allowed by {scope}, resolved to {}",
            file.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ranges_are_computed_per_the_rfc() {
        assert_eq!(
            plain_range("bytes=0-9", 5),
            Some(ByteRange::Partial { start: 0, end: 4 })
        );
        assert_eq!(
            plain_range("bytes=-2", 5),
            Some(ByteRange::Partial { start: 3, end: 4 })
        );
        assert_eq!(plain_range("bytes=5-", 5), Some(ByteRange::Unsatisfiable));
        assert_eq!(plain_range("bytes=3-1", 5), Some(ByteRange::Full));
        assert_eq!(plain_range("bytes= 1-2", 5), None);
        check_range(b"5\nbytes=1-2");
    }

    #[test]
    fn the_fixture_serves_alice_her_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = AssetFixture::create(dir.path()).unwrap();
        assert!(fixture.store().resolve("/users/alice/a.txt").is_ok());
        assert!(fixture.store().resolve("/users/alice/link.txt").is_err());
        assert!(
            fixture
                .store()
                .resolve("/users/alice/bob/secret.txt")
                .is_err()
        );
        for path in [
            "/users/alice/a.txt",
            "/users/alice/a%20b.txt",
            "/users/bob/secret.txt",
        ] {
            check_asset_key(&fixture, path.as_bytes());
        }
    }
}
