//! Invariant checks behind the fuzz targets (`fuzz/`, cargo-fuzz) and behind the replay of their
//! committed corpora in `cargo test` (`tests/fuzz_corpus.rs`). Each `check_*` takes the raw bytes a
//! target receives and panics when an invariant breaks; refusing an input is never a failure.
//!
//! The invariants go beyond "no crash":
//! - [`check_cookie_header`]: the `Cookie` parser returns only trimmed, non-empty names without `;`
//!   or `=`, and values without `;`; a cookie set the verifier accepts never opens a URL outside its
//!   Resource ([`assert_inside`]).
//! - [`check_signed_url`]: the same for a signed URL, against the URL without its signing
//!   parameters; a canned URL's Resource is exactly that URL.
//! - [`check_policy`]: any policy document, signed with the fixture key, either verifies with
//!   the Resource and expiry the document states, inside which the URL lies, or is refused for a
//!   reason other than its signature; and the decoder reads back what the encoder writes.
//!
//! The inputs are text: the first line is the request URL and the rest the header or policy, so
//! the corpora stay readable. The fixture key is a test key from `testdata/` that nothing trusts.

use std::sync::OnceLock;

use crate::signer::URL_PARAMS;
use crate::{
    Grant, HashAlgorithm, Policy, SigningKey, Verifier, VerifyError, cf_base64, parse_cookie_header,
};

/// The time every check verifies at (2027-01-15), so that committed inputs keep their meaning.
pub const NOW: i64 = 1_800_000_000;

/// The key pair id the fixture key is trusted under.
pub const KEY_PAIR_ID: &str = "KFUZZFIXTURE1";

const KEY_PEM: &str = include_str!("../testdata/ec_p256_pkcs8.pem");

/// The fixture signing key (ECDSA P-256, from `testdata/`) and a verifier that trusts it.
pub fn fixture() -> &'static (SigningKey, Verifier) {
    static FIXTURE: OnceLock<(SigningKey, Verifier)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = match SigningKey::from_pem(KEY_PEM) {
            Ok(key) => key,
            Err(e) => panic!("the fixture key does not load: {e}"),
        };
        let verifying = match key.verifying_key() {
            Ok(v) => v,
            Err(e) => panic!("the fixture key has no public half: {e}"),
        };
        let verifier = Verifier::new().with_key(KEY_PAIR_ID, verifying);
        (key, verifier)
    })
}

/// The first line and the rest, when the input is UTF-8 and has a newline.
fn url_and_rest(data: &[u8]) -> Option<(&str, &str)> {
    std::str::from_utf8(data).ok()?.split_once('\n')
}

/// `Cookie` header parsing and cookie verification. Input: the request URL, a newline, the header.
pub fn check_cookie_header(data: &[u8]) {
    let Some((url, header)) = url_and_rest(data) else {
        return;
    };
    let pairs = parse_cookie_header(header);
    assert!(pairs.len() <= header.matches(';').count() + 1);
    for (name, value) in &pairs {
        assert!(!name.is_empty(), "an empty cookie name from {header:?}");
        assert_eq!(name.trim(), *name, "an untrimmed cookie name");
        assert!(
            !name.contains([';', '=']),
            "a name holding ; or =: {name:?}"
        );
        assert!(!value.contains(';'), "a value holding ;: {value:?}");
    }
    if let Ok(grant) = fixture().1.verify_cookies(&pairs, url, None, NOW) {
        assert_grant(&grant, url);
    }
}

/// Signed-URL query parsing and verification. Input: the signed URL.
pub fn check_signed_url(data: &[u8]) {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(grant) = fixture().1.verify_url(url, None, NOW) else {
        return;
    };
    // What CloudFront matches: the URL without the parameters it reads, written independently of
    // the verifier's own split.
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !URL_PARAMS.contains(&p.split('=').next().unwrap_or(p)))
        .collect();
    let request_url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let canned = !query.split('&').any(|p| p.starts_with("Policy="));
    if canned {
        assert_eq!(grant.resource, request_url, "a canned URL for another URL");
    }
    assert_grant(&grant, &request_url);
}

/// The policy decoder and verifier. Input: the request URL, a newline, a policy document (any
/// bytes), which the check signs with the fixture key and presents as cookies.
pub fn check_policy(data: &[u8]) {
    let Some((url, json)) = url_and_rest(data) else {
        return;
    };
    let (key, verifier) = fixture();
    let Ok(signature) = key.sign(json.as_bytes(), HashAlgorithm::Sha256) else {
        panic!("the fixture key cannot sign");
    };
    let policy = cf_base64::encode(json.as_bytes());
    let signature = cf_base64::encode(&signature);
    let cookies = [
        ("CloudFront-Policy", policy.as_str()),
        ("CloudFront-Signature", signature.as_str()),
        ("CloudFront-Key-Pair-Id", KEY_PAIR_ID),
        ("CloudFront-Hash-Algorithm", "SHA256"),
    ];
    let decoded = Policy::from_json(json);
    if let Ok(policy) = &decoded {
        let again = Policy::from_json(&policy.to_json());
        assert_eq!(
            again.as_ref(),
            Ok(policy),
            "the encoder writes what the decoder misreads"
        );
    }
    match verifier.verify_cookies(&cookies, url, None, NOW) {
        Ok(grant) => {
            let Ok(policy) = decoded else {
                panic!("a policy the decoder refuses was granted");
            };
            // The document's own fields, read without the decoder.
            let doc: serde_json::Value = match serde_json::from_str(json) {
                Ok(doc) => doc,
                Err(e) => panic!("granted a policy that is not JSON: {e}"),
            };
            let statement = &doc["Statement"][0];
            assert_eq!(
                statement["Resource"].as_str(),
                Some(grant.resource.as_str())
            );
            assert_eq!(
                statement["Condition"]["DateLessThan"]["AWS:EpochTime"].as_i64(),
                Some(grant.expires_at)
            );
            assert_eq!(policy.resource(), grant.resource);
            assert_grant(&grant, url);
        }
        Err(VerifyError::BadSignature) => panic!("a correctly signed policy has a bad signature"),
        Err(VerifyError::WrongResource) => {
            assert!(decoded.is_ok_and(|p| !p.covers(url)));
        }
        Err(_) => {}
    }
}

/// What every grant must satisfy: the fixture key, a window that holds at [`NOW`], and a URL
/// inside the Resource.
fn assert_grant(grant: &Grant, url: &str) {
    assert_eq!(grant.key_pair_id, KEY_PAIR_ID);
    assert!(grant.expires_at > NOW, "an expired grant");
    assert!(
        grant.starts_at.is_none_or(|s| s <= NOW),
        "a grant not yet valid"
    );
    assert!(
        grant.ip.is_none(),
        "a grant with an IP condition and no client IP"
    );
    // A canned policy's Resource is the request URL itself, whatever its sections would say.
    if grant.resource != url {
        assert_inside(&grant.resource, url);
    }
}

/// A Resource or URL cut into CloudFront's sections: protocol, domain, path, query.
struct Cut<'a> {
    protocol: Option<&'a str>,
    domain: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

fn path_and_query(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

/// The sections of a Resource, as the CloudFront Developer Guide defines them (see
/// [`crate::resource_matches`]); `None` for a Resource that is not a URL.
fn cut_resource(resource: &str) -> Option<Cut<'_>> {
    if resource.starts_with('/') {
        let (path, query) = path_and_query(resource);
        return Some(Cut {
            protocol: None,
            domain: "",
            path,
            query,
        });
    }
    let (protocol, rest) = match resource.find("://") {
        Some(i) if !resource[..i].contains('/') => (&resource[..i], &resource[i + 3..]),
        _ if resource.starts_with('*') => ("*", resource),
        _ => return None,
    };
    Some(match rest.find('/') {
        Some(i) => {
            let (path, query) = path_and_query(&rest[i..]);
            Cut {
                protocol: Some(protocol),
                domain: &rest[..i],
                path,
                query,
            }
        }
        None if rest.ends_with('*') => Cut {
            protocol: Some(protocol),
            domain: rest,
            path: "/*",
            query: Some("*"),
        },
        None => Cut {
            protocol: Some(protocol),
            domain: rest,
            path: "/",
            query: None,
        },
    })
}

/// The sections of a request URL: the host ends at the first `/` or `?`, an empty path is `/`.
fn cut_url(url: &str) -> Option<Cut<'_>> {
    if url.starts_with('/') {
        let (path, query) = path_and_query(url);
        return Some(Cut {
            protocol: None,
            domain: "",
            path,
            query,
        });
    }
    let (protocol, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (path, query) = path_and_query(&rest[end..]);
    Some(Cut {
        protocol: Some(protocol),
        domain: &rest[..end],
        path: if path.is_empty() { "/" } else { path },
        query,
    })
}

/// A necessary condition for `text` to match the glob `pattern` (`*` any run, `?` one
/// character), checked without a matcher: the literal text before the first wildcard starts it,
/// the literal text after the last one ends it, it is long enough, and without `*` it has exactly
/// the pattern's length; without any wildcard it is the pattern.
fn literal_bounds_hold(pattern: &str, text: &str) -> bool {
    let wild = |c: char| c == '*' || c == '?';
    let (Some(first), Some(last)) = (pattern.find(wild), pattern.rfind(wild)) else {
        return pattern == text;
    };
    let fixed = pattern.chars().filter(|c| *c != '*').count();
    let len = text.chars().count();
    text.starts_with(&pattern[..first])
        && text.ends_with(&pattern[last + 1..])
        && len >= fixed
        && (pattern.contains('*') || len == fixed)
}

/// Panics unless `url` lies inside `resource`, section by section: a wildcard never lets a URL
/// out of the protocol, host, path or query that the Resource's literal text fixes.
pub fn assert_inside(resource: &str, url: &str) {
    if resource == "*" {
        return;
    }
    let Some(r) = cut_resource(resource) else {
        panic!("granted under a Resource that is not a URL: {resource:?}");
    };
    let Some(u) = cut_url(url) else {
        panic!("granted {resource:?} for something that is not a URL: {url:?}");
    };
    let outside = |section: &str| panic!("{url:?} is outside {resource:?} in its {section}");
    match (r.protocol, u.protocol) {
        (None, None) => {}
        (Some(rp), Some(up)) if literal_bounds_hold(rp, up) => {}
        _ => outside("protocol"),
    }
    if !literal_bounds_hold(r.domain, u.domain) {
        outside("host");
    }
    if !literal_bounds_hold(r.path, u.path) {
        outside("path");
    }
    match r.query {
        Some(q) if !literal_bounds_hold(q, u.query.unwrap_or("")) => outside("query"),
        None if !r.path.ends_with('*') && u.query.is_some() => outside("query"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_bounds_are_necessary_for_a_glob_match() {
        assert!(literal_bounds_hold("/users/a/*", "/users/a/x.png"));
        assert!(!literal_bounds_hold("/users/a/*", "/users/b/x.png"));
        assert!(literal_bounds_hold("*.example.com", "cdn.example.com"));
        assert!(!literal_bounds_hold("*.example.com", "example.com.evil"));
        assert!(!literal_bounds_hold("ab*ba", "aba"));
        assert!(literal_bounds_hold("a?c", "abc"));
        assert!(!literal_bounds_hold("a?c", "abbc"));
        assert!(!literal_bounds_hold("abc", "abcd"));
    }

    #[test]
    fn assert_inside_accepts_the_documented_matches() {
        assert_inside(
            "https://d.example/users/a/*",
            "https://d.example/users/a/x?y=1",
        );
        assert_inside("http://example.com*", "http://example.com.cdn.test/x");
        assert_inside("*example.com", "https://www.example.com/");
        assert_inside("/users/a/*", "/users/a/b");
    }

    #[test]
    #[should_panic(expected = "in its host")]
    fn assert_inside_refuses_another_host() {
        assert_inside(
            "https://*.example.com/*",
            "https://evil.test/x.example.com/",
        );
    }

    #[test]
    #[should_panic(expected = "in its query")]
    fn assert_inside_refuses_a_query_on_an_exact_object() {
        assert_inside("https://d.example/a.png", "https://d.example/a.png?x=1");
    }

    #[test]
    fn a_signed_policy_round_trips_through_the_check() {
        let policy = Policy::new("https://d.example/users/a/*", NOW + 60)
            .unwrap()
            .to_json();
        check_policy(format!("https://d.example/users/a/b.png\n{policy}").as_bytes());
        check_policy(format!("https://d.example/users/b/b.png\n{policy}").as_bytes());
    }
}
