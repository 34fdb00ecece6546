//! The signer's configuration, read once at cold start from the environment (the variables are
//! listed in `docs/architecture.md`). Token settings (issuer, audience, JWKS) are
//! `keyhole_token::TokenConfig`'s, not ours.

use std::path::PathBuf;

use keyhole_core::{
    CookieAttributes, CookieError, MissingPartner, SameSite, Vars, is_valid_key_pair_id, split_list,
};

use crate::Error;
use crate::scope::ScopeTemplate;

/// The default `SESSION_SCOPES`: each user reads their own prefix.
pub const DEFAULT_SCOPES: &str = "/users/{sub}/*";
/// The default `SESSION_TTL_SECONDS`.
pub const DEFAULT_TTL_SECONDS: i64 = 3600;
/// Shortest accepted cookie lifetime: less would expire before a page finishes loading.
pub const MIN_TTL_SECONDS: i64 = 60;
/// Longest accepted cookie lifetime (7 days): a signed cookie cannot be revoked, so keep it short.
pub const MAX_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// The default `SIGNING_KEY_REFRESH_SECONDS`: how old the loaded key may get before the signer
/// re-reads the secret (a rotation's new key is picked up within this time).
pub const DEFAULT_KEY_REFRESH_SECONDS: i64 = 300;
/// Longest accepted `SIGNING_KEY_REFRESH_SECONDS` (1 hour): the rotation's pruning margin
/// (15 minutes by default) must cover it.
pub const MAX_KEY_REFRESH_SECONDS: i64 = 3600;

/// Where the CloudFront signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetting {
    /// `SIGNING_KEY_SECRET_ID`: a Secrets Manager secret `{"keyPairId", "privateKeyPem"}`.
    SecretsManager {
        /// Secret name or ARN.
        secret_id: String,
    },
    /// `SIGNING_KEY_FILE` + `KEY_PAIR_ID`: a PEM file (local use).
    File {
        /// The PEM file.
        path: PathBuf,
        /// The CloudFront public key id the file's key belongs to.
        key_pair_id: String,
    },
    /// The program embedding the signer hands [`crate::AppState`] its own [`crate::KeySource`]
    /// (`keyhole serve`'s state-folder secret). Never read from the environment: only
    /// [`Config::from_vars_with_provided_key`] sets it.
    Provided {
        /// Where the key comes from, for messages.
        description: String,
    },
}

/// Everything the signer reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ASSET_BASE_URL`: scheme and host (and port) the policies are written for, no trailing `/`.
    pub asset_base_url: String,
    /// `SESSION_SCOPES`, parsed.
    pub scopes: Vec<ScopeTemplate>,
    /// `SESSION_TTL_SECONDS`: cookie lifetime and policy validity.
    pub ttl_seconds: i64,
    /// `SIGNING_KEY_SECRET_ID` or `SIGNING_KEY_FILE` + `KEY_PAIR_ID`.
    pub key: KeySetting,
    /// `SIGNING_KEY_REFRESH_SECONDS`: the loaded key is re-read once it is this old (default
    /// [`DEFAULT_KEY_REFRESH_SECONDS`]; 0 re-reads on every request, for tests).
    pub key_refresh_seconds: i64,
    /// The attributes of every cookie the signer sets, validated: `COOKIE_DOMAIN`,
    /// `COOKIE_SAMESITE` (default `Lax`), always `Secure` and `HttpOnly` (the HTTP contract and
    /// `SameSite=None` need `Secure`; browsers treat `http://127.0.0.1` as secure, so the local
    /// stack needs no exception). `path` and `max_age` are set per cookie.
    pub cookies: CookieAttributes,
    /// `ALLOWED_ORIGINS`: exact origins allowed to call `/session` with credentials.
    pub allowed_origins: Vec<String>,
    /// `REVOCATION_KVS_ARN`: the CloudFront KeyValueStore `DELETE /session` writes the cookie
    /// sets it ends into; unset, logout only clears the browser's copy.
    pub revocation_kvs_arn: Option<String>,
}

/// `REVOCATION_KVS_ARN`: `arn:<partition>:cloudfront::<account>:key-value-store/<id>`.
fn revocation_kvs_arn(vars: &Vars<'_>) -> Result<Option<String>, Error> {
    let Some(arn) = vars.get("REVOCATION_KVS_ARN") else {
        return Ok(None);
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = matches!(parts.as_slice(),
    ["arn", partition, "cloudfront", "", account, resource]
        if !partition.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("key-value-store/").is_some_and(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if ok {
        Ok(Some(arn))
    } else {
        Err(invalid(
            "REVOCATION_KVS_ARN",
            format!(
                "{arn:?} is not a KeyValueStore ARN (arn:aws:cloudfront::<account>:key-value-store/<id>)"
            ),
        ))
    }
}

fn invalid(name: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidVar {
        name,
        reason: reason.into(),
    }
}

/// `scheme://host[:port]` with a host of letters, digits, `-` and `.` (or an IPv4 address).
fn parse_origin(value: &str) -> Option<&str> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok && port_ok).then_some(value)
}

/// `ASSET_BASE_URL`, without a trailing `/`.
fn asset_base_url(vars: &Vars<'_>) -> Result<String, Error> {
    let base = vars.get("ASSET_BASE_URL").ok_or(Error::MissingVar {
        name: "ASSET_BASE_URL",
        hint: "the scheme and host policies are written for, e.g. https://d111111abcdef8.cloudfront.net",
    })?;
    let base = base.trim_end_matches('/').to_owned();
    match parse_origin(&base) {
        Some(_) => Ok(base),
        None => Err(invalid(
            "ASSET_BASE_URL",
            format!("{base:?} is not http(s)://host[:port] with no path, query or wildcard"),
        )),
    }
}

/// `SESSION_SCOPES`, default [`DEFAULT_SCOPES`].
fn scopes(vars: &Vars<'_>) -> Result<Vec<ScopeTemplate>, Error> {
    ScopeTemplate::parse_list(
        &vars
            .get("SESSION_SCOPES")
            .unwrap_or_else(|| DEFAULT_SCOPES.to_owned()),
    )
}

/// `SESSION_TTL_SECONDS`, default [`DEFAULT_TTL_SECONDS`].
fn ttl_seconds(vars: &Vars<'_>) -> Result<i64, Error> {
    vars.parse_or("SESSION_TTL_SECONDS", DEFAULT_TTL_SECONDS, |v| {
        v.parse::<i64>()
            .ok()
            .filter(|t| (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(t))
            .ok_or_else(|| {
                invalid(
                    "SESSION_TTL_SECONDS",
                    format!(
                        "{v:?} is not a whole number of seconds between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}"
                    ),
                )
            })
    })
}

/// `SIGNING_KEY_SECRET_ID`, or `SIGNING_KEY_FILE` with `KEY_PAIR_ID`; exactly one of the two.
fn key_setting(vars: &Vars<'_>) -> Result<KeySetting, Error> {
    if let Some(secret_id) = vars.get("SIGNING_KEY_SECRET_ID") {
        if vars.is_set("SIGNING_KEY_FILE") {
            return Err(invalid(
                "SIGNING_KEY_SECRET_ID",
                "set either SIGNING_KEY_SECRET_ID or SIGNING_KEY_FILE, not both",
            ));
        }
        if vars.is_set("KEY_PAIR_ID") {
            return Err(invalid(
                "KEY_PAIR_ID",
                "is only used with SIGNING_KEY_FILE; the secret carries its own keyPairId",
            ));
        }
        return Ok(KeySetting::SecretsManager { secret_id });
    }
    match vars.pair("SIGNING_KEY_FILE", "KEY_PAIR_ID") {
        Ok(Some((path, key_pair_id))) if is_valid_key_pair_id(&key_pair_id) => {
            Ok(KeySetting::File {
                path: PathBuf::from(path),
                key_pair_id,
            })
        }
        Ok(Some(_)) => Err(invalid(
            "KEY_PAIR_ID",
            "must be letters, digits, - or _ (a CloudFront public key id)",
        )),
        Err(MissingPartner {
            missing: "KEY_PAIR_ID",
            ..
        }) => Err(Error::MissingVar {
            name: "KEY_PAIR_ID",
            hint: "the CloudFront public key id of the key in SIGNING_KEY_FILE",
        }),
        // Nothing set, or a KEY_PAIR_ID without its file.
        Ok(None) | Err(_) => Err(Error::MissingVar {
            name: "SIGNING_KEY_SECRET_ID",
            hint: "a Secrets Manager secret id (or set SIGNING_KEY_FILE and KEY_PAIR_ID)",
        }),
    }
}

/// `COOKIE_DOMAIN` and `COOKIE_SAMESITE`, checked by the same rules that write the cookies.
fn cookie_attributes(vars: &Vars<'_>) -> Result<CookieAttributes, Error> {
    let same_site = vars.parse_or("COOKIE_SAMESITE", SameSite::Lax, |v| {
        v.parse::<SameSite>().map_err(|_| {
            invalid(
                "COOKIE_SAMESITE",
                format!("{v:?} is not Strict, Lax or None"),
            )
        })
    })?;
    let domain = vars.get("COOKIE_DOMAIN");
    let cookies = CookieAttributes {
        path: "/".to_owned(),
        domain: domain.clone(),
        secure: true,
        http_only: true,
        same_site,
        max_age: None,
    };
    cookies.validate().map_err(|e| match e {
        CookieError::InvalidAttribute("Domain") => invalid(
            "COOKIE_DOMAIN",
            format!("{:?} is not a host name", domain.unwrap_or_default()),
        ),
        other => invalid("COOKIE_SAMESITE", other.to_string()),
    })?;
    Ok(cookies)
}

/// `ALLOWED_ORIGINS`: exact origins only, since credentials cannot be granted to a wildcard.
fn allowed_origins(vars: &Vars<'_>) -> Result<Vec<String>, Error> {
    let list = vars.get("ALLOWED_ORIGINS").unwrap_or_default();
    split_list(&list)
        .into_iter()
        .map(|o| match parse_origin(&o) {
            Some(_) => Ok(o),
            None => Err(invalid(
                "ALLOWED_ORIGINS",
                format!(
                    "{o:?} is not an exact origin (scheme://host[:port], no path, no *); credentials cannot be granted to a wildcard"
                ),
            )),
        })
        .collect()
}

/// `SIGNING_KEY_REFRESH_SECONDS`, default [`DEFAULT_KEY_REFRESH_SECONDS`].
fn key_refresh_seconds(vars: &Vars<'_>) -> Result<i64, Error> {
    vars.parse_or(
        "SIGNING_KEY_REFRESH_SECONDS",
        DEFAULT_KEY_REFRESH_SECONDS,
        |v| {
            v.parse::<i64>()
                .ok()
                .filter(|t| (0..=MAX_KEY_REFRESH_SECONDS).contains(t))
                .ok_or_else(|| {
                    invalid(
                        "SIGNING_KEY_REFRESH_SECONDS",
                        format!(
                            "{v:?} is not a whole number of seconds between 0 and {MAX_KEY_REFRESH_SECONDS}"
                        ),
                    )
                })
        },
    )
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get` (so tests need not touch the process environment).
    /// Every error names the variable at fault; a blank value counts as unset.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::read(&get, key_setting)
    }

    /// Reads the configuration through `get` for a program that passes the signer its own key
    /// source ([`KeySetting::Provided`], described by `description`). The key variables then
    /// have no meaning: any of them set is refused rather than silently ignored.
    pub fn from_vars_with_provided_key(
        get: impl Fn(&str) -> Option<String>,
        description: impl Into<String>,
    ) -> Result<Self, Error> {
        let description = description.into();
        Self::read(&get, move |vars| {
            for name in ["SIGNING_KEY_SECRET_ID", "SIGNING_KEY_FILE", "KEY_PAIR_ID"] {
                if vars.is_set(name) {
                    return Err(invalid(
                        name,
                        format!("has no effect here: the signing key is {description}"),
                    ));
                }
            }
            Ok(KeySetting::Provided { description })
        })
    }

    fn read(
        get: &dyn Fn(&str) -> Option<String>,
        key: impl FnOnce(&Vars<'_>) -> Result<KeySetting, Error>,
    ) -> Result<Self, Error> {
        let vars = Vars::new(get);
        Ok(Self {
            asset_base_url: asset_base_url(&vars)?,
            scopes: scopes(&vars)?,
            ttl_seconds: ttl_seconds(&vars)?,
            key: key(&vars)?,
            key_refresh_seconds: key_refresh_seconds(&vars)?,
            cookies: cookie_attributes(&vars)?,
            allowed_origins: allowed_origins(&vars)?,
            revocation_kvs_arn: revocation_kvs_arn(&vars)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_revocation_store_must_be_a_key_value_store_arn() {
        let good =
            "arn:aws:cloudfront::123456789012:key-value-store/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
        let read = |v: &str| {
            let v = v.to_owned();
            revocation_kvs_arn(&Vars::new(&move |n: &str| {
                (n == "REVOCATION_KVS_ARN").then(|| v.clone())
            }))
        };
        assert_eq!(read(good).unwrap().as_deref(), Some(good));
        assert_eq!(read("").unwrap(), None);
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:cloudfront::12345:key-value-store/x",
            "arn:aws:cloudfront::123456789012:distribution/E1",
            "arn:aws:cloudfront::123456789012:key-value-store/",
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains("REVOCATION_KVS_ARN"), "{bad}: {err}");
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: (&str, &str) = ("ASSET_BASE_URL", "https://d111111abcdef8.cloudfront.net/");
    const SECRET: (&str, &str) = ("SIGNING_KEY_SECRET_ID", "keyhole/signing-key");

    #[test]
    fn the_key_refresh_interval_is_read_and_bounded() {
        let c = Config::from_vars(vars(&[BASE, SECRET, ("SIGNING_KEY_REFRESH_SECONDS", "60")]))
            .unwrap();
        assert_eq!(c.key_refresh_seconds, 60);
        for bad in ["-1", "3601", "soon"] {
            let err =
                Config::from_vars(vars(&[BASE, SECRET, ("SIGNING_KEY_REFRESH_SECONDS", bad)]))
                    .unwrap_err()
                    .to_string();
            assert!(err.contains("SIGNING_KEY_REFRESH_SECONDS"), "{err}");
        }
    }

    #[test]
    fn a_provided_key_reads_no_key_variable_and_refuses_stray_ones() {
        let c = Config::from_vars_with_provided_key(vars(&[BASE]), "the state folder's secret")
            .unwrap();
        assert_eq!(
            c.key,
            KeySetting::Provided {
                description: "the state folder's secret".into()
            }
        );
        for stray in [SECRET, ("SIGNING_KEY_FILE", "k.pem"), ("KEY_PAIR_ID", "K1")] {
            let err = Config::from_vars_with_provided_key(vars(&[BASE, stray]), "x")
                .unwrap_err()
                .to_string();
            assert!(err.contains(stray.0), "{err}");
        }
        // Everything else is read as usual.
        let err = Config::from_vars_with_provided_key(
            vars(&[BASE, ("SIGNING_KEY_REFRESH_SECONDS", "soon")]),
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("SIGNING_KEY_REFRESH_SECONDS"), "{err}");
    }

    #[test]
    fn minimal_configuration_takes_the_defaults() {
        let c = Config::from_vars(vars(&[BASE, SECRET])).unwrap();
        assert_eq!(c.asset_base_url, "https://d111111abcdef8.cloudfront.net");
        assert_eq!(c.scopes, ScopeTemplate::parse_list(DEFAULT_SCOPES).unwrap());
        assert_eq!(c.ttl_seconds, 3600);
        assert_eq!(c.key_refresh_seconds, DEFAULT_KEY_REFRESH_SECONDS);
        assert_eq!(
            c.key,
            KeySetting::SecretsManager {
                secret_id: "keyhole/signing-key".into()
            }
        );
        assert!(matches!(c.cookies.same_site, SameSite::Lax));
        assert!(c.cookies.secure && c.cookies.http_only);
        assert!(c.cookies.domain.is_none() && c.allowed_origins.is_empty());
    }

    #[test]
    fn every_variable_is_read() {
        let c = Config::from_vars(vars(&[
            ("ASSET_BASE_URL", "http://127.0.0.1:8080"),
            ("SESSION_SCOPES", "/users/{sub}/*,/public/*"),
            ("SESSION_TTL_SECONDS", "600"),
            ("SIGNING_KEY_FILE", "/tmp/k.pem"),
            ("KEY_PAIR_ID", "K2JCJMDEHXQW5F"),
            ("COOKIE_DOMAIN", ".example.com"),
            ("COOKIE_SAMESITE", "strict"),
            (
                "ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:3000",
            ),
        ]))
        .unwrap();
        assert_eq!(c.scopes.len(), 2);
        assert_eq!(c.ttl_seconds, 600);
        assert_eq!(
            c.key,
            KeySetting::File {
                path: "/tmp/k.pem".into(),
                key_pair_id: "K2JCJMDEHXQW5F".into()
            }
        );
        assert_eq!(c.cookies.domain.as_deref(), Some(".example.com"));
        assert!(matches!(c.cookies.same_site, SameSite::Strict));
        assert_eq!(
            c.allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
    }

    fn error_names(pairs: &[(&str, &str)], name: &str) {
        let err = Config::from_vars(vars(pairs)).unwrap_err().to_string();
        assert!(
            err.starts_with(name),
            "expected an error naming {name}, got {err:?}"
        );
    }

    #[test]
    fn missing_asset_base_url_is_named() {
        error_names(&[SECRET], "ASSET_BASE_URL");
        error_names(&[("ASSET_BASE_URL", "  "), SECRET], "ASSET_BASE_URL");
    }

    #[test]
    fn invalid_values_are_named() {
        error_names(&[("ASSET_BASE_URL", "ftp://x"), SECRET], "ASSET_BASE_URL");
        error_names(
            &[("ASSET_BASE_URL", "https://x/assets"), SECRET],
            "ASSET_BASE_URL",
        );
        error_names(
            &[("ASSET_BASE_URL", "https://*.x.com"), SECRET],
            "ASSET_BASE_URL",
        );
        error_names(
            &[BASE, SECRET, ("SESSION_SCOPES", "/users/*/x")],
            "SESSION_SCOPES",
        );
        error_names(&[BASE, SECRET, ("SESSION_SCOPES", " , ")], "SESSION_SCOPES");
        error_names(
            &[BASE, SECRET, ("SESSION_TTL_SECONDS", "1h")],
            "SESSION_TTL_SECONDS",
        );
        error_names(
            &[BASE, SECRET, ("SESSION_TTL_SECONDS", "5")],
            "SESSION_TTL_SECONDS",
        );
        error_names(
            &[BASE, SECRET, ("SESSION_TTL_SECONDS", "99999999")],
            "SESSION_TTL_SECONDS",
        );
        error_names(
            &[BASE, SECRET, ("COOKIE_SAMESITE", "sometimes")],
            "COOKIE_SAMESITE",
        );
        error_names(&[BASE, SECRET, ("COOKIE_DOMAIN", "a;b")], "COOKIE_DOMAIN");
        error_names(&[BASE, SECRET, ("ALLOWED_ORIGINS", "*")], "ALLOWED_ORIGINS");
        error_names(
            &[BASE, SECRET, ("ALLOWED_ORIGINS", "https://a.com/")],
            "ALLOWED_ORIGINS",
        );
    }

    #[test]
    fn key_settings_must_be_complete_and_unambiguous() {
        error_names(&[BASE], "SIGNING_KEY_SECRET_ID");
        error_names(&[BASE, ("SIGNING_KEY_FILE", "k.pem")], "KEY_PAIR_ID");
        error_names(
            &[BASE, SECRET, ("SIGNING_KEY_FILE", "k.pem")],
            "SIGNING_KEY_SECRET_ID",
        );
        error_names(&[BASE, SECRET, ("KEY_PAIR_ID", "K1")], "KEY_PAIR_ID");
        error_names(
            &[BASE, ("SIGNING_KEY_FILE", "k.pem"), ("KEY_PAIR_ID", "K 1;")],
            "KEY_PAIR_ID",
        );
    }
}
