//! `keyhole rotate --state-dir` and `keyhole keys list --state-dir`: the local stack's key rotated
//! with no AWS account, and the one-line errors for a missing folder, an empty one, a corrupt
//! file and a full key group.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use keyhole_core::SystemClock;
use keyhole_serve::key_store::{KEY_GROUP_FILE, KeyStore};

fn keyhole(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyhole"))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn state() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    KeyStore::open_or_create(dir.path(), Arc::new(SystemClock)).unwrap();
    dir
}

fn current_id(dir: &Path) -> String {
    let store = KeyStore::open(dir, Arc::new(SystemClock)).unwrap();
    keyhole_signer::parse_secret_json(&store.secret.current_value().unwrap())
        .unwrap()
        .key_pair_id
}

fn assert_one_clear_line(out: &Output, want: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("keyhole: ") && err.contains(want), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn rotate_prints_each_step_and_the_new_key_pair_id_and_keys_list_names_the_signing_key() {
    let dir = state();
    let d = dir.path().to_str().unwrap();
    let old = current_id(dir.path());
    let out = keyhole(&["rotate", "--state-dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let new = current_id(dir.path());
    assert_ne!(new, old);
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(step))
            .unwrap_or_else(|| panic!("{step} in {stdout}"));
        assert!(line.contains(" ms "), "{line}");
    }
    assert!(
        stdout.contains(&format!("new key pair id {new}")),
        "{stdout}"
    );
    let list = keyhole(&["keys", "list", "--state-dir", d]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listing = text(&list.stdout);
    assert!(listing.contains("2 of 5 keys"), "{listing}");
    let signing = listing.lines().find(|l| l.contains(&new)).unwrap();
    assert!(signing.contains("signing (AWSCURRENT)"), "{listing}");
    let retired = listing.lines().find(|l| l.contains(&old)).unwrap();
    assert!(retired.contains("retired"), "{listing}");
}

#[test]
fn a_missing_or_empty_state_folder_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let missing = missing.to_str().unwrap();
    assert_one_clear_line(&keyhole(&["rotate", "--state-dir", missing]), "nope");
    assert_one_clear_line(&keyhole(&["keys", "list", "--state-dir", missing]), "nope");
    assert_one_clear_line(
        &keyhole(&["rotate", "--state-dir", dir.path().to_str().unwrap()]),
        "keyhole serve",
    );
}

#[test]
fn a_corrupt_key_group_file_is_named() {
    let dir = state();
    std::fs::write(dir.path().join(KEY_GROUP_FILE), "{\"revision\":").unwrap();
    let d = dir.path().to_str().unwrap();
    assert_one_clear_line(&keyhole(&["rotate", "--state-dir", d]), KEY_GROUP_FILE);
    assert_one_clear_line(
        &keyhole(&["keys", "list", "--state-dir", d]),
        KEY_GROUP_FILE,
    );
}

#[test]
fn a_group_of_five_live_keys_refuses_the_next_rotation_with_the_steps_reason() {
    let dir = state();
    let d = dir.path().to_str().unwrap();
    for _ in 0..4 {
        let out = keyhole(&["rotate", "--state-dir", d]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let signing = current_id(dir.path());
    let full = keyhole(&["rotate", "--state-dir", d]);
    assert_one_clear_line(&full, "is full");
    assert!(text(&full.stderr).contains("the next key can be added at"));
    assert_eq!(current_id(dir.path()), signing, "AWSCURRENT did not move");
}
