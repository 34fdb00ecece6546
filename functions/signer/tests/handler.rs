//! The handler, driven by API Gateway HTTP API (payload 2.0) events from testdata/, parsed with
//! `lambda_http::request::from_str` exactly as the Lambda runtime parses them.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use keyhole_core::{VerifyError, cf_base64};
use keyhole_signer::{AppState, KEY_RETRY_SECONDS, StaticKeySource, handle};
use serde_json::{Value, json};

async fn post(state: &AppState, token: &str) -> lambda_http::Response<lambda_http::Body> {
    handle(state, event("post-session-bearer", &[("TOKEN", token)]))
        .await
        .unwrap()
}

#[tokio::test]
async fn bearer_token_gets_a_cookie_set_for_its_scope_and_a_marker() {
    let state = state(&[]).await;
    let before = now();
    let resp = post(&state, &token()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type").unwrap(), "application/json");
    assert_eq!(header(&resp, "cache-control").unwrap(), "no-store");
    let body = body_json(&resp);
    assert_eq!(body["scopes"], json!([format!("/users/{SUB}/*")]));
    let expires = body["expiresAt"].as_i64().unwrap();
    assert!((before + 3600..=now() + 3600).contains(&expires));

    let cookies = set_cookies(&resp);
    let names: Vec<String> = cookie_triples(&resp)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "CloudFront-Policy",
            "CloudFront-Signature",
            "CloudFront-Key-Pair-Id",
            "CloudFront-Hash-Algorithm",
            "Keyhole-Session"
        ]
    );
    for c in &cookies[..4] {
        assert_eq!(attr(c, "path").unwrap(), format!("/users/{SUB}/"), "{c}");
        assert_eq!(attr(c, "max-age").unwrap(), "3600");
        assert_eq!(attr(c, "samesite").unwrap(), "Lax");
        assert!(has_flag(c, "Secure") && has_flag(c, "HttpOnly"), "{c}");
        assert!(attr(c, "domain").is_none());
    }
    assert!(cookies[3].starts_with("CloudFront-Hash-Algorithm=SHA256;"));
    assert!(cookies[2].starts_with(&format!("CloudFront-Key-Pair-Id={KEY_PAIR_ID};")));
    assert_eq!(attr(&cookies[4], "path").unwrap(), "/session");

    // The policy is what the HTTP contract (docs/architecture.md) says: Resource = ASSET_BASE_URL + scope, DateLessThan = now + TTL.
    let policy = cookie_triples(&resp)[0].1.clone();
    let policy: Value = serde_json::from_slice(&cf_base64::decode(&policy).unwrap()).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Resource"], format!("{BASE}/users/{SUB}/*"));
    assert_eq!(
        statement["Condition"]["DateLessThan"]["AWS:EpochTime"],
        expires
    );
}

#[tokio::test]
async fn cookie_domain_and_samesite_come_from_the_configuration() {
    let state = state(&[
        ("COOKIE_DOMAIN", "assets.example.com"),
        ("COOKIE_SAMESITE", "None"),
        ("SESSION_TTL_SECONDS", "900"),
    ])
    .await;
    let resp = post(&state, &token()).await;
    for c in set_cookies(&resp) {
        assert_eq!(attr(&c, "domain").unwrap(), "assets.example.com");
        assert_eq!(attr(&c, "samesite").unwrap(), "None");
        assert_eq!(attr(&c, "max-age").unwrap(), "900");
        assert!(has_flag(&c, "Secure"));
    }
}

/// Every issued cookie set, as a browser would send it, passes the core verifier (CloudFront's
/// check) for URLs inside its scope and fails for every URL outside it; for both key types.
#[tokio::test]
async fn every_cookie_set_verifies_inside_its_scope_and_fails_outside() {
    for pem in ["cloudfront-rsa.pem", "cloudfront-ecdsa.pem"] {
        let state = state_with(
            pem,
            &[(
                "SESSION_SCOPES",
                "/users/{sub}/*,/groups/{group}/*,/public/logo.png",
            )],
            FakeClock::at_now(),
        )
        .await;
        let resp = post(&state, &mint(json!({"groups": ["team-a", "admins"]}))).await;
        assert_eq!(resp.status(), 200, "{pem}");
        let verifier = cloudfront_verifier(pem);
        let t = now();
        let inside = [
            format!("/users/{SUB}/cat.png"),
            format!("/users/{SUB}/albums/2026/a%20b.jpg"),
            "/groups/team-a/plan.pdf".to_owned(),
            "/groups/admins/x".to_owned(),
            "/public/logo.png".to_owned(),
        ];
        for path in &inside {
            let sent = browser_cookies_for(&resp, path);
            let grant = verifier
                .verify_cookies(&parse(&sent), &format!("{BASE}{path}"), None, t)
                .unwrap_or_else(|e| panic!("{pem} {path}: {e}"));
            assert_eq!(grant.key_pair_id, KEY_PAIR_ID);
            // Expired after the TTL.
            assert_eq!(
                verifier.verify_cookies(&parse(&sent), &format!("{BASE}{path}"), None, t + 3601),
                Err(VerifyError::Expired)
            );
        }
        // Outside every scope: the browser sends no set at all for most of these; and even if a
        // set is replayed by hand, its policy does not cover the URL.
        let outside = [
            "/users/someone-else/cat.png".to_owned(),
            "/cat.png".to_owned(),
            format!("/users/{SUB}-sibling/cat.png"),
            "/groups/team-b/plan.pdf".to_owned(),
            "/public/other.png".to_owned(),
            format!("/users/{SUB}"),
        ];
        for set_path in &inside {
            let sent = browser_cookies_for(&resp, set_path);
            for path in &outside {
                assert_eq!(
                    verifier.verify_cookies(&parse(&sent), &format!("{BASE}{path}"), None, t),
                    Err(VerifyError::WrongResource),
                    "{pem}: set for {set_path} replayed on {path}"
                );
            }
            // Another host is outside too.
            let other = format!("https://evil.example.net{set_path}");
            assert!(
                verifier
                    .verify_cookies(&parse(&sent), &other, None, t)
                    .is_err()
            );
        }
        for path in &outside[..3] {
            assert_eq!(browser_cookies_for(&resp, path), "", "{path}");
        }
    }
}

#[tokio::test]
async fn token_in_a_json_body_gets_cookies() {
    let state = state(&[]).await;
    let resp = handle(&state, event("post-session-body", &[("TOKEN", &token())]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(set_cookies(&resp).len(), 5);
}

#[tokio::test]
async fn token_cookie_gets_cookies() {
    let state = state(&[]).await;
    let resp = handle(&state, event("post-session-cookie", &[("TOKEN", &token())]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["scopes"][0], format!("/users/{SUB}/*"));
}

#[tokio::test]
async fn named_stage_prefix_is_routed_to_session() {
    let state = state(&[]).await;
    let resp = handle(
        &state,
        event("post-session-named-stage", &[("TOKEN", &token())]),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn assert_invalid_token(state: &AppState, req: lambda_http::Request, want: &str) {
    let resp = handle(state, req).await.unwrap();
    assert_eq!(resp.status(), 401, "{want}");
    let body = body_json(&resp);
    assert_eq!(body["error"], "invalid_token");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(want), "{description:?} lacks {want:?}");
    let www = header(&resp, "www-authenticate").unwrap();
    assert!(
        www.starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{www}"
    );
    assert!(set_cookies(&resp).is_empty());
}

#[tokio::test]
async fn bad_or_missing_tokens_are_401_with_a_reason() {
    let state = state(&[]).await;
    let expired = mint(json!({"exp": now() - 3600, "iat": now() - 7200}));
    let wrong_audience = mint(json!({"aud": "another-app"}));
    let wrong_issuer = mint(json!({"iss": "https://evil.example"}));
    let cases = [
        (expired.as_str(), "expired"),
        (wrong_audience.as_str(), "audience"),
        (wrong_issuer.as_str(), "issuer"),
        ("not.a.jwt", "malformed"),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "algorithm"),
    ];
    for (token, want) in cases {
        assert_invalid_token(
            &state,
            event("post-session-bearer", &[("TOKEN", token)]),
            want,
        )
        .await;
    }
    // Tampered signature.
    // A character in the middle of the signature: the last one may only carry padding bits.
    let mut tampered = token().into_bytes();
    let i = tampered.len() - 20;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let resp = post(&state, &tampered).await;
    assert_eq!(resp.status(), 401);

    // No token anywhere.
    let none = event_edited("post-session-bearer", &[], |e| {
        e["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
    });
    assert_invalid_token(&state, none, "no token").await;
    // Not a Bearer scheme.
    let basic = event_edited("post-session-bearer", &[], |e| {
        e["headers"]["authorization"] = json!("Basic dXNlcjpwYXNz");
    });
    assert_invalid_token(&state, basic, "Bearer").await;
    // Oversized token: refused before parsing.
    let huge = format!("{}.{}.{}", "a".repeat(10_000), "b".repeat(10_000), "c");
    assert_invalid_token(
        &state,
        event("post-session-bearer", &[("TOKEN", &huge)]),
        "too large",
    )
    .await;
}

#[tokio::test]
async fn malformed_body_is_400() {
    let state = state(&[]).await;
    let resp = handle(&state, event("post-session-base64-body", &[]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(body_json(&resp)["error"], "invalid_request");
    for body in ["[1,2]", "{\"token\": 5}", "{", "\"jwt\""] {
        let req = event_edited("post-session-body", &[], |e| e["body"] = json!(body));
        let resp = handle(&state, req).await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
    }
}

#[tokio::test]
async fn oversized_body_is_413() {
    let state = state(&[]).await;
    let body = format!("{{\"token\": \"{}\"}}", "a".repeat(40_000));
    let req = event_edited("post-session-body", &[], |e| e["body"] = json!(body));
    let resp = handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(body_json(&resp)["error"], "invalid_request");
}

#[tokio::test]
async fn other_methods_are_405_and_other_paths_404() {
    let state = state(&[]).await;
    let resp = handle(&state, event("put-session", &[("TOKEN", &token())]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(
        header(&resp, "allow").unwrap(),
        "GET, POST, DELETE, OPTIONS"
    );
    let post_bridge = event_edited("bridge", &[], |e| {
        e["requestContext"]["http"]["method"] = json!("POST");
    });
    let resp = handle(&state, post_bridge).await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(header(&resp, "allow").unwrap(), "GET");
    let elsewhere = event_edited("post-session-bearer", &[("TOKEN", &token())], |e| {
        e["rawPath"] = json!("/users/x/cat.png");
    });
    let resp = handle(&state, elsewhere).await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn claim_that_would_widen_the_scope_gets_403_and_no_cookie() {
    let state = state(&[]).await;
    for sub in ["../../", "*", "a/b", "x?y", "%2e%2e", "a\u{0}b"] {
        let resp = post(&state, &mint(json!({"sub": sub}))).await;
        assert_eq!(resp.status(), 403, "{sub:?}");
        assert_eq!(body_json(&resp)["error"], "access_denied");
        assert!(set_cookies(&resp).is_empty());
    }
}

#[tokio::test]
async fn group_scopes_drop_unsafe_groups_and_keep_the_rest() {
    let state = state(&[("SESSION_SCOPES", "/groups/{group}/*")]).await;
    let resp = post(
        &state,
        &mint(json!({"cognito:groups": ["ok", "../etc", "*"]})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["scopes"], json!(["/groups/ok/*"]));
}

#[tokio::test]
async fn allowed_origin_gets_a_credentialed_cors_grant() {
    let state = state(&[]).await;
    let resp = post(&state, &token()).await;
    assert_eq!(
        header(&resp, "access-control-allow-origin").unwrap(),
        ORIGIN
    );
    assert_eq!(
        header(&resp, "access-control-allow-credentials").unwrap(),
        "true"
    );
    assert_eq!(header(&resp, "vary").unwrap(), "Origin");

    let resp = handle(&state, event("preflight", &[])).await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        header(&resp, "access-control-allow-origin").unwrap(),
        ORIGIN
    );
    assert_eq!(
        header(&resp, "access-control-allow-credentials").unwrap(),
        "true"
    );
    assert!(
        header(&resp, "access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(
        header(&resp, "access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_grant() {
    let state = state(&[]).await;
    for origin in [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "null",
    ] {
        let req = event_edited("preflight", &[], |e| e["headers"]["origin"] = json!(origin));
        let resp = handle(&state, req).await.unwrap();
        assert_eq!(resp.status(), 204);
        assert!(
            header(&resp, "access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(header(&resp, "access-control-allow-credentials").is_none());
        assert!(header(&resp, "access-control-allow-methods").is_none());
        let req = event_edited("post-session-bearer", &[("TOKEN", &token())], |e| {
            e["headers"]["origin"] = json!(origin)
        });
        let resp = handle(&state, req).await.unwrap();
        // A state-changing call from such an origin is refused outright (login CSRF), with no
        // grant either.
        assert_eq!(resp.status(), 403, "{origin}");
        assert!(
            header(&resp, "access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
}

/// A POST (with a valid token) or a DELETE without the fixture's `Origin`, edited by `edit`.
fn call(method: &str, edit: impl FnOnce(&mut Value)) -> lambda_http::Request {
    let edit = |e: &mut Value| {
        e["headers"].as_object_mut().unwrap().remove("origin");
        edit(e);
    };
    match method {
        "POST" => event_edited("post-session-bearer", &[("TOKEN", &token())], edit),
        _ => event_edited("delete-session", &[], edit),
    }
}

/// The cross-site rule for POST and DELETE: only the site's own origin, an ALLOWED_ORIGINS entry,
/// or no Origin at all (curl, apps) gets through.
#[tokio::test]
async fn state_changing_calls_from_other_sites_are_refused() {
    let state = state(&[]).await;
    for method in ["POST", "DELETE"] {
        for origin in [
            "https://evil.example",
            "null",
            "https://app.example.com.evil.example",
        ] {
            let req = call(method, |e| e["headers"]["origin"] = json!(origin));
            let resp = handle(&state, req).await.unwrap();
            assert_eq!(resp.status(), 403, "{method} from {origin}");
            assert_eq!(body_json(&resp)["error"], "access_denied");
            assert!(
                set_cookies(&resp).is_empty(),
                "{method} from {origin} set cookies"
            );
        }
        for origin in [ORIGIN, BASE] {
            let req = call(method, |e| e["headers"]["origin"] = json!(origin));
            let resp = handle(&state, req).await.unwrap();
            assert!(
                resp.status().is_success(),
                "{method} from {origin}: {}",
                resp.status()
            );
        }
        let resp = handle(&state, call(method, |_| {})).await.unwrap();
        assert!(resp.status().is_success(), "{method} without an Origin");
        let req = call(method, |e| {
            e["headers"]["sec-fetch-site"] = json!("cross-site")
        });
        let resp = handle(&state, req).await.unwrap();
        assert_eq!(
            resp.status(),
            403,
            "{method} marked cross-site without an Origin"
        );
        let req = call(method, |e| {
            e["headers"]["origin"] = json!(ORIGIN);
            e["headers"]["sec-fetch-site"] = json!("cross-site");
        });
        let resp = handle(&state, req).await.unwrap();
        assert!(
            resp.status().is_success(),
            "{method} cross-site from a listed origin"
        );
    }
}

/// The classic login-CSRF form: `<form enctype="text/plain">` whose body reads as JSON.
#[tokio::test]
async fn a_text_plain_form_carrying_a_json_token_is_never_read() {
    let state = state(&[]).await;
    let body = format!(r#"{{"token":"{}","x":"="}}"#, token());
    let req = event_edited("post-session-body", &[("TOKEN", &token())], |e| {
        e["headers"]["content-type"] = json!("text/plain");
        e["body"] = json!(body);
    });
    let resp = handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(body_json(&resp)["error"], "invalid_request");
    assert!(set_cookies(&resp).is_empty());
}

/// After DELETE, a browser holding what an earlier POST set holds nothing: each cookie is
/// replaced by an expired one with the same name, Path and Domain.
#[tokio::test]
async fn delete_clears_every_cookie_set_an_earlier_post_set() {
    let scopes = "/users/{sub}/*,/groups/{group}/*,/public/*";
    let state = state(&[("SESSION_SCOPES", scopes), ("COOKIE_DOMAIN", "example.com")]).await;
    let issued = post(&state, &mint(json!({"groups": ["team-a", "team-b"]}))).await;
    assert_eq!(issued.status(), 200);
    let marker = marker_value(&issued);

    // The browser sends only the marker to /session (the other cookies are path-scoped), and no
    // token: sign-out must still clear everything.
    let resp = handle(&state, event("delete-session", &[("MARKER", &marker)]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let cleared = set_cookies(&resp);
    for (name, _, path) in cookie_triples(&issued) {
        let found = cleared.iter().any(|c| {
            c.starts_with(&format!("{name}=;"))
                && attr(c, "path").as_deref() == Some(path.as_str())
                && attr(c, "domain").as_deref() == Some("example.com")
                && attr(c, "max-age").as_deref() == Some("0")
        });
        assert!(found, "{name} at {path} is not cleared: {cleared:#?}");
    }
}

#[tokio::test]
async fn delete_without_a_marker_clears_literal_scopes_and_the_tokens_scopes() {
    let state = state(&[("SESSION_SCOPES", "/users/{sub}/*,/public/*")]).await;
    let req = event_edited("delete-session", &[], |e| {
        e.as_object_mut().unwrap().remove("cookies");
        e["headers"]["authorization"] = json!(format!("Bearer {}", token()));
    });
    let resp = handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 204);
    let paths: Vec<String> = cookie_triples(&resp)
        .into_iter()
        .map(|(_, _, p)| p)
        .collect();
    assert!(paths.contains(&"/public/".to_owned()));
    assert!(paths.contains(&format!("/users/{SUB}/")));
    assert!(paths.contains(&"/session".to_owned()));

    // With neither marker nor token, literal scopes and the marker are still cleared.
    let req = event_edited("delete-session", &[], |e| {
        e.as_object_mut().unwrap().remove("cookies");
    });
    let resp = handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 204);
    let paths: Vec<String> = cookie_triples(&resp)
        .into_iter()
        .map(|(_, _, p)| p)
        .collect();
    assert!(paths.contains(&"/public/".to_owned()));
}

#[tokio::test]
async fn delete_ignores_a_marker_with_an_injected_path() {
    let state = state(&[]).await;
    let forged = format!(
        "{}.AAAA",
        cf_base64::encode(br#"{"v":1,"exp":1,"scopes":["/x; Domain=evil.example"]}"#)
    );
    let resp = handle(&state, event("delete-session", &[("MARKER", &forged)]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(!set_cookies(&resp).iter().any(|c| c.contains("evil")));
}

#[tokio::test]
async fn a_new_session_clears_paths_the_previous_one_had() {
    let state = state(&[("SESSION_SCOPES", "/groups/{group}/*")]).await;
    let first = post(&state, &mint(json!({"groups": ["old", "kept"]}))).await;
    let marker = marker_value(&first);
    let req = event_edited(
        "post-session-bearer",
        &[("TOKEN", &mint(json!({"groups": ["kept"]})))],
        |e| e["cookies"] = json!([format!("Keyhole-Session={marker}")]),
    );
    let second = handle(&state, req).await.unwrap();
    assert_eq!(body_json(&second)["scopes"], json!(["/groups/kept/*"]));
    let triples = cookie_triples(&second);
    assert!(
        triples
            .iter()
            .any(|(n, v, p)| n == "CloudFront-Policy" && v.is_empty() && p == "/groups/old/")
    );
    assert!(
        triples
            .iter()
            .any(|(n, v, p)| n == "CloudFront-Policy" && !v.is_empty() && p == "/groups/kept/")
    );
}

#[tokio::test]
async fn get_session_reports_an_active_session_until_it_expires() {
    let clock = FakeClock::at_now();
    let state = state_with("cloudfront-ecdsa.pem", &[], clock.clone()).await;
    let issued = post(&state, &token()).await;
    let expires = body_json(&issued)["expiresAt"].as_i64().unwrap();
    let marker = marker_value(&issued);

    let resp = handle(&state, event("get-session", &[("MARKER", &marker)]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = body_json(&resp);
    assert_eq!(body["active"], true);
    assert_eq!(body["expiresAt"], expires);
    assert_eq!(body["scopes"], json!([format!("/users/{SUB}/*")]));

    clock.advance(3600);
    let resp = handle(&state, event("get-session", &[("MARKER", &marker)]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(body_json(&resp)["active"], false);
}

#[tokio::test]
async fn get_session_without_a_valid_marker_is_401() {
    let state = state(&[]).await;
    let none = event_edited("get-session", &[], |e| {
        e.as_object_mut().unwrap().remove("cookies");
    });
    let resp = handle(&state, none).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(body_json(&resp)["error"], "no_session");
    assert_eq!(header(&resp, "www-authenticate").unwrap(), "Bearer");

    // A marker minted with another signing key (or forged) is not a session here.
    let other = state_with("cloudfront-ecdsa.pem", &[], FakeClock::at_now()).await;
    let foreign = marker_value(&post(&other, &token()).await);
    for value in [foreign.as_str(), "garbage", "e30.AAAA"] {
        let resp = handle(&state, event("get-session", &[("MARKER", value)]))
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{value}");
    }
}

#[tokio::test]
async fn bridge_sets_cookies_and_redirects_to_the_same_host_path() {
    let state = state(&[]).await;
    let resp = handle(
        &state,
        event("bridge", &[("TOKEN", &token()), ("SUB", SUB)]),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        header(&resp, "location").unwrap(),
        format!("/users/{SUB}/cat.png")
    );
    let sent = browser_cookies_for(&resp, &format!("/users/{SUB}/cat.png"));
    cloudfront_verifier("cloudfront-rsa.pem")
        .verify_cookies(
            &parse(&sent),
            &format!("{BASE}/users/{SUB}/cat.png"),
            None,
            now(),
        )
        .unwrap();
}

#[tokio::test]
async fn bridge_refuses_a_return_path_outside_the_users_scopes_instead_of_looping() {
    let state = state(&[]).await;
    for query in ["return=/users/someone-else/cat.png", "return=/", ""] {
        let req = event_edited("bridge", &[("TOKEN", &token()), ("SUB", SUB)], |e| {
            e["rawQueryString"] = json!(query)
        });
        let resp = handle(&state, req).await.unwrap();
        assert_eq!(resp.status(), 403, "{query}");
        assert!(header(&resp, "location").is_none(), "{query}");
        assert!(set_cookies(&resp).is_empty(), "{query}");
        let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(body["error"], "access_denied", "{query}");
    }
    let inside = event_edited("bridge", &[("TOKEN", &token()), ("SUB", SUB)], |e| {
        e["rawQueryString"] = json!(format!("return=/users/{SUB}/a/b.png?size=2"))
    });
    let resp = handle(&state, inside).await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        header(&resp, "location").unwrap(),
        format!("/users/{SUB}/a/b.png?size=2")
    );
}

#[tokio::test]
async fn bridge_refuses_other_hosts_and_missing_tokens() {
    let state = state(&[]).await;
    for query in [
        "return=https%3A%2F%2Fevil.example%2F",
        "return=%2F%2Fevil.example",
        "return=/%5Cevil",
    ] {
        let req = event_edited("bridge", &[("TOKEN", &token())], |e| {
            e["rawQueryString"] = json!(query)
        });
        let resp = handle(&state, req).await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        assert!(header(&resp, "location").is_none());
        assert!(set_cookies(&resp).is_empty());
    }
    let req = event_edited("bridge", &[("SUB", SUB)], |e| {
        e.as_object_mut().unwrap().remove("cookies");
    });
    let resp = handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 401);
    let expired = mint(json!({"exp": now() - 3600, "iat": now() - 7200}));
    let resp = handle(
        &state,
        event("bridge", &[("TOKEN", &expired), ("SUB", SUB)]),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
}

/// The key fails to load: 503 with the error shape and no detail, the cause logged once; after
/// the retry interval it loads and sessions are issued.
#[tokio::test]
async fn unavailable_key_gives_503_logs_once_and_recovers() {
    let (logs, _guard) = capture_logs();
    let clock = FakeClock::at_now();
    let source = Arc::new(FlakyKeySource {
        failures: AtomicUsize::new(2),
        calls: AtomicUsize::new(0),
        material: material("cloudfront-rsa.pem"),
    });
    let state =
        AppState::with_clock(config(&[]), source.clone(), token_verifier(), clock.clone()).await;
    assert!(!state.key_loaded());

    for _ in 0..3 {
        let resp = post(&state, &token()).await;
        assert_eq!(resp.status(), 503);
        let body = body_json(&resp);
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(
            !body["error_description"]
                .as_str()
                .unwrap()
                .contains("GetSecretValue")
        );
        assert!(set_cookies(&resp).is_empty());
    }
    // One load at cold start; requests within the retry interval do not hammer the source.
    assert_eq!(source.calls.load(Ordering::SeqCst), 1);
    let causes = logs
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .count();
    assert_eq!(causes, 1, "{}", logs.text());
    assert!(
        logs.text()
            .contains("GetSecretValue failed: connection refused")
    );

    clock.advance(KEY_RETRY_SECONDS);
    assert_eq!(post(&state, &token()).await.status(), 503);
    // Same cause again: not logged again.
    let causes = logs
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .count();
    assert_eq!(causes, 1);

    clock.advance(KEY_RETRY_SECONDS);
    assert_eq!(post(&state, &token()).await.status(), 200);
    assert!(state.key_loaded());
    assert_eq!(source.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn unparseable_key_gives_503_and_a_log_line_naming_the_key_pair() {
    let (logs, _guard) = capture_logs();
    let bad = keyhole_signer::SigningMaterial {
        key_pair_id: KEY_PAIR_ID.into(),
        private_key_pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        session_marker_key: None,
    };
    let state = AppState::new(
        config(&[]),
        Arc::new(StaticKeySource(bad)),
        token_verifier(),
    )
    .await;
    let resp = post(&state, &token()).await;
    assert_eq!(resp.status(), 503);
    let text = logs.text();
    assert!(
        text.contains(KEY_PAIR_ID) && text.contains("signing key unavailable"),
        "{text}"
    );
    assert!(!text.contains("AAAA"), "{text}");
}

#[tokio::test]
async fn unreachable_issuer_key_set_is_503_not_401() {
    // No preloaded key set, and a JWKS URL on a loopback port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let jwks_url = format!("http://127.0.0.1:{port}/jwks.json");
    let vars = [
        ("OIDC_ISSUER", ISSUER.to_owned()),
        ("OIDC_AUDIENCE", AUDIENCE.to_owned()),
        ("JWKS_URL", jwks_url),
    ];
    let tokens = keyhole_token::TokenVerifier::from_config(
        keyhole_token::TokenConfig::from_vars(|n| {
            vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
        })
        .unwrap(),
    )
    .unwrap();
    let state = AppState::new(
        config(&[]),
        Arc::new(StaticKeySource(material("cloudfront-rsa.pem"))),
        tokens,
    )
    .await;
    let resp = post(&state, &token()).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(body_json(&resp)["error"], "temporarily_unavailable");
}

/// One JSON log line per request with the fields the issue asks for, and never a token, a
/// cookie value or key material.
#[tokio::test]
async fn request_log_is_structured_and_carries_no_secret() {
    let (logs, _guard) = capture_logs();
    let state = state(&[]).await;
    let token = token();
    let resp = post(&state, &token).await;
    let marker = marker_value(&resp);
    handle(&state, event("get-session", &[("MARKER", &marker)]))
        .await
        .unwrap();
    post(&state, "not.a.jwt").await;

    let text = logs.text();
    let signature = &token[token.rfind('.').unwrap() + 1..];
    assert!(!text.contains(signature), "token in the log");
    assert!(!text.contains(&marker), "marker in the log");
    for (_, value, _) in cookie_triples(&resp) {
        if value.len() > 8 && value != KEY_PAIR_ID {
            assert!(!text.contains(&value), "cookie value in the log");
        }
    }
    assert!(!text.contains("PRIVATE KEY"));

    let requests: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "session request")
        .collect();
    assert_eq!(requests.len(), 3, "{text}");
    let first = &requests[0];
    assert_eq!(first["apiRequestId"], "CxTvzhM8IAMEVhw=");
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["status"], 200);
    assert_eq!(first["outcome"], "issued");
    assert_eq!(first["method"], "POST");
    assert!(first["scopes"].as_str().unwrap().contains(SUB));
    assert!(first["durationMs"].as_f64().unwrap() >= 0.0);
    assert_eq!(first["coldStart"], true);
    assert_eq!(requests[1]["coldStart"], false);
    assert_eq!(requests[2]["outcome"], "invalid_token");
    assert_eq!(requests[2]["reason"], "malformed token");
    for line in &requests {
        assert!(
            line.as_object().unwrap().values().all(|v| !v.is_object()),
            "not flat: {line}"
        );
    }
}

#[tokio::test]
async fn static_key_state_reports_loaded() {
    let state = state(&[]).await;
    assert!(state.key_loaded());
    assert_eq!(state.config().asset_base_url, BASE);
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever the body, Authorization header, cookies and query hold, the handler answers
        /// with a response (never a panic, never an Err) and a status from the contract.
        #[test]
        fn any_request_gets_a_response(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            auth in "[ -~]{0,200}",
            cookie in "[ -~]{0,200}",
            query in "[ -~&=%]{0,100}",
            method in prop::sample::select(vec!["GET", "POST", "DELETE", "OPTIONS", "PATCH"]),
            path in prop::sample::select(vec!["/session", "/session/bridge", "/session/", "/x"]),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let status = rt.block_on(async {
                let state = state(&[]).await;
                let mut req = lambda_http::http::Request::builder()
                    .method(method)
                    .uri(format!("https://h.example{path}"));
                if let Ok(v) = lambda_http::http::HeaderValue::from_str(&auth) {
                    req = req.header("authorization", v);
                }
                if let Ok(v) = lambda_http::http::HeaderValue::from_str(&cookie) {
                    req = req.header("cookie", v);
                }
                let mut req = req.body(lambda_http::Body::Binary(body.clone())).unwrap();
                if let Ok(uri) = format!("https://h.example{path}?{query}").parse() {
                    *req.uri_mut() = uri;
                }
                handle(&state, req).await.unwrap().status().as_u16()
            });
            prop_assert!([200, 204, 302, 400, 401, 403, 404, 405, 413, 503].contains(&status), "{status}");
        }
    }
}
