//! Responses the local stack builds by hand: the XML error bodies that CloudFront (and S3 behind
//! it) answer with, so a client sees the same shapes as in production; the JSON errors of the
//! `/session` adapter and the identity provider; and the fallback when a response cannot be built.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode, header};
use serde_json::json;

/// A built response, or a bare 500 when building failed (a header value we made was invalid).
pub(crate) fn respond_or_500(built: Result<Response<Body>, axum::http::Error>) -> Response<Body> {
    built.unwrap_or_else(|e| {
        tracing::error!(error = %e, "building a response failed");
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

/// A header value from text we made; anything unprintable becomes an empty value.
pub(crate) fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `{"error", "error_description"}`, never cacheable.
pub(crate) fn json_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    respond_or_500(
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::from(
                json!({ "error": error, "error_description": description }).to_string(),
            )),
    )
}

/// `<Error><Code>..</Code><Message>..</Message></Error>` with the XML declaration, as CloudFront
/// and S3 send it.
pub fn error_body(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
        escape(code),
        escape(message)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A complete XML error response.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    respond_or_500(
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/xml")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::from(error_body(code, message))),
    )
}

/// An XML error response with one extra header (e.g. `Content-Range` on a 416).
pub fn with_status_and_header(
    status: StatusCode,
    code: &str,
    message: &str,
    name: HeaderName,
    value: String,
) -> Response<Body> {
    let mut resp = error_response(status, code, message);
    resp.headers_mut().insert(name, header_value(&value));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_cloudfronts_shape() {
        assert_eq!(
            error_body(
                "MissingKey",
                "Missing Key-Pair-Id query parameter or cookie value"
            ),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>MissingKey</Code><Message>Missing Key-Pair-Id query parameter or cookie value</Message></Error>"
        );
    }

    #[test]
    fn markup_in_a_message_is_escaped() {
        assert!(error_body("X", "<a & b>").contains("&lt;a &amp; b&gt;"));
    }
}
