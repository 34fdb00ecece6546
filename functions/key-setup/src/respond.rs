//! Delivering the answer: CloudFormation waits for a PUT of the response JSON to the request's
//! pre-signed S3 URL.

use crate::{CfnResponse, Error};

/// How often a failed PUT is tried in all. The function is set to no Lambda retries (a retry would
/// run Create twice), so transient S3 errors are retried here instead.
pub const ATTEMPTS: u32 = 3;

/// PUTs `response` to `url`, retrying network errors and 5xx answers with a short back-off. The
/// pre-signed URL signs no content type, so none is sent (an empty `Content-Type`, as AWS's own
/// cfn-response helper does).
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    response: &CfnResponse,
) -> Result<(), Error> {
    send_with_backoff(client, url, response, std::time::Duration::from_millis(500)).await
}

/// [`send`] with the first back-off given (it doubles after each try); tests use a short one.
pub async fn send_with_backoff(
    client: &reqwest::Client,
    url: &str,
    response: &CfnResponse,
    first_backoff: std::time::Duration,
) -> Result<(), Error> {
    let body = serde_json::to_vec(response).map_err(|e| Error::Respond(e.to_string()))?;
    let mut backoff = first_backoff;
    let mut attempt = 1;
    loop {
        let outcome = client
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "")
            .body(body.clone())
            .send()
            .await;
        let (error, retryable) = match outcome {
            Ok(answer) if answer.status().is_success() => return Ok(()),
            Ok(answer) => (
                format!("the response URL answered {}", answer.status()),
                answer.status().is_server_error(),
            ),
            Err(e) => (e.to_string(), true),
        };
        if !retryable || attempt >= ATTEMPTS {
            return Err(Error::Respond(format!(
                "{error} (attempt {attempt} of {ATTEMPTS})"
            )));
        }
        tracing::warn!(attempt, %error, "response PUT failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{OriginalUri, State};
    use axum::http::{HeaderMap, Method, StatusCode};

    use super::*;
    use crate::setup::fakes::{FakeCloudFront, FakeSecrets};
    use crate::{Status, process};

    #[derive(Debug, Clone)]
    struct Received {
        method: Method,
        uri: String,
        content_type: Option<String>,
        body: serde_json::Value,
    }

    type Inbox = Arc<Mutex<Vec<Received>>>;

    /// Back-off for the retry tests: the schedule is what is tested, not the waiting.
    const FAST: std::time::Duration = std::time::Duration::from_millis(1);

    /// A stand-in for the pre-signed S3 URL on 127.0.0.1 that records each request and answers
    /// with `status`.
    async fn response_bucket(status: StatusCode) -> (String, Inbox) {
        response_bucket_answering(vec![status]).await
    }

    /// Answers the n-th request with `statuses[n]` (the last one repeats).
    async fn response_bucket_answering(statuses: Vec<StatusCode>) -> (String, Inbox) {
        let inbox: Inbox = Arc::default();
        let app = Router::new()
            .fallback(
                move |State(inbox): State<Inbox>,
                      method: Method,
                      OriginalUri(uri): OriginalUri,
                      headers: HeaderMap,
                      body: Bytes| {
                    let statuses = statuses.clone();
                    async move {
                        let mut seen = inbox.lock().unwrap();
                        seen.push(Received {
                            method,
                            uri: uri.to_string(),
                            content_type: headers
                                .get("content-type")
                                .map(|v| v.to_str().unwrap().to_string()),
                            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                        });
                        statuses[(seen.len() - 1).min(statuses.len() - 1)]
                    }
                },
            )
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), inbox)
    }

    fn event_to(name: &str, base: &str) -> serde_json::Value {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let real = v["ResponseURL"].as_str().unwrap().to_string();
        // Keep the real path and query (the pre-signature), only move the host to loopback.
        let path_and_query = &real[real.find(".com/").unwrap() + 4..];
        v["ResponseURL"] = format!("{base}{path_and_query}").into();
        v
    }

    #[tokio::test]
    async fn the_create_answer_is_put_to_the_response_url_as_cloudformation_expects() {
        let (base, inbox) = response_bucket(StatusCode::OK).await;
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:SigningKeySecret-AbCdEf123456-a1B2c3",
        );
        let (req, resp) = process(event_to("create.json", &base), &cf, &secrets)
            .await
            .unwrap();
        send(&reqwest::Client::new(), &req.response_url, &resp)
            .await
            .unwrap();

        let got = inbox.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let put = &got[0];
        assert_eq!(put.method, Method::PUT);
        assert!(
            put.uri.contains("X-Amz-Signature=0000"),
            "query kept: {}",
            put.uri
        );
        assert!(
            put.uri.starts_with("/arn%3Aaws%3Acloudformation"),
            "{}",
            put.uri
        );
        assert_eq!(put.content_type.as_deref(), Some(""));
        assert_eq!(put.body["Status"], "SUCCESS");
        assert_eq!(
            put.body["RequestId"],
            "d3b07384-d9a0-4c9e-8f1b-2c3d4e5f6a7b"
        );
        assert_eq!(put.body["LogicalResourceId"], "KeySetup");
        assert_eq!(put.body["StackId"], req.stack_id.as_str());
        let group = put.body["PhysicalResourceId"].as_str().unwrap();
        assert!(cf.state().key_groups.contains_key(group));
        assert_eq!(put.body["Data"]["KeyGroupId"], group);
        assert!(Status::Success == resp.status);
    }

    #[tokio::test]
    async fn a_failed_request_is_still_answered_with_its_reason() {
        let (base, inbox) = response_bucket(StatusCode::OK).await;
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let (req, resp) = process(event_to("create.json", &base), &cf, &secrets)
            .await
            .unwrap();
        send(&reqwest::Client::new(), &req.response_url, &resp)
            .await
            .unwrap();
        let got = inbox.lock().unwrap().clone();
        assert_eq!(got[0].body["Status"], "FAILED");
        assert!(
            got[0].body["Reason"]
                .as_str()
                .unwrap()
                .contains("PutSecretValue")
        );
    }

    #[tokio::test]
    async fn a_refused_put_is_an_error_naming_the_status() {
        let (base, inbox) = response_bucket(StatusCode::FORBIDDEN).await;
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let (req, resp) = process(event_to("delete.json", &base), &cf, &secrets)
            .await
            .unwrap();
        let err = send(&reqwest::Client::new(), &req.response_url, &resp)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("403"), "{err}");
        assert_eq!(
            inbox.lock().unwrap().len(),
            1,
            "a 4xx is final: the pre-signed URL will not change its mind"
        );
    }

    #[tokio::test]
    async fn a_server_error_is_retried_until_the_put_lands() {
        let (base, inbox) = response_bucket_answering(vec![
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::OK,
        ])
        .await;
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let (req, resp) = process(event_to("delete.json", &base), &cf, &secrets)
            .await
            .unwrap();
        send_with_backoff(&reqwest::Client::new(), &req.response_url, &resp, FAST)
            .await
            .unwrap();
        assert_eq!(inbox.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn retries_stop_after_the_last_attempt() {
        let (base, inbox) = response_bucket(StatusCode::BAD_GATEWAY).await;
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let (req, resp) = process(event_to("delete.json", &base), &cf, &secrets)
            .await
            .unwrap();
        let err = send_with_backoff(&reqwest::Client::new(), &req.response_url, &resp, FAST)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("attempt 3 of 3"), "{err}");
        assert_eq!(inbox.lock().unwrap().len(), ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn an_unreachable_response_url_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let (req, resp) = process(
            event_to("delete.json", &format!("http://{addr}")),
            &cf,
            &secrets,
        )
        .await
        .unwrap();
        assert!(matches!(
            send_with_backoff(&reqwest::Client::new(), &req.response_url, &resp, FAST).await,
            Err(Error::Respond(_))
        ));
    }
}
