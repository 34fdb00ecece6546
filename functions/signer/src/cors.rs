//! Which origins may call `/session`: the cross-site rule for state-changing calls, CORS for
//! `ALLOWED_ORIGINS` and the preflight answer. The CORS grant itself
//! (`Access-Control-Allow-Origin` with credentials) is written on every response by
//! [`crate::reply::Reply::into_response`].
//!
//! The cross-site rule: a `POST` or `DELETE` that carries an `Origin` other than the site's own
//! (`ASSET_BASE_URL`) or an `ALLOWED_ORIGINS` entry is refused with 403, and so is one marked
//! `Sec-Fetch-Site: cross-site` without such an origin. CORS alone cannot stop login CSRF: it
//! only hides the answer, while a cross-site form post (`enctype="text/plain"` can carry a JSON
//! body) would already have set the attacker's cookies. Requests with no `Origin` and no
//! `Sec-Fetch-Site` (curl, apps, server-side callers) are not browsers' cross-site requests and
//! pass.

use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE, ALLOW,
    ORIGIN,
};
use lambda_http::http::{HeaderMap, Method, StatusCode};

use crate::Config;
use crate::failure::Failure;
use crate::reply::Reply;

/// Whether `origin` is the site's own (`ASSET_BASE_URL`) or one of `ALLOWED_ORIGINS`.
fn is_trusted_origin(config: &Config, origin: &str) -> bool {
    origin.eq_ignore_ascii_case(&config.asset_base_url)
        || config.allowed_origins.iter().any(|o| o == origin)
}

/// The cross-site rule (see the module docs), for `method`.
pub(crate) fn check_cross_site(
    config: &Config,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), Failure> {
    if method != Method::POST && method != Method::DELETE {
        return Ok(());
    }
    let origin = headers.get(ORIGIN).map(|v| v.to_str().unwrap_or("null"));
    let trusted = origin.is_some_and(|o| is_trusted_origin(config, o));
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if trusted || (origin.is_none() && !cross_site) {
        Ok(())
    } else {
        Err(Failure::CrossSite)
    }
}

/// The request's origin when it is one of `ALLOWED_ORIGINS`.
pub(crate) fn allowed_origin(config: &Config, headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(ORIGIN)?.to_str().ok()?;
    config
        .allowed_origins
        .iter()
        .any(|o| o == origin)
        .then(|| origin.to_owned())
}

/// `OPTIONS`: what may be sent, for an allowed origin only.
pub(crate) fn preflight(origin: Option<&str>, allow: &'static str) -> Reply {
    let reply = Reply::new(StatusCode::NO_CONTENT, "preflight").header(ALLOW, allow);
    match origin {
        Some(_) => reply
            .header(ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, DELETE")
            .header(ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type")
            .header(ACCESS_CONTROL_MAX_AGE, "600"),
        None => reply,
    }
}
