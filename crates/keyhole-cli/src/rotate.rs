//! `keyhole rotate` and `keyhole keys list`: the signing key's rotation, run by an operator with
//! the same four steps Secrets Manager runs on its schedule (`keyhole_rotation`), and a look at
//! the trusted key group. AWS calls go wherever the environment points them (credentials chain,
//! region, `AWS_ENDPOINT_URL`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use keyhole_rotation::{
    DEFAULT_MARGIN_SECONDS, KeyListing, KeyState, RotationConfig, StepOutcome, list_keys, rotate,
};
use keyhole_signer::MAX_TTL_SECONDS;

use crate::output::outln;
use crate::when;

/// Options of `keyhole rotate`: `--secret-id` and `--key-group-id` for a deployed stack, or
/// `--state-dir` for the local one.
#[derive(clap::Args)]
pub struct RotateArgs {
    /// The signing key's secret in Secrets Manager (name or ARN; the stack's `SigningKeySecretArn`).
    #[arg(long, env = "SIGNING_KEY_SECRET_ID")]
    secret_id: Option<String>,
    /// The distribution's trusted key group (the stack's `KeyGroupId`).
    #[arg(long, env = "KEY_GROUP_ID")]
    key_group_id: Option<String>,
    /// Resume an interrupted rotation: the version id that holds AWSPENDING (the error of the
    /// next `keyhole rotate` names it). Steps already done are skipped.
    #[arg(long, value_name = "VERSION_ID")]
    token: Option<String>,
    /// The local stack's state folder (`keyhole serve --state-dir`, default `.keyhole`): rotate
    /// its key; a running `keyhole serve` picks the new one up within seconds.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    retention: Retention,
}

/// How long a retired key is kept in the group.
#[derive(clap::Args)]
pub(crate) struct Retention {
    /// The longest session the signer issues (its SESSION_TTL_SECONDS), e.g. 1h: a retired key
    /// stays in the group this long plus the margin. Default: the signer's upper bound, 7d, which
    /// never prunes early.
    #[arg(long, value_name = "DURATION", value_parser = when::duration)]
    max_session_ttl: Option<i64>,
    /// Added to the longest session before a retired key may be removed (the signer's key cache
    /// and clock skew).
    #[arg(long, value_name = "DURATION", value_parser = when::duration, default_value_t = DEFAULT_MARGIN_SECONDS)]
    margin: i64,
}

impl Retention {
    pub(crate) fn config(&self, key_group_id: &str) -> RotationConfig {
        RotationConfig {
            key_group_id: key_group_id.to_owned(),
            max_session_ttl: self.max_session_ttl.unwrap_or(MAX_TTL_SECONDS),
            margin: self.margin,
            key_type: None,
        }
    }
}

/// `keyhole keys ...`.
#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// The key group's keys: their ages, which one signs, which the next rotation may remove.
    List(ListArgs),
}

/// Options of `keyhole keys list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// The distribution's trusted key group.
    #[arg(long, env = "KEY_GROUP_ID")]
    key_group_id: Option<String>,
    /// The local stack's state folder: list its key group (and which key its secret signs with).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The signing key's secret, to tell which key signs now and which is pending.
    #[arg(long)]
    secret_id: Option<String>,
    #[command(flatten)]
    retention: Retention,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs the four steps, one line per step, then names the key that signs now.
pub fn run_rotate(args: RotateArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.state_dir {
        return runtime()?.block_on(crate::rotate_local::rotate(
            dir,
            args.token.as_deref(),
            &args.retention,
        ));
    }
    let (Some(secret_id), Some(key_group_id)) = (&args.secret_id, &args.key_group_id) else {
        anyhow::bail!(
            "name --secret-id and --key-group-id (a deployed stack), or --state-dir DIR (the local stack)"
        );
    };
    let config = args.retention.config(key_group_id);
    runtime()?.block_on(async {
        let (secrets, keys) = keyhole_rotation::aws::from_env().await?;
        let outcomes = rotate(
            secret_id,
            args.token.as_deref(),
            &config,
            &secrets,
            &keys,
            when::now,
        )
        .await
        .with_context(|| format!("rotating {secret_id}"))?;
        print_steps(&outcomes)?;
        let listing = list_keys(&config, Some(secret_id), &secrets, &keys, when::now())
            .await
            .context("reading the key group back")?;
        print_listing(&listing, &config)
    })
}

/// Lists the group.
pub fn run_keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    let KeysCommand::List(args) = command;
    if let Some(dir) = &args.state_dir {
        return runtime()?.block_on(crate::rotate_local::list(dir, &args.retention));
    }
    let Some(key_group_id) = &args.key_group_id else {
        anyhow::bail!(
            "name --key-group-id (a deployed stack) or --state-dir DIR (the local stack)"
        );
    };
    let config = args.retention.config(key_group_id);
    runtime()?.block_on(async {
        let (secrets, keys) = keyhole_rotation::aws::from_env().await?;
        let listing = list_keys(
            &config,
            args.secret_id.as_deref(),
            &secrets,
            &keys,
            when::now(),
        )
        .await
        .with_context(|| format!("listing key group {key_group_id}"))?;
        print_listing(&listing, &config)
    })
}

pub(crate) fn print_steps(outcomes: &[StepOutcome]) -> anyhow::Result<()> {
    for o in outcomes {
        outln!(
            "{:<13} {:>8.1} ms  {}",
            o.step.name(),
            o.duration_ms,
            o.detail
        )?;
    }
    Ok(())
}

/// One line per key: id, age, state, name; then how many slots the group has left.
pub(crate) fn print_listing(
    listing: &[KeyListing],
    config: &RotationConfig,
) -> anyhow::Result<ExitCode> {
    outln!(
        "key group {} ({} of {} keys; a retired key is kept {} after it stops signing)",
        config.key_group_id,
        listing.len(),
        keyhole_rotation::MAX_KEYS_PER_GROUP,
        human(config.retention())
    )?;
    for row in listing {
        outln!(
            "  {:<16} {:>7} old  {:<40} {}",
            row.id,
            human(row.age_seconds),
            describe(&row.state, config),
            row.name
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(state: &KeyState, config: &RotationConfig) -> String {
    match state {
        KeyState::Signing => "signing (AWSCURRENT)".into(),
        KeyState::Pending => "pending (a rotation in progress)".into(),
        KeyState::Retired { at, prunable: true } => {
            format!("retired {}, can be removed", when::show(*at))
        }
        KeyState::Retired {
            at,
            prunable: false,
        } => format!(
            "retired {}, kept until {}",
            when::show(*at),
            when::show(at.saturating_add(config.retention()))
        ),
        KeyState::Unknown => "not signing, no retirement recorded (kept)".into(),
        KeyState::Missing => "listed, but CloudFront has no such public key".into(),
    }
}

/// Seconds as the largest whole unit: `45s`, `12m`, `5h`, `3d`.
fn human(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_unit() {
        assert_eq!(human(45), "45s");
        assert_eq!(human(900), "15m");
        assert_eq!(human(3 * 3600), "3h");
        assert_eq!(human(10 * 86_400), "10d");
    }

    #[test]
    fn the_default_retention_never_prunes_before_the_longest_session_the_signer_can_issue() {
        let r = Retention {
            max_session_ttl: None,
            margin: DEFAULT_MARGIN_SECONDS,
        };
        assert_eq!(
            r.config("G").retention(),
            MAX_TTL_SECONDS + DEFAULT_MARGIN_SECONDS
        );
    }
}
