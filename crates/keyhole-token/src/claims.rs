//! Claim checks on a token whose signature has been verified: pure functions of the claims,
//! the issuer's configuration and the current time.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{IssuerConfig, IssuerKind, TokenConfig};
use crate::error::Rejection;

/// What a verified token says about its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The user's stable id at the issuer (`sub`).
    pub sub: String,
    /// `cognito:username`, `username` or `preferred_username`, the first present.
    pub username: Option<String>,
    /// `email`, when present.
    pub email: Option<String>,
    /// `cognito:groups` and `groups`, merged, in token order.
    pub groups: Vec<String>,
    /// The token's issuer (`iss`), one of the configured ones.
    pub issuer: String,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_at: i64,
}

/// A JWT NumericDate. Some issuers write fractions; they are truncated to whole seconds.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
            _ => Err(Rejection::Malformed),
        },
        Some(_) => Err(Rejection::Malformed),
    }
}

fn string<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A claim that is a string or an array of strings (as `aud` and `groups` may be).
fn strings<'a>(claims: &'a Map<String, Value>, name: &str) -> Vec<&'a str> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `exp` has not passed and neither `nbf` nor `iat` lies in the future, within `leeway`.
fn check_times(
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    now: i64,
    leeway: i64,
) -> Result<(), Rejection> {
    if now >= exp.saturating_add(leeway) {
        return Err(Rejection::Expired);
    }
    let future = |t: Option<i64>| t.is_some_and(|t| t > now.saturating_add(leeway));
    if future(nbf) || future(iat) {
        return Err(Rejection::NotYetValid);
    }
    Ok(())
}

/// The token was minted for this application: a Cognito app client (with the accepted token
/// use) or an OIDC audience.
fn check_audience(
    claims: &Map<String, Value>,
    issuer: &IssuerConfig,
    config: &TokenConfig,
) -> Result<(), Rejection> {
    let (claim, accepted) = match &issuer.kind {
        IssuerKind::Cognito { client_ids } => {
            let token_use = string(claims, "token_use").ok_or(Rejection::WrongTokenUse)?;
            if !config.token_use().accepts(token_use) {
                return Err(Rejection::WrongTokenUse);
            }
            // Id tokens carry the app client in `aud`, access tokens in `client_id`.
            let claim = if token_use == "id" {
                "aud"
            } else {
                "client_id"
            };
            (claim, client_ids)
        }
        IssuerKind::Oidc { audiences } => ("aud", audiences),
    };
    let presented = strings(claims, claim);
    if presented.iter().any(|p| accepted.iter().any(|ok| ok == p)) {
        Ok(())
    } else {
        Err(Rejection::WrongAudience)
    }
}

/// The user's groups (`cognito:groups` and `groups`, without repeats), which must include one
/// of `required` when it is not empty.
fn groups(claims: &Map<String, Value>, required: &[String]) -> Result<Vec<String>, Rejection> {
    let mut groups: Vec<String> = Vec::new();
    for g in strings(claims, "cognito:groups")
        .into_iter()
        .chain(strings(claims, "groups"))
    {
        if !groups.iter().any(|have| have == g) {
            groups.push(g.to_owned());
        }
    }
    if !required.is_empty() && !groups.iter().any(|g| required.contains(g)) {
        return Err(Rejection::MissingGroup);
    }
    Ok(groups)
}

/// Checks the claims of a token whose signature verified with `issuer`'s key.
///
/// `now` is in seconds since the epoch. Order matters only for which reason is reported when
/// several apply; all must pass.
pub(crate) fn check(
    claims: &Map<String, Value>,
    issuer: &IssuerConfig,
    config: &TokenConfig,
    now: i64,
) -> Result<Claims, Rejection> {
    let leeway = i64::try_from(config.leeway_seconds()).unwrap_or(i64::MAX);

    // Routing already matched `iss` exactly; checking again keeps this function safe alone.
    if string(claims, "iss") != Some(issuer.issuer.as_str()) {
        return Err(Rejection::WrongIssuer);
    }
    let sub = match string(claims, "sub") {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => return Err(Rejection::Malformed),
    };
    // A token without an expiry would be valid forever.
    let exp = numeric_date(claims, "exp")?.ok_or(Rejection::Malformed)?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;

    check_times(exp, nbf, iat, now, leeway)?;
    check_audience(claims, issuer, config)?;
    let groups = groups(claims, config.required_groups())?;

    let username = ["cognito:username", "username", "preferred_username"]
        .iter()
        .find_map(|name| string(claims, name))
        .map(str::to_owned);

    Ok(Claims {
        sub,
        username,
        email: string(claims, "email").map(str::to_owned),
        groups,
        issuer: issuer.issuer.clone(),
        expires_at: exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const POOL_ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1";
    const OIDC_ISS: &str = "https://issuer.example";

    fn config(extra: &[(&str, &str)]) -> TokenConfig {
        let mut vars = vec![
            ("COGNITO_USER_POOL_ID", "us-east-1_Pool1"),
            ("COGNITO_CLIENT_ID", "client-1,client-2"),
            ("OIDC_ISSUER", OIDC_ISS),
            ("OIDC_AUDIENCE", "aud-1"),
        ];
        vars.extend_from_slice(extra);
        TokenConfig::from_vars(|name| {
            vars.iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    fn run(config: &TokenConfig, claims: Value) -> Result<Claims, Rejection> {
        let map = claims.as_object().unwrap().clone();
        let iss = map["iss"].as_str().unwrap();
        check(&map, config.issuer(iss).unwrap(), config, NOW)
    }

    fn id_token() -> Value {
        json!({
            "iss": POOL_ISS, "sub": "u-1", "aud": "client-1", "token_use": "id",
            "exp": NOW + 600, "iat": NOW - 10, "cognito:username": "alice",
            "email": "alice@example.com", "cognito:groups": ["staff"]
        })
    }

    fn access_token() -> Value {
        json!({
            "iss": POOL_ISS, "sub": "u-1", "client_id": "client-2", "token_use": "access",
            "exp": NOW + 600, "username": "alice"
        })
    }

    fn oidc_token() -> Value {
        json!({
            "iss": OIDC_ISS, "sub": "u-2", "aud": ["other", "aud-1"], "exp": NOW + 600,
            "nbf": NOW - 5, "preferred_username": "bob", "groups": "admins"
        })
    }

    fn with(mut v: Value, key: &str, value: Value) -> Value {
        v[key] = value;
        v
    }

    fn without(mut v: Value, key: &str) -> Value {
        v.as_object_mut().unwrap().remove(key);
        v
    }

    #[test]
    fn cognito_id_token_yields_its_claims() {
        let claims = run(&config(&[]), id_token()).unwrap();
        assert_eq!(
            claims,
            Claims {
                sub: "u-1".into(),
                username: Some("alice".into()),
                email: Some("alice@example.com".into()),
                groups: vec!["staff".into()],
                issuer: POOL_ISS.into(),
                expires_at: NOW + 600,
            }
        );
    }

    #[test]
    fn token_use_decides_between_id_and_access_tokens() {
        let id_only = config(&[]);
        assert!(run(&id_only, id_token()).is_ok());
        assert_eq!(run(&id_only, access_token()), Err(Rejection::WrongTokenUse));

        let access_only = config(&[("TOKEN_USE", "access")]);
        assert_eq!(run(&access_only, id_token()), Err(Rejection::WrongTokenUse));
        let claims = run(&access_only, access_token()).unwrap();
        assert_eq!(claims.username.as_deref(), Some("alice"));

        let any = config(&[("TOKEN_USE", "any")]);
        assert!(run(&any, id_token()).is_ok() && run(&any, access_token()).is_ok());
        assert_eq!(
            run(&any, with(id_token(), "token_use", json!("refresh"))),
            Err(Rejection::WrongTokenUse)
        );
        assert_eq!(
            run(&any, without(id_token(), "token_use")),
            Err(Rejection::WrongTokenUse)
        );
    }

    #[test]
    fn cognito_token_from_another_app_client_is_rejected() {
        let any = config(&[("TOKEN_USE", "any")]);
        assert_eq!(
            run(&any, with(id_token(), "aud", json!("client-9"))),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            run(&any, with(access_token(), "client_id", json!("client-9"))),
            Err(Rejection::WrongAudience)
        );
        // An access token names its client in client_id; an `aud` does not stand in for it.
        let swapped = with(
            without(access_token(), "client_id"),
            "aud",
            json!("client-1"),
        );
        assert_eq!(run(&any, swapped), Err(Rejection::WrongAudience));
    }

    #[test]
    fn oidc_audience_must_contain_a_configured_one() {
        let c = config(&[]);
        let claims = run(&c, oidc_token()).unwrap();
        assert_eq!(claims.username.as_deref(), Some("bob"));
        assert_eq!(claims.groups, ["admins"]);
        assert_eq!(
            run(&c, with(oidc_token(), "aud", json!("aud-1")))
                .unwrap()
                .sub,
            "u-2"
        );
        assert_eq!(
            run(&c, with(oidc_token(), "aud", json!(["other"]))),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            run(&c, without(oidc_token(), "aud")),
            Err(Rejection::WrongAudience)
        );
    }

    #[test]
    fn expired_token_is_rejected_after_the_leeway() {
        let c = config(&[]);
        assert!(
            run(&c, with(id_token(), "exp", json!(NOW - 29))).is_ok(),
            "within leeway"
        );
        assert_eq!(
            run(&c, with(id_token(), "exp", json!(NOW - 30))),
            Err(Rejection::Expired)
        );
        let strict = config(&[("TOKEN_LEEWAY_SECONDS", "0")]);
        assert_eq!(
            run(&strict, with(id_token(), "exp", json!(NOW))),
            Err(Rejection::Expired)
        );
        assert!(
            run(
                &strict,
                with(id_token(), "exp", json!(NOW as f64 + 0.5 + 1.0))
            )
            .is_ok()
        );
    }

    #[test]
    fn future_nbf_or_iat_is_not_yet_valid() {
        let c = config(&[]);
        assert!(
            run(&c, with(oidc_token(), "nbf", json!(NOW + 30))).is_ok(),
            "within leeway"
        );
        assert_eq!(
            run(&c, with(oidc_token(), "nbf", json!(NOW + 31))),
            Err(Rejection::NotYetValid)
        );
        assert_eq!(
            run(&c, with(id_token(), "iat", json!(NOW + 3600))),
            Err(Rejection::NotYetValid)
        );
    }

    #[test]
    fn missing_or_mistyped_required_claims_are_malformed() {
        let c = config(&[]);
        for token in [
            without(id_token(), "exp"),
            with(id_token(), "exp", json!("tomorrow")),
            with(id_token(), "exp", json!(1e300)),
            without(id_token(), "sub"),
            with(id_token(), "sub", json!("")),
            with(id_token(), "sub", json!(42)),
            with(id_token(), "nbf", json!(null)),
            with(id_token(), "iat", json!([1])),
        ] {
            assert_eq!(run(&c, token.clone()), Err(Rejection::Malformed), "{token}");
        }
    }

    #[test]
    fn required_groups_gate_on_either_group_claim() {
        let c = config(&[("REQUIRED_GROUPS", "admins, staff")]);
        assert!(run(&c, id_token()).is_ok());
        assert!(run(&c, oidc_token()).is_ok());
        assert_eq!(
            run(&c, with(id_token(), "cognito:groups", json!(["interns"]))),
            Err(Rejection::MissingGroup)
        );
        assert_eq!(
            run(&c, without(id_token(), "cognito:groups")),
            Err(Rejection::MissingGroup)
        );
        assert_eq!(
            run(&c, with(oidc_token(), "groups", json!({"admins": true}))),
            Err(Rejection::MissingGroup)
        );
    }

    #[test]
    fn a_token_is_checked_against_its_own_issuer_only() {
        let c = config(&[]);
        let map = id_token().as_object().unwrap().clone();
        let oidc = c.issuer(OIDC_ISS).unwrap();
        assert_eq!(check(&map, oidc, &c, NOW), Err(Rejection::WrongIssuer));
    }
}
