//! Warm-cache verification throughput, RS256 and ES256, on one core (criterion runs the loop on
//! one thread; the key set is preloaded so no network is involved).
//!
//! Verifications per second = 1 / (time per iteration). Target: >= 30,000 RS256/s per core.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keyhole_token::{FetchError, FetchFuture, JwksSource, TokenConfig, TokenVerifier};
use serde_json::json;

const ISSUER: &str = "https://issuer.example";

/// The cache is preloaded; a fetch would mean the benchmark measures the wrong thing.
struct NoNetwork;

impl JwksSource for NoNetwork {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move { Err(FetchError::new(url, "the benchmark never fetches")) })
    }
}

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn token(alg: Algorithm, key: EncodingKey, kid: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": ISSUER, "sub": "0b7c1e2a-5f1d-4c1e-9f0a-3d2b1c0e9f8a", "aud": "photo-app",
        "iat": now, "exp": now + 3600, "email": "user@example.com", "groups": ["readers"]
    });
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn bench(c: &mut Criterion) {
    let config = TokenConfig::from_vars(|name| match name {
        "OIDC_ISSUER" => Some(ISSUER.into()),
        "OIDC_AUDIENCE" => Some("photo-app".into()),
        "REQUIRED_GROUPS" => Some("readers".into()),
        _ => None,
    })
    .unwrap();
    let verifier = TokenVerifier::new(config, Arc::new(NoNetwork))
        .with_key_set(&testdata("jwks.json"))
        .unwrap();
    let rs256 = token(
        Algorithm::RS256,
        EncodingKey::from_rsa_pem(testdata("rsa-a.pem").as_bytes()).unwrap(),
        "rsa-a",
    );
    let es256 = token(
        Algorithm::ES256,
        EncodingKey::from_ec_pem(testdata("ec-a.pem").as_bytes()).unwrap(),
        "ec-a",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("verify_warm_cache");
    group.throughput(Throughput::Elements(1));
    for (name, token) in [("RS256", &rs256), ("ES256", &es256)] {
        runtime.block_on(verifier.verify(token)).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime
                    .block_on(verifier.verify(std::hint::black_box(token)))
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
