//! `keyhole keys list`: the key group's keys, their ages, which one signs, which can be pruned.

use crate::retirement::retired_at;
use crate::traits::{KeyGroupApi, SecretApi, VersionRef};
use crate::{AWSCURRENT, AWSPENDING, Error, RotationConfig};

/// What one key in the group is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// The secret's `AWSCURRENT` key: it signs.
    Signing,
    /// The key of a rotation in progress.
    Pending,
    /// Retired at this time; `prunable` once its cookies can all have expired.
    Retired {
        /// When it stopped signing (epoch seconds).
        at: i64,
        /// Whether the next setSecret will remove it.
        prunable: bool,
    },
    /// Not current and no retirement time recorded (counted as live).
    Unknown,
    /// The group lists it but CloudFront has no such public key.
    Missing,
}

/// One row of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListing {
    /// The public key id (key pair id).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Seconds since CloudFront created it.
    pub age_seconds: i64,
    /// What it is.
    pub state: KeyState,
}

/// Lists the group's keys at `now`. Without a secret, no key can be named as signing or pending.
pub async fn list_keys(
    config: &RotationConfig,
    secret_id: Option<&str>,
    secrets: &impl SecretApi,
    keys: &impl KeyGroupApi,
    now: i64,
) -> Result<Vec<KeyListing>, Error> {
    let (mut signing, mut pending) = (None, None);
    if let Some(secret_id) = secret_id {
        signing = key_pair_id(secrets, secret_id, VersionRef::Stage(AWSCURRENT)).await?;
        let meta = secrets.describe(secret_id).await?;
        if let Some(v) = meta.with_stage(AWSPENDING).filter(|v| !v.has(AWSCURRENT)) {
            pending = key_pair_id(secrets, secret_id, VersionRef::Pending(&v.id)).await?;
        }
    }
    let group = keys.get_key_group(&config.key_group_id).await?;
    let mut out = Vec::with_capacity(group.items.len());
    for id in group.items {
        let row = match keys.get_public_key(&id).await {
            Ok(k) => {
                let state = if signing.as_deref() == Some(id.as_str()) {
                    KeyState::Signing
                } else if pending.as_deref() == Some(id.as_str()) {
                    KeyState::Pending
                } else if let Some(at) = retired_at(&k.comment) {
                    KeyState::Retired {
                        at,
                        prunable: now >= at.saturating_add(config.retention()),
                    }
                } else {
                    KeyState::Unknown
                };
                KeyListing {
                    age_seconds: now.saturating_sub(k.created_at).max(0),
                    name: k.name,
                    id,
                    state,
                }
            }
            Err(Error::NotFound(_)) => KeyListing {
                id,
                name: String::new(),
                age_seconds: 0,
                state: KeyState::Missing,
            },
            Err(e) => return Err(e),
        };
        out.push(row);
    }
    Ok(out)
}

async fn key_pair_id(
    secrets: &impl SecretApi,
    secret_id: &str,
    which: VersionRef<'_>,
) -> Result<Option<String>, Error> {
    let Some(value) = secrets.get_value(secret_id, which).await? else {
        return Ok(None);
    };
    let json: serde_json::Value = serde_json::from_str(&value).map_err(|_| Error::BadSecret {
        secret: secret_id.to_owned(),
        version: format!("{which:?}"),
        reason: "the value is not JSON".into(),
    })?;
    Ok(json
        .get("keyPairId")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned))
}
