//! Which issuers to trust and how strictly: read from environment variables, no I/O.

use std::path::PathBuf;
use std::time::Duration;

use keyhole_core::{MissingPartner, Vars, split_list};
use reqwest::Url;

use crate::error::ConfigError;

/// Default clock leeway for `exp`, `nbf` and `iat`: enough for ordinary clock skew.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;
/// The largest leeway accepted: beyond five minutes a leeway stops being skew and becomes a
/// silent extension of every token's lifetime.
pub const MAX_LEEWAY_SECONDS: u64 = 300;
/// Default minimum time between two fetches of one issuer's key set. An unknown `kid` may
/// trigger a refetch (that is how key rotation is picked up), so without this floor a flood of
/// tokens with made-up kids would become a flood of requests to the issuer.
pub const DEFAULT_JWKS_COOLDOWN: Duration = Duration::from_secs(10);
/// Default age after which a cached key set is refreshed on next use. Issuers publish a new key
/// well before signing with it, so an hour-old set is still good; unknown kids refresh sooner.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(3600);

/// Which Cognito token kinds are accepted (`TOKEN_USE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Only id tokens (`token_use: id`, audience in `aud`). The default: the id token is the one
    /// that says who the user is, and it is what Amplify and the Hosted UI hand to a frontend.
    Id,
    /// Only access tokens (`token_use: access`, audience in `client_id`).
    Access,
    /// Either kind.
    Any,
}

impl TokenUse {
    /// Whether a Cognito token whose `token_use` claim is `value` is accepted.
    pub fn accepts(self, value: &str) -> bool {
        matches!(
            (self, value),
            (TokenUse::Id | TokenUse::Any, "id") | (TokenUse::Access | TokenUse::Any, "access")
        )
    }
}

impl std::str::FromStr for TokenUse {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "id" => Ok(TokenUse::Id),
            "access" => Ok(TokenUse::Access),
            "any" => Ok(TokenUse::Any),
            _ => Err("expected id, access or any".to_owned()),
        }
    }
}

/// How an issuer's tokens name their audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKind {
    /// An Amazon Cognito user pool: `aud` (id tokens) or `client_id` (access tokens) must be one
    /// of these app client ids, and `token_use` is checked.
    Cognito {
        /// Accepted app client ids.
        client_ids: Vec<String>,
    },
    /// Any OpenID Connect issuer: `aud` (string or array) must contain one of these.
    Oidc {
        /// Accepted audiences.
        audiences: Vec<String>,
    },
}

/// One trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The exact `iss` value its tokens carry.
    pub issuer: String,
    /// Cognito or generic OIDC, with the accepted audiences.
    pub kind: IssuerKind,
    /// Where its key set lives, when not derived from the issuer (`JWKS_URL`).
    pub jwks_url: Option<String>,
}

impl IssuerConfig {
    /// The URL of the issuer's OpenID Connect discovery document.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// The key set URL when it is known without discovery: `JWKS_URL`, or Cognito's fixed
    /// `<issuer>/.well-known/jwks.json`. `None` means "ask the discovery document".
    pub fn static_jwks_url(&self) -> Option<String> {
        match (&self.jwks_url, &self.kind) {
            (Some(url), _) => Some(url.clone()),
            (None, IssuerKind::Cognito { .. }) => Some(format!(
                "{}/.well-known/jwks.json",
                self.issuer.trim_end_matches('/')
            )),
            (None, IssuerKind::Oidc { .. }) => None,
        }
    }
}

/// Everything token verification is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    issuers: Vec<IssuerConfig>,
    token_use: TokenUse,
    required_groups: Vec<String>,
    leeway_seconds: u64,
    jwks_cooldown: Duration,
    jwks_ttl: Duration,
    jwks_file: Option<PathBuf>,
}

impl TokenConfig {
    /// Reads the configuration from the process environment.
    ///
    /// Variables: `COGNITO_USER_POOL_ID`, `COGNITO_CLIENT_ID`, `OIDC_ISSUER`, `OIDC_AUDIENCE`,
    /// `JWKS_URL`, `TOKEN_USE`, `JWKS_FILE`, `REQUIRED_GROUPS`, `TOKEN_LEEWAY_SECONDS`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get`, which returns a variable's value or `None`.
    ///
    /// An empty or all-blank value counts as unset: deployment templates commonly pass `""`
    /// for an optional parameter.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(&get);
        let mut issuers = Vec::new();
        issuers.extend(cognito(&vars)?);
        if let Some(oidc) = oidc(&vars)? {
            if issuers.iter().any(|i| i.issuer == oidc.issuer) {
                return Err(ConfigError::Invalid {
                    variable: "OIDC_ISSUER",
                    reason: "is the same issuer as the Cognito user pool".to_owned(),
                });
            }
            issuers.push(oidc);
        }
        if issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        let jwks_file = key_set_location(&vars, &mut issuers)?;
        Ok(Self {
            issuers,
            token_use: token_use(&vars)?,
            required_groups: optional_list(&vars, "REQUIRED_GROUPS")?,
            leeway_seconds: leeway(&vars)?,
            jwks_cooldown: DEFAULT_JWKS_COOLDOWN,
            jwks_ttl: DEFAULT_JWKS_TTL,
            jwks_file,
        })
    }

    /// Sets the minimum time between two key-set fetches for one issuer.
    pub fn with_jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_cooldown = cooldown;
        self
    }

    /// Sets the age after which a cached key set is refreshed on next use.
    pub fn with_jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// The trusted issuers (one or two).
    pub fn issuers(&self) -> &[IssuerConfig] {
        &self.issuers
    }

    /// The trusted issuer whose `iss` is exactly `iss`.
    pub fn issuer(&self, iss: &str) -> Option<&IssuerConfig> {
        self.issuers.iter().find(|i| i.issuer == iss)
    }

    /// Which Cognito token kinds are accepted.
    pub fn token_use(&self) -> TokenUse {
        self.token_use
    }

    /// Groups of which the token must carry at least one; empty means no group gate.
    pub fn required_groups(&self) -> &[String] {
        &self.required_groups
    }

    /// Clock leeway in seconds for `exp`, `nbf` and `iat`.
    pub fn leeway_seconds(&self) -> u64 {
        self.leeway_seconds
    }

    /// Minimum time between two key-set fetches for one issuer.
    pub fn jwks_cooldown(&self) -> Duration {
        self.jwks_cooldown
    }

    /// Age after which a cached key set is refreshed.
    pub fn jwks_ttl(&self) -> Duration {
        self.jwks_ttl
    }

    /// The key set file to preload (`JWKS_FILE`), if any.
    pub fn jwks_file(&self) -> Option<&std::path::Path> {
        self.jwks_file.as_deref()
    }
}

/// The variables that choose which issuer is trusted and where its keys are: a local stack with
/// its own identity provider sets these and leaves the rest ([`CHECK_VARIABLES`]) to the user,
/// validated as everywhere.
pub const ISSUER_VARIABLES: [&str; 6] = [
    "COGNITO_USER_POOL_ID",
    "COGNITO_CLIENT_ID",
    "OIDC_ISSUER",
    "OIDC_AUDIENCE",
    "JWKS_URL",
    "JWKS_FILE",
];

/// The variables that say how strictly tokens are checked, whoever the issuer is. With
/// [`ISSUER_VARIABLES`], every variable [`TokenConfig::from_vars`] reads.
pub const CHECK_VARIABLES: [&str; 3] = ["TOKEN_USE", "REQUIRED_GROUPS", "TOKEN_LEEWAY_SECONDS"];

/// Whether `get` names an issuer (`COGNITO_USER_POOL_ID` or `OIDC_ISSUER`), complete or not.
pub fn names_an_issuer(get: impl Fn(&str) -> Option<String>) -> bool {
    let vars = Vars::new(&get);
    vars.is_set("COGNITO_USER_POOL_ID") || vars.is_set("OIDC_ISSUER")
}

fn missing(m: MissingPartner) -> ConfigError {
    ConfigError::Missing {
        variable: m.missing,
        because: m.because,
    }
}

/// `COGNITO_USER_POOL_ID` + `COGNITO_CLIENT_ID`.
fn cognito(vars: &Vars<'_>) -> Result<Option<IssuerConfig>, ConfigError> {
    let Some((pool, clients)) = vars
        .pair("COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID")
        .map_err(missing)?
    else {
        return Ok(None);
    };
    Ok(Some(IssuerConfig {
        issuer: cognito_issuer(&pool)?,
        kind: IssuerKind::Cognito {
            client_ids: list("COGNITO_CLIENT_ID", &clients)?,
        },
        jwks_url: None,
    }))
}

/// `OIDC_ISSUER` + `OIDC_AUDIENCE`. The audience is what stops a token minted for another
/// application of the same issuer (say, any Google sign-in anywhere) from being accepted here.
fn oidc(vars: &Vars<'_>) -> Result<Option<IssuerConfig>, ConfigError> {
    let Some((issuer, audiences)) = vars.pair("OIDC_ISSUER", "OIDC_AUDIENCE").map_err(missing)?
    else {
        return Ok(None);
    };
    check_url("OIDC_ISSUER", &issuer)?;
    Ok(Some(IssuerConfig {
        issuer,
        kind: IssuerKind::Oidc {
            audiences: list("OIDC_AUDIENCE", &audiences)?,
        },
        jwks_url: None,
    }))
}

/// `JWKS_URL` (set on the one issuer) and `JWKS_FILE` (returned). A key set belongs to one
/// issuer: with two trusted, either would let one issuer's keys vouch for the other's tokens,
/// so it is refused rather than guessed.
fn key_set_location(
    vars: &Vars<'_>,
    issuers: &mut [IssuerConfig],
) -> Result<Option<PathBuf>, ConfigError> {
    let url = vars.get("JWKS_URL");
    let file = vars.get("JWKS_FILE").map(PathBuf::from);
    for (variable, set) in [("JWKS_URL", url.is_some()), ("JWKS_FILE", file.is_some())] {
        if set && issuers.len() > 1 {
            return Err(ConfigError::Invalid {
                variable,
                reason: "is ambiguous when both a Cognito user pool and an OIDC issuer are trusted"
                    .to_owned(),
            });
        }
    }
    if let Some(url) = url {
        check_url("JWKS_URL", &url)?;
        if let Some(only) = issuers.first_mut() {
            only.jwks_url = Some(url);
        }
    }
    Ok(file)
}

/// `TOKEN_USE`, default `id`.
fn token_use(vars: &Vars<'_>) -> Result<TokenUse, ConfigError> {
    vars.parse_or("TOKEN_USE", TokenUse::Id, |v| {
        v.parse().map_err(|reason| ConfigError::Invalid {
            variable: "TOKEN_USE",
            reason,
        })
    })
}

/// `TOKEN_LEEWAY_SECONDS`, default [`DEFAULT_LEEWAY_SECONDS`], at most [`MAX_LEEWAY_SECONDS`].
fn leeway(vars: &Vars<'_>) -> Result<u64, ConfigError> {
    vars.parse_or("TOKEN_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS, |v| {
        v.parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_LEEWAY_SECONDS)
            .ok_or_else(|| ConfigError::Invalid {
                variable: "TOKEN_LEEWAY_SECONDS",
                reason: format!(
                    "expected a whole number of seconds from 0 to {MAX_LEEWAY_SECONDS}"
                ),
            })
    })
}

/// An optional comma-separated list; set, it must name at least one entry.
fn optional_list(vars: &Vars<'_>, variable: &'static str) -> Result<Vec<String>, ConfigError> {
    vars.parse_or(variable, Vec::new(), |v| list(variable, v))
}

/// `https://cognito-idp.<region>.amazonaws.com/<pool>`, the region being the pool id's prefix.
fn cognito_issuer(pool: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        variable: "COGNITO_USER_POOL_ID",
        reason: reason.to_owned(),
    };
    let (region, id) = pool
        .split_once('_')
        .ok_or_else(|| invalid("expected <region>_<id>, e.g. us-east-1_AbCdEf123"))?;
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(invalid(
            "the part before '_' must be an AWS region, e.g. us-east-1",
        ));
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid("the part after '_' must be letters and digits"));
    }
    Ok(format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

/// A comma-separated list, blanks trimmed and dropped; it must name at least one entry.
fn list(variable: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    let items = split_list(value);
    if items.is_empty() {
        return Err(ConfigError::Invalid {
            variable,
            reason: "lists no value".to_owned(),
        });
    }
    Ok(items)
}

/// Issuer and key URLs must be HTTPS; plain HTTP is allowed only on loopback, for local
/// stand-ins (moto, `keyhole serve`), where no network attacker sits in between.
pub(crate) fn check_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid { variable, reason };
    let url = Url::parse(value).map_err(|e| invalid(format!("not a URL ({e})")))?;
    if url.host_str().is_none() {
        return Err(invalid("has no host".to_owned()));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(invalid(
            "must be an https:// URL (http:// only for 127.0.0.1, ::1 or localhost)".to_owned(),
        )),
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn every_variable_read_is_an_issuer_or_a_check_variable() {
        let asked = std::sync::Mutex::new(Vec::<String>::new());
        TokenConfig::from_vars(|name| {
            asked.lock().unwrap().push(name.to_owned());
            match name {
                "OIDC_ISSUER" => Some("https://issuer.example".into()),
                "OIDC_AUDIENCE" => Some("a".into()),
                _ => None,
            }
        })
        .unwrap();
        for name in asked.into_inner().unwrap() {
            let name = name.as_str();
            assert!(
                ISSUER_VARIABLES.contains(&name) || CHECK_VARIABLES.contains(&name),
                "{name} is read but in neither list"
            );
        }
        assert!(names_an_issuer(|n| (n == "OIDC_ISSUER").then(|| "x".into())));
        assert!(!names_an_issuer(
            |n| (n == "OIDC_ISSUER").then(|| " ".into())
        ));
    }

    #[test]
    fn cognito_pool_gives_the_regional_issuer_and_jwks_url() {
        let config = TokenConfig::from_vars(vars(&[
            ("COGNITO_USER_POOL_ID", "eu-west-3_AbC123"),
            ("COGNITO_CLIENT_ID", "client-a, client-b"),
        ]))
        .unwrap();
        let issuer = &config.issuers()[0];
        assert_eq!(
            issuer.issuer,
            "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_AbC123"
        );
        assert_eq!(
            issuer.static_jwks_url().unwrap(),
            "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_AbC123/.well-known/jwks.json"
        );
        assert_eq!(
            issuer.kind,
            IssuerKind::Cognito {
                client_ids: vec!["client-a".into(), "client-b".into()]
            }
        );
        assert_eq!(config.token_use(), TokenUse::Id);
        assert_eq!(config.leeway_seconds(), DEFAULT_LEEWAY_SECONDS);
        assert!(config.required_groups().is_empty());
    }

    #[test]
    fn cognito_and_oidc_can_be_trusted_at_once() {
        let config = TokenConfig::from_vars(vars(&[
            ("COGNITO_USER_POOL_ID", "us-east-1_Pool1"),
            ("COGNITO_CLIENT_ID", "c1"),
            ("OIDC_ISSUER", "https://accounts.google.com"),
            ("OIDC_AUDIENCE", "app.apps.googleusercontent.com"),
            ("TOKEN_USE", "ANY"),
            ("REQUIRED_GROUPS", "staff,,admins "),
            ("TOKEN_LEEWAY_SECONDS", "300"),
        ]))
        .unwrap();
        assert_eq!(config.issuers().len(), 2);
        assert!(config.issuer("https://accounts.google.com").is_some());
        assert_eq!(config.issuers()[1].static_jwks_url(), None);
        assert_eq!(config.token_use(), TokenUse::Any);
        assert_eq!(config.required_groups(), ["staff", "admins"]);
        assert_eq!(config.leeway_seconds(), 300);
    }

    #[test]
    fn jwks_url_overrides_the_derived_location() {
        let config = TokenConfig::from_vars(vars(&[
            ("COGNITO_USER_POOL_ID", "us-east-1_Pool1"),
            ("COGNITO_CLIENT_ID", "c1"),
            (
                "JWKS_URL",
                "http://127.0.0.1:5055/us-east-1_Pool1/.well-known/jwks.json",
            ),
            ("JWKS_FILE", "/tmp/keys.json"),
        ]))
        .unwrap();
        assert_eq!(
            config.issuers()[0].static_jwks_url().unwrap(),
            "http://127.0.0.1:5055/us-east-1_Pool1/.well-known/jwks.json"
        );
        assert_eq!(
            config.jwks_file(),
            Some(std::path::Path::new("/tmp/keys.json"))
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let err =
            TokenConfig::from_vars(vars(&[("COGNITO_USER_POOL_ID", "  "), ("OIDC_ISSUER", "")]))
                .unwrap_err();
        assert_eq!(err, ConfigError::NoIssuer);
    }

    fn error_names(pairs: &[(&str, &str)], variable: &str) {
        let err = TokenConfig::from_vars(vars(pairs)).unwrap_err();
        assert!(
            err.to_string().contains(variable),
            "error {err:?} should name {variable}"
        );
    }

    #[test]
    fn a_pool_without_a_client_id_is_refused_naming_the_variable() {
        error_names(
            &[("COGNITO_USER_POOL_ID", "us-east-1_P1")],
            "COGNITO_CLIENT_ID",
        );
        error_names(&[("COGNITO_CLIENT_ID", "c")], "COGNITO_USER_POOL_ID");
    }

    #[test]
    fn a_malformed_pool_id_is_refused() {
        for bad in [
            "nounderscore",
            "_abc",
            "us-east-1_",
            "US-EAST-1_abc",
            "us-east-1_a/b",
        ] {
            error_names(
                &[("COGNITO_USER_POOL_ID", bad), ("COGNITO_CLIENT_ID", "c")],
                "COGNITO_USER_POOL_ID",
            );
        }
    }

    #[test]
    fn an_oidc_issuer_needs_an_audience() {
        error_names(
            &[("OIDC_ISSUER", "https://issuer.example")],
            "OIDC_AUDIENCE",
        );
        error_names(&[("OIDC_AUDIENCE", "a")], "OIDC_ISSUER");
        error_names(
            &[
                ("OIDC_ISSUER", "https://issuer.example"),
                ("OIDC_AUDIENCE", " , "),
            ],
            "OIDC_AUDIENCE",
        );
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        error_names(
            &[
                ("OIDC_ISSUER", "http://issuer.example"),
                ("OIDC_AUDIENCE", "a"),
            ],
            "OIDC_ISSUER",
        );
        error_names(
            &[("OIDC_ISSUER", "not a url"), ("OIDC_AUDIENCE", "a")],
            "OIDC_ISSUER",
        );
        for ok in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/realm",
            "http://[::1]:80",
        ] {
            TokenConfig::from_vars(vars(&[("OIDC_ISSUER", ok), ("OIDC_AUDIENCE", "a")])).unwrap();
        }
        error_names(
            &[
                ("OIDC_ISSUER", "https://issuer.example"),
                ("OIDC_AUDIENCE", "a"),
                ("JWKS_URL", "http://keys.example/jwks.json"),
            ],
            "JWKS_URL",
        );
    }

    #[test]
    fn one_key_set_for_two_issuers_is_refused_as_ambiguous() {
        for extra in [
            ("JWKS_URL", "https://keys.example/jwks.json"),
            ("JWKS_FILE", "/k.json"),
        ] {
            error_names(
                &[
                    ("COGNITO_USER_POOL_ID", "us-east-1_P1"),
                    ("COGNITO_CLIENT_ID", "c"),
                    ("OIDC_ISSUER", "https://issuer.example"),
                    ("OIDC_AUDIENCE", "a"),
                    extra,
                ],
                extra.0,
            );
        }
    }

    #[test]
    fn bad_token_use_and_leeway_are_refused_naming_the_variable() {
        let base = [
            ("OIDC_ISSUER", "https://issuer.example"),
            ("OIDC_AUDIENCE", "a"),
        ];
        error_names(&[base[0], base[1], ("TOKEN_USE", "refresh")], "TOKEN_USE");
        for bad in ["301", "-1", "ten", "1.5"] {
            error_names(
                &[base[0], base[1], ("TOKEN_LEEWAY_SECONDS", bad)],
                "TOKEN_LEEWAY_SECONDS",
            );
        }
        error_names(
            &[base[0], base[1], ("REQUIRED_GROUPS", ",")],
            "REQUIRED_GROUPS",
        );
    }

    #[test]
    fn token_use_accepts_only_what_it_names() {
        assert!(TokenUse::Id.accepts("id") && !TokenUse::Id.accepts("access"));
        assert!(TokenUse::Access.accepts("access") && !TokenUse::Access.accepts("id"));
        assert!(TokenUse::Any.accepts("id") && TokenUse::Any.accepts("access"));
        assert!(!TokenUse::Any.accepts("refresh"));
    }
}
