//! The `--state-dir` arm of `keyhole rotate` and `keyhole keys list`: the same four steps and the
//! same listing, against the local stack's secret and key group (files in its state folder, see
//! `keyhole_serve::key_store`). No AWS account, no credentials.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use keyhole_core::SystemClock;
use keyhole_rotation::{list_keys, rotate as rotate_steps};
use keyhole_serve::key_store::{KeyStore, LOCAL_KEY_GROUP_ID, LOCAL_SECRET_ID};

use crate::output::outln;
use crate::rotate::{Retention, print_listing, print_steps};
use crate::when;

fn open(dir: &Path) -> anyhow::Result<KeyStore> {
    KeyStore::open(dir, Arc::new(SystemClock))
        .with_context(|| format!("opening the local stack's keys in {}", dir.display()))
}

/// Rotates the local signing key: one line per step, then the new key pair id and the group.
pub async fn rotate(
    dir: &Path,
    token: Option<&str>,
    retention: &Retention,
) -> anyhow::Result<ExitCode> {
    let store = open(dir)?;
    let config = retention.config(LOCAL_KEY_GROUP_ID);
    let outcomes = rotate_steps(
        LOCAL_SECRET_ID,
        token,
        &config,
        &store.secret,
        &store.group,
        when::now,
    )
    .await
    .with_context(|| format!("rotating the local signing key in {}", dir.display()))?;
    print_steps(&outcomes)?;
    let value = store
        .secret
        .current_value()
        .context("reading the new key back")?;
    let id = keyhole_signer::parse_secret_json(&value)
        .map_err(|reason| anyhow::anyhow!("{}: {reason}", store.secret.path().display()))?
        .key_pair_id;
    outln!(
        "new key pair id {id}: a running keyhole serve signs with it within seconds; cookies \
         signed with the old key keep working until it is pruned"
    )?;
    let listing = list_keys(
        &config,
        Some(LOCAL_SECRET_ID),
        &store.secret,
        &store.group,
        when::now(),
    )
    .await
    .context("reading the key group back")?;
    print_listing(&listing, &config)
}

/// Lists the local key group, naming the key that signs.
pub async fn list(dir: &Path, retention: &Retention) -> anyhow::Result<ExitCode> {
    let store = open(dir)?;
    let config = retention.config(LOCAL_KEY_GROUP_ID);
    let listing = list_keys(
        &config,
        Some(LOCAL_SECRET_ID),
        &store.secret,
        &store.group,
        when::now(),
    )
    .await
    .with_context(|| format!("listing the local key group in {}", dir.display()))?;
    print_listing(&listing, &config)
}
