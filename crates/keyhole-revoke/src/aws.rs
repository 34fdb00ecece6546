//! The CloudFront KeyValueStore adapter: one data-plane call per method (DescribeKeyValueStore,
//! ListKeys, UpdateKeys), signed with SigV4A by the SDK.

use aws_sdk_cloudfrontkeyvaluestore::Client;
use aws_sdk_cloudfrontkeyvaluestore::error::DisplayErrorContext;
use aws_sdk_cloudfrontkeyvaluestore::operation::update_keys::UpdateKeysError;
use aws_sdk_cloudfrontkeyvaluestore::types::{DeleteKeyRequestListItem, PutKeyRequestListItem};

use crate::{BoxFuture, DenyStore, Snapshot, StoreError};

/// The deny-list in a CloudFront KeyValueStore, named by its ARN.
#[derive(Debug, Clone)]
pub struct KvsStore {
    client: Client,
    arn: String,
}

impl KvsStore {
    /// A store for `arn` (`arn:aws:cloudfront::<account>:key-value-store/<id>`) through `client`.
    pub fn new(client: Client, arn: impl Into<String>) -> Self {
        Self {
            client,
            arn: arn.into(),
        }
    }

    /// A client from the environment's AWS configuration (the Lambda's role, a profile, ...).
    pub async fn from_env(arn: impl Into<String>) -> Self {
        let config = aws_config::load_from_env().await;
        Self::new(Client::new(&config), arn)
    }
}

fn unavailable<E: std::error::Error>(what: &str, e: E) -> StoreError {
    StoreError::Unavailable(format!("{what}: {}", DisplayErrorContext(e)))
}

impl DenyStore for KvsStore {
    fn describe(&self) -> BoxFuture<'_, Result<Snapshot, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .describe_key_value_store()
                .kvs_arn(&self.arn)
                .send()
                .await
                .map_err(|e| unavailable("DescribeKeyValueStore", e))?;
            Ok(Snapshot {
                etag: out.e_tag().to_owned(),
                item_count: i64::from(out.item_count()),
                total_size_in_bytes: out.total_size_in_bytes(),
            })
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
        Box::pin(async move {
            let mut items = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .client
                    .list_keys()
                    .kvs_arn(&self.arn)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| unavailable("ListKeys", e))?;
                items.extend(
                    out.items()
                        .iter()
                        .map(|i| (i.key().to_owned(), i.value().to_owned())),
                );
                match out.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                    _ => return Ok(items),
                }
            }
        })
    }

    fn update<'a>(
        &'a self,
        etag: &'a str,
        puts: &'a [(String, String)],
        deletes: &'a [String],
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            let build = |e| unavailable("UpdateKeys", e);
            let puts = puts
                .iter()
                .map(|(k, v)| PutKeyRequestListItem::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(build)?;
            let deletes = deletes
                .iter()
                .map(|k| DeleteKeyRequestListItem::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(build)?;
            let out = self
                .client
                .update_keys()
                .kvs_arn(&self.arn)
                .if_match(etag)
                .set_puts((!puts.is_empty()).then_some(puts))
                .set_deletes((!deletes.is_empty()).then_some(deletes))
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    // "Resource is not in expected state": the IfMatch ETag is not the store's.
                    Some(UpdateKeysError::ConflictException(_)) => StoreError::StaleEtag,
                    _ => unavailable("UpdateKeys", e),
                })?;
            Ok(out.e_tag().to_owned())
        })
    }
}
