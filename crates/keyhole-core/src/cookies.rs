//! Signed cookies as `Set-Cookie` headers, their clearing form, and a `Cookie` header parser.

use std::fmt;
use std::str::FromStr;

use crate::CookieError;

/// Every cookie name CloudFront reads for signed cookies.
pub const COOKIE_NAMES: [&str; 5] = [
    "CloudFront-Policy",
    "CloudFront-Signature",
    "CloudFront-Key-Pair-Id",
    "CloudFront-Hash-Algorithm",
    "CloudFront-Expires",
];

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Also sent on top-level navigations from other sites; keyhole's default.
    #[default]
    Lax,
    /// Sent on cross-site requests too; requires `Secure`.
    None,
}

impl FromStr for SameSite {
    type Err = CookieError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "strict" => Ok(SameSite::Strict),
            "lax" => Ok(SameSite::Lax),
            "none" => Ok(SameSite::None),
            _ => Err(CookieError::InvalidSameSite(s.to_string())),
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        })
    }
}

/// Attributes written on every cookie of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieAttributes {
    /// `Path`, e.g. `/users/<sub>/` so the browser sends the set only under that prefix.
    pub path: String,
    /// `Domain`; `None` makes a host-only cookie.
    pub domain: Option<String>,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `SameSite`.
    pub same_site: SameSite,
    /// `Max-Age` in seconds; `None` makes a session cookie (AWS's recommendation).
    pub max_age: Option<i64>,
}

impl Default for CookieAttributes {
    fn default() -> Self {
        CookieAttributes {
            path: "/".into(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
        }
    }
}

fn attribute_is_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != ';' && c != ',')
}

/// A `Domain` is a host name (RFC 6265 §4.1.2.3), optionally with the legacy leading dot:
/// labels of letters, digits and `-`.
fn is_host_name(domain: &str) -> bool {
    let bare = domain.strip_prefix('.').unwrap_or(domain);
    !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl CookieAttributes {
    /// Checks the attributes can be written into a header without changing its meaning: call it
    /// once where the attributes come from configuration.
    pub fn validate(&self) -> Result<(), CookieError> {
        if !attribute_is_safe(&self.path) {
            return Err(CookieError::InvalidAttribute("Path"));
        }
        if self.domain.as_deref().is_some_and(|d| !is_host_name(d)) {
            return Err(CookieError::InvalidAttribute("Domain"));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(CookieError::NoneWithoutSecure);
        }
        Ok(())
    }

    /// The same attributes at another `Path`, with another `Max-Age`.
    pub fn at(&self, path: &str, max_age: Option<i64>) -> Self {
        Self {
            path: path.to_owned(),
            max_age,
            ..self.clone()
        }
    }

    /// One `Set-Cookie` header value: `name=value` and these attributes. A `Max-Age` of 0 adds
    /// an `Expires` in 1970 too, so that old clients also drop the cookie. This is the one place
    /// a `Set-Cookie` is written; call [`CookieAttributes::validate`] once beforehand. `value`
    /// must need no quoting (CloudFront base64, key pair ids and the like).
    pub fn set_cookie(&self, name: &str, value: &str) -> String {
        let mut out = format!("{name}={value}");
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        use std::fmt::Write as _;
        let max_age = self.max_age;
        // Writing to a String cannot fail.
        let _ = write!(out, "; Path={}", self.path);
        if let Some(d) = &self.domain {
            let _ = write!(out, "; Domain={d}");
        }
        if let Some(age) = max_age {
            let _ = write!(out, "; Max-Age={age}");
        }
        if max_age == Some(0) {
            out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        let _ = write!(out, "; SameSite={}", self.same_site);
    }
}

/// One signed cookie set: the name/value pairs CloudFront reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCookies {
    pub(crate) pairs: Vec<(&'static str, String)>,
}

impl SignedCookies {
    /// Cookie name → value, in the order they are emitted.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        self.pairs.clone()
    }

    /// The value of one cookie, if the set has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// One `Set-Cookie` header value per cookie. Values are CloudFront base64, key pair ids and
    /// `SHA256`, which need no quoting. Call [`CookieAttributes::validate`] on `attrs` first.
    pub fn set_cookie_headers(&self, attrs: &CookieAttributes) -> Vec<String> {
        self.pairs
            .iter()
            .map(|(name, value)| attrs.set_cookie(name, value))
            .collect()
    }
}

/// `Set-Cookie` headers that delete every CloudFront cookie at `attrs`' Path and Domain (a cookie is
/// only replaced by one with the same name, Path and Domain).
pub fn clearing_set_cookie_headers(attrs: &CookieAttributes) -> Vec<String> {
    let clearing = attrs.at(&attrs.path, Some(0));
    COOKIE_NAMES
        .iter()
        .map(|name| clearing.set_cookie(name, ""))
        .collect()
}

/// Splits a `Cookie` request header (`a=b; c=d`) into pairs, in order, keeping duplicates (a
/// browser sends one per matching Path, most specific first). Pieces without `=` are skipped.
pub fn parse_cookie_header(header: &str) -> Vec<(&str, &str)> {
    header
        .split(';')
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> SignedCookies {
        SignedCookies {
            pairs: vec![
                ("CloudFront-Policy", "abc_".into()),
                ("CloudFront-Key-Pair-Id", "K1".into()),
            ],
        }
    }

    #[test]
    fn set_cookie_headers_carry_every_attribute() {
        let attrs = CookieAttributes {
            path: "/users/u1/".into(),
            domain: Some("example.com".into()),
            max_age: Some(3600),
            ..CookieAttributes::default()
        };
        assert_eq!(
            set().set_cookie_headers(&attrs),
            vec![
                "CloudFront-Policy=abc_; Path=/users/u1/; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
                "CloudFront-Key-Pair-Id=K1; Path=/users/u1/; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
            ]
        );
    }

    #[test]
    fn session_cookies_have_no_max_age() {
        let h = set().set_cookie_headers(&CookieAttributes::default());
        assert!(!h[0].contains("Max-Age"));
    }

    #[test]
    fn clearing_headers_expire_all_five_names_at_the_same_path() {
        let attrs = CookieAttributes {
            path: "/users/u1/".into(),
            ..CookieAttributes::default()
        };
        let h = clearing_set_cookie_headers(&attrs);
        assert_eq!(h.len(), 5);
        for (line, name) in h.iter().zip(COOKIE_NAMES) {
            assert!(line.starts_with(&format!(
                "{name}=; Path=/users/u1/; Max-Age=0; Expires=Thu, 01 Jan 1970"
            )));
        }
    }

    #[test]
    fn attributes_that_would_inject_are_refused() {
        let bad_path = CookieAttributes {
            path: "/x; Domain=evil".into(),
            ..CookieAttributes::default()
        };
        assert_eq!(
            bad_path.validate(),
            Err(CookieError::InvalidAttribute("Path"))
        );
        let bad_domain = CookieAttributes {
            domain: Some("a\r\nb".into()),
            ..CookieAttributes::default()
        };
        assert_eq!(
            bad_domain.validate(),
            Err(CookieError::InvalidAttribute("Domain"))
        );
        let none_insecure = CookieAttributes {
            secure: false,
            same_site: SameSite::None,
            ..CookieAttributes::default()
        };
        assert_eq!(
            none_insecure.validate(),
            Err(CookieError::NoneWithoutSecure)
        );
        assert!(CookieAttributes::default().validate().is_ok());
    }

    #[test]
    fn a_domain_must_be_a_host_name() {
        for good in [
            "example.com",
            ".example.com",
            "cdn-1.example.co.uk",
            "localhost",
        ] {
            let attrs = CookieAttributes {
                domain: Some(good.into()),
                ..CookieAttributes::default()
            };
            assert!(attrs.validate().is_ok(), "{good}");
        }
        for bad in [
            "a;b",
            "exa mple.com",
            "a..b",
            ".",
            "*.example.com",
            "example.com:443",
        ] {
            let attrs = CookieAttributes {
                domain: Some(bad.into()),
                ..CookieAttributes::default()
            };
            assert_eq!(
                attrs.validate(),
                Err(CookieError::InvalidAttribute("Domain")),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_cookie_is_written_with_the_same_attributes() {
        let attrs = CookieAttributes {
            domain: Some("example.com".into()),
            ..CookieAttributes::default()
        };
        assert_eq!(
            attrs
                .at("/session", Some(60))
                .set_cookie("Keyhole-Session", "v"),
            "Keyhole-Session=v; Path=/session; Domain=example.com; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            attrs
                .at("/session", Some(0))
                .set_cookie("Keyhole-Session", ""),
            "Keyhole-Session=; Path=/session; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn samesite_parses_case_insensitively_and_rejects_others() {
        assert_eq!("STRICT".parse::<SameSite>().unwrap(), SameSite::Strict);
        assert_eq!("none".parse::<SameSite>().unwrap(), SameSite::None);
        assert!("sometimes".parse::<SameSite>().is_err());
    }

    #[test]
    fn cookie_header_parsing_keeps_order_and_duplicates() {
        let pairs =
            parse_cookie_header("a=1; CloudFront-Policy=x_; junk; CloudFront-Policy=\"y\"; =z");
        assert_eq!(
            pairs,
            vec![
                ("a", "1"),
                ("CloudFront-Policy", "x_"),
                ("CloudFront-Policy", "y")
            ]
        );
    }
}
