//! Secrets Manager's four rotation steps for the signing-key secret, each idempotent (Secrets
//! Manager retries a step that failed or timed out) and each checking that the secret is in the
//! state that step expects.

use std::time::Instant;

use keyhole_core::{HashAlgorithm, KeyType, Policy, SigningKey, VerifyingKey};
use serde::Serialize;

use crate::retirement::{ACTIVE_COMMENT, retired_at, retired_comment};
use crate::traits::{KeyGroup, KeyGroupApi, PublicKey, SecretApi, SecretMeta, VersionRef};
use crate::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, Error, MAX_KEYS_PER_GROUP};

/// One of Secrets Manager's rotation steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Make the new key pair and store it as `AWSPENDING`.
    Create,
    /// Trust the new key: add it to the key group.
    Set,
    /// Check that CloudFront holds the pending key's public half and the group lists it.
    Test,
    /// Make the new key the one that signs.
    Finish,
}

impl Step {
    /// The four in the order they run.
    pub const ALL: [Step; 4] = [Step::Create, Step::Set, Step::Test, Step::Finish];

    /// Reads the event's `Step` field.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "createSecret" => Ok(Step::Create),
            "setSecret" => Ok(Step::Set),
            "testSecret" => Ok(Step::Test),
            "finishSecret" => Ok(Step::Finish),
            other => Err(Error::UnknownStep(other.chars().take(64).collect())),
        }
    }

    /// Secrets Manager's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Who drives the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Secrets Manager invoked the rotation function: rotation must be enabled on the secret,
    /// and Secrets Manager has already labelled the token's version `AWSPENDING`.
    SecretsManager,
    /// An operator (`keyhole rotate`) drives the steps: the token is minted by the caller, and
    /// rotation need not be switched on (an emergency rotation of a secret whose schedule is off).
    Operator,
}

/// Default margin added to the longest session before a retired key may be pruned: it covers the
/// signer's key cache (it may keep signing with the old key for its refresh TTL after
/// `finishSecret`) and clock skew between the function and CloudFront.
pub const DEFAULT_MARGIN_SECONDS: i64 = 900;

/// What a rotation needs to know besides the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationConfig {
    /// The trusted key group the distribution checks cookies against.
    pub key_group_id: String,
    /// The longest session the signer issues (`SESSION_TTL_SECONDS`), in seconds.
    pub max_session_ttl: i64,
    /// Added to `max_session_ttl` before a retired key is pruned.
    pub margin: i64,
    /// The new key's type; `None` keeps the current key's type.
    pub key_type: Option<KeyType>,
}

impl RotationConfig {
    /// How long after its retirement a key's cookies can still be alive.
    pub fn retention(&self) -> i64 {
        self.max_session_ttl.saturating_add(self.margin)
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// The step.
    pub step: Step,
    /// Whether it changed anything (a repeated step does not).
    pub changed: bool,
    /// What it did or found, for the log line (no key material).
    pub detail: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

/// The secret's JSON, the format the signer reads.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretValue<'a> {
    key_pair_id: &'a str,
    private_key_pem: &'a str,
    /// The session marker's key, carried over from the current secret so that markers issued
    /// before the rotation still verify after it (CloudFront base64 of 32 bytes).
    session_marker_key: &'a str,
}

/// A secret version's key, parsed. `Debug` is not derived: it holds a private key.
struct Material {
    key_pair_id: String,
    key: SigningKey,
    /// `sessionMarkerKey`, or the key derived from the private key when the secret has none.
    marker_key: [u8; 32],
}

/// Reads `{"keyPairId", "privateKeyPem"}` without quoting the value back in any message.
fn parse_material(secret_id: &str, version: &str, json: &str) -> Result<Material, Error> {
    let bad = |reason: &str| Error::BadSecret {
        secret: secret_id.to_owned(),
        version: version.to_owned(),
        reason: reason.to_owned(),
    };
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|_| bad("the value is not JSON {\"keyPairId\", \"privateKeyPem\"}"))?;
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    let key_pair_id = field("keyPairId").ok_or_else(|| bad("no string field keyPairId"))?;
    if !keyhole_core::is_valid_key_pair_id(key_pair_id) {
        return Err(bad("keyPairId must be letters, digits, - or _"));
    }
    let pem = field("privateKeyPem").ok_or_else(|| bad("no string field privateKeyPem"))?;
    let key = SigningKey::from_pem(pem).map_err(|e| bad(&format!("privateKeyPem: {e}")))?;
    let marker_key = match value.get("sessionMarkerKey") {
        None => keyhole_core::session_marker_key(&key.private_key_pem()),
        Some(v) => v
            .as_str()
            .and_then(|s| keyhole_core::cf_base64::decode(s).ok())
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| bad("sessionMarkerKey must be 32 bytes in CloudFront base64"))?,
    };
    Ok(Material {
        key_pair_id: key_pair_id.to_owned(),
        key,
        marker_key,
    })
}

/// A fresh `ClientRequestToken` (a UUID v4) for an operator-driven rotation.
pub fn new_token() -> Result<String, Error> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::Key("no secure random source".into()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// The new public key's name: the group's name (so a reader sees which stack owns it), the start of
/// the token (unique per rotation) and the time (unique per attempt). CloudFront names are 1 to 128
/// of `[A-Za-z0-9_-]`.
pub(crate) fn key_name(group_name: &str, token: &str, now: i64) -> String {
    let token: String = token
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let suffix = format!("-r{token}-{now}");
    let prefix: String = group_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(128 - suffix.len())
        .collect();
    let prefix = if prefix.is_empty() {
        "keyhole".into()
    } else {
        prefix
    };
    format!("{prefix}{suffix}")
}

/// Whether `key_name` is a name [`key_name`] gives a rotation's key for the group named
/// `group_name`: the stack's key setup deletes these with the group, including keys a rotation
/// created but never added (an abandoned rotation) or failed to delete when it pruned them.
pub fn is_rotation_key_of(key_name: &str, group_name: &str) -> bool {
    let Some((rest, time)) = key_name.rsplit_once('-') else {
        return false;
    };
    let Some((prefix, token)) = rest.rsplit_once("-r") else {
        return false;
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let token_ok =
        (1..=12).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric());
    let cleaned: String = group_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    // The prefix is the cleaned group name, cut when the whole would pass 128 characters.
    let prefix_ok = if key_name.len() < 128 {
        prefix == cleaned
    } else {
        !prefix.is_empty() && cleaned.starts_with(prefix)
    };
    digits(time) && token_ok && prefix_ok
}

struct Ctx<'a, S, K> {
    secret_id: &'a str,
    token: &'a str,
    config: &'a RotationConfig,
    secrets: &'a S,
    keys: &'a K,
    now: i64,
}

/// One step of one rotation, as an event or an operator asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRequest<'a> {
    /// The step.
    pub step: Step,
    /// Who asks.
    pub origin: Origin,
    /// The secret (name or ARN).
    pub secret_id: &'a str,
    /// The rotation's `ClientRequestToken` (the new version's id).
    pub token: &'a str,
    /// Now, in epoch seconds.
    pub now: i64,
}

/// Runs one step.
pub async fn run_step(
    req: &StepRequest<'_>,
    config: &RotationConfig,
    secrets: &impl SecretApi,
    keys: &impl KeyGroupApi,
) -> Result<StepOutcome, Error> {
    let started = Instant::now();
    let ctx = Ctx {
        secret_id: req.secret_id,
        token: req.token,
        config,
        secrets,
        keys,
        now: req.now,
    };
    let (changed, detail) = ctx.run(req.step, req.origin).await?;
    let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    Ok(StepOutcome {
        step: req.step,
        changed,
        detail,
        duration_ms: f64::from(micros) / 1000.0,
    })
}

/// An operator's rotation: the four steps in order under `token` (a fresh one when `None`), then
/// `AWSPENDING` taken off the new current version, as Secrets Manager does after a rotation.
pub async fn rotate(
    secret_id: &str,
    token: Option<&str>,
    config: &RotationConfig,
    secrets: &impl SecretApi,
    keys: &impl KeyGroupApi,
    now: impl Fn() -> i64,
) -> Result<Vec<StepOutcome>, Error> {
    let token = match token {
        Some(t) => t.to_owned(),
        None => new_token()?,
    };
    let mut outcomes = Vec::with_capacity(4);
    for step in Step::ALL {
        let req = StepRequest {
            step,
            origin: Origin::Operator,
            secret_id,
            token: &token,
            now: now(),
        };
        let outcome = run_step(&req, config, secrets, keys).await?;
        tracing::info!(step = %step, changed = outcome.changed, detail = %outcome.detail, durationMs = outcome.duration_ms, "rotation step");
        outcomes.push(outcome);
    }
    let meta = secrets.describe(secret_id).await?;
    if meta.version(&token).is_some_and(|v| v.has(AWSPENDING)) {
        secrets
            .move_stage(secret_id, AWSPENDING, None, Some(&token))
            .await?;
    }
    Ok(outcomes)
}

impl<S: SecretApi, K: KeyGroupApi> Ctx<'_, S, K> {
    async fn run(&self, step: Step, origin: Origin) -> Result<(bool, String), Error> {
        let meta = self.secrets.describe(self.secret_id).await?;
        if origin == Origin::SecretsManager && !meta.rotation_enabled {
            return Err(Error::RotationDisabled(self.secret_id.to_owned()));
        }
        match meta.version(self.token) {
            Some(v) if v.has(AWSCURRENT) => {
                // Already rotated to: every step is done. finishSecret still makes sure the key it
                // retired carries its time (a retried finish whose comment write had failed).
                if step == Step::Finish {
                    return self.finish_again(&meta).await;
                }
                return Ok((
                    false,
                    format!("version {} is already AWSCURRENT", self.token),
                ));
            }
            Some(v) if v.has(AWSPENDING) => {}
            Some(_) => {
                return Err(Error::NotPending {
                    secret: self.secret_id.to_owned(),
                    token: self.token.to_owned(),
                });
            }
            None if origin == Origin::Operator && step == Step::Create => {
                if let Some(p) = meta.with_stage(AWSPENDING)
                    && !p.has(AWSCURRENT)
                {
                    return Err(Error::InProgress {
                        secret: self.secret_id.to_owned(),
                        version: p.id.clone(),
                    });
                }
            }
            None => {
                return Err(Error::UnknownToken {
                    secret: self.secret_id.to_owned(),
                    token: self.token.to_owned(),
                });
            }
        }
        match step {
            Step::Create => self.create().await,
            Step::Set => self.set().await,
            Step::Test => self.test().await,
            Step::Finish => self.finish(&meta).await,
        }
    }

    async fn current(&self) -> Result<Material, Error> {
        let value = self
            .secrets
            .get_value(self.secret_id, VersionRef::Stage(AWSCURRENT))
            .await?
            .ok_or_else(|| Error::BadSecret {
                secret: self.secret_id.to_owned(),
                version: AWSCURRENT.to_owned(),
                reason: "there is no current key to rotate from (has key setup run?)".into(),
            })?;
        parse_material(self.secret_id, AWSCURRENT, &value)
    }

    async fn pending(&self, step: &'static str) -> Result<Material, Error> {
        let value = self
            .secrets
            .get_value(self.secret_id, VersionRef::Pending(self.token))
            .await?
            .ok_or_else(|| Error::OutOfOrder {
                step,
                reason: format!("createSecret has stored no key under {}", self.token),
            })?;
        parse_material(self.secret_id, self.token, &value)
    }

    async fn create(&self) -> Result<(bool, String), Error> {
        let current = self.current().await?;
        if self
            .secrets
            .get_value(self.secret_id, VersionRef::Pending(self.token))
            .await?
            .is_some()
        {
            return Ok((
                false,
                "AWSPENDING already holds a key for this token".into(),
            ));
        }
        let kind = self.config.key_type.unwrap_or(current.key.key_type());
        let key = SigningKey::generate(kind).map_err(|e| Error::Key(e.to_string()))?;
        let group = self.keys.get_key_group(&self.config.key_group_id).await?;
        // The secret holds the key pair id, which is the id CloudFront gives the public key, and a
        // version's value cannot change once written: so the public key is uploaded here, before
        // the pending version is stored. Outside the key group it grants nothing; setSecret adds it.
        let name = key_name(&group.name, self.token, self.now);
        let caller_reference = format!("{}-{}", self.token, self.now);
        let id = self
            .keys
            .create_public_key(
                &name,
                &key.public_key_pem(),
                &caller_reference,
                ACTIVE_COMMENT,
            )
            .await?;
        let pem = key.private_key_pem();
        let marker = keyhole_core::cf_base64::encode(&current.marker_key);
        let json = serde_json::to_string(&SecretValue {
            key_pair_id: &id,
            private_key_pem: &pem,
            session_marker_key: &marker,
        })
        .map_err(|e| Error::Service(e.to_string()))?;
        if let Err(e) = self
            .secrets
            .put_pending(self.secret_id, self.token, &json)
            .await
        {
            // Its private half is lost: leave no public key behind that nobody can sign for.
            if let Ok(pk) = self.keys.get_public_key(&id).await {
                let _ = self.keys.delete_public_key(&id, &pk.etag).await;
            }
            return Err(e);
        }
        Ok((true, format!("new {kind} key {id} stored as AWSPENDING")))
    }

    async fn set(&self) -> Result<(bool, String), Error> {
        let pending = self.pending("setSecret").await?;
        let current = self.current().await?;
        let group = self.keys.get_key_group(&self.config.key_group_id).await?;
        if group.items.contains(&pending.key_pair_id) {
            return Ok((
                false,
                format!("key group already lists {}", pending.key_pair_id),
            ));
        }
        let plan = self.plan(&group, &current.key_pair_id).await?;
        let kept: Vec<&Member> = plan.iter().filter(|m| !m.prunable).collect();
        if kept.len() + 1 > MAX_KEYS_PER_GROUP {
            return Err(Error::GroupFull(self.full_message(&plan)));
        }
        let mut notes = Vec::new();
        for m in &kept {
            if m.id != current.key_pair_id
                && m.retired_at.is_none()
                && let Some(pk) = &m.key
            {
                self.keys
                    .update_public_key_comment(pk, &retired_comment(self.now))
                    .await?;
                notes.push(format!("{} had no retirement time; given now", m.id));
            }
        }
        let mut items: Vec<String> = kept.iter().map(|m| m.id.clone()).collect();
        items.push(pending.key_pair_id.clone());
        self.keys
            .update_key_group(&self.config.key_group_id, &group, &items)
            .await?;
        let pruned: Vec<&Member> = plan.iter().filter(|m| m.prunable).collect();
        for m in &pruned {
            // Out of the group it grants nothing; deleting it keeps the account tidy. A failure
            // here is reported, not fatal: the rotation itself has succeeded.
            if let Some(pk) = &m.key {
                match self.keys.delete_public_key(&m.id, &pk.etag).await {
                    Ok(()) | Err(Error::NotFound(_)) => {}
                    Err(e) => {
                        tracing::warn!(public_key_id = %m.id, error = %e, "pruned key not deleted");
                        notes.push(format!("pruned key {} could not be deleted: {e}", m.id));
                    }
                }
            }
        }
        let pruned_ids: Vec<&str> = pruned.iter().map(|m| m.id.as_str()).collect();
        let mut detail = format!(
            "added {} to key group {} ({} keys); pruned [{}]",
            pending.key_pair_id,
            self.config.key_group_id,
            items.len(),
            pruned_ids.join(", ")
        );
        for n in notes {
            detail.push_str("; ");
            detail.push_str(&n);
        }
        Ok((true, detail))
    }

    /// Every member of the group with what is known of its retirement, read without writing.
    async fn plan(&self, group: &KeyGroup, current_id: &str) -> Result<Vec<Member>, Error> {
        let mut members = Vec::with_capacity(group.items.len());
        for id in &group.items {
            let key = match self.keys.get_public_key(id).await {
                Ok(k) => Some(k),
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
            let retired = key.as_ref().and_then(|k| retired_at(&k.comment));
            // Never the current key; a key with no recorded time counts as live.
            let prunable = id != current_id
                && match (&key, retired) {
                    (None, _) => true,
                    (Some(_), Some(at)) => self.now >= at.saturating_add(self.config.retention()),
                    (Some(_), None) => false,
                };
            members.push(Member {
                id: id.clone(),
                key,
                retired_at: retired,
                prunable,
                current: id == current_id,
            });
        }
        Ok(members)
    }

    fn full_message(&self, plan: &[Member]) -> String {
        let retention = self.config.retention();
        let described: Vec<String> = plan
            .iter()
            .map(|m| match (m.current, m.retired_at) {
                (true, _) => format!("{} (signs now)", m.id),
                (false, Some(at)) => format!(
                    "{} (retired at {at}; its cookies can live until {})",
                    m.id,
                    at.saturating_add(retention)
                ),
                (false, None) => format!("{} (no retirement time recorded; counted as live)", m.id),
            })
            .collect();
        let next = plan
            .iter()
            .filter_map(|m| m.retired_at)
            .map(|at| at.saturating_add(retention))
            .min();
        let when = match next {
            Some(t) => format!("; the next key can be added at {t} (epoch seconds)"),
            None => String::new(),
        };
        format!(
            "setSecret: key group {} is full: it holds {} keys (CloudFront's limit is {}) and each \
             can still have live cookies (longest session {} s + margin {} s): {}{when}",
            self.config.key_group_id,
            plan.len(),
            MAX_KEYS_PER_GROUP,
            self.config.max_session_ttl,
            self.config.margin,
            described.join(", ")
        )
    }

    async fn test(&self) -> Result<(bool, String), Error> {
        let pending = self.pending("testSecret").await?;
        let id = &pending.key_pair_id;
        let group = self.keys.get_key_group(&self.config.key_group_id).await?;
        if !group.items.contains(id) {
            return Err(Error::TestFailed(format!(
                "key group {} does not list {id} (has setSecret run?)",
                self.config.key_group_id
            )));
        }
        let public = self.keys.get_public_key(id).await?;
        let verifying = VerifyingKey::from_pem(&public.encoded_key)
            .map_err(|e| Error::TestFailed(format!("CloudFront's public key {id}: {e}")))?;
        let policy = Policy::new("https://keyhole.invalid/rotation-test/*", self.now + 300)
            .map_err(|e| Error::TestFailed(e.to_string()))?
            .to_json();
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha1] {
            let sig = pending
                .key
                .sign(policy.as_bytes(), hash)
                .map_err(|e| Error::TestFailed(format!("signing a test policy: {e}")))?;
            if !verifying.verify(policy.as_bytes(), &sig, hash) {
                return Err(Error::TestFailed(format!(
                    "a policy signed by the pending key does not verify with CloudFront's public \
                     key {id} ({})",
                    hash.cloudfront_name()
                )));
            }
        }
        Ok((
            false,
            format!("pending key {id} signs for CloudFront's public key and the group lists it"),
        ))
    }

    async fn finish(&self, meta: &SecretMeta) -> Result<(bool, String), Error> {
        let pending = self.pending("finishSecret").await?;
        let group = self.keys.get_key_group(&self.config.key_group_id).await?;
        if !group.items.contains(&pending.key_pair_id) {
            return Err(Error::OutOfOrder {
                step: "finishSecret",
                reason: format!(
                    "key group {} does not list {}: AWSCURRENT stays where it is",
                    self.config.key_group_id, pending.key_pair_id
                ),
            });
        }
        let current = self.current().await?;
        let from = meta.with_stage(AWSCURRENT).map(|v| v.id.clone());
        self.secrets
            .move_stage(
                self.secret_id,
                AWSCURRENT,
                Some(self.token),
                from.as_deref(),
            )
            .await?;
        let marked = self.mark_retired(&current.key_pair_id).await?;
        Ok((
            true,
            format!(
                "AWSCURRENT moved to {} (key {}); key {} retired at {}{}",
                self.token,
                pending.key_pair_id,
                current.key_pair_id,
                self.now,
                if marked {
                    ""
                } else {
                    " (its time was already recorded)"
                }
            ),
        ))
    }

    async fn finish_again(&self, meta: &SecretMeta) -> Result<(bool, String), Error> {
        let Some(_) = meta.with_stage(AWSPREVIOUS) else {
            return Ok((false, "already finished".into()));
        };
        let Some(value) = self
            .secrets
            .get_value(self.secret_id, VersionRef::Stage(AWSPREVIOUS))
            .await?
        else {
            return Ok((false, "already finished".into()));
        };
        let previous = parse_material(self.secret_id, AWSPREVIOUS, &value)?;
        let current = self.current().await?;
        if previous.key_pair_id == current.key_pair_id {
            return Ok((false, "already finished".into()));
        }
        let marked = self.mark_retired(&previous.key_pair_id).await?;
        Ok((
            marked,
            if marked {
                format!(
                    "already finished; recorded the retirement of {}",
                    previous.key_pair_id
                )
            } else {
                "already finished".into()
            },
        ))
    }

    /// Records `now` as the key's retirement unless a time is already recorded. `false` when it
    /// wrote nothing.
    async fn mark_retired(&self, id: &str) -> Result<bool, Error> {
        let key = match self.keys.get_public_key(id).await {
            Ok(k) => k,
            Err(Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if retired_at(&key.comment).is_some() {
            return Ok(false);
        }
        self.keys
            .update_public_key_comment(&key, &retired_comment(self.now))
            .await?;
        Ok(true)
    }
}

struct Member {
    id: String,
    key: Option<PublicKey>,
    retired_at: Option<i64>,
    prunable: bool,
    current: bool,
}
