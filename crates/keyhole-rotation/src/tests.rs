//! The four steps against the in-memory fakes, named after what an operator would see.

use keyhole_core::{KeyType, SigningKey};

use crate::fakes::{FakeKeys, FakeSecrets, Version};
use crate::retirement::{retired_at, retired_comment};
use crate::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, Error, KeyState, Origin, RotationConfig, Step,
    StepRequest, list_keys, rotate, run_step,
};

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyhole-AbCdEf";
const GROUP: &str = "G1";
const T0: i64 = 1_800_000_000;

struct World {
    secrets: FakeSecrets,
    keys: FakeKeys,
    config: RotationConfig,
    first: String,
}

fn secret_json(id: &str, key: &SigningKey) -> String {
    serde_json::json!({"keyPairId": id, "privateKeyPem": key.private_key_pem()}).to_string()
}

/// What key setup leaves behind: one key, current, alone in the group.
fn world_with(kind: KeyType) -> World {
    let keys = FakeKeys::default();
    keys.0.lock().unwrap().now = T0 - 86_400;
    let key = SigningKey::generate(kind).unwrap();
    let first = keys.add_key(
        &key.public_key_pem(),
        "Keyhole signing key (created by the KeySetup custom resource)",
    );
    keys.0.lock().unwrap().groups.insert(
        GROUP.into(),
        crate::KeyGroup {
            name: "keyhole-stack-abc123".into(),
            comment: "Keyhole: keys CloudFront accepts for signed cookies".into(),
            items: vec![first.clone()],
            etag: "G-E0".into(),
        },
    );
    let secrets = FakeSecrets::default();
    {
        let mut s = secrets.0.lock().unwrap();
        s.rotation_enabled = true;
        s.versions.push(Version {
            id: "v0".into(),
            value: Some(secret_json(&first, &key)),
            stages: vec![AWSCURRENT.into()],
        });
    }
    World {
        secrets,
        keys,
        config: RotationConfig {
            key_group_id: GROUP.into(),
            max_session_ttl: 3600,
            margin: 900,
            key_type: None,
        },
        first,
    }
}

fn world() -> World {
    world_with(KeyType::EcdsaP256)
}

impl World {
    async fn step(&self, step: Step, token: &str, now: i64) -> Result<crate::StepOutcome, Error> {
        let req = StepRequest {
            step,
            origin: Origin::SecretsManager,
            secret_id: SECRET,
            token,
            now,
        };
        run_step(&req, &self.config, &self.secrets, &self.keys).await
    }

    /// A whole rotation as Secrets Manager runs it; returns the new key pair id.
    async fn rotation(&self, token: &str, now: i64) -> String {
        self.secrets.start_rotation(token);
        for step in Step::ALL {
            self.step(step, token, now)
                .await
                .unwrap_or_else(|e| panic!("{step}: {e}"));
        }
        self.current_id()
    }

    fn current_id(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_str(&self.secrets.value_of(AWSCURRENT).unwrap()).unwrap();
        v["keyPairId"].as_str().unwrap().to_owned()
    }

    fn snapshot(&self) -> (crate::fakes::SecretState, crate::fakes::KeyState) {
        (self.secrets.state(), self.keys.state())
    }
}

#[tokio::test]
async fn a_rotation_makes_the_new_key_current_and_keeps_the_old_one_trusted() {
    let w = world();
    let new = w.rotation("tok-1", T0).await;
    assert_ne!(new, w.first);
    assert_eq!(w.keys.items(GROUP), [w.first.clone(), new.clone()]);
    assert_eq!(w.secrets.version_with(AWSCURRENT).as_deref(), Some("tok-1"));
    assert_eq!(w.secrets.version_with(AWSPREVIOUS).as_deref(), Some("v0"));
    assert_eq!(retired_at(&w.keys.comment(&w.first)), Some(T0));
    assert_eq!(retired_at(&w.keys.comment(&new)), None);
    // The new secret is a key that signs for the public key CloudFront holds under its id.
    let v: serde_json::Value =
        serde_json::from_str(&w.secrets.value_of(AWSCURRENT).unwrap()).unwrap();
    let key = SigningKey::from_pem(v["privateKeyPem"].as_str().unwrap()).unwrap();
    assert_eq!(key.public_key_pem(), w.keys.state().keys[&new].encoded_key);
    assert_eq!(key.key_type(), KeyType::EcdsaP256);
    // The session marker's key is carried over: markers issued before still verify.
    let first_pem: serde_json::Value =
        serde_json::from_str(&w.secrets.value_of(AWSPREVIOUS).unwrap()).unwrap();
    let first_key = SigningKey::from_pem(first_pem["privateKeyPem"].as_str().unwrap()).unwrap();
    assert_eq!(
        v["sessionMarkerKey"].as_str().unwrap(),
        keyhole_core::cf_base64::encode(&keyhole_core::session_marker_key(
            &first_key.private_key_pem()
        ))
    );
    let after_two = w.rotation("tok-2", T0 + 5).await;
    let v2: serde_json::Value =
        serde_json::from_str(&w.secrets.value_of(AWSCURRENT).unwrap()).unwrap();
    assert_eq!(v2["keyPairId"], after_two.as_str());
    assert_eq!(v2["sessionMarkerKey"], v["sessionMarkerKey"]);
}

#[tokio::test]
async fn each_step_run_twice_changes_nothing_the_second_time() {
    let w = world();
    w.secrets.start_rotation("tok-1");
    for step in Step::ALL {
        w.step(step, "tok-1", T0).await.unwrap();
        let before = w.snapshot();
        let again = w.step(step, "tok-1", T0 + 5).await.unwrap();
        assert!(!again.changed, "{step}: {}", again.detail);
        assert_eq!(
            w.snapshot(),
            before,
            "{step} changed something the second time"
        );
    }
    // And once finished, every step is a no-op.
    let before = w.snapshot();
    for step in Step::ALL {
        assert!(!w.step(step, "tok-1", T0 + 9).await.unwrap().changed);
    }
    assert_eq!(w.snapshot(), before);
}

#[tokio::test]
async fn steps_out_of_order_are_refused_and_change_nothing() {
    let w = world();
    w.secrets.start_rotation("tok-1");
    let before = w.snapshot();
    for step in [Step::Set, Step::Test, Step::Finish] {
        let err = w.step(step, "tok-1", T0).await.unwrap_err();
        assert!(matches!(err, Error::OutOfOrder { .. }), "{step}: {err}");
        assert!(err.to_string().contains("createSecret"), "{err}");
    }
    assert_eq!(w.snapshot(), before);
    w.step(Step::Create, "tok-1", T0).await.unwrap();
    let before = w.snapshot();
    let test = w.step(Step::Test, "tok-1", T0).await.unwrap_err();
    assert!(
        matches!(test, Error::TestFailed(_)) && test.to_string().contains("does not list"),
        "{test}"
    );
    let finish = w.step(Step::Finish, "tok-1", T0).await.unwrap_err();
    assert!(finish.to_string().contains("AWSCURRENT stays"), "{finish}");
    assert_eq!(w.snapshot(), before);
    assert_eq!(w.secrets.version_with(AWSCURRENT).as_deref(), Some("v0"));
}

#[tokio::test]
async fn an_unknown_step_token_or_a_version_not_pending_is_refused() {
    let w = world();
    assert!(matches!(
        Step::parse("deleteSecret"),
        Err(Error::UnknownStep(_))
    ));
    assert_eq!(Step::parse("setSecret").unwrap(), Step::Set);
    let before = w.snapshot();
    let err = w
        .step(Step::Create, "tok-nobody-made", T0)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownToken { .. }), "{err}");
    w.rotation("tok-1", T0).await;
    let before2 = w.snapshot();
    // v0 is AWSPREVIOUS now: not a rotation target.
    let err = w.step(Step::Set, "v0", T0).await.unwrap_err();
    assert!(matches!(err, Error::NotPending { .. }), "{err}");
    assert_eq!(w.snapshot(), before2);
    assert_ne!(before, before2);
}

#[tokio::test]
async fn a_secret_with_rotation_disabled_is_refused_unless_an_operator_drives_it() {
    let w = world();
    w.secrets.0.lock().unwrap().rotation_enabled = false;
    w.secrets.start_rotation("tok-1");
    let before = w.snapshot();
    for step in Step::ALL {
        let err = w.step(step, "tok-1", T0).await.unwrap_err();
        assert!(matches!(err, Error::RotationDisabled(_)), "{err}");
    }
    assert_eq!(w.snapshot(), before);
    // An emergency rotation by hand works with the schedule off.
    let w = world();
    w.secrets.0.lock().unwrap().rotation_enabled = false;
    let out = rotate(SECRET, None, &w.config, &w.secrets, &w.keys, || T0)
        .await
        .unwrap();
    assert_eq!(out.len(), 4);
    assert_ne!(w.current_id(), w.first);
    // The operator's run leaves no AWSPENDING behind, so the next rotation can start.
    assert_eq!(w.secrets.version_with(AWSPENDING), None);
}

#[tokio::test]
async fn an_operator_rotation_does_not_trample_one_in_progress() {
    let w = world();
    w.secrets.start_rotation("tok-sm");
    w.step(Step::Create, "tok-sm", T0).await.unwrap();
    let before = w.snapshot();
    let err = rotate(SECRET, None, &w.config, &w.secrets, &w.keys, || T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InProgress { version, .. } if version == "tok-sm"),
        "{err}"
    );
    assert_eq!(w.snapshot(), before);
    // Resuming it under its own token finishes it.
    rotate(
        SECRET,
        Some("tok-sm"),
        &w.config,
        &w.secrets,
        &w.keys,
        || T0,
    )
    .await
    .unwrap();
    assert_eq!(
        w.secrets.version_with(AWSCURRENT).as_deref(),
        Some("tok-sm")
    );
}

#[tokio::test]
async fn a_retired_key_is_pruned_only_once_its_longest_session_and_margin_are_over() {
    let retention = 3600 + 900;
    // Rotations at T0 and T0+10: the group holds the first key, the second and the third.
    let w = world();
    let second = w.rotation("tok-1", T0).await;
    let third = w.rotation("tok-2", T0 + 10).await;
    assert_eq!(
        w.keys.items(GROUP),
        [w.first.clone(), second.clone(), third.clone()]
    );
    // A third rotation one second before the first key's cookies can all be gone prunes nothing.
    let fourth = w.rotation("tok-3", T0 + retention - 1).await;
    assert_eq!(
        w.keys.items(GROUP),
        [
            w.first.clone(),
            second.clone(),
            third.clone(),
            fourth.clone()
        ]
    );

    let w = world();
    let second = w.rotation("tok-1", T0).await;
    let third = w.rotation("tok-2", T0 + 10).await;
    let fourth = w.rotation("tok-3", T0 + retention).await;
    // The first key (retired at T0) goes; the second (retired at T0+10) may still have cookies.
    assert_eq!(w.keys.items(GROUP), [second.clone(), third.clone(), fourth]);
    assert!(
        !w.keys.state().keys.contains_key(&w.first),
        "a pruned public key is deleted"
    );
}

#[tokio::test]
async fn the_current_key_is_never_pruned_whatever_its_comment_says() {
    let w = world();
    w.keys
        .0
        .lock()
        .unwrap()
        .keys
        .get_mut(&w.first)
        .unwrap()
        .comment = retired_comment(T0 - 1_000_000);
    w.rotation("tok-1", T0).await;
    assert!(w.keys.items(GROUP).contains(&w.first));
}

#[tokio::test]
async fn a_group_of_five_live_keys_fails_set_secret_with_its_reason_and_changes_nothing() {
    let w = world();
    for i in 0..4 {
        let k = SigningKey::generate(KeyType::EcdsaP256).unwrap();
        let id = w
            .keys
            .add_key(&k.public_key_pem(), &retired_comment(T0 - 60 + i));
        w.keys
            .0
            .lock()
            .unwrap()
            .groups
            .get_mut(GROUP)
            .unwrap()
            .items
            .push(id);
    }
    w.secrets.start_rotation("tok-1");
    w.step(Step::Create, "tok-1", T0).await.unwrap();
    let before = w.snapshot();
    let err = w.step(Step::Set, "tok-1", T0).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::GroupFull(_)), "{msg}");
    for want in [
        "is full",
        "5 keys",
        "(signs now)",
        "can live until",
        &format!("the next key can be added at {}", T0 - 60 + 4500),
    ] {
        assert!(msg.contains(want), "{want:?} not in {msg}");
    }
    assert_eq!(w.snapshot(), before);
    assert_eq!(w.secrets.version_with(AWSCURRENT).as_deref(), Some("v0"));
    // Once the oldest of them is past its sessions, the same step succeeds and prunes it.
    let out = w.step(Step::Set, "tok-1", T0 - 60 + 4500).await.unwrap();
    assert!(
        out.changed && out.detail.contains("pruned [K"),
        "{}",
        out.detail
    );
    assert_eq!(w.keys.items(GROUP).len(), 5);
}

#[tokio::test]
async fn a_failed_set_secret_leaves_awscurrent_untouched_and_a_retry_completes() {
    let w = world();
    w.secrets.start_rotation("tok-1");
    w.step(Step::Create, "tok-1", T0).await.unwrap();
    w.keys.0.lock().unwrap().fail_update_group =
        Some(Error::Service("AccessDenied: injected".into()));
    let before = w.snapshot();
    let err = w.step(Step::Set, "tok-1", T0).await.unwrap_err();
    assert!(err.to_string().contains("injected"), "{err}");
    assert_eq!(w.secrets.version_with(AWSCURRENT).as_deref(), Some("v0"));
    assert_eq!(w.keys.items(GROUP), std::slice::from_ref(&w.first));
    assert_eq!(w.secrets.state(), before.0);
    assert!(
        w.step(Step::Finish, "tok-1", T0).await.is_err(),
        "finish must not move AWSCURRENT to an untrusted key"
    );
    assert_eq!(w.secrets.version_with(AWSCURRENT).as_deref(), Some("v0"));
    // Secrets Manager retries: the same steps then succeed.
    for step in [Step::Set, Step::Test, Step::Finish] {
        w.step(step, "tok-1", T0).await.unwrap();
    }
    assert_eq!(w.secrets.version_with(AWSCURRENT).as_deref(), Some("tok-1"));
}

#[tokio::test]
async fn a_stale_etag_fails_set_secret_without_writing_the_group() {
    let w = world();
    w.secrets.start_rotation("tok-1");
    w.step(Step::Create, "tok-1", T0).await.unwrap();
    w.keys.0.lock().unwrap().race_update_group = true;
    let err = w.step(Step::Set, "tok-1", T0).await.unwrap_err();
    assert!(matches!(err, Error::Stale(_)), "{err}");
    assert_eq!(w.keys.items(GROUP), std::slice::from_ref(&w.first));
    w.step(Step::Set, "tok-1", T0).await.unwrap();
    assert_eq!(w.keys.items(GROUP).len(), 2);
}

#[tokio::test]
async fn a_failed_put_leaves_no_public_key_behind() {
    let w = world();
    w.secrets.start_rotation("tok-1");
    w.secrets.0.lock().unwrap().fail_put = true;
    let keys_before = w.keys.state().keys.len();
    assert!(w.step(Step::Create, "tok-1", T0).await.is_err());
    assert_eq!(w.keys.state().keys.len(), keys_before);
    w.secrets.0.lock().unwrap().fail_put = false;
    w.step(Step::Create, "tok-1", T0).await.unwrap();
    assert_eq!(w.keys.state().keys.len(), keys_before + 1);
}

#[tokio::test]
async fn a_key_without_a_retirement_time_is_counted_live_then_given_one() {
    let w = world();
    let k = SigningKey::generate(KeyType::EcdsaP256).unwrap();
    let stray = w
        .keys
        .add_key(&k.public_key_pem(), "someone added this by hand");
    w.keys
        .0
        .lock()
        .unwrap()
        .groups
        .get_mut(GROUP)
        .unwrap()
        .items
        .push(stray.clone());
    w.rotation("tok-1", T0).await;
    assert_eq!(retired_at(&w.keys.comment(&stray)), Some(T0));
    w.rotation("tok-2", T0 + 4500).await;
    assert!(!w.keys.items(GROUP).contains(&stray));
}

#[tokio::test]
async fn test_secret_fails_when_cloudfront_holds_another_public_key_under_the_id() {
    let w = world();
    w.secrets.start_rotation("tok-1");
    w.step(Step::Create, "tok-1", T0).await.unwrap();
    w.step(Step::Set, "tok-1", T0).await.unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&w.secrets.value_of(AWSPENDING).unwrap()).unwrap();
    let id = v["keyPairId"].as_str().unwrap().to_owned();
    let other = SigningKey::generate(KeyType::EcdsaP256)
        .unwrap()
        .public_key_pem();
    w.keys
        .0
        .lock()
        .unwrap()
        .keys
        .get_mut(&id)
        .unwrap()
        .encoded_key = other;
    let err = w.step(Step::Test, "tok-1", T0).await.unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    assert_eq!(w.secrets.version_with(AWSCURRENT).as_deref(), Some("v0"));
}

#[tokio::test]
async fn a_finish_retried_after_its_comment_write_failed_records_the_retirement() {
    let w = world();
    w.rotation("tok-1", T0).await;
    // As if the comment write had never happened.
    w.keys
        .0
        .lock()
        .unwrap()
        .keys
        .get_mut(&w.first)
        .unwrap()
        .comment = String::new();
    let again = w.step(Step::Finish, "tok-1", T0 + 7).await.unwrap();
    assert!(again.changed, "{}", again.detail);
    assert_eq!(retired_at(&w.keys.comment(&w.first)), Some(T0 + 7));
}

#[tokio::test]
async fn an_rsa_key_is_replaced_by_an_rsa_key_unless_configured() {
    let w = world_with(KeyType::Rsa2048);
    w.rotation("tok-1", T0).await;
    let v: serde_json::Value =
        serde_json::from_str(&w.secrets.value_of(AWSCURRENT).unwrap()).unwrap();
    let key = SigningKey::from_pem(v["privateKeyPem"].as_str().unwrap()).unwrap();
    assert_eq!(key.key_type(), KeyType::Rsa2048);
}

#[tokio::test]
async fn keys_list_names_the_signing_key_and_what_can_be_pruned() {
    let w = world();
    let second = w.rotation("tok-1", T0).await;
    let rows = list_keys(&w.config, Some(SECRET), &w.secrets, &w.keys, T0 + 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, w.first);
    assert_eq!(
        rows[0].state,
        KeyState::Retired {
            at: T0,
            prunable: false
        }
    );
    assert_eq!(rows[0].age_seconds, 86_410);
    assert_eq!(rows[1].id, second);
    assert_eq!(rows[1].state, KeyState::Signing);
    let later = list_keys(&w.config, Some(SECRET), &w.secrets, &w.keys, T0 + 4500)
        .await
        .unwrap();
    assert_eq!(
        later[0].state,
        KeyState::Retired {
            at: T0,
            prunable: true
        }
    );
    let no_secret = list_keys(&w.config, None, &w.secrets, &w.keys, T0)
        .await
        .unwrap();
    assert_eq!(no_secret[1].state, KeyState::Unknown);
}

#[test]
fn a_rotation_key_is_recognised_by_its_group_name_and_no_other() {
    use crate::is_rotation_key_of;
    use crate::steps::key_name;
    let token = "3224d962-7a32-48c3-a3b8-83fed096f32d";
    let name = key_name("keyhole-prod-KeySetup-ab12cd34ef56", token, 1_796_237_709);
    assert!(is_rotation_key_of(
        &name,
        "keyhole-prod-KeySetup-ab12cd34ef56"
    ));
    for other in [
        "keyhole-prod",
        "keyhole-prod-KeySetup-ab12cd34ef5",
        "keyhole-prod-KeySetup-ab12cd34ef56-x",
    ] {
        assert!(!is_rotation_key_of(&name, other), "{other}");
    }
    // The key setup's first key, and names of other tools, are not rotation keys.
    for name in [
        "keyhole-prod-KeySetup-ab12cd34ef56",
        "keyhole-prod-KeySetup-ab12cd34ef56-rX-",
        "other-r1-2",
    ] {
        assert!(
            !is_rotation_key_of(name, "keyhole-prod-KeySetup-ab12cd34ef56"),
            "{name}"
        );
    }
    // A group name long enough to be cut still matches its own keys.
    let long = "g".repeat(128);
    assert!(is_rotation_key_of(
        &key_name(&long, token, 1_796_237_709),
        &long
    ));
    assert!(!is_rotation_key_of(
        &key_name(&long, token, 1_796_237_709),
        "h"
    ));
}
