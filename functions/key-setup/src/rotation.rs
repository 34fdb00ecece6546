//! The same binary as Secrets Manager's rotation function: the event `{"Step", "SecretId",
//! "ClientRequestToken"}` runs one of the four steps in `keyhole-rotation`. A failed step is an
//! `Err`, so the invocation fails and Secrets Manager retries it or abandons the rotation, leaving
//! `AWSCURRENT` where it was.

use keyhole_core::Vars;
use keyhole_rotation::{
    DEFAULT_MARGIN_SECONDS, KeyGroupApi, Origin, RotationConfig, SecretApi, Step, StepOutcome,
    StepRequest, run_step,
};

/// A Secrets Manager rotation event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEvent {
    /// The step asked for.
    pub step: Step,
    /// The secret's ARN.
    pub secret_id: String,
    /// The new version's id.
    pub token: String,
}

impl RotationEvent {
    /// Whether an event is a rotation event (it has `Step`) rather than a custom-resource request.
    pub fn is_rotation(event: &serde_json::Value) -> bool {
        event.get("Step").is_some()
    }

    /// Reads the event; a missing field or an unknown step is an error that names it.
    pub fn from_json(event: &serde_json::Value) -> Result<Self, keyhole_rotation::Error> {
        let field = |name: &str| {
            event
                .get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    keyhole_rotation::Error::Service(format!(
                        "not a Secrets Manager rotation event: no string field {name}"
                    ))
                })
        };
        Ok(RotationEvent {
            step: Step::parse(&field("Step")?)?,
            secret_id: field("SecretId")?,
            token: field("ClientRequestToken")?,
        })
    }
}

/// Longest accepted `SESSION_TTL_SECONDS`, as the signer's limit (7 days).
const MAX_SESSION_TTL: i64 = 7 * 24 * 3600;

/// The rotation's configuration from the function's environment: `KEY_GROUP_ID` (required),
/// `SESSION_TTL_SECONDS` (the signer's, default 3600) and `ROTATION_MARGIN_SECONDS` (default
/// [`DEFAULT_MARGIN_SECONDS`]). Each error names its variable.
pub fn rotation_config(vars: &Vars<'_>) -> Result<RotationConfig, String> {
    let key_group_id = vars
        .get("KEY_GROUP_ID")
        .ok_or("KEY_GROUP_ID is not set: the rotation needs the key group to trust new keys in")?;
    let seconds = |name: &str, default: i64, max: i64| {
        vars.parse_or(name, default, |v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    format!("{name}: {v:?} is not a whole number of seconds from 0 to {max}")
                })
        })
    };
    Ok(RotationConfig {
        key_group_id,
        max_session_ttl: seconds("SESSION_TTL_SECONDS", 3600, MAX_SESSION_TTL)?,
        margin: seconds("ROTATION_MARGIN_SECONDS", DEFAULT_MARGIN_SECONDS, 86_400)?,
        key_type: None,
    })
}

/// Runs the event's step at `now`, logging one line with its outcome.
pub async fn handle_rotation(
    event: &RotationEvent,
    config: &RotationConfig,
    secrets: &impl SecretApi,
    keys: &impl KeyGroupApi,
    now: i64,
) -> Result<StepOutcome, keyhole_rotation::Error> {
    let req = StepRequest {
        step: event.step,
        origin: Origin::SecretsManager,
        secret_id: &event.secret_id,
        token: &event.token,
        now,
    };
    let result = run_step(&req, config, secrets, keys).await;
    match &result {
        Ok(o) => tracing::info!(
            step = %event.step,
            outcome = "SUCCESS",
            changed = o.changed,
            reason = %o.detail,
            durationMs = o.duration_ms,
            "rotation step"
        ),
        Err(e) => {
            tracing::error!(step = %event.step, outcome = "FAILED", reason = %e, "rotation step")
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_event_is_read_and_told_apart_from_a_custom_resource_request() {
        let v = serde_json::json!({"Step": "setSecret", "SecretId": "arn:x", "ClientRequestToken": "t-1"});
        assert!(RotationEvent::is_rotation(&v));
        let e = RotationEvent::from_json(&v).unwrap();
        assert_eq!(
            (e.step, e.secret_id.as_str(), e.token.as_str()),
            (Step::Set, "arn:x", "t-1")
        );
        assert!(!RotationEvent::is_rotation(
            &serde_json::json!({"RequestType": "Create"})
        ));
        let bad = RotationEvent::from_json(
            &serde_json::json!({"Step": "dropSecret", "SecretId": "a", "ClientRequestToken": "t"}),
        );
        assert!(bad.unwrap_err().to_string().contains("dropSecret"));
        let missing =
            RotationEvent::from_json(&serde_json::json!({"Step": "setSecret", "SecretId": "a"}));
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("ClientRequestToken")
        );
    }

    #[test]
    fn the_rotation_configuration_names_each_bad_variable() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let get = env(&[("KEY_GROUP_ID", "G1"), ("SESSION_TTL_SECONDS", "7200")]);
        let c = rotation_config(&Vars::new(&get)).unwrap();
        assert_eq!(
            (c.key_group_id.as_str(), c.max_session_ttl, c.margin),
            ("G1", 7200, DEFAULT_MARGIN_SECONDS)
        );
        let get = env(&[]);
        assert!(
            rotation_config(&Vars::new(&get))
                .unwrap_err()
                .contains("KEY_GROUP_ID")
        );
        let get = env(&[("KEY_GROUP_ID", "G1"), ("ROTATION_MARGIN_SECONDS", "-1")]);
        assert!(
            rotation_config(&Vars::new(&get))
                .unwrap_err()
                .contains("ROTATION_MARGIN_SECONDS")
        );
        let get = env(&[("KEY_GROUP_ID", "G1"), ("SESSION_TTL_SECONDS", "forever")]);
        assert!(
            rotation_config(&Vars::new(&get))
                .unwrap_err()
                .contains("SESSION_TTL_SECONDS")
        );
    }
}
