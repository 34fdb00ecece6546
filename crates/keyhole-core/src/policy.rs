//! CloudFront policies: one statement, a Resource, a time window and an optional IPv4 range,
//! serialised from serde structs in AWS's documented field order, with no whitespace.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// An IPv4 address or CIDR block, as CloudFront's `AWS:SourceIp` accepts (IPv6 is not supported
/// there). Displayed as `a.b.c.d/n`, with `/32` added to a bare address like the AWS signers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange {
    addr: Ipv4Addr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` falls inside the range; IPv6 clients never do.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(v4) & mask == u32::from(self.addr) & mask
            }
            IpAddr::V6(_) => false,
        }
    }
}

impl FromStr for IpRange {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        if addr.contains(':') {
            return Err(PolicyError::Ipv6(s.to_string()));
        }
        let invalid = || PolicyError::InvalidIp(s.to_string());
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix = match prefix {
            None => 32,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= 32)
                .ok_or_else(invalid)?,
            Some(_) => return Err(invalid()),
        };
        Ok(IpRange { addr, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A CloudFront policy with exactly one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    resource: String,
    date_less_than: i64,
    date_greater_than: Option<i64>,
    ip: Option<IpRange>,
}

// The wire form. Field order is AWS's documented order (Resource, Condition; DateLessThan,
// DateGreaterThan, IpAddress), which is also what the AWS JavaScript signer emits.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "Resource", default)]
    resource: Option<String>,
    #[serde(rename = "Condition")]
    condition: Condition,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    #[serde(rename = "DateLessThan")]
    date_less_than: EpochTime,
    #[serde(
        rename = "DateGreaterThan",
        skip_serializing_if = "Option::is_none",
        default
    )]
    date_greater_than: Option<EpochTime>,
    #[serde(rename = "IpAddress", skip_serializing_if = "Option::is_none", default)]
    ip_address: Option<SourceIp>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochTime {
    #[serde(rename = "AWS:EpochTime")]
    epoch_time: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceIp {
    #[serde(rename = "AWS:SourceIp")]
    source_ip: String,
}

impl Policy {
    /// A policy for `resource` (a URL, `*` and `?` wildcards allowed) valid until `date_less_than`
    /// (epoch seconds, exclusive). An empty resource is refused: it would grant everything the key
    /// signs for.
    pub fn new(resource: impl Into<String>, date_less_than: i64) -> Result<Self, PolicyError> {
        let resource = resource.into();
        if resource.is_empty() {
            return Err(PolicyError::EmptyResource);
        }
        Ok(Policy {
            resource,
            date_less_than,
            date_greater_than: None,
            ip: None,
        })
    }

    /// Adds DateGreaterThan: not valid before this time (epoch seconds).
    pub fn starting_at(mut self, date_greater_than: i64) -> Self {
        self.date_greater_than = Some(date_greater_than);
        self
    }

    /// Adds IpAddress: only clients in this range.
    pub fn from_ip(mut self, range: IpRange) -> Self {
        self.ip = Some(range);
        self
    }

    /// The Resource pattern.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// DateLessThan, epoch seconds.
    pub fn expires_at(&self) -> i64 {
        self.date_less_than
    }

    /// DateGreaterThan, if any.
    pub fn starts_at(&self) -> Option<i64> {
        self.date_greater_than
    }

    /// IpAddress, if any.
    pub fn ip_range(&self) -> Option<IpRange> {
        self.ip
    }

    /// Whether a start time or IP range makes this a policy only the custom form can carry.
    pub fn needs_custom_form(&self) -> bool {
        self.date_greater_than.is_some() || self.ip.is_some()
    }

    /// Checks what signing needs: a Resource CloudFront can match (see [`check_resource`]) and a
    /// window that is not empty (start before expiry).
    pub fn validate(&self) -> Result<(), PolicyError> {
        check_resource(&self.resource)?;
        match self.date_greater_than {
            Some(starts) if starts >= self.date_less_than => Err(PolicyError::EmptyWindow {
                starts,
                expires: self.date_less_than,
            }),
            _ => Ok(()),
        }
    }

    /// The policy JSON exactly as signed: AWS field order, no whitespace, strings JSON-escaped.
    pub fn to_json(&self) -> String {
        let doc = Document {
            statement: vec![Statement {
                resource: Some(self.resource.clone()),
                condition: Condition {
                    date_less_than: EpochTime {
                        epoch_time: self.date_less_than,
                    },
                    date_greater_than: self
                        .date_greater_than
                        .map(|epoch_time| EpochTime { epoch_time }),
                    ip_address: self.ip.map(|r| SourceIp {
                        source_ip: r.to_string(),
                    }),
                },
            }],
        };
        // Serialising plain strings and integers cannot fail; fall back to an empty object rather
        // than panic, which no signature can match.
        serde_json::to_string(&doc).unwrap_or_else(|_| String::from("{}"))
    }

    /// Parses a policy document as CloudFront would: exactly one statement, a Resource, a
    /// DateLessThan, no unknown fields.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let doc: Document =
            serde_json::from_str(json).map_err(|e| PolicyError::Malformed(e.to_string()))?;
        let [statement]: [Statement; 1] = doc.statement.try_into().map_err(|v: Vec<_>| {
            PolicyError::Malformed(format!("expected exactly one Statement, found {}", v.len()))
        })?;
        let resource = statement.resource.unwrap_or_default();
        let ip = match statement.condition.ip_address {
            Some(s) => Some(s.source_ip.parse::<IpRange>()?),
            None => None,
        };
        let mut policy = Policy::new(resource, statement.condition.date_less_than.epoch_time)?;
        policy.date_greater_than = statement.condition.date_greater_than.map(|t| t.epoch_time);
        policy.ip = ip;
        Ok(policy)
    }

    /// The canned-policy JSON CloudFront rebuilds from `CloudFront-Expires` (or `Expires`).
    pub fn canned_json(resource: &str, expires: i64) -> Result<String, PolicyError> {
        Ok(Policy::new(resource, expires)?.to_json())
    }

    /// Whether `url` is covered by this policy's Resource.
    pub fn covers(&self, url: &str) -> bool {
        resource_matches(&self.resource, url)
    }
}

/// Matches a policy Resource against a request URL as CloudFront documents it ("Values that you
/// specify in the policy statement for a signed URL that uses a custom policy", Amazon CloudFront
/// Developer Guide): `*` matches zero or more characters and `?` exactly one, and the Resource is
/// divided into four sections, `protocol://domain/path?query`, a wildcard matching only within the
/// section it is written in. So `https://*.example.com/*` does not cover
/// `https://evil.test/x.example.com/`, and `https://d/a*b` does not cover `https://d/a?x=b`.
/// The documented exceptions:
/// - a trailing `*` in the path implies `*` in the query string (`https://d/file.zip*` covers
///   `https://d/file.zip?license=yes`);
/// - a trailing `*` in the domain (nothing after it) implies `*` in the path and the query string
///   (`https://*` covers every https URL);
/// - a Resource may omit the protocol when it starts with `*` in the domain: `*example.com` is
///   `*://*example.com/`;
/// - `*` alone matches any URL.
///
/// The first `?` after the domain begins the query section (AWS: do not escape it), so a `?`
/// wildcard works in the protocol, domain and query sections. A Resource with no path is taken as
/// the path `/`, as in the `*example.com` equivalence.
///
/// Keyhole extension: a pattern starting with `/` is a path pattern (a scope such as
/// `/users/abc/*`), matched by the same path and query rules against a path; it never matches a
/// full URL, just as CloudFront would never match such a Resource.
pub fn resource_matches(pattern: &str, url: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (Some(p), Some(u)) = (Sections::of_pattern(pattern), Sections::of_url(url)) else {
        return false;
    };
    if p.protocol.is_some() != u.protocol.is_some() {
        return false;
    }
    let query_pattern = match p.query {
        Some(query) => query,
        None if p.path.ends_with('*') => "*",
        // No query section and no trailing `*`: the URL must have no query string either.
        None => return u.query.is_none() && p.matches_head(&u),
    };
    p.matches_head(&u) && glob(query_pattern, u.query.unwrap_or(""))
}

/// Refuses a Resource that no request could match, so that nothing signs it: `*` alone, a URL
/// whose protocol can be `http` or `https` (`https://`, `http*://`, `*://`) with a domain, or a
/// domain starting with `*` and no protocol (`*example.com`), and no whitespace (browsers send
/// spaces as `%20`).
pub fn check_resource(resource: &str) -> Result<(), PolicyError> {
    if resource.is_empty() {
        return Err(PolicyError::EmptyResource);
    }
    if resource == "*" {
        return Ok(());
    }
    let usable = !resource.chars().any(|c| c.is_ascii_whitespace())
        && Sections::of_pattern(resource).is_some_and(|p| {
            p.protocol
                .is_some_and(|proto| glob(proto, "http") || glob(proto, "https"))
                && !p.domain.is_empty()
        });
    if usable {
        Ok(())
    } else {
        Err(PolicyError::NotAUrl(resource.to_string()))
    }
}

/// A Resource or a request URL cut into CloudFront's sections. `protocol` and `domain` are `None`
/// for a bare path.
struct Sections<'a> {
    protocol: Option<&'a str>,
    domain: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Sections<'a> {
    fn of_pattern(pattern: &'a str) -> Option<Self> {
        if pattern.starts_with('/') {
            return Some(Self::path_and_query(None, "", pattern));
        }
        let (protocol, after) = match pattern.split_once("://") {
            Some((protocol, after)) if !protocol.contains('/') => (protocol, after),
            // AWS: a Resource may omit the protocol only by starting with `*` in the domain.
            _ if pattern.starts_with('*') => ("*", pattern),
            _ => return None,
        };
        Some(match after.find('/') {
            Some(slash) => Self::path_and_query(Some(protocol), &after[..slash], &after[slash..]),
            // A trailing `*` in the domain implies `*` in the path and the query string.
            None if after.ends_with('*') => Sections {
                protocol: Some(protocol),
                domain: after,
                path: "/*",
                query: Some("*"),
            },
            None => Sections {
                protocol: Some(protocol),
                domain: after,
                path: "/",
                query: None,
            },
        })
    }

    fn of_url(url: &'a str) -> Option<Self> {
        if url.starts_with('/') {
            return Some(Self::path_and_query(None, "", url));
        }
        let (protocol, after) = url.split_once("://")?;
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let (domain, rest) = after.split_at(end);
        let mut sections = Self::path_and_query(Some(protocol), domain, rest);
        if sections.path.is_empty() {
            // `https://d?x=1` and `https://d` request the path `/`.
            sections.path = "/";
        }
        Some(sections)
    }

    /// `rest` starts at the path; the first `?` in it begins the query section.
    fn path_and_query(protocol: Option<&'a str>, domain: &'a str, rest: &'a str) -> Self {
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Sections {
            protocol,
            domain,
            path,
            query,
        }
    }

    /// Protocol, domain and path (not the query), each within its own section.
    fn matches_head(&self, url: &Sections<'_>) -> bool {
        glob(self.protocol.unwrap_or(""), url.protocol.unwrap_or(""))
            && glob(self.domain, url.domain)
            && glob(self.path, url.path)
    }
}

/// Glob with `*` (any run) and `?` (one character), iterative with single backtrack point: linear
/// in practice, never exponential.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn custom_policy_json_has_aws_field_order_and_no_whitespace() {
        let p = Policy::new(
            "https://d111111abcdef8.cloudfront.net/users/abc/*",
            1_767_290_400,
        )
        .unwrap()
        .starting_at(1_767_200_000)
        .from_ip("192.0.2.0/24".parse().unwrap());
        assert_eq!(
            p.to_json(),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/users/abc/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400},"DateGreaterThan":{"AWS:EpochTime":1767200000},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}"#
        );
    }

    #[test]
    fn canned_policy_json_is_the_documented_form() {
        assert_eq!(
            Policy::canned_json("https://d.example/a.png", 10).unwrap(),
            r#"{"Statement":[{"Resource":"https://d.example/a.png","Condition":{"DateLessThan":{"AWS:EpochTime":10}}}]}"#
        );
    }

    #[test]
    fn empty_resource_is_refused() {
        assert_eq!(Policy::new("", 10).err(), Some(PolicyError::EmptyResource));
    }

    #[test]
    fn quotes_and_backslashes_in_resource_are_escaped() {
        let json = Policy::new("https://d/\"x\\y", 1).unwrap().to_json();
        assert!(json.contains(r#""Resource":"https://d/\"x\\y""#));
    }

    #[test]
    fn bare_address_gets_slash_32() {
        assert_eq!(
            "198.51.100.7".parse::<IpRange>().unwrap().to_string(),
            "198.51.100.7/32"
        );
    }

    #[test]
    fn ipv6_ranges_are_refused_with_their_own_error() {
        assert!(matches!(
            "2001:db8::/32".parse::<IpRange>(),
            Err(PolicyError::Ipv6(_))
        ));
    }

    #[test]
    fn bad_cidrs_are_refused() {
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4/+8",
            "256.1.1.1",
            "a.b.c.d/8",
        ] {
            assert!(
                matches!(bad.parse::<IpRange>(), Err(PolicyError::InvalidIp(_))),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn cidr_contains_only_its_block() {
        let r: IpRange = "192.0.2.0/24".parse().unwrap();
        assert!(r.contains("192.0.2.200".parse().unwrap()));
        assert!(!r.contains("192.0.3.1".parse().unwrap()));
        assert!(!r.contains("::1".parse().unwrap()));
        let all: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn policy_json_parses_back_to_the_same_policy() {
        let p = Policy::new("https://d/*", 99)
            .unwrap()
            .starting_at(5)
            .from_ip("10.0.0.0/8".parse().unwrap());
        assert_eq!(Policy::from_json(&p.to_json()).unwrap(), p);
    }

    #[test]
    fn two_statements_are_malformed() {
        let json = r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":1}}},{"Resource":"b","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#;
        assert!(matches!(
            Policy::from_json(json),
            Err(PolicyError::Malformed(_))
        ));
    }

    #[test]
    fn a_parsed_policy_without_resource_is_refused() {
        let json = r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#;
        assert_eq!(
            Policy::from_json(json).err(),
            Some(PolicyError::EmptyResource)
        );
    }

    #[test]
    fn unknown_conditions_are_malformed() {
        let json = r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":1},"StringLike":{}}}]}"#;
        assert!(matches!(
            Policy::from_json(json),
            Err(PolicyError::Malformed(_))
        ));
    }

    #[test]
    fn wildcards_match_within_their_section() {
        assert!(resource_matches(
            "https://d/users/abc/*",
            "https://d/users/abc/cat.png"
        ));
        assert!(resource_matches(
            "https://d/users/abc/*",
            "https://d/users/abc/x/y.png?v=2"
        ));
        assert!(!resource_matches(
            "https://d/users/abc/*",
            "https://d/users/abcd/cat.png"
        ));
        assert!(resource_matches("http*://d/a.png", "https://d/a.png"));
        assert!(resource_matches(
            "https://d?.example/a",
            "https://d1.example/a"
        ));
        assert!(!resource_matches(
            "https://d?.example/a",
            "https://d.example/a"
        ));
        assert!(resource_matches(
            "https://d/a.png?v=?",
            "https://d/a.png?v=2"
        ));
        assert!(resource_matches(
            "https://*.example.com/*",
            "https://cdn.example.com/x"
        ));
        assert!(!resource_matches(
            "https://*.example.com/*",
            "https://evil.test/x.example.com/x"
        ));
        assert!(!resource_matches("https://d/a.png", "https://d/a.png?x=1"));
        assert!(resource_matches("*", "https://anything/at/all"));
    }

    #[test]
    fn a_question_mark_after_the_domain_begins_the_query_section() {
        assert!(resource_matches("https://d/a?x=1", "https://d/a?x=1"));
        assert!(!resource_matches("https://d/a?x=1", "https://d/ax=1"));
        assert!(!resource_matches("https://d/a?.png", "https://d/ab.png"));
    }

    #[test]
    fn a_wildcard_in_the_path_does_not_reach_into_the_query_unless_it_is_trailing() {
        assert!(!resource_matches("https://d/a*b", "https://d/a?x=b"));
        assert!(resource_matches("https://d/a*", "https://d/a?x=b"));
        assert!(!resource_matches("https://d/a*?v=1", "https://d/ab?v=2"));
    }

    #[test]
    fn a_resource_without_a_protocol_must_start_with_a_wildcard() {
        assert!(!resource_matches(
            "d.example/a.png",
            "https://d.example/a.png"
        ));
        assert!(resource_matches(
            "*.example/a.png",
            "https://d.example/a.png"
        ));
    }

    #[test]
    fn a_path_pattern_matches_paths_only() {
        assert!(resource_matches("/users/abc/*", "/users/abc/cat.png"));
        assert!(resource_matches("/users/abc/*", "/users/abc/cat.png?v=1"));
        assert!(resource_matches("/public/logo.png", "/public/logo.png"));
        assert!(!resource_matches("/users/abc/*", "/users/abd/cat.png"));
        assert!(!resource_matches(
            "/users/abc/*",
            "https://d/users/abc/cat.png"
        ));
        assert!(!resource_matches(
            "https://d/users/abc/*",
            "/users/abc/cat.png"
        ));
    }

    #[test]
    fn resources_no_request_could_match_are_refused_for_signing() {
        for bad in [
            "not a url",
            "d.example/users/*",
            "/users/abc/*",
            "ftp://d.example/a.png",
            "https:///a.png",
            "https://d.example/a b.png",
        ] {
            assert_eq!(
                Policy::new(bad, 10).unwrap().validate(),
                Err(PolicyError::NotAUrl(bad.into())),
                "{bad}"
            );
        }
        for good in [
            "*",
            "*example.com",
            "https://*",
            "http*://d.example/*",
            "*://d.example/a.png?v=1",
            "https://d.example",
            "http://127.0.0.1:8080/users/u1/*",
        ] {
            assert_eq!(Policy::new(good, 10).unwrap().validate(), Ok(()), "{good}");
        }
    }

    #[test]
    fn matching_text_that_is_not_a_url_never_panics_or_matches() {
        for url in ["", "not a url", "https:/", "://", "?"] {
            assert!(!resource_matches("https://d/*", url), "{url:?}");
        }
        for pattern in ["", "://", "https://", "?"] {
            assert!(!resource_matches(pattern, "https://d/a"), "{pattern:?}");
        }
    }

    proptest! {
        #[test]
        fn any_resource_survives_json_escaping(resource in "\\PC{1,64}", exp in 0i64..4_000_000_000) {
            let p = Policy::new(resource.clone(), exp).unwrap();
            let json = p.to_json();
            prop_assert!(!json.contains('\n'));
            let back = Policy::from_json(&json).unwrap();
            prop_assert_eq!(back.resource(), resource.as_str());
        }

        #[test]
        fn any_control_characters_survive_json_escaping(resource in "[\\x00-\\x1f\"\\\\a]{1,16}") {
            let back = Policy::from_json(&Policy::new(resource.clone(), 1).unwrap().to_json()).unwrap();
            prop_assert_eq!(back.resource(), resource.as_str());
        }

        #[test]
        fn a_prefix_policy_never_covers_a_url_outside_its_prefix(
            sub in "[a-z0-9-]{1,12}",
            path in "[a-zA-Z0-9/._?=&*-]{0,24}",
            other in "[a-z0-9-]{1,12}",
        ) {
            let pattern = format!("https://d.example/users/{sub}/*");
            let inside = format!("https://d.example/users/{sub}/{path}");
            let outside = format!("https://d.example/users/{other}/{path}");
            prop_assert!(resource_matches(&pattern, &inside));
            if other != sub {
                prop_assert!(!resource_matches(&pattern, &outside));
            }
            let other_host = format!("https://e.example/users/{sub}/{path}");
            prop_assert!(!resource_matches(&pattern, &other_host));
        }
    }
}
