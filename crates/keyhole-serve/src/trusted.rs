//! Which keys the CloudFront stand-in trusts: every key the state folder's key group lists (as a
//! distribution trusts its key group), followed as rotations change the group; or, when the user
//! named the signing key, exactly that one key.
//!
//! The group file is looked at no more than once per [`CHECK_INTERVAL`]: one request in that
//! window stats it (and re-reads it only when it changed, since every write renames a new file
//! into place), every other request takes the verifier it finds. No lock is held across an await:
//! the lookup is synchronous and short.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use keyhole_core::{Verifier, VerifyingKey};

use crate::ServeError;
use crate::key_store::LocalKeyGroup;

/// How often the key group file is looked at, at most.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The trusted keys.
pub(crate) enum TrustedKeys {
    /// One key, fixed at start (the user named the signing key).
    Fixed(Arc<Verifier>),
    /// The local key group, followed.
    Group(GroupWatch),
}

impl TrustedKeys {
    /// The verifier to check a request's cookies with now.
    pub(crate) fn verifier(&self) -> Arc<Verifier> {
        match self {
            TrustedKeys::Fixed(v) => Arc::clone(v),
            TrustedKeys::Group(w) => w.verifier(),
        }
    }
}

/// What tells one version of the file from the next: writes rename a new file into place.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// The state folder's key group, re-read when its file changes.
pub(crate) struct GroupWatch {
    group: LocalKeyGroup,
    current: RwLock<Arc<Verifier>>,
    /// The file version `current` was built from, and the last reload error (logged once).
    seen: Mutex<(Option<Stamp>, Option<String>)>,
    started: Instant,
    /// Milliseconds after `started` before which nobody looks at the file again.
    next_check_ms: AtomicU64,
}

/// A verifier trusting every key the group lists.
fn build(group: &LocalKeyGroup) -> Result<(Verifier, usize), String> {
    let keys = group.trusted_keys().map_err(|e| e.to_string())?;
    let count = keys.len();
    let mut verifier = Verifier::new();
    for k in keys {
        let key = VerifyingKey::from_pem(&k.public_key_pem)
            .map_err(|e| format!("{}: public key {}: {e}", group.path().display(), k.id))?;
        verifier = verifier.with_key(k.id, key);
    }
    Ok((verifier, count))
}

impl GroupWatch {
    /// Reads the group now; an unreadable group stops start-up.
    pub(crate) fn new(group: LocalKeyGroup) -> Result<Self, ServeError> {
        let seen = stamp(group.path()).ok();
        let (verifier, _) = build(&group).map_err(ServeError::Key)?;
        Ok(Self {
            group,
            current: RwLock::new(Arc::new(verifier)),
            seen: Mutex::new((seen, None)),
            started: Instant::now(),
            next_check_ms: AtomicU64::new(0),
        })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn verifier(&self) -> Arc<Verifier> {
        let now = self.elapsed_ms();
        let due = self.next_check_ms.load(Ordering::Relaxed);
        let interval = u64::try_from(CHECK_INTERVAL.as_millis()).unwrap_or(1000);
        // Only the request that moves the deadline looks at the file.
        if now >= due
            && self
                .next_check_ms
                .compare_exchange(due, now + interval, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.reload_if_changed();
        }
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Rebuilds the verifier when the file changed. A group that cannot be read keeps the keys
    /// trusted until now (CloudFront too keeps its last good configuration), with a warning.
    fn reload_if_changed(&self) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = stamp(self.group.path()).ok();
        if now.is_some() && now == seen.0 {
            return;
        }
        match build(&self.group) {
            Ok((verifier, count)) => {
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(verifier);
                tracing::info!(keys = count, "trusted key group re-read");
                *seen = (now, None);
            }
            Err(e) => {
                if seen.1.as_deref() != Some(e.as_str()) {
                    tracing::warn!(error = %e, "the key group cannot be read; still trusting the keys it held");
                }
                seen.1 = Some(e);
            }
        }
    }
}
