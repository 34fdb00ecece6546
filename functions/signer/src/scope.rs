//! Scope templates: which paths a user's cookies are good for.
//!
//! Pure code, no I/O. A template such as `/users/{sub}/*` becomes one or more concrete scopes by
//! substituting claim values. A claim must never widen a scope, so a value is substituted only when
//! it is made of a conservative character set (ASCII letters, digits, `-`, `_`, `.`; never `..` and
//! never a lone `.`); anything else drops that scope. The expanded path is checked again before use.

use crate::Error;

/// Longest claim value that is substituted into a path.
pub const MAX_VALUE_LEN: usize = 128;

/// Most scopes (and so cookie sets) one session gets; browsers cap cookies per host.
pub const MAX_SCOPES: usize = 16;

/// A placeholder a template may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Sub,
    Username,
    Group,
    SubHash,
}

impl Placeholder {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "sub" => Some(Self::Sub),
            "username" => Some(Self::Username),
            "group" => Some(Self::Group),
            "sub_hash" => Some(Self::SubHash),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sub => "sub",
            Self::Username => "username",
            Self::Group => "group",
            Self::SubHash => "sub_hash",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Value(Placeholder),
}

/// One parsed `SESSION_SCOPES` entry: a path prefix ending in `/*`, or one exact object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeTemplate {
    raw: String,
    parts: Vec<Part>,
}

/// The claims a template may use.
#[derive(Debug, Clone, Copy)]
pub struct ScopeClaims<'a> {
    /// The token's `sub`.
    pub sub: &'a str,
    /// The token's user name, when it has one.
    pub username: Option<&'a str>,
    /// The groups the user is in.
    pub groups: &'a [String],
    /// The token's issuer (part of `{sub_hash}`, so equal subs from two issuers differ).
    pub issuer: &'a str,
}

/// A concrete scope: a path pattern as CloudFront reads it in a policy Resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    pattern: String,
}

/// A template that produced no scope for this user, and why (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedScope {
    /// The template, or the expanded scope when it was dropped for overlapping another.
    pub template: String,
    /// Why it was dropped. Never contains the offending claim value.
    pub reason: String,
}

/// The outcome of expanding every template for one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Scopes to issue cookies for, no two of which a browser would send to the same URL.
    pub scopes: Vec<Scope>,
    /// What was dropped and why.
    pub dropped: Vec<DroppedScope>,
}

fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Whether a claim value may be substituted into a path.
pub fn is_safe_value(value: &str) -> bool {
    value_problem(value).is_none()
}

/// Why a claim value may not be substituted into a path, or `None` when it may.
fn value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        Some("is empty".to_owned())
    } else if value.len() > MAX_VALUE_LEN {
        Some(format!("is longer than {MAX_VALUE_LEN} characters"))
    } else if !value.chars().all(is_safe_char) {
        Some("holds characters outside [A-Za-z0-9._-]".to_owned())
    } else if value == "." || value.contains("..") {
        Some("is . or contains ..".to_owned())
    } else {
        None
    }
}

/// Whether a concrete path (a scope, or a cookie path read back from a client) has only the shape
/// this module produces: starts with `/`, safe characters, no empty, `.` or `..` segment, and at
/// most one `*`, only as the whole last segment.
pub fn is_well_formed_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        // "/" itself: the cookie path of the scope "/*".
        return true;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, seg)| {
        if *seg == "*" {
            return i == last;
        }
        if i == last && seg.is_empty() {
            // A trailing slash: a prefix cookie path such as "/users/abc/".
            return segments.len() > 1 || rest.is_empty();
        }
        !seg.is_empty() && *seg != "." && *seg != ".." && seg.chars().all(is_safe_char)
    })
}

/// Literal text and placeholders of a template's body (without its final `/*`).
fn parse_parts(body: &str) -> Result<Vec<Part>, &'static str> {
    let mut parts = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let close = after.find('}').ok_or("unclosed {")?;
            let placeholder = Placeholder::parse(&after[..close])
                .ok_or("unknown placeholder; use {sub}, {username}, {group} or {sub_hash}")?;
            parts.push(Part::Value(placeholder));
            rest = &after[close + 1..];
        } else {
            let end = rest.find('{').unwrap_or(rest.len());
            let literal = &rest[..end];
            if let Some(bad) = literal.chars().find(|c| !is_safe_char(*c) && *c != '/') {
                return Err(if bad == '*' || bad == '?' {
                    "wildcards are allowed only as a final /*"
                } else {
                    "only letters, digits, - _ . and / may appear outside placeholders"
                });
            }
            parts.push(Part::Literal(literal.to_owned()));
            rest = &rest[end..];
        }
    }
    Ok(parts)
}

impl ScopeTemplate {
    /// Parses one template. Literal text may hold only safe characters and `/`; placeholders are
    /// `{sub}`, `{username}`, `{group}` and `{sub_hash}`; the template ends in `/*` (a prefix) or
    /// is one exact object path.
    pub fn parse(template: &str) -> Result<Self, Error> {
        let err = |reason: &str| Error::InvalidTemplate {
            template: template.to_owned(),
            reason: reason.to_owned(),
        };
        if !template.starts_with('/') {
            return Err(err("must start with /"));
        }
        let (body, prefix) = match template.strip_suffix("/*") {
            Some(body) => (body, true),
            None => (template, false),
        };
        if !prefix && template.ends_with('/') {
            return Err(err("must end in /* (a prefix) or name one object"));
        }
        let mut parts = parse_parts(body).map_err(err)?;
        if prefix {
            parts.push(Part::Literal("/*".to_owned()));
        }
        let this = Self {
            raw: template.to_owned(),
            parts,
        };
        // Check the shape with a harmless stand-in for every placeholder: this refuses "//",
        // "/./" and "/../" in the literal text.
        if !is_well_formed_path(&this.fill(|_| "x")) {
            return Err(err("empty, . or .. path segments are not allowed"));
        }
        if this
            .parts
            .windows(2)
            .any(|w| matches!(w, [Part::Value(_), Part::Value(_)]))
        {
            return Err(err("two placeholders must be separated by literal text"));
        }
        // A value may hold letters, digits, `-`, `_` and `.`: with only those between two
        // placeholders, `a.b` + `c` and `a` + `b.c` would expand to the same path. Only `/`
        // cannot occur inside a value.
        if this.parts.windows(3).any(|w| {
            matches!(w, [Part::Value(_), Part::Literal(text), Part::Value(_)] if !text.contains('/'))
        }) {
            return Err(err(
                "two placeholders are separated only by characters a value may contain, so two users could get the same path; separate them with /",
            ));
        }
        Ok(this)
    }

    /// Parses a comma-separated list (the `SESSION_SCOPES` format). Blank entries are ignored.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, Error> {
        let templates = list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if templates.is_empty() {
            return Err(Error::InvalidTemplate {
                template: list.to_owned(),
                reason: "no template given".to_owned(),
            });
        }
        Ok(templates)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the template has no placeholder (a literal scope such as `/public/*`).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    fn uses(&self, placeholder: Placeholder) -> bool {
        self.parts.contains(&Part::Value(placeholder))
    }

    fn fill<'v>(&self, value: impl Fn(Placeholder) -> &'v str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Value(p) => out.push_str(value(*p)),
            }
        }
        out
    }

    /// `{sub}` and `{username}`, where used, are present and safe to substitute.
    fn check_user_values(&self, claims: &ScopeClaims<'_>) -> Result<(), String> {
        for placeholder in [Placeholder::Sub, Placeholder::Username] {
            if !self.uses(placeholder) {
                continue;
            }
            let value = match placeholder {
                Placeholder::Sub => Some(claims.sub),
                _ => claims.username,
            };
            match value {
                None => return Err(format!("the token has no {}", placeholder.name())),
                Some(v) => {
                    if let Some(problem) = value_problem(v) {
                        return Err(format!(
                            "{{{}}} {problem}; not substituted",
                            placeholder.name()
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Expands this template for one user: no scope, one, or (with `{group}`) one per group.
    fn expand_into(&self, claims: &ScopeClaims<'_>, out: &mut Expansion) {
        let drop = |out: &mut Expansion, reason: String| {
            out.dropped.push(DroppedScope {
                template: self.raw.clone(),
                reason,
            })
        };
        let sub_hash = if self.uses(Placeholder::SubHash) {
            sub_hash(claims.issuer, claims.sub)
        } else {
            String::new()
        };
        if let Err(reason) = self.check_user_values(claims) {
            return drop(out, reason);
        }
        let groups: Vec<Option<&str>> = if self.uses(Placeholder::Group) {
            if claims.groups.is_empty() {
                return drop(out, "the user is in no group".to_owned());
            }
            claims.groups.iter().map(|g| Some(g.as_str())).collect()
        } else {
            vec![None]
        };
        for group in groups {
            if let Some(problem) = group.and_then(value_problem) {
                drop(out, format!("a {{group}} value {problem}; not substituted"));
                continue;
            }
            let pattern = self.fill(|p| match p {
                Placeholder::Sub => claims.sub,
                Placeholder::Username => claims.username.unwrap_or_default(),
                Placeholder::Group => group.unwrap_or_default(),
                Placeholder::SubHash => &sub_hash,
            });
            // Defence in depth: the checks above should make this impossible.
            if is_well_formed_path(&pattern) {
                out.scopes.push(Scope { pattern });
            } else {
                drop(out, "the expanded path is not well formed".to_owned());
            }
        }
    }
}

/// A short, stable, path-safe name for a user: the first 128 bits of SHA-256 over the issuer and
/// the sub (length-prefixed, so no two (issuer, sub) pairs share an input), in lower-case hex.
pub fn sub_hash(issuer: &str, sub: &str) -> String {
    let mut input = Vec::with_capacity(8 + issuer.len() + sub.len());
    input.extend_from_slice(&(issuer.len() as u64).to_be_bytes());
    input.extend_from_slice(issuer.as_bytes());
    input.extend_from_slice(sub.as_bytes());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Scope {
    /// Builds a scope from a path already known to be well formed (for instance read back from a
    /// session marker); `None` otherwise.
    pub fn from_pattern(pattern: &str) -> Option<Self> {
        (is_well_formed_path(pattern) && !pattern.ends_with('/')).then(|| Self {
            pattern: pattern.to_owned(),
        })
    }

    /// The path pattern, e.g. `/users/abc/*`; the policy Resource is `ASSET_BASE_URL` + this.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The cookie `Path` for this scope: the prefix without its `*` (`/users/abc/`), or the exact
    /// object path. Browsers then send the cookie set only for URLs inside the scope.
    pub fn cookie_path(&self) -> &str {
        self.pattern.strip_suffix('*').unwrap_or(&self.pattern)
    }
}

/// RFC 6265 section 5.1.4 path-match: would a cookie with `cookie_path` be sent for `path`?
pub fn path_matches(cookie_path: &str, path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

/// Expands every template for one user, then removes duplicates and any scope whose cookie path
/// lies under another's: a browser would send both cookie sets (same names) to those URLs, and
/// CloudFront's choice between duplicate cookies is not documented. The broader scope is kept.
pub fn expand(templates: &[ScopeTemplate], claims: &ScopeClaims<'_>) -> Expansion {
    let mut out = Expansion::default();
    for template in templates {
        template.expand_into(claims, &mut out);
    }
    let mut candidates = std::mem::take(&mut out.scopes);
    candidates.sort_by(|a, b| {
        a.cookie_path()
            .len()
            .cmp(&b.cookie_path().len())
            .then_with(|| a.cmp(b))
    });
    candidates.dedup();
    for scope in candidates {
        if let Some(broader) = out
            .scopes
            .iter()
            .find(|kept| path_matches(kept.cookie_path(), scope.cookie_path()))
        {
            out.dropped.push(DroppedScope {
                template: scope.pattern.clone(),
                reason: format!("overlaps {}", broader.pattern),
            });
        } else if out.scopes.len() >= MAX_SCOPES {
            out.dropped.push(DroppedScope {
                template: scope.pattern.clone(),
                reason: format!("more than {MAX_SCOPES} scopes"),
            });
        } else {
            out.scopes.push(scope);
        }
    }
    out
}

/// The scopes of literal templates (no placeholder): they are the same for every user, so they
/// can be cleared without knowing who the user is.
pub fn literal_scopes(templates: &[ScopeTemplate]) -> Vec<Scope> {
    templates
        .iter()
        .filter(|t| t.is_literal())
        .filter_map(|t| Scope::from_pattern(&t.raw))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claims<'a>(
        sub: &'a str,
        username: Option<&'a str>,
        groups: &'a [String],
    ) -> ScopeClaims<'a> {
        ScopeClaims {
            sub,
            username,
            groups,
            issuer: "https://issuer.example",
        }
    }

    fn patterns(e: &Expansion) -> Vec<&str> {
        e.scopes.iter().map(Scope::pattern).collect()
    }

    #[test]
    fn default_template_gives_the_users_prefix() {
        let t = ScopeTemplate::parse_list("/users/{sub}/*").unwrap();
        let e = expand(&t, &claims("abc-123", None, &[]));
        assert_eq!(patterns(&e), ["/users/abc-123/*"]);
        assert_eq!(e.scopes[0].cookie_path(), "/users/abc-123/");
        assert!(e.dropped.is_empty());
    }

    #[test]
    fn group_template_gives_one_scope_per_group() {
        let t = ScopeTemplate::parse_list("/users/{sub}/*, /groups/{group}/*, /public/*").unwrap();
        let groups = vec!["admins".to_owned(), "team-a".to_owned()];
        let e = expand(&t, &claims("u1", None, &groups));
        assert_eq!(
            patterns(&e),
            [
                "/public/*",
                "/users/u1/*",
                "/groups/admins/*",
                "/groups/team-a/*"
            ]
        );
    }

    #[test]
    fn unsafe_group_is_dropped_and_others_kept() {
        let t = ScopeTemplate::parse_list("/groups/{group}/*").unwrap();
        let groups = vec!["ok".to_owned(), "../etc".to_owned(), "a*".to_owned()];
        let e = expand(&t, &claims("u1", None, &groups));
        assert_eq!(patterns(&e), ["/groups/ok/*"]);
        assert_eq!(e.dropped.len(), 2);
        assert!(!e.dropped.iter().any(|d| d.reason.contains("../etc")));
    }

    #[test]
    fn dot_and_empty_values_are_not_substituted() {
        let t = ScopeTemplate::parse_list("/users/{sub}/*").unwrap();
        for sub in [
            "",
            ".",
            "..",
            "a..b",
            "a/b",
            "*",
            "a%2F",
            "caf\u{e9}",
            "x\ny",
        ] {
            let e = expand(&t, &claims(sub, None, &[]));
            assert!(e.scopes.is_empty(), "{sub:?} was substituted");
        }
    }

    #[test]
    fn missing_username_drops_the_scope() {
        let t = ScopeTemplate::parse_list("/by-name/{username}/*").unwrap();
        let e = expand(&t, &claims("u1", None, &[]));
        assert!(e.scopes.is_empty());
        assert_eq!(e.dropped[0].reason, "the token has no username");
    }

    #[test]
    fn sub_hash_is_stable_short_and_issuer_bound() {
        let a = sub_hash("https://a.example", "x|y");
        assert_eq!(a, sub_hash("https://a.example", "x|y"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, sub_hash("https://b.example", "x|y"));
        // Length prefixing: moving bytes between issuer and sub changes the hash.
        assert_ne!(sub_hash("ab", "c"), sub_hash("a", "bc"));
        let t = ScopeTemplate::parse_list("/h/{sub_hash}/*").unwrap();
        let e = expand(&t, &claims("auth0|5f00/../*", None, &[]));
        assert_eq!(e.scopes.len(), 1);
    }

    #[test]
    fn nested_and_duplicate_scopes_keep_only_the_broader() {
        let t = ScopeTemplate::parse_list("/public/team/*, /public/*, /public/*, /public/logo.png")
            .unwrap();
        let e = expand(&t, &claims("u", None, &[]));
        assert_eq!(patterns(&e), ["/public/*"]);
        assert_eq!(e.dropped.len(), 2);
    }

    #[test]
    fn sibling_prefixes_do_not_overlap() {
        let t = ScopeTemplate::parse_list("/users/ab/*, /users/abc/*").unwrap();
        let e = expand(&t, &claims("u", None, &[]));
        assert_eq!(e.scopes.len(), 2);
    }

    #[test]
    fn too_many_groups_are_capped() {
        let t = ScopeTemplate::parse_list("/groups/{group}/*").unwrap();
        let groups: Vec<String> = (0..40).map(|i| format!("g{i}")).collect();
        let e = expand(&t, &claims("u", None, &groups));
        assert_eq!(e.scopes.len(), MAX_SCOPES);
        assert_eq!(e.dropped.len(), 40 - MAX_SCOPES);
    }

    #[test]
    fn bad_templates_are_refused_with_a_reason() {
        for bad in [
            "users/{sub}/*",
            "/users/*/x/*",
            "/users/{sub}*",
            "/users/{sub}/",
            "/users/{nope}/*",
            "/users/{sub/*",
            "/users/../*",
            "/users//*",
            "/a b/*",
            "/users/{sub}{group}/*",
            "/x?y",
            "/%2e%2e/*",
            "",
        ] {
            assert!(
                ScopeTemplate::parse_list(bad).is_err(),
                "{bad:?} was accepted"
            );
        }
        let msg = ScopeTemplate::parse("/users/{nope}/*")
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("SESSION_SCOPES"), "{msg}");
    }

    #[test]
    fn templates_whose_placeholders_could_collide_are_refused() {
        // `a.b` in group `c` and `a` in group `b.c` would both get /u/a.b.c/*.
        for bad in [
            "/u/{username}.{group}/*",
            "/u/{sub}-{username}/*",
            "/u/{sub}_x_{group}",
        ] {
            let msg = ScopeTemplate::parse(bad).unwrap_err().to_string();
            assert!(msg.contains("separate them with /"), "{bad}: {msg}");
        }
        ScopeTemplate::parse("/u/{username}/{group}/*").unwrap();
        ScopeTemplate::parse("/u/{username}.x/{group}/*").unwrap();
    }

    #[test]
    fn a_dropped_value_names_the_real_reason() {
        let t = ScopeTemplate::parse_list("/u/{username}/*").unwrap();
        for (username, reason) in [
            ("a".repeat(129), "longer than 128"),
            ("a b".to_owned(), "characters outside"),
            ("a..b".to_owned(), "contains .."),
        ] {
            let e = expand(
                &t,
                &ScopeClaims {
                    sub: "s",
                    username: Some(&username),
                    groups: &[],
                    issuer: "i",
                },
            );
            assert!(e.scopes.is_empty());
            assert!(
                e.dropped[0].reason.contains(reason),
                "{}",
                e.dropped[0].reason
            );
        }
    }

    #[test]
    fn good_templates_parse() {
        for good in [
            "/*",
            "/public/logo.png",
            "/u-{sub}.d/*",
            "/g/{group}/u/{sub}/*",
            "/h/{sub_hash}",
        ] {
            ScopeTemplate::parse(good).unwrap();
        }
        assert!(ScopeTemplate::parse("/public/*").unwrap().is_literal());
        let lit = literal_scopes(&ScopeTemplate::parse_list("/public/*, /users/{sub}/*").unwrap());
        assert_eq!(lit, [Scope::from_pattern("/public/*").unwrap()]);
    }

    #[test]
    fn path_match_follows_rfc_6265() {
        assert!(path_matches("/users/abc/", "/users/abc/x.png"));
        assert!(!path_matches("/users/abc/", "/users/abcd/x.png"));
        assert!(path_matches("/users/abc", "/users/abc/x.png"));
        assert!(!path_matches("/users/abc", "/users/abcd"));
        assert!(path_matches("/", "/session"));
    }

    fn template_strategy() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "/users/{sub}/*",
            "/by-name/{username}/*",
            "/groups/{group}/*",
            "/g/{group}/u/{sub}/*",
            "/u-{sub}.d/{username}",
            "/h/{sub_hash}/*",
        ])
    }

    proptest! {
        /// Whatever the claims hold, every scope keeps the template's shape: same literal text,
        /// same number of segments, no wildcard other than the final one, no dot segment, no
        /// escape, and a substituted value made only of safe characters.
        #[test]
        fn claims_never_widen_a_scope(
            template in template_strategy(),
            sub in any::<String>(),
            username in proptest::option::of(any::<String>()),
            groups in proptest::collection::vec(any::<String>(), 0..4),
        ) {
            let t = ScopeTemplate::parse(template).unwrap();
            let c = ScopeClaims { sub: &sub, username: username.as_deref(), groups: &groups, issuer: "iss" };
            let e = expand(std::slice::from_ref(&t), &c);
            let want_segments = template.split('/').count();
            let want_prefix = &template[..template.find('{').unwrap()];
            for scope in &e.scopes {
                let p = scope.pattern();
                prop_assert!(is_well_formed_path(p), "{p:?}");
                prop_assert_eq!(p.split('/').count(), want_segments);
                prop_assert!(p.starts_with(want_prefix));
                prop_assert_eq!(p.matches('*').count(), usize::from(template.ends_with("/*")));
                prop_assert!(!p.contains('?') && !p.contains('%'));
                prop_assert!(p.split('/').all(|seg| seg != "." && seg != ".."));
                prop_assert!(p.chars().all(|ch| is_safe_char(ch) || ch == '/' || ch == '*'));
            }
        }

        /// A value with any character outside the safe set yields no scope at all.
        #[test]
        fn unsafe_sub_yields_no_scope(sub in ".*[^A-Za-z0-9._-].*") {
            let t = ScopeTemplate::parse_list("/users/{sub}/*").unwrap();
            let e = expand(&t, &ScopeClaims { sub: &sub, username: None, groups: &[], issuer: "i" });
            prop_assert!(e.scopes.is_empty());
            prop_assert_eq!(e.dropped.len(), 1);
        }

        /// Safe values are substituted verbatim.
        #[test]
        fn safe_sub_is_substituted(sub in "[A-Za-z0-9_-][A-Za-z0-9_-]{0,40}") {
            let t = ScopeTemplate::parse_list("/users/{sub}/*").unwrap();
            let e = expand(&t, &ScopeClaims { sub: &sub, username: None, groups: &[], issuer: "i" });
            prop_assert_eq!(patterns(&e), [format!("/users/{sub}/*")]);
        }

        /// Well-formedness checks never panic on arbitrary input (they read client cookies).
        #[test]
        fn path_check_handles_any_string(s in any::<String>()) {
            let _ = is_well_formed_path(&s);
            let _ = Scope::from_pattern(&s);
        }
    }
}
