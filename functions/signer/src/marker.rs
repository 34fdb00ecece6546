//! The session marker: one small cookie at `Path=/session` that says which scopes were issued
//! and until when.
//!
//! Why it exists: the CloudFront cookies are path-scoped (`Path=/users/<sub>/`), so a browser never
//! sends them to `/session`. `DELETE /session` needs the paths to clear them (a cookie is removed
//! only by a `Set-Cookie` with the same name, path and domain), and `GET /session` needs the expiry.
//! The marker carries both, with the same `Max-Age` as the cookie sets, so it lives exactly as long.
//!
//! It also names the cookie sets it came with (their deny-list keys, `sig:<hex>`), so that
//! `DELETE /session` can revoke every copy of them, not only the browser's.
//!
//! Format: `cf_base64(JSON {"v":1,"exp":..,"scopes":[..],"sets":[..]}) "." cf_base64(HMAC-SHA256
//! tag)`; `sets` is left out when empty (markers written before it existed read as no sets). The
//! HMAC key is the secret's `sessionMarkerKey`, or, when the secret has none (as key setup writes
//! it), derived with HKDF-SHA256 from the signing key's PEM ([`keyhole_core::session_marker_key`]).
//! So every instance holding the same secret accepts each other's markers and nobody without it can
//! mint one (a sibling subdomain cannot toss in a forged marker). A rotation carries the marker key
//! over into the new secret, so markers issued before a rotation keep working after it.

use keyhole_core::cf_base64;
use serde::{Deserialize, Serialize};

use crate::scope::Scope;

/// The marker cookie's name.
pub const MARKER_COOKIE: &str = "Keyhole-Session";
/// The marker cookie's path: only `/session*` requests carry it.
pub const MARKER_PATH: &str = "/session";
/// Markers longer than this are ignored unread (a client controls what it sends).
const MAX_MARKER_LEN: usize = 4096;

/// What a marker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// When the session's cookies expire (epoch seconds).
    pub expires_at: i64,
    /// The scopes cookie sets were issued for.
    pub scopes: Vec<Scope>,
    /// The deny-list keys of those cookie sets (`keyhole_core::revocation::signature_key`).
    pub cookie_sets: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u8,
    exp: i64,
    scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sets: Vec<String>,
}

/// The HMAC key for markers.
pub struct MarkerKey(aws_lc_rs::hmac::Key);

impl std::fmt::Debug for MarkerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarkerKey(<redacted>)")
    }
}

impl MarkerKey {
    /// Derives the marker key from the signing key's PEM text.
    pub fn derive(private_key_pem: &str) -> Self {
        Self::from_bytes(&keyhole_core::session_marker_key(private_key_pem))
    }

    /// The marker key from its 32 bytes (the secret's `sessionMarkerKey`).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            bytes,
        ))
    }
}

impl Marker {
    /// The cookie value.
    pub fn encode(&self, key: &MarkerKey) -> String {
        let wire = Wire {
            v: 1,
            exp: self.expires_at,
            scopes: self.scopes.iter().map(|s| s.pattern().to_owned()).collect(),
            sets: self.cookie_sets.clone(),
        };
        // Serializing plain strings and integers cannot fail; an empty payload would just be
        // refused on the way back in.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        let payload = cf_base64::encode(&json);
        let tag = aws_lc_rs::hmac::sign(&key.0, payload.as_bytes());
        format!("{payload}.{}", cf_base64::encode(tag.as_ref()))
    }

    /// Reads a marker, checking its tag and expiry. `None` for anything forged, expired or
    /// malformed.
    pub fn decode_verified(value: &str, key: &MarkerKey, now: i64) -> Option<Self> {
        let (payload, tag) = split(value)?;
        let tag = cf_base64::decode(tag).ok()?;
        aws_lc_rs::hmac::verify(&key.0, payload.as_bytes(), &tag).ok()?;
        let marker = parse_payload(payload)?;
        (marker.expires_at > now).then_some(marker)
    }

    /// Reads a marker's scopes without checking its tag or expiry; used only to decide which
    /// cookies `DELETE /session` clears. Clearing is harmless (it can only remove cookies from the
    /// sender's own browser) and must work even after a key rotation. Every scope must still be
    /// well formed, because its path goes into a `Set-Cookie` header.
    pub fn decode_unverified(value: &str) -> Option<Self> {
        parse_payload(split(value)?.0)
    }
}

fn split(value: &str) -> Option<(&str, &str)> {
    if value.len() > MAX_MARKER_LEN {
        return None;
    }
    value.split_once('.')
}

fn parse_payload(payload: &str) -> Option<Marker> {
    let json = cf_base64::decode(payload).ok()?;
    let wire: Wire = serde_json::from_slice(&json).ok()?;
    if wire.v != 1 {
        return None;
    }
    let scopes = wire
        .scopes
        .iter()
        .map(|s| Scope::from_pattern(s))
        .collect::<Option<Vec<_>>>()?;
    // Only deny-list keys, which are what a revocation writes.
    if !wire.sets.iter().all(|k| {
        matches!(
            keyhole_core::revocation::Entry::parse(k, "0"),
            Some(keyhole_core::revocation::Entry::CookieSet { .. })
        )
    }) {
        return None;
    }
    Some(Marker {
        expires_at: wire.exp,
        scopes,
        cookie_sets: wire.sets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> Marker {
        Marker {
            expires_at: 2_000,
            scopes: vec![
                Scope::from_pattern("/users/abc/*").unwrap(),
                Scope::from_pattern("/public/logo.png").unwrap(),
            ],
            cookie_sets: vec![keyhole_core::revocation::signature_key("sig")],
        }
    }

    #[test]
    fn marker_round_trips_with_its_key() {
        let key = MarkerKey::derive("pem one");
        let value = marker().encode(&key);
        // A cookie value may not hold ; , space " or \.
        assert!(!value.contains([';', ',', ' ', '"', '\\']), "{value}");
        assert_eq!(Marker::decode_verified(&value, &key, 1_000), Some(marker()));
    }

    #[test]
    fn a_marker_key_from_the_derived_bytes_is_the_derived_key() {
        let value = marker().encode(&MarkerKey::derive("pem one"));
        let carried = MarkerKey::from_bytes(&keyhole_core::session_marker_key("pem one"));
        assert_eq!(
            Marker::decode_verified(&value, &carried, 1_000),
            Some(marker())
        );
    }

    #[test]
    fn expired_marker_is_not_accepted() {
        let key = MarkerKey::derive("pem one");
        assert_eq!(
            Marker::decode_verified(&marker().encode(&key), &key, 2_000),
            None
        );
    }

    #[test]
    fn marker_from_another_key_is_not_accepted_but_can_be_cleared() {
        let value = marker().encode(&MarkerKey::derive("pem one"));
        assert_eq!(
            Marker::decode_verified(&value, &MarkerKey::derive("pem two"), 0),
            None
        );
        assert_eq!(Marker::decode_unverified(&value), Some(marker()));
    }

    #[test]
    fn tampered_marker_is_not_accepted() {
        let key = MarkerKey::derive("pem one");
        let value = marker().encode(&key);
        let (_, tag) = value.split_once('.').unwrap();
        let forged = Wire {
            v: 1,
            exp: 9_999_999_999,
            scopes: vec!["/*".into()],
            sets: vec![],
        };
        let forged = format!(
            "{}.{tag}",
            cf_base64::encode(&serde_json::to_vec(&forged).unwrap())
        );
        assert_eq!(Marker::decode_verified(&forged, &key, 0), None);
    }

    #[test]
    fn marker_with_an_unsafe_path_is_refused_even_unverified() {
        let wire = Wire {
            v: 1,
            exp: 1,
            scopes: vec!["/x; Domain=evil.example".into()],
            sets: vec![],
        };
        let value = format!(
            "{}.AAAA",
            cf_base64::encode(&serde_json::to_vec(&wire).unwrap())
        );
        assert_eq!(Marker::decode_unverified(&value), None);
        let wire = Wire {
            v: 1,
            exp: 1,
            scopes: vec!["/users/abc/*".into()],
            sets: vec!["/users/".into()],
        };
        let value = format!(
            "{}.AAAA",
            cf_base64::encode(&serde_json::to_vec(&wire).unwrap())
        );
        assert_eq!(Marker::decode_unverified(&value), None);
        for junk in ["", ".", "a.b", "~~~.~~~", &"A".repeat(10_000)] {
            assert_eq!(Marker::decode_unverified(junk), None);
        }
    }
}
