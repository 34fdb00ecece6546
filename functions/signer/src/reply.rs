//! A response being built, with what the request's log line needs, and its conversion into the
//! `lambda_http` response (the headers every `/session*` answer carries are added here).

use lambda_http::http::StatusCode;
use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE,
    HeaderName, HeaderValue, VARY,
};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A response being built.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(HeaderName, String)>,
    pub(crate) body: Option<Vec<u8>>,
    /// The log line's `outcome`.
    pub(crate) outcome: &'static str,
    /// The log line's `reason`.
    pub(crate) reason: Option<String>,
    /// The log line's `scopes`.
    pub(crate) scopes: Vec<String>,
}

impl Reply {
    pub(crate) fn new(status: StatusCode, outcome: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
            outcome,
            reason: None,
            scopes: Vec::new(),
        }
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Self {
        // Our bodies are plain structs of strings and numbers; serializing them cannot fail.
        self.body = Some(serde_json::to_vec(body).unwrap_or_default());
        self.headers
            .push((CONTENT_TYPE, "application/json".to_owned()));
        self
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn headers(mut self, name: &HeaderName, values: Vec<String>) -> Self {
        self.headers
            .extend(values.into_iter().map(|v| (name.clone(), v)));
        self
    }

    /// The final response: never cacheable; the CORS grant for an allowed `origin`, and
    /// `Vary: Origin` whenever the answer can depend on it.
    pub(crate) fn into_response(
        self,
        origin: Option<&str>,
        vary_origin: bool,
    ) -> Result<Response<Body>, lambda_http::Error> {
        let mut builder = Response::builder()
            .status(self.status)
            .header(CACHE_CONTROL, "no-store");
        for (name, value) in self.headers {
            builder = builder.header(name, HeaderValue::try_from(value)?);
        }
        if vary_origin {
            builder = builder.header(VARY, "Origin");
        }
        if let Some(origin) = origin {
            builder = builder
                .header(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::try_from(origin)?)
                .header(ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        let body = self.body.map_or(Body::Empty, Body::Binary);
        Ok(builder.body(body)?)
    }
}
