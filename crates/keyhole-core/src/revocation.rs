//! Revocation: the deny-list's entries and the rule that says whether a signed cookie set is
//! revoked. The edge check (`functions/edge-check/index.js`) holds the same rule in JavaScript;
//! the entry formats below are the contract between the two and every writer.
//!
//! Two kinds of entry, each one key and one value in a CloudFront KeyValueStore:
//!
//! | kind | key | value | means |
//! | --- | --- | --- | --- |
//! | scope prefix | the prefix itself, `/users/<sub>/` or `/groups/admins/` | `T`, epoch seconds | refuse policies for this prefix (or below it) issued before `T` |
//! | cookie set | `sig:` + the first 32 hex digits of SHA-256(`CloudFront-Signature`) | its `DateLessThan`, epoch seconds | refuse this very cookie set |
//!
//! Issue time travels in the policy: every policy the signer writes has `DateGreaterThan` =
//! issue time − [`ISSUE_SKEW_SECONDS`] (so an edge whose clock lags a little still accepts a
//! fresh cookie), and a reader recovers the issue time by adding the same allowance back. A
//! policy counts as revoked by a prefix entry only when it was issued strictly before `T`, so a
//! session issued after the revocation is never caught by it. A policy without
//! `DateGreaterThan` has no issue time and counts as issued before any revocation.
//!
//! The rule only ever denies: an entry it cannot read denies nothing.

use aws_lc_rs::digest;

use crate::{Policy, PrefixError};

/// Seconds `DateGreaterThan` lies before the issue time: the clock skew an edge location may
/// have against the signer without refusing a cookie set just issued.
pub const ISSUE_SKEW_SECONDS: i64 = 30;

/// The key prefix of cookie-set entries.
pub const SIGNATURE_KEY_PREFIX: &str = "sig:";

/// Hex digits of SHA-256 kept in a cookie-set key (128 bits: no collision in any store size).
const SIGNATURE_HASH_DIGITS: usize = 32;

/// CloudFront KeyValueStore keys are at most 512 bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// `DateGreaterThan` for a policy issued at `issued_at`.
pub fn not_before(issued_at: i64) -> i64 {
    issued_at - ISSUE_SKEW_SECONDS
}

/// When `policy` was issued, read back from its `DateGreaterThan`; `None` without one.
pub fn issued_at(policy: &Policy) -> Option<i64> {
    policy.starts_at().map(|s| s + ISSUE_SKEW_SECONDS)
}

/// The cookie-set key for a `CloudFront-Signature` value.
pub fn signature_key(signature: &str) -> String {
    let hash = digest::digest(&digest::SHA256, signature.as_bytes());
    let mut key = String::with_capacity(SIGNATURE_KEY_PREFIX.len() + SIGNATURE_HASH_DIGITS);
    key.push_str(SIGNATURE_KEY_PREFIX);
    for byte in hash.as_ref().iter().take(SIGNATURE_HASH_DIGITS / 2) {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// Checks that `prefix` can be a prefix entry's key: `/`-delimited path segments with no
/// wildcard, no `..`, no empty segment, printable ASCII only.
pub fn check_prefix(prefix: &str) -> Result<(), PrefixError> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(PrefixError::TooLong);
    }
    if !prefix.starts_with('/') || !prefix.ends_with('/') {
        return Err(PrefixError::Slashes(prefix.to_owned()));
    }
    let bad_char = prefix
        .bytes()
        .any(|b| !(0x21..0x7f).contains(&b) || b == b'*' || b == b'?');
    let bad_segment = prefix.len() > 1
        && prefix[1..prefix.len() - 1]
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad_char || bad_segment {
        return Err(PrefixError::Characters(prefix.to_owned()));
    }
    Ok(())
}

/// The prefix a policy's Resource covers: its path up to the last `/` before any wildcard
/// (`https://d/users/abc/*` → `/users/abc/`, `https://d/public/logo.png` → `/public/`). `None`
/// when the Resource has no path (`*`, `https://*`).
pub fn scope_prefix(resource: &str) -> Option<&str> {
    let rest = &resource[resource.find("://")? + 3..];
    let path = &rest[rest.find('/')?..];
    let literal = &path[..path.find(['*', '?']).unwrap_or(path.len())];
    Some(&literal[..=literal.rfind('/')?])
}

/// The prefix keys that can revoke `policy`, most specific first: its scope prefix and each
/// ancestor (`/users/abc/`, `/users/`, `/`).
pub fn prefix_keys(policy: &Policy) -> Vec<String> {
    let Some(prefix) = scope_prefix(policy.resource()) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut end = prefix.len();
    while end > 0 {
        keys.push(prefix[..end].to_owned());
        end = prefix[..end - 1].rfind('/').map_or(0, |i| i + 1);
    }
    keys
}

/// Reads an entry's epoch-seconds value: 1 to 12 ASCII digits, nothing else.
pub fn parse_epoch(value: &str) -> Option<i64> {
    (!value.is_empty() && value.len() <= 12 && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse().ok())
        .flatten()
}

/// One deny-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Refuse policies for `prefix` (or below it) issued before `revoked_before`.
    Prefix {
        /// A prefix that passed [`check_prefix`].
        prefix: String,
        /// Epoch seconds.
        revoked_before: i64,
    },
    /// Refuse the cookie set whose signature hashes to `key`, until it expires anyway.
    CookieSet {
        /// `sig:` + 32 hex digits.
        key: String,
        /// The set's `DateLessThan`.
        expires_at: i64,
    },
}

impl Entry {
    /// A prefix entry, the prefix checked.
    pub fn prefix(prefix: &str, revoked_before: i64) -> Result<Self, PrefixError> {
        check_prefix(prefix)?;
        Ok(Entry::Prefix {
            prefix: prefix.to_owned(),
            revoked_before,
        })
    }

    /// A cookie-set entry for a `CloudFront-Signature` value.
    pub fn cookie_set(signature: &str, expires_at: i64) -> Self {
        Entry::CookieSet {
            key: signature_key(signature),
            expires_at,
        }
    }

    /// Reads a stored key and value; `None` for anything that is not one of the two forms.
    pub fn parse(key: &str, value: &str) -> Option<Self> {
        let time = parse_epoch(value)?;
        if let Some(hex) = key.strip_prefix(SIGNATURE_KEY_PREFIX) {
            let well_formed = hex.len() == SIGNATURE_HASH_DIGITS
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            return well_formed.then(|| Entry::CookieSet {
                key: key.to_owned(),
                expires_at: time,
            });
        }
        Entry::prefix(key, time).ok()
    }

    /// The store key.
    pub fn key(&self) -> &str {
        match self {
            Entry::Prefix { prefix, .. } => prefix,
            Entry::CookieSet { key, .. } => key,
        }
    }

    /// The store value.
    pub fn value(&self) -> String {
        match self {
            Entry::Prefix { revoked_before, .. } => revoked_before.to_string(),
            Entry::CookieSet { expires_at, .. } => expires_at.to_string(),
        }
    }

    /// Whether the entry can no longer refuse anything at `now`: a cookie set once it has
    /// expired, a prefix entry once every policy issued before it has (it was issued at most
    /// `longest_session` seconds before its end). Both keep [`ISSUE_SKEW_SECONDS`] more for an
    /// edge whose clock lags.
    pub fn is_prunable(&self, now: i64, longest_session: i64) -> bool {
        match self {
            Entry::CookieSet { expires_at, .. } => *expires_at + ISSUE_SKEW_SECONDS < now,
            Entry::Prefix { revoked_before, .. } => {
                *revoked_before + longest_session + ISSUE_SKEW_SECONDS < now
            }
        }
    }
}

/// Whether a cookie set is revoked. `policy` is the parsed `CloudFront-Policy` (`None` for a
/// canned set or one that does not parse: only its own entry can refuse it), `signature` its
/// `CloudFront-Signature`, and `lookup` reads the store (`None` for a missing key or a failed
/// read). The same rule as `revoked()` in the edge check.
pub fn is_revoked(
    policy: Option<&Policy>,
    signature: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> bool {
    if !signature.is_empty() && lookup(&signature_key(signature)).is_some() {
        return true;
    }
    let Some(policy) = policy else {
        return false;
    };
    // No issue time: issued before any revocation.
    let issued = issued_at(policy).unwrap_or(i64::MIN);
    prefix_keys(policy).iter().any(|key| {
        lookup(key)
            .as_deref()
            .and_then(parse_epoch)
            .is_some_and(|revoked_before| issued < revoked_before)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const BASE: &str = "https://d111111abcdef8.cloudfront.net";

    fn policy(path: &str, issued: i64) -> Policy {
        Policy::new(format!("{BASE}{path}"), issued + 3600)
            .unwrap()
            .starting_at(not_before(issued))
    }

    fn store(entries: &[(&str, &str)]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn revoked(p: Option<&Policy>, sig: &str, s: &HashMap<String, String>) -> bool {
        is_revoked(p, sig, |k| s.get(k).cloned())
    }

    #[test]
    fn issue_time_survives_the_round_trip_through_date_greater_than() {
        let p = policy("/users/abc/*", 1_000_000);
        assert_eq!(p.starts_at(), Some(1_000_000 - ISSUE_SKEW_SECONDS));
        assert_eq!(issued_at(&p), Some(1_000_000));
    }

    #[test]
    fn signature_keys_are_short_lowercase_hex_and_stable() {
        let key = signature_key("abc");
        // SHA-256("abc") starts ba7816bf8f01cfea414140de5dae2223.
        assert_eq!(key, "sig:ba7816bf8f01cfea414140de5dae2223");
        assert_eq!(Entry::parse(&key, "5"), Some(Entry::cookie_set("abc", 5)));
    }

    #[test]
    fn scope_prefixes_stop_at_the_last_slash_before_a_wildcard() {
        assert_eq!(
            scope_prefix(&format!("{BASE}/users/abc/*")),
            Some("/users/abc/")
        );
        assert_eq!(
            scope_prefix(&format!("{BASE}/public/logo.png")),
            Some("/public/")
        );
        assert_eq!(scope_prefix(&format!("{BASE}/a/b*c/d")), Some("/a/"));
        assert_eq!(scope_prefix(&format!("{BASE}/*")), Some("/"));
        assert_eq!(scope_prefix("*"), None);
        assert_eq!(scope_prefix("https://*"), None);
        assert_eq!(
            prefix_keys(&policy("/groups/admins/*", 0)),
            ["/groups/admins/", "/groups/", "/"]
        );
    }

    #[test]
    fn a_prefix_entry_refuses_only_sessions_issued_before_it() {
        let s = store(&[("/users/abc/", "1000")]);
        assert!(revoked(Some(&policy("/users/abc/*", 999)), "x", &s));
        // Issued in the second of the revocation or later: never caught.
        assert!(!revoked(Some(&policy("/users/abc/*", 1000)), "x", &s));
        assert!(!revoked(Some(&policy("/users/abc/*", 5000)), "x", &s));
        // Someone else's prefix.
        assert!(!revoked(Some(&policy("/users/abd/*", 999)), "x", &s));
        assert!(!revoked(Some(&policy("/users/abcd/*", 999)), "x", &s));
    }

    #[test]
    fn an_ancestor_prefix_revokes_everything_below_it() {
        let s = store(&[("/groups/", "1000")]);
        assert!(revoked(Some(&policy("/groups/admins/*", 10)), "x", &s));
        assert!(!revoked(Some(&policy("/users/abc/*", 10)), "x", &s));
    }

    #[test]
    fn a_policy_without_issue_time_counts_as_issued_before_any_revocation() {
        let p = Policy::new(format!("{BASE}/users/abc/*"), 9_999).unwrap();
        assert!(revoked(Some(&p), "x", &store(&[("/users/abc/", "1")])));
        assert!(!revoked(Some(&p), "x", &store(&[])));
    }

    #[test]
    fn a_cookie_set_entry_refuses_that_set_whatever_its_value() {
        let p = policy("/users/abc/*", 10);
        let key = signature_key("SIG");
        assert!(revoked(Some(&p), "SIG", &store(&[(&key, "1")])));
        assert!(revoked(Some(&p), "SIG", &store(&[(&key, "junk")])));
        assert!(revoked(None, "SIG", &store(&[(&key, "1")])));
        assert!(!revoked(Some(&p), "OTHER", &store(&[(&key, "1")])));
        assert!(!revoked(None, "", &store(&[(&key, "1")])));
    }

    #[test]
    fn unreadable_prefix_values_deny_nothing() {
        let p = policy("/users/abc/*", 10);
        for junk in [
            "",
            "abc",
            "-5",
            "1e9",
            " 100",
            "100 ",
            "1234567890123",
            "1.5",
        ] {
            assert!(
                !revoked(Some(&p), "x", &store(&[("/users/abc/", junk)])),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn prefixes_that_could_not_be_matched_safely_are_refused() {
        assert!(check_prefix("/users/abc/").is_ok());
        assert!(check_prefix("/").is_ok());
        for bad in [
            "users/abc/",
            "/users/abc",
            "/users/*/",
            "/a//b/",
            "/a/../",
            "/a b/",
            "/a/?/",
            "",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_prefix(&format!("/{}/", "a".repeat(600))),
            Err(PrefixError::TooLong)
        );
    }

    #[test]
    fn entries_parse_back_from_what_they_write() {
        for e in [
            Entry::prefix("/users/abc/", 77).unwrap(),
            Entry::cookie_set("s", 88),
        ] {
            assert_eq!(Entry::parse(e.key(), &e.value()), Some(e.clone()));
        }
        assert_eq!(Entry::parse("sig:XYZ", "1"), None);
        assert_eq!(Entry::parse("/users/abc/", "soon"), None);
        assert_eq!(Entry::parse("other", "1"), None);
    }

    #[test]
    fn entries_are_pruned_once_they_can_no_longer_refuse_anything() {
        let set = Entry::cookie_set("s", 1_000);
        assert!(!set.is_prunable(1_000 + ISSUE_SKEW_SECONDS, 3600));
        assert!(set.is_prunable(1_001 + ISSUE_SKEW_SECONDS, 3600));
        let prefix = Entry::prefix("/users/abc/", 1_000).unwrap();
        assert!(!prefix.is_prunable(1_000 + 3600 + ISSUE_SKEW_SECONDS, 3600));
        assert!(prefix.is_prunable(1_001 + 3600 + ISSUE_SKEW_SECONDS, 3600));
    }
}
