//! The real SDK adapter ([`KvsStore`]) over HTTP against a loopback stand-in for the CloudFront
//! KeyValueStore data-plane calls it makes: DescribeKeyValueStore, ListKeys (paged) and
//! UpdateKeys, with the service's ETag / `If-Match` rule and its 409 ConflictException for a
//! stale ETag. moto has no KeyValueStore, so the stand-in is written here from the API reference.
//!
//! The SDK puts the ARN's account id in front of a custom endpoint's host
//! (`http://kvs.test:PORT` becomes `http://123456789012.kvs.test:PORT`), which no resolver knows:
//! the client gets a DNS resolver that answers every name with 127.0.0.1, and the stand-in checks
//! that the host it was sent is the prefixed one.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use aws_sdk_cloudfrontkeyvaluestore::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyhole_core::revocation::Entry;
use keyhole_revoke::{DenyStore, KvsStore, MAX_ATTEMPTS, Revoker, StoreError};
use serde_json::{Value, json};

const ARN: &str =
    "arn:aws:cloudfront::123456789012:key-value-store/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const PAGE: usize = 2;

#[derive(Default)]
struct Kvs {
    version: u64,
    items: BTreeMap<String, String>,
    /// UpdateKeys calls still to be beaten by "another writer" that changes the store first.
    interleave: usize,
    conflicts: usize,
    /// Every request's Host and Authorization scheme.
    seen: Vec<(String, String)>,
}

impl Kvs {
    fn etag(&self) -> String {
        format!("ETV{:08}", self.version)
    }
    fn size(&self) -> usize {
        self.items.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

type Shared = Arc<Mutex<Kvs>>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", code),
            ("content-type", "application/json"),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn record(kvs: &mut Kvs, headers: &HeaderMap) {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let scheme = header("authorization")
        .split(' ')
        .next()
        .unwrap_or("")
        .to_owned();
    kvs.seen.push((header("host"), scheme));
}

async fn describe(
    State(kvs): State<Shared>,
    Path(arn): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut k = kvs.lock().unwrap();
    record(&mut k, &headers);
    if arn != ARN {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "no such store",
        );
    }
    (
        [
            ("etag", k.etag()),
            ("content-type", "application/json".into()),
        ],
        json!({
            "ItemCount": k.items.len(), "TotalSizeInBytes": k.size(), "KvsARN": ARN,
            "Created": 1_767_225_600, "Status": "READY"
        })
        .to_string(),
    )
        .into_response()
}

async fn list(
    State(kvs): State<Shared>,
    Path(_arn): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut k = kvs.lock().unwrap();
    record(&mut k, &headers);
    let start: usize = q.get("NextToken").map_or(0, |t| t.parse().unwrap());
    let items: Vec<Value> = k
        .items
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|(key, value)| json!({ "Key": key, "Value": value }))
        .collect();
    let mut body = json!({ "Items": items });
    if start + PAGE < k.items.len() {
        body["NextToken"] = json!((start + PAGE).to_string());
    }
    ([("content-type", "application/json")], body.to_string()).into_response()
}

async fn update(
    State(kvs): State<Shared>,
    Path(_arn): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut k = kvs.lock().unwrap();
    record(&mut k, &headers);
    if k.interleave > 0 {
        k.interleave -= 1;
        let n = k.version;
        k.items.insert(format!("other-writer-{n}"), "1".into());
        k.version += 1;
    }
    let Some(if_match) = headers.get("if-match").and_then(|v| v.to_str().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "If-Match is required",
        );
    };
    if if_match != k.etag() {
        k.conflicts += 1;
        return error(
            StatusCode::CONFLICT,
            "ConflictException",
            "the key value store was modified since the given ETag",
        );
    }
    let body: Value = serde_json::from_str(&body).unwrap();
    for d in body["Deletes"].as_array().into_iter().flatten() {
        k.items.remove(d["Key"].as_str().unwrap());
    }
    for p in body["Puts"].as_array().into_iter().flatten() {
        k.items.insert(
            p["Key"].as_str().unwrap().into(),
            p["Value"].as_str().unwrap().into(),
        );
    }
    k.version += 1;
    (
        [
            ("etag", k.etag()),
            ("content-type", "application/json".into()),
        ],
        json!({ "ItemCount": k.items.len(), "TotalSizeInBytes": k.size() }).to_string(),
    )
        .into_response()
}

/// Every name is 127.0.0.1; the names asked are kept.
#[derive(Debug, Clone, Default)]
struct Loopback(Arc<Mutex<Vec<String>>>);

impl ResolveDns for Loopback {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        self.0.lock().unwrap().push(name.to_owned());
        DnsFuture::ready(Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]))
    }
}

struct Fixture {
    kvs: Shared,
    names: Loopback,
    store: KvsStore,
    port: u16,
}

async fn fixture() -> Fixture {
    let kvs: Shared = Arc::default();
    let app = Router::new()
        .route("/key-value-stores/{arn}", get(describe))
        .route("/key-value-stores/{arn}/keys", get(list).post(update))
        .with_state(kvs.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let names = Loopback::default();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_with_resolver(names.clone());
    let config = aws_sdk_cloudfrontkeyvaluestore::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(format!("http://kvs.test:{port}"))
        .http_client(http)
        .build();
    let client = aws_sdk_cloudfrontkeyvaluestore::Client::from_conf(config);
    Fixture {
        kvs,
        names,
        store: KvsStore::new(client, ARN),
        port,
    }
}

#[tokio::test]
async fn entries_are_written_listed_and_pruned_through_the_real_sdk() {
    let f = fixture().await;
    let revoker = Revoker::new(Arc::new(f.store.clone()), 3600);
    let now = 2_000_000;
    let entries = [
        Entry::prefix("/users/alice/", now - 10).unwrap(),
        Entry::prefix("/groups/admins/", now - 7200).unwrap(),
        Entry::cookie_set("live-signature", now + 600),
        Entry::cookie_set("dead-signature", now - 600),
        Entry::cookie_set("just-expired", now - 5),
    ];
    revoker.write(&entries).await.unwrap();
    let listed = f.store.list().await.unwrap();
    assert_eq!(
        listed.len(),
        5,
        "every page of ListKeys is read: {listed:?}"
    );
    let report = revoker.prune(now).await.unwrap();
    // The group entry is older than the longest session and the dead set has expired; the set
    // that expired 5 s ago is kept for the edge clock allowance.
    assert_eq!(report.pruned, 2);
    assert_eq!(report.kept, 3);
    let k = f.kvs.lock().unwrap();
    assert!(k.items.contains_key("/users/alice/"));
    assert!(!k.items.contains_key("/groups/admins/"));
    assert!(
        k.items
            .contains_key(Entry::cookie_set("just-expired", 0).key())
    );
    assert!(
        !k.items
            .contains_key(Entry::cookie_set("dead-signature", 0).key())
    );
    // SigV4A (the data plane accepts nothing else), sent to the account-prefixed host.
    let host = format!("123456789012.kvs.test:{}", f.port);
    assert!(!k.seen.is_empty());
    for (h, scheme) in &k.seen {
        assert_eq!(h, &host);
        assert_eq!(scheme, "AWS4-ECDSA-P256-SHA256");
    }
    assert!(
        f.names
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|n| n == "123456789012.kvs.test")
    );
}

#[tokio::test]
async fn a_stale_etag_is_the_adapters_stale_error() {
    let f = fixture().await;
    let etag = f.store.describe().await.unwrap().etag;
    let puts = vec![("/users/a/".to_owned(), "1".to_owned())];
    let next = f.store.update(&etag, &puts, &[]).await.unwrap();
    assert_ne!(next, etag);
    assert_eq!(
        f.store.update(&etag, &puts, &[]).await,
        Err(StoreError::StaleEtag)
    );
    assert_eq!(f.store.describe().await.unwrap().etag, next);
}

#[tokio::test]
async fn a_writer_beaten_by_another_reads_the_etag_again_and_keeps_their_entries() {
    let f = fixture().await;
    f.kvs.lock().unwrap().interleave = 2;
    let revoker = Revoker::new(Arc::new(f.store.clone()), 3600);
    revoker
        .write(&[Entry::prefix("/users/bob/", 100).unwrap()])
        .await
        .unwrap();
    let k = f.kvs.lock().unwrap();
    assert_eq!(k.conflicts, 2);
    assert_eq!(k.items.get("/users/bob/").map(String::as_str), Some("100"));
    assert_eq!(
        k.items.len(),
        3,
        "the other writer's entries stay: {:?}",
        k.items
    );
}

#[tokio::test]
async fn a_store_that_never_settles_is_reported() {
    let f = fixture().await;
    f.kvs.lock().unwrap().interleave = usize::MAX;
    let revoker = Revoker::new(Arc::new(f.store.clone()), 3600);
    let err = revoker
        .write(&[Entry::prefix("/users/bob/", 100).unwrap()])
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Contended(MAX_ATTEMPTS));
}

#[tokio::test]
async fn an_unknown_store_is_unavailable_with_the_services_message() {
    let f = fixture().await;
    let client_store = KvsStore::new(
        aws_sdk_cloudfrontkeyvaluestore::Client::from_conf(
            aws_sdk_cloudfrontkeyvaluestore::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("AKID", "s", None, None, "test"))
                .endpoint_url(format!("http://kvs.test:{}", f.port))
                .http_client(
                    aws_smithy_http_client::Builder::new()
                        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                        .build_with_resolver(f.names.clone()),
                )
                .build(),
        ),
        "arn:aws:cloudfront::123456789012:key-value-store/ffffffff-0000-0000-0000-000000000000",
    );
    match client_store.describe().await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("no such store"), "{m}"),
        other => panic!("{other:?}"),
    }
}
