//! Replays the committed fuzz corpora (fuzz/corpus/<target>/) through the same invariant checks
//! the cargo-fuzz targets run, on stable Rust. A file that breaks an invariant fails the test.

use std::path::{Path, PathBuf};

use keyhole_core::fuzzing::{self, KEY_PAIR_ID, NOW};
use keyhole_core::{HashAlgorithm, Policy, Signer};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn replay(target: &str, check: fn(&[u8])) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
    for file in files {
        let data = std::fs::read(&file).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{} breaks an invariant of {target}", file.display());
        }
    }
}

#[test]
fn cookie_header_corpus() {
    replay("cookie_header", fuzzing::check_cookie_header);
}

#[test]
fn signed_url_corpus() {
    replay("signed_url", fuzzing::check_signed_url);
}

#[test]
fn policy_corpus() {
    replay("policy", fuzzing::check_policy);
}

/// Writes the hand-made seeds (signed with the fixture key, so the fuzzer starts from cookie sets
/// and URLs that verify). Run once with `cargo test -p keyhole-core --test fuzz_corpus -- --ignored`;
/// the committed corpora are these seeds merged with what the fuzzer found, minimised.
#[test]
#[ignore = "writes the seed corpus into fuzz/corpus"]
fn write_seeds() {
    let signer = |hash| Signer::new(fuzzing::fixture().0.clone(), KEY_PAIR_ID, hash);
    let exp = NOW + 3600;
    let resources = [
        "https://d.example/users/alice/*",
        "https://d.example/users/alice/cat.png",
        "https://*.example.com/*",
        "http://example.com*",
        "*example.com",
        "https://d.example/*game_download.zip*",
        "https://d.example/hello*world",
        "https://d.example/a.png?size=large&license=yes",
        "https*://d?example/u/*?v=*",
        "*",
    ];
    let urls = [
        "https://d.example/users/alice/cat.png",
        "https://d.example/users/alice/a/b.png?x=1",
        "https://d.example/users/bob/cat.png",
        "https://d.example/users/alice/../bob/cat.png",
        "https://cdn.example.com/x",
        "https://evil.test/cdn.example.com/x",
        "http://example.com.evil/x",
        "https://www.example.com/",
        "https://d.example/test_game_download.zip?license=temp",
        "https://d.example/hello?world",
        "https://d.example/a.png?size=large&license=yes",
        "https://d.example?x=1",
        "/users/alice/cat.png",
    ];
    let mut written = Vec::new();
    let mut put = |target: &str, name: String, body: String| {
        let dir = corpus(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), body).unwrap();
        written.push(target.to_owned());
    };
    for (r, resource) in resources.iter().enumerate() {
        for (h, hash) in [HashAlgorithm::Sha256, HashAlgorithm::Sha1]
            .into_iter()
            .enumerate()
        {
            let policy = Policy::new(*resource, exp).unwrap().starting_at(NOW - 60);
            let Ok(cookies) = signer(hash).cookies(&policy) else {
                continue;
            };
            let header = cookies
                .pairs()
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            for (u, url) in urls
                .iter()
                .enumerate()
                .filter(|(u, _)| (u + r + h) % 3 == 0)
            {
                put(
                    "cookie_header",
                    format!("seed-{r}-{h}-{u}"),
                    format!("{url}\n{header}"),
                );
            }
            put(
                "policy",
                format!("seed-{r}-{h}"),
                format!("{}\n{}", urls[(r + h) % urls.len()], policy.to_json()),
            );
            let base = urls[r % urls.len()];
            if let Ok(signed) = signer(hash).signed_url(base, &policy) {
                put("signed_url", format!("seed-custom-{r}-{h}"), signed);
            }
        }
    }
    for (u, url) in urls.iter().enumerate() {
        if let Ok(canned) = signer(HashAlgorithm::Sha256).canned_url(url, exp) {
            put("signed_url", format!("seed-canned-{u}"), canned.clone());
            put(
                "signed_url",
                format!("seed-canned-{u}-x"),
                format!("{canned}&v=2"),
            );
        }
        if let Ok(cookies) = signer(HashAlgorithm::Sha1).canned_cookies(url, exp) {
            let header = cookies
                .pairs()
                .iter()
                .map(|(n, v)| format!("{n}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(";");
            put(
                "cookie_header",
                format!("seed-canned-{u}"),
                format!("{url}\ntoken=abc; {header}; theme=dark"),
            );
        }
    }
    let policies = [
        r#"{"Statement":[{"Resource":"https://d.example/users/alice/*","Condition":{"DateLessThan":{"AWS:EpochTime":1800003600},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}"#,
        r#"{"Statement":[{"Resource":"https://d.example/users/alice/*","Condition":{"DateLessThan":{"AWS:EpochTime":1800003600},"DateGreaterThan":{"AWS:EpochTime":1900000000}}}]}"#,
        r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1800003600}}}]}"#,
        r#"{"Statement":[{"Resource":"https://d.example/*","Condition":{"DateLessThan":{"AWS:EpochTime":1800003600}}},{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":1800003600}}}]}"#,
        r#"{"Statement":[{"Resource":"https://d.example/*","Condition":{"DateLessThan":{"AWS:EpochTime":1800003600}},"Extra":1}]}"#,
        r#"{"Statement":[{"Resource":"https://d.example/*","Condition":{"DateLessThan":{"AWS:EpochTime":17}}}]}"#,
        r#"{"Statement":[{"Resource":"https://d.example/\u002a","Condition":{"DateLessThan":{"AWS:EpochTime":1800003600}}}]}"#,
        r#"{"Statement":[{"Resource":"","Condition":{"DateLessThan":{"AWS:EpochTime":1800003600}}}]}"#,
    ];
    for (i, p) in policies.iter().enumerate() {
        put(
            "policy",
            format!("seed-doc-{i}"),
            format!("https://d.example/users/alice/x.png\n{p}"),
        );
    }
    for (i, h) in [
        "",
        ";;;",
        "a=b; c=\"d\"; =e; f; g==h",
        "CloudFront-Key-Pair-Id=KFUZZFIXTURE1; CloudFront-Signature=AAAA; CloudFront-Expires=1800003600",
        "CloudFront-Policy=e30_; CloudFront-Signature=~~~; CloudFront-Key-Pair-Id=OTHER",
    ]
    .iter()
    .enumerate()
    {
        put("cookie_header", format!("seed-plain-{i}"), format!("https://d.example/users/alice/a.png\n{h}"));
    }
    assert!(!written.is_empty());
}
