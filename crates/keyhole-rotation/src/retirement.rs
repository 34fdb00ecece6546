//! Where a key's retirement time is kept: in its CloudFront public key's comment.
//!
//! Why there: the time belongs to the key, and the public key lives exactly as long as the key
//! can matter (it is deleted when pruned). The secret's versions are no home for it: Secrets
//! Manager keeps only three labels, and unlabelled versions are deprecated and dropped on its
//! own schedule, so after two rotations the time of the oldest key would be gone. CloudFront public
//! keys take no tags, and the comment is the one field `UpdatePublicKey` may change.
//!
//! `finishSecret` writes `Keyhole signing key; retired at <epoch seconds>` on the key it retires.
//! A key in the group that is not current and carries no time (a rotation that added it and was
//! abandoned, or a finish whose comment write never succeeded) is given the time it is first seen,
//! which is never earlier than its real retirement, so pruning it is never premature.

/// What a freshly created key's comment says.
pub const ACTIVE_COMMENT: &str = "Keyhole signing key";
const RETIRED_PREFIX: &str = "Keyhole signing key; retired at ";

/// The comment recording retirement at `at` (epoch seconds).
pub fn retired_comment(at: i64) -> String {
    format!("{RETIRED_PREFIX}{at}")
}

/// The retirement time a comment records, if it records one.
pub fn retired_at(comment: &str) -> Option<i64> {
    let digits = comment.strip_prefix(RETIRED_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retirement_comment_reads_back() {
        assert_eq!(
            retired_at(&retired_comment(1_700_000_000)),
            Some(1_700_000_000)
        );
        assert!(
            retired_comment(1_700_000_000).len() <= 128,
            "CloudFront's comment limit"
        );
    }

    #[test]
    fn other_comments_record_no_time() {
        for c in [
            "",
            ACTIVE_COMMENT,
            "Keyhole signing key (created by the KeySetup custom resource)",
            "Keyhole signing key; retired at ",
            "Keyhole signing key; retired at 12x",
            "Keyhole signing key; retired at -5",
            "Keyhole signing key; retired at 99999999999999999999999",
        ] {
            assert_eq!(retired_at(c), None, "{c:?}");
        }
    }
}
