//! A session: the scopes a verified user gets, one signed CloudFront cookie set per scope, and the
//! marker cookie. Every `Set-Cookie` the signer writes is made here, from the one
//! [`keyhole_core::CookieAttributes`] in the configuration.

use keyhole_core::revocation::{self, not_before};
use keyhole_core::{Policy, clearing_set_cookie_headers};
use keyhole_token::Claims;
use lambda_http::Request;

use crate::failure::Failure;
use crate::marker::{MARKER_COOKIE, MARKER_PATH, Marker};
use crate::request::cookies;
use crate::scope::{self, Scope, ScopeClaims};
use crate::state::LoadedKey;
use crate::{AppState, Config};

/// What `issue` produced: POST renders it as JSON, the bridge as a redirect.
pub(crate) struct Session {
    /// The scopes cookie sets were issued for.
    pub(crate) scopes: Vec<Scope>,
    /// When they expire (epoch seconds).
    pub(crate) expires_at: i64,
    /// Every `Set-Cookie` value: the sets, clearings of stale ones, the marker.
    pub(crate) set_cookies: Vec<String>,
}

impl Session {
    /// The scope patterns, for bodies and log lines.
    pub(crate) fn patterns(&self) -> Vec<String> {
        self.scopes.iter().map(|s| s.pattern().to_owned()).collect()
    }
}

/// The scopes `claims` earn under the configured templates; dropped ones are logged.
pub(crate) fn scopes_for(config: &Config, claims: &Claims) -> Vec<Scope> {
    let expansion = scope::expand(
        &config.scopes,
        &ScopeClaims {
            sub: &claims.sub,
            username: claims.username.as_deref(),
            groups: &claims.groups,
            issuer: &claims.issuer,
        },
    );
    for dropped in &expansion.dropped {
        tracing::warn!(template = %dropped.template, reason = %dropped.reason, "scope dropped");
    }
    expansion.scopes
}

/// `Set-Cookie` values deleting the CloudFront cookie set at `path`.
pub(crate) fn clear_path(config: &Config, path: &str) -> Vec<String> {
    clearing_set_cookie_headers(&config.cookies.at(path, Some(0)))
}

/// The marker cookie with `value`, living `max_age` seconds (0 deletes it).
pub(crate) fn marker_cookie(config: &Config, value: &str, max_age: i64) -> String {
    config
        .cookies
        .at(MARKER_PATH, Some(max_age))
        .set_cookie(MARKER_COOKIE, value)
}

/// Signs one cookie set per scope and the marker; clears cookie sets a previous session (named by
/// a marker the request carries) had at paths this one no longer uses.
pub(crate) fn issue(
    state: &AppState,
    req: &Request,
    key: &LoadedKey,
    claims: &Claims,
) -> Result<Session, Failure> {
    let config = &state.config;
    let scopes = scopes_for(config, claims);
    if scopes.is_empty() {
        return Err(Failure::NoScope);
    }
    let ttl = config.ttl_seconds;
    let now = state.clock.now();
    let expires_at = now + ttl;
    let mut set_cookies = Vec::new();
    let mut cookie_sets = Vec::new();
    for scope in &scopes {
        let resource = format!("{}{}", config.asset_base_url, scope.pattern());
        // The issue time goes into every policy (see keyhole_core::revocation), so a
        // revocation can tell sessions issued before it from those issued after.
        let policy = Policy::new(resource, expires_at)
            .map_err(|e| Failure::Internal(e.to_string()))?
            .starting_at(not_before(now));
        let signed = key
            .signer
            .cookies(&policy)
            .map_err(|e| Failure::Internal(e.to_string()))?;
        if let Some(signature) = signed.get("CloudFront-Signature") {
            cookie_sets.push(revocation::signature_key(signature));
        }
        set_cookies
            .extend(signed.set_cookie_headers(&config.cookies.at(scope.cookie_path(), Some(ttl))));
    }
    for old in cookies(req, MARKER_COOKIE)
        .into_iter()
        .filter_map(Marker::decode_unverified)
    {
        for stale in old.scopes {
            if !scopes
                .iter()
                .any(|s| s.cookie_path() == stale.cookie_path())
            {
                set_cookies.extend(clear_path(config, stale.cookie_path()));
            }
        }
    }
    let marker = Marker {
        expires_at,
        scopes: scopes.clone(),
        cookie_sets,
    };
    set_cookies.push(marker_cookie(config, &marker.encode(&key.marker_key), ttl));
    Ok(Session {
        scopes,
        expires_at,
        set_cookies,
    })
}
