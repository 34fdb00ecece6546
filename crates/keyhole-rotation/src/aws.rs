//! The AWS SDK adapters behind [`SecretApi`] and [`KeyGroupApi`]: one call each, errors reduced
//! to the few cases the logic tells apart.

use aws_sdk_cloudfront::operation::delete_public_key::DeletePublicKeyError;
use aws_sdk_cloudfront::operation::get_key_group::GetKeyGroupError;
use aws_sdk_cloudfront::operation::get_public_key::GetPublicKeyError;
use aws_sdk_cloudfront::operation::update_key_group::UpdateKeyGroupError;
use aws_sdk_cloudfront::operation::update_public_key::UpdatePublicKeyError;
use aws_sdk_cloudfront::types::{KeyGroupConfig, PublicKeyConfig};
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use crate::traits::{
    KeyGroup, KeyGroupApi, PublicKey, SecretApi, SecretMeta, SecretVersion, VersionRef,
};
use crate::{AWSPENDING, Error};

/// One line for a failed call: the service's error code and message when it answered, else the
/// transport's chain of causes (timeout, connection refused). Never the raw response.
fn call_error<E, R>(call: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match err {
        SdkError::ServiceError(_) => format!(
            "{}: {}",
            err.code().unwrap_or("service error"),
            err.message().unwrap_or("no message")
        ),
        _ => {
            let mut text = err.to_string();
            let mut cause = std::error::Error::source(&err);
            while let Some(c) = cause {
                text.push_str(": ");
                text.push_str(&c.to_string());
                cause = c.source();
            }
            text
        }
    };
    Error::Service(format!("{call}: {text}"))
}

fn missing(what: &str) -> Error {
    Error::Service(format!("CloudFront answered without {what}"))
}

/// Both adapters from the environment's AWS configuration (credentials chain, region,
/// `AWS_ENDPOINT_URL`), as `keyhole rotate` uses them. Secrets Manager is regional, so a region
/// must be configured; CloudFront is global and signed in us-east-1 whatever it is.
pub async fn from_env() -> Result<(SecretsManagerApi, CloudFrontKeys), Error> {
    let config = aws_config::load_from_env().await;
    if config.region().is_none() {
        return Err(Error::Service(
            "no AWS region is configured: set AWS_REGION to the stack's region (or a profile's region)".into(),
        ));
    }
    let cloudfront = aws_sdk_cloudfront::config::Builder::from(&config)
        .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
        .build();
    Ok((
        SecretsManagerApi::new(aws_sdk_secretsmanager::Client::new(&config)),
        CloudFrontKeys::new(aws_sdk_cloudfront::Client::from_conf(cloudfront)),
    ))
}

/// Secrets Manager, where the private keys live.
#[derive(Debug, Clone)]
pub struct SecretsManagerApi {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerApi {
    /// Wraps a configured client.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsManagerApi { client }
    }
}

impl SecretApi for SecretsManagerApi {
    async fn describe(&self, secret_id: &str) -> Result<SecretMeta, Error> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| call_error("DescribeSecret", e))?;
        let mut versions: Vec<SecretVersion> = out
            .version_ids_to_stages()
            .map(|m| {
                m.iter()
                    .map(|(id, stages)| SecretVersion {
                        id: id.clone(),
                        stages: stages.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(SecretMeta {
            rotation_enabled: out.rotation_enabled().unwrap_or(false),
            versions,
        })
    }

    async fn get_value(
        &self,
        secret_id: &str,
        which: VersionRef<'_>,
    ) -> Result<Option<String>, Error> {
        let req = self.client.get_secret_value().secret_id(secret_id);
        let req = match which {
            VersionRef::Stage(stage) => req.version_stage(stage),
            VersionRef::Pending(id) => req.version_id(id).version_stage(AWSPENDING),
        };
        match req.send().await {
            Ok(out) => Ok(out.secret_string().map(str::to_owned)),
            // A version Secrets Manager created for a rotation has no value until createSecret.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetSecretValueError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(call_error("GetSecretValue", e)),
        }
    }

    async fn put_pending(&self, secret_id: &str, token: &str, value: &str) -> Result<(), Error> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value)
            .version_stages(AWSPENDING)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("PutSecretValue", e))
    }

    async fn move_stage(
        &self,
        secret_id: &str,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<(), Error> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage)
            .set_move_to_version_id(to.map(str::to_owned))
            .set_remove_from_version_id(from.map(str::to_owned))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("UpdateSecretVersionStage", e))
    }
}

/// CloudFront's public keys and key groups.
#[derive(Debug, Clone)]
pub struct CloudFrontKeys {
    client: aws_sdk_cloudfront::Client,
}

impl CloudFrontKeys {
    /// Wraps a configured client.
    pub fn new(client: aws_sdk_cloudfront::Client) -> Self {
        CloudFrontKeys { client }
    }
}

impl KeyGroupApi for CloudFrontKeys {
    async fn get_key_group(&self, id: &str) -> Result<KeyGroup, Error> {
        match self.client.get_key_group().id(id).send().await {
            Ok(out) => {
                let config = out
                    .key_group()
                    .and_then(|g| g.key_group_config())
                    .ok_or_else(|| missing("the key group"))?;
                Ok(KeyGroup {
                    name: config.name().to_owned(),
                    comment: config.comment().unwrap_or_default().to_owned(),
                    items: config.items().to_vec(),
                    etag: out.e_tag().ok_or_else(|| missing("an ETag"))?.to_owned(),
                })
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetKeyGroupError::NoSuchResource(_))
                ) =>
            {
                Err(Error::NotFound(format!("key group {id}")))
            }
            Err(e) => Err(call_error("GetKeyGroup", e)),
        }
    }

    async fn update_key_group(
        &self,
        id: &str,
        group: &KeyGroup,
        items: &[String],
    ) -> Result<(), Error> {
        let config = KeyGroupConfig::builder()
            .name(&group.name)
            .set_items(Some(items.to_vec()))
            .comment(&group.comment)
            .build()
            .map_err(|e| Error::Service(e.to_string()))?;
        match self
            .client
            .update_key_group()
            .id(id)
            .if_match(&group.etag)
            .key_group_config(config)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateKeyGroupError::PreconditionFailed(_)) => {
                    Err(Error::Stale(format!("key group {id}")))
                }
                Some(UpdateKeyGroupError::NoSuchResource(_)) => {
                    Err(Error::NotFound(format!("key group {id}")))
                }
                _ => Err(call_error("UpdateKeyGroup", e)),
            },
        }
    }

    async fn create_public_key(
        &self,
        name: &str,
        public_key_pem: &str,
        caller_reference: &str,
        comment: &str,
    ) -> Result<String, Error> {
        let config = PublicKeyConfig::builder()
            .name(name)
            .encoded_key(public_key_pem)
            .caller_reference(caller_reference)
            .comment(comment)
            .build()
            .map_err(|e| Error::Service(e.to_string()))?;
        let out = self
            .client
            .create_public_key()
            .public_key_config(config)
            .send()
            .await
            .map_err(|e| call_error("CreatePublicKey", e))?;
        out.public_key()
            .map(|k| k.id().to_owned())
            .ok_or_else(|| missing("the public key"))
    }

    async fn get_public_key(&self, id: &str) -> Result<PublicKey, Error> {
        match self.client.get_public_key().id(id).send().await {
            Ok(out) => {
                let key = out.public_key().ok_or_else(|| missing("the public key"))?;
                let config = key
                    .public_key_config()
                    .ok_or_else(|| missing("the public key's config"))?;
                Ok(PublicKey {
                    id: key.id().to_owned(),
                    name: config.name().to_owned(),
                    caller_reference: config.caller_reference().to_owned(),
                    encoded_key: config.encoded_key().to_owned(),
                    comment: config.comment().unwrap_or_default().to_owned(),
                    created_at: key.created_time().secs(),
                    etag: out.e_tag().ok_or_else(|| missing("an ETag"))?.to_owned(),
                })
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetPublicKeyError::NoSuchPublicKey(_))
                ) =>
            {
                Err(Error::NotFound(format!("public key {id}")))
            }
            Err(e) => Err(call_error("GetPublicKey", e)),
        }
    }

    async fn update_public_key_comment(&self, key: &PublicKey, comment: &str) -> Result<(), Error> {
        let config = PublicKeyConfig::builder()
            .name(&key.name)
            .encoded_key(&key.encoded_key)
            .caller_reference(&key.caller_reference)
            .comment(comment)
            .build()
            .map_err(|e| Error::Service(e.to_string()))?;
        match self
            .client
            .update_public_key()
            .id(&key.id)
            .if_match(&key.etag)
            .public_key_config(config)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdatePublicKeyError::PreconditionFailed(_)) => {
                    Err(Error::Stale(format!("public key {}", key.id)))
                }
                Some(UpdatePublicKeyError::NoSuchPublicKey(_)) => {
                    Err(Error::NotFound(format!("public key {}", key.id)))
                }
                _ => Err(call_error("UpdatePublicKey", e)),
            },
        }
    }

    async fn delete_public_key(&self, id: &str, etag: &str) -> Result<(), Error> {
        match self
            .client
            .delete_public_key()
            .id(id)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(DeletePublicKeyError::NoSuchPublicKey(_)) => {
                    Err(Error::NotFound(format!("public key {id}")))
                }
                Some(DeletePublicKeyError::PreconditionFailed(_)) => {
                    Err(Error::Stale(format!("public key {id}")))
                }
                _ => Err(call_error("DeletePublicKey", e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    //! The real adapters over HTTP against a moto server: Secrets Manager for every call a
    //! rotation makes, CloudFront with the key-group calls `scripts/moto-server.py` adds to moto
    //! (UpdateKeyGroup, UpdatePublicKey, ETags and If-Match). The steps' own tests here use the
    //! in-memory key group; functions/signer/tests/rotation_aws.rs runs whole rotations on both.

    use super::*;
    use crate::fakes::FakeKeys;
    use crate::{AWSCURRENT, AWSPREVIOUS, Origin, RotationConfig, Step, StepRequest, run_step};
    use keyhole_core::{KeyType, SigningKey};

    fn moto_url() -> String {
        std::env::var("KEYHOLE_MOTO_URL").expect("KEYHOLE_MOTO_URL (make test-rust sets it)")
    }

    fn secrets_client() -> aws_sdk_secretsmanager::Client {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(moto_url())
                .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
                .build(),
        )
    }

    fn cloudfront_client() -> aws_sdk_cloudfront::Client {
        use aws_sdk_cloudfront::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_cloudfront::Client::from_conf(
            aws_sdk_cloudfront::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(moto_url())
                .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
                .build(),
        )
    }

    /// A secret holding a first key, and a fake key group trusting it.
    async fn setup(tag: &str) -> (aws_sdk_secretsmanager::Client, String, FakeKeys, String) {
        let client = secrets_client();
        let keys = FakeKeys::default();
        let key = SigningKey::generate(KeyType::EcdsaP256).unwrap();
        let first = keys.add_key(&key.public_key_pem(), "first");
        keys.0.lock().unwrap().groups.insert(
            "G1".into(),
            KeyGroup {
                name: "keyhole-test".into(),
                comment: String::new(),
                items: vec![first.clone()],
                etag: "E0".into(),
            },
        );
        let value = serde_json::json!({"keyPairId": first, "privateKeyPem": key.private_key_pem()});
        let arn = client
            .create_secret()
            .name(format!("keyhole-rotation-{tag}-{}", std::process::id()))
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        (client, arn, keys, first)
    }

    fn config() -> RotationConfig {
        RotationConfig {
            key_group_id: "G1".into(),
            max_session_ttl: 3600,
            margin: 900,
            key_type: None,
        }
    }

    async fn stage_of(
        client: &aws_sdk_secretsmanager::Client,
        arn: &str,
        stage: &str,
    ) -> serde_json::Value {
        let out = client
            .get_secret_value()
            .secret_id(arn)
            .version_stage(stage)
            .send()
            .await
            .unwrap();
        serde_json::from_str(out.secret_string().unwrap()).unwrap()
    }

    #[tokio::test]
    #[ignore = "needs moto: run by make test-rust"]
    async fn each_step_twice_against_moto_secrets_manager_rotates_once() {
        let (client, arn, keys, first) = setup("steps").await;
        let api = SecretsManagerApi::new(client.clone());
        let token = crate::new_token().unwrap();
        for step in Step::ALL {
            let req = StepRequest {
                step,
                origin: Origin::Operator,
                secret_id: &arn,
                token: &token,
                now: 1_800_000_000,
            };
            let once = run_step(&req, &config(), &api, &keys).await.unwrap();
            // The rotation's timeline, for the record (cargo test -- --nocapture).
            eprintln!(
                "timeline: {step} {:.1} ms: {}",
                once.duration_ms, once.detail
            );
            assert!(
                once.changed || step == Step::Test,
                "{step}: {}",
                once.detail
            );
            let versions = api.describe(&arn).await.unwrap();
            let twice = run_step(&req, &config(), &api, &keys).await.unwrap();
            assert!(!twice.changed, "{step} again: {}", twice.detail);
            assert_eq!(
                api.describe(&arn).await.unwrap(),
                versions,
                "{step} again changed the versions"
            );
        }
        let current = stage_of(&client, &arn, AWSCURRENT).await;
        let previous = stage_of(&client, &arn, AWSPREVIOUS).await;
        assert_eq!(previous["keyPairId"], first.as_str());
        assert_ne!(current["keyPairId"], first.as_str());
        assert_eq!(keys.items("G1").len(), 2);
        client
            .delete_secret()
            .secret_id(&arn)
            .force_delete_without_recovery(true)
            .send()
            .await
            .unwrap();
    }

    #[tokio::test]
    #[ignore = "needs moto: run by make test-rust"]
    async fn moto_says_rotation_is_off_and_an_unknown_token_is_refused() {
        let (client, arn, keys, _) = setup("off").await;
        let api = SecretsManagerApi::new(client.clone());
        let req = StepRequest {
            step: Step::Create,
            origin: Origin::SecretsManager,
            secret_id: &arn,
            token: "tok-unknown-0000000000000000000000",
            now: 0,
        };
        let err = run_step(&req, &config(), &api, &keys).await.unwrap_err();
        assert!(matches!(err, crate::Error::RotationDisabled(_)), "{err}");
        let req = StepRequest {
            origin: Origin::Operator,
            step: Step::Set,
            ..req
        };
        let err = run_step(&req, &config(), &api, &keys).await.unwrap_err();
        assert!(matches!(err, crate::Error::UnknownToken { .. }), "{err}");
        client
            .delete_secret()
            .secret_id(&arn)
            .force_delete_without_recovery(true)
            .send()
            .await
            .unwrap();
    }

    #[tokio::test]
    #[ignore = "needs moto: run by make test-rust"]
    async fn the_cloudfront_adapter_reads_and_deletes_against_moto() {
        let cf = CloudFrontKeys::new(cloudfront_client());
        let key = SigningKey::generate(KeyType::EcdsaP256).unwrap();
        let tag = std::process::id();
        let id = cf
            .create_public_key(
                &format!("keyhole-rot-{tag}"),
                &key.public_key_pem(),
                &format!("ref-{tag}"),
                "c",
            )
            .await
            .unwrap();
        let pk = cf.get_public_key(&id).await.unwrap();
        assert_eq!(pk.id, id);
        assert_eq!(pk.name, format!("keyhole-rot-{tag}"));
        assert_eq!(pk.encoded_key.trim(), key.public_key_pem().trim());
        assert!(pk.created_at > 1_700_000_000 && !pk.etag.is_empty());
        let group_id = cloudfront_client()
            .create_key_group()
            .key_group_config(
                KeyGroupConfig::builder()
                    .name(format!("keyhole-rot-{tag}"))
                    .items(&id)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .key_group()
            .unwrap()
            .id()
            .to_owned();
        let group = cf.get_key_group(&group_id).await.unwrap();
        assert_eq!(
            (group.name.as_str(), group.items.as_slice()),
            (
                format!("keyhole-rot-{tag}").as_str(),
                std::slice::from_ref(&id)
            )
        );
        assert!(matches!(
            cf.get_public_key("KNOSUCHKEY0000").await,
            Err(crate::Error::NotFound(_))
        ));
        // CloudFront refuses to delete a key a group lists.
        let err = cf.delete_public_key(&id, &pk.etag).await.unwrap_err();
        assert!(err.to_string().contains("PublicKeyInUse"), "{err}");
        // The comment is the one field that changes; an old ETag is refused after a write.
        cf.update_public_key_comment(&pk, "retired").await.unwrap();
        assert!(matches!(
            cf.update_public_key_comment(&pk, "again").await,
            Err(crate::Error::Stale(_))
        ));
        let updated = cf.get_public_key(&id).await.unwrap();
        assert_eq!(updated.comment, "retired");
        assert_ne!(updated.etag, pk.etag);
        assert!(matches!(
            cf.update_key_group(&group_id, &group, std::slice::from_ref(&id))
                .await,
            Ok(())
        ));
        assert!(matches!(
            cf.update_key_group(&group_id, &group, std::slice::from_ref(&id))
                .await,
            Err(crate::Error::Stale(_))
        ));
        let group = cf.get_key_group(&group_id).await.unwrap();
        cloudfront_client()
            .delete_key_group()
            .id(&group_id)
            .if_match(&group.etag)
            .send()
            .await
            .unwrap();
        assert!(matches!(
            cf.get_key_group(&group_id).await,
            Err(crate::Error::NotFound(_))
        ));
        assert!(matches!(
            cf.delete_public_key(&id, &pk.etag).await,
            Err(crate::Error::Stale(_))
        ));
        cf.delete_public_key(&id, &updated.etag).await.unwrap();
    }
}
