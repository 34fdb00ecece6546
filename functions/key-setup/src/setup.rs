//! What Create, Update and Delete do, against two small traits (CloudFront's key API and the
//! secret store) so the logic runs in tests with hand-written fakes.

use std::future::Future;
use std::time::Instant;

use keyhole_core::{KeyType, SigningKey};
use serde::Serialize;

use crate::Error;
use crate::event::{CfnRequest, CfnResponse, Properties, RequestType, ResponseData, Status};

/// The physical id reported when Create failed before any key group existed. Delete recognises it
/// and has nothing to clean up.
pub const FAILED_CREATE_PREFIX: &str = "keyhole-key-setup-not-created-";

/// A key group as read back: its members and the version tag deletes must quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGroupState {
    /// The group's name (the rotation names its keys after it).
    pub name: String,
    /// Public key ids in the group.
    pub items: Vec<String>,
    /// The `ETag` for `If-Match`.
    pub etag: String,
}

/// The CloudFront calls key setup makes. `aws::CloudFrontApi` is the real one.
pub trait KeyApi: Send + Sync {
    /// Uploads a public key (SPKI PEM); returns its id, which is also the key pair id.
    fn create_public_key(
        &self,
        name: &str,
        public_key_pem: &str,
        caller_reference: &str,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// Creates a key group holding `items`; returns its id.
    fn create_key_group(
        &self,
        name: &str,
        items: &[String],
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// Reads a key group; `NotFound` when it is gone.
    fn get_key_group(&self, id: &str) -> impl Future<Output = Result<KeyGroupState, Error>> + Send;
    /// Deletes a key group at version `etag`.
    fn delete_key_group(
        &self,
        id: &str,
        etag: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// The current `ETag` of a public key; `NotFound` when it is gone.
    fn public_key_etag(&self, id: &str) -> impl Future<Output = Result<String, Error>> + Send;
    /// Deletes a public key at version `etag`.
    fn delete_public_key(
        &self,
        id: &str,
        etag: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Every public key in the account, as (id, name).
    fn list_public_keys(&self)
    -> impl Future<Output = Result<Vec<(String, String)>, Error>> + Send;
}

/// Where the private key goes. `aws::SecretsManagerStore` is the real one.
pub trait SecretStore: Send + Sync {
    /// Writes a new current version of the secret's string value.
    fn put_secret_string(
        &self,
        secret_id: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The secret's JSON, the format the signer's Secrets Manager key source reads:
/// `{"keyPairId", "privateKeyPem"}` (docs/architecture.md, "Configuration").
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretValue<'a> {
    key_pair_id: &'a str,
    private_key_pem: &'a str,
}

/// CloudFront names: 1 to 128 of `[A-Za-z0-9_-]`. The prefix is cleaned and cut so that the
/// suffix (from the request id, unique per Create) always fits.
pub fn resource_name(prefix: &str, request_id: &str) -> String {
    let suffix: String = request_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let cleaned: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(128 - 1 - suffix.len())
        .collect();
    match (cleaned.is_empty(), suffix.is_empty()) {
        (true, true) => "keyhole".to_string(),
        (true, false) => format!("keyhole-{suffix}"),
        (false, true) => cleaned,
        (false, false) => format!("{cleaned}-{suffix}"),
    }
}

/// Carries out one request and says what to answer. Never fails: every error becomes a FAILED
/// response with a reason (no key material in it), so CloudFormation always hears back.
pub async fn handle(
    req: &CfnRequest,
    keys: &impl KeyApi,
    secrets: &impl SecretStore,
) -> CfnResponse {
    match req.request_type {
        RequestType::Create => create(req, keys, secrets).await,
        RequestType::Update => update(req, keys).await,
        RequestType::Delete => delete(req, keys).await,
    }
}

fn not_created_id(req: &CfnRequest) -> String {
    format!("{FAILED_CREATE_PREFIX}{}", req.request_id)
}

async fn create(req: &CfnRequest, keys: &impl KeyApi, secrets: &impl SecretStore) -> CfnResponse {
    let failed =
        |reason: String| CfnResponse::new(req, Status::Failed, reason, not_created_id(req), None);
    let props = match Properties::from_json(&req.resource_properties) {
        Ok(p) => p,
        Err(e) => return failed(e.to_string()),
    };
    // ECDSA P-256: CloudFront accepts it for key groups, and signing is far cheaper than RSA.
    let key = match SigningKey::generate(KeyType::EcdsaP256) {
        Ok(k) => k,
        Err(e) => return failed(format!("generating the key pair: {e}")),
    };
    let name = resource_name(&props.name_prefix, &req.request_id);
    let public_key_id = match keys
        .create_public_key(&name, &key.public_key_pem(), &req.request_id)
        .await
    {
        Ok(id) => id,
        Err(e) => return failed(format!("CreatePublicKey: {e}")),
    };
    let key_group_id = match keys
        .create_key_group(&name, std::slice::from_ref(&public_key_id))
        .await
    {
        Ok(id) => id,
        Err(e) => {
            let cleanup = delete_public_key(keys, &public_key_id).await;
            return failed(format!("CreateKeyGroup: {e}{}", cleanup_note(cleanup)));
        }
    };
    let private_key_pem = key.private_key_pem();
    let value = SecretValue {
        key_pair_id: &public_key_id,
        private_key_pem: &private_key_pem,
    };
    let put = match serde_json::to_string(&value) {
        Ok(json) => secrets.put_secret_string(&props.secret_id, &json).await,
        Err(e) => Err(Error::Service(e.to_string())),
    };
    if let Err(e) = put {
        // Nothing may be left trusting a key whose private half was never stored.
        let cleanup = delete_group_and_members(keys, &key_group_id).await;
        return failed(format!(
            "PutSecretValue on {}: {e}{}",
            props.secret_id,
            cleanup_note(cleanup)
        ));
    }
    tracing::info!(
        key_group_id,
        public_key_id,
        "created the first key pair and key group"
    );
    CfnResponse::new(
        req,
        Status::Success,
        format!("key group {key_group_id} with public key {public_key_id}"),
        key_group_id.clone(),
        Some(ResponseData { key_group_id }),
    )
}

fn cleanup_note(cleanup: Result<(), Error>) -> String {
    match cleanup {
        Ok(()) => String::new(),
        Err(e) => format!(" (and cleaning up what was created failed: {e})"),
    }
}

/// Update never touches the key group's membership: key rotation changes it outside
/// CloudFormation, and resetting it here would lock every session out. It only checks that the
/// group still exists and that the secret did not move.
async fn update(req: &CfnRequest, keys: &impl KeyApi) -> CfnResponse {
    let id = req.physical_resource_id.clone().unwrap_or_default();
    let failed = |reason: String| CfnResponse::new(req, Status::Failed, reason, id.clone(), None);
    let props = match Properties::from_json(&req.resource_properties) {
        Ok(p) => p,
        Err(e) => return failed(e.to_string()),
    };
    if let Some(Ok(old)) = req
        .old_resource_properties
        .as_ref()
        .map(Properties::from_json)
        && old.secret_id != props.secret_id
    {
        return failed(format!(
            "SecretId changed from {} to {}: the new secret would hold no key. Keep the \
             secret, or delete and recreate the stack",
            old.secret_id, props.secret_id
        ));
    }
    if id.is_empty() || id.starts_with(FAILED_CREATE_PREFIX) {
        return failed("there is no key group to update: the resource was never created".into());
    }
    match keys.get_key_group(&id).await {
        Ok(_) => CfnResponse::new(
            req,
            Status::Success,
            "key group kept as it is",
            id.clone(),
            Some(ResponseData {
                key_group_id: id.clone(),
            }),
        ),
        Err(Error::NotFound) => failed(format!(
            "key group {id} no longer exists; it was deleted outside CloudFormation"
        )),
        Err(e) => failed(format!("GetKeyGroup {id}: {e}")),
    }
}

/// Delete removes the key group, the public keys in it, and every public key a rotation made for
/// it that is no longer in it (a rotation abandoned after createSecret, a pruned key whose delete
/// failed), tolerating anything already gone; a public key another key group still uses is left.
async fn delete(req: &CfnRequest, keys: &impl KeyApi) -> CfnResponse {
    let id = req.physical_resource_id.clone().unwrap_or_default();
    if id.is_empty() || id.starts_with(FAILED_CREATE_PREFIX) {
        return CfnResponse::new(req, Status::Success, "nothing was created", id, None);
    }
    match delete_group_and_members(keys, &id).await {
        Ok(()) => CfnResponse::new(
            req,
            Status::Success,
            "key group and its keys deleted",
            id,
            None,
        ),
        Err(e) => CfnResponse::new(
            req,
            Status::Failed,
            format!("deleting key group {id}: {e}"),
            id,
            None,
        ),
    }
}

async fn delete_group_and_members(keys: &impl KeyApi, id: &str) -> Result<(), Error> {
    let state = match keys.get_key_group(id).await {
        Ok(s) => s,
        Err(Error::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    match keys.delete_key_group(id, &state.etag).await {
        Ok(()) | Err(Error::NotFound) => {}
        Err(e) => return Err(e),
    }
    for public_key_id in &state.items {
        delete_public_key(keys, public_key_id).await?;
    }
    for (public_key_id, name) in keys.list_public_keys().await? {
        if keyhole_rotation::is_rotation_key_of(&name, &state.name) {
            delete_public_key(keys, &public_key_id).await?;
        }
    }
    Ok(())
}

async fn delete_public_key(keys: &impl KeyApi, id: &str) -> Result<(), Error> {
    let etag = match keys.public_key_etag(id).await {
        Ok(e) => e,
        Err(Error::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    match keys.delete_public_key(id, &etag).await {
        Ok(()) | Err(Error::NotFound) => Ok(()),
        Err(Error::InUse) => {
            tracing::warn!(
                public_key_id = id,
                "public key still used by another key group; left in place"
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Parses the event, carries it out, and returns the request (for its response URL) with the
/// answer. Only an event without the custom-resource envelope is an error.
pub async fn process(
    event: serde_json::Value,
    keys: &impl KeyApi,
    secrets: &impl SecretStore,
) -> Result<(CfnRequest, CfnResponse), Error> {
    let started = Instant::now();
    let req = CfnRequest::from_json(event)?;
    let resp = handle(&req, keys, secrets).await;
    // One line per request, flat, with the signer's field names; the invocation's `requestId`
    // comes from the runtime's span (keyhole-lambda-log).
    let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    let duration_ms = f64::from(micros) / 1000.0;
    match resp.status {
        Status::Success => tracing::info!(
            requestType = ?req.request_type,
            outcome = "SUCCESS",
            reason = %resp.reason,
            durationMs = duration_ms,
            "custom resource request"
        ),
        Status::Failed => tracing::error!(
            requestType = ?req.request_type,
            outcome = "FAILED",
            reason = %resp.reason,
            durationMs = duration_ms,
            "custom resource request"
        ),
    }
    Ok((req, resp))
}

#[cfg(test)]
pub(crate) mod fakes {
    //! In-memory CloudFront key API and secret store, recording every call.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    /// One stored public key.
    #[derive(Debug, Clone)]
    pub struct FakePublicKey {
        pub name: String,
        pub pem: String,
        pub etag: u32,
    }

    /// One stored key group.
    #[derive(Debug, Clone)]
    pub struct FakeKeyGroup {
        pub name: String,
        pub items: Vec<String>,
        pub etag: u32,
    }

    #[derive(Default)]
    pub struct State {
        pub public_keys: BTreeMap<String, FakePublicKey>,
        pub key_groups: BTreeMap<String, FakeKeyGroup>,
        pub calls: Vec<String>,
        pub next_id: u32,
        /// Operation names that fail with `Other` the next time they are called.
        pub fail: Vec<&'static str>,
    }

    /// Behaves like CloudFront for these calls: ids are minted, deletes need the current ETag,
    /// a public key in a group cannot be deleted, unknown ids are `NotFound`.
    #[derive(Default)]
    pub struct FakeCloudFront(pub Mutex<State>);

    impl FakeCloudFront {
        pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
            self.0.lock().unwrap()
        }
        fn enter(
            &self,
            op: &'static str,
            arg: &str,
        ) -> Result<std::sync::MutexGuard<'_, State>, Error> {
            let mut s = self.state();
            s.calls.push(format!("{op} {arg}"));
            if let Some(i) = s.fail.iter().position(|f| *f == op) {
                s.fail.remove(i);
                return Err(Error::Service(format!("{op} refused by the test")));
            }
            Ok(s)
        }
    }

    impl KeyApi for FakeCloudFront {
        async fn create_public_key(
            &self,
            name: &str,
            pem: &str,
            _caller: &str,
        ) -> Result<String, Error> {
            let mut s = self.enter("CreatePublicKey", name)?;
            s.next_id += 1;
            let id = format!("K{:013}", s.next_id);
            s.public_keys.insert(
                id.clone(),
                FakePublicKey {
                    name: name.into(),
                    pem: pem.into(),
                    etag: 1,
                },
            );
            Ok(id)
        }
        async fn create_key_group(&self, name: &str, items: &[String]) -> Result<String, Error> {
            let mut s = self.enter("CreateKeyGroup", name)?;
            if items.iter().any(|i| !s.public_keys.contains_key(i)) {
                return Err(Error::Service("InvalidArgument: unknown public key".into()));
            }
            s.next_id += 1;
            let id = format!("kg-{:08}", s.next_id);
            s.key_groups.insert(
                id.clone(),
                FakeKeyGroup {
                    name: name.into(),
                    items: items.to_vec(),
                    etag: 1,
                },
            );
            Ok(id)
        }
        async fn get_key_group(&self, id: &str) -> Result<KeyGroupState, Error> {
            let s = self.enter("GetKeyGroup", id)?;
            let g = s.key_groups.get(id).ok_or(Error::NotFound)?;
            Ok(KeyGroupState {
                name: g.name.clone(),
                items: g.items.clone(),
                etag: format!("E{}", g.etag),
            })
        }
        async fn delete_key_group(&self, id: &str, etag: &str) -> Result<(), Error> {
            let mut s = self.enter("DeleteKeyGroup", id)?;
            let g = s.key_groups.get(id).ok_or(Error::NotFound)?;
            if format!("E{}", g.etag) != etag {
                return Err(Error::Service("PreconditionFailed".into()));
            }
            s.key_groups.remove(id);
            Ok(())
        }
        async fn public_key_etag(&self, id: &str) -> Result<String, Error> {
            let s = self.enter("GetPublicKey", id)?;
            let k = s.public_keys.get(id).ok_or(Error::NotFound)?;
            Ok(format!("E{}", k.etag))
        }
        async fn delete_public_key(&self, id: &str, etag: &str) -> Result<(), Error> {
            let mut s = self.enter("DeletePublicKey", id)?;
            let k = s.public_keys.get(id).ok_or(Error::NotFound)?;
            if format!("E{}", k.etag) != etag {
                return Err(Error::Service("PreconditionFailed".into()));
            }
            if s.key_groups
                .values()
                .any(|g| g.items.iter().any(|i| i == id))
            {
                return Err(Error::InUse);
            }
            s.public_keys.remove(id);
            Ok(())
        }
        async fn list_public_keys(&self) -> Result<Vec<(String, String)>, Error> {
            let s = self.enter("ListPublicKeys", "")?;
            Ok(s.public_keys
                .iter()
                .map(|(id, k)| (id.clone(), k.name.clone()))
                .collect())
        }
    }

    /// Secrets by id; `put` to an id that was not created first fails, as in Secrets Manager.
    #[derive(Default)]
    pub struct FakeSecrets(pub Mutex<BTreeMap<String, Option<String>>>);

    impl FakeSecrets {
        pub fn with_empty_secret(id: &str) -> Self {
            let s = FakeSecrets::default();
            s.0.lock().unwrap().insert(id.to_string(), None);
            s
        }
        pub fn value(&self, id: &str) -> Option<String> {
            self.0.lock().unwrap().get(id).cloned().flatten()
        }
    }

    impl SecretStore for FakeSecrets {
        async fn put_secret_string(&self, id: &str, value: &str) -> Result<(), Error> {
            let mut m = self.0.lock().unwrap();
            match m.get_mut(id) {
                Some(slot) => {
                    *slot = Some(value.to_string());
                    Ok(())
                }
                None => Err(Error::Service(
                    "ResourceNotFoundException: Secrets Manager can't find the specified secret."
                        .into(),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fakes::*;
    use super::*;
    use keyhole_core::{HashAlgorithm, Policy, Signer, Verifier, VerifyingKey};

    const SECRET: &str =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:SigningKeySecret-AbCdEf123456-a1B2c3";

    fn request(name: &str) -> CfnRequest {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        CfnRequest::from_json(
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap(),
        )
        .unwrap()
    }

    fn with_physical_id(mut req: CfnRequest, id: &str) -> CfnRequest {
        req.physical_resource_id = Some(id.to_string());
        req
    }

    async fn created(cf: &FakeCloudFront, secrets: &FakeSecrets) -> CfnResponse {
        let resp = handle(&request("create.json"), cf, secrets).await;
        assert_eq!(resp.status, Status::Success, "{}", resp.reason);
        resp
    }

    #[tokio::test]
    async fn create_makes_a_key_pair_whose_private_half_signs_for_the_public_half_in_the_group() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let resp = created(&cf, &secrets).await;

        let state = cf.state();
        assert_eq!(state.key_groups.len(), 1);
        assert_eq!(state.public_keys.len(), 1);
        let (group_id, group) = state.key_groups.iter().next().unwrap();
        assert_eq!(resp.physical_resource_id, *group_id);
        assert_eq!(
            resp.data,
            Some(ResponseData {
                key_group_id: group_id.clone()
            })
        );
        let public_key_id = &group.items[0];
        assert_eq!(group.items.len(), 1);
        assert_eq!(state.public_keys[public_key_id].name, group.name);
        assert!(group.name.starts_with("keyhole-demo-"), "{}", group.name);

        let secret: serde_json::Value =
            serde_json::from_str(&secrets.value(SECRET).unwrap()).unwrap();
        assert_eq!(secret["keyPairId"], public_key_id.as_str());
        let key = SigningKey::from_pem(secret["privateKeyPem"].as_str().unwrap()).unwrap();
        assert_eq!(key.key_type(), KeyType::EcdsaP256);
        assert_eq!(key.public_key_pem(), state.public_keys[public_key_id].pem);

        // What CloudFront would do: cookies signed with the stored key verify against the
        // uploaded public key under the stored key pair id.
        let url = "https://d111111abcdef8.cloudfront.net/users/abc/cat.png";
        let policy = Policy::new(
            "https://d111111abcdef8.cloudfront.net/users/abc/*",
            4_000_000_000,
        )
        .unwrap();
        let cookies = Signer::new(key, public_key_id.clone(), HashAlgorithm::Sha256)
            .cookies(&policy)
            .unwrap();
        let verifier = Verifier::new().with_key(
            public_key_id.clone(),
            VerifyingKey::from_pem(&state.public_keys[public_key_id].pem).unwrap(),
        );
        let pairs = cookies.pairs();
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let grant = verifier
            .verify_cookies(&borrowed, url, None, 1_800_000_000)
            .unwrap();
        assert_eq!(grant.key_pair_id, *public_key_id);
    }

    #[tokio::test]
    async fn create_never_puts_the_private_key_in_the_response() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let resp = created(&cf, &secrets).await;
        let body = serde_json::to_string(&resp).unwrap();
        assert!(!body.contains("PRIVATE KEY"));
        let secret: serde_json::Value =
            serde_json::from_str(&secrets.value(SECRET).unwrap()).unwrap();
        assert!(!body.contains(secret["privateKeyPem"].as_str().unwrap()));
    }

    #[tokio::test]
    async fn update_keeps_the_membership_that_rotation_changed() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let group_id = created(&cf, &secrets).await.physical_resource_id;
        // Rotation, outside CloudFormation: a second key joins and the first one leaves.
        let rotated = {
            let mut s = cf.state();
            s.public_keys.insert(
                "KROTATED00001".into(),
                FakePublicKey {
                    name: "r".into(),
                    pem: "p".into(),
                    etag: 1,
                },
            );
            let g = s.key_groups.get_mut(&group_id).unwrap();
            g.items = vec!["KROTATED00001".into()];
            g.etag += 1;
            g.items.clone()
        };
        let secret_before = secrets.value(SECRET);
        let calls_before = cf.state().calls.len();

        let resp = handle(
            &with_physical_id(request("update.json"), &group_id),
            &cf,
            &secrets,
        )
        .await;

        assert_eq!(resp.status, Status::Success, "{}", resp.reason);
        assert_eq!(resp.physical_resource_id, group_id);
        assert_eq!(
            resp.data,
            Some(ResponseData {
                key_group_id: group_id.clone()
            })
        );
        let s = cf.state();
        assert_eq!(s.key_groups[&group_id].items, rotated);
        assert_eq!(s.calls[calls_before..], [format!("GetKeyGroup {group_id}")]);
        drop(s);
        assert_eq!(secrets.value(SECRET), secret_before);
    }

    #[tokio::test]
    async fn update_that_moves_the_secret_fails_and_says_why() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let group_id = created(&cf, &secrets).await.physical_resource_id;
        let mut req = with_physical_id(request("update.json"), &group_id);
        req.resource_properties["SecretId"] =
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:Other-x1".into();
        let resp = handle(&req, &cf, &secrets).await;
        assert_eq!(resp.status, Status::Failed);
        assert!(resp.reason.contains("SecretId changed"), "{}", resp.reason);
        assert_eq!(resp.physical_resource_id, group_id);
    }

    #[tokio::test]
    async fn update_of_a_key_group_deleted_outside_cloudformation_fails_clearly() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let resp = handle(
            &with_physical_id(request("update.json"), "kg-gone"),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Failed);
        assert!(resp.reason.contains("no longer exists"), "{}", resp.reason);
    }

    #[tokio::test]
    async fn delete_removes_the_key_group_and_every_key_in_it() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let group_id = created(&cf, &secrets).await.physical_resource_id;
        {
            // A key added by rotation goes too: it is useless without the group.
            let mut s = cf.state();
            s.public_keys.insert(
                "KROTATED00001".into(),
                FakePublicKey {
                    name: "r".into(),
                    pem: "p".into(),
                    etag: 3,
                },
            );
            let g = s.key_groups.get_mut(&group_id).unwrap();
            g.items.push("KROTATED00001".into());
            g.etag += 1;
        }
        let resp = handle(
            &with_physical_id(request("delete.json"), &group_id),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Success, "{}", resp.reason);
        assert_eq!(resp.physical_resource_id, group_id);
        let s = cf.state();
        assert!(s.key_groups.is_empty());
        assert!(s.public_keys.is_empty());
    }

    #[tokio::test]
    async fn delete_also_removes_keys_rotations_made_for_the_group_outside_it() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let group_id = created(&cf, &secrets).await.physical_resource_id;
        let group_name = cf.state().key_groups[&group_id].name.clone();
        {
            // An abandoned rotation's key (created, never added) and another stack's key.
            let mut s = cf.state();
            for (id, name) in [
                (
                    "KABANDONED001",
                    format!("{group_name}-r3224d9627a32-1796237709"),
                ),
                (
                    "KOTHERSTACK01",
                    "other-stack-r3224d9627a32-1796237709".to_owned(),
                ),
            ] {
                s.public_keys.insert(
                    id.into(),
                    FakePublicKey {
                        name,
                        pem: "p".into(),
                        etag: 1,
                    },
                );
            }
        }
        let resp = handle(
            &with_physical_id(request("delete.json"), &group_id),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Success, "{}", resp.reason);
        let left: Vec<String> = cf.state().public_keys.keys().cloned().collect();
        assert_eq!(left, ["KOTHERSTACK01"]);
    }

    #[tokio::test]
    async fn delete_tolerates_a_key_group_that_is_already_gone() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let resp = handle(
            &with_physical_id(request("delete.json"), "kg-never-existed"),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Success, "{}", resp.reason);
    }

    #[tokio::test]
    async fn delete_tolerates_public_keys_that_are_already_gone() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let group_id = created(&cf, &secrets).await.physical_resource_id;
        cf.state().public_keys.clear();
        let resp = handle(
            &with_physical_id(request("delete.json"), &group_id),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Success, "{}", resp.reason);
        assert!(cf.state().key_groups.is_empty());
    }

    #[tokio::test]
    async fn delete_leaves_a_public_key_that_another_key_group_still_uses() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let group_id = created(&cf, &secrets).await.physical_resource_id;
        let key_id = cf.state().key_groups[&group_id].items[0].clone();
        cf.create_key_group("someone-else", std::slice::from_ref(&key_id))
            .await
            .unwrap();
        let resp = handle(
            &with_physical_id(request("delete.json"), &group_id),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Success, "{}", resp.reason);
        let s = cf.state();
        assert!(!s.key_groups.contains_key(&group_id));
        assert!(s.public_keys.contains_key(&key_id));
    }

    #[tokio::test]
    async fn delete_after_a_failed_create_makes_no_calls() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let failed = handle(&request("create.json"), &cf, &secrets).await; // no such secret
        assert_eq!(failed.status, Status::Failed);
        assert!(
            failed
                .physical_resource_id
                .starts_with(FAILED_CREATE_PREFIX)
        );
        let calls_before = cf.state().calls.len();
        let resp = handle(
            &with_physical_id(request("delete.json"), &failed.physical_resource_id),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Success);
        assert_eq!(cf.state().calls.len(), calls_before);
    }

    #[tokio::test]
    async fn delete_reports_a_service_error_instead_of_pretending() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        let group_id = created(&cf, &secrets).await.physical_resource_id;
        cf.state().fail.push("DeleteKeyGroup");
        let resp = handle(
            &with_physical_id(request("delete.json"), &group_id),
            &cf,
            &secrets,
        )
        .await;
        assert_eq!(resp.status, Status::Failed);
        assert!(
            resp.reason.contains("DeleteKeyGroup refused"),
            "{}",
            resp.reason
        );
        assert!(cf.state().key_groups.contains_key(&group_id));
    }

    #[tokio::test]
    async fn create_removes_the_public_key_when_the_key_group_cannot_be_made() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::with_empty_secret(SECRET);
        cf.state().fail.push("CreateKeyGroup");
        let resp = handle(&request("create.json"), &cf, &secrets).await;
        assert_eq!(resp.status, Status::Failed);
        assert!(
            resp.reason.starts_with("CreateKeyGroup:"),
            "{}",
            resp.reason
        );
        assert!(cf.state().public_keys.is_empty());
        assert_eq!(secrets.value(SECRET), None);
    }

    #[tokio::test]
    async fn create_removes_group_and_key_when_the_secret_cannot_be_written() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let resp = handle(&request("create.json"), &cf, &secrets).await;
        assert_eq!(resp.status, Status::Failed);
        assert!(resp.reason.contains("PutSecretValue"), "{}", resp.reason);
        assert!(
            resp.reason.contains("can't find the specified secret"),
            "{}",
            resp.reason
        );
        let s = cf.state();
        assert!(s.key_groups.is_empty());
        assert!(s.public_keys.is_empty());
    }

    #[tokio::test]
    async fn create_with_bad_properties_fails_before_any_call() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let mut req = request("create.json");
        req.resource_properties = serde_json::json!({"NamePrefix": "keyhole-demo"});
        let resp = handle(&req, &cf, &secrets).await;
        assert_eq!(resp.status, Status::Failed);
        assert!(resp.reason.contains("SecretId"), "{}", resp.reason);
        assert!(cf.state().calls.is_empty());
    }

    #[test]
    fn resource_names_are_cloudfront_safe_and_fit() {
        let id = "d3b07384-d9a0-4c9e-8f1b-2c3d4e5f6a7b";
        assert_eq!(
            resource_name("keyhole-demo", id),
            "keyhole-demo-d3b07384d9a0"
        );
        assert_eq!(
            resource_name("keyhole my.stack!", id),
            "keyhole-my-stack--d3b07384d9a0"
        );
        let long = resource_name(&"x".repeat(300), id);
        assert_eq!(long.len(), 128);
        assert!(long.ends_with("-d3b07384d9a0"));
        assert_eq!(resource_name("", id), "keyhole-d3b07384d9a0");
        assert_eq!(resource_name("", ""), "keyhole");
        for name in [long, resource_name("é/ü", id)] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn process_refuses_an_event_that_is_not_a_custom_resource_request() {
        let cf = FakeCloudFront::default();
        let secrets = FakeSecrets::default();
        let err = process(serde_json::json!({"hello": "world"}), &cf, &secrets)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err}");
    }
}
