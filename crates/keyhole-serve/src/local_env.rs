//! The local stack's environment: the same variables the Lambda reads, with local defaults laid
//! over what the user set. Unset, `ASSET_BASE_URL` is this server, the signing key is the state
//! folder's (handed to the signer directly, re-read every [`LOCAL_KEY_REFRESH_SECONDS`]), and with
//! no issuer named the development identity provider is trusted. Whatever the
//! user sets is validated exactly as in the Lambda.

use std::collections::HashMap;
use std::path::Path;

use keyhole_core::Vars;
use keyhole_token::ISSUER_VARIABLES;

/// The local default of `SIGNING_KEY_REFRESH_SECONDS`: a rotation of the state folder's key is
/// picked up within this many seconds.
pub(crate) const LOCAL_KEY_REFRESH_SECONDS: i64 = 2;

/// Local defaults, and whether the development identity provider is the issuer.
#[derive(Debug, Default)]
pub(crate) struct LocalEnv {
    defaults: HashMap<&'static str, String>,
    dev_idp: bool,
}

/// Whether the user chose a signing key (a file or a Secrets Manager secret).
pub(crate) fn names_a_signing_key(vars: &dyn Fn(&str) -> Option<String>) -> bool {
    let vars = Vars::new(vars);
    vars.is_set("SIGNING_KEY_FILE") || vars.is_set("SIGNING_KEY_SECRET_ID")
}

impl LocalEnv {
    /// Policies are written for `asset_base_url` unless the user says otherwise.
    pub(crate) fn new(asset_base_url: &str) -> Self {
        let mut env = Self::default();
        env.defaults
            .insert("ASSET_BASE_URL", asset_base_url.to_owned());
        env
    }

    /// The signer re-reads the state folder's secret once its copy is `seconds` old, so a local
    /// rotation is picked up within seconds (a `SIGNING_KEY_REFRESH_SECONDS` the user set wins).
    pub(crate) fn refresh_keys_every(&mut self, seconds: i64) {
        self.defaults
            .insert("SIGNING_KEY_REFRESH_SECONDS", seconds.to_string());
    }

    /// Trusts the development identity provider at `issuer`, its key set preloaded from
    /// `jwks_file` (no network at start, as with `JWKS_FILE` in Lambda). Its settings then win
    /// over stray issuer variables: a `JWKS_URL` left in the shell would otherwise point the
    /// verifier elsewhere.
    pub(crate) fn trust_dev_idp(&mut self, issuer: &str, audience: &str, jwks_file: &Path) {
        self.defaults.insert("OIDC_ISSUER", issuer.to_owned());
        self.defaults.insert("OIDC_AUDIENCE", audience.to_owned());
        self.defaults
            .insert("JWKS_FILE", jwks_file.display().to_string());
        self.dev_idp = true;
    }

    /// The value the stack reads for `name`.
    pub(crate) fn get(&self, vars: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
        let local = || self.defaults.get(name).cloned();
        if self.dev_idp && ISSUER_VARIABLES.contains(&name) {
            return local();
        }
        Vars::new(vars).get(name).or_else(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(name: &str) -> Option<String> {
        match name {
            "JWKS_URL" => Some("https://stray.example/jwks.json".into()),
            "TOKEN_USE" => Some("access".into()),
            "SESSION_TTL_SECONDS" => Some("600".into()),
            "ASSET_BASE_URL" => Some("  ".into()),
            _ => None,
        }
    }

    #[test]
    fn unset_and_blank_variables_get_the_local_defaults() {
        let mut env = LocalEnv::new("http://127.0.0.1:8080");
        env.refresh_keys_every(LOCAL_KEY_REFRESH_SECONDS);
        assert_eq!(
            env.get(&shell, "ASSET_BASE_URL").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            env.get(&shell, "SIGNING_KEY_REFRESH_SECONDS").as_deref(),
            Some("2")
        );
        let user = |n: &str| (n == "SIGNING_KEY_REFRESH_SECONDS").then(|| "30".to_owned());
        assert_eq!(
            env.get(&user, "SIGNING_KEY_REFRESH_SECONDS").as_deref(),
            Some("30")
        );
        assert_eq!(env.get(&shell, "SIGNING_KEY_FILE"), None);
        assert_eq!(
            env.get(&shell, "SESSION_TTL_SECONDS").as_deref(),
            Some("600")
        );
        assert_eq!(env.get(&shell, "COOKIE_DOMAIN"), None);
    }

    #[test]
    fn with_the_development_provider_stray_issuer_variables_are_ignored_and_the_rest_kept() {
        let mut env = LocalEnv::new("http://127.0.0.1:8080");
        env.trust_dev_idp(
            "http://127.0.0.1:8080/idp",
            "keyhole-demo",
            Path::new("/s/jwks.json"),
        );
        assert_eq!(
            env.get(&shell, "OIDC_ISSUER").as_deref(),
            Some("http://127.0.0.1:8080/idp")
        );
        assert_eq!(
            env.get(&shell, "JWKS_FILE").as_deref(),
            Some("/s/jwks.json")
        );
        assert_eq!(env.get(&shell, "JWKS_URL"), None);
        // Not an issuer variable: passed on, and validated like everywhere else.
        assert_eq!(env.get(&shell, "TOKEN_USE").as_deref(), Some("access"));
    }

    #[test]
    fn with_a_real_issuer_the_users_token_settings_pass_through() {
        let env = LocalEnv::new("http://127.0.0.1:8080");
        assert_eq!(
            env.get(&shell, "JWKS_URL").as_deref(),
            Some("https://stray.example/jwks.json")
        );
        assert_eq!(env.get(&shell, "OIDC_ISSUER"), None);
    }

    #[test]
    fn a_signing_key_is_named_by_a_file_or_a_secret() {
        assert!(!names_a_signing_key(&shell));
        assert!(names_a_signing_key(&|n: &str| (n
            == "SIGNING_KEY_SECRET_ID")
            .then(|| "s".into())));
        assert!(names_a_signing_key(
            &|n: &str| (n == "SIGNING_KEY_FILE").then(|| "k.pem".into())
        ));
    }
}
