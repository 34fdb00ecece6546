//! `WHEN` arguments: epoch seconds, RFC 3339, or an offset from now such as `+1h` or `-1h`.

use anyhow::{Context, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses `WHEN` relative to `now` (epoch seconds): epoch seconds, RFC 3339, or an offset such as
/// `+1h` (from now) or `-1h` (before now).
pub fn parse(text: &str, now: i64) -> anyhow::Result<i64> {
    let text = text.trim();
    let sign = match text.chars().next() {
        Some('+') => Some(1),
        Some('-') => Some(-1),
        _ => None,
    };
    if let Some(sign) = sign {
        return amount_seconds(&text[1..])
            .with_context(|| format!("invalid time {text:?}"))?
            .checked_mul(sign)
            .and_then(|secs| now.checked_add(secs))
            .with_context(|| format!("invalid time {text:?}: too far from now"));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .with_context(|| format!("invalid time {text:?}: epoch seconds out of range"));
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| {
            anyhow::anyhow!(
                "invalid time {text:?}: expected epoch seconds, RFC 3339 (2026-01-01T00:00:00Z) or +1h"
            )
        })
}

/// `N` followed by an optional unit (s, m, h, d or w) as seconds: `3600`, `90m`, `12h`, `7d`.
fn amount_seconds(text: &str) -> anyhow::Result<i64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: i64 = digits
        .parse()
        .context("expected a whole number followed by s, m, h, d or w")?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => bail!("the unit must be s, m, h, d or w"),
    };
    amount.checked_mul(scale).context("too large")
}

/// A `DURATION` argument (`3600`, `90m`, `12h`, `7d`) in seconds.
pub fn duration(text: &str) -> Result<i64, String> {
    amount_seconds(text.trim()).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// The current time in epoch seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Epoch seconds as RFC 3339, for messages.
pub fn show(epoch: i64) -> String {
    OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| epoch.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_are_taken_as_is() {
        assert_eq!(parse("1767290400", 0).unwrap(), 1_767_290_400);
    }

    #[test]
    fn rfc3339_is_converted_to_epoch_seconds() {
        assert_eq!(parse("2026-01-01T18:00:00Z", 0).unwrap(), 1_767_290_400);
        assert_eq!(
            parse("2026-01-01T19:00:00+01:00", 0).unwrap(),
            1_767_290_400
        );
    }

    #[test]
    fn offsets_count_from_now() {
        assert_eq!(parse("+1h", 100).unwrap(), 3700);
        assert_eq!(parse("+90", 100).unwrap(), 190);
        assert_eq!(parse("+2d", 0).unwrap(), 172_800);
        assert_eq!(parse("-1h", 7200).unwrap(), 3600);
        assert_eq!(parse("+0s", 100).unwrap(), 100);
    }

    #[test]
    fn durations_take_a_unit_or_seconds() {
        assert_eq!(duration("3600"), Ok(3600));
        assert_eq!(duration("90m"), Ok(5400));
        assert_eq!(duration("12h"), Ok(43_200));
        assert_eq!(duration("7d"), Ok(604_800));
        for bad in ["", "h", "1y", "-1h", "1.5h", "99999999999999999999w"] {
            assert!(
                duration(bad).unwrap_err().contains("invalid duration"),
                "{bad}"
            );
        }
    }

    #[test]
    fn unparseable_times_are_refused_with_the_accepted_forms() {
        for bad in [
            "tomorrow",
            "+1y",
            "+h",
            "-",
            "--1h",
            "",
            "2026-13-01T00:00:00Z",
            "99999999999999999999",
        ] {
            let e = parse(bad, 0).unwrap_err().to_string();
            assert!(e.contains("invalid time"), "{bad}: {e}");
        }
    }
}
