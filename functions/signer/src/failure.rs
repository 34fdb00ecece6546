//! Where failures become HTTP: every refusal the client is told about, with its one status, error
//! code and description. Internal causes go to the log here and never into a response.

use keyhole_token::Rejection;
use lambda_http::http::StatusCode;
use lambda_http::http::header::{ALLOW, WWW_AUTHENTICATE};
use serde::Serialize;

use crate::reply::Reply;
use crate::request::MAX_BODY_BYTES;

/// A failure the client is told about. Each maps to exactly one status and error code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Missing or refused token: 401.
    InvalidToken(String),
    /// Unreadable request (bad body, bad header, bad return path): 400.
    InvalidRequest(String),
    /// Body over [`MAX_BODY_BYTES`]: 413.
    BodyTooLarge,
    /// A body that is not `Content-Type: application/json`: 415.
    NotJson,
    /// A state-changing call from an origin that is neither the site's nor allowed: 403.
    CrossSite,
    /// Method not served on this path: 405, with the methods that are.
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
    /// Signing failed: 500 (cause logged, never sent).
    Internal(String),
}

/// The JSON error body: `{"error", "error_description"}`, plus `"active": false` from
/// `GET /session`.
#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    error: &'a str,
    error_description: &'a str,
}

impl Failure {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::InvalidToken(_) | Self::NoSession => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::CrossSite => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::NoScope | Self::OutOfScope => StatusCode::FORBIDDEN,
            Self::KeyUnavailable | Self::IssuerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body's `error` code (OAuth 2.0 names where one fits).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::InvalidToken(_) => "invalid_token",
            Self::InvalidRequest(_) | Self::BodyTooLarge | Self::NotJson => "invalid_request",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::NoScope | Self::OutOfScope | Self::CrossSite => "access_denied",
            Self::NoSession => "no_session",
            Self::KeyUnavailable | Self::IssuerUnavailable => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
    }

    /// The body's `error_description`: what the client can act on, never an internal cause.
    pub(crate) fn description(&self) -> String {
        match self {
            Self::InvalidToken(why) | Self::InvalidRequest(why) => why.clone(),
            Self::BodyTooLarge => format!("request body larger than {MAX_BODY_BYTES} bytes"),
            Self::NotJson => {
                "a request body must be Content-Type: application/json, such as {\"token\": \"<jwt>\"}"
                    .to_owned()
            }
            Self::CrossSite => "this call must come from the site's own origin or one listed in ALLOWED_ORIGINS"
                .to_owned(),
            Self::MethodNotAllowed(allow) => format!("allowed methods: {allow}"),
            Self::NotFound => "only /session and /session/bridge are served here".to_owned(),
            Self::NoScope => "no scope applies to this user".to_owned(),
            Self::OutOfScope => "this session does not cover the requested path".to_owned(),
            Self::NoSession => "no active session".to_owned(),
            Self::KeyUnavailable => {
                "the service cannot issue sessions right now; try again shortly".to_owned()
            }
            Self::IssuerUnavailable => {
                "the service cannot check tokens right now; try again shortly".to_owned()
            }
            Self::Internal(_) => "the service could not issue a session".to_owned(),
        }
    }

    /// The `outcome` field of the request's log line.
    fn outcome(&self) -> &'static str {
        match self {
            Self::InvalidToken(_) => "invalid_token",
            Self::InvalidRequest(_) | Self::BodyTooLarge | Self::NotJson => "invalid_request",
            Self::CrossSite => "cross_site",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::NoScope => "no_scope",
            Self::OutOfScope => "out_of_scope",
            Self::NoSession => "no_session",
            Self::KeyUnavailable => "key_unavailable",
            Self::IssuerUnavailable => "issuer_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The `reason` field of the request's log line.
    fn reason(&self) -> Option<String> {
        match self {
            Self::InvalidToken(why) | Self::InvalidRequest(why) => Some(why.clone()),
            Self::BodyTooLarge => Some("body too large".to_owned()),
            Self::NotJson => Some("body not application/json".to_owned()),
            Self::CrossSite => Some("origin neither the site's nor allowed".to_owned()),
            Self::MethodNotAllowed(_) | Self::NotFound | Self::NoSession => None,
            Self::NoScope => Some("no scope".to_owned()),
            Self::OutOfScope => Some("return path outside every scope".to_owned()),
            Self::KeyUnavailable => Some("signing key not loaded".to_owned()),
            Self::IssuerUnavailable => Some(Rejection::KeySetUnavailable.to_string()),
            Self::Internal(_) => Some("internal error".to_owned()),
        }
    }

    /// The response: JSON error body, and the headers the status calls for.
    pub(crate) fn into_reply(self) -> Reply {
        if let Self::Internal(cause) = &self {
            tracing::error!(cause = %cause, "signing failed");
        }
        let description = self.description();
        let mut reply = Reply::new(self.status(), self.outcome()).json(&ErrorBody {
            active: matches!(self, Self::NoSession).then_some(false),
            error: self.code(),
            error_description: &description,
        });
        reply = match &self {
            Self::InvalidToken(_) => reply.header(
                WWW_AUTHENTICATE,
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    header_safe(&description)
                ),
            ),
            Self::NoSession => reply.header(WWW_AUTHENTICATE, "Bearer"),
            Self::MethodNotAllowed(allow) => reply.header(ALLOW, *allow),
            _ => reply,
        };
        reply.reason = self.reason();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_safe_strips_quotes_and_controls() {
        assert_eq!(header_safe("a\"b\\c\nd é"), "a?b?c?d ?");
    }

    #[test]
    fn every_failure_has_an_error_status_and_a_code() {
        for f in [
            Failure::InvalidToken("x".into()),
            Failure::InvalidRequest("x".into()),
            Failure::BodyTooLarge,
            Failure::NotJson,
            Failure::CrossSite,
            Failure::MethodNotAllowed("GET"),
            Failure::NotFound,
            Failure::NoScope,
            Failure::OutOfScope,
            Failure::NoSession,
            Failure::KeyUnavailable,
            Failure::IssuerUnavailable,
            Failure::Internal("cause".into()),
        ] {
            assert!(f.status().as_u16() >= 400, "{f:?}");
            assert!(!f.code().is_empty() && !f.description().is_empty(), "{f:?}");
        }
    }

    #[test]
    fn an_internal_cause_never_reaches_the_client() {
        let f = Failure::Internal("SECRET-CAUSE".into());
        assert!(!f.description().contains("SECRET-CAUSE"));
        let reply = f.into_reply();
        let body = String::from_utf8(reply.body.unwrap_or_default()).unwrap();
        assert!(!body.contains("SECRET-CAUSE"), "{body}");
    }
}
