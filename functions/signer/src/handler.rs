//! The HTTP handler: `POST`, `DELETE` and `GET /session`, and `GET /session/bridge`.
//!
//! Expected failures (bad token, bad body, no scope) are responses; `Err` is returned only when a
//! response cannot be built at all, so Lambda error metrics mean something. Failures are mapped
//! to HTTP in one place, [`Failure::reply`].

use std::time::Instant;

use keyhole_core::{CookieAttributes, Policy, clearing_set_cookie_headers, parse_cookie_header};
use keyhole_token::{Claims, Rejection};
use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ALLOW, AUTHORIZATION, CACHE_CONTROL,
    CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION, ORIGIN, SET_COOKIE, VARY,
    WWW_AUTHENTICATE,
};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::marker::{MARKER_COOKIE, MARKER_PATH, Marker};
use crate::scope::{self, Scope, ScopeClaims};
use crate::state::LoadedKey;

/// Largest request body accepted (a JSON `{"token": ...}` with a generous JWT).
pub const MAX_BODY_BYTES: usize = 32 * 1024;
/// Longest `return` path `GET /session/bridge` redirects to.
pub const MAX_RETURN_PATH: usize = 2048;
/// The seed's cookie carrying the bearer token.
pub const TOKEN_COOKIE: &str = "token";

/// A failure the client is told about. Each maps to exactly one status and error code.
#[derive(Debug)]
enum Failure {
    /// Missing or refused token: 401.
    InvalidToken(String),
    /// Unreadable request (bad body, bad header, bad return path): 400.
    InvalidRequest(String),
    /// Body over [`MAX_BODY_BYTES`]: 413.
    BodyTooLarge,
    /// Method not served on this path: 405.
    MethodNotAllowed(&'static str),
    /// Not a /session path: 404.
    NotFound,
    /// The token is fine but no scope applies to this user: 403.
    NoScope,
    /// The bridge's return path lies outside every scope this user gets: 403. Redirecting there
    /// would bring the browser back through the edge check to the bridge, forever.
    OutOfScope,
    /// GET /session without a valid session marker: 401.
    NoSession,
    /// The signing key is not loaded (cause logged by the state): 503.
    KeyUnavailable,
    /// The issuer's key set cannot be fetched: 503.
    IssuerUnavailable,
    /// Signing failed: 500 (cause logged here, never sent).
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    error: &'a str,
    error_description: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    expires_at: i64,
    scopes: Vec<&'a str>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: Option<String>,
}

/// A response being built, with what the log line needs.
struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, String)>,
    body: Option<Vec<u8>>,
    outcome: &'static str,
    reason: Option<String>,
    scopes: Vec<String>,
}

impl Reply {
    fn new(status: StatusCode, outcome: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
            outcome,
            reason: None,
            scopes: Vec::new(),
        }
    }

    fn json(mut self, body: &impl Serialize) -> Self {
        // Our bodies are plain structs of strings and numbers; serializing them cannot fail.
        self.body = Some(serde_json::to_vec(body).unwrap_or_default());
        self.headers
            .push((CONTENT_TYPE, "application/json".to_owned()));
        self
    }

    fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// `error_description` goes inside a quoted header parameter: keep it to printable ASCII with no
/// quote or backslash.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

impl Failure {
    fn reply(self) -> Reply {
        let (status, outcome, code, description, www_auth, reason) = match self {
            Self::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "invalid_token",
                why.clone(),
                true,
                Some(why),
            ),
            Self::InvalidRequest(why) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "invalid_request",
                why.clone(),
                false,
                Some(why),
            ),
            Self::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "invalid_request",
                format!("request body larger than {MAX_BODY_BYTES} bytes"),
                false,
                Some("body too large".to_owned()),
            ),
            Self::MethodNotAllowed(allow) => {
                return Reply::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
                    .json(&ErrorBody {
                        active: None,
                        error: "method_not_allowed",
                        error_description: &format!("allowed methods: {allow}"),
                    })
                    .header(ALLOW, allow);
            }
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "not_found",
                "only /session and /session/bridge are served here".to_owned(),
                false,
                None,
            ),
            Self::NoScope => (
                StatusCode::FORBIDDEN,
                "no_scope",
                "access_denied",
                "no scope applies to this user".to_owned(),
                false,
                Some("no scope".to_owned()),
            ),
            Self::OutOfScope => (
                StatusCode::FORBIDDEN,
                "out_of_scope",
                "access_denied",
                "this session does not cover the requested path".to_owned(),
                false,
                Some("return path outside every scope".to_owned()),
            ),
            Self::NoSession => {
                return Reply::new(StatusCode::UNAUTHORIZED, "no_session")
                    .json(&ErrorBody {
                        active: Some(false),
                        error: "no_session",
                        error_description: "no active session",
                    })
                    .header(WWW_AUTHENTICATE, "Bearer");
            }
            Self::KeyUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "key_unavailable",
                "temporarily_unavailable",
                "the service cannot issue sessions right now; try again shortly".to_owned(),
                false,
                Some("signing key not loaded".to_owned()),
            ),
            Self::IssuerUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "issuer_unavailable",
                "temporarily_unavailable",
                "the service cannot check tokens right now; try again shortly".to_owned(),
                false,
                Some(Rejection::KeySetUnavailable.to_string()),
            ),
            Self::Internal(cause) => {
                tracing::error!(cause = %cause, "signing failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "server_error",
                    "the service could not issue a session".to_owned(),
                    false,
                    Some("internal error".to_owned()),
                )
            }
        };
        let mut reply = Reply::new(status, outcome).json(&ErrorBody {
            active: None,
            error: code,
            error_description: &description,
        });
        if www_auth {
            reply = reply.header(
                WWW_AUTHENTICATE,
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    header_safe(&description)
                ),
            );
        }
        reply.reason = reason;
        reply
    }
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::KeySetUnavailable => Self::IssuerUnavailable,
            other => Self::InvalidToken(other.to_string()),
        }
    }
}

fn request_id(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = &ctx.request_id
    {
        return id.clone();
    }
    req.lambda_context_ref()
        .map_or_else(|| "-".to_owned(), |c| c.request_id.clone())
}

/// The path without an API Gateway stage prefix (lambda_http adds `/<stage>` for named stages).
fn route_path(req: &Request) -> &str {
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

/// The request's origin when it is one of `ALLOWED_ORIGINS`.
fn allowed_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(ORIGIN)?.to_str().ok()?;
    state
        .config
        .allowed_origins
        .iter()
        .any(|o| o == origin)
        .then(|| origin.to_owned())
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        // Body is non-exhaustive upstream; nothing else carries bytes we could read.
        #[allow(unreachable_patterns)]
        _ => &[],
    }
}

/// All `name=value` pairs from every `Cookie` header.
fn cookies<'r>(req: &'r Request, name: &str) -> Vec<&'r str> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_cookie_header)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect()
}

/// The token, looked for in order: `Authorization: Bearer`, a JSON body `{"token": ...}`, the
/// `token` cookie. `Ok(None)` when there is none anywhere.
fn token_from_request(req: &Request) -> Result<Option<String>, Failure> {
    let mut auth = req.headers().get_all(AUTHORIZATION).iter();
    let header_token = match (auth.next(), auth.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(Failure::InvalidRequest(
                "more than one Authorization header".to_owned(),
            ));
        }
        (Some(value), None) => {
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
            Some(token.to_owned())
        }
    };
    // A body, when there is one, must be a JSON object even if the header carries the token:
    // anything else is a client bug worth reporting.
    let body = body_bytes(req);
    let body_token = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<TokenBody>(body)
            .map_err(|_| {
                Failure::InvalidRequest(
                    "the body must be a JSON object such as {\"token\": \"<jwt>\"}".to_owned(),
                )
            })?
            .token
    };
    let cookie_token = || cookies(req, TOKEN_COOKIE).first().map(|t| (*t).to_owned());
    Ok(header_token.or(body_token).or_else(cookie_token))
}

impl AppState {
    fn cookie_attributes(&self, path: &str, max_age: i64) -> CookieAttributes {
        CookieAttributes {
            path: path.to_owned(),
            domain: self.config.cookie_domain.clone(),
            secure: self.config.secure_cookies,
            http_only: true,
            same_site: self.config.same_site,
            max_age: Some(max_age),
        }
    }

    /// The marker cookie, written by hand because its name is ours, not CloudFront's.
    fn marker_set_cookie(&self, value: &str, max_age: i64) -> String {
        let mut h = format!("{MARKER_COOKIE}={value}; Path={MARKER_PATH}");
        if let Some(d) = &self.config.cookie_domain {
            h.push_str("; Domain=");
            h.push_str(d);
        }
        h.push_str(&format!("; Max-Age={max_age}"));
        if max_age == 0 {
            h.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        if self.config.secure_cookies {
            h.push_str("; Secure");
        }
        h.push_str(&format!("; HttpOnly; SameSite={}", self.config.same_site));
        h
    }

    fn clear_path(&self, path: &str) -> Vec<String> {
        clearing_set_cookie_headers(&self.cookie_attributes(path, 0))
    }

    async fn verify(&self, token: &str) -> Result<Claims, Failure> {
        self.tokens.verify(token).await.map_err(Failure::from)
    }

    fn scopes_for(&self, claims: &Claims) -> Vec<Scope> {
        let expansion = scope::expand(
            &self.config.scopes,
            &ScopeClaims {
                sub: &claims.sub,
                username: claims.username.as_deref(),
                groups: &claims.groups,
                issuer: &claims.issuer,
            },
        );
        for dropped in &expansion.dropped {
            tracing::warn!(template = %dropped.template, reason = %dropped.reason, "scope dropped");
        }
        expansion.scopes
    }

    /// Signs one cookie set per scope and the marker; clears cookie sets a previous session had
    /// at paths this one no longer uses.
    fn issue(&self, req: &Request, key: &LoadedKey, claims: &Claims) -> Result<Reply, Failure> {
        let scopes = self.scopes_for(claims);
        if scopes.is_empty() {
            return Err(Failure::NoScope);
        }
        let ttl = self.config.ttl_seconds;
        let expires_at = self.clock.now() + ttl;
        let mut set_cookies = Vec::new();
        for scope in &scopes {
            let resource = format!("{}{}", self.config.asset_base_url, scope.pattern());
            let policy =
                Policy::new(resource, expires_at).map_err(|e| Failure::Internal(e.to_string()))?;
            let signed = key
                .signer
                .cookies(&policy)
                .map_err(|e| Failure::Internal(e.to_string()))?;
            set_cookies.extend(
                signed.set_cookie_headers(&self.cookie_attributes(scope.cookie_path(), ttl)),
            );
        }
        for old in cookies(req, MARKER_COOKIE)
            .into_iter()
            .filter_map(Marker::decode_unverified)
        {
            for stale in old.scopes {
                if !scopes
                    .iter()
                    .any(|s| s.cookie_path() == stale.cookie_path())
                {
                    set_cookies.extend(self.clear_path(stale.cookie_path()));
                }
            }
        }
        let marker = Marker {
            expires_at,
            scopes: scopes.clone(),
        };
        set_cookies.push(self.marker_set_cookie(&marker.encode(&key.marker_key), ttl));

        let mut reply = Reply::new(StatusCode::OK, "issued").json(&SessionBody {
            active: None,
            expires_at,
            scopes: scopes.iter().map(Scope::pattern).collect(),
        });
        reply
            .headers
            .extend(set_cookies.into_iter().map(|c| (SET_COOKIE, c)));
        reply.scopes = scopes.iter().map(|s| s.pattern().to_owned()).collect();
        Ok(reply)
    }

    async fn post_session(&self, req: &Request) -> Result<Reply, Failure> {
        let token = token_from_request(req)?.ok_or_else(|| {
            Failure::InvalidToken(
                "no token: send Authorization: Bearer <jwt>, a JSON body {\"token\": ...} or a token cookie"
                    .to_owned(),
            )
        })?;
        let claims = self.verify(&token).await?;
        let key = self.key().await.ok_or(Failure::KeyUnavailable)?;
        self.issue(req, &key, &claims)
    }

    async fn bridge(&self, req: &Request) -> Result<Reply, Failure> {
        let target = return_path(req.uri().query().unwrap_or(""))?;
        let token = cookies(req, TOKEN_COOKIE)
            .first()
            .map(|t| (*t).to_owned())
            .ok_or_else(|| Failure::InvalidToken("no token cookie".to_owned()))?;
        let claims = self.verify(&token).await?;
        let key = self.key().await.ok_or(Failure::KeyUnavailable)?;
        let issued = self.issue(req, &key, &claims)?;
        // A path none of the cookies covers would reach the edge check again without signed
        // cookies (the browser sends them only under their Path) and come straight back here.
        let path = target.split(['?', '#']).next().unwrap_or_default();
        if !issued
            .scopes
            .iter()
            .any(|pattern| keyhole_core::resource_matches(pattern, path))
        {
            return Err(Failure::OutOfScope);
        }
        let mut reply = Reply::new(StatusCode::FOUND, "bridged").header(LOCATION, target);
        reply.headers.extend(
            issued
                .headers
                .into_iter()
                .filter(|(name, _)| *name == SET_COOKIE),
        );
        reply.scopes = issued.scopes;
        Ok(reply)
    }

    /// Clears every cookie set this user could hold: the paths the marker lists, the literal
    /// scopes, and (when the request carries a valid token) the user's current scopes.
    async fn delete_session(&self, req: &Request) -> Reply {
        let mut paths: Vec<String> = Vec::new();
        for marker in cookies(req, MARKER_COOKIE)
            .into_iter()
            .filter_map(Marker::decode_unverified)
        {
            paths.extend(marker.scopes.iter().map(|s| s.cookie_path().to_owned()));
        }
        paths.extend(
            scope::literal_scopes(&self.config.scopes)
                .iter()
                .map(|s| s.cookie_path().to_owned()),
        );
        // A token is optional here; a bad one must not stop a sign-out.
        if let Ok(Some(token)) = token_from_request(req)
            && let Ok(claims) = self.verify(&token).await
        {
            paths.extend(
                self.scopes_for(&claims)
                    .iter()
                    .map(|s| s.cookie_path().to_owned()),
            );
        }
        paths.sort();
        paths.dedup();
        let mut reply = Reply::new(StatusCode::NO_CONTENT, "cleared");
        for path in &paths {
            reply
                .headers
                .extend(self.clear_path(path).into_iter().map(|c| (SET_COOKIE, c)));
        }
        reply
            .headers
            .push((SET_COOKIE, self.marker_set_cookie("", 0)));
        reply.scopes = paths;
        reply
    }

    async fn get_session(&self, req: &Request) -> Result<Reply, Failure> {
        let markers = cookies(req, MARKER_COOKIE);
        if markers.is_empty() {
            return Err(Failure::NoSession);
        }
        let key = self.key().await.ok_or(Failure::KeyUnavailable)?;
        let now = self.clock.now();
        let marker = markers
            .into_iter()
            .find_map(|m| Marker::decode_verified(m, &key.marker_key, now))
            .ok_or(Failure::NoSession)?;
        let mut reply = Reply::new(StatusCode::OK, "active").json(&SessionBody {
            active: Some(true),
            expires_at: marker.expires_at,
            scopes: marker.scopes.iter().map(Scope::pattern).collect(),
        });
        reply.scopes = marker
            .scopes
            .iter()
            .map(|s| s.pattern().to_owned())
            .collect();
        Ok(reply)
    }

    async fn route(
        &self,
        req: &Request,
        path: &str,
        origin: Option<&str>,
    ) -> Result<Reply, Failure> {
        let (allow, is_session) = match path {
            "/session" | "/session/" => ("GET, POST, DELETE, OPTIONS", true),
            "/session/bridge" => ("GET", false),
            _ => return Err(Failure::NotFound),
        };
        if body_bytes(req).len() > MAX_BODY_BYTES {
            return Err(Failure::BodyTooLarge);
        }
        match (req.method(), is_session) {
            (&Method::POST, true) => self.post_session(req).await,
            (&Method::DELETE, true) => Ok(self.delete_session(req).await),
            (&Method::GET, true) => self.get_session(req).await,
            (&Method::OPTIONS, true) => Ok(preflight(origin, allow)),
            (&Method::GET, false) => self.bridge(req).await,
            _ => Err(Failure::MethodNotAllowed(allow)),
        }
    }
}

fn preflight(origin: Option<&str>, allow: &'static str) -> Reply {
    let reply = Reply::new(StatusCode::NO_CONTENT, "preflight").header(ALLOW, allow);
    match origin {
        // The grant itself (Allow-Origin, Allow-Credentials) is added to every response in
        // `handle`; a preflight adds what may be sent.
        Some(_) => reply
            .header(ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, DELETE")
            .header(ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type")
            .header(ACCESS_CONTROL_MAX_AGE, "600"),
        None => reply,
    }
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The bridge's `return` parameter: a path on this host. A leading `//` or `/\` would be read by
/// browsers as another host, and browsers drop tabs and newlines before resolving, so only
/// visible ASCII other than `\` is allowed.
fn return_path(query: &str) -> Result<String, Failure> {
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
    let decoded = percent_decode(raw).ok_or_else(bad)?;
    let path = String::from_utf8(decoded).map_err(|_| bad())?;
    let ok = path.len() <= MAX_RETURN_PATH
        && path.starts_with('/')
        && !path.starts_with("//")
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok { Ok(path) } else { Err(bad()) }
}

fn build(
    reply: Reply,
    origin: Option<&str>,
    vary_origin: bool,
) -> Result<Response<Body>, lambda_http::Error> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header(CACHE_CONTROL, "no-store");
    for (name, value) in reply.headers {
        builder = builder.header(name, HeaderValue::try_from(value)?);
    }
    if vary_origin {
        builder = builder.header(VARY, "Origin");
    }
    if let Some(origin) = origin {
        builder = builder
            .header(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::try_from(origin)?)
            .header(ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    let body = reply.body.map_or(Body::Empty, Body::Binary);
    Ok(builder.body(body)?)
}

/// Answers one `/session*` request. Callable in-process: `keyhole serve` calls it for every
/// `/session*` request, and the Lambda entry point wraps it in `lambda_http::run`.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let path = route_path(&req).to_owned();
    let origin = allowed_origin(state, req.headers());
    let reply = state
        .route(&req, &path, origin.as_deref())
        .await
        .unwrap_or_else(Failure::reply);
    tracing::info!(
        request_id = %request_id(&req),
        method = %req.method(),
        path = %path,
        status = reply.status.as_u16(),
        outcome = reply.outcome,
        reason = reply.reason.as_deref().unwrap_or(""),
        scopes = ?reply.scopes,
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "session request"
    );
    build(
        reply,
        origin.as_deref(),
        !state.config.allowed_origins.is_empty(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "return=relative",
            "return=",
        ] {
            assert!(return_path(bad).is_err(), "{bad} was accepted");
        }
        assert!(return_path(&format!("return=/{}", "a".repeat(5000))).is_err());
    }

    #[test]
    fn header_safe_strips_quotes_and_controls() {
        assert_eq!(header_safe("a\"b\\c\nd é"), "a?b?c?d ?");
    }
}
