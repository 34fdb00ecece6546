//! Reading configuration through a lookup function, the one helper every entry point shares.
//!
//! The Lambdas read the process environment and `keyhole serve` lays local defaults over it;
//! both hand a `Fn(&str) -> Option<String>` to a `from_vars` constructor, which reads it through
//! [`Vars`]. A blank value counts as unset: deployment templates commonly pass `""` for an
//! optional parameter.

/// A variable lookup.
pub struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

/// Two variables that only make sense together, and one of them is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingPartner {
    /// The variable that is not set.
    pub missing: &'static str,
    /// The variable that is set and needs it.
    pub because: &'static str,
}

impl<'a> Vars<'a> {
    /// Reads through `get`.
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(get)
    }

    /// The trimmed value of `name`, `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` has a non-blank value.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Two variables that go together: both values, `None` when neither is set, or which one is
    /// missing.
    pub fn pair(
        &self,
        first: &'static str,
        second: &'static str,
    ) -> Result<Option<(String, String)>, MissingPartner> {
        match (self.get(first), self.get(second)) {
            (Some(a), Some(b)) => Ok(Some((a, b))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(MissingPartner {
                missing: second,
                because: first,
            }),
            (None, Some(_)) => Err(MissingPartner {
                missing: first,
                because: second,
            }),
        }
    }

    /// `name` parsed with `parse`, `default` when unset; `parse`'s error goes to the caller.
    pub fn parse_or<T, E>(
        &self,
        name: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, E> {
        self.get(name).map_or(Ok(default), |v| parse(&v))
    }
}

/// A comma-separated list: items trimmed, empty items dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "A" => Some(" a ".into()),
            "B" => Some("b".into()),
            "BLANK" => Some("  ".into()),
            _ => None,
        }
    }

    #[test]
    fn blank_values_count_as_unset_and_values_are_trimmed() {
        let vars = Vars::new(&lookup);
        assert_eq!(vars.get("A").as_deref(), Some("a"));
        assert_eq!(vars.get("BLANK"), None);
        assert!(!vars.is_set("NOPE"));
    }

    #[test]
    fn a_pair_is_both_neither_or_names_the_missing_one() {
        let vars = Vars::new(&lookup);
        assert_eq!(vars.pair("A", "B"), Ok(Some(("a".into(), "b".into()))));
        assert_eq!(vars.pair("X", "BLANK"), Ok(None));
        assert_eq!(
            vars.pair("A", "X"),
            Err(MissingPartner {
                missing: "X",
                because: "A"
            })
        );
        assert_eq!(
            vars.pair("X", "B"),
            Err(MissingPartner {
                missing: "X",
                because: "B"
            })
        );
    }

    #[test]
    fn lists_drop_empty_items() {
        assert_eq!(split_list(" a, ,b ,"), ["a", "b"]);
    }
}
