//! The accept loop: HTTP/1.1 on hyper with every resource a client can hold bounded. A slow or
//! hostile client gets a clean 4xx or a closed connection, and never a slot others need:
//!
//! - at most [`Limits::max_connections`] connections are open; one past that is answered
//!   `503` and closed at once, without being read;
//! - a request's line and headers must arrive within [`Limits::header_read_timeout`] (an idle
//!   keep-alive connection too), or the connection is closed;
//! - they may not exceed [`MAX_HEADER_BYTES`] (CloudFront's limit) nor [`MAX_HEADER_LINES`]
//!   lines: `431` and closed;
//! - a request body must arrive within [`Limits::body_read_timeout`] (`408`) and may not exceed
//!   [`MAX_BODY_BYTES`] (`413`), read before any handler runs, so no handler waits on a client.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::responses::{error_response, json_error};

/// The most bytes a request line and its headers may take: CloudFront's limit on a viewer
/// request ("request line and headers, 20,480 bytes").
pub const MAX_HEADER_BYTES: usize = 20_480;

/// The most header lines in one request (hyper's default; a browser sends about 20).
pub const MAX_HEADER_LINES: usize = 100;

/// The largest request body read, on any path: a token request is a few KB and the signer
/// refuses more than 32 KiB itself. Nothing else the local stack serves takes a body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long in-flight requests get to finish once shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The bounds `keyhole serve` puts on its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; one more is answered `503` and closed.
    pub max_connections: usize,
    /// Time for a request's line and headers to arrive (and for an idle keep-alive connection to
    /// start its next request).
    pub header_read_timeout: Duration,
    /// Time for a request's body to arrive, from when its headers were read.
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    /// 512 connections, 10 s for the headers, 10 s for the body.
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

/// What a connection past the limit is told before it is closed.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// Accepts connections on `listener` and serves `router` on each until `shutdown` completes,
/// then lets in-flight requests finish (for a few seconds at most).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "too many connections: refused");
            // One non-blocking write: a client that does not read does not hold this loop.
            let _ = stream.try_write(BUSY);
            continue;
        };
        let router = router.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            connection(stream, peer, router, limits, &mut stop).await;
        });
    }
    drop(stop_tx);
    // Every connection holds a slot: all of them back means all connections are done.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
    Ok(())
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    stop: &mut watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move {
            let resp: Result<Response<Body>, Infallible> =
                tower_service::Service::call(&mut router, req.map(Body::new)).await;
            resp
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADER_LINES)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts, oversized heads, resets: the client's doing, not a server fault.
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Reads the whole request body before the handler runs, within the time and size bounds
/// (middleware; its state is the body read timeout).
pub(crate) async fn read_body(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    req: Request,
    next: Next,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let json = parts.uri.path().starts_with("/session") || parts.uri.path().starts_with("/idp");
    // A declared length past the bound is refused before any of the body is waited for.
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refuse(
            json,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        );
    }
    let bytes =
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                return if too_large {
                    refuse(
                        json,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request body too large",
                    )
                } else {
                    refuse(json, StatusCode::BAD_REQUEST, "request body unreadable")
                };
            }
            Err(_) => {
                return refuse(
                    json,
                    StatusCode::REQUEST_TIMEOUT,
                    "request body not received in time",
                );
            }
        };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A refusal in the shape the path's clients read: JSON for the signer and the identity
/// provider, CloudFront's XML elsewhere. `Connection: close`: the rest of the body is not read.
fn refuse(json: bool, status: StatusCode, message: &str) -> Response<Body> {
    let mut resp = if json {
        json_error(status, "invalid_request", message)
    } else {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "EntityTooLarge",
            StatusCode::REQUEST_TIMEOUT => "RequestTimeout",
            _ => "InvalidRequest",
        };
        error_response(status, code, message)
    };
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    resp
}
