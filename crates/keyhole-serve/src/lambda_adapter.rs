//! `/session*`: the signer Lambda's own handler, behind an adapter that builds the request as API
//! Gateway's HTTP API would (query parameters, source IP and request time in the request context)
//! and turns the Lambda response back into an HTTP one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Response, StatusCode};
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use percent_encoding::percent_decode_str;

use crate::responses::json_error;
use crate::server::App;

/// Largest request body the stand-in accepts for `/session*` (API Gateway's own limit is far
/// larger; a token request is a few KB, and the signer refuses more than 32 KiB itself).
const MAX_SESSION_BODY: usize = 64 * 1024;

/// Percent-decoded `name=value` pairs of a query string or form body, repeated names kept, as API
/// Gateway hands query parameters to the Lambda (`+` is left as it is).
pub(crate) fn decode_form(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        map.entry(decode(k)).or_default().push(decode(v));
    }
    map
}

fn lambda_body(bytes: &[u8]) -> lambda_http::Body {
    if bytes.is_empty() {
        return lambda_http::Body::Empty;
    }
    match String::from_utf8(bytes.to_vec()) {
        Ok(s) => lambda_http::Body::Text(s),
        Err(e) => lambda_http::Body::Binary(e.into_bytes()),
    }
}

fn http_body(body: lambda_http::Body) -> Body {
    match body {
        lambda_http::Body::Text(s) => Body::from(s),
        lambda_http::Body::Binary(b) => Body::from(b),
        _ => Body::empty(),
    }
}

/// Answers one `/session*` request with the signer's `handle`.
pub(crate) async fn session(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SESSION_BODY).await else {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "request body too large",
        );
    };
    let query = decode_form(parts.uri.query());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.method = parts.method.clone();
    context.http.path = Some(parts.uri.path().to_owned());
    context.http.source_ip = Some(peer.ip().to_string());
    context.time_epoch = app.clock.now().saturating_mul(1000);
    let request = lambda_http::Request::from_parts(parts, lambda_body(&bytes))
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV2(context));
    match keyhole_signer::handle(&app.signer, request).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            Response::from_parts(parts, http_body(body))
        }
        Err(e) => {
            // What API Gateway shows for a failed invocation.
            tracing::error!(error = %e, "the signer handler failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal Server Error",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_are_decoded_and_repeated_names_kept() {
        let m = decode_form(Some("return=%2Fusers%2Fa%2F&x=1&x=2&flag&sp=a+b%20c"));
        assert_eq!(m["return"], ["/users/a/"]);
        assert_eq!(m["x"], ["1", "2"]);
        assert_eq!(m["flag"], [""]);
        assert_eq!(m["sp"], ["a+b c"]);
        assert!(decode_form(None).is_empty());
    }

    #[test]
    fn bodies_cross_the_adapter_unchanged() {
        assert!(matches!(lambda_body(b""), lambda_http::Body::Empty));
        assert!(matches!(lambda_body(b"{}"), lambda_http::Body::Text(t) if t == "{}"));
        assert!(matches!(lambda_body(&[0xff, 0]), lambda_http::Body::Binary(b) if b == [0xff, 0]));
    }
}
