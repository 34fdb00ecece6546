//! The CloudFormation custom-resource protocol: the request Lambda receives and the response
//! CloudFormation expects at the pre-signed `ResponseURL`.

use serde::{Deserialize, Serialize};

use crate::Error;

/// What CloudFormation asks of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    /// A new stack (or a replacement): make the key pair.
    Create,
    /// A stack update that changed the resource's properties.
    Update,
    /// The stack (or this resource) is going away.
    Delete,
}

/// A custom-resource request, as CloudFormation sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CfnRequest {
    /// Create, Update or Delete.
    pub request_type: RequestType,
    /// Pre-signed S3 URL the response is PUT to.
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    /// The stack's ARN.
    pub stack_id: String,
    /// Unique per request; echoed back.
    pub request_id: String,
    /// The resource's logical id in the template.
    pub logical_resource_id: String,
    /// Set on Update and Delete: what an earlier response called this resource.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// The template's properties for the resource (validated by [`Properties::from_json`]).
    #[serde(default)]
    pub resource_properties: serde_json::Value,
    /// On Update, the properties before the change.
    #[serde(default)]
    pub old_resource_properties: Option<serde_json::Value>,
}

impl CfnRequest {
    /// Parses a Lambda event. Fails when the envelope (type, response URL, ids) is missing: without
    /// it there is nobody to answer.
    pub fn from_json(event: serde_json::Value) -> Result<Self, Error> {
        serde_json::from_value(event).map_err(|e| Error::BadRequest(e.to_string()))
    }
}

/// The resource's properties in the template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Properties {
    /// The Secrets Manager secret (ARN or name) that receives `{"keyPairId", "privateKeyPem"}`.
    pub secret_id: String,
    /// Start of the public key's and key group's names; a suffix keeps them unique.
    pub name_prefix: String,
}

impl Properties {
    /// Reads and checks the properties; the error names the property at fault.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, Error> {
        let props: Properties = serde_json::from_value(value.clone())
            .map_err(|e| Error::BadProperties(e.to_string()))?;
        if props.secret_id.trim().is_empty() {
            return Err(Error::BadProperties("SecretId is empty".into()));
        }
        Ok(props)
    }
}

/// SUCCESS or FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The request was carried out.
    Success,
    /// It was not; `Reason` says why and CloudFormation rolls back.
    Failed,
}

/// Attributes the template reads with `Fn::GetAtt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseData {
    /// The key group the distribution trusts.
    pub key_group_id: String,
}

/// The body PUT to the response URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CfnResponse {
    /// Whether the request was carried out.
    pub status: Status,
    /// Why it failed (or a short note); shown in the stack's events.
    pub reason: String,
    /// The key group id once created; stays the same across updates.
    pub physical_resource_id: String,
    /// Echoed from the request.
    pub stack_id: String,
    /// Echoed from the request.
    pub request_id: String,
    /// Echoed from the request.
    pub logical_resource_id: String,
    /// Present on success of Create and Update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<ResponseData>,
}

/// CloudFormation rejects response bodies over 4096 bytes; the reason is the only open-ended field.
const MAX_REASON_CHARS: usize = 1024;

impl CfnResponse {
    /// A response to `req` with the given outcome.
    pub fn new(
        req: &CfnRequest,
        status: Status,
        reason: impl Into<String>,
        physical_resource_id: impl Into<String>,
        data: Option<ResponseData>,
    ) -> Self {
        let mut reason: String = reason.into();
        if reason.chars().count() > MAX_REASON_CHARS {
            reason = reason.chars().take(MAX_REASON_CHARS).collect();
        }
        CfnResponse {
            status,
            reason,
            physical_resource_id: physical_resource_id.into(),
            stack_id: req.stack_id.clone(),
            request_id: req.request_id.clone(),
            logical_resource_id: req.logical_resource_id.clone(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_real_create_event_parses() {
        let req = CfnRequest::from_json(fixture("create.json")).unwrap();
        assert_eq!(req.request_type, RequestType::Create);
        assert!(
            req.response_url
                .starts_with("https://cloudformation-custom-resource-response")
        );
        assert_eq!(req.physical_resource_id, None);
        let props = Properties::from_json(&req.resource_properties).unwrap();
        assert_eq!(props.name_prefix, "keyhole-demo");
        assert!(props.secret_id.starts_with("arn:aws:secretsmanager:"));
    }

    #[test]
    fn a_real_update_event_carries_the_old_properties() {
        let req = CfnRequest::from_json(fixture("update.json")).unwrap();
        assert_eq!(req.request_type, RequestType::Update);
        assert_eq!(
            req.physical_resource_id.as_deref(),
            Some("5fa1c7a2-0d2e-4b57-9c5f-1d2b1f3e7a90")
        );
        let old = Properties::from_json(req.old_resource_properties.as_ref().unwrap()).unwrap();
        assert_eq!(old.name_prefix, "keyhole-demo");
    }

    #[test]
    fn an_event_without_a_response_url_is_refused_clearly() {
        let mut event = fixture("create.json");
        event.as_object_mut().unwrap().remove("ResponseURL");
        let err = CfnRequest::from_json(event).unwrap_err();
        assert!(err.to_string().contains("ResponseURL"), "{err}");
    }

    #[test]
    fn an_unknown_request_type_is_refused() {
        let mut event = fixture("create.json");
        event["RequestType"] = "Replace".into();
        assert!(matches!(
            CfnRequest::from_json(event),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn missing_or_empty_secret_id_is_named_in_the_error() {
        let err = Properties::from_json(&serde_json::json!({"NamePrefix": "k"})).unwrap_err();
        assert!(err.to_string().contains("SecretId"), "{err}");
        let err = Properties::from_json(&serde_json::json!({"NamePrefix": "k", "SecretId": " "}))
            .unwrap_err();
        assert!(err.to_string().contains("SecretId"), "{err}");
    }

    #[test]
    fn response_uses_cloudformation_field_names_and_caps_the_reason() {
        let req = CfnRequest::from_json(fixture("create.json")).unwrap();
        let resp = CfnResponse::new(
            &req,
            Status::Failed,
            "x".repeat(5000),
            "pid",
            Some(ResponseData {
                key_group_id: "kg".into(),
            }),
        );
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(json["Status"], "FAILED");
        assert_eq!(json["PhysicalResourceId"], "pid");
        assert_eq!(json["StackId"], req.stack_id.as_str());
        assert_eq!(json["RequestId"], req.request_id.as_str());
        assert_eq!(json["LogicalResourceId"], "KeySetup");
        assert_eq!(json["Data"]["KeyGroupId"], "kg");
        assert_eq!(json["Reason"].as_str().unwrap().len(), MAX_REASON_CHARS);
        assert!(serde_json::to_vec(&resp).unwrap().len() < 4096);
    }
}
