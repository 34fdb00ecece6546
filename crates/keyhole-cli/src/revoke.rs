//! `keyhole revoke`: end sessions early by writing a prefix entry into the deny-list the edge
//! check reads (formats in `keyhole_core::revocation`). Sessions for that prefix, or below it,
//! issued before now are refused with 401 `session_revoked`; a sign-in after it works at once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use keyhole_core::revocation::{Entry, check_prefix};
use keyhole_core::{Clock, SystemClock};
use keyhole_revoke::{DenyStore, FileStore, KvsStore, Revoker};

use crate::output::outln;

/// Options of `keyhole revoke`. One of `--user` or `--prefix`; one of `--state-dir` or
/// `--kvs-arn` (or REVOCATION_KVS_ARN).
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["user", "prefix"])))]
#[command(group(clap::ArgGroup::new("store").required(true).args(["state_dir", "kvs_arn"])))]
pub struct Args {
    /// End the sessions of the user with this `sub` (the prefix /users/SUB/ of the default scope).
    #[arg(long)]
    user: Option<String>,
    /// End every session for this path prefix and below it, e.g. /groups/admins/.
    #[arg(long)]
    prefix: Option<String>,
    /// The local stack's state folder (`keyhole serve --state-dir`), whose deny-list file to write.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The CloudFront KeyValueStore's ARN (the stack's `RevocationStoreArn` output); AWS
    /// credentials from the environment.
    #[arg(long, env = "REVOCATION_KVS_ARN")]
    kvs_arn: Option<String>,
}

/// The prefix the arguments name.
fn prefix(args: &Args) -> anyhow::Result<String> {
    let prefix = match (&args.user, &args.prefix) {
        (Some(sub), _) => {
            if sub.is_empty() || sub.contains('/') {
                anyhow::bail!("--user takes a token's sub claim, which holds no '/': {sub:?}");
            }
            format!("/users/{sub}/")
        }
        (None, Some(p)) => p.clone(),
        (None, None) => anyhow::bail!("name --user SUB or --prefix PATH"),
    };
    check_prefix(&prefix)?;
    Ok(prefix)
}

/// Writes the entry, then prunes what can no longer refuse anything.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let prefix = prefix(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store: Arc<dyn DenyStore> = match (&args.state_dir, &args.kvs_arn) {
            (Some(dir), _) => Arc::new(FileStore::in_state_dir(dir)),
            (None, Some(arn)) => Arc::new(KvsStore::from_env(arn.clone()).await),
            (None, None) => anyhow::bail!("name --state-dir DIR or --kvs-arn ARN"),
        };
        let now = SystemClock.now();
        let revoker = Revoker::new(store, keyhole_signer::MAX_TTL_SECONDS);
        revoker
            .write(&[Entry::prefix(&prefix, now)?])
            .await
            .with_context(|| format!("writing the revocation of {prefix}"))?;
        let pruned = revoker.prune(now).await.context("pruning the deny-list")?;
        outln!(
            "revoked {prefix}: sessions issued before {now} are refused; {} dead entries pruned, {} kept",
            pruned.pruned,
            pruned.kept
        )?;
        Ok(ExitCode::SUCCESS)
    })
}
