//! What the handler reads from a request: the route, the ids for the log, the body, cookies, the
//! bearer token and the bridge's `return` path. Nothing here decides an answer; malformed input
//! becomes a [`Failure`].

use keyhole_core::parse_cookie_header;
use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use crate::failure::Failure;

/// Largest request body accepted (a JSON `{"token": ...}` with a generous JWT).
pub const MAX_BODY_BYTES: usize = 32 * 1024;
/// Longest `return` path `GET /session/bridge` redirects to.
pub const MAX_RETURN_PATH: usize = 2048;
/// The seed's cookie carrying the bearer token.
pub const TOKEN_COOKIE: &str = "token";

#[derive(Deserialize)]
struct TokenBody {
    token: Option<String>,
}

/// API Gateway's id for the request (`apiRequestId` in the log line), when it came through
/// API Gateway.
pub(crate) fn api_request_id(req: &Request) -> Option<&str> {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        return ctx.request_id.as_deref();
    }
    None
}

/// The Lambda invocation's id (`requestId` in the log line, as Lambda names it), when the
/// request came through the Lambda runtime.
pub(crate) fn invocation_id(req: &Request) -> Option<&str> {
    req.lambda_context_ref().map(|c| c.request_id.as_str())
}

/// The path without an API Gateway stage prefix (lambda_http adds `/<stage>` for named stages).
pub(crate) fn route_path(req: &Request) -> &str {
    let path = req.uri().path();
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(stage) = ctx.stage.as_deref()
        && stage != "$default"
        && let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage))
        && rest.starts_with('/')
    {
        return rest;
    }
    path
}

pub(crate) fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        // Body is non-exhaustive upstream; nothing else carries bytes we could read.
        #[allow(unreachable_patterns)]
        _ => &[],
    }
}

/// The values of every cookie named `name`, from every `Cookie` header, in order.
pub(crate) fn cookies<'r>(req: &'r Request, name: &str) -> Vec<&'r str> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_cookie_header)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect()
}

/// The seed-style `token` cookie, when there is one.
pub(crate) fn token_cookie(req: &Request) -> Option<String> {
    cookies(req, TOKEN_COOKIE).first().map(|t| (*t).to_owned())
}

/// `Authorization: Bearer <token>`; `Ok(None)` without the header.
fn bearer_token(req: &Request) -> Result<Option<String>, Failure> {
    let mut auth = req.headers().get_all(AUTHORIZATION).iter();
    let value = match (auth.next(), auth.next()) {
        (None, _) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(Failure::InvalidRequest(
                "more than one Authorization header".to_owned(),
            ));
        }
        (Some(value), None) => value,
    };
    let value = value.to_str().map_err(|_| {
        Failure::InvalidRequest("Authorization header is not visible ASCII".to_owned())
    })?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Failure::InvalidToken(
            "Authorization must use the Bearer scheme".to_owned(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Failure::InvalidToken("empty Bearer token".to_owned()));
    }
    Ok(Some(token.to_owned()))
}

/// Whether the request says its body is JSON (`application/json`, any parameters).
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// `{"token": ...}`. A body, when there is one, must be a JSON object sent as
/// `application/json` even if the header carries the token: anything else is a client bug worth
/// reporting, and a form (`text/plain`, `x-www-form-urlencoded`) is what a cross-site page can
/// send without a preflight.
fn body_token(req: &Request) -> Result<Option<String>, Failure> {
    let body = body_bytes(req);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json(req) {
        return Err(Failure::NotJson);
    }
    serde_json::from_slice::<TokenBody>(body)
        .map(|b| b.token)
        .map_err(|_| {
            Failure::InvalidRequest(
                "the body must be a JSON object such as {\"token\": \"<jwt>\"}".to_owned(),
            )
        })
}

/// The token, looked for in order: `Authorization: Bearer`, a JSON body `{"token": ...}`, the
/// `token` cookie. `Ok(None)` when there is none anywhere.
pub(crate) fn token(req: &Request) -> Result<Option<String>, Failure> {
    let header = bearer_token(req)?;
    let body = body_token(req)?;
    Ok(header.or(body).or_else(|| token_cookie(req)))
}

/// Every `%` starts a two-digit hex escape (`percent_decode_str` would pass `%zz` through).
fn is_percent_encoded(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// The bridge's `return` parameter (form-encoded: `+` is a space): a path on this host. A leading
/// `//` or `/\` would be read by browsers as another host, and browsers drop tabs and newlines
/// before resolving, so only visible ASCII other than `\` is allowed. Absent, it is `/`.
pub(crate) fn return_path(query: &str) -> Result<String, Failure> {
    let bad = || {
        Failure::InvalidRequest(
            "return must be a path on this host, such as /users/abc/".to_owned(),
        )
    };
    let Some(raw) = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("return="))
    else {
        return Ok("/".to_owned());
    };
    if !is_percent_encoded(raw) {
        return Err(bad());
    }
    let form = raw.replace('+', " ");
    let path = percent_decode_str(&form)
        .decode_utf8()
        .map_err(|_| bad())?
        .into_owned();
    let ok = path.len() <= MAX_RETURN_PATH
        && path.starts_with('/')
        && !path.starts_with("//")
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok { Ok(path) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("/session")
            .header("content-type", "application/json");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let body = if body.is_empty() {
            Body::Empty
        } else {
            Body::Text(body.to_owned())
        };
        builder.body(body).unwrap()
    }

    #[test]
    fn return_path_accepts_same_host_paths_only() {
        assert_eq!(return_path("").unwrap(), "/");
        assert_eq!(
            return_path("return=%2Fusers%2Fabc%2Fcat.png").unwrap(),
            "/users/abc/cat.png"
        );
        assert_eq!(return_path("x=1&return=/a?b=c").unwrap(), "/a?b=c");
        for bad in [
            "return=https://evil.example/",
            "return=//evil.example/",
            "return=%2F%2Fevil.example",
            "return=/%5Cevil.example",
            "return=/\\evil.example",
            "return=/%09/evil.example",
            "return=/a%0d%0aSet-Cookie:x=1",
            "return=/%zz",
            "return=/%ff",
            "return=/a%2",
            "return=/a+b",
            "return=relative",
            "return=",
        ] {
            assert!(return_path(bad).is_err(), "{bad} was accepted");
        }
        assert!(return_path(&format!("return=/{}", "a".repeat(5000))).is_err());
    }

    #[test]
    fn the_bearer_header_wins_over_body_and_cookie() {
        let req = request(
            &[("authorization", "Bearer h.t.x"), ("cookie", "token=c.t.x")],
            r#"{"token":"b.t.x"}"#,
        );
        assert_eq!(token(&req).unwrap().as_deref(), Some("h.t.x"));
        let req = request(&[("cookie", "a=1; token=c.t.x")], r#"{"token":"b.t.x"}"#);
        assert_eq!(token(&req).unwrap().as_deref(), Some("b.t.x"));
        let req = request(&[("cookie", "a=1; token=c.t.x")], "");
        assert_eq!(token(&req).unwrap().as_deref(), Some("c.t.x"));
        assert_eq!(token(&request(&[], "  ")).unwrap(), None);
    }

    #[test]
    fn a_malformed_authorization_header_is_refused() {
        for (value, status) in [("Basic abc", 401), ("Bearer ", 401), ("Bearer", 401)] {
            let err = token(&request(&[("authorization", value)], "")).unwrap_err();
            assert_eq!(err.status().as_u16(), status, "{value}");
        }
        let twice = request(
            &[
                ("authorization", "Bearer a.b.c"),
                ("authorization", "Bearer d.e.f"),
            ],
            "",
        );
        assert_eq!(token(&twice).unwrap_err().status().as_u16(), 400);
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_refused_even_with_a_header() {
        let req = request(&[("authorization", "Bearer a.b.c")], "token=x");
        assert_eq!(token(&req).unwrap_err().status().as_u16(), 400);
    }

    #[test]
    fn a_token_in_a_body_is_read_only_from_application_json() {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let mut req = request(&[], r#"{"token":"b.t.x","x":"="}"#);
            req.headers_mut()
                .insert("content-type", content_type.parse().unwrap());
            assert_eq!(
                token(&req).unwrap_err().status().as_u16(),
                415,
                "{content_type}"
            );
        }
        let mut req = request(&[], r#"{"token":"b.t.x"}"#);
        req.headers_mut().insert(
            "content-type",
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(token(&req).unwrap().as_deref(), Some("b.t.x"));
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header_in_order() {
        let req = request(&[("cookie", "a=1; b=2"), ("cookie", "a=3")], "");
        assert_eq!(cookies(&req, "a"), ["1", "3"]);
        assert!(cookies(&req, "c").is_empty());
    }
}
