//! Invariant checks behind the fuzz targets (`fuzz/`, cargo-fuzz) and behind the replay of their
//! committed corpora in `cargo test` (`tests/fuzz_corpus.rs`). Each `check_*` takes the raw bytes a
//! target receives and panics when an invariant breaks; refusing an input is never a failure.
//!
//! - [`check_scope`]: every scope a template expands to is that template with the user's own
//!   values put in, each value made only of `[A-Za-z0-9._-]` (never `.` or `..`), so a claim can add
//!   no `/`, wildcard, escape or dot segment: the scope has the template's depth and its literal
//!   text. Values that are safe are never dropped; the combined expansion has no two overlapping
//!   scopes and at most [`MAX_SCOPES`].
//! - [`check_bridge_return`]: a `return` path the bridge accepts, resolved by a WHATWG URL parser
//!   (what a browser does with `Location`) against the bridge's own URL, stays on its scheme, host
//!   and port, with no credentials, and is a valid header value.

use url::Url;

use crate::request::return_path;
use crate::scope::{MAX_SCOPES, ScopeClaims, ScopeTemplate, expand, path_matches, sub_hash};

/// The issuer the scope check expands for (part of `{sub_hash}`).
pub const ISSUER: &str = "https://issuer.example";

/// The bridge's own URL, against which its `Location` is resolved.
pub const BRIDGE_URL: &str = "https://keyhole.example/session/bridge";

/// A value a claim may put into a path, judged independently of the scope module.
fn is_safe(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && value != "."
        && !value.contains("..")
}

/// A template's text, cut into literal text and placeholder names.
fn pieces(template: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let close = rest.find('}').unwrap_or(rest.len() - 1);
                out.push((true, &rest[1..close]));
                rest = &rest[close + 1..];
            }
            Some(i) => {
                out.push((false, &rest[..i]));
                rest = &rest[i..];
            }
            None => {
                out.push((false, rest));
                rest = "";
            }
        }
    }
    out
}

/// The template with these values put in, and whether every value used is safe.
fn fill(template: &str, claims: &ScopeClaims<'_>, group: Option<&str>) -> (String, bool) {
    let hash = sub_hash(claims.issuer, claims.sub);
    let mut out = String::new();
    let mut safe = true;
    for (placeholder, text) in pieces(template) {
        if !placeholder {
            out.push_str(text);
            continue;
        }
        let value = match text {
            "sub" => Some(claims.sub),
            "username" => claims.username,
            "group" => group,
            "sub_hash" => Some(hash.as_str()),
            other => panic!("a template with {{{other}}} parsed"),
        };
        safe &= value.is_some_and(is_safe);
        out.push_str(value.unwrap_or_default());
    }
    (out, safe)
}

/// Scope templates and expansion. Input lines: the `SESSION_SCOPES` list, the `sub`, the user
/// name (absent when the input has fewer than three lines), then one group per line.
pub fn check_scope(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let list = lines.next().unwrap_or_default();
    let sub = lines.next().unwrap_or_default();
    let username = lines.next();
    let groups: Vec<String> = lines.map(str::to_owned).collect();
    let Ok(templates) = ScopeTemplate::parse_list(list) else {
        return;
    };
    let claims = ScopeClaims {
        sub,
        username,
        groups: &groups,
        issuer: ISSUER,
    };
    let uses_group = |t: &ScopeTemplate| t.as_str().contains("{group}");
    let mut possible = Vec::new();
    for template in &templates {
        let raw = template.as_str();
        let group_values: Vec<Option<&str>> = if uses_group(template) {
            groups.iter().map(|g| Some(g.as_str())).collect()
        } else {
            vec![None]
        };
        let expected: Vec<(String, bool)> = group_values
            .iter()
            .map(|g| fill(raw, &claims, *g))
            .collect();
        let got = expand(std::slice::from_ref(template), &claims);
        for scope in &got.scopes {
            let pattern = scope.pattern();
            assert!(
                expected.iter().any(|(e, safe)| e == pattern && *safe),
                "{raw} expanded to {pattern:?}, which is not the template with safe values"
            );
            assert_eq!(
                pattern.matches('/').count(),
                raw.matches('/').count(),
                "a claim changed the depth of {raw}: {pattern:?}"
            );
            let star = pattern.find('*');
            assert!(
                star.is_none_or(|i| i + 1 == pattern.len() && pattern.ends_with("/*")),
                "a wildcard other than a final /* in {pattern:?}"
            );
            assert!(
                !pattern.contains("//") && !pattern.contains("/./") && !pattern.contains("/../"),
                "an empty or dot segment in {pattern:?}"
            );
        }
        // Nothing safe is dropped, except what overlaps or exceeds the cap in `expand`.
        for (e, safe) in &expected {
            if *safe && got.scopes.len() < MAX_SCOPES {
                assert!(
                    got.scopes
                        .iter()
                        .any(|s| s.cookie_path() == e.trim_end_matches('*'))
                        || got.scopes.iter().any(|s| path_matches(s.cookie_path(), e)),
                    "{raw}: the safe expansion {e:?} was dropped"
                );
            }
        }
        possible.extend(got.scopes);
    }
    let all = expand(&templates, &claims);
    assert!(all.scopes.len() <= MAX_SCOPES);
    for (i, a) in all.scopes.iter().enumerate() {
        assert!(
            possible.contains(a),
            "{} came from no template",
            a.pattern()
        );
        for b in &all.scopes[i + 1..] {
            assert!(
                !path_matches(a.cookie_path(), b.cookie_path())
                    && !path_matches(b.cookie_path(), a.cookie_path()),
                "{} and {} overlap",
                a.pattern(),
                b.pattern()
            );
        }
    }
}

/// The bridge's `return` parameter. Input: the bridge request's query string.
pub fn check_bridge_return(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = return_path(query) else {
        return;
    };
    assert!(
        lambda_http::http::HeaderValue::from_str(&path).is_ok(),
        "{path:?} is not a valid Location value"
    );
    let Ok(base) = Url::parse(BRIDGE_URL) else {
        panic!("the bridge URL does not parse");
    };
    let target = match base.join(&path) {
        Ok(target) => target,
        Err(e) => panic!("a browser cannot follow Location {path:?}: {e}"),
    };
    assert_eq!(
        target.scheme(),
        base.scheme(),
        "{path:?} changes the scheme"
    );
    assert_eq!(
        target.host_str(),
        base.host_str(),
        "{path:?} leaves the host"
    );
    assert_eq!(target.port(), base.port(), "{path:?} changes the port");
    assert!(
        target.username().is_empty() && target.password().is_none(),
        "{path:?} adds credentials"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_with_safe_values_passes_the_scope_check() {
        check_scope(b"/users/{sub}/*,/groups/{group}/*,/public/*\nu-1\nalice\nstaff\nadmins");
    }

    #[test]
    fn the_template_pieces_are_literal_text_and_placeholder_names() {
        assert_eq!(
            pieces("/u/{sub}/x-{group}/*"),
            vec![
                (false, "/u/"),
                (true, "sub"),
                (false, "/x-"),
                (true, "group"),
                (false, "/*")
            ]
        );
    }

    #[test]
    fn a_same_host_return_path_passes_the_bridge_check() {
        check_bridge_return(b"return=%2Fusers%2Fabc%2F");
        check_bridge_return(b"return=/%2F/evil.example");
    }
}
