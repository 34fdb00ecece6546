//! A folder played as the private bucket: object keys are paths under one root, answered with
//! content types, ETag, conditional GETs and byte ranges (so `<video>` can seek), and no way out of
//! the root.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode, header};
use percent_encoding::percent_decode_str;
use std::io::{Read as _, Seek as _};

use crate::ServeError;
use crate::responses::{self, respond_or_500};

/// Why a request path does not name an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    /// The path tries to leave the root (`..`, an encoded slash or backslash, a NUL).
    Traversal,
    /// Nothing is stored under that key: no such file, a folder, or a symlink anywhere on the way
    /// (S3 has no symlinks, so a link is never an object, wherever it points).
    NotFound,
}

/// The byte range a request asks for, resolved against the object's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable `Range` header: the whole object.
    Full,
    /// Bytes `start..=end` (inclusive, as HTTP counts them).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// A syntactically valid range that lies wholly past the end: 416.
    Unsatisfiable,
}

/// Reads a `Range` header the way S3 does: one `bytes=` range (`a-b`, `a-`, `-n`). Anything it
/// cannot read, and multi-range requests, fall back to the whole object (RFC 9110 lets a server
/// ignore `Range`).
pub fn parse_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if first.is_empty() {
        // Suffix range: the last n bytes.
        return match number(last) {
            None => ByteRange::Full,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if len == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return ByteRange::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(e) if e >= start => Some(e),
            _ => return ByteRange::Full,
        }
    };
    if start >= len {
        return ByteRange::Unsatisfiable;
    }
    let end = end.map_or(len - 1, |e| e.min(len - 1));
    ByteRange::Partial { start, end }
}

/// The entity tag of an object: its size and modification time, quoted (a strong validator, since
/// either changes with the content of a file written in place).
pub fn etag_for(len: u64, modified: SystemTime) -> String {
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("\"{len:x}-{nanos:x}\"")
}

/// Whether `If-None-Match` (which wins when present) or `If-Modified-Since` says the client's copy
/// is current, so a 304 is due.
pub fn not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    }
    if let Some(ims) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        // HTTP dates have whole seconds; compare at that precision.
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        return secs(modified) <= secs(ims);
    }
    false
}

/// The media type for a key, by extension; `application/octet-stream` otherwise.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "webm" => "video/webm",
        "mp4" | "m4v" => "video/mp4",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "pdf" => "application/pdf",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The range a GET asks for: `Range`, honoured only while `If-Range` (when sent) still matches.
fn requested_range(headers: &HeaderMap, etag: &str, len: u64) -> ByteRange {
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range_applies = match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        Some(validator) => validator.trim() == etag,
        None => true,
    };
    if range_applies {
        parse_range(range_header, len)
    } else {
        ByteRange::Full
    }
}

/// A folder played as the bucket.
#[derive(Debug, Clone)]
pub struct AssetStore {
    root: PathBuf,
}

impl AssetStore {
    /// Opens a folder as the bucket. It must exist; its canonical path becomes the fence that every
    /// key must stay inside.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, ServeError> {
        let root = root.as_ref();
        let canonical = std::fs::canonicalize(root).map_err(|source| ServeError::Assets {
            path: root.to_path_buf(),
            source,
        })?;
        if !canonical.is_dir() {
            return Err(ServeError::Assets {
                path: root.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
            });
        }
        Ok(Self { root: canonical })
    }

    /// The folder's canonical path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a request path (still percent-encoded, as on the wire) to a file under the root.
    /// Segments are decoded one by one, so `%2e%2e`, `%2f` and `%5c` cannot smuggle a `..` or a
    /// separator. No symlink is followed, file or folder, even one that stays inside the root: a
    /// link from one user's prefix to another's would otherwise serve the second user's object
    /// under a key the first user's policy allows.
    pub fn resolve(&self, uri_path: &str) -> Result<PathBuf, KeyRejection> {
        let mut path = self.root.clone();
        let trimmed = uri_path.strip_prefix('/').unwrap_or(uri_path);
        if trimmed.is_empty() {
            return Err(KeyRejection::NotFound);
        }
        for raw in trimmed.split('/') {
            let segment = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| KeyRejection::Traversal)?;
            if segment.is_empty() {
                return Err(KeyRejection::NotFound);
            }
            if segment == "."
                || segment == ".."
                || segment.contains(['/', '\\', '\0'])
                || Path::new(segment.as_ref()).is_absolute()
            {
                return Err(KeyRejection::Traversal);
            }
            path.push(segment.as_ref());
            let meta = std::fs::symlink_metadata(&path).map_err(|_| KeyRejection::NotFound)?;
            if meta.file_type().is_symlink() {
                return Err(KeyRejection::NotFound);
            }
        }
        if !path.is_file() {
            return Err(KeyRejection::NotFound);
        }
        Ok(path)
    }

    /// Answers a GET or HEAD for `uri_path` as S3 behind CloudFront would: 200, 206, 304, 416, or an
    /// XML error (403 for a path that tries to leave the root, 404 for a missing key, 405 for
    /// other methods).
    pub async fn respond(
        &self,
        method: &Method,
        uri_path: &str,
        headers: &HeaderMap,
    ) -> Response<Body> {
        if method != Method::GET && method != Method::HEAD {
            return responses::error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            );
        }
        let path = match self.resolve(uri_path) {
            Ok(p) => p,
            Err(KeyRejection::Traversal) => {
                return responses::error_response(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    "Access Denied",
                );
            }
            Err(KeyRejection::NotFound) => {
                return responses::error_response(
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "The specified key does not exist.",
                );
            }
        };
        match self.read(method, &path, headers).await {
            Ok(resp) => resp,
            Err(err) => {
                tracing::error!(error = %err, "reading an asset failed");
                responses::error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            }
        }
    }

    async fn read(
        &self,
        method: &Method,
        path: &Path,
        headers: &HeaderMap,
    ) -> std::io::Result<Response<Body>> {
        // `resolve` found a regular file; this stat is of the file opened, so a file swapped for
        // something else in between is refused, not read.
        let mut file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other(
                "the object is no longer a regular file",
            ));
        }
        let len = meta.len();
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let etag = etag_for(len, modified);
        let base = Response::builder()
            .header(header::ETAG, etag.as_str())
            .header(header::LAST_MODIFIED, httpdate::fmt_http_date(modified))
            .header(header::ACCEPT_RANGES, "bytes");
        if not_modified(headers, &etag, modified) {
            return Ok(respond_or_500(
                base.status(StatusCode::NOT_MODIFIED).body(Body::empty()),
            ));
        }
        let range = requested_range(headers, &etag, len);
        let content_type = content_type(path);
        let (status, start, count, builder) = match range {
            ByteRange::Full => (StatusCode::OK, 0, len, base),
            ByteRange::Partial { start, end } => (
                StatusCode::PARTIAL_CONTENT,
                start,
                end - start + 1,
                base.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
            ),
            ByteRange::Unsatisfiable => {
                return Ok(responses::with_status_and_header(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                    header::CONTENT_RANGE,
                    format!("bytes */{len}"),
                ));
            }
        };
        let builder = builder
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, count);
        if method == Method::HEAD {
            return Ok(respond_or_500(builder.body(Body::empty())));
        }
        let buf = if count <= INLINE_READ {
            read_range(&mut file, start, count)?
        } else {
            tokio::task::spawn_blocking(move || read_range(&mut file, start, count))
                .await
                .map_err(std::io::Error::other)??
        };
        Ok(respond_or_500(builder.body(Body::from(buf))))
    }
}

/// Bodies up to this size are read on the request's own task: from the page cache that takes a
/// few microseconds, less than handing the read to the blocking pool and back (the stat and
/// `resolve`'s look-ups already run in place). Larger bodies are read on the blocking pool.
const INLINE_READ: u64 = 64 * 1024;

/// `count` bytes of `file` from `start`.
fn read_range(file: &mut std::fs::File, start: u64, count: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    file.take(count).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::responses::header_value;
    use axum::http::HeaderValue;
    use std::time::Duration;

    #[test]
    fn a_plain_range_is_read_inclusively() {
        assert_eq!(
            parse_range(Some("bytes=0-9"), 100),
            ByteRange::Partial { start: 0, end: 9 }
        );
    }

    #[test]
    fn an_open_range_runs_to_the_end() {
        assert_eq!(
            parse_range(Some("bytes=90-"), 100),
            ByteRange::Partial { start: 90, end: 99 }
        );
    }

    #[test]
    fn a_suffix_range_takes_the_last_bytes() {
        assert_eq!(
            parse_range(Some("bytes=-10"), 100),
            ByteRange::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=-1000"), 100),
            ByteRange::Partial { start: 0, end: 99 }
        );
    }

    #[test]
    fn an_end_past_the_object_is_clamped() {
        assert_eq!(
            parse_range(Some("bytes=50-5000"), 100),
            ByteRange::Partial { start: 50, end: 99 }
        );
    }

    #[test]
    fn a_start_past_the_object_is_unsatisfiable() {
        assert_eq!(
            parse_range(Some("bytes=100-"), 100),
            ByteRange::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=-0"), 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), ByteRange::Unsatisfiable);
    }

    #[test]
    fn unreadable_or_multiple_ranges_fall_back_to_the_whole_object() {
        for h in [
            "bytes=a-b",
            "items=0-1",
            "bytes=5-1",
            "bytes=0-1,5-6",
            "bytes=",
            "bytes=+1-2",
            "bytes=1",
        ] {
            assert_eq!(parse_range(Some(h), 100), ByteRange::Full, "{h}");
        }
        assert_eq!(parse_range(None, 100), ByteRange::Full);
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let etag = etag_for(10, t);
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        h.insert(
            header::IF_MODIFIED_SINCE,
            header_value(&httpdate::fmt_http_date(t)),
        );
        assert!(!not_modified(&h, &etag, t));
        h.insert(
            header::IF_NONE_MATCH,
            header_value(&format!("\"x\", {etag}")),
        );
        assert!(not_modified(&h, &etag, t));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&h, &etag, t));
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_MODIFIED_SINCE,
            header_value(&httpdate::fmt_http_date(t)),
        );
        assert!(not_modified(&h, "\"e\"", t));
        let later = t + Duration::from_secs(5);
        assert!(!not_modified(&h, "\"e\"", later));
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(content_type(Path::new("a/b.PNG")), "image/png");
        assert_eq!(content_type(Path::new("clip.webm")), "video/webm");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }

    async fn body_of(resp: Response<Body>) -> Vec<u8> {
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    /// Bodies up to INLINE_READ are read in place, larger ones on the blocking pool: both
    /// answer whole objects and ranges byte for byte.
    #[tokio::test]
    async fn small_and_large_objects_and_their_ranges_are_read_whole() {
        let (dir, store) = store();
        let large: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("bucket/large.bin"), &large).unwrap();
        std::fs::write(dir.path().join("bucket/small.bin"), &large[..1000]).unwrap();
        for (key, want) in [("/large.bin", &large[..]), ("/small.bin", &large[..1000])] {
            let resp = store.respond(&Method::GET, key, &HeaderMap::new()).await;
            assert_eq!(resp.status(), StatusCode::OK, "{key}");
            assert_eq!(body_of(resp).await, want, "{key}");
            let mut h = HeaderMap::new();
            h.insert(header::RANGE, HeaderValue::from_static("bytes=500-599"));
            let resp = store.respond(&Method::GET, key, &h).await;
            assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{key}");
            assert_eq!(body_of(resp).await, &want[500..600], "{key}");
        }
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_static("bytes=100000-"));
        let resp = store.respond(&Method::GET, "/large.bin", &h).await;
        assert_eq!(body_of(resp).await, &large[100_000..]);
    }

    fn store() -> (tempfile::TempDir, AssetStore) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bucket/users/u1")).unwrap();
        std::fs::write(dir.path().join("bucket/users/u1/a.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"outside").unwrap();
        let store = AssetStore::new(dir.path().join("bucket")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_key_resolves_to_its_file() {
        let (_dir, store) = store();
        assert!(
            store
                .resolve("/users/u1/a.txt")
                .unwrap()
                .ends_with("users/u1/a.txt")
        );
        assert!(
            store.resolve("/users/u1/%61.txt").is_ok(),
            "percent-encoded letters decode"
        );
    }

    #[test]
    fn traversal_attempts_are_refused() {
        let (_dir, store) = store();
        for p in [
            "/../secret.txt",
            "/users/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/users/%2E%2E/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/..%5csecret.txt",
            "/users/u1/a.txt%00",
            "/./users/u1/a.txt",
            "/%2fetc%2fpasswd",
        ] {
            assert_eq!(store.resolve(p), Err(KeyRejection::Traversal), "{p}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_root_is_refused() {
        let (dir, store) = store();
        std::os::unix::fs::symlink(
            dir.path().join("secret.txt"),
            dir.path().join("bucket/link.txt"),
        )
        .unwrap();
        assert_eq!(store.resolve("/link.txt"), Err(KeyRejection::NotFound));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_inside_the_root_is_no_object_either() {
        let (dir, store) = store();
        let bucket = dir.path().join("bucket");
        for user in ["alice", "bob"] {
            std::fs::create_dir_all(bucket.join("users").join(user)).unwrap();
        }
        std::fs::write(bucket.join("users/bob/secret.txt"), b"bob's").unwrap();
        std::os::unix::fs::symlink("../bob/secret.txt", bucket.join("users/alice/link.txt"))
            .unwrap();
        std::os::unix::fs::symlink("../bob", bucket.join("users/alice/dir")).unwrap();
        assert_eq!(store.resolve("/users/bob/secret.txt").map(|_| ()), Ok(()));
        assert_eq!(
            store.resolve("/users/alice/link.txt"),
            Err(KeyRejection::NotFound)
        );
        assert_eq!(
            store.resolve("/users/alice/dir/secret.txt"),
            Err(KeyRejection::NotFound)
        );
    }

    #[test]
    fn folders_and_missing_keys_are_not_found() {
        let (_dir, store) = store();
        assert_eq!(store.resolve("/users/u1"), Err(KeyRejection::NotFound));
        assert_eq!(
            store.resolve("/users/u1/nope.txt"),
            Err(KeyRejection::NotFound)
        );
        assert_eq!(store.resolve("/"), Err(KeyRejection::NotFound));
        assert_eq!(
            store.resolve("/users//u1/a.txt"),
            Err(KeyRejection::NotFound)
        );
    }

    #[test]
    fn a_missing_root_is_a_clear_error() {
        let err = AssetStore::new("/definitely/not/here").unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"), "{err}");
    }
}
