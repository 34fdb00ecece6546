//! In-memory Secrets Manager and CloudFront with the behaviour the steps rely on: staging labels
//! that move (AWSPREVIOUS follows AWSCURRENT), versions whose value cannot change, ETags that
//! change on every write and are checked on `If-Match`, and failures on demand.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::traits::{
    KeyGroup, KeyGroupApi, PublicKey, SecretApi, SecretMeta, SecretVersion, VersionRef,
};
use crate::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, Error};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Version {
    pub id: String,
    pub value: Option<String>,
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretState {
    pub rotation_enabled: bool,
    pub versions: Vec<Version>,
    pub fail_put: bool,
}

#[derive(Debug, Default)]
pub struct FakeSecrets(pub Mutex<SecretState>);

impl FakeSecrets {
    pub fn state(&self) -> SecretState {
        self.0.lock().unwrap().clone()
    }

    /// What Secrets Manager's RotateSecret does before invoking the function: a version under the
    /// token, labelled AWSPENDING, with no value yet.
    pub fn start_rotation(&self, token: &str) {
        let mut s = self.0.lock().unwrap();
        for v in &mut s.versions {
            v.stages.retain(|x| x != AWSPENDING);
        }
        s.versions.push(Version {
            id: token.into(),
            value: None,
            stages: vec![AWSPENDING.into()],
        });
    }

    pub fn value_of(&self, stage: &str) -> Option<String> {
        let s = self.0.lock().unwrap();
        s.versions
            .iter()
            .find(|v| v.stages.iter().any(|x| x == stage))
            .and_then(|v| v.value.clone())
    }

    pub fn version_with(&self, stage: &str) -> Option<String> {
        let s = self.0.lock().unwrap();
        s.versions
            .iter()
            .find(|v| v.stages.iter().any(|x| x == stage))
            .map(|v| v.id.clone())
    }
}

impl SecretApi for FakeSecrets {
    async fn describe(&self, _secret_id: &str) -> Result<SecretMeta, Error> {
        let s = self.0.lock().unwrap();
        Ok(SecretMeta {
            rotation_enabled: s.rotation_enabled,
            versions: s
                .versions
                .iter()
                .filter(|v| !v.stages.is_empty())
                .map(|v| SecretVersion {
                    id: v.id.clone(),
                    stages: v.stages.clone(),
                })
                .collect(),
        })
    }

    async fn get_value(
        &self,
        _secret_id: &str,
        which: VersionRef<'_>,
    ) -> Result<Option<String>, Error> {
        let s = self.0.lock().unwrap();
        Ok(s.versions
            .iter()
            .find(|v| match which {
                VersionRef::Stage(stage) => v.stages.iter().any(|x| x == stage),
                VersionRef::Pending(id) => v.id == id && v.stages.iter().any(|x| x == AWSPENDING),
            })
            .and_then(|v| v.value.clone()))
    }

    async fn put_pending(&self, _secret_id: &str, token: &str, value: &str) -> Result<(), Error> {
        let mut s = self.0.lock().unwrap();
        if s.fail_put {
            return Err(Error::Service("PutSecretValue: injected failure".into()));
        }
        for v in &mut s.versions {
            if v.id != token {
                v.stages.retain(|x| x != AWSPENDING);
            }
        }
        match s.versions.iter_mut().find(|v| v.id == token) {
            Some(v) if v.value.as_deref().is_some_and(|old| old != value) => {
                return Err(Error::Service(
                    "ResourceExistsException: a version's value cannot change".into(),
                ));
            }
            Some(v) => {
                v.value = Some(value.into());
                if !v.stages.iter().any(|x| x == AWSPENDING) {
                    v.stages.push(AWSPENDING.into());
                }
            }
            None => s.versions.push(Version {
                id: token.into(),
                value: Some(value.into()),
                stages: vec![AWSPENDING.into()],
            }),
        }
        Ok(())
    }

    async fn move_stage(
        &self,
        _secret_id: &str,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<(), Error> {
        let mut s = self.0.lock().unwrap();
        if let Some(from) = from {
            let v = s
                .versions
                .iter_mut()
                .find(|v| v.id == from)
                .ok_or_else(|| Error::Service(format!("no version {from}")))?;
            if !v.stages.iter().any(|x| x == stage) {
                return Err(Error::Service(format!("version {from} has no {stage}")));
            }
            v.stages.retain(|x| x != stage);
        } else if stage == AWSCURRENT {
            return Err(Error::Service(
                "RemoveFromVersionId can't be empty for AWSCURRENT".into(),
            ));
        }
        if let Some(to) = to {
            let v = s
                .versions
                .iter_mut()
                .find(|v| v.id == to)
                .ok_or_else(|| Error::Service(format!("no version {to}")))?;
            v.stages.push(stage.into());
            v.stages.retain(|x| x != AWSPREVIOUS);
        }
        if stage == AWSCURRENT
            && let Some(from) = from
        {
            for v in &mut s.versions {
                v.stages.retain(|x| x != AWSPREVIOUS);
            }
            if let Some(v) = s.versions.iter_mut().find(|v| v.id == from) {
                v.stages.push(AWSPREVIOUS.into());
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyState {
    pub groups: BTreeMap<String, KeyGroup>,
    pub keys: BTreeMap<String, PublicKey>,
    pub next: u32,
    /// The next UpdateKeyGroup fails with this.
    pub fail_update_group: Option<Error>,
    /// Bump the group's ETag just before the next UpdateKeyGroup (someone else wrote meanwhile).
    pub race_update_group: bool,
    pub now: i64,
}

#[derive(Debug, Default)]
pub struct FakeKeys(pub Mutex<KeyState>);

impl FakeKeys {
    pub fn state(&self) -> KeyState {
        self.0.lock().unwrap().clone()
    }

    pub fn items(&self, group: &str) -> Vec<String> {
        self.0.lock().unwrap().groups[group].items.clone()
    }

    pub fn comment(&self, id: &str) -> String {
        self.0.lock().unwrap().keys[id].comment.clone()
    }

    pub fn add_key(&self, pem: &str, comment: &str) -> String {
        let mut s = self.0.lock().unwrap();
        s.next += 1;
        let id = format!("K{:03}", s.next);
        let created_at = s.now;
        let etag = format!("E{}", s.next);
        s.keys.insert(
            id.clone(),
            PublicKey {
                id: id.clone(),
                name: format!("name-{id}"),
                caller_reference: format!("ref-{id}"),
                encoded_key: pem.into(),
                comment: comment.into(),
                created_at,
                etag,
            },
        );
        id
    }

    fn etag(s: &mut KeyState) -> String {
        s.next += 1;
        format!("E{}", s.next)
    }
}

impl KeyGroupApi for FakeKeys {
    async fn get_key_group(&self, id: &str) -> Result<KeyGroup, Error> {
        self.0
            .lock()
            .unwrap()
            .groups
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("key group {id}")))
    }

    async fn update_key_group(
        &self,
        id: &str,
        group: &KeyGroup,
        items: &[String],
    ) -> Result<(), Error> {
        let mut s = self.0.lock().unwrap();
        if let Some(e) = s.fail_update_group.take() {
            return Err(e);
        }
        if std::mem::take(&mut s.race_update_group) {
            let tag = Self::etag(&mut s);
            s.groups.get_mut(id).unwrap().etag = tag;
        }
        let tag = Self::etag(&mut s);
        let g = s
            .groups
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(format!("key group {id}")))?;
        if g.etag != group.etag {
            return Err(Error::Stale(format!("key group {id}")));
        }
        assert!(
            items.len() <= crate::MAX_KEYS_PER_GROUP,
            "CloudFront refuses more than 5"
        );
        g.items = items.to_vec();
        g.etag = tag;
        Ok(())
    }

    async fn create_public_key(
        &self,
        name: &str,
        pem: &str,
        caller_reference: &str,
        comment: &str,
    ) -> Result<String, Error> {
        let id = self.add_key(pem, comment);
        let mut s = self.0.lock().unwrap();
        let k = s.keys.get_mut(&id).unwrap();
        k.name = name.into();
        k.caller_reference = caller_reference.into();
        Ok(id)
    }

    async fn get_public_key(&self, id: &str) -> Result<PublicKey, Error> {
        self.0
            .lock()
            .unwrap()
            .keys
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("public key {id}")))
    }

    async fn update_public_key_comment(&self, key: &PublicKey, comment: &str) -> Result<(), Error> {
        let mut s = self.0.lock().unwrap();
        let tag = Self::etag(&mut s);
        let k = s
            .keys
            .get_mut(&key.id)
            .ok_or_else(|| Error::NotFound(format!("public key {}", key.id)))?;
        if k.etag != key.etag {
            return Err(Error::Stale(format!("public key {}", key.id)));
        }
        k.comment = comment.into();
        k.etag = tag;
        Ok(())
    }

    async fn delete_public_key(&self, id: &str, etag: &str) -> Result<(), Error> {
        let mut s = self.0.lock().unwrap();
        if s.groups.values().any(|g| g.items.iter().any(|i| i == id)) {
            return Err(Error::Service(format!("PublicKeyInUse: {id}")));
        }
        match s.keys.get(id) {
            None => Err(Error::NotFound(format!("public key {id}"))),
            Some(k) if k.etag != etag => Err(Error::Stale(format!("public key {id}"))),
            Some(_) => {
                s.keys.remove(id);
                Ok(())
            }
        }
    }
}
