//! The endpoints: `POST`, `DELETE`, `GET` and `OPTIONS /session`, `GET /session/bridge`, and
//! [`handle`], which routes a request to one of them and writes the request's log line.

use std::time::Instant;

use keyhole_core::revocation::Entry;
use keyhole_token::Claims;
use lambda_http::http::header::{LOCATION, SET_COOKIE};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::AppState;
use crate::cors::{allowed_origin, check_cross_site, preflight};
use crate::failure::Failure;
use crate::marker::{MARKER_COOKIE, Marker};
use crate::reply::Reply;
use crate::request::{self, MAX_BODY_BYTES};
use crate::scope::{self, Scope};
use crate::session::{self, Session, clear_path, marker_cookie, scopes_for};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    expires_at: i64,
    scopes: Vec<&'a str>,
}

async fn verify(state: &AppState, token: &str) -> Result<Claims, Failure> {
    state.tokens.verify(token).await.map_err(Failure::from)
}

/// Verifies `token` and issues the session, or says why not.
async fn start(state: &AppState, req: &Request, token: &str) -> Result<Session, Failure> {
    let claims = verify(state, token).await?;
    let key = state.key().await.ok_or(Failure::KeyUnavailable)?;
    session::issue(state, req, &key, &claims)
}

/// `POST /session`: 200 with `{"expiresAt", "scopes"}` and the cookies.
async fn post_session(state: &AppState, req: &Request) -> Result<Reply, Failure> {
    let token = request::token(req)?.ok_or_else(|| {
        Failure::InvalidToken(
            "no token: send Authorization: Bearer <jwt>, a JSON body {\"token\": ...} or a token cookie"
                .to_owned(),
        )
    })?;
    let session = start(state, req, &token).await?;
    let mut reply = Reply::new(StatusCode::OK, "issued").json(&SessionBody {
        active: None,
        expires_at: session.expires_at,
        scopes: session.scopes.iter().map(Scope::pattern).collect(),
    });
    reply.scopes = session.patterns();
    Ok(reply.headers(&SET_COOKIE, session.set_cookies))
}

/// `GET /session/bridge?return=<path>`: the `token` cookie becomes signed cookies and a 302 to
/// `<path>`.
async fn bridge(state: &AppState, req: &Request) -> Result<Reply, Failure> {
    let target = request::return_path(req.uri().query().unwrap_or(""))?;
    let token = request::token_cookie(req)
        .ok_or_else(|| Failure::InvalidToken("no token cookie".to_owned()))?;
    let session = start(state, req, &token).await?;
    // A path none of the cookies covers would reach the edge check again without signed
    // cookies (the browser sends them only under their Path) and come straight back here.
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let base = &state.config.asset_base_url;
    let url = format!("{base}{path}");
    if !session
        .scopes
        .iter()
        .any(|s| keyhole_core::resource_matches(&format!("{base}{}", s.pattern()), &url))
    {
        return Err(Failure::OutOfScope);
    }
    let mut reply = Reply::new(StatusCode::FOUND, "bridged").header(LOCATION, target);
    reply.scopes = session.patterns();
    Ok(reply.headers(&SET_COOKIE, session.set_cookies))
}

/// Writes a deny-list entry for each cookie set a valid marker names, so every copy of them
/// (not only this browser's) is refused at the edge until it expires. Only a marker the signing
/// key vouches for is used: an unverified one could fill the store with junk. A failed write is
/// logged and does not stop the sign-out.
async fn revoke_marked_sets(state: &AppState, req: &Request) -> usize {
    let Some(revoker) = &state.revoker else {
        return 0;
    };
    let markers = request::cookies(req, MARKER_COOKIE);
    if markers.is_empty() {
        return 0;
    }
    let Some(key) = state.key().await else {
        return 0;
    };
    let now = state.clock.now();
    let entries: Vec<Entry> = markers
        .into_iter()
        .filter_map(|m| Marker::decode_verified(m, &key.marker_key, now))
        .flat_map(|m| {
            m.cookie_sets.into_iter().map(move |key| Entry::CookieSet {
                key,
                expires_at: m.expires_at,
            })
        })
        .collect();
    let written = match revoker.write(&entries).await {
        Ok(()) => entries.len(),
        Err(e) => {
            tracing::error!(error = %e, sets = entries.len(), "cookie sets could not be revoked; they stay valid until they expire");
            0
        }
    };
    state.prune_if_due(revoker).await;
    written
}

/// `DELETE /session`: 204, clearing every cookie set this user could hold: the paths the marker
/// lists, the literal scopes, and (when the request carries a valid token) the user's current
/// scopes. With a deny-list configured, the cookie sets the marker names are revoked too.
async fn delete_session(state: &AppState, req: &Request) -> Reply {
    let config = &state.config;
    let revoked = revoke_marked_sets(state, req).await;
    let mut paths: Vec<String> = request::cookies(req, MARKER_COOKIE)
        .into_iter()
        .filter_map(Marker::decode_unverified)
        .flat_map(|m| m.scopes)
        .chain(scope::literal_scopes(&config.scopes))
        .map(|s| s.cookie_path().to_owned())
        .collect();
    // A token is optional here; a bad one must not stop a sign-out.
    if let Ok(Some(token)) = request::token(req)
        && let Ok(claims) = verify(state, &token).await
    {
        paths.extend(
            scopes_for(config, &claims)
                .iter()
                .map(|s| s.cookie_path().to_owned()),
        );
    }
    paths.sort();
    paths.dedup();
    let mut set_cookies: Vec<String> = paths.iter().flat_map(|p| clear_path(config, p)).collect();
    set_cookies.push(marker_cookie(config, "", 0));
    if revoked > 0 {
        tracing::info!(sets = revoked, "cookie sets revoked");
    }
    let mut reply = Reply::new(StatusCode::NO_CONTENT, "cleared").headers(&SET_COOKIE, set_cookies);
    reply.scopes = paths;
    reply
}

/// `GET /session`: 200 with what a valid marker says, else 401.
async fn get_session(state: &AppState, req: &Request) -> Result<Reply, Failure> {
    let markers = request::cookies(req, MARKER_COOKIE);
    if markers.is_empty() {
        return Err(Failure::NoSession);
    }
    let key = state.key().await.ok_or(Failure::KeyUnavailable)?;
    let now = state.clock.now();
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
    state: &AppState,
    req: &Request,
    path: &str,
    origin: Option<&str>,
) -> Result<Reply, Failure> {
    let (allow, is_session) = match path {
        "/session" | "/session/" => ("GET, POST, DELETE, OPTIONS", true),
        "/session/bridge" => ("GET", false),
        _ => return Err(Failure::NotFound),
    };
    if request::body_bytes(req).len() > MAX_BODY_BYTES {
        return Err(Failure::BodyTooLarge);
    }
    check_cross_site(&state.config, req.method(), req.headers())?;
    match (req.method(), is_session) {
        (&Method::POST, true) => post_session(state, req).await,
        (&Method::DELETE, true) => Ok(delete_session(state, req).await),
        (&Method::GET, true) => get_session(state, req).await,
        (&Method::OPTIONS, true) => Ok(preflight(origin, allow)),
        (&Method::GET, false) => bridge(state, req).await,
        _ => Err(Failure::MethodNotAllowed(allow)),
    }
}

/// Answers one `/session*` request. Callable in-process: `keyhole serve` calls it for every
/// `/session*` request, and the Lambda entry point wraps it in `lambda_http::run`.
///
/// Expected failures (bad token, bad body, no scope) are responses; `Err` is returned only when a
/// response cannot be built at all, so Lambda error metrics mean something.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let cold_start = state.take_cold_start();
    let path = request::route_path(&req).to_owned();
    let origin = allowed_origin(&state.config, req.headers());
    let reply = route(state, &req, &path, origin.as_deref())
        .await
        .unwrap_or_else(Failure::into_reply);
    // Field names as CloudWatch Logs Insights users know them from Lambda's own JSON lines
    // (`requestId` is the invocation's); the README's queries read them.
    tracing::info!(
        requestId = request::invocation_id(&req),
        apiRequestId = request::api_request_id(&req),
        coldStart = cold_start,
        method = %req.method(),
        path = %path,
        status = reply.status.as_u16(),
        outcome = reply.outcome,
        reason = reply.reason.as_deref().unwrap_or(""),
        scopes = %reply.scopes.join(","),
        durationMs = duration_ms(started),
        "session request"
    );
    reply.into_response(origin.as_deref(), !state.config.allowed_origins.is_empty())
}

/// Milliseconds since `started`, to the microsecond.
fn duration_ms(started: Instant) -> f64 {
    let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    f64::from(micros) / 1000.0
}
