//! The AWS SDK adapters behind [`KeyApi`] and [`SecretStore`]: thin, one call each, errors reduced
//! to the few cases the logic tells apart.

use aws_sdk_cloudfront::error::{DisplayErrorContext, SdkError};
use aws_sdk_cloudfront::operation::delete_key_group::DeleteKeyGroupError;
use aws_sdk_cloudfront::operation::delete_public_key::DeletePublicKeyError;
use aws_sdk_cloudfront::operation::get_key_group::GetKeyGroupError;
use aws_sdk_cloudfront::operation::get_public_key::GetPublicKeyError;
use aws_sdk_cloudfront::types::{KeyGroupConfig, PublicKeyConfig};

use crate::{Error, KeyApi, KeyGroupState, SecretStore};

fn service<E, R>(err: SdkError<E, R>) -> Error
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Error::Service(DisplayErrorContext(&err).to_string())
}

fn missing(what: &str) -> Error {
    Error::Service(format!("CloudFront answered without {what}"))
}

/// CloudFront's public-key and key-group API.
#[derive(Debug, Clone)]
pub struct CloudFrontApi {
    client: aws_sdk_cloudfront::Client,
}

impl CloudFrontApi {
    /// Wraps a configured client.
    pub fn new(client: aws_sdk_cloudfront::Client) -> Self {
        CloudFrontApi { client }
    }
}

impl KeyApi for CloudFrontApi {
    async fn create_public_key(
        &self,
        name: &str,
        public_key_pem: &str,
        caller_reference: &str,
    ) -> Result<String, Error> {
        let config = PublicKeyConfig::builder()
            .name(name)
            .encoded_key(public_key_pem)
            .caller_reference(caller_reference)
            .comment("Keyhole signing key (created by the KeySetup custom resource)")
            .build()
            .map_err(|e| Error::Service(e.to_string()))?;
        let out = self
            .client
            .create_public_key()
            .public_key_config(config)
            .send()
            .await
            .map_err(service)?;
        out.public_key()
            .map(|k| k.id().to_string())
            .ok_or_else(|| missing("the public key"))
    }

    async fn create_key_group(&self, name: &str, items: &[String]) -> Result<String, Error> {
        let config = KeyGroupConfig::builder()
            .name(name)
            .set_items(Some(items.to_vec()))
            .comment("Keyhole: keys CloudFront accepts for signed cookies")
            .build()
            .map_err(|e| Error::Service(e.to_string()))?;
        let out = self
            .client
            .create_key_group()
            .key_group_config(config)
            .send()
            .await
            .map_err(service)?;
        out.key_group()
            .map(|g| g.id().to_string())
            .ok_or_else(|| missing("the key group"))
    }

    async fn get_key_group(&self, id: &str) -> Result<KeyGroupState, Error> {
        match self.client.get_key_group().id(id).send().await {
            Ok(out) => Ok(KeyGroupState {
                name: out
                    .key_group()
                    .and_then(|g| g.key_group_config())
                    .map(|c| c.name().to_owned())
                    .unwrap_or_default(),
                items: out
                    .key_group()
                    .and_then(|g| g.key_group_config())
                    .map(|c| c.items().to_vec())
                    .unwrap_or_default(),
                etag: out.e_tag().ok_or_else(|| missing("an ETag"))?.to_string(),
            }),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetKeyGroupError::NoSuchResource(_))
                ) =>
            {
                Err(Error::NotFound)
            }
            Err(e) => Err(service(e)),
        }
    }

    async fn delete_key_group(&self, id: &str, etag: &str) -> Result<(), Error> {
        match self
            .client
            .delete_key_group()
            .id(id)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(DeleteKeyGroupError::NoSuchResource(_)) => Err(Error::NotFound),
                Some(DeleteKeyGroupError::ResourceInUse(_)) => Err(Error::InUse),
                _ => Err(service(e)),
            },
        }
    }

    async fn public_key_etag(&self, id: &str) -> Result<String, Error> {
        match self.client.get_public_key().id(id).send().await {
            Ok(out) => Ok(out.e_tag().ok_or_else(|| missing("an ETag"))?.to_string()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetPublicKeyError::NoSuchPublicKey(_))
                ) =>
            {
                Err(Error::NotFound)
            }
            Err(e) => Err(service(e)),
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
                Some(DeletePublicKeyError::NoSuchPublicKey(_)) => Err(Error::NotFound),
                Some(DeletePublicKeyError::PublicKeyInUse(_)) => Err(Error::InUse),
                _ => Err(service(e)),
            },
        }
    }

    async fn list_public_keys(&self) -> Result<Vec<(String, String)>, Error> {
        let mut keys = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_public_keys()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(service)?;
            let Some(list) = out.public_key_list() else {
                break;
            };
            keys.extend(
                list.items()
                    .iter()
                    .map(|k| (k.id().to_owned(), k.name().to_owned())),
            );
            match list.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(keys)
    }
}

/// Secrets Manager, where the private key lives.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerStore {
    /// Wraps a configured client.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsManagerStore { client }
    }
}

impl SecretStore for SecretsManagerStore {
    async fn put_secret_string(&self, secret_id: &str, value: &str) -> Result<(), Error> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                Error::Service(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
            })
    }
}

#[cfg(test)]
mod tests {
    //! Against a moto server (Secrets Manager); CloudFront stays the hand-written fake because
    //! moto does not implement every key-group call.

    use super::*;
    use crate::setup::fakes::FakeCloudFront;
    use crate::{RequestType, Status, process};
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

    async fn moto_secrets() -> aws_sdk_secretsmanager::Client {
        let url =
            std::env::var("KEYHOLE_MOTO_URL").expect("KEYHOLE_MOTO_URL (make test-rust sets it)");
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    async fn moto_cloudfront() -> CloudFrontApi {
        let url =
            std::env::var("KEYHOLE_MOTO_URL").expect("KEYHOLE_MOTO_URL (make test-rust sets it)");
        let config = aws_sdk_cloudfront::Config::builder()
            .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .build();
        CloudFrontApi::new(aws_sdk_cloudfront::Client::from_conf(config))
    }

    fn event(name: &str, secret_arn: &str, physical_id: Option<&str>) -> serde_json::Value {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["ResourceProperties"]["SecretId"] = secret_arn.into();
        if let Some(old) = v.get_mut("OldResourceProperties") {
            old["SecretId"] = secret_arn.into();
        }
        if let Some(id) = physical_id {
            v["PhysicalResourceId"] = id.into();
        }
        v
    }

    #[tokio::test]
    #[ignore = "needs moto: run by make test-rust"]
    async fn create_update_delete_against_moto_secrets_manager() {
        let client = moto_secrets().await;
        let name = format!("keyhole-key-setup-test-{}", std::process::id());
        let arn = client
            .create_secret()
            .name(&name)
            .description("created empty, as the template does")
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        let store = SecretsManagerStore::new(client.clone());
        let cf = FakeCloudFront::default();

        let (req, created) = process(event("create.json", &arn, None), &cf, &store)
            .await
            .unwrap();
        assert_eq!(req.request_type, RequestType::Create);
        assert_eq!(created.status, Status::Success, "{}", created.reason);
        let stored = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(stored.secret_string().unwrap()).unwrap();
        let key_pair_id = json["keyPairId"].as_str().unwrap().to_string();
        assert_eq!(
            cf.state().key_groups[&created.physical_resource_id].items,
            std::slice::from_ref(&key_pair_id)
        );
        let key =
            keyhole_core::SigningKey::from_pem(json["privateKeyPem"].as_str().unwrap()).unwrap();
        assert_eq!(
            key.public_key_pem(),
            cf.state().public_keys[&key_pair_id].pem
        );

        let (_, updated) = process(
            event("update.json", &arn, Some(&created.physical_resource_id)),
            &cf,
            &store,
        )
        .await
        .unwrap();
        assert_eq!(updated.status, Status::Success, "{}", updated.reason);
        let again = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.version_id(),
            stored.version_id(),
            "update must not write the secret"
        );

        let (_, deleted) = process(
            event("delete.json", &arn, Some(&created.physical_resource_id)),
            &cf,
            &store,
        )
        .await
        .unwrap();
        assert_eq!(deleted.status, Status::Success, "{}", deleted.reason);
        assert!(cf.state().key_groups.is_empty());
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
    async fn a_secret_that_does_not_exist_fails_create_with_the_service_message() {
        let store = SecretsManagerStore::new(moto_secrets().await);
        let cf = FakeCloudFront::default();
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyhole-missing-AbCdEf";
        let (_, resp) = process(event("create.json", arn, None), &cf, &store)
            .await
            .unwrap();
        assert_eq!(resp.status, Status::Failed);
        assert!(resp.reason.contains("PutSecretValue"), "{}", resp.reason);
        assert!(resp.reason.contains("ResourceNotFound"), "{}", resp.reason);
        let state = cf.state();
        assert!(state.key_groups.is_empty() && state.public_keys.is_empty());
    }

    /// The real CloudFront adapter against moto, for the calls moto implements (it has no
    /// DeleteKeyGroup or UpdateKeyGroup, and answers an unknown key group with a 500, so Delete and
    /// the not-found paths are covered by the fake above instead).
    #[tokio::test]
    #[ignore = "needs moto: run by make test-rust"]
    async fn the_cloudfront_adapter_creates_and_reads_back_against_moto() {
        let cf = moto_cloudfront().await;
        let key = keyhole_core::SigningKey::generate(keyhole_core::KeyType::EcdsaP256).unwrap();
        let tag = std::process::id();
        let key_id = cf
            .create_public_key(
                &format!("keyhole-test-{tag}"),
                &key.public_key_pem(),
                &format!("ref-{tag}"),
            )
            .await
            .unwrap();
        assert!(!key_id.is_empty());
        assert!(!cf.public_key_etag(&key_id).await.unwrap().is_empty());
        let group_id = cf
            .create_key_group(
                &format!("keyhole-test-{tag}"),
                std::slice::from_ref(&key_id),
            )
            .await
            .unwrap();
        let state = cf.get_key_group(&group_id).await.unwrap();
        assert_eq!(state.items, [key_id]);
        assert!(!state.etag.is_empty());
    }

    #[tokio::test]
    #[ignore = "needs moto: run by make test-rust"]
    async fn create_then_update_with_both_real_adapters_against_moto() {
        let client = moto_secrets().await;
        let name = format!("keyhole-key-setup-real-{}", std::process::id());
        let arn = client
            .create_secret()
            .name(&name)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        let store = SecretsManagerStore::new(client.clone());
        let cf = moto_cloudfront().await;

        let (_, created) = process(event("create.json", &arn, None), &cf, &store)
            .await
            .unwrap();
        assert_eq!(created.status, Status::Success, "{}", created.reason);
        let stored = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(stored.secret_string().unwrap()).unwrap();
        let group = cf
            .get_key_group(&created.physical_resource_id)
            .await
            .unwrap();
        assert_eq!(group.items, [json["keyPairId"].as_str().unwrap()]);

        let (_, updated) = process(
            event("update.json", &arn, Some(&created.physical_resource_id)),
            &cf,
            &store,
        )
        .await
        .unwrap();
        assert_eq!(updated.status, Status::Success, "{}", updated.reason);
        assert_eq!(
            cf.get_key_group(&created.physical_resource_id)
                .await
                .unwrap()
                .items,
            group.items
        );
        client
            .delete_secret()
            .secret_id(&arn)
            .force_delete_without_recovery(true)
            .send()
            .await
            .unwrap();
    }
}
