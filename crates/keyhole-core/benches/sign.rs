//! Criterion benchmarks of the per-request cost: one signature over a typical custom policy, for
//! each key type and hash, plus the full cookie set and its verification.
//! `scripts/bench-sign.sh` prints signs per second beside `openssl speed` from the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use keyhole_core::{HashAlgorithm, KeyType, Policy, Signer, SigningKey, Verifier};
use std::hint::black_box;

fn policy() -> Policy {
    Policy::new(
        "https://d111111abcdef8.cloudfront.net/users/0f8fad5b-d9cb-469f-a165-70867728950e/*",
        1_767_290_400,
    )
    .unwrap_or_else(|e| panic!("policy: {e}"))
}

fn sign(c: &mut Criterion) {
    let json = policy().to_json();
    let mut group = c.benchmark_group("sign");
    for (kind, hash, name) in [
        (KeyType::Rsa2048, HashAlgorithm::Sha1, "rsa2048-sha1"),
        (KeyType::Rsa2048, HashAlgorithm::Sha256, "rsa2048-sha256"),
        (
            KeyType::EcdsaP256,
            HashAlgorithm::Sha256,
            "ecdsa-p256-sha256",
        ),
    ] {
        let key = SigningKey::generate(kind).unwrap_or_else(|e| panic!("keygen: {e}"));
        group.bench_function(name, |b| {
            b.iter(|| key.sign(black_box(json.as_bytes()), hash))
        });
    }
    group.finish();
}

fn cookies(c: &mut Criterion) {
    let key = SigningKey::generate(KeyType::EcdsaP256).unwrap_or_else(|e| panic!("keygen: {e}"));
    let verifier = Verifier::new().with_key(
        "K1",
        key.verifying_key()
            .unwrap_or_else(|e| panic!("public key: {e}")),
    );
    let signer = Signer::new(key, "K1", HashAlgorithm::Sha256);
    let policy = policy();
    c.bench_function("cookies/ecdsa-p256-sha256", |b| {
        b.iter(|| signer.cookies(black_box(&policy)))
    });
    let set = signer
        .cookies(&policy)
        .unwrap_or_else(|e| panic!("sign: {e}"))
        .pairs();
    let pairs: Vec<(&str, &str)> = set.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let url =
        "https://d111111abcdef8.cloudfront.net/users/0f8fad5b-d9cb-469f-a165-70867728950e/cat.png";
    c.bench_function("verify_cookies/ecdsa-p256-sha256", |b| {
        b.iter(|| verifier.verify_cookies(black_box(&pairs), url, None, 1_767_000_000))
    });
}

criterion_group!(benches, sign, cookies);
criterion_main!(benches);
