//! The CloudFront stand-in, for every path that is not `/session*`, the demo page or the IdP:
//! first the edge check (the viewer-request function), then the trusted-key-group check of the
//! signed cookies, then the bucket. Refusals carry CloudFront's 403 XML bodies.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Response, StatusCode, header};
use keyhole_core::VerifyError;

use crate::edge::{EdgeError, EdgeOutcome, EdgeResponse, ViewerRequest, viewer_request_event};
use crate::responses::{self, header_value, respond_or_500};
use crate::server::App;

/// Answers one request as CloudFront in front of the private bucket would.
pub(crate) async fn serve(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, _) = req.into_parts();
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let domain = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let event = viewer_request_event(&ViewerRequest {
        method: parts.method.as_str(),
        uri: parts.uri.path(),
        query: parts.uri.query(),
        headers,
        client_ip: Some(peer.ip()),
        domain,
    });
    match app.edge.check(event).await {
        Ok(EdgeOutcome::Pass) => {}
        Ok(EdgeOutcome::Respond(r)) => return edge_response(&r),
        // Fail closed, as CloudFront does when a function errors or is throttled.
        Err(EdgeError::Saturated(waiting)) => {
            tracing::warn!(waiting, "the edge check is saturated");
            return responses::error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "FunctionThrottledError",
                "The CloudFront function associated with the CloudFront distribution was throttled.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "the edge check failed");
            return responses::error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "FunctionExecutionError",
                "The CloudFront function associated with the CloudFront distribution failed to execute.",
            );
        }
    }
    let url = match parts.uri.query() {
        Some(q) => format!("{}{}?{q}", app.info.asset_base_url, parts.uri.path()),
        None => format!("{}{}", app.info.asset_base_url, parts.uri.path()),
    };
    if let Some(refusal) = check_cookies(&app, &parts.headers, &url, peer.ip()) {
        return refusal;
    }
    let mut resp = app
        .assets
        .respond(&parts.method, parts.uri.path(), &parts.headers)
        .await;
    apply_response_headers_policy(&app, &parts.headers, &mut resp);
    resp
}

/// What the template's response headers policy on the asset behaviour adds: `Cache-Control` for
/// viewers (every use revalidates by default), and credentialed CORS for `ALLOWED_ORIGINS`.
fn apply_response_headers_policy(app: &App, request: &HeaderMap, resp: &mut Response<Body>) {
    let cacheable = resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED;
    let headers = resp.headers_mut();
    if cacheable {
        headers.insert(header::CACHE_CONTROL, app.asset_cache_control.clone());
    }
    let allowed = &app.signer.config().allowed_origins;
    if allowed.is_empty() {
        return;
    }
    headers.insert(header::VARY, header_value("Origin"));
    let origin = request.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin.filter(|o| allowed.iter().any(|a| a == o)) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, header_value(origin));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header_value("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header_value("Accept-Ranges, Content-Length, Content-Range, ETag"),
        );
    }
}

/// The answer the edge-check function gave instead of passing the request on.
fn edge_response(r: &EdgeResponse) -> Response<Body> {
    let mut builder = Response::builder().status(r.status);
    for (name, value) in &r.headers {
        builder = builder.header(name.as_str(), header_value(value));
    }
    respond_or_500(builder.body(r.body.clone().map_or_else(Body::empty, Body::from)))
}

/// CloudFront's own check of signed cookies against the trusted key group; `None` when they
/// grant `url`.
fn check_cookies(app: &App, headers: &HeaderMap, url: &str, ip: IpAddr) -> Option<Response<Body>> {
    let joined: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = joined.join("; ");
    let cookies = keyhole_core::parse_cookie_header(&joined);
    let has = |name: &str| cookies.iter().any(|(k, v)| *k == name && !v.is_empty());
    if !has("CloudFront-Key-Pair-Id") {
        return Some(responses::error_response(
            StatusCode::FORBIDDEN,
            "MissingKey",
            "Missing Key-Pair-Id query parameter or cookie value",
        ));
    }
    match app
        .trusted
        .verifier()
        .verify_cookies(&cookies, url, Some(ip), app.clock.now())
    {
        Ok(_) => None,
        Err(e) => Some(refusal(&e)),
    }
}

/// The 403 CloudFront answers for each way signed cookies fail.
pub fn refusal(e: &VerifyError) -> Response<Body> {
    let (code, message) = match e {
        VerifyError::UnknownKeyPairId(..) => ("InvalidKey", "Unknown Key"),
        VerifyError::Malformed(..) => ("MalformedPolicy", "Malformed Policy"),
        _ => ("AccessDenied", "Access denied"),
    };
    responses::error_response(StatusCode::FORBIDDEN, code, message)
}
