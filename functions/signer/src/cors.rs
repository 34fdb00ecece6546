//! CORS for `ALLOWED_ORIGINS`: which origin is granted, and the preflight answer. The grant itself
//! (`Access-Control-Allow-Origin` with credentials) is written on every response by
//! [`crate::reply::Reply::into_response`].

use lambda_http::http::HeaderMap;
use lambda_http::http::StatusCode;
use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE, ALLOW,
    ORIGIN,
};

use crate::Config;
use crate::reply::Reply;

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
