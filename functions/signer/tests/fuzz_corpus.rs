//! Replays the committed fuzz corpora (fuzz/corpus/<target>/) through the same invariant checks
//! the cargo-fuzz targets run, on stable Rust. A file that breaks an invariant fails the test.

use std::path::{Path, PathBuf};

fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
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
fn scope_corpus() {
    replay("scope", keyhole_signer::fuzzing::check_scope);
}

#[test]
fn bridge_return_corpus() {
    replay(
        "bridge_return",
        keyhole_signer::fuzzing::check_bridge_return,
    );
}
