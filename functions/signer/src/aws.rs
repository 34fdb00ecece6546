//! The one place the signer touches AWS: reading the signing key from Secrets Manager.

use crate::Error;
use crate::keys::{BoxFuture, KeySource, SigningMaterial, parse_secret_json};

/// `SIGNING_KEY_SECRET_ID`: a Secrets Manager secret whose string is
/// `{"keyPairId": "...", "privateKeyPem": "..."}`.
#[derive(Debug, Clone)]
pub struct SecretsManagerKeySource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerKeySource {
    /// A source using `client` (build it with an endpoint override to test against moto).
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// A source with the default AWS configuration: region and credentials from the Lambda
    /// environment, and `AWS_ENDPOINT_URL` honoured by `aws-config` (that is how tests reach moto).
    pub async fn from_default_config(secret_id: impl Into<String>) -> Self {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(aws_sdk_secretsmanager::Client::new(&shared), secret_id)
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Secret {
            secret_id: self.secret_id.clone(),
            reason: reason.into(),
        }
    }
}

impl KeySource for SecretsManagerKeySource {
    fn load(&self) -> BoxFuture<'_, Result<SigningMaterial, Error>> {
        Box::pin(async move {
            let out = self
                .client
                .get_secret_value()
                .secret_id(&self.secret_id)
                // AWS's default, named: the version a rotation's finishSecret moved the label
                // to. (moto, without it, answers the secret's first version forever.)
                .version_stage("AWSCURRENT")
                .send()
                .await
                .map_err(|e| {
                    // The SDK's Display is a bare "service error"; the context chain carries the
                    // code (ResourceNotFoundException, AccessDeniedException, timeouts).
                    let detail = aws_sdk_secretsmanager::error::DisplayErrorContext(&e);
                    self.error(format!("GetSecretValue failed: {detail}"))
                })?;
            let secret = out.secret_string().ok_or_else(|| {
                self.error("the secret has no SecretString (binary secrets are not supported)")
            })?;
            parse_secret_json(secret).map_err(|reason| self.error(reason))
        })
    }
}
