//! The HTTP key-set source against misbehaving servers on 127.0.0.1: slow, huge, redirecting,
//! failing. Each must end in a clear error, quickly, never a hang or unbounded memory.

use std::time::{Duration, Instant};

use keyhole_token::{HttpJwksSource, JwksSource, MAX_DOCUMENT_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves every connection with `respond` (after reading the request head).
async fn server(respond: fn() -> Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/keys",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                match respond() {
                    Some(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                        let _ = socket.shutdown().await;
                    }
                    // Hold the connection open and say nothing.
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    url
}

fn http(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n{headers}connection: close\r\n\r\n").into_bytes();
    out.extend_from_slice(body);
    out
}

fn source() -> HttpJwksSource {
    HttpJwksSource::with_timeouts(
        Duration::from_millis(500),
        Duration::from_millis(300),
        Duration::from_secs(2),
    )
    .unwrap()
}

#[tokio::test]
async fn a_good_response_is_returned() {
    let url = server(|| Some(http("200 OK", "content-length: 11\r\n", br#"{"keys":[]}"#))).await;
    assert_eq!(source().fetch(&url).await.unwrap(), r#"{"keys":[]}"#);
}

#[tokio::test]
async fn a_silent_issuer_times_out_quickly() {
    let url = server(|| None).await;
    let started = Instant::now();
    let err = source().fetch(&url).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.reason, "timed out", "{err}");
    assert!(err.to_string().contains(&url));
}

#[tokio::test]
async fn an_oversized_document_is_refused() {
    let declared = server(|| {
        let body = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        Some(http(
            "200 OK",
            &format!("content-length: {}\r\n", body.len()),
            &body,
        ))
    })
    .await;
    let undeclared =
        server(|| Some(http("200 OK", "", &vec![b' '; MAX_DOCUMENT_BYTES + 10]))).await;
    for url in [declared, undeclared] {
        let err = source().fetch(&url).await.unwrap_err();
        assert_eq!(err.reason, "document larger than 1 MiB", "{err}");
    }
}

#[tokio::test]
async fn redirects_and_error_statuses_are_not_followed() {
    let redirect = server(|| {
        Some(http(
            "302 Found",
            "location: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\n",
            b"",
        ))
    })
    .await;
    let err = source().fetch(&redirect).await.unwrap_err();
    assert_eq!(err.reason, "HTTP status 302 Found");

    let failing = server(|| {
        Some(http(
            "503 Service Unavailable",
            "content-length: 0\r\n",
            b"",
        ))
    })
    .await;
    let err = source().fetch(&failing).await.unwrap_err();
    assert_eq!(err.reason, "HTTP status 503 Service Unavailable");
}

#[tokio::test]
async fn a_closed_port_is_a_connection_failure() {
    let err = source().fetch("http://127.0.0.1:9/keys").await.unwrap_err();
    assert!(
        err.reason.starts_with("connection failed: ") && err.reason.len() > 20,
        "the reason names the cause: {err}"
    );
}
