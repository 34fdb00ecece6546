//! "Now", in one unit for the whole project: whole seconds since the Unix epoch.
//!
//! CloudFront policies, cookie lifetimes, JWT `exp`/`nbf`/`iat`, key-set cool-downs and
//! the session marker are all whole seconds, so one `Clock` serves every crate. Tests and the
//! local stack pass their own to move time without sleeping.

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        // A clock set before 1970 is broken beyond repair; reading it as the epoch makes every
        // token and policy look expired or far in the future, so they are refused, never granted.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_seconds_since_the_epoch() {
        // 2024-01-01T00:00:00Z; any machine running these tests is past it.
        assert!(SystemClock.now() > 1_704_067_200);
    }
}
