//! One access line per request, at info: method, path, status, outcome and how long the answer
//! took. Only the request line's method and path are read: never a header (cookies,
//! `Authorization`) and never the query string, which may carry a token.

use std::time::Instant;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

/// The line's `outcome`, from the status alone: the stand-in, the signer and the identity
/// provider each answer in their own way, and the status is what they share.
pub(crate) fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        304 => "not_modified",
        300..=399 => "redirected",
        // A missing or bad cookie (the stand-in), an edge-check refusal, a refused token.
        401 | 403 => "refused",
        404 => "not_found",
        400..=499 => "bad_request",
        500..=599 => "error",
        _ => "served",
    }
}

/// The middleware (`axum::middleware::from_fn`). `durationMs` runs until the response head is
/// ready; a large asset's body streams after it.
pub(crate) async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    tracing::info!(
        method = %method,
        path = %path,
        status = status.as_u16(),
        outcome = %outcome(status),
        durationMs = f64::from(micros) / 1000.0,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_follows_the_status() {
        for (status, want) in [
            (200, "served"),
            (206, "served"),
            (204, "served"),
            (304, "not_modified"),
            (302, "redirected"),
            (401, "refused"),
            (403, "refused"),
            (404, "not_found"),
            (400, "bad_request"),
            (416, "bad_request"),
            (500, "error"),
            (503, "error"),
        ] {
            assert_eq!(
                outcome(StatusCode::from_u16(status).unwrap()),
                want,
                "{status}"
            );
        }
    }
}
